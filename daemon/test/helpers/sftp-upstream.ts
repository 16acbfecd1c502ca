import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { Connection, SFTPWrapper } from 'ssh2';
import type { SshSftpResultDetail } from '@airlock/shared';
import { startSftpBridge, type SftpBridge, type SftpLimits, type SftpVerdict } from '../../src/proxies/ssh/sftp-bridge.js';
import type { SftpOp } from '../../src/proxies/ssh/sftp-session.js';
import { lineLogger } from '../../src/util/logger.js';
import { startSshd } from './sshd.js';

const { Server, Client } = ssh2;

/**
 * Real parts for the sftp bridge's tests:
 * - startSftpUpstream(): a throw-away OpenSSH sshd on a free loopback port, as the current user, with
 *   `Subsystem sftp internal-sftp`, a host key and a client key generated for it;
 * - startSftpHarness(): an ssh2 Server that stands in for the Airlock SSH listener (the adapter
 *   wires the same bridge into its own session): it takes password logins, accepts the sftp
 *   subsystem, opens an ssh2 Client's sftp() to the real sshd and hands both to startSftpBridge.
 */

export interface SftpUpstream {
  host: '127.0.0.1';
  port: number;
  user: string;
  /** the client key sshd accepts (OpenSSH format), for ssh2's Client and `ssh -i` */
  privateKey: Buffer;
  privateKeyFile: string;
  /** a directory the tests may write in */
  dir: string;
  /** what sshd wrote to stderr so far (it runs with -e) */
  log(): string;
  /**
   * Stops (SIGSTOP) or resumes (SIGCONT) the processes sshd started for connections, so the upstream
   * stops answering while its TCP connections stay up: a slow upstream, for timeouts.
   */
  pauseSessions(): void;
  resumeSessions(): void;
  stop(): Promise<void>;
}

export async function startSftpUpstream(): Promise<SftpUpstream> {
  const sshd = await startSshd({ logLevel: 'VERBOSE' });
  const dir = path.join(sshd.dir, 'files');
  mkdirSync(dir);
  return {
    host: '127.0.0.1',
    port: sshd.port,
    user: sshd.user,
    privateKey: readFileSync(sshd.clientKey),
    privateKeyFile: sshd.clientKey,
    dir,
    log: () => sshd.output(),
    pauseSessions: () => signalDescendants(sshd.pid, 'SIGSTOP'),
    resumeSessions: () => signalDescendants(sshd.pid, 'SIGCONT'),
    stop: () => sshd.stop(),
  };
}

/** Sends `signal` to every descendant of `pid` (not `pid` itself), by their ids. */
function signalDescendants(pid: number, signal: NodeJS.Signals): void {
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    // pgrep exits 1 when there are none
  }
  for (const child of children) {
    signalDescendants(child, signal);
    try {
      process.kill(child, signal);
    } catch {
      // gone meanwhile
    }
  }
}

export interface RecordedResult {
  op: SftpOp;
  result: SshSftpResultDetail;
  action: unknown;
}

export interface HarnessOptions {
  upstream: SftpUpstream;
  /** the policy stand-in (or the real pipeline); the action it returns comes back in `results` */
  govern(op: SftpOp, signal: AbortSignal): SftpVerdict<unknown> | Promise<SftpVerdict<unknown>>;
  /** called as well as `results` is filled */
  recordResult?(op: SftpOp, result: SshSftpResultDetail, action: unknown): void;
  limits: SftpLimits;
}

export interface SftpHarness {
  port: number;
  /**
   * A key the harness also takes, for `sftp -b`, which turns on BatchMode and so never sends a
   * password; scp and ssh2's client log in with the password.
   */
  agentKeyFile: string;
  /** the password the harness accepts (any user name), as Airlock takes a session token */
  password: string;
  results: RecordedResult[];
  bridges: SftpBridge[];
  /** what the bridges logged */
  logs: string[];
  stop(): Promise<void>;
}

/** Stands in for the Airlock SSH listener: password login, the sftp subsystem bridged to the real sshd. */
export async function startSftpHarness(options: HarnessOptions): Promise<SftpHarness> {
  const hostKey = ssh2.utils.generateKeyPairSync('ed25519').private;
  const keyDir = mkdtempSync(path.join(os.tmpdir(), 'airlock-sftp-agent-'));
  const agentKeyFile = path.join(keyDir, 'agent_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', agentKeyFile]);
  const agentKey = ssh2.utils.parseKey(readFileSync(`${agentKeyFile}.pub`));
  if (agentKey instanceof Error) throw agentKey;
  const password = `token-${process.pid}-${Date.now()}`;
  const results: RecordedResult[] = [];
  const bridges: SftpBridge[] = [];
  const logs: string[] = [];
  const logger = lineLogger((line) => logs.push(line), 'harness');
  const clients = new Set<Connection>();
  const server = new Server({ hostKeys: [hostKey] }, (client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      if (ctx.method === 'password' && ctx.password === password) return ctx.accept();
      if (ctx.method === 'publickey' && ctx.key.algo === agentKey.type && ctx.key.data.equals(agentKey.getPublicSSH())) {
        // without a signature the client only asks whether the key would do
        if (!ctx.signature || !ctx.blob) return ctx.accept();
        if (agentKey.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) return ctx.accept();
      }
      ctx.reject(['password', 'publickey']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('sftp', (accept) => {
          // accepted at once: OpenSSH sends INIT without waiting for the reply, and ssh2 drops
          // data on a channel nothing has accepted; the upstream's channel follows as a promise
          const upstreamClient = new Client();
          const upstream = new Promise<SFTPWrapper>((resolve, reject) => {
            upstreamClient.on('error', (err) => reject(new Error(`the connection to the upstream sshd failed: ${err.message}`)));
            upstreamClient.on('ready', () => upstreamClient.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
          });
          const bridge = startSftpBridge<unknown>({
            agent: accept(),
            upstream,
            govern: options.govern,
            recordResult: (op, result, action) => {
              results.push({ op, result, action });
              options.recordResult?.(op, result, action);
            },
            limits: options.limits,
            logger,
          });
          bridges.push(bridge);
          void bridge.closed.then(() => upstreamClient.end());
          upstreamClient.connect({ host: options.upstream.host, port: options.upstream.port, username: options.upstream.user, privateKey: options.upstream.privateKey });
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    agentKeyFile,
    password,
    results,
    bridges,
    logs,
    async stop() {
      for (const client of clients) client.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(keyDir, { recursive: true, force: true });
    },
  };
}

export interface ClientRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs an OpenSSH client (sftp, scp) against the harness, the password given through SSH_ASKPASS as
 * an agent's terminal would type it.
 */
export async function runOpenSsh(program: 'sftp' | 'scp', args: string[], harness: SftpHarness, options: { input?: string; key?: boolean } = {}): Promise<ClientRun> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-askpass-'));
  const askpass = path.join(dir, 'askpass.sh');
  writeFileSync(askpass, `#!/bin/sh\necho '${harness.password}'\n`);
  chmodSync(askpass, 0o700);
  const common = [
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    ...(options.key
      ? ['-o', 'PreferredAuthentications=publickey', '-o', 'IdentitiesOnly=yes', '-i', harness.agentKeyFile]
      : ['-o', 'PreferredAuthentications=password', '-o', 'PubkeyAuthentication=no']),
    '-o', 'LogLevel=ERROR',
    '-P', String(harness.port),
  ];
  try {
    return await new Promise<ClientRun>((resolve) => {
      const child = execFile(program, [...common, ...args], {
        env: { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 60_000,
      }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }));
      if (options.input !== undefined) child.stdin!.end(options.input);
      else child.stdin!.end();
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
