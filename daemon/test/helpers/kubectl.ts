import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

/**
 * Debian's kubectl (1.32) as tests run it: against a kubeconfig written in a temp dir (the server, its
 * CA as certificate-authority-data, a bearer token), with HOME in that dir so its discovery cache is
 * the test's own; every run bounded by a timeout, streaming runs (logs -f, get --watch) read as they go.
 */

export const kubectlBinary = '/usr/bin/kubectl';
const defaultTimeoutMs = 20_000;

export interface KubeconfigOptions {
  server: string;
  caPem: string;
  token: string;
  /** context (and cluster) name; `fake` by default */
  context?: string;
  namespace?: string;
}

/** A kubeconfig with one cluster, user and context, as text. */
export function kubeconfigText(options: KubeconfigOptions): string {
  const name = options.context ?? 'fake';
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: options.server, 'certificate-authority-data': Buffer.from(options.caPem).toString('base64') } }],
    users: [{ name: `${name}-user`, user: { token: options.token } }],
    contexts: [{ name, context: { cluster: name, user: `${name}-user`, namespace: options.namespace ?? 'default' } }],
    'current-context': name,
  });
}

/** Writes `<dir>/kubeconfig` (0600) and returns its path. */
export function writeKubeconfig(dir: string, options: KubeconfigOptions): string {
  const file = path.join(dir, 'kubeconfig');
  writeFileSync(file, kubeconfigText(options), { mode: 0o600 });
  return file;
}

export interface KubectlResult {
  /** the exit code; null when kubectl was killed at the timeout */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface KubectlStream {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  errors(): string;
  /** Resolves with all stdout so far once it matches; rejects if kubectl ends first. */
  waitFor(pattern: RegExp): Promise<string>;
}

export interface Kubectl {
  run(args: string[], options?: { stdin?: string; env?: Record<string, string> }): Promise<KubectlResult>;
  stream(args: string[], options?: { env?: Record<string, string> }): KubectlStream;
}

/** kubectl with KUBECONFIG=`kubeconfig` and HOME=`home`. */
export function kubectlFor(kubeconfig: string, home: string, timeoutMs = defaultTimeoutMs): Kubectl {
  const env = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KUBECONFIG: kubeconfig, ...extra });
  return {
    run: (args, options = {}) =>
      new Promise((resolve, reject) => {
        const child = spawn(kubectlBinary, args, { env: env(options.env) });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
        child.stdin.end(options.stdin ?? '');
      }),
    stream: (args, options = {}) => {
      const child = spawn(kubectlBinary, args, { env: env(options.env) });
      let stdout = '';
      let stderr = '';
      const waiters = new Set<() => void>();
      const wake = () => {
        for (const w of [...waiters]) w();
      };
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        wake();
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('close', () => {
        clearTimeout(killer);
        wake();
      });
      const waitFor = (pattern: RegExp) =>
        new Promise<string>((resolve, reject) => {
          const check = () => {
            if (pattern.test(stdout)) {
              waiters.delete(check);
              resolve(stdout);
            } else if (child.exitCode !== null || child.signalCode !== null) {
              waiters.delete(check);
              reject(new Error(`kubectl ${args.join(' ')} ended before printing ${pattern}: stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr)}`));
            }
          };
          waiters.add(check);
          check();
        });
      return { child, output: () => stdout, errors: () => stderr, waitFor };
    },
  };
}
