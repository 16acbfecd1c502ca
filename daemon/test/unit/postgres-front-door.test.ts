import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serialize } from 'pg-protocol';
import { AgentSessionStore } from '../../src/sessions/store.js';
import { PgFrontDoor } from '../../src/proxies/postgres/front-door.js';
import { ScramClientExchange } from '../../src/proxies/postgres/scram.js';
import { frame } from '../helpers/pg-session-fuzz.js';

/** The agent's login as message sequences, without sockets. */

const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-front-door-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function startupPacket(params: Record<string, string>, protocol = 196608): Buffer {
  const body = Buffer.concat([...Object.entries(params).flatMap(([k, v]) => [Buffer.from(k + '\0'), Buffer.from(v + '\0')]), Buffer.from([0])]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(protocol, 4);
  return Buffer.concat([head, body]);
}

function sslRequest(): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(8, 0);
  b.writeInt32BE(80877103, 4);
  return b;
}

describe('PostgreSQL front door', () => {
  test('SSLRequest without TLS is answered N; with TLS offered, upgrade; a second one on TLS is N', () => {
    const store = new AgentSessionStore(path.join(dir, 'a.json'));
    assert.deepEqual(new PgFrontDoor(store, 'db', false).onStartup(sslRequest(), false), { kind: 'reply', bytes: Buffer.from('N') });
    const door = new PgFrontDoor(store, 'db', true);
    assert.equal(door.onStartup(sslRequest(), false).kind, 'tls');
    assert.ok(door.expectsStartup);
    assert.deepEqual(door.onStartup(sslRequest(), true), { kind: 'reply', bytes: Buffer.from('N') });
  });

  test('a token proven by SCRAM logs the agent in; a wrong one is refused; cleartext is asked only over TLS', async () => {
    const store = new AgentSessionStore(path.join(dir, 'b.json'));
    const { session, token } = await store.create({ name: 'agent', ttlMs: 60_000 });
    const door = new PgFrontDoor(store, 'db', false);
    const first = door.onStartup(startupPacket({ user: 'someone', database: 'app' }), false);
    assert.equal(first.kind, 'reply');
    assert.equal(frame((first as { bytes: Buffer }).bytes)[0]!.body.readInt32BE(0), 10, 'AuthenticationSASL');
    const scram = new ScramClientExchange(token);
    const cont = door.onMessage(frame(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', scram.clientFirst()))[0]!);
    const data = frame((cont as { bytes: Buffer }).bytes)[0]!.body.subarray(4).toString('utf8');
    const done = door.onMessage(frame(serialize.sendSCRAMClientFinalMessage(scram.clientFinal(data)))[0]!);
    assert.equal(done.kind, 'authenticated');
    assert.equal((done as { session: { id: string } }).session.id, session.id);
    assert.equal(door.params.get('database'), 'app');

    const wrong = new PgFrontDoor(store, 'db', false);
    wrong.onStartup(startupPacket({ user: 'x' }), false);
    const bad = new ScramClientExchange('not-a-token');
    const c2 = wrong.onMessage(frame(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', bad.clientFirst()))[0]!);
    const d2 = frame((c2 as { bytes: Buffer }).bytes)[0]!.body.subarray(4).toString('utf8');
    assert.throws(() => wrong.onMessage(frame(serialize.sendSCRAMClientFinalMessage(bad.clientFinal(d2)))[0]!), /not a valid Airlock agent session token/);

    const overTls = new PgFrontDoor(store, 'db', true);
    const ask = overTls.onStartup(startupPacket({ user: 'x' }), true);
    assert.equal(frame((ask as { bytes: Buffer }).bytes)[0]!.body.readInt32BE(0), 3, 'AuthenticationCleartextPassword');
    assert.equal(overTls.onMessage(frame(serialize.password(token))[0]!).kind, 'authenticated');
  });

  test('replication, other protocol versions and messages out of turn are refused', () => {
    const store = new AgentSessionStore(path.join(dir, 'c.json'));
    assert.throws(() => new PgFrontDoor(store, 'db', false).onStartup(startupPacket({ user: 'x', replication: 'database' }), false), /replication connections are not allowed/);
    assert.throws(() => new PgFrontDoor(store, 'db', false).onStartup(startupPacket({ user: 'x' }, 2 << 16), false), /unsupported frontend protocol 2\.0/);
    const door = new PgFrontDoor(store, 'db', false);
    door.onStartup(startupPacket({ user: 'x' }), false);
    assert.throws(() => door.onMessage(frame(serialize.query('SELECT 1'))[0]!), /expected a password message/);
  });
});
