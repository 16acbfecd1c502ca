import { promises as fs } from 'node:fs';
import { DaemonInfo } from '@airlock/shared';
import { writeFileAtomic } from '../config/files.js';

export async function readDaemonInfo(file: string): Promise<DaemonInfo | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = DaemonInfo.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function writeDaemonInfo(file: string, info: DaemonInfo): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(info, null, 2) + '\n', 0o600);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The daemon.json of a daemon that is running, or undefined (a stale file from a dead one is ignored). */
export async function runningDaemon(file: string): Promise<DaemonInfo | undefined> {
  const info = await readDaemonInfo(file);
  if (!info || !processAlive(info.pid)) return undefined;
  return info;
}
