import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { homePaths } from '../../src/config/paths.js';
import { fingerprintOfPublicKey, generateEd25519KeyPair, loadOrCreateHostKey, parseOpenSshPublicKey, sshFingerprint } from '../../src/sessions/ssh-identity.js';
import { AgentSessionStore } from '../../src/sessions/store.js';

/** ssh-keygen -lf FILE: "256 SHA256:… comment (ED25519)" → the fingerprint. */
function keygenFingerprint(pubFile: string): string {
  const out = execFileSync('ssh-keygen', ['-lf', pubFile], { encoding: 'utf8' });
  const fingerprint = out.split(/\s+/)[1];
  assert.match(fingerprint ?? '', /^SHA256:/, `ssh-keygen -lf printed: ${out}`);
  return fingerprint!;
}

describe('SSH identities: the daemon host key and agent session keys', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-sshid-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the host key is made once (0600 in a 0700 dir), kept, and its fingerprint is what ssh-keygen prints', async () => {
    const paths = homePaths(path.join(dir, 'home-a'));
    const first = await loadOrCreateHostKey(paths);
    assert.equal(statSync(paths.sshHostKey).mode & 0o777, 0o600);
    assert.equal(statSync(paths.sshDir).mode & 0o777, 0o700);
    assert.match(first.privateKeyPem, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    assert.match(first.publicKeyOpenSsh, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/]+=*$/);

    const pub = path.join(dir, 'host.pub');
    writeFileSync(pub, `${first.publicKeyOpenSsh}\n`);
    assert.equal(first.fingerprint, keygenFingerprint(pub));
    // ssh-keygen derives the same public key from the private file: it is a real OpenSSH key
    const derived = execFileSync('ssh-keygen', ['-y', '-f', paths.sshHostKey], { encoding: 'utf8' }).trim();
    assert.equal(derived.split(' ').slice(0, 2).join(' '), first.publicKeyOpenSsh);
    assert.equal(keygenFingerprint(`${paths.sshHostKey}.pub`), first.fingerprint, 'the .pub beside it names the same key');

    const again = await loadOrCreateHostKey(paths);
    assert.equal(again.fingerprint, first.fingerprint);
    assert.equal(again.privateKeyPem, first.privateKeyPem);
  });

  test('a host key file others can read is refused, naming the fix', async () => {
    const paths = homePaths(path.join(dir, 'home-b'));
    await loadOrCreateHostKey(paths);
    chmodSync(paths.sshHostKey, 0o644);
    await assert.rejects(loadOrCreateHostKey(paths), {
      message: `airlockd will not use its SSH host key: ${paths.sshHostKey} can be read or changed by other users (mode 0644); run chmod 600 ${paths.sshHostKey}`,
    });
  });

  test('a host key file that is not a key is refused rather than replaced', async () => {
    const paths = homePaths(path.join(dir, 'home-c'));
    await loadOrCreateHostKey(paths);
    writeFileSync(paths.sshHostKey, 'not a key\n', { mode: 0o600 });
    await assert.rejects(loadOrCreateHostKey(paths), /SSH host key .*host_ed25519_key cannot be read: .*move it away/);
    assert.equal(readFileSync(paths.sshHostKey, 'utf8'), 'not a key\n');
  });

  test('fingerprints of generated keys match ssh-keygen; a malformed public key line is refused', () => {
    const pair = generateEd25519KeyPair('test');
    const pub = path.join(dir, 'gen.pub');
    writeFileSync(pub, `${pair.publicKey}\n`);
    assert.equal(fingerprintOfPublicKey(pair.publicKey), keygenFingerprint(pub));
    assert.equal(sshFingerprint(parseOpenSshPublicKey(pair.publicKey).data), keygenFingerprint(pub));
    assert.throws(() => parseOpenSshPublicKey('ssh-rsa ' + pair.publicKey.split(' ')[1]), /not a ssh-rsa key/);
    assert.throws(() => parseOpenSshPublicKey('garbage'), /not an OpenSSH public key line/);
  });
});

describe('agent session SSH keys', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-sshkeys-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** What an ssh client offers: the public key of the private key file it was given. */
  function offeredKey(privateKeyFile: string): { algo: string; data: Buffer } {
    const parsed = ssh2.utils.parseKey(readFileSync(privateKeyFile));
    if (parsed instanceof Error) throw parsed;
    return { algo: parsed.type, data: parsed.getPublicSSH() };
  }

  test('each session gets its own 0600 key file; its key logs it in, another session\'s key logs in the other', async () => {
    const keyDir = path.join(dir, 'a', 'ssh', 'sessions');
    const store = new AgentSessionStore(path.join(dir, 'a', 'agent-sessions.json'), Date.now, { sshKeyDir: keyDir });
    const one = await store.create({ name: 'one', ttlMs: 60_000 });
    const two = await store.create({ name: 'two', ttlMs: 60_000 });
    assert.ok(one.sshIdentity && two.sshIdentity);
    assert.equal(one.sshIdentity, path.join(keyDir, one.session.id));
    assert.equal(statSync(one.sshIdentity).mode & 0o777, 0o600);
    assert.equal(statSync(keyDir).mode & 0o777, 0o700);
    assert.equal(store.sshIdentity(one.session.id), one.sshIdentity);

    const authOne = store.authenticateSshKey(offeredKey(one.sshIdentity), 'box');
    assert.equal(authOne.ok && authOne.session.id, one.session.id);
    const authTwo = store.authenticateSshKey(offeredKey(two.sshIdentity), 'box');
    assert.equal(authTwo.ok && authTwo.session.id, two.session.id);
    assert.equal(one.session.sshPublicKey !== undefined && fingerprintOfPublicKey(one.session.sshPublicKey), sshFingerprint(offeredKey(one.sshIdentity).data));

    const stranger = generateEd25519KeyPair('stranger');
    const strangerAuth = store.authenticateSshKey(parseOpenSshPublicKey(stranger.publicKey), 'box');
    assert.equal(strangerAuth.ok || strangerAuth.reason, 'unknown');
    assert.match(strangerAuth.ok ? '' : strangerAuth.message, /^unknown SSH key ssh-ed25519: it belongs to no agent session/);
    // the right blob under another algorithm name is not the session's key
    const renamed = store.authenticateSshKey({ algo: 'ssh-rsa', data: offeredKey(one.sshIdentity).data });
    assert.equal(renamed.ok || renamed.reason, 'unknown');

    // keys survive a reload of the store
    const reloaded = new AgentSessionStore(path.join(dir, 'a', 'agent-sessions.json'), Date.now, { sshKeyDir: keyDir });
    await reloaded.load();
    const afterReload = reloaded.authenticateSshKey(offeredKey(two.sshIdentity));
    assert.equal(afterReload.ok && afterReload.session.id, two.session.id);
  });

  test('revoked: refused and the key file deleted; expired: refused, file kept; other target: refused', async () => {
    let now = Date.now();
    const keyDir = path.join(dir, 'b', 'sessions');
    const store = new AgentSessionStore(path.join(dir, 'b', 'agent-sessions.json'), () => now, { sshKeyDir: keyDir });
    const scoped = await store.create({ name: 'scoped', targets: ['box'], ttlMs: 1000 });
    const revokeMe = await store.create({ name: 'revoke-me', ttlMs: 60_000 });
    const scopedKey = offeredKey(scoped.sshIdentity!);
    const revokeKey = offeredKey(revokeMe.sshIdentity!);

    const otherTarget = store.authenticateSshKey(scopedKey, 'prod');
    assert.equal(otherTarget.ok || otherTarget.reason, 'target');
    assert.match(otherTarget.ok ? '' : otherTarget.message, /may not use target "prod"/);
    assert.equal(store.authenticateSshKey(scopedKey, 'box').ok, true);

    await store.revoke(revokeMe.session.id);
    const revoked = store.authenticateSshKey(revokeKey, 'box');
    assert.equal(revoked.ok || revoked.reason, 'revoked');
    assert.equal(existsSync(revokeMe.sshIdentity!), false, 'the revoked session\'s private key is deleted');

    now += 1000;
    const expired = store.authenticateSshKey(scopedKey, 'box');
    assert.equal(expired.ok || expired.reason, 'expired');
    assert.equal(existsSync(scoped.sshIdentity!), true, 'an expired session keeps its file (it is refused, not deleted)');
  });

  test('a store written before sessions had SSH keys loads; its sessions log in with tokens and have no key', async () => {
    const file = path.join(dir, 'old.json');
    const legacy = new AgentSessionStore(file);
    const created = await legacy.create({ name: 'legacy', ttlMs: 60_000 });
    assert.equal(created.sshIdentity, undefined);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).sessions[0].sshPublicKey, undefined);

    const store = new AgentSessionStore(file, Date.now, { sshKeyDir: path.join(dir, 'old-keys') });
    await store.load();
    assert.equal(store.authenticate(created.token).ok, true);
    assert.equal(store.sshIdentity(created.session.id), undefined);
    assert.equal(store.list()[0]!.sshPublicKey, undefined);
    const fresh = await store.create({ name: 'new', ttlMs: 60_000 });
    assert.ok(fresh.sshIdentity && existsSync(fresh.sshIdentity));
  });

  test('a stored public key that is not a key refuses the store, naming the session', async () => {
    const file = path.join(dir, 'bad.json');
    const store = new AgentSessionStore(file, Date.now, { sshKeyDir: path.join(dir, 'bad-keys') });
    const { session } = await store.create({ name: 'x', ttlMs: 60_000 });
    const json = JSON.parse(readFileSync(file, 'utf8'));
    json.sessions[0].sshPublicKey = 'ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ==';
    writeFileSync(file, JSON.stringify(json));
    await assert.rejects(new AgentSessionStore(file).load(), new RegExp(`bad\\.json: agent session ${session.id}: not an OpenSSH public key line`));
  });
});
