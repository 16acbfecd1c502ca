import { closeSync, fstatSync, openSync, readFileSync, statSync, type Stats } from 'node:fs';

/**
 * A target's credential file holds the real password, which only airlockd may know: like ssh with a
 * private key, the daemon uses the file only if it belongs to the daemon's user and no other user
 * can read or change it. Checked when the target is loaded and again each time the file is read
 * (modes change); a refusal names the fix.
 */

/** A credential file the daemon will not use; the message says why and how to fix it. */
export class CredentialFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialFileError';
  }
}

/** What is wrong with the file's owner or mode, or undefined when it is fine. */
function problem(target: string, file: string, stats: Stats): string | undefined {
  // POSIX only: on Windows neither uid nor mode bits say who can read the file
  if (typeof process.getuid !== 'function') return undefined;
  const uid = process.getuid();
  if (stats.uid !== uid) {
    return `target "${target}": the credential file ${file} belongs to uid ${stats.uid}, not to airlockd's user (uid ${uid}); Airlock uses only a credential file of its own user that no one else can read (chown it to that user and run chmod 600 ${file})`;
  }
  const mode = stats.mode & 0o777;
  if (mode & 0o077) {
    return `target "${target}": the credential file ${file} can be read or changed by other users (mode 0${mode.toString(8)}); Airlock uses it only if no one but its own user can, as ssh does for private keys (run chmod 600 ${file})`;
  }
  return undefined;
}

/** At target load: refuses a file that exists with the wrong owner or mode (a missing one is reported when read). */
export function checkCredentialFile(target: string, file: string): void {
  let stats: Stats;
  try {
    stats = statSync(file);
  } catch {
    return;
  }
  const wrong = problem(target, file, stats);
  if (wrong) throw new CredentialFileError(wrong);
}

/** Reads the password, checking owner and mode on the open file itself, so a swap between check and read does not count. */
export function readCredentialFile(target: string, file: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new CredentialFileError(`target "${target}": cannot read the credential file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const wrong = problem(target, file, fstatSync(fd));
    if (wrong) throw new CredentialFileError(wrong);
    return readFileSync(fd, 'utf8').replace(/\r?\n$/, '');
  } finally {
    closeSync(fd);
  }
}
