import { promises as fs } from 'node:fs';
import os from 'node:os';

/** What the start-up check needs to know of one file or directory. */
export interface PathFacts {
  path: string;
  uid: number;
  /** st_mode, permission bits included */
  mode: number;
}

/**
 * Why a path in the data dir must not be trusted, with the command that fixes it, or null. Pure.
 * Another user who can write config.yaml or policy.yaml (or replace them through a writable
 * directory) decides what Airlock enforces; a file owned by someone else can be changed by them.
 */
export function unsafeReason(facts: PathFacts, uid: number, userName: string): string | null {
  const problems: string[] = [];
  const fixes: string[] = [];
  if (facts.uid !== uid) {
    problems.push(`is owned by uid ${facts.uid}, not by the daemon's user (uid ${uid})`);
    fixes.push(`chown ${userName} ${facts.path}`);
  }
  if ((facts.mode & 0o022) !== 0) {
    const who = (facts.mode & 0o020) !== 0 && (facts.mode & 0o002) !== 0 ? 'group and others' : (facts.mode & 0o020) !== 0 ? 'its group' : 'others';
    problems.push(`is writable by ${who} (mode ${(facts.mode & 0o777).toString(8).padStart(4, '0')})`);
    fixes.push(`chmod go-w ${facts.path}`);
  }
  if (problems.length === 0) return null;
  return `${facts.path} ${problems.join(' and ')}; fix with: ${fixes.join(' && ')}`;
}

/** Thrown at start when the data dir or a file in it could be changed by someone other than the daemon's user. */
export class UnsafeDataDirError extends Error {
  constructor(readonly problems: string[]) {
    super(`airlockd refuses to start: another user could change what Airlock enforces: ${problems.join('; ')}`);
    this.name = 'UnsafeDataDirError';
  }
}

/**
 * Checks each path that exists (a missing one is created by the daemon itself, 0600/0700). On systems
 * without POSIX owners (Windows) there is nothing to check.
 */
export async function checkDataDirPermissions(paths: readonly string[]): Promise<void> {
  if (typeof process.getuid !== 'function') return;
  const uid = process.getuid();
  let userName: string;
  try {
    userName = os.userInfo().username;
  } catch {
    userName = String(uid);
  }
  const problems: string[] = [];
  for (const p of paths) {
    let stat;
    try {
      stat = await fs.stat(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const reason = unsafeReason({ path: p, uid: stat.uid, mode: stat.mode }, uid, userName);
    if (reason !== null) problems.push(reason);
  }
  if (problems.length > 0) throw new UnsafeDataDirError(problems);
}
