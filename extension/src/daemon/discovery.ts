import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DaemonInfo } from '@airlock/shared';

/** The data dir the extension looks in: the setting, else $AIRLOCK_HOME, else ~/.airlock (as the daemon). */
export function resolveAirlockHome(setting: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = setting?.trim() || env.AIRLOCK_HOME?.trim() || path.join(os.homedir(), '.airlock');
  return path.resolve(chosen.startsWith('~/') ? path.join(os.homedir(), chosen.slice(2)) : chosen);
}

export type Discovery = { state: 'running'; info: DaemonInfo } | { state: 'absent'; reason: string };

/** Reads <home>/daemon.json; a missing, unreadable or stale file means no daemon. */
export async function discoverDaemon(home: string, isAlive: (pid: number) => boolean = processAlive): Promise<Discovery> {
  const file = path.join(home, 'daemon.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return { state: 'absent', reason: `no daemon.json in ${home}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { state: 'absent', reason: `${file} is not valid JSON` };
  }
  const parsed = DaemonInfo.safeParse(json);
  if (!parsed.success) return { state: 'absent', reason: `${file} does not describe a daemon` };
  if (!isAlive(parsed.data.pid)) return { state: 'absent', reason: `the daemon in ${file} (pid ${parsed.data.pid}) is not running` };
  return { state: 'running', info: parsed.data };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
