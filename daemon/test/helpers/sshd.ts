import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './pg-cluster.js';

/** OpenSSH's sshd (Debian's openssh-server) on a free loopback port, as the current user, with keys made for this run. */
export interface RunningSshd {
  port: number;
  dir: string;
  user: string;
  /** the private key that logs in (the target's credential), mode 0600 */
  clientKey: string;
  /** the host key's fingerprint, SHA256:… */
  hostFingerprint: string;
  /** a known_hosts line for 127.0.0.1 at this port */
  knownHostsLine: string;
  output(): string;
  /** sshd's own process: the parent of every connection's process */
  pid: number;
  stop(): Promise<void>;
}

export const SSHD = '/usr/sbin/sshd';

export function keygen(file: string, type = 'ed25519', comment = 'airlock-test'): void {
  const r = spawnSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', comment, '-f', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen could not make ${file}: ${r.stderr}`);
}

export function fingerprintOfPublicKey(file: string): string {
  const r = spawnSync('ssh-keygen', ['-lf', file], { encoding: 'utf8' });
  const match = /SHA256:[A-Za-z0-9+/]{43}/.exec(r.stdout);
  if (!match) throw new Error(`ssh-keygen -lf ${file} printed no fingerprint: ${r.stdout}${r.stderr}`);
  return match[0];
}

/**
 * Starts sshd in the foreground (-D, logs on stderr with -e) with its own config: a generated host
 * key, one authorized key, no PAM, StrictModes off (the temp dir is not root-owned), the internal
 * sftp server. As root, sshd needs its privilege-separation directory; as another user it runs
 * without one.
 */
export async function startSshd(options: { hostKeyType?: string; logLevel?: string } = {}): Promise<RunningSshd> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-sshd-'));
  const port = await freePort();
  const user = os.userInfo().username;
  const hostKey = path.join(dir, 'host_key');
  keygen(hostKey, options.hostKeyType ?? 'ed25519', 'host');
  const clientKey = path.join(dir, 'client_key');
  keygen(clientKey);
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`));
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding yes',
      'PrintMotd no',
      'PrintLastLog no',
      'MaxSessions 50',
      'Subsystem sftp internal-sftp',
      `LogLevel ${options.logLevel ?? 'ERROR'}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(port, child, () => output);
  const hostFingerprint = fingerprintOfPublicKey(`${hostKey}.pub`);
  const [type, key] = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
  return {
    port,
    dir,
    user,
    clientKey,
    hostFingerprint,
    knownHostsLine: `[127.0.0.1]:${port} ${type} ${key}`,
    output: () => output,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode} before listening on ${port}: ${output()}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`sshd did not listen on 127.0.0.1:${port} within 10 s: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
