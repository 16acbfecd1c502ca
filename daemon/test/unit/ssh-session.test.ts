import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { MaskingPolicy, SshExecDetail, SshForwardDetail, SshRequestDetail, SshShellDetail, parseActionDetail } from '@airlock/shared';
import { EchoGuard, SshSession, type SshSessionDeps } from '../../src/proxies/ssh/session.js';
import { AsciicastWriter } from '../../src/recording/asciicast.js';
import { checkHostKey, fingerprintOf, keyTypeOf } from '../../src/proxies/ssh/host-key.js';
import { MaskedOutput, incompleteEscapeStart, incompleteUtf8Tail } from '../../src/masking/terminal-output.js';
import { MaskReportBuilder, compileMasking } from '../../src/masking/index.js';
import { classifyShell, initShellClassifier, shellActionSummary, shellAttributes } from '../../src/classify/shell/index.js';

function session(limits: Partial<SshSessionDeps['limits']> = {}): SshSession {
  return new SshSession({
    target: 'box',
    upstream: 'deploy@10.0.0.5:22',
    connectionId: 'sshc_1',
    agentUser: 'claude',
    limits: { maxChannelsPerConnection: 3, maxMessageBytes: 4096, actionTextBytes: 256, ...limits },
    classify: classifyShell,
    attributes: shellAttributes,
    summary: shellActionSummary,
    maskValue: (v) => v.replace(/hunter2/g, '[MASKED]'),
  });
}

function open(s: SshSession): number {
  const r = s.openChannel('session');
  assert.ok(r.ok);
  return r.channel;
}

describe('ssh session model', () => {
  before(() => initShellClassifier());

  test('an exec becomes an ssh.exec action with the typed detail and the policy attributes', () => {
    const s = session();
    const ch = open(s);
    assert.deepEqual(s.pty(ch, { term: 'xterm', cols: 100, rows: 30 }), { kind: 'pass' });
    const step = s.exec(ch, 'rm /tmp/a /tmp/b');
    assert.equal(step.kind, 'submit');
    if (step.kind !== 'submit') return;
    assert.equal(step.request.kind, 'ssh.exec');
    assert.equal(step.request.protocol, 'ssh');
    const detail = SshExecDetail.parse(step.request.detail);
    assert.equal(detail.command, 'rm /tmp/a /tmp/b');
    assert.equal(detail.pty, true);
    assert.equal(detail.agentUser, 'claude');
    assert.deepEqual(detail.pathsWritten, ['/tmp/a', '/tmp/b']);
    assert.equal(step.request.attributes.class, 'write');
    assert.deepEqual(step.request.attributes.commands, ['rm']);
    assert.deepEqual(step.request.attributes.paths, ['/tmp/a', '/tmp/b']);
    assert.equal(step.request.attributes.command, 'rm /tmp/a /tmp/b');
    assert.equal(parseActionDetail({ kind: 'ssh.exec', detail: step.request.detail }).kind, 'ssh.exec');
  });

  test('a command over maxMessageBytes is refused without classifying; a long one within it keeps a bounded text and its digest', () => {
    const s = session();
    const refused = s.exec(open(s), 'x'.repeat(5000));
    assert.equal(refused.kind, 'refuse');
    if (refused.kind === 'refuse') assert.match(refused.message, /5000 bytes, over target "box"'s limit of 4096 \(limits\.maxMessageBytes\)/);
    const long = s.exec(open(s), `echo ${'y'.repeat(1000)}`);
    assert.equal(long.kind, 'submit');
    if (long.kind !== 'submit') return;
    const detail = SshExecDetail.parse(long.request.detail);
    assert.ok(Buffer.byteLength(detail.command) <= 256);
    assert.equal(detail.commandCut?.bytes, 1005);
  });

  test('channels over the cap are refused with the limit named; closing one makes room', () => {
    const s = session();
    open(s);
    const second = open(s);
    open(s);
    const fourth = s.openChannel('session');
    assert.equal(fourth.ok, false);
    if (!fourth.ok) assert.match(fourth.message, /allows 3 open channels per connection \(limits\.maxChannelsPerConnection\)/);
    s.closeChannel(second);
    assert.equal(s.openChannel('direct-tcpip').ok, true);
  });

  test('a session channel runs one command; a second exec or a shell after it is refused', () => {
    const s = session();
    const ch = open(s);
    assert.equal(s.exec(ch, 'ls').kind, 'submit');
    assert.equal(s.exec(ch, 'ls').kind, 'refuse');
    assert.equal(s.shell(ch).kind, 'refuse');
    assert.equal(s.env(ch, 'LANG', 'C').kind, 'refuse');
  });

  test('LANG and LC_* pass; other env variables are actions with masked values; allowed ones reach the command', () => {
    const s = session();
    const ch = open(s);
    assert.deepEqual(s.env(ch, 'LC_ALL', 'C.UTF-8'), { kind: 'pass' });
    const step = s.env(ch, 'DB_PASSWORD', 'hunter2');
    assert.equal(step.kind, 'submit');
    if (step.kind !== 'submit') return;
    assert.equal(step.request.kind, 'ssh.request');
    const detail = SshRequestDetail.parse(step.request.detail);
    assert.deepEqual([detail.request, detail.name, detail.value], ['env', 'DB_PASSWORD', '[MASKED]']);
    s.envAllowed(ch, 'DB_PASSWORD', 'hunter2');
    assert.deepEqual(s.envOf(ch), { LC_ALL: 'C.UTF-8', DB_PASSWORD: 'hunter2' });
    const exec = s.exec(ch, 'env');
    assert.equal(exec.kind, 'submit');
    if (exec.kind === 'submit') assert.deepEqual(SshExecDetail.parse(exec.request.detail).env, { LC_ALL: 'C.UTF-8', DB_PASSWORD: '[MASKED]' });
  });

  test('a shell is class shell with its pty; sftp goes to the bridge; another subsystem is an action', () => {
    const s = session();
    const ch = open(s);
    s.pty(ch, { term: 'xterm-256color', cols: 120, rows: 40 });
    s.windowChange(ch, { cols: 90, rows: 20 });
    const shell = s.shell(ch);
    assert.equal(shell.kind, 'submit');
    if (shell.kind === 'submit') {
      assert.equal(shell.request.attributes.class, 'shell');
      assert.deepEqual(SshShellDetail.parse(shell.request.detail).pty, { term: 'xterm-256color', cols: 90, rows: 20 });
    }
    assert.deepEqual(s.subsystem(open(s), 'sftp'), { kind: 'sftp' });
    s.closeChannel(0);
    const other = s.subsystem(open(s), 'netconf');
    assert.equal(other.kind, 'submit');
    if (other.kind === 'submit') assert.equal(other.request.attributes.name, 'netconf');
  });

  test('forwards are privileged actions with host and port attributes', () => {
    const s = session();
    const step = s.forward(0, 'direct-tcpip', { host: '10.1.2.3', port: 5432 });
    assert.equal(step.kind, 'submit');
    if (step.kind !== 'submit') return;
    assert.equal(step.request.kind, 'ssh.forward');
    assert.deepEqual([step.request.attributes.class, step.request.attributes.host, step.request.attributes.port], ['privileged', '10.1.2.3', 5432]);
    assert.equal(SshForwardDetail.parse(step.request.detail).forward, 'direct-tcpip');
  });

  test('requests on channels that are not open sessions are refused', () => {
    const s = session();
    assert.equal(s.exec(7, 'ls').kind, 'refuse');
    const r = s.openChannel('direct-tcpip');
    assert.ok(r.ok);
    assert.equal(s.pty(r.channel, { term: 'x', cols: 1, rows: 1 }).kind, 'refuse');
  });
});

describe('echo guard (secret prompts in shells)', () => {
  test('input after a password prompt is withheld up to the line end; the rest is kept', () => {
    const g = new EchoGuard();
    g.output('$ sudo ls\r\n[sudo] password for dev: ');
    assert.deepEqual(g.input('hunt'), { record: '', withheld: true });
    assert.deepEqual(g.input('er2\rls\r'), { record: '\rls\r', withheld: true });
    assert.deepEqual(g.input('pwd\r'), { record: 'pwd\r', withheld: false });
  });

  test('an ordinary prompt does not hide input', () => {
    const g = new EchoGuard();
    g.output('dev@box:~$ ');
    assert.deepEqual(g.input('echo hi\r'), { record: 'echo hi\r', withheld: false });
  });
});

describe('asciicast writer', () => {
  test('header, timed events and the exit marker; over the budget output is cut but the exit marker stays', () => {
    const w = new AsciicastWriter(1_000_000, 120, { width: 80, height: 24, term: 'xterm' });
    w.add(1_000_500, 'o', 'hello\r\n');
    w.add(1_000_600, 'i', 'ls\r');
    w.add(1_000_700, 'o', 'x'.repeat(200));
    w.exit(1_001_000, 0);
    const lines = w.toString().trim().split('\n');
    const header = JSON.parse(lines[0]!);
    assert.deepEqual([header.version, header.width, header.height, header.timestamp, header.env.TERM], [2, 80, 24, 1000, 'xterm']);
    assert.deepEqual(JSON.parse(lines[1]!), [0.5, 'o', 'hello\r\n']);
    assert.deepEqual(JSON.parse(lines[2]!), [0.6, 'i', 'ls\r']);
    assert.deepEqual(JSON.parse(lines[3]!), [1, 'm', 'exit 0']);
    assert.equal(lines.length, 4);
    assert.equal(w.truncated, true);
  });

  test('a signal exit is marked with the signal', () => {
    const w = new AsciicastWriter(0, 1000, { width: 80, height: 24 });
    w.exit(10, null, 'TERM');
    assert.match(w.toString(), /"m", "signal TERM"/);
  });
});

function ed25519Blob(): Buffer {
  const type = Buffer.from('ssh-ed25519');
  const key = randomBytes(32);
  const blob = Buffer.alloc(4 + type.length + 4 + key.length);
  blob.writeUInt32BE(type.length, 0);
  type.copy(blob, 4);
  blob.writeUInt32BE(key.length, 4 + type.length);
  key.copy(blob, 8 + type.length);
  return blob;
}

describe('upstream host-key pin', () => {
  const blob = ed25519Blob();
  const other = ed25519Blob();
  const line = (name: string, b = blob) => `${name} ssh-ed25519 ${b.toString('base64')}`;

  test('fingerprint and key type as OpenSSH prints them', () => {
    assert.match(fingerprintOf(blob), /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(keyTypeOf(blob), 'ssh-ed25519');
  });

  test('hostKey: equal is ok, another key is changed, nothing is unpinned', () => {
    assert.equal(checkHostKey(blob, { fingerprint: fingerprintOf(blob), host: 'h', port: 22 }).ok, true);
    assert.deepEqual(checkHostKey(other, { fingerprint: fingerprintOf(blob), host: 'h', port: 22 }), { ok: false, fingerprint: fingerprintOf(other), reason: 'changed' });
    assert.deepEqual(checkHostKey(blob, { host: 'h', port: 22 }), { ok: false, fingerprint: fingerprintOf(blob), reason: 'unpinned' });
  });

  test('known_hosts: plain, [host]:port, hashed, wildcard; another host is unpinned; another key for the host is changed; @revoked refuses', () => {
    assert.equal(checkHostKey(blob, { knownHosts: `# c\n${line('db.internal,10.0.0.5')}\n`, host: 'db.internal', port: 22 }).ok, true);
    assert.equal(checkHostKey(blob, { knownHosts: line('[127.0.0.1]:2222'), host: '127.0.0.1', port: 2222 }).ok, true);
    assert.equal(checkHostKey(blob, { knownHosts: line('127.0.0.1'), host: '127.0.0.1', port: 2222 }).ok, false, 'port 22 entry does not pin another port');
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[box]:2200').digest('base64')}`;
    assert.equal(checkHostKey(blob, { knownHosts: line(hashed), host: 'box', port: 2200 }).ok, true);
    assert.equal(checkHostKey(blob, { knownHosts: line('*.internal'), host: 'db.internal', port: 22 }).ok, true);
    assert.deepEqual(checkHostKey(blob, { knownHosts: line('elsewhere'), host: 'db', port: 22 }), { ok: false, fingerprint: fingerprintOf(blob), reason: 'unpinned' });
    assert.deepEqual(checkHostKey(blob, { knownHosts: line('db', other), host: 'db', port: 22 }), { ok: false, fingerprint: fingerprintOf(blob), reason: 'changed' });
    assert.deepEqual(checkHostKey(blob, { knownHosts: `@revoked ${line('db')}\n${line('db')}`, host: 'db', port: 22 }), { ok: false, fingerprint: fingerprintOf(blob), reason: 'revoked' });
  });
});

describe('masked SSH output', () => {
  const masker = compileMasking(MaskingPolicy.parse({}), 'box');

  test('a multi-byte character split across chunks is joined, not replaced', () => {
    const out = new MaskedOutput(masker, new MaskReportBuilder());
    const bytes = Buffer.from('grüße 😀 ok\n');
    let text = '';
    for (let i = 0; i < bytes.length; i++) text += out.push(bytes.subarray(i, i + 1)).toString();
    text += out.flush(true).toString();
    assert.equal(text, 'grüße 😀 ok\n');
  });

  test('an ANSI escape cut at a chunk end is held until whole', () => {
    assert.equal(incompleteEscapeStart('ok \x1b[3'), 3);
    assert.equal(incompleteEscapeStart('ok \x1b[31m'), -1);
    assert.equal(incompleteEscapeStart('ok \x1b]0;title'), 3);
    assert.equal(incompleteEscapeStart('ok \x1b]0;title\x07'), -1);
    const out = new MaskedOutput(masker, new MaskReportBuilder());
    const first = out.push(Buffer.from('red: \x1b[3')).toString();
    assert.ok(!first.includes('\x1b'), 'half an escape is not given out');
    const rest = out.push(Buffer.from('1mtext\x1b[0m\n')).toString() + out.flush(true).toString();
    assert.equal(first + rest, 'red: \x1b[31mtext\x1b[0m\n');
  });

  test('in a long chunk only an escape near its end is held; one opened further back than the hold limit goes out as text', () => {
    assert.equal(incompleteEscapeStart(`${'\0'.repeat(1000)}\x1b[3`, 1000), 1000);
    assert.equal(incompleteEscapeStart(`\x1b]0;title${'x'.repeat(1000)}`, 500), -1);
    const out = new MaskedOutput(masker, new MaskReportBuilder());
    const zeros = '\0'.repeat(64 * 1024);
    const first = out.push(Buffer.from(`${zeros}\x1b[3`)).toString();
    assert.ok(!first.includes('\x1b'), 'the cut escape is held');
    const rest = out.push(Buffer.from('1m')).toString() + out.flush(true).toString();
    assert.equal(first + rest, `${zeros}\x1b[31m`);
    const open = new MaskedOutput(masker, new MaskReportBuilder());
    const osc = `\x1b]0;${'t'.repeat(2000)}`;
    const passed = open.push(Buffer.from(osc)).toString() + open.flush(true).toString();
    assert.equal(passed, osc, 'an OSC open for longer than the hold limit is text');
  });

  test('binary output (not UTF-8) reaches the agent byte for byte, in any chunking; an ASCII secret inside it is still masked', () => {
    // a packfile-like stream: text first, then bytes that are not UTF-8
    const binary = Buffer.concat([Buffer.from('PACK header grüße\n'), Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x80, 0xe2, 0x82]), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256))]);
    for (const size of [1, 3, 7, 64, 1000, binary.length]) {
      const out = new MaskedOutput(masker, new MaskReportBuilder());
      const parts: Buffer[] = [];
      for (let i = 0; i < binary.length; i += size) parts.push(out.push(binary.subarray(i, i + size)));
      parts.push(out.flush(true));
      assert.ok(Buffer.concat(parts).equals(binary), `chunks of ${size}: the bytes are unchanged`);
    }
    const key = 'AKIA' + 'QWERTYUIOPASDFGH';
    const withKey = Buffer.concat([Buffer.from([0xff, 0x00, 0x9c]), Buffer.from(` aws_key=${key} `), Buffer.from([0xfe, 0x01])]);
    const report = new MaskReportBuilder();
    const out = new MaskedOutput(masker, report);
    const seen = Buffer.concat([out.push(withKey.subarray(0, 10)), out.push(withKey.subarray(10)), out.flush(true)]);
    assert.ok(!seen.includes(Buffer.from(key.slice(4))), 'the key is masked inside binary output');
    assert.deepEqual([...seen.subarray(0, 3)], [0xff, 0x00, 0x9c], 'the bytes around it are unchanged');
    assert.ok(report.changed);
  });

  test('the start of a UTF-8 character cut at a chunk end is told apart from a whole one', () => {
    assert.equal(incompleteUtf8Tail(Buffer.from('abc')), 0);
    assert.equal(incompleteUtf8Tail(Buffer.from([0x61, 0xc3])), 1);
    assert.equal(incompleteUtf8Tail(Buffer.from([0xe2, 0x82])), 2);
    assert.equal(incompleteUtf8Tail(Buffer.from([0xf0, 0x9f, 0x98])), 3);
    assert.equal(incompleteUtf8Tail(Buffer.from('😀')), 0);
    assert.equal(incompleteUtf8Tail(Buffer.from([0x80, 0x80, 0x80, 0x80])), 0, 'stray continuation bytes are not a character start');
  });

  test('an AWS key split across chunks is masked and counted', () => {
    const report = new MaskReportBuilder();
    const out = new MaskedOutput(masker, report);
    const key = 'AKIA' + 'QWERTYUIOPASDFGH';
    const text = out.push(Buffer.from(`key=${key.slice(0, 7)}`)).toString() + out.push(Buffer.from(`${key.slice(7)} done\n`)).toString() + out.flush(true).toString();
    assert.ok(!text.includes(key.slice(4)), text);
    assert.match(text, /done\n$/);
    assert.ok(report.changed);
  });
});
