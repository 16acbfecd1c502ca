import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { SFTPWrapper } from 'ssh2';
import { refusalMessage, type SftpLimits, type SftpVerdict } from '../../src/proxies/ssh/sftp-bridge.js';
import { FX, type SftpOp } from '../../src/proxies/ssh/sftp-session.js';
import { runOpenSsh, startSftpHarness, startSftpUpstream, type SftpHarness, type SftpUpstream } from '../helpers/sftp-upstream.js';

/**
 * The sftp bridge with real parts: a throw-away OpenSSH sshd as the upstream, the OpenSSH `sftp` and
 * `scp` clients and ssh2's client as agents. The harness (helpers/sftp-upstream.ts) stands in for the
 * Airlock SSH listener: it logs agents in and hands the sftp subsystem to the bridge, as the adapter
 * does; the policy is a callback each test sets.
 */

const LIMITS: SftpLimits = {
  // above OpenSSH's 64 requests in flight (sftp/scp -R), below the flood's 1,000
  maxOutstanding: 128,
  maxBytesPerRequest: 256 * 1024,
  maxBytesInFlight: 4 * 1024 * 1024,
  opTimeoutMs: 10_000,
  maxHandles: 32,
  maxDigestAheadBytes: 4 * 1024 * 1024,
};

type Govern = (op: SftpOp, signal: AbortSignal) => SftpVerdict<string> | Promise<SftpVerdict<string>>;

let counter = 0;
const allow = (): SftpVerdict<string> => ({ allowed: true, action: `act-${++counter}` });
const refuseWrite = (op: SftpOp): SftpVerdict<string> => ({ allowed: false, message: refusalMessage('no-writes', `sftp ${op.operation} of ${op.path} is a write`) });
const READS_ONLY: Govern = (op) => (op.class === 'read' ? allow() : refuseWrite(op));

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Agent {
  client: ssh2.Client;
  sftp: SFTPWrapper;
}

/** An ssh2 client logged in to the harness with the password, its sftp subsystem open. */
function connectAgent(harness: SftpHarness): Promise<Agent> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.on('error', reject);
    client.on('ready', () => client.sftp((err, sftp) => (err ? reject(err) : resolve({ client, sftp }))));
    client.connect({ host: '127.0.0.1', port: harness.port, username: 'agent', password: harness.password });
  });
}

type SftpError = Error & { code?: number };
/** Calls an ssh2 sftp method; resolves with [error, ...results] so refusals can be asserted. */
function call<T extends unknown[]>(fn: (cb: (err: SftpError | null | undefined, ...rest: T) => void) => void): Promise<[SftpError | undefined, ...T]> {
  return new Promise((resolve) => fn((err, ...rest) => resolve([err ?? undefined, ...rest])));
}

describe('sftp bridge with a real sshd', () => {
  let upstream: SftpUpstream;
  let harness: SftpHarness;
  let local: string;
  let remote: string;
  let govern: Govern = READS_ONLY;
  const governed: SftpOp[] = [];

  before(async () => {
    upstream = await startSftpUpstream();
    remote = upstream.dir;
    harness = await startSftpHarness({
      upstream,
      limits: LIMITS,
      govern: (op, signal) => {
        governed.push(op);
        return govern(op, signal);
      },
    });
    local = mkdtempSync(path.join(os.tmpdir(), 'airlock-sftp-local-'));
  });
  after(async () => {
    await harness?.stop();
    await upstream?.stop();
    if (local) rmSync(local, { recursive: true, force: true });
  });

  test('OpenSSH sftp -b: reads are allowed, writes refused, the session goes on and a later allowed write works', async () => {
    // writes under allowed/ pass
    govern = (op) => (op.class === 'read' || op.path.startsWith(`${remote}/allowed/`) ? allow() : refuseWrite(op));
    const content = randomBytes(100_000);
    writeFileSync(path.join(remote, 'readme.bin'), content);
    mkdirSync(path.join(remote, 'allowed'));
    writeFileSync(path.join(local, 'upload.txt'), 'not to be written\n');
    const batch = [
      `ls -l ${remote}`,
      `get ${remote}/readme.bin ${local}/readme.bin`,
      // the leading '-' lets the batch go on after a refusal, as a person at the prompt would
      `-put ${local}/upload.txt ${remote}/upload.txt`,
      `-mkdir ${remote}/newdir`,
      `-rm ${remote}/readme.bin`,
      `-rename ${remote}/readme.bin ${remote}/renamed.bin`,
      `put ${local}/upload.txt ${remote}/allowed/upload.txt`,
      `symlink ${remote}/readme.bin ${remote}/allowed/link`,
      `ls ${remote}/allowed`,
      '',
    ].join('\n');
    const first = governed.length;
    const run = await runOpenSsh('sftp', ['-b', '-', 'agent@127.0.0.1'], harness, { input: batch, key: true });
    assert.equal(run.code, 0, `sftp failed: ${run.stderr}`);
    assert.deepEqual(readFileSync(path.join(local, 'readme.bin')), content);
    assert.match(run.stdout, /readme\.bin/);
    // each write was refused as SSH_FX_PERMISSION_DENIED (OpenSSH's sftp prints the status code's
    // text, not the server's message; the ssh2 test below reads the message naming the rule)
    assert.match(run.stderr, /dest open ".*\/upload\.txt": Permission denied/);
    assert.match(run.stderr, /remote mkdir ".*\/newdir": Permission denied/);
    assert.match(run.stderr, /remote delete .*\/readme\.bin: Permission denied/);
    assert.match(run.stderr, /remote rename ".*readme\.bin" to ".*renamed\.bin": Permission denied/);
    // nothing was written upstream
    assert.equal(existsSync(path.join(remote, 'upload.txt')), false);
    assert.equal(existsSync(path.join(remote, 'newdir')), false);
    assert.equal(existsSync(path.join(remote, 'readme.bin')), true);
    assert.equal(existsSync(path.join(remote, 'renamed.bin')), false);
    // the later allowed write went, in the same session
    assert.equal(readFileSync(path.join(remote, 'allowed', 'upload.txt'), 'utf8'), 'not to be written\n');
    assert.match(run.stdout, /upload\.txt/);
    // symlink: OpenSSH swaps its arguments on the wire; the op and the link made both read right
    assert.equal(readlinkSync(path.join(remote, 'allowed', 'link')), `${remote}/readme.bin`);

    const ops = governed.slice(first);
    const open = ops.find((op) => op.operation === 'open' && op.path === `${remote}/readme.bin`);
    assert.deepEqual(open?.flags, ['read']);
    assert.equal(open?.class, 'read');
    const put = ops.find((op) => op.operation === 'open' && op.path === `${remote}/upload.txt`);
    assert.deepEqual(put?.flags, ['write', 'create', 'truncate']);
    assert.ok(ops.some((op) => op.operation === 'rename' && op.toPath === `${remote}/renamed.bin`));
    assert.ok(ops.some((op) => op.operation === 'symlink' && op.path === `${remote}/allowed/link` && op.toPath === `${remote}/readme.bin`));
    // 100 kB is four READs or more; none of them is an action of its own
    assert.ok(ops.every((op) => op.operation !== 'read' && op.operation !== 'write'), 'READ/WRITE packets are covered by their open');

    // the download's result: bytes and the file's sha256, recorded when its handle closed
    const download = harness.results.find((r) => r.op === open);
    assert.ok(download, 'the open of readme.bin has a recorded result');
    assert.equal(download.result.status, 'ok');
    assert.equal(download.result.bytes, content.length);
    assert.equal(download.result.sha256, sha256(content));
    const upload = harness.results.find((r) => r.op.operation === 'open' && r.op.path === `${remote}/allowed/upload.txt`);
    assert.equal(upload?.result.sha256, sha256(Buffer.from('not to be written\n')));
    assert.ok(String(upload?.action).startsWith('act-'), 'the result carries the action govern returned');
  });

  test('scp (sftp protocol) uploads and downloads a few MB byte for byte, the recorded sha256 the file\'s', async () => {
    govern = () => allow();
    const size = 5 * 1024 * 1024 + 12_345;
    const up = randomBytes(size);
    writeFileSync(path.join(local, 'up.bin'), up);
    const pushed = await runOpenSsh('scp', ['-s', path.join(local, 'up.bin'), `agent@127.0.0.1:${remote}/up.bin`], harness);
    assert.equal(pushed.code, 0, `scp upload failed: ${pushed.stderr}`);
    assert.ok(readFileSync(path.join(remote, 'up.bin')).equals(up), 'the uploaded file is byte-exact upstream');

    const down = randomBytes(size + 1);
    writeFileSync(path.join(remote, 'down.bin'), down);
    const pulled = await runOpenSsh('scp', ['-s', `agent@127.0.0.1:${remote}/down.bin`, path.join(local, 'down.bin')], harness);
    assert.equal(pulled.code, 0, `scp download failed: ${pulled.stderr}`);
    assert.ok(readFileSync(path.join(local, 'down.bin')).equals(down), 'the downloaded file is byte-exact');

    const upload = harness.results.find((r) => r.op.operation === 'open' && r.op.path === `${remote}/up.bin`);
    // OpenSSH's scp opens without truncate and sets the size afterwards, a governed fsetstat
    assert.deepEqual(upload?.op.flags, ['write', 'create']);
    assert.ok(harness.results.some((r) => r.op.operation === 'fsetstat' && r.op.path === `${remote}/up.bin` && r.op.attrs?.size === size));
    assert.equal(upload?.result.bytes, size);
    assert.equal(upload?.result.sha256, sha256(up));
    const download = harness.results.find((r) => r.op.operation === 'open' && r.op.path === `${remote}/down.bin`);
    assert.equal(download?.result.bytes, size + 1);
    assert.equal(download?.result.sha256, sha256(down));
  });

  test('a refusal carries the rule to the agent as SSH_FX_PERMISSION_DENIED, and the session goes on', async () => {
    govern = READS_ONLY;
    const { client, sftp } = await connectAgent(harness);
    try {
      const [refused] = await call((cb) => sftp.mkdir(`${remote}/refused-dir`, cb));
      assert.equal(refused?.code, FX.PERMISSION_DENIED);
      assert.equal(refused?.message, `airlock: refused by policy rule no-writes: sftp mkdir of ${remote}/refused-dir is a write`);
      assert.equal(existsSync(path.join(remote, 'refused-dir')), false);
      const [err, stats] = await call<[ssh2.Stats]>((cb) => sftp.stat(remote, cb));
      assert.equal(err, undefined);
      assert.ok(stats.isDirectory());
      // an upstream error keeps the upstream's code and message
      const [missing] = await call((cb) => sftp.stat(`${remote}/no-such-file`, cb));
      assert.equal(missing?.code, FX.NO_SUCH_FILE);
      assert.equal(missing?.message, 'No such file');
    } finally {
      client.end();
    }
  });

  test('a handle the bridge did not issue is refused, though the upstream holds one by that name', async () => {
    govern = READS_ONLY;
    writeFileSync(path.join(remote, 'secret.txt'), 'the upstream handle 0 is open on this file\n');
    // sftp-server numbers its handles from 0: what an agent would guess
    const direct = await new Promise<{ client: ssh2.Client; sftp: SFTPWrapper }>((resolve, reject) => {
      const client = new ssh2.Client();
      client.on('error', reject);
      client.on('ready', () => client.sftp((err, sftp) => (err ? reject(err) : resolve({ client, sftp }))));
      client.connect({ host: upstream.host, port: upstream.port, username: upstream.user, privateKey: upstream.privateKey });
    });
    const [, directHandle] = await call<[Buffer]>((cb) => direct.sftp.open(`${remote}/secret.txt`, 'r', cb));
    assert.deepEqual(directHandle, Buffer.from([0, 0, 0, 0]), 'the upstream issues handle 00000000 first');
    direct.client.end();

    const { client, sftp } = await connectAgent(harness);
    try {
      const [openErr, handle] = await call<[Buffer]>((cb) => sftp.open(`${remote}/secret.txt`, 'r', cb));
      assert.equal(openErr, undefined);
      assert.notDeepEqual(handle, Buffer.from([0, 0, 0, 0]));
      const [invented] = await call((cb) => sftp.read(Buffer.from([0, 0, 0, 0]), Buffer.alloc(64), 0, 64, 0, cb));
      assert.equal(invented?.code, FX.FAILURE);
      assert.match(invented?.message ?? '', /airlock: read on a handle this sftp session never issued/);
      const [readErr, bytes, data] = await call<[number, Buffer]>((cb) => sftp.read(handle, Buffer.alloc(64), 0, 64, 0, cb));
      assert.equal(readErr, undefined);
      assert.equal(data.subarray(0, bytes).toString(), 'the upstream handle 0 is open on this file\n');
      const [writeErr] = await call((cb) => sftp.write(handle, Buffer.from('x'), 0, 1, 0, cb));
      assert.equal(writeErr?.code, FX.PERMISSION_DENIED, 'a read handle does not write');
      assert.equal(readFileSync(path.join(remote, 'secret.txt'), 'utf8'), 'the upstream handle 0 is open on this file\n');
      // extensions ssh2's client would send only if advertised: sent raw, unknown ones are refused
    } finally {
      client.end();
    }
  });

  test('a held operation waits for its release; reads on an open handle go on meanwhile; later path operations keep their order', async () => {
    writeFileSync(path.join(remote, 'while-held.txt'), 'still readable\n');
    const heldFor = 400;
    govern = (op) => (op.operation === 'mkdir' ? sleep(heldFor).then(allow) : allow());
    const { client, sftp } = await connectAgent(harness);
    try {
      const [, handle] = await call<[Buffer]>((cb) => sftp.open(`${remote}/while-held.txt`, 'r', cb));
      const order: string[] = [];
      const started = Date.now();
      const mkdir = call((cb) => sftp.mkdir(`${remote}/held-dir`, cb)).then((r) => (order.push('mkdir'), r));
      const read = call<[number, Buffer]>((cb) => sftp.read(handle, Buffer.alloc(64), 0, 64, 0, cb)).then((r) => (order.push('read'), r));
      // sent after the mkdir: it must not reach the upstream before it, or the directory is not there yet
      const stat = call<[ssh2.Stats]>((cb) => sftp.stat(`${remote}/held-dir`, cb)).then((r) => (order.push('stat'), r));
      const [[mkdirErr], [readErr, bytes, data], [statErr, stats]] = await Promise.all([mkdir, read, stat]);
      assert.equal(readErr, undefined);
      assert.equal(data.subarray(0, bytes).toString(), 'still readable\n');
      assert.equal(mkdirErr, undefined);
      assert.ok(Date.now() - started >= heldFor - 20, 'the mkdir waited for its release');
      assert.equal(statErr, undefined, 'the stat went after the held mkdir');
      assert.ok(stats.isDirectory());
      assert.deepEqual(order, ['read', 'mkdir', 'stat']);
    } finally {
      client.end();
    }
  });

  test('an agent that disconnects while an operation is held aborts it; nothing reaches the upstream', async () => {
    mkdirSync(path.join(remote, 'keep-me'));
    let aborted: () => void;
    const wasAborted = new Promise<void>((resolve) => (aborted = resolve));
    govern = (op, signal) =>
      op.operation === 'rmdir'
        ? new Promise((resolve) => {
            // as the pipeline does: a held approval ends when the agent goes
            signal.addEventListener('abort', () => {
              aborted();
              resolve({ allowed: false, message: 'airlock: the agent disconnected before a decision' });
            });
          })
        : allow();
    const { client, sftp } = await connectAgent(harness);
    sftp.rmdir(`${remote}/keep-me`, () => undefined);
    await sleep(100);
    client.end();
    await wasAborted;
    await sleep(100);
    assert.equal(existsSync(path.join(remote, 'keep-me')), true);
  });

  test('1,000 requests sent at once are bounded: the channel is paused at the caps, every request answered in turn, the session goes on', async () => {
    const content = randomBytes(64 * 1024);
    writeFileSync(path.join(remote, 'flood.bin'), content);
    // stats are held a little so they stay outstanding while the flood arrives
    govern = (op) => (op.operation === 'stat' ? sleep(200).then(allow) : allow());
    const { client, sftp } = await connectAgent(harness);
    const bridge = harness.bridges.at(-1)!;
    try {
      const [, handle] = await call<[Buffer]>((cb) => sftp.open(`${remote}/flood.bin`, 'r', cb));
      const flood: Promise<[SftpError | undefined, ...unknown[]]>[] = [];
      for (let i = 0; i < 500; i++) flood.push(call((cb) => sftp.stat(`${remote}/flood.bin`, cb)));
      for (let i = 0; i < 500; i++) flood.push(call((cb) => sftp.read(handle, Buffer.alloc(32 * 1024), 0, 32 * 1024, (i % 2) * 32 * 1024, cb)));
      const answers = await Promise.all(flood);
      const failed = answers.filter(([err]) => err);
      assert.equal(failed.length, 0, `every request was served in turn: ${failed[0]?.[0]?.message}`);
      const stats = bridge.stats();
      assert.ok(stats.pauses > 0, 'the agent was paused');
      assert.ok(stats.peakWaiting > 0, `requests waited for room (${stats.peakWaiting})`);
      assert.ok(stats.peakOutstanding <= LIMITS.maxOutstanding, `peak outstanding ${stats.peakOutstanding}`);
      assert.ok(stats.peakBytesInFlight <= LIMITS.maxBytesInFlight, `peak bytes in flight ${stats.peakBytesInFlight}`);
      assert.deepEqual([stats.outstanding, stats.bytesInFlight, stats.waiting, stats.refusedOverLimit], [0, 0, 0, 0]);
      // the channel still works, its window open again
      const [err, after] = await call<[ssh2.Stats]>((cb) => sftp.stat(`${remote}/flood.bin`, cb));
      assert.equal(err, undefined);
      assert.equal(after.size, content.length);
    } finally {
      client.end();
    }
  });

  test('an upstream that stops answering: the agent gets a failure after the per-op timeout, and the late answer is dropped', async () => {
    govern = () => allow();
    // its own harness, with a short timeout
    const slow = await startSftpHarness({ upstream, limits: { ...LIMITS, opTimeoutMs: 300 }, govern: () => allow() });
    const { client, sftp } = await connectAgent(slow);
    try {
      const [warm] = await call((cb) => sftp.stat(remote, cb));
      assert.equal(warm, undefined);
      upstream.pauseSessions();
      let timedOut: SftpError | undefined;
      try {
        const started = Date.now();
        [timedOut] = await call((cb) => sftp.stat(remote, cb));
        assert.ok(Date.now() - started >= 290, 'the failure came after the timeout');
      } finally {
        upstream.resumeSessions();
      }
      assert.equal(timedOut?.code, FX.FAILURE);
      assert.equal(timedOut?.message, `airlock: the upstream did not answer stat ${remote} within 300 ms`);
      assert.ok(slow.results.some((r) => r.op.operation === 'stat' && r.result.status === 'timeout'));
      assert.ok(slow.logs.some((line) => line.includes('did not answer stat')));
      // the late answer arrives and is dropped; the channel goes on
      const [after, stats] = await call<[ssh2.Stats]>((cb) => sftp.stat(remote, cb));
      assert.equal(after, undefined);
      assert.ok(stats.isDirectory());
      assert.equal(slow.bridges[0]!.stats().outstanding, 0);
    } finally {
      client.end();
      await slow.stop();
    }
  });

  test('an agent that stops reading replies is paused: what the bridge holds for it stays bounded, and all is answered once it reads again', async () => {
    govern = () => allow();
    writeFileSync(path.join(remote, 'unread.bin'), randomBytes(1024 * 1024));
    // a TCP relay between the agent and the harness, whose harness-to-agent direction can stall
    let toAgent: net.Socket | undefined;
    let fromAgent: net.Socket | undefined;
    const relay = net.createServer((agentSide) => {
      fromAgent = agentSide;
      const harnessSide = net.connect(harness.port, '127.0.0.1');
      toAgent = harnessSide;
      agentSide.pipe(harnessSide);
      harnessSide.pipe(agentSide);
      agentSide.on('error', () => undefined);
      harnessSide.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayPort = (relay.address() as net.AddressInfo).port;
    const client = new ssh2.Client();
    client.on('error', () => undefined);
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
      client.on('ready', () => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
      client.connect({ host: '127.0.0.1', port: relayPort, username: 'agent', password: harness.password });
    });
    const bridge = harness.bridges.at(-1)!;
    try {
      const [, handle] = await call<[Buffer]>((cb) => sftp.open(`${remote}/unread.bin`, 'r', cb));
      // the agent stops reading: nothing reaches it, so it never opens its window again
      toAgent!.unpipe(fromAgent!);
      toAgent!.pause();
      // 8 MB of replies asked for: more than the bridge's bound and the agent's window together
      const chunk = 32 * 1024;
      const reads: Promise<[SftpError | undefined, ...unknown[]]>[] = [];
      for (let i = 0; i < 256; i++) {
        reads.push(call((cb) => sftp.read(handle, Buffer.alloc(chunk), 0, chunk, (i % 32) * chunk, cb)));
        if (i % 32 === 31) await sleep(20);
      }
      await sleep(300);
      const stalled = bridge.stats();
      assert.ok(stalled.waiting > 0, 'requests wait: the agent is paused');
      // each held reply is a READ's bytes and a few of header
      assert.ok(stalled.peakUnreadBytes <= LIMITS.maxBytesInFlight + LIMITS.maxOutstanding * 64, `ssh2 held ${stalled.peakUnreadBytes} bytes of replies for the agent`);
      assert.ok(stalled.peakUnreadBytes > 0, 'replies were held while the agent did not read');
      // it reads again: everything arrives
      toAgent!.pipe(fromAgent!);
      toAgent!.resume();
      const answers = await Promise.all(reads);
      assert.equal(answers.filter(([err]) => err).length, 0, `all reads answered: ${answers.find(([err]) => err)?.[0]?.message}`);
      const [err] = await call((cb) => sftp.stat(remote, cb));
      assert.equal(err, undefined);
      assert.deepEqual([bridge.stats().waiting, bridge.stats().outstanding], [0, 0]);
    } finally {
      client.destroy();
      relay.close();
    }
  });
});
