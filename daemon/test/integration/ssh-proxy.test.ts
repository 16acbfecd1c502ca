import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client, ClientChannel } from 'ssh2';
import { pendingApproval, runTool } from '../helpers/daemon-harness.js';
import { exec, startSshProxy, type SshProxyHarness } from '../helpers/ssh-proxy.js';
import { keygen, startSshd, type RunningSshd } from '../helpers/sshd.js';

/** Allow rules name `unknown` too: an action the classifier cannot judge is never allowed otherwise. */
export const SSH_TEST_POLICY = `
version: 1
default: deny
rules:
  - { id: no-forwards, decision: deny, match: { kinds: ssh.forward, attributes: { host: "!localhost" } } }
  - { id: local-forward, decision: allow, match: { kinds: ssh.forward, attributes: { forward: direct-tcpip, host: localhost } } }
  - { id: no-rm, decision: deny, match: { kinds: ssh.exec, attributes: { command: "rm *" } } }
  - { id: held-touch, decision: review, timeout: 60s, match: { kinds: ssh.exec, attributes: { command: "touch *" } } }
  - { id: quick-timeout, decision: review, timeout: 1s, match: { kinds: ssh.exec, attributes: { command: "echo never*" } } }
  - { id: shells, decision: allow, match: { kinds: ssh.shell } }
  - { id: self-kill, decision: allow, match: { kinds: ssh.exec, attributes: { command: "echo before; kill -TERM $$", class: privileged } } }
  - { id: no-sftp-secrets, decision: deny, match: { kinds: ssh.sftp, attributes: { paths: "*/forbidden*" } } }
  - { id: sftp, decision: allow, match: { kinds: ssh.sftp, attributes: { class: [read, write, unknown] } } }
  - { id: execs, decision: allow, match: { kinds: ssh.exec, attributes: { class: [read, write, unknown] } } }
`;

/** An AWS access key id shape (AKIA + 16) that is not the documentation example. */
function awsKey(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let s = 'AKIA';
  for (const b of randomBytes(16)) s += alphabet[b % alphabet.length];
  return s;
}

async function resultOf(h: SshProxyHarness, summaryPart: string, sessionId?: string, which: (result: Record<string, unknown>) => boolean = () => true): Promise<{ action: Record<string, unknown>; result?: Record<string, unknown>; verdict?: Record<string, unknown> }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const records = await h.records(sessionId);
    const actions = records.filter((r) => r.type === 'action' && String((r.action as { summary: string }).summary).includes(summaryPart));
    for (const action of actions) {
      const id = (action.action as { id: string }).id;
      const result = records.find((r) => r.type === 'result' && r.actionId === id);
      const outcome = records.find((r) => r.type === 'outcome' && (r.verdict as { actionId: string }).actionId === id);
      if (result && which(result)) return { action, result, verdict: (outcome?.verdict ?? action.verdict) as Record<string, unknown> };
    }
    if (Date.now() > deadline) return { action: actions[0] ?? {}, result: undefined };
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('SSH proxy with a real sshd upstream', { timeout: 180_000 }, () => {
  let sshd: RunningSshd;
  let h: SshProxyHarness;
  let agent: Client;

  before(async () => {
    sshd = await startSshd();
    h = await startSshProxy({ policy: SSH_TEST_POLICY, sshd, limits: { maxMessageBytes: 8192 } });
    agent = await h.connect();
  });
  after(async () => {
    agent?.end();
    await h?.stop();
    await sshd?.stop();
  });

  test('an allowed exec runs upstream: output, exit status, and a recorded asciicast clip', async () => {
    const r = await exec(agent, 'echo hi; echo oops >&2; exit 3');
    assert.equal(r.stdout, 'hi\n');
    assert.equal(r.stderr, 'oops\n');
    assert.equal(r.code, 3);
    const { result } = await resultOf(h, 'echo hi');
    assert.ok(result, 'the exec has a recorded result');
    const detail = result.detail as { exitStatus: number; asciicast: string; bytesOut: number };
    assert.equal(detail.exitStatus, 3);
    const lines = detail.asciicast.trim().split('\n');
    assert.equal(JSON.parse(lines[0]!).version, 2);
    const events = lines.slice(1).map((l) => JSON.parse(l) as [number, string, string]);
    assert.ok(events.some((e) => e[1] === 'o' && e[2].includes('hi')));
    assert.deepEqual(events.at(-1)?.slice(1), ['m', 'exit 3']);
  });

  test('a command killed by a signal: the signal is relayed and recorded', async () => {
    const r = await exec(agent, 'echo before; kill -TERM $$');
    assert.equal(r.stdout, 'before\n');
    assert.equal(r.signal, 'SIGTERM', 'ssh2\'s client names it SIGTERM');
    const { result } = await resultOf(h, 'kill -TERM');
    assert.ok(result);
    assert.equal((result.detail as { exitSignal: string }).exitSignal, 'TERM');
    assert.match((result.detail as { asciicast: string }).asciicast, /"m", "signal TERM"/);
  });

  test('secrets in output are masked, also when split across chunks, and the recording holds the masked text', async () => {
    const key = awsKey();
    const secretFile = path.join(sshd.dir, 'secrets.txt');
    writeFileSync(secretFile, `aws_access_key_id = ${key}\nname ok\n`);
    // the key printed in two writes a moment apart: two SSH data packets
    const r = await exec(agent, `printf 'id=${key.slice(0, 9)}'; sleep 0.3; printf '${key.slice(9)} end\\n'; cat ${secretFile}`);
    assert.equal(r.code, 0);
    assert.ok(!r.stdout.includes(key), `the key leaked: ${r.stdout}`);
    assert.ok(!r.stdout.includes(key.slice(4)), `part of the key leaked: ${r.stdout}`);
    assert.match(r.stdout, /name ok/);
    assert.match(r.stdout, / end\n/);
    const { result } = await resultOf(h, 'printf');
    assert.ok(!JSON.stringify(result).includes(key));
    assert.ok((result!.detail as { maskReport?: unknown }).maskReport, 'a mask report is recorded');
  });

  test('binary output (what git fetch and cat of an archive send) arrives byte for byte with masking on', async () => {
    const file = path.join(sshd.dir, 'blob.bin');
    // random bytes with the high bit set: no ASCII text in them that a detector could rightly mask
    const blob = Buffer.concat([Buffer.from('PACK\0\0\0\x02'), randomBytes(300_000).map((b) => b | 0x80), Buffer.from([0xff, 0xfe, 0xc3, 0x28])]);
    writeFileSync(file, blob);
    const r = await exec(agent, `cat ${file}`);
    assert.equal(r.code, 0);
    assert.equal(r.stdoutBytes.length, blob.length);
    assert.ok(r.stdoutBytes.equals(blob), 'the bytes are unchanged');
  });

  test('a private key printed by cat is replaced', async () => {
    const file = path.join(sshd.dir, 'client_key');
    const r = await exec(agent, `cat ${file}`);
    assert.equal(r.code, 0);
    assert.doesNotMatch(r.stdout, /b3BlbnNzaC1rZXktdjE/);
    assert.match(r.stdout, /PRIVATE-KEY|\[/);
  });

  test('a denied exec gets stderr naming the rule and exit status 126; nothing runs upstream', async () => {
    const marker = path.join(sshd.dir, 'not-removed');
    writeFileSync(marker, 'x');
    const r = await exec(agent, `rm ${marker}`);
    assert.equal(r.code, 126);
    assert.match(r.stderr, /^airlock: refused by policy rule no-rm: /);
    assert.equal(r.stdout, '');
    const again = await exec(agent, `cat ${marker}`);
    assert.equal(again.stdout, 'x', 'the file is still there');
  });

  test('a held exec opens nothing upstream until approved, then runs', async () => {
    const file = path.join(sshd.dir, 'touched');
    const running = exec(agent, `touch ${file} && echo done`);
    const approval = await pendingApproval(h.daemon);
    const before = await exec(agent, `test -e ${file} && echo exists || echo absent`);
    assert.equal(before.stdout, 'absent\n', 'nothing ran while held');
    const res = await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, { by: 'alice', via: 'api' });
    assert.equal(res.status, 200);
    const r = await running;
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'done\n');
  });

  test('a held exec that times out is refused with 126', async () => {
    const r = await exec(agent, 'echo never runs');
    assert.equal(r.code, 126);
    assert.match(r.stderr, /^airlock: refused by policy rule quick-timeout: /);
  });

  test('an agent that disconnects while held cancels the approval', async () => {
    const other = await h.connect();
    void exec(other, `touch ${path.join(sshd.dir, 'never')}`).catch(() => undefined);
    const approval = await pendingApproval(h.daemon);
    other.end();
    const deadline = Date.now() + 5000;
    let status = 'pending';
    while (Date.now() < deadline) {
      const found = ((await h.daemon.api('GET', `/v1/approvals/${approval.id}`)).json as { approval?: { status: string } }).approval;
      if (!found || found.status !== 'pending') {
        status = found?.status ?? 'gone';
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 'cancelled', 'the approval was cancelled');
  });

  test('port forwarding is refused (ssh2 forwardOut)', async () => {
    const err = await new Promise<Error | undefined>((resolve) => agent.forwardOut('127.0.0.1', 0, '127.0.0.1', sshd.port, (e) => resolve(e)));
    assert.ok(err, 'the forward channel was refused');
    const records = await h.records();
    assert.ok(records.some((r) => r.type === 'action' && (r.action as { kind: string }).kind === 'ssh.forward'));
  });

  test('a forward a rule allows is relayed to the upstream side (ssh -L to localhost), byte for byte', async () => {
    const echo = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (echo.address() as net.AddressInfo).port;
      const channel = await new Promise<ClientChannel>((resolve, reject) => agent.forwardOut('127.0.0.1', 0, 'localhost', port, (e, ch) => (e ? reject(e) : resolve(ch))));
      const back = await new Promise<string>((resolve) => {
        let got = '';
        channel.on('data', (d: Buffer) => {
          got += d.toString();
          if (got.length >= 9) resolve(got);
        });
        channel.write('ping-pong');
      });
      channel.close();
      assert.equal(back, 'ping-pong');
      const records = await h.records();
      assert.ok(records.some((r) => r.type === 'action' && (r.action as { kind: string; summary: string }).kind === 'ssh.forward' && (r.action as { summary: string }).summary.includes(`localhost:${port}`)), 'the allowed forward is recorded');
    } finally {
      echo.close();
    }
  });

  test('OpenSSH ssh runs a command through Airlock with the token as password', async () => {
    const r = await h.ssh(['agent@127.0.0.1', 'echo', 'from-openssh']);
    assert.equal(r.stdout, 'from-openssh\n', r.stderr);
    assert.equal(r.code, 0);
    const withPty = await h.ssh(['-tt', 'agent@127.0.0.1', 'tty']);
    assert.match(withPty.stdout, /\/dev\/pts\/\d+/, 'an exec with -tt runs on a pty upstream');
    const denied = await h.ssh(['agent@127.0.0.1', 'rm', '-rf', '/tmp/nothing-here']);
    assert.equal(denied.code, 126);
    assert.match(denied.stderr, /airlock: refused by policy rule no-rm/);
  });

  test('an interactive shell through a pty (ssh -tt) is relayed and recorded as asciicast input and output', async () => {
    const r = await h.ssh(['-tt', 'agent@127.0.0.1'], { input: 'echo shell-$((40+2))\nexit\n' });
    assert.match(r.stdout, /shell-42/, r.stderr);
    const { result } = await resultOf(h, 'interactive shell');
    assert.ok(result);
    const cast = (result.detail as { asciicast: string }).asciicast;
    const events = cast.trim().split('\n').slice(1).map((l) => JSON.parse(l) as [number, string, string]);
    assert.ok(events.some((e) => e[1] === 'i' && e[2].includes('echo shell')), 'input recorded');
    assert.ok(events.some((e) => e[1] === 'o' && e[2].includes('shell-42')), 'output recorded');
  });

  test('a shell records window changes and withholds what is typed after a password prompt', async () => {
    const secret = `typed-${randomBytes(6).toString('hex')}`;
    const out = await new Promise<string>((resolve, reject) => {
      agent.shell({ term: 'xterm', rows: 24, cols: 80 }, (err, ch) => {
        if (err) return reject(err);
        let text = '';
        let stage = 0;
        ch.on('data', (d: Buffer) => {
          text += d.toString();
          if (stage === 0 && text.includes('$ ') || stage === 0 && text.includes('# ')) {
            stage = 1;
            ch.write('read -s -p "Password: " x; echo; echo "len=${#x}"\n');
          } else if (stage === 1 && /Password: $/.test(text)) {
            stage = 2;
            ch.write(`${secret}\n`);
          } else if (stage === 2 && text.includes(`len=${secret.length}`)) {
            stage = 3;
            ch.setWindow(30, 100, 0, 0);
            setTimeout(() => ch.write('exit\n'), 200);
          }
        });
        ch.on('close', () => resolve(text));
        ch.stderr.on('data', () => undefined);
      });
    });
    assert.match(out, new RegExp(`len=${secret.length}`));
    const { result } = await resultOf(h, 'interactive shell', undefined, (r) => String((r.detail as { asciicast?: string }).asciicast).includes('Password: '));
    assert.ok(result);
    const cast = (result.detail as { asciicast: string }).asciicast;
    assert.ok(!cast.includes(secret), 'the typed secret is not in the recording');
    assert.match(cast, /"r", "100x30"/);
    assert.match(cast, /"m", "input not recorded \(secret prompt\)"/);
  });

  test('OpenSSH with the file airlock ssh-config writes: the session key logs in and the daemon host key is pinned', async () => {
    const res = await h.daemon.api('POST', '/v1/ssh-config', { sessionId: h.sessionId });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const config = (res.json as { path: string }).path;
    const r = await runTool('ssh', ['-F', config, 'box', 'echo', 'by-key'], { timeoutMs: 20_000 });
    assert.equal(r.stdout, 'by-key\n', r.stderr);
    assert.equal(r.code, 0);
  });

  test('a key that belongs to no agent session is refused, and told why', async () => {
    const key = path.join(h.home, 'stranger_key');
    keygen(key);
    const r = await runTool('ssh', ['-F', '/dev/null', '-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'PasswordAuthentication=no', '-o', 'KbdInteractiveAuthentication=no', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-p', String(h.port), 'agent@127.0.0.1', 'echo', 'should-not-run'], { timeoutMs: 20_000 });
    assert.equal(r.code, 255);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /airlock: login to target "box" refused: unknown SSH key/);
  });

  test('scp and sftp through Airlock: files go both ways intact, each operation governed, a refused path refused', async () => {
    const local = path.join(h.home, 'upload.bin');
    const payload = randomBytes(3 * 1024 * 1024);
    writeFileSync(local, payload);
    const remote = path.join(sshd.dir, 'uploaded.bin');
    const common = ['-F', '/dev/null', '-P', String(h.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'PubkeyAuthentication=no', '-o', 'LogLevel=ERROR'];
    const env = { ...process.env, SSH_ASKPASS: path.join(h.home, 'askpass.sh'), SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
    await h.ssh(['agent@127.0.0.1', 'true']); // writes the askpass script
    const up = await runTool('scp', [...common, local, `agent@127.0.0.1:${remote}`], { env, timeoutMs: 30_000 });
    assert.equal(up.code, 0, up.stderr);
    const arrived = readFileSync(remote);
    assert.ok(arrived.equals(payload), `the upload arrived intact (${arrived.length} of ${payload.length} bytes)`);
    const back = path.join(h.home, 'download.bin');
    const down = await runTool('scp', [...common, `agent@127.0.0.1:${remote}`, back], { env, timeoutMs: 30_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.ok(readFileSync(back).equals(payload), 'the download came back intact');
    writeFileSync(path.join(sshd.dir, 'forbidden.txt'), 'no');
    const refused = await runTool('scp', [...common, `agent@127.0.0.1:${path.join(sshd.dir, 'forbidden.txt')}`, path.join(h.home, 'f.txt')], { env, timeoutMs: 30_000 });
    assert.notEqual(refused.code, 0);
    const records = await h.records();
    assert.ok(records.some((r) => r.type === 'action' && (r.action as { kind: string }).kind === 'ssh.sftp'));
  });

  test('a revoked session cannot log in, and is told why', async () => {
    const s = await h.newSession('to-revoke');
    const res = await h.daemon.api('DELETE', `/v1/agent-sessions/${s.id}`);
    assert.ok(res.status < 300, JSON.stringify(res.json));
    await assert.rejects(h.connect(s.token), /authentication methods failed/);
    const r = await h.ssh(['agent@127.0.0.1', 'true'], { token: s.token });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /airlock: login to target "box" refused: .*revoked/);
  });

  test('a wrong token is refused', async () => {
    await assert.rejects(h.connect('not-a-token'), /authentication methods failed/);
  });

  test('a huge exec string is refused with a clear stderr', async () => {
    const r = await exec(agent, `echo ${'x'.repeat(20_000)}`);
    assert.equal(r.code, 126);
    assert.match(r.stderr, /limits\.maxMessageBytes/);
  });

  test('channels over limits.maxChannelsPerConnection are refused; the connection keeps working', async () => {
    const c = await h.connect();
    const opened: Promise<Error | undefined>[] = [];
    const channels: { close(): void }[] = [];
    for (let i = 0; i < 200; i++) {
      opened.push(new Promise((resolve) => c.exec('sleep 2', (err, ch) => {
        if (ch) channels.push(ch);
        resolve(err);
      })));
    }
    const results = await Promise.all(opened);
    const refused = results.filter((e) => e !== undefined).length;
    assert.ok(refused >= 190, `refused ${refused} of 200`);
    for (const ch of channels) ch.close();
    await new Promise((r) => setTimeout(r, 300));
    const r = await exec(c, 'echo still');
    assert.equal(r.stdout, 'still\n');
    c.end();
  });

  test('garbage instead of an SSH banner closes that connection only', async () => {
    const sock = net.connect(h.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(randomBytes(4096));
    sock.write('\r\nGET / HTTP/1.1\r\n\r\n');
    await new Promise((r) => { sock.once('close', r); sock.on('error', () => undefined); sock.resume(); });
    const r = await exec(agent, 'echo unaffected');
    assert.equal(r.stdout, 'unaffected\n');
  });
});

describe('SSH proxy upstream host keys and reachability', { timeout: 120_000 }, () => {
  let sshd: RunningSshd;
  before(async () => {
    sshd = await startSshd();
  });
  after(async () => {
    await sshd?.stop();
  });

  test('an unpinned upstream is refused with its fingerprint and the command that pins it', async () => {
    const h = await startSshProxy({ policy: SSH_TEST_POLICY, sshd, target: { hostKey: undefined } });
    try {
      const c = await h.connect();
      const r = await exec(c, 'echo hi');
      c.end();
      assert.equal(r.code, 126);
      assert.ok(r.stderr.includes(sshd.hostFingerprint), r.stderr);
      assert.match(r.stderr, /not pinned.*airlock target pin box SHA256:/);
    } finally {
      await h.stop();
    }
  });

  test('a changed upstream host key is refused, never accepted', async () => {
    const h = await startSshProxy({ policy: SSH_TEST_POLICY, sshd, target: { hostKey: `SHA256:${'A'.repeat(43)}` } });
    try {
      const c = await h.connect();
      const r = await exec(c, 'echo hi');
      c.end();
      assert.equal(r.code, 126);
      assert.match(r.stderr, /not the pinned SHA256:A+, so Airlock did not log in/);
      assert.equal(r.stdout, '');
    } finally {
      await h.stop();
    }
  });

  test('a known_hosts file pins the upstream ([host]:port entry)', async () => {
    const known = path.join(sshd.dir, 'known_hosts');
    writeFileSync(known, `# pinned\n${sshd.knownHostsLine}\n`);
    const h = await startSshProxy({ policy: SSH_TEST_POLICY, sshd, target: { hostKey: undefined, knownHosts: known } });
    try {
      const c = await h.connect();
      const r = await exec(c, 'echo pinned');
      c.end();
      assert.equal(r.stdout, 'pinned\n', r.stderr);
    } finally {
      await h.stop();
    }
  });

  test('an upstream that is down: the agent gets a clear error and 126', async () => {
    const h = await startSshProxy({ policy: SSH_TEST_POLICY, sshd, target: { upstream: `ssh://${sshd.user}@127.0.0.1:1` } });
    try {
      const c = await h.connect();
      const r = await exec(c, 'echo hi');
      c.end();
      assert.equal(r.code, 126);
      assert.match(r.stderr, /airlock: target "box": cannot connect to .*127\.0\.0\.1:1/);
    } finally {
      await h.stop();
    }
  });
});
