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
