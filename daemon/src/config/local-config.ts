import { promises as fs } from 'node:fs';
import { LocalConfig, parseWith } from '@airlock/shared';
import type { Target } from '@airlock/shared';
import { FileError, loadStructuredFile, parseStructured, toYaml, writeFileAtomic } from './files.js';
import path from 'node:path';

/** The embedded default: no targets, API on a free loopback port, async recording. */
export function defaultLocalConfig(): LocalConfig {
  return LocalConfig.parse({});
}

/** Loads <home>/config.yaml; a missing file is the embedded default, an invalid one an error naming the file. */
export async function loadLocalConfig(file: string): Promise<LocalConfig> {
  try {
    await fs.access(file);
  } catch {
    return defaultLocalConfig();
  }
  return loadStructuredFile(LocalConfig, file);
}

export function resolvePolicyFile(config: LocalConfig, home: string): string {
  return path.resolve(home, config.policyFile);
}

/**
 * Read-modify-write of the config file, keeping what the user wrote (not the defaults filled in by
 * the schema). The result is validated before it replaces the file.
 */
export async function updateLocalConfig(file: string, mutate: (raw: Record<string, unknown>) => void): Promise<LocalConfig> {
  let raw: Record<string, unknown> = {};
  try {
    const text = await fs.readFile(file, 'utf8');
    const parsed = parseStructured(text, file);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) raw = parsed as Record<string, unknown>;
    else throw new FileError(file, `${file}: expected a mapping at the top level`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mutate(raw);
  const validated = parseWith(LocalConfig, raw, file);
  await writeFileAtomic(file, toYaml(raw), 0o600);
  return validated;
}

export async function addTarget(file: string, target: Target): Promise<LocalConfig> {
  return updateLocalConfig(file, (raw) => {
    const targets = Array.isArray(raw.targets) ? (raw.targets as Record<string, unknown>[]) : [];
    if (targets.some((t) => t.name === target.name)) {
      throw new Error(`target "${target.name}" already exists in ${file}; remove it first or pick another name`);
    }
    raw.targets = [...targets, target];
  });
}

export async function removeTarget(file: string, name: string): Promise<LocalConfig> {
  return updateLocalConfig(file, (raw) => {
    const targets = Array.isArray(raw.targets) ? (raw.targets as Record<string, unknown>[]) : [];
    if (!targets.some((t) => t.name === name)) throw new Error(`no target named "${name}" in ${file}`);
    raw.targets = targets.filter((t) => t.name !== name);
  });
}
