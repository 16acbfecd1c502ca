import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AgentSessionStore, MAX_ADDED_TOKENS, hashToken } from '../../src/sessions/store.js';

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
  test('addToken: another token for the same session, both kept as hashes across a reload, both revoked with it', async () => {
    const file = path.join(dir, 'added.json');
    let now = Date.now();
    const store = new AgentSessionStore(file, () => now);
    const { session, token } = await store.create({ name: 'kube', ttlMs: 60_000 });
    const added = await store.addToken(session.id);
    assert.ok(added.ok);
    assert.notEqual(added.token, token);
    assert.equal(added.session.expiresAt, session.expiresAt, 'same expiry');
    assert.equal('addedTokens' in added.session, false, 'hashes stay in the store');
    const text = readFileSync(file, 'utf8');
    assert.equal(text.includes(added.token), false);
    assert.ok(text.includes(hashToken(added.token)));

    const reloaded = new AgentSessionStore(file, () => now);
    await reloaded.load();
    for (const t of [token, added.token]) {
      const auth = reloaded.authenticate(t);
      assert.equal(auth.ok && auth.session.id, session.id);
    }
    assert.equal(reloaded.scramCandidates().sessions.filter((c) => c.session.id === session.id).length, 2, 'PostgreSQL SCRAM logins take either token');

    await reloaded.revoke(session.id);
    for (const t of [token, added.token]) {
      const auth = reloaded.authenticate(t);
      assert.equal(auth.ok || auth.reason, 'revoked');
    }
    const refused = await reloaded.addToken(session.id);
    assert.equal(refused.ok || refused.reason, 'revoked');
    assert.match(refused.ok ? '' : refused.message, /was revoked: it gets no new token/);

    now += 60_000;
    const other = await store.create({ name: 'late', ttlMs: 1 });
    now += 1;
    const late = await store.addToken(other.session.id);
    assert.equal(late.ok || late.reason, 'expired');
    const unknown = await store.addToken('ses_nosuch');
    assert.equal(unknown.ok || unknown.reason, 'unknown');
  });

  test(`addToken: at most ${MAX_ADDED_TOKENS} per session, then a clear refusal; the file with more is refused at load`, async () => {
    const file = path.join(dir, 'full.json');
    const store = new AgentSessionStore(file);
    const { session } = await store.create({ name: 'many', ttlMs: 60_000 });
    for (let i = 0; i < MAX_ADDED_TOKENS; i++) assert.ok((await store.addToken(session.id)).ok);
    const full = await store.addToken(session.id);
    assert.equal(full.ok || full.reason, 'full');
    assert.match(full.ok ? '' : full.message, new RegExp(`has ${MAX_ADDED_TOKENS} added tokens`));

    const doc = JSON.parse(readFileSync(file, 'utf8')) as { sessions: Array<{ addedTokens: unknown[] }> };
    doc.sessions[0]!.addedTokens.push(doc.sessions[0]!.addedTokens[0]);
    writeFileSync(file, JSON.stringify(doc));
    await assert.rejects(new AgentSessionStore(file).load(), /addedTokens/);
  });
});
