import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { serialize } from 'pg-protocol';
import { createDatabase, dropDatabase, psqlDirect, run, startPgProxy, waitForApproval, type PgProxyHarness } from '../helpers/pg-proxy.js';
import { RawPgClient } from '../helpers/pg-raw.js';
import { DEMO_SCHEMA, TEST_POLICY } from '../helpers/pg-fixtures.js';

const DB = 'airlock_it_drivers';

describe('PostgreSQL proxy with node-postgres, raw pipelining and pgbench', () => {
  let h: PgProxyHarness;
  let client: pg.Client;

  before(async () => {
    createDatabase(DB, DEMO_SCHEMA + 'CREATE TABLE many AS SELECT g AS id, g || \'@example.com\' AS email FROM generate_series(1, 25) g;');
    h = await startPgProxy({ database: DB, policy: TEST_POLICY });
    client = new pg.Client({ connectionString: h.connectionString });
    await client.connect();
  });
  after(async () => {
    await client.end().catch(() => undefined);
    await h.stop();
    dropDatabase(DB);
  });

  test('simple protocol: rows masked, row count right', async () => {
    const r = await client.query('SELECT id, email, card FROM customers ORDER BY id');
    assert.equal(r.rowCount, 3);
    assert.equal(r.rows[1].email, '[EMAIL]');
    assert.match(r.rows[0].card, /1111$/);
    assert.doesNotMatch(JSON.stringify(r.rows), /example\.com/);
  });

  test('extended protocol: a binary COPY TO STDOUT is withheld with 0A000, no value reaches the client', async () => {
    const raw = await RawPgClient.login(h.port, h.token, DB);
    try {
      raw.write([
        serialize.parse({ text: 'COPY (SELECT email FROM customers ORDER BY id) TO STDOUT (FORMAT binary)' }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.sync(),
      ]);
      await raw.waitFor((m) => m.name === 'readyForQuery');
      assert.deepEqual(raw.names(), ['parseComplete', 'bindComplete', 'error', 'readyForQuery']);
      const error = raw.messages.find((m) => m.name === 'error') as unknown as { code: string; message: string };
      assert.equal(error.code, '0A000');
      assert.match(error.message, /binary values cannot be masked/);
      assert.equal((raw.messages.at(-1) as unknown as { status: string }).status, 'I');
    } finally {
      raw.end();
    }
  });

  test('extended protocol with parameters and a named prepared statement executed twice', async () => {
    const first = await client.query({ name: 'by-id', text: 'SELECT name, email FROM customers WHERE id = $1', values: [1] });
    const second = await client.query({ name: 'by-id', text: 'SELECT name, email FROM customers WHERE id = $1', values: [3] });
    assert.equal(first.rows[0].name, 'Ada Lovelace');
    assert.equal(first.rows[0].email, '[EMAIL]');
    assert.equal(second.rows[0].name, 'Grace Hopper');
    const typed = await client.query('SELECT $1::int + 1 AS n, $2::text AS t', [41, 'ok']);
    assert.deepEqual(typed.rows[0], { n: 42, t: 'ok' });
  });

  test('a cursor with a row limit: portal suspended and resumed, every batch masked', async () => {
    const cursor = client.query(new Cursor('SELECT id, email FROM many ORDER BY id'));
    const seen: { id: number; email: string }[] = [];
    for (;;) {
      const rows = (await cursor.read(10)) as { id: number; email: string }[];
      if (rows.length === 0) break;
      seen.push(...rows);
    }
    await cursor.close();
    assert.equal(seen.length, 25);
    assert.ok(seen.every((r) => r.email === '[EMAIL]'));
  });

  test('extended protocol refusal: 42501, and the client goes on', async () => {
    await assert.rejects(client.query('SELECT pg_terminate_backend($1)', [1]), (err: pg.DatabaseError) => {
      assert.equal(err.code, '42501');
      assert.match(err.message, /blocked by Airlock policy \(rule no-privileged\)/);
      return true;
    });
    const ok = await client.query('SELECT count(*)::int AS n FROM customers');
    assert.equal(ok.rows[0].n, 3);
  });

  test('an extended-protocol write held for review runs once approved', async () => {
    const pending = client.query('UPDATE customers SET notes = $1 WHERE id = $2', ['from node-postgres', 3]);
    const approval = await waitForApproval(h.daemon, 'UPDATE customers SET notes = $1');
    await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, {});
    const r = await pending;
    assert.equal(r.rowCount, 1);
    assert.equal(psqlDirect(DB, 'SELECT notes FROM customers WHERE id = 3'), 'from node-postgres');
  });

  test('pipelined Parse/Bind/Execute: a refused statement in the middle; replies keep their order; the rest is skipped to Sync', async () => {
    const raw = await RawPgClient.login(h.port, h.token, DB);
    try {
      raw.write([
        serialize.parse({ text: 'SELECT name FROM customers WHERE id = 1' }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.parse({ text: 'DROP TABLE customers' }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.parse({ text: 'SELECT 3' }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.sync(),
      ]);
      await raw.waitFor((m) => m.name === 'readyForQuery');
      assert.deepEqual(raw.names(), ['parseComplete', 'bindComplete', 'dataRow', 'commandComplete', 'parseComplete', 'bindComplete', 'error', 'readyForQuery']);
      const error = raw.messages.find((m) => m.name === 'error') as unknown as { code: string; message: string };
      assert.equal(error.code, '42501');
      assert.match(error.message, /rule no-ddl/);
      assert.equal((raw.messages.at(-1) as unknown as { status: string }).status, 'I');
      assert.equal(psqlDirect(DB, "SELECT to_regclass('customers') IS NOT NULL"), 't');
    } finally {
      raw.end();
    }
  });

  test('pipelined statements settled by policy: each action is recorded before its result, in the order sent', async () => {
    const raw = await RawPgClient.login(h.port, h.token, DB);
    try {
      // one packet: the three are decided in one pass, sent upstream together, then recorded
      raw.write([serialize.query('SELECT 101 AS first_in_pipe'), serialize.query('DROP TABLE customers'), serialize.query('SELECT 103 AS third_in_pipe')]);
      await raw.waitFor(() => raw.messages.filter((x) => x.name === 'readyForQuery').length === 3);
    } finally {
      raw.end();
    }
    const { json } = await h.daemon.api('GET', '/v1/sessions');
    const rec = (json as { recordings: { id: string; agentSessionName: string }[] }).recordings.find((x) => x.agentSessionName === 'pg-agent')!;
    const page = await h.daemon.api('GET', `/v1/sessions/${rec.id}/records?limit=1000`);
    type Line = { type: string; action?: { id: string; summary: string }; verdict?: { allowed: boolean }; actionId?: string };
    const records = (page.json as { records: Line[] }).records;
    // the summary of a short single statement is its text, with its class when it is not a read
    const sent = ['SELECT 101 AS first_in_pipe', 'DROP TABLE customers (ddl)', 'SELECT 103 AS third_in_pipe'];
    const actions = sent.map((summary) => records.findLastIndex((r) => r.type === 'action' && r.action?.summary === summary));
    assert.ok(actions.every((i) => i >= 0), 'every statement has its action line');
    assert.deepEqual([...actions].sort((a, b) => a - b), actions, 'action lines in the order the statements were sent');
    assert.deepEqual(actions.map((i) => records[i]!.verdict?.allowed), [true, false, true], 'each carries its verdict');
    for (const i of actions) {
      const result = records.findIndex((r) => r.type === 'result' && r.actionId === records[i]!.action!.id);
      if (records[i]!.verdict?.allowed) assert.ok(result > i, `the result of "${records[i]!.action!.summary}" follows its action`);
      else assert.equal(result, -1, 'a refused statement ran nothing and has no result');
    }
  });

  test('pipelined statements behind a held one wait for it and keep their order', async () => {
    const raw = await RawPgClient.login(h.port, h.token, DB);
    try {
      raw.write([
        serialize.query("UPDATE customers SET notes = 'pipelined' WHERE id = 1"),
        serialize.query('SELECT 7'),
      ]);
      const approval = await waitForApproval(h.daemon, "SET notes = 'pipelined'");
      assert.equal(raw.messages.length, 0, 'nothing answered while held');
      await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, {});
      await raw.waitFor((m) => m.name === 'readyForQuery' && raw.messages.filter((x) => x.name === 'readyForQuery').length === 2);
      assert.deepEqual(raw.names(), ['commandComplete', 'readyForQuery', 'rowDescription', 'dataRow', 'commandComplete', 'readyForQuery']);
    } finally {
      raw.end();
    }
  });

  test('FunctionCall is refused', async () => {
    const raw = await RawPgClient.login(h.port, h.token, DB);
    try {
      const body = Buffer.alloc(4 + 2 + 2 + 2);
      body.writeInt32BE(1299, 0); // now()
      const msg = Buffer.concat([Buffer.from('F'), Buffer.from([0, 0, 0, 4 + body.length]), body]);
      raw.write(msg);
      const error = (await raw.waitFor((m) => m.name === 'error')) as unknown as { code: string; message: string };
      assert.equal(error.code, '42501');
      await raw.waitFor((m) => m.name === 'readyForQuery');
    } finally {
      raw.end();
    }
  });

  test('pgbench select-only and TPC-B through the proxy', async () => {
    const bench = await startPgProxy({
      database: DB,
      policy: 'version: 1\nrules:\n  - { id: bench-reads, decision: allow, match: { attributes: { class: read } } }\n  - { id: bench-writes, decision: allow, match: { attributes: { class: write, writesTables: "pgbench_*" } } }\n',
    });
    try {
      const init = await run('pgbench', ['-i', '-s', '1', '-q'], { ...bench.env, PGPASSWORD: '' , PGPORT: '5432', PGUSER: 'postgres' });
      assert.equal(init.code, 0, init.stderr);
      const select = await run('pgbench', ['-S', '-t', '200', '-c', '4', '-j', '2', '-n'], bench.env);
      assert.equal(select.code, 0, select.stderr + select.stdout);
      assert.match(select.stdout, /number of transactions actually processed: 800\/800/);
      const tpcb = await run('pgbench', ['-t', '25', '-c', '2', '-n'], bench.env);
      assert.equal(tpcb.code, 0, tpcb.stderr + tpcb.stdout);
      assert.match(tpcb.stdout, /number of transactions actually processed: 50\/50/);
      const extended = await run('pgbench', ['-S', '-t', '100', '-M', 'prepared', '-n'], bench.env);
      assert.equal(extended.code, 0, extended.stderr + extended.stdout);
    } finally {
      await bench.stop();
    }
  });
});
