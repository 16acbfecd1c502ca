import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { createDatabase, dropDatabase, freePort, run, startPgProxy, type PgProxyHarness } from '../helpers/pg-proxy.js';
import { RawPgClient } from '../helpers/pg-raw.js';

const DB = 'airlock_it_badinput';

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** Proves the daemon still serves: a fresh connection runs a query. */
async function stillServes(h: PgProxyHarness): Promise<void> {
  const client = new pg.Client({ connectionString: h.connectionString });
  await client.connect();
  const r = await client.query('SELECT 1 AS one');
  assert.equal(r.rows[0].one, 1);
  await client.end();
}

describe('PostgreSQL proxy: bad input and dead upstreams', () => {
  let h: PgProxyHarness;

  before(async () => {
    createDatabase(DB, 'CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 20) AS filler FROM generate_series(1, 200000) g;');
    h = await startPgProxy({
      database: DB,
      policy: 'version: 1\nrules:\n  - { id: reads, decision: allow, match: { attributes: { class: read } } }\n',
      extraTarget: `  - { name: dead, protocol: postgres, upstream: "postgres://postgres@127.0.0.1:${await freePort()}/x?sslmode=disable", listen: { host: 127.0.0.1, port: ${await freePort()} }, limits: { maxMessageBytes: 4096 } }`,
    });
  });
  after(async () => {
    await h.stop();
    dropDatabase(DB);
  });

  test('random bytes instead of a startup packet: FATAL or close, never a hang', async () => {
    for (let i = 0; i < 20; i++) {
      const raw = await RawPgClient.connect(h.port);
      raw.write(randomBytes(64 + i * 13));
      await raw.waitClosed(5_000);
    }
    await stillServes(h);
  });

  test('a truncated message followed by a disconnect, and abrupt disconnects mid-query', async () => {
    const raw = await RawPgClient.login(h.port, h.token, DB);
    raw.write(serialize.query('SELECT 1').subarray(0, 6));
    raw.end();
    for (let i = 0; i < 10; i++) {
      const c = await RawPgClient.login(h.port, h.token, DB);
      c.write(serialize.query('SELECT * FROM big'));
      await new Promise((r) => setTimeout(r, 20));
      c.end();
    }
    await stillServes(h);
  });

  test('an oversized message: FATAL 08P01, that connection closed, others unharmed', async () => {
    const deadPort = Number(/port: (\d+) }, limits: { maxMessageBytes/.exec(readFileSync(`${h.home}/config.yaml`, 'utf8'))![1]);
    const raw = await RawPgClient.connect(deadPort);
    // before login the limit applies to the startup packet's length too; a typed message after a fake startup:
    raw.write(serialize.startup({ user: 'x', database: 'x' }));
    await raw.waitFor((m) => m.name === 'authenticationSASL');
    const huge = Buffer.alloc(5);
    huge.write('p', 0);
    huge.writeInt32BE(100 * 1024 * 1024, 1);
    raw.write(huge);
    const error = (await raw.waitFor((m) => m.name === 'error')) as unknown as { code: string; message: string; severity: string };
    assert.equal(error.code, '08P01');
    assert.equal(error.severity, 'FATAL');
    assert.match(error.message, /exceeds the limit of 4096 bytes/);
    await raw.waitClosed();
    await stillServes(h);
  });

  test('an unknown message type after login: FATAL 08P01 naming it', async () => {
    const raw = await RawPgClient.login(h.port, h.token, DB);
    raw.write(Buffer.from([0x7a, 0, 0, 0, 4]));
    const error = (await raw.waitFor((m) => m.name === 'error')) as unknown as { code: string; message: string };
    assert.equal(error.code, '08P01');
    assert.match(error.message, /unknown or unexpected frontend message type "z"/);
    await raw.waitClosed();
  });

  test('a client that never reads a large result: others keep being served, memory stays bounded', async () => {
    const before = rssOf(h.daemon.info.pid);
    const stalled: net.Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await RawPgClient.login(h.port, h.token, DB);
      c.socket.pause();
      c.write(serialize.query('SELECT * FROM big, generate_series(1, 3)'));
      stalled.push(c.socket);
    }
    await new Promise((r) => setTimeout(r, 1500));
    await stillServes(h);
    const after = rssOf(h.daemon.info.pid);
    // the result is ~400 MB; backpressure keeps the daemon from buffering it
    assert.ok(after - before < 150 * 1024 * 1024, `RSS grew by ${Math.round((after - before) / 1048576)} MB`);
    for (const s of stalled) s.destroy();
  });

  test('an unreachable upstream reaches the agent as a FATAL naming the target, not a hang', async () => {
    const deadPort = Number(/port: (\d+) }, limits: { maxMessageBytes/.exec(readFileSync(`${h.home}/config.yaml`, 'utf8'))![1]);
    const started = Date.now();
    const r = await run('psql', ['-X', '-At', '-c', 'SELECT 1'], { ...h.env, PGPORT: String(deadPort) });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /target "dead": cannot connect to 127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.ok(Date.now() - started < 10_000);
  });

  test('SSLRequest is answered N on a plain listener; sslmode=require fails cleanly', async () => {
    const r = await run('psql', ['-X', '-At', '-c', 'SELECT 1'], { ...h.env, PGSSLMODE: 'require' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /server does not support SSL/);
    const ok = await run('psql', ['-X', '-At', '-c', 'SELECT 1'], { ...h.env, PGSSLMODE: 'prefer' });
    assert.equal(ok.code, 0, ok.stderr);
  });
});
