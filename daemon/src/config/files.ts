import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import YAML from 'yaml';
import type { z } from 'zod';
import { parseWith } from '@airlock/shared';

/** A config or policy file that could not be read or parsed; the message names the file. */
export class FileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = 'FileError';
  }
}

/** Parses YAML or JSON text (JSON is YAML). Errors name the file and line. */
export function parseStructured(text: string, file: string): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const where = first.linePos?.[0] ? `line ${first.linePos[0].line}, column ${first.linePos[0].col}` : 'unknown position';
    const what = first.message.split('\n')[0] ?? first.message;
    throw new FileError(file, `${file}: ${where}: ${what}`);
  }
  return doc.toJS() ?? {};
}

/** Reads, parses and validates a YAML/JSON file. Every failure is one message naming the file. */
export async function loadStructuredFile<S extends z.ZodType>(schema: S, file: string): Promise<z.output<S>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new FileError(file, `${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseWith(schema, parseStructured(text, file), file);
}

export async function fileExists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/** Writes a file so readers see the old or the new content, never a mix (temp file + rename). */
export async function writeFileAtomic(file: string, content: string | Uint8Array, mode = 0o600): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, content, { mode });
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** YAML for files a person reads and edits. */
export function toYaml(value: unknown): string {
  return YAML.stringify(value, { lineWidth: 0 });
}
