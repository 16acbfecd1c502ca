import type { CredentialRef, Target } from '@airlock/shared';
import { CliError } from './errors.js';

/** `airlock target add` options of http and egress targets. */
export interface HttpTargetOptions {
  auth?: string;
  secretEnv?: string;
  secretFile?: string;
  caFile?: string;
  plaintext?: boolean;
  graphqlPath?: string[];
  allowHost?: string[];
}

const HTTP_ONLY = ['auth', 'secretEnv', 'secretFile', 'caFile', 'plaintext', 'graphqlPath'] as const;

/** The option names of http/egress targets the user gave for another protocol, as flags. */
export function httpOptionsGiven(opts: HttpTargetOptions): string[] {
  return [...HTTP_ONLY, 'allowHost' as const].filter((k) => opts[k] !== undefined && opts[k] !== false).map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
}

/** The target fields of an http or egress target from its options; the Target schema checks the rest. */
export function httpTargetFields(protocol: 'http' | 'egress', opts: HttpTargetOptions): Partial<Target> {
  if (protocol === 'egress') {
    const wrong = httpOptionsGiven({ ...opts, allowHost: undefined });
    if (wrong.length > 0) throw new CliError(`${wrong.join(', ')} apply to http targets, not egress (an egress target injects no credential and has no upstream)`);
    return opts.allowHost && opts.allowHost.length > 0 ? { allowHosts: opts.allowHost } : {};
  }
  if (opts.allowHost !== undefined) throw new CliError('--allow-host applies to egress targets only');
  if (opts.secretEnv && opts.secretFile) throw new CliError('give --secret-env or --secret-file, not both');
  const credential: CredentialRef | undefined = opts.secretEnv ? { env: opts.secretEnv } : opts.secretFile ? { file: opts.secretFile } : undefined;
  if (opts.auth !== undefined && credential === undefined) throw new CliError(`--auth ${opts.auth} needs the secret it presents: add --secret-env VAR or --secret-file FILE`);
  return {
    ...(credential ? { credential, auth: (opts.auth ?? 'bearer') as Target['auth'] } : {}),
    ...(opts.caFile ? { caFile: opts.caFile } : {}),
    ...(opts.plaintext ? { plaintext: true } : {}),
    ...(opts.graphqlPath && opts.graphqlPath.length > 0 ? { graphqlPaths: opts.graphqlPath } : {}),
  };
}
