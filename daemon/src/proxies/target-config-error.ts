import type { Target } from '@airlock/shared';
import { checkCredentialFile } from '../config/credential-file.js';

/**
 * A target setting an adapter cannot use (a bad option in its upstream URL, a credential file
 * others can read): the target does not start, and its status carries this message as it is.
 */
export class TargetConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetConfigError';
  }
}

/**
 * A target's credential file, checked as the target loads: one the daemon would refuse to read stops
 * the target with the fix. The daemon loads a target again when the config changes, not when a file's
 * mode does, so the message says how to start it once fixed.
 */
export function checkTargetCredentialFile(target: Target): void {
  const credential = target.credential;
  if (!credential || !('file' in credential)) return;
  try {
    checkCredentialFile(target.name, credential.file);
  } catch (err) {
    throw new TargetConfigError(`${(err as Error).message}, then airlock stop && airlock up to start the target`);
  }
}
