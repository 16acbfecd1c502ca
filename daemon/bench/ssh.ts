import { createWriteStream, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import ssh2, { type Client } from 'ssh2';
import { startSshd } from '../test/helpers/sshd.js';
import { runTool } from '../test/helpers/daemon-harness.js';
import { startSshProxy } from '../test/helpers/ssh-proxy.js';
import { percentile, type BenchSection } from './report.js';

/**
 * SSH through Airlock against the same work straight to OpenSSH's sshd, on this machine, with
 * ssh2's client as the agent (and OpenSSH's scp for file copies):
 * - throughput: `cat` of a 200 MB text file (log-like lines, masking on: every byte is decoded,
 *   scanned and re-encoded), in MB/s;
 * - latency: `true` run 300 times on one open connection, p50 and p99 of the round trip;
 * - scp of a 200 MB file up and down (sftp bridge, each byte digested), in MB/s.
 */

const FILE_MB = 200;
const MB = 1e6;
const LATENCY_RUNS = 300;

const POLICY = `
version: 1
default: deny
rules:
  - { id: all-exec, decision: allow, match: { kinds: ssh.exec, attributes: { class: [read, write, unknown, privileged] } } }
  - { id: all-sftp, decision: allow, match: { kinds: ssh.sftp, attributes: { class: [read, write, unknown, privileged] } } }
`;

function connect(options: ssh2.ConnectConfig): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    // Nagle off on both paths, as OpenSSH's client does for interactive sessions
    const sock = net.connect({ host: options.host!, port: options.port! });
    sock.setNoDelay(true);
    c.connect({ readyTimeout: 20_000, ...options, sock });
  });
}

function execCount(client: Client, command: string): Promise<number> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, ch) => {
      if (err) return reject(err);
      let bytes = 0;
      ch.on('data', (d: Buffer) => (bytes += d.length));
      ch.stderr.on('data', () => undefined);
      ch.on('close', () => resolve(bytes));
    });
  });
}

async function writeTextFile(file: string, bytes: number): Promise<void> {
  const out = createWriteStream(file);
  let written = 0;
  let i = 0;
  while (written < bytes) {
    const line = `2026-12-05T01:23:${String(i % 60).padStart(2, '0')}Z INFO api request id=${i} path=/v1/items/${i % 997} status=200 took=${i % 50}ms user=u${i % 311}\n`;
    written += line.length;
    i++;
    if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

export async function benchSsh(): Promise<BenchSection> {
  const sshd = await startSshd();
  const h = await startSshProxy({ policy: POLICY, sshd, limits: { maxChannelsPerConnection: 1000 } });
  const file = path.join(sshd.dir, 'big.txt');
  await writeTextFile(file, FILE_MB * MB);
  const size = statSync(file).size;
  const direct = await connect({ host: '127.0.0.1', port: sshd.port, username: sshd.user, privateKey: await import('node:fs').then((fs) => fs.readFileSync(sshd.clientKey)) });
  const via = await connect({ host: '127.0.0.1', port: h.port, username: 'agent', password: h.token });
  const notes: string[] = [];
  try {
    const throughput = async (client: Client): Promise<number> => {
      const started = performance.now();
      const bytes = await execCount(client, `cat ${file}`);
      const seconds = (performance.now() - started) / 1000;
      if (bytes < size * 0.99) notes.push(`cat returned ${bytes} of ${size} bytes`);
      return size / MB / seconds;
    };
    await throughput(direct);
    const catDirect = await throughput(direct);
    const catVia = await throughput(via);
    // the same relay with no detector to run: what the masker costs
    const plain = await startSshProxy({ policy: `${POLICY}masking: { detectors: [] }\n`, sshd });
    const viaPlain = await connect({ host: '127.0.0.1', port: plain.port, username: 'agent', password: plain.token });
    const catPlain = await throughput(viaPlain);
    viaPlain.end();
    await plain.stop();

    // alternated run by run, so drift in the machine's load (other processes, the shell's start-up) falls on both alike
    const latDirect: number[] = [];
    const latVia: number[] = [];
    for (let i = 0; i < LATENCY_RUNS; i++) {
      for (const [client, out] of [[direct, latDirect], [via, latVia]] as const) {
        const started = performance.now();
        await execCount(client, 'true');
        out.push(performance.now() - started);
      }
    }
    latDirect.sort((a, b) => a - b);
    latVia.sort((a, b) => a - b);

    const common = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'];
    await h.ssh(['agent@127.0.0.1', 'true']); // writes the askpass script for the token
    const viaEnv = { ...process.env, SSH_ASKPASS: path.join(h.home, 'askpass.sh'), SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
    const scp = async (args: string[], env: NodeJS.ProcessEnv): Promise<number> => {
      const started = performance.now();
      const r = await runTool('scp', args, { env, timeoutMs: 600_000 });
      if (r.code !== 0) notes.push(`scp ${args.slice(-2).join(' ')} failed: ${r.stderr.trim()}`);
      return size / MB / ((performance.now() - started) / 1000);
    };
    const local = path.join(h.home, 'copy.txt');
    const upTarget = path.join(sshd.dir, 'up.txt');
    const directArgs = [...common, '-P', String(sshd.port), '-i', sshd.clientKey];
    const viaArgs = [...common, '-P', String(h.port), '-o', 'PubkeyAuthentication=no'];
    const downDirect = await scp([...directArgs, `${sshd.user}@127.0.0.1:${file}`, local], process.env);
    const upDirect = await scp([...directArgs, local, `${sshd.user}@127.0.0.1:${upTarget}`], process.env);
    rmSync(upTarget, { force: true });
    const downVia = await scp([...viaArgs, `agent@127.0.0.1:${file}`, local], viaEnv);
    const upVia = await scp([...viaArgs, local, `agent@127.0.0.1:${upTarget}`], viaEnv);

    const p50 = percentile(latVia, 50) - percentile(latDirect, 50);
    const p99 = percentile(latVia, 99) - percentile(latDirect, 99);
    notes.push(`exec latency direct p50 ${percentile(latDirect, 50).toFixed(2)} ms, p99 ${percentile(latDirect, 99).toFixed(2)} ms; via Airlock p50 ${percentile(latVia, 50).toFixed(2)} ms, p99 ${percentile(latVia, 99).toFixed(2)} ms`);
    return {
      title: 'ssh (sshd on loopback; ssh2 client as the agent; masking on)',
      figures: [
        { name: `cat ${FILE_MB} MB through Airlock`, value: catVia, unit: 'MB/s', baseline: { name: 'direct', value: catDirect } },
        { name: 'cat throughput ratio', value: catVia / catDirect, unit: 'x', target: { op: '>=', value: 0.5 } },
        { name: `cat ${FILE_MB} MB through Airlock, masking off`, value: catPlain, unit: 'MB/s', baseline: { name: 'direct', value: catDirect } },
        { name: '`true` exec added latency p50', value: p50, unit: 'ms', target: { op: '<=', value: 5 } },
        { name: '`true` exec added latency p99', value: p99, unit: 'ms' },
        { name: `scp ${FILE_MB} MB download through Airlock`, value: downVia, unit: 'MB/s', baseline: { name: 'direct', value: downDirect } },
        { name: `scp ${FILE_MB} MB upload through Airlock`, value: upVia, unit: 'MB/s', baseline: { name: 'direct', value: upDirect } },
      ],
      notes,
    };
  } finally {
    direct.end();
    via.end();
    await h.stop();
    await sshd.stop();
  }
}
