import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { startDaemon, tempHome, type RunningDaemon } from '../helpers/daemon-process.js';
import { freePort, startPgCluster, type PgCluster } from '../helpers/pg-cluster.js';
import { run, waitForApproval } from '../helpers/pg-proxy.js';
import { RawPgClient } from '../helpers/pg-raw.js';
import { TEST_POLICY } from '../helpers/pg-fixtures.js';

/**
 * Connection and time limits, end to end: the real daemon in front of a throw-away server that takes
 * only 30 connections, one target per kind of limit.
 */

const SERVER_MAX_CONNECTIONS = 30;

interface Harness {
  daemon: RunningDaemon;
  cluster: PgCluster;
  ports: Record<'flood' | 'caps' | 'slow' | 'idle', number>;
  token(name: string): Promise<string>;
  cleanup(): void;
}

async function start(): Promise<Harness> {
  const cluster = await startPgCluster({ auth: 'trust', settings: { max_connections: String(SERVER_MAX_CONNECTIONS) } });
  await cluster.superuserSql(`CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'one'); GRANT ALL ON items TO ${cluster.user}`, cluster.database);
  const home = tempHome('airlock-limits-');
  const ports = { flood: await freePort(), caps: await freePort(), slow: await freePort(), idle: await freePort() };
  const upstream = `postgres://${cluster.user}@127.0.0.1:${cluster.port}/${cluster.database}?sslmode=disable`;
  const target = (name: keyof typeof ports, limits?: Record<string, unknown>, catalog = true) => ({
    name,
    protocol: 'postgres',
    upstream,
    listen: { host: '127.0.0.1', port: ports[name] },
    ...(limits ? { limits } : {}),
    ...(catalog ? {} : { catalog: false }),
  });
  const config = {
    // daemon-wide: every target gets the short login timeout unless it says otherwise
    limits: { authTimeout: '2s' },
    targets: [
      // the built-in connection caps, which must keep one agent from exhausting a 30-connection server
      target('flood'),
      target('caps', { maxConnections: 4, maxConnectionsPerSession: 3 }, false),
      target('slow', { maxConnections: 4, authTimeout: '300ms' }, false),
      target('idle', { idleTimeout: '500ms' }, false),
    ],
  };
  // JSON is YAML
  writeFileSync(path.join(home.dir, 'config.yaml'), JSON.stringify(config, null, 2));
  writeFileSync(path.join(home.dir, 'policy.yaml'), TEST_POLICY);
  const daemon = await startDaemon(home.dir);
  return {
    daemon,
    cluster,
    ports,
    async token(name) {
      const res = await daemon.api('POST', '/v1/agent-sessions', { name });
      assert.equal(res.status, 201, JSON.stringify(res.json));
      return (res.json as { token: string }).token;
    },
    cleanup: home.cleanup,
  };
}

function agent(port: number, token: string, database: string): pg.Client {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'agent', password: token, database, ssl: false, connectionTimeoutMillis: 20_000 });
  // an error after connect (the idle timeout) is asserted through the 'error' event or the next query
  client.on('error', () => undefined);
  return client;
}

type Outcome = { ok: true; client: pg.Client } | { ok: false; code: string | undefined; message: string };

async function tryConnect(port: number, token: string, database: string): Promise<Outcome> {
  const client = agent(port, token, database);
  try {
    await client.connect();
    return { ok: true, client };
  } catch (err) {
    await client.end().catch(() => undefined);
    return { ok: false, code: (err as { code?: string }).code, message: (err as Error).message };
  }
}

function opened(outcomes: Outcome[]): pg.Client[] {
  return outcomes.flatMap((o) => (o.ok ? [o.client] : []));
}

async function endAll(clients: pg.Client[]): Promise<void> {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
}

/** Server connections of the test role, as the server counts them (the superuser's socket is not one). */
async function serverConnections(cluster: PgCluster): Promise<number> {
  return Number(await cluster.superuserSql(`SELECT count(*) FROM pg_stat_activity WHERE usename = '${cluster.user}'`));
}

/** A raw socket to the listener that records what it is sent and when it is closed. */
function rawSocket(port: number): Promise<{ socket: net.Socket; received(): Buffer; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1');
    const opened = Date.now();
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - opened)));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      socket.on('error', () => undefined);
      resolve({ socket, received: () => Buffer.concat(chunks), closed });
    });
    socket.once('error', reject);
  });
}

/** The SQLSTATE and message of an ErrorResponse in `bytes` (the first message). */
function errorFields(bytes: Buffer): { code?: string; message?: string; severity?: string } {
  assert.equal(String.fromCharCode(bytes[0] ?? 0), 'E', `expected an ErrorResponse, got ${JSON.stringify(bytes.toString('latin1'))}`);
  const out: Record<string, string> = {};
  let at = 5;
  while (at < bytes.length && bytes[at] !== 0) {
    const end = bytes.indexOf(0, at + 1);
    out[String.fromCharCode(bytes[at]!)] = bytes.toString('utf8', at + 1, end);
    at = end + 1;
  }
  return { code: out.C, message: out.M, severity: out.S };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PostgreSQL proxy: connection caps and time limits', () => {
  let h: Harness;

  before(async () => {
    h = await start();
  });
  after(async () => {
    await h?.daemon.stop();
    await h?.cluster.stop();
    h?.cleanup();
  });

  test('200 concurrent connections of one agent session: the caps refuse the excess with 53300 and the server is never exhausted', async () => {
    const { cluster, ports } = h;
    const tokenA = await h.token('flood-a');
    const outcomes = await Promise.all(Array.from({ length: 200 }, () => tryConnect(ports.flood, tokenA, cluster.database)));
    const held = opened(outcomes);
    try {
      assert.equal(held.length, 20, 'the default limits.maxConnectionsPerSession (20) of one session get through');
      for (const o of outcomes) {
        if (o.ok) continue;
        assert.equal(o.code, '53300', o.message);
        assert.match(
          o.message,
          /^target "flood" allows 40 connections \(limits\.maxConnections\); \d+ are open$|^target "flood" allows 20 connections per agent session \(limits\.maxConnectionsPerSession\); agent session "flood-a" has 20 open$/,
        );
      }
      const overTarget = outcomes.filter((o) => !o.ok && o.message.includes('(limits.maxConnections)')).length;
      const overSession = outcomes.filter((o) => !o.ok && o.message.includes('(limits.maxConnectionsPerSession)')).length;
      assert.ok(overTarget > 0 && overSession > 0, `both caps were hit (target: ${overTarget}, session: ${overSession})`);
      assert.ok(await serverConnections(cluster) <= 21, 'the server sees the session cap (and the catalog connection), not the flood');

      // another agent session still gets in and runs a statement; so does someone who goes to the server directly
      const b = agent(ports.flood, await h.token('flood-b'), cluster.database);
      await b.connect();
      assert.deepEqual((await b.query('select 1 as one')).rows, [{ one: 1 }]);
      await b.end();
      const direct = new pg.Client({ host: '127.0.0.1', port: cluster.port, user: cluster.user, database: cluster.database });
      await direct.connect();
      assert.deepEqual((await direct.query('select 2 as two')).rows, [{ two: 2 }]);
      await direct.end();

      // a flood is a few log lines, not 180
      const refusals = h.daemon.output().match(/target "flood": warn: refused a connection/g) ?? [];
      assert.ok(refusals.length >= 1 && refusals.length <= 2, `expected at most one refusal line per limit, got:\n${h.daemon.output()}`);
    } finally {
      await endAll(held);
    }

    // every lease was given back: the session has its full allowance again
    await sleep(200);
    const again = await Promise.all(Array.from({ length: 20 }, () => tryConnect(ports.flood, tokenA, cluster.database)));
    const reopened = opened(again);
    try {
      assert.equal(reopened.length, 20, again.map((o) => (o.ok ? 'ok' : o.message)).join('\n'));
    } finally {
      await endAll(reopened);
    }
  });

  test('the per-session cap and the per-target cap are each enforced and named', async () => {
    const { cluster, ports } = h;
    const [tokenA, tokenB] = [await h.token('caps-a'), await h.token('caps-b')];
    const held: pg.Client[] = [];
    let raw: RawPgClient | undefined;
    try {
      for (let i = 0; i < 2; i++) {
        const o = await tryConnect(ports.caps, tokenA, cluster.database);
        assert.ok(o.ok, o.ok ? '' : o.message);
        held.push(o.client);
      }
      // A's third, at the wire level: its cancel key is used below
      raw = await RawPgClient.login(ports.caps, tokenA, cluster.database);
      const fourthOfA = await tryConnect(ports.caps, tokenA, cluster.database);
      assert.deepEqual(fourthOfA.ok ? 'opened' : [fourthOfA.code, fourthOfA.message], [
        '53300',
        'target "caps" allows 3 connections per agent session (limits.maxConnectionsPerSession); agent session "caps-a" has 3 open',
      ]);
      const firstOfB = await tryConnect(ports.caps, tokenB, cluster.database);
      assert.ok(firstOfB.ok, firstOfB.ok ? '' : firstOfB.message);
      held.push(firstOfB.client);
      const secondOfB = await tryConnect(ports.caps, tokenB, cluster.database);
      assert.deepEqual(secondOfB.ok ? 'opened' : [secondOfB.code, secondOfB.message], ['53300', 'target "caps" allows 4 connections (limits.maxConnections); 4 are open']);

      // psql shows the same sentence, also when it asks for TLS first (sslmode=prefer, its default)
      for (const sslmode of ['disable', 'prefer']) {
        const psql = await run('psql', ['-X', '-At', '-c', 'select 1'], { ...process.env, PGHOST: '127.0.0.1', PGPORT: String(ports.caps), PGUSER: 'agent', PGPASSWORD: tokenB, PGDATABASE: cluster.database, PGSSLMODE: sslmode });
        assert.notEqual(psql.code, 0);
        assert.match(psql.stderr, /FATAL: {2}target "caps" allows 4 connections \(limits\.maxConnections\); 4 are open/, `sslmode=${sslmode}`);
      }

      // at the cap, a CancelRequest still gets through, as it does to PostgreSQL
      raw.write(serialize.query('select pg_sleep(30)'));
      await sleep(200);
      const cancel = await rawSocket(ports.caps);
      cancel.socket.write(serialize.cancel(raw.backendKey!.processID, raw.backendKey!.secretKey));
      const cancelled = (await raw.waitFor((m) => m.name === 'error', 10_000)) as unknown as { code: string };
      assert.equal(cancelled.code, '57014');

      // a connection that vanishes without a goodbye gives its place back
      raw.end();
      await raw.waitClosed();
      await sleep(100);
      const secondOfBAgain = await tryConnect(ports.caps, tokenB, cluster.database);
      assert.ok(secondOfBAgain.ok, secondOfBAgain.ok ? '' : secondOfBAgain.message);
      held.push(secondOfBAgain.client);
    } finally {
      raw?.end();
      await endAll(held);
    }
  });

  test('slowloris: connections that do not log in within limits.authTimeout are closed and stop counting', async () => {
    const { cluster, ports } = h;
    // four connections fill the target: one silent, one with half a startup packet, one stalled after
    // SSLRequest, one stalled in the middle of SCRAM
    const silent = await rawSocket(ports.slow);
    const half = await rawSocket(ports.slow);
    const startup = serialize.startup({ user: 'agent', database: cluster.database });
    half.socket.write(startup.subarray(0, 12));
    const ssl = await rawSocket(ports.slow);
    ssl.socket.write(serialize.requestSsl());
    const scram = await rawSocket(ports.slow);
    scram.socket.write(startup);

    await sleep(50);
    const fifth = await tryConnect(ports.slow, await h.token('slow-a'), cluster.database);
    assert.deepEqual(fifth.ok ? 'opened' : [fifth.code, fifth.message], ['53300', 'target "slow" allows 4 connections (limits.maxConnections); 4 are open']);

    const closedAfter = await Promise.all([silent.closed, half.closed, ssl.closed, scram.closed]);
    for (const ms of closedAfter) assert.ok(ms >= 250 && ms < 3000, `closed after ${ms}ms, expected about 300ms`);
    // before the startup packet no protocol is agreed: closed without a word, as PostgreSQL does
    assert.equal(silent.received().length, 0);
    assert.equal(half.received().length, 0);
    assert.equal(ssl.received().toString('latin1'), 'N', 'only the answer to the SSLRequest');
    // in the middle of the login the agent is told why, in the server's words
    const got = scram.received();
    assert.equal(String.fromCharCode(got[0]!), 'R', 'the SASL request came first');
    const error = errorFields(got.subarray(got.readInt32BE(1) + 1));
    assert.deepEqual(error, { severity: 'FATAL', code: '57014', message: 'canceling authentication due to timeout: target "slow" allows 300ms to log in (limits.authTimeout)' });

    // they no longer count: four real logins fit again
    const now = await Promise.all(Array.from({ length: 4 }, async () => tryConnect(ports.slow, await h.token('slow-b'), cluster.database)));
    const held = opened(now);
    try {
      assert.equal(held.length, 4, now.map((o) => (o.ok ? 'ok' : o.message)).join('\n'));
      assert.deepEqual((await held[0]!.query('select 1 as one')).rows, [{ one: 1 }], 'a logged-in connection is not closed by the login timeout');
      await sleep(400);
      assert.deepEqual((await held[0]!.query('select 1 as one')).rows, [{ one: 1 }]);
    } finally {
      await endAll(held);
    }
  });

  test('limits.idleTimeout closes an idle connection as idle_session_timeout does; a running or held statement is not idle', async () => {
    const { cluster, ports } = h;
    const token = await h.token('idle-a');

    const idle = agent(ports.idle, token, cluster.database);
    const idleError = new Promise<Error & { code?: string }>((resolve) => idle.once('error', resolve));
    await idle.connect();
    const started = Date.now();
    const err = await idleError;
    const elapsed = Date.now() - started;
    assert.equal(err.code, '57P05', err.message);
    assert.equal(err.message, 'terminating connection due to idle-session timeout: target "idle" closes connections idle for 500ms (limits.idleTimeout)');
    assert.ok(elapsed >= 450 && elapsed < 3000, `closed after ${elapsed}ms`);

    // idle inside a transaction: PostgreSQL's other idle timeout, in its words
    const inTx = agent(ports.idle, token, cluster.database);
    const txError = new Promise<Error & { code?: string }>((resolve) => inTx.once('error', resolve));
    await inTx.connect();
    await inTx.query('begin');
    const tx = await txError;
    assert.equal(tx.code, '25P03', tx.message);
    assert.match(tx.message, /^terminating connection due to idle-in-transaction timeout: target "idle"/);

    // a statement that runs three times the idle timeout, with no bytes either way, is not idle
    const busy = agent(ports.idle, token, cluster.database);
    await busy.connect();
    try {
      const r = await busy.query('select pg_sleep(1.5), 7 as seven');
      assert.equal(r.rows[0].seven, 7);
      // nor is one held for approval longer than the idle timeout
      const held = busy.query('update items set name = $1 where id = 1', ['held']);
      const approval = await waitForApproval(h.daemon, 'items');
      await sleep(1200);
      const res = await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, { by: 'reviewer', via: 'extension' });
      assert.equal(res.status, 200);
      assert.equal((await held).rowCount, 1);
    } finally {
      await busy.end().catch(() => undefined);
    }
  });
});
