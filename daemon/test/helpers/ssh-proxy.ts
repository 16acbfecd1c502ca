import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ssh2, { type Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { newAgentSession, runTool, sessionRecords, writeDaemonConfig } from './daemon-harness.js';
import { startDaemon, tempHome, type RunningDaemon } from './daemon-process.js';
import { freePort } from './pg-cluster.js';
import { startSshd, type RunningSshd } from './sshd.js';

export interface SshProxyHarness {
  daemon: RunningDaemon;
  sshd: RunningSshd;
  home: string;
  /** the listener's port */
  port: number;
  token: string;
  sessionId: string;
  newSession(name: string): Promise<{ token: string; id: string }>;
  /** an ssh2 client logged in to the listener with the token as password */
  connect(token?: string, extra?: Partial<ConnectConfig>): Promise<Client>;
  /** OpenSSH's ssh through the listener (the token given by SSH_ASKPASS), with extra arguments */
  ssh(args: string[], options?: { input?: string; token?: string; timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }>;
  records(sessionId?: string): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

export interface SshProxyOptions {
  /** the policy (YAML); none: the built-in default policy */
  policy?: string;
  /** target fields replacing the defaults (hostKey pinned to the sshd's key) */
  target?: Record<string, unknown>;
  limits?: Record<string, unknown>;
  sshd?: RunningSshd;
}

/** The real daemon with one ssh target `box` in front of a real sshd, an agent session, and the policy given. */
export async function startSshProxy(options: SshProxyOptions): Promise<SshProxyHarness> {
  const sshd = options.sshd ?? (await startSshd());
  const home = tempHome('airlock-ssh-');
  const port = await freePort();
  const target = {
    name: 'box',
    protocol: 'ssh',
    upstream: `ssh://${sshd.user}@127.0.0.1:${sshd.port}`,
    listen: { host: '127.0.0.1', port },
    credential: { file: sshd.clientKey },
    hostKey: sshd.hostFingerprint,
    ...(options.limits ? { limits: options.limits } : {}),
    ...options.target,
  };
  writeDaemonConfig(home.dir, target, options.policy);
  const daemon = await startDaemon(home.dir);
  const newSession = (name: string) => newAgentSession(daemon, name);
  const first = await newSession('ssh-agent');
  const askpass = path.join(home.dir, 'askpass.sh');
  const connect = (token = first.token, extra: Partial<ConnectConfig> = {}) =>
    new Promise<Client>((resolve, reject) => {
      const c = new ssh2.Client();
      c.once('ready', () => resolve(c));
      c.once('error', reject);
      c.connect({ host: '127.0.0.1', port, username: 'agent', password: token, readyTimeout: 10_000, ...extra });
    });
  return {
    daemon,
    sshd,
    home: home.dir,
    port,
    token: first.token,
    sessionId: first.id,
    newSession,
    connect,
    ssh: (args, opts = {}) => {
      writeFileSync(askpass, `#!/bin/sh\necho '${opts.token ?? first.token}'\n`);
      chmodSync(askpass, 0o700);
      return runTool(
        'ssh',
        ['-F', '/dev/null', '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=INFO', '-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password,keyboard-interactive', '-o', 'NumberOfPasswordPrompts=1', ...args],
        { env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' }, ...(opts.input !== undefined ? { input: opts.input } : {}), timeoutMs: opts.timeoutMs ?? 20_000 },
      );
    },
    records: (sessionId = first.id) => sessionRecords(daemon, sessionId),
    async stop() {
      await daemon.stop();
      home.cleanup();
      if (!options.sshd) await sshd.stop();
    },
  };
}


export interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  /** stdout as the bytes that arrived */
  stdoutBytes: Buffer;
  stderr: string;
}

/** Runs one command over an ssh2 connection and collects everything. */
export function exec(client: Client, command: string, options: { pty?: boolean; input?: string } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, options.pty ? { pty: { term: 'xterm', rows: 24, cols: 80 } } : {}, (err, channel: ClientChannel) => {
      if (err) return reject(err);
      const out: Buffer[] = [];
      let stderr = '';
      let code: number | null = null;
      let signal: string | undefined;
      channel.on('data', (d: Buffer) => out.push(d));
      channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      channel.on('exit', (c: number | null, s?: string) => {
        code = c;
        signal = s;
      });
      channel.on('close', () => {
        const stdoutBytes = Buffer.concat(out);
        resolve({ code, signal, stdout: stdoutBytes.toString(), stdoutBytes, stderr });
      });
      if (options.input !== undefined) channel.end(options.input);
      else channel.end();
    });
  });
}

