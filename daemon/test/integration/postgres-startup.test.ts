import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { serialize } from 'pg-protocol';
import { createDatabase, dropDatabase, psqlDirect, run, startPgProxy, waitForApproval, type PgProxyHarness } from '../helpers/pg-proxy.js';
import { DEMO_SCHEMA, TEST_POLICY } from '../helpers/pg-fixtures.js';
import { RawPgClient } from '../helpers/pg-raw.js';

const DB = 'airlock_it_startup';

/** The first bytes the listener answers to a raw packet (a one-byte SSL/GSSENC answer is not a message). */
function firstBytes(port: number, packet: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(packet));
    socket.once('data', (d: Buffer) => {
      socket.destroy();
      resolve(d);
    });
    socket.once('error', reject);
  });
}

function startupPacket(protocol: number, params: Record<string, string>): Buffer {
  const body = Buffer.concat([Buffer.alloc(4), ...Object.entries(params).flatMap(([k, v]) => [Buffer.from(`${k}\0`), Buffer.from(`${v}\0`)]), Buffer.from([0])]);
  body.writeInt32BE(protocol, 0);
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length + 4);
  return Buffer.concat([len, body]);
}

describe('PostgreSQL proxy: startup negotiation and CancelRequest of a held statement', () => {
  let h: PgProxyHarness;

  before(async () => {
    createDatabase(DB, DEMO_SCHEMA);
    h = await startPgProxy({ database: DB, policy: TEST_POLICY });
  });
  after(async () => {
    await h.stop();
    dropDatabase(DB);
  });

  test('GSSENCRequest is answered N, then a normal login follows on the same connection (psql gssencmode=prefer)', async () => {
    const gss = Buffer.alloc(8);
    gss.writeInt32BE(8, 0);
    gss.writeInt32BE(80877104, 4);
    assert.equal((await firstBytes(h.port, gss)).toString(), 'N');
    const r = await run('psql', ['-X', '-At', '-c', 'SELECT 1'], { ...h.env, PGGSSENCMODE: 'prefer' });
    assert.equal(r.code, 0, r.stderr);
  });

  test('a newer protocol minor version or _pq_ option gets NegotiateProtocolVersion, then authentication', async () => {
    const answer = await firstBytes(h.port, startupPacket((3 << 16) | 2, { user: 'agent', database: DB, '_pq_.future_option': 'on' }));
    assert.equal(String.fromCharCode(answer[0]!), 'v');
    assert.equal(answer.readInt32BE(5), 0, 'newest minor version Airlock speaks');
    assert.equal(answer.readInt32BE(9), 1, 'one unrecognized option');
    assert.match(answer.toString('utf8', 13), /^_pq_\.future_option\0/);
  });

  test('replication connections and other protocol versions are refused with a FATAL', async () => {
    const replication = await RawPgClient.connect(h.port);
    replication.write(serialize.startup({ user: 'agent', database: DB, replication: 'database' }));
    const e1 = (await replication.waitFor((m) => m.name === 'error')) as unknown as { code: string; message: string };
    assert.equal(e1.code, '28000');
    assert.match(e1.message, /replication connections are not allowed/);

    const v2 = await RawPgClient.connect(h.port);
    v2.write(startupPacket(2 << 16, { user: 'agent' }));
    const e2 = (await v2.waitFor((m) => m.name === 'error')) as unknown as { code: string; message: string };
    assert.equal(e2.code, '0A000');
    assert.match(e2.message, /unsupported frontend protocol 2\.0/);
  });

  test('a CancelRequest for a statement held for review cancels its approval; nothing runs', async () => {
    const raw = await RawPgClient.login(h.port, h.token, DB);
    try {
      assert.ok(raw.backendKey, 'Airlock handed out its own BackendKeyData');
      raw.write(serialize.query("UPDATE customers SET notes = 'cancelled while held' WHERE id = 3"));
      const approval = await waitForApproval(h.daemon, 'cancelled while held');
      const cancel = net.connect(h.port, '127.0.0.1', () => cancel.end(serialize.cancel(raw.backendKey!.processID, raw.backendKey!.secretKey)));
      cancel.on('error', () => undefined);
      const error = (await raw.waitFor((m) => m.name === 'error')) as unknown as { code: string; detail?: string };
      assert.equal(error.code, '42501');
      assert.match(error.detail ?? '', /cancelled/);
      await raw.waitFor((m) => m.name === 'readyForQuery');
      const { json } = await h.daemon.api('GET', `/v1/approvals/${approval.id}`);
      assert.equal((json as { approval: { status: string } }).approval.status, 'cancelled');
      assert.notEqual(psqlDirect(DB, 'SELECT notes FROM customers WHERE id = 3'), 'cancelled while held');
      // a key that is not Airlock's does nothing and the connection stays usable
      const bogus = net.connect(h.port, '127.0.0.1', () => bogus.end(serialize.cancel(1, 2)));
      bogus.on('error', () => undefined);
      raw.messages.length = 0;
      raw.write(serialize.query('SELECT 5'));
      await raw.waitFor((m) => m.name === 'readyForQuery');
      assert.ok(raw.names().includes('dataRow'));
    } finally {
      raw.end();
    }
  });
});
