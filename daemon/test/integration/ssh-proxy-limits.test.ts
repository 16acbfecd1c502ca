import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parseResultDetail } from '@airlock/shared';
import type { ClientChannel } from 'ssh2';
import { runTool } from '../helpers/daemon-harness.js';
import { exec, startSshProxy, type SshProxyHarness } from '../helpers/ssh-proxy.js';
import { startSshd, type RunningSshd } from '../helpers/sshd.js';

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

describe('SSH proxy under the default policy and its limits', { timeout: 180_000 }, () => {
  let sshd: RunningSshd;
  let h: SshProxyHarness;

  before(async () => {
    sshd = await startSshd();
    // no policy file: the built-in default policy (reads allowed, privileged denied, the rest reviewed)
    h = await startSshProxy({ sshd, limits: { maxConnections: 3, authTimeout: '1s', recordedBytesPerClip: 4096 } });
  });
  after(async () => {
    await h?.stop();
    await sshd?.stop();
  });

  test('a read is allowed by the default policy; its recorded result parses with the ssh.exec result schema', async () => {
    const c = await h.connect();
    const r = await exec(c, 'ls /');
    c.end();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\betc\b/);
    const records = await h.records();
    const action = records.find((x) => x.type === 'action' && (x.action as { kind: string }).kind === 'ssh.exec') as { action: { id: string; attributes: Record<string, unknown> } } | undefined;
    assert.ok(action);
    assert.equal(action.action.attributes.class, 'read');
    let result: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !result; i++) {
      result = (await h.records()).find((x) => x.type === 'result' && x.actionId === action.action.id);
      if (!result) await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(result);
    const parsed = parseResultDetail('ssh.exec', result.detail as Record<string, unknown>);
    assert.equal(parsed.kind, 'ssh.exec', JSON.stringify(parsed));
  });

  test('OpenSSH local forwarding (ssh -L) is refused by the default policy: the forwarded connection closes at once', async () => {
    const localPort = 20000 + Math.floor(Math.random() * 20000);
    const { writeFileSync, chmodSync } = await import('node:fs');
    writeFileSync(`${h.home}/askpass-fwd.sh`, `#!/bin/sh\necho '${h.token}'\n`);
    chmodSync(`${h.home}/askpass-fwd.sh`, 0o700);
    const ssh = runTool('ssh', ['-F', '/dev/null', '-N', '-L', `127.0.0.1:${localPort}:127.0.0.1:${sshd.port}`, '-p', String(h.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'PubkeyAuthentication=no', '-o', 'ExitOnForwardFailure=no', 'agent@127.0.0.1'], { env: { SSH_ASKPASS: `${h.home}/askpass-fwd.sh`, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' }, timeoutMs: 8_000 });
    // wait for ssh to listen locally
    let got = '';
    for (let i = 0; i < 100; i++) {
      const attempt = await new Promise<string | null>((resolve) => {
        const s = net.connect(localPort, '127.0.0.1');
        let data = '';
        s.on('data', (d) => (data += d.toString()));
        s.once('error', () => resolve(null));
        s.once('close', () => resolve(data));
        setTimeout(() => s.destroy(), 1500);
      });
      if (attempt !== null) {
        got = attempt;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.doesNotMatch(got, /SSH-2\.0-OpenSSH/, 'the upstream sshd was not reached through the forward');
    const records = await h.records();
    const forward = records.find((x) => x.type === 'action' && (x.action as { kind: string }).kind === 'ssh.forward') as { decision: { decision: string; ruleId: string } } | undefined;
    assert.ok(forward, 'the forward was an action');
    assert.equal(forward.decision.decision, 'deny');
    assert.equal(forward.decision.ruleId, 'privileged-deny');
    await ssh;
  });

  test('a connection that does not log in within limits.authTimeout is closed', async () => {
    const sock = net.connect(h.port, '127.0.0.1');
    const started = Date.now();
    sock.on('data', () => undefined);
    sock.on('error', () => undefined);
    await new Promise((r) => sock.once('close', r));
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 5000, `closed after ${took} ms`);
  });

  test('connections over limits.maxConnections are refused with a message naming the limit', async () => {
    const held = [await h.connect(), await h.connect(), await h.connect()];
    const r = await h.ssh(['agent@127.0.0.1', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /airlock: target "box" allows 3 connections \(limits\.maxConnections\)/);
    for (const c of held) c.end();
    await new Promise((res) => setTimeout(res, 300));
    const c = await h.connect();
    assert.equal((await exec(c, 'echo back')).stdout, 'back\n');
    c.end();
  });

  test('a client that stops reading a large output does not make the daemon buffer it; other connections keep working', async () => {
    const pid = h.daemon.process.pid!;
    const stalled = await h.connect();
    const baseline = rssMiB(pid);
    const channel = await new Promise<ClientChannel>((resolve, reject) => stalled.exec('yes 0123456789abcdef0123456789abcdef', (err, ch) => (err ? reject(err) : resolve(ch))));
    let received = 0;
    channel.on('data', (d: Buffer) => {
      received += d.length;
      // read a little, then stop: the window closes and the daemon must stop reading upstream
      if (received > 256 * 1024) channel.pause();
    });
    await new Promise((r) => setTimeout(r, 4000));
    const during = rssMiB(pid);
    const other = await h.connect();
    const r = await exec(other, 'echo unaffected');
    assert.equal(r.stdout, 'unaffected\n');
    other.end();
    const receivedWhilePaused = received;
    await new Promise((r2) => setTimeout(r2, 1000));
    assert.ok(received - receivedWhilePaused < 4 * 1024 * 1024, 'the client got little more after pausing');
    assert.ok(during - baseline < 64, `daemon RSS grew ${Math.round(during - baseline)} MiB while the client did not read`);
    stalled.end();
  });

  test('the clip is bounded by limits.recordedBytesPerClip and says truncated; the stream itself continues', async () => {
    const c = await h.connect();
    const r = await exec(c, 'seq 1 20000');
    c.end();
    assert.equal(r.stdout.split('\n').length, 20001);
    let result: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !result; i++) {
      const records = await h.records();
      const action = records.find((x) => x.type === 'action' && (x.action as { summary: string }).summary.includes('seq 1 20000')) as { action: { id: string } } | undefined;
      result = action ? records.find((x) => x.type === 'result' && x.actionId === action.action.id) : undefined;
      if (!result) await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(result);
    const detail = result.detail as { truncated?: boolean; asciicast: string; bytesOut: number };
    assert.equal(detail.truncated, true);
    assert.ok(detail.asciicast.length < 4096 + 1024);
    assert.match(detail.asciicast, /"m", "exit 0"/);
    assert.equal(detail.bytesOut, r.stdout.length);
  });
});

describe('SSH proxy idle timeout', { timeout: 60_000 }, () => {
  test('a logged-in connection with no channel traffic for limits.idleTimeout is closed; one with traffic is not', async () => {
    const h = await startSshProxy({ limits: { idleTimeout: '1s' } });
    try {
      const idle = await h.connect();
      const busy = await h.connect();
      const closed = new Promise<number>((resolve) => {
        const started = Date.now();
        idle.once('close', () => resolve(Date.now() - started));
      });
      let busyClosed = false;
      busy.once('close', () => (busyClosed = true));
      // traffic on `busy` every 300 ms keeps it open past the timeout
      for (let i = 0; i < 6; i++) {
        await exec(busy, 'echo tick');
        await new Promise((r) => setTimeout(r, 300));
      }
      const took = await closed;
      assert.ok(took >= 900 && took < 4000, `the idle connection closed after ${took} ms`);
      assert.equal(busyClosed, false, 'the busy connection is still open');
      busy.end();
    } finally {
      await h.stop();
    }
  });
});
