import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Target, type TargetStatus } from '@airlock/shared';
import { clientAddress, configPath, knownHostsName, renderKnownHosts, renderSshConfig, sshHostsFor } from '../../src/sessions/ssh-config.js';
import { generateEd25519KeyPair } from '../../src/sessions/ssh-identity.js';
import { checkSshPrivateKey, knownHostKeys } from '../../src/config/ssh-keys.js';
import { mismatchedHostKeyMessage, unpinnedHostKeyMessage } from '../../src/config/ssh-host-pin.js';

function status(name: string, listen: string, upstream: string, extra: Partial<TargetStatus> = {}, protocol = 'ssh'): TargetStatus {
  // config names an IPv6 listen host bare (::), as people write it there
  const [host, port] = [listen.slice(0, listen.lastIndexOf(':')).replace(/^\[|\]$/g, ''), Number(listen.slice(listen.lastIndexOf(':') + 1))];
  const target = Target.parse({ name, protocol, upstream, listen: { host, port }, ...(protocol === 'ssh' ? { credential: { env: 'K' } } : {}) });
  return { target, state: 'unsupported', ...extra };
}

describe('ssh-config: the hosts of a session', () => {
  const statuses = [
    status('box', '127.0.0.1:2222', 'ssh://deploy@box.internal:22'),
    status('listening', '127.0.0.1:0', 'ssh://ops@other:2200', { state: 'listening', address: '127.0.0.1:40123' }),
    status('wild', '0.0.0.0:2300', 'ssh://box.internal'),
    status('v6', '[::]:2301', 'ssh://odd%20user@box.internal'),
    status('unbound', '127.0.0.1:0', 'ssh://x@y', { state: 'error', error: 'boom' }),
    status('db', '127.0.0.1:6432', 'postgres://app@db/app', {}, 'postgres'),
  ];

  test('ssh targets only, at the listener actually bound, reached through loopback; the upstream user when plain', () => {
    const { hosts, skipped } = sshHostsFor({ targets: null }, statuses);
    assert.deepEqual(hosts, [
      { alias: 'box', hostName: '127.0.0.1', port: 2222, user: 'deploy' },
      { alias: 'listening', hostName: '127.0.0.1', port: 40123, user: 'ops' },
      { alias: 'wild', hostName: '127.0.0.1', port: 2300 },
      // "odd user" has a space: left to the agent's ssh USER@v6
      { alias: 'v6', hostName: '::1', port: 2301 },
    ]);
    assert.deepEqual(skipped.map((s) => s.alias), ['unbound']);
    assert.match(skipped[0]!.reason, /error \(boom\)/);
  });

  test('a session scoped to targets gets only those', () => {
    assert.deepEqual(sshHostsFor({ targets: ['wild', 'db'] }, statuses).hosts.map((h) => h.alias), ['wild']);
  });

  test('listener addresses, IPv6 bracketed; known_hosts names as ssh looks them up', () => {
    assert.deepEqual(clientAddress('[::1]:22'), { hostName: '::1', port: 22 });
    assert.deepEqual(clientAddress('0.0.0.0:1'), { hostName: '127.0.0.1', port: 1 });
    assert.equal(clientAddress('nonsense'), undefined);
    assert.equal(knownHostsName('127.0.0.1', 2222), '[127.0.0.1]:2222');
    assert.equal(knownHostsName('127.0.0.1', 22), '127.0.0.1');
  });

  test('paths are quoted with % doubled; a path ssh_config cannot carry is refused', () => {
    assert.equal(configPath('/home/a b/100%/key'), '"/home/a b/100%%/key"');
    assert.throws(() => configPath('/tmp/a"b'), /cannot be written in an ssh config/);
  });
});

describe('ssh-config: the text', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-sshcfg-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const hosts = [
    { alias: 'box', hostName: '127.0.0.1', port: 2222, user: 'deploy' },
    { alias: 'any', hostName: '127.0.0.1', port: 2223 },
  ];

  test('one Host block per target, with the session key, the pinned daemon key and nothing else', () => {
    const text = renderSshConfig({
      session: { id: 'ses_x', name: 'agent' },
      hosts,
      skipped: [{ alias: 'later', reason: 'it is error' }],
      identityFile: '/data/ssh/sessions/ses_x',
      knownHostsFile: '/data/ssh/known_hosts',
      hostKeyFingerprint: 'SHA256:abc',
    });
    const blocks = text.split(/\n(?=Host )/).slice(1);
    assert.equal(blocks.length, 2);
    const box = blocks[0]!;
    for (const line of [
      'Host box',
      '  HostName 127.0.0.1',
      '  Port 2222',
      '  User deploy',
      '  IdentityFile "/data/ssh/sessions/ses_x"',
      '  IdentitiesOnly yes',
      '  UserKnownHostsFile "/data/ssh/known_hosts"',
      '  StrictHostKeyChecking yes',
      '  PasswordAuthentication no',
      '  ForwardAgent no',
      '  HostKeyAlgorithms ssh-ed25519',
      '  PubkeyAcceptedAlgorithms ssh-ed25519',
    ]) {
      assert.ok(box.split('\n').includes(line), `missing "${line}" in:\n${box}`);
    }
    assert.doesNotMatch(blocks[1]!, /User /, 'no upstream user: the agent names one or ssh uses its own');
    assert.match(text, /^# target later: no Host block: it is error$/m);
    assert.match(text, /SHA256:abc/);
    // before any Host: an OpenSSH older than 8.5 skips the one option it does not know instead of refusing the file
    assert.ok(text.indexOf('IgnoreUnknown PubkeyAcceptedAlgorithms\n') < text.indexOf('Host box'));
  });

  test('the known_hosts file pins the daemon key for each listener, and ssh-keygen -F finds it there', () => {
    const key = generateEd25519KeyPair('host');
    const text = renderKnownHosts([...hosts, hosts[0]!], { publicKeyOpenSsh: key.publicKey });
    assert.equal(text, `[127.0.0.1]:2222 ${key.publicKey}\n[127.0.0.1]:2223 ${key.publicKey}\n`);
    const file = path.join(dir, 'known_hosts');
    writeFileSync(file, text);
    const found = execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2223', '-f', file], { encoding: 'utf8' });
    assert.ok(found.includes(key.publicKey), found);
  });
});

describe('SSH target key material', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-sshkeys-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function keygen(name: string, type: string, passphrase = ''): string {
    const file = path.join(dir, name);
    execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-f', file, ...(type === 'rsa' ? ['-b', '2048', '-m', 'PEM'] : [])]);
    return file;
  }

  test('unencrypted ed25519 (OpenSSH) and RSA (PEM) keys pass; an encrypted, public or foreign file is refused with what to do', () => {
    assert.doesNotThrow(() => checkSshPrivateKey('box', readFileSync(keygen('ed', 'ed25519')), 'the key file ed'));
    assert.doesNotThrow(() => checkSshPrivateKey('box', readFileSync(keygen('rsa', 'rsa')), 'the key file rsa'));
    assert.throws(() => checkSshPrivateKey('box', readFileSync(keygen('enc', 'ed25519', 'secret phrase')), 'the key file enc'), {
      name: 'CredentialFileError',
      message: /^target "box": the private key in the key file enc is protected by a passphrase, which airlockd cannot enter: .*--agent-socket/,
    });
    assert.throws(() => checkSshPrivateKey('box', readFileSync(`${path.join(dir, 'ed')}.pub`), 'the key file ed.pub'), /holds a public key, not a private one/);
    assert.throws(() => checkSshPrivateKey('box', 'hunter2', 'the key file pw'), /^CredentialFileError: target "box": the key file pw does not hold a private key ssh understands/);
  });

  test('known_hosts lookups: plain, with port, hashed (ssh-keygen -H), wildcards, negation and markers', () => {
    const a = generateEd25519KeyPair('a').publicKey;
    const b = generateEd25519KeyPair('b').publicKey;
    const c = generateEd25519KeyPair('c').publicKey;
    const file = path.join(dir, 'kh');
    writeFileSync(file, `# comment\n[box.internal]:2200 ${a}\nother ${b}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const hashed = readFileSync(file, 'utf8');
    assert.doesNotMatch(hashed, /box\.internal/, 'ssh-keygen -H hashed the names');
    const blob = (line: string) => Buffer.from(line.split(' ')[1]!, 'base64');
    assert.deepEqual(knownHostKeys(hashed, 'box.internal', 2200).map((k) => k.data), [blob(a)]);
    assert.deepEqual(knownHostKeys(hashed, 'box.internal', 22), [], 'port 22 is another name');

    const text = `*.internal,!secret.internal ${b}\n@revoked box.internal ${c}\nBOX.internal ${a}\nbroken line\n`;
    assert.deepEqual(knownHostKeys(text, 'box.internal', 22).map((k) => [k.marker, k.data]), [
      [undefined, blob(b)],
      ['revoked', blob(c)],
      [undefined, blob(a)],
    ]);
    assert.deepEqual(knownHostKeys(text, 'secret.internal', 22), []);
  });

  test('the unpinned-key message names the fingerprint and the exact command that pins it', () => {
    const fingerprint = 'SHA256:' + 'x'.repeat(43);
    const message = unpinnedHostKeyMessage('box', fingerprint);
    assert.ok(message.startsWith('target "box": the upstream\'s host key is not pinned'), message);
    assert.ok(message.endsWith(`pin it with: airlock target pin box ${fingerprint}`), message);
    assert.ok(mismatchedHostKeyMessage('box', 'SHA256:old', fingerprint).includes(`not the pinned SHA256:old`));
  });
});
