import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AgentSessionStore, hashToken } from '../../src/sessions/store.js';

describe('agent session store', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-sessions-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('tokens are stored only as hashes, survive a reload, and authenticate', async () => {
    const file = path.join(dir, 'a.json');
    const store = new AgentSessionStore(file);
    const { session, token } = await store.create({ name: 'claude', ttlMs: 60_000 });
    const text = readFileSync(file, 'utf8');
    assert.equal(text.includes(token), false, 'the token itself is never written');
    assert.ok(text.includes(hashToken(token)));
    assert.equal(statSync(file).mode & 0o777, 0o600);

    const reloaded = new AgentSessionStore(file);
    await reloaded.load();
    const auth = reloaded.authenticate(token);
    assert.equal(auth.ok, true);
    assert.equal(auth.ok && auth.session.id, session.id);
    assert.equal(reloaded.authenticate(token + 'x').ok, false);
  });

  test('revoked, expired and out-of-scope tokens are refused with the reason', async () => {
    let now = Date.now();
    const store = new AgentSessionStore(path.join(dir, 'b.json'), () => now);
    const scoped = await store.create({ name: 'scoped', targets: ['db'], ttlMs: 1000 });
    const wrongTarget = store.authenticate(scoped.token, 'prod');
    assert.equal(wrongTarget.ok || wrongTarget.reason, 'target');
    assert.equal(store.authenticate(scoped.token, 'db').ok, true);
    now += 1000;
    const expired = store.authenticate(scoped.token);
    assert.equal(expired.ok || expired.reason, 'expired');
    assert.equal(store.expiredSince(now - 5000).map((s) => s.id)[0], scoped.session.id);

    const other = await store.create({ name: 'other', ttlMs: 60_000 });
    await store.revoke(other.session.id);
    const revoked = store.authenticate(other.token);
    assert.equal(revoked.ok || revoked.reason, 'revoked');
    assert.match(revoked.ok ? '' : revoked.message, /was revoked/);
    assert.equal(store.authenticate('alk_unknown').ok, false);
  });

  test('a corrupt store is refused, not silently emptied', async () => {
    const file = path.join(dir, 'c.json');
    writeFileSync(file, '{"version":1,"sessions":[{"id":1}]}');
    await assert.rejects(new AgentSessionStore(file).load(), /c\.json: sessions\[0\]/);
    writeFileSync(file, 'not json');
    await assert.rejects(new AgentSessionStore(file).load(), /not valid JSON/);
  });
});
