import path from 'node:path';
import { existsSync } from 'node:fs';
import type { CredentialRef, Target } from '@airlock/shared';
import { CliError } from './errors.js';
import { httpOptionsGiven, type HttpTargetOptions } from './http-target.js';

/** `airlock target add --protocol kubernetes`'s own options. */
export interface KubernetesTargetOptions {
  kubeconfig?: string;
  context?: string;
  tokenEnv?: string;
  tokenFile?: string;
}

const KUBERNETES_ONLY = ['kubeconfig', 'context', 'tokenEnv', 'tokenFile'] as const;

/** The kubernetes-only options given for another protocol, as flags. */
export function kubernetesOptionsGiven(opts: KubernetesTargetOptions): string[] {
  return KUBERNETES_ONLY.filter((k) => opts[k] !== undefined).map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
}

/**
 * The fields of a kubernetes target: a kubeconfig (and context) the daemon reads the server and the
 * credential from, or an upstream with a bearer token (--token-env / --token-file) and optionally a
 * CA file. Paths are made absolute: the daemon does not run in the caller's directory.
 */
export function kubernetesTargetFields(opts: KubernetesTargetOptions & HttpTargetOptions & { upstream?: string }): Partial<Target> {
  const foreign = httpOptionsGiven({ ...opts, caFile: undefined });
  if (foreign.length > 0) throw new CliError(`${foreign.join(', ')} apply to http and egress targets; a kubernetes target takes --kubeconfig [--context], or --upstream with --token-env/--token-file and --ca-file`);
  if (opts.tokenEnv && opts.tokenFile) throw new CliError('give --token-env or --token-file, not both');
  if (opts.kubeconfig !== undefined) {
    const extra = [opts.upstream !== undefined && '--upstream', opts.tokenEnv !== undefined && '--token-env', opts.tokenFile !== undefined && '--token-file', opts.caFile !== undefined && '--ca-file'].filter((x): x is string => x !== false);
    if (extra.length > 0) throw new CliError(`--kubeconfig names the server, its CA and the credential: leave out ${extra.join(', ')}`);
    const file = path.resolve(opts.kubeconfig);
    if (!existsSync(file)) throw new CliError(`--kubeconfig ${file}: no such file`);
    return { kubeconfig: file, ...(opts.context !== undefined ? { context: opts.context } : {}) };
  }
  if (opts.context !== undefined) throw new CliError('--context names a context of a kubeconfig: give --kubeconfig too');
  if (opts.upstream === undefined) throw new CliError('a kubernetes target needs --kubeconfig PATH, or --upstream https://HOST:6443 with --token-env VAR or --token-file FILE');
  const credential: CredentialRef | undefined = opts.tokenEnv ? { env: opts.tokenEnv } : opts.tokenFile ? { file: path.resolve(opts.tokenFile) } : undefined;
  if (!credential) throw new CliError('a kubernetes target with --upstream needs the token airlockd presents: --token-env VAR or --token-file FILE');
  return { credential, ...(opts.caFile ? { caFile: path.resolve(opts.caFile) } : {}) };
}
