import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { DEMO_SCHEMA, TEST_POLICY } from '../helpers/pg-fixtures.js';
import { useProxiedAgent, type PgProxyHarness } from '../helpers/pg-proxy.js';
import { RawPgClient } from '../helpers/pg-raw.js';

/**
 * Data leaves a database through more than rows: errors echo values, notices print them, another
 * session's NOTIFY carries them, a setting can be set to one. Every such server message reaches the
 * agent masked, and what is recorded is the masked text. In the extended protocol the columns of
 * every result are known before its first row (Airlock describes the portal itself when the client
 * did not), so column rules apply to ordinary driver queries too.
 */

const DB = 'airlock_side_channels';
const RAW = ['ada@example.com', '4111 1111 1111 1111', 'alan.turing@example.org', 'bcrypt$2b$12$abcdefghijk'];

function assertNoRaw(text: string, where: string): void {
  for (const raw of RAW) assert.ok(!text.includes(raw), `${where} leaked ${raw}: ${text}`);
}

describe('PostgreSQL side channels and column plans', () => {
  const proxied = useProxiedAgent(DB, DEMO_SCHEMA, TEST_POLICY);
  let h: PgProxyHarness;
  let agent: pg.Client;
  before(() => {
    h = proxied.harness();
    agent = proxied.agent();
  });

  test('an error that echoes a value is masked, message, detail and hint alike', async () => {
    const cast = await agent.query('SELECT cast(email AS int) FROM customers WHERE id = 1').then(
      () => assert.fail('the cast should fail'),
      (err: pg.DatabaseError) => err,
    );
    assert.equal(cast.code, '22P02');
    assert.match(cast.message, /\[EMAIL\]/);
    assertNoRaw(cast.message, 'the error message');
    const raised = await agent
      .query("DO $$ BEGIN RAISE EXCEPTION 'no: %', (SELECT card FROM customers WHERE id = 1) USING DETAIL = (SELECT email FROM customers WHERE id = 2), HINT = 'try ada@example.com'; END $$")
      .then(
        () => assert.fail('the DO block raises'),
        (err: pg.DatabaseError) => err,
      );
    assertNoRaw(`${raised.message} ${raised.detail ?? ''} ${raised.hint ?? ''} ${raised.where ?? ''}`, 'RAISE EXCEPTION');
    assert.match(raised.message, /\*\*\*\*1111/);
    assert.match(raised.detail ?? '', /\[EMAIL\]/);
  });

  test('notices, another session\'s NOTIFY and a setting set to a value reach the agent masked', async () => {
    const notices: string[] = [];
    agent.on('notice', (n) => notices.push(`${n.message} ${n.detail ?? ''}`));
    await agent.query("DO $$ BEGIN RAISE NOTICE 'row: %', (SELECT email FROM customers WHERE id = 2); END $$");
    assert.equal(notices.length, 1);
    assert.match(notices[0]!, /\[EMAIL\]/);
    assertNoRaw(notices[0]!, 'the notice');

    const payloads: string[] = [];
    agent.on('notification', (n) => payloads.push(`${n.channel} ${n.payload ?? ''}`));
    await agent.query('LISTEN leaks');
    const other = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: DB });
    await other.connect();
    try {
      await other.query("SELECT pg_notify('leaks', 'card 4111 1111 1111 1111 of ada@example.com')");
    } finally {
      await other.end();
    }
    for (let i = 0; i < 50 && payloads.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(payloads.length, 1);
    assertNoRaw(payloads[0]!, 'the NOTIFY payload');
    assert.match(payloads[0]!, /\[EMAIL\]/);

    const raw = await RawPgClient.login(h.port, h.token, DB);
    try {
      raw.write(serialize.query("SET application_name = 'alan.turing@example.org'"));
      await raw.waitFor((m) => m.name === 'readyForQuery');
      const status = raw.messages.find((m) => m.name === 'parameterStatus') as unknown as { parameterName: string; parameterValue: string } | undefined;
      assert.equal(status?.parameterName, 'application_name');
      assert.equal(status?.parameterValue, '[EMAIL]');
    } finally {
      raw.end();
    }
  });

  test('the settings the server reports at login reach the agent masked too (application_name given at startup)', async () => {
    const client = new pg.Client({ connectionString: h.connectionString, application_name: 'ada@example.com' });
    const reported = new Map<string, string>();
    (client as unknown as { connection: { on(e: string, f: (m: { parameterName: string; parameterValue: string }) => void): void } }).connection.on('parameterStatus', (m) => reported.set(m.parameterName, m.parameterValue));
    await client.connect();
    try {
      assert.equal(reported.get('application_name'), '[EMAIL]');
      assert.ok(reported.has('server_version'), 'the other settings still arrive');
    } finally {
      await client.end();
    }
  });

  test('the recorded results keep the masked error text, never the original', async () => {
    await agent.query('SELECT cast(card AS int) FROM customers WHERE id = 1').catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    const { json } = await h.daemon.api('GET', '/v1/sessions');
    const recordings = (json as { recordings: { id: string }[] }).recordings;
    let all = '';
    // what the server sent is recorded masked (the agent's own SQL text is recorded as it sent it)
    for (const rec of recordings) {
      const records = ((await h.daemon.api('GET', `/v1/sessions/${rec.id}/records?limit=1000`)).json as { records: { type: string }[] }).records;
      all += JSON.stringify(records.filter((r) => r.type === 'result'));
    }
    assert.match(all, /\*\*\*\*1111/);
    assertNoRaw(all, 'the recorded results');
  });

  test('the wider detectors through a real client: labelled secrets, separated cards, lower-case IBANs, SSN variants', async () => {
    const values = [
      'password: hunter2 please',
      '{"api_key": "k3y-abcd-1234-efgh"}',
      'card 4111.1111.1111.1111 on file',
      'iban gb82west12345698765432',
      'ssn 123.45.6789',
      'Authorization: Bearer abc123def456ghi789',
    ];
    const result = await agent.query('SELECT v FROM unnest($1::text[]) AS v', [values]);
    const seen = result.rows.map((r: { v: string }) => r.v);
    for (const [i, raw] of ['hunter2', 'k3y-abcd-1234-efgh', '4111.1111.1111', 'gb82west', '123.45.6789', 'abc123def456ghi789'].entries()) {
      assert.ok(!seen[i]!.includes(raw), `${values[i]} came back as ${seen[i]}`);
    }
    assert.match(seen[1]!, /"api_key": "\[TOKEN\]"/);
  });

  test('column rules apply to driver queries with parameters and to named statements run again', async () => {
    const byParam = await agent.query('SELECT password_hash FROM customers WHERE id = $1', [1]);
    assert.equal(byParam.rows[0].password_hash, '[REDACTED]');
    for (let i = 0; i < 2; i++) {
      const named = await agent.query({ name: 'hashes', text: 'SELECT id, password_hash FROM customers WHERE id = $1', values: [2] });
      assert.equal(named.rows[0].password_hash, '[REDACTED]', `run ${i + 1}`);
    }
  });

  test('an Execute with no Describe from the client (as pgjdbc sends a known statement) is described by Airlock, and the reply is swallowed', async () => {
    const raw = await RawPgClient.login(h.port, h.token, DB);
    try {
      raw.write([serialize.parse({ name: 'nodesc', text: 'SELECT password_hash, email FROM customers WHERE id = 1', types: [] }), serialize.bind({ statement: 'nodesc', portal: '' }), serialize.execute({ portal: '' }), serialize.sync()]);
      await raw.waitFor((m) => m.name === 'readyForQuery');
      assert.deepEqual(raw.names(), ['parseComplete', 'bindComplete', 'dataRow', 'commandComplete', 'readyForQuery'], 'no RowDescription the client did not ask for');
      const row = raw.messages.find((m) => m.name === 'dataRow') as unknown as { fields: string[] };
      assert.deepEqual(row.fields, ['[REDACTED]', '[EMAIL]']);
      // the statement described once, then bound and run with binary results as a driver may
      raw.messages.length = 0;
      raw.write([serialize.describe({ type: 'S', name: 'nodesc' }), serialize.sync()]);
      await raw.waitFor((m) => m.name === 'readyForQuery');
      raw.messages.length = 0;
      raw.write([serialize.bind({ statement: 'nodesc', portal: 'b', binary: true }), serialize.execute({ portal: 'b' }), serialize.sync()]);
      await raw.waitFor((m) => m.name === 'readyForQuery');
      const binary = raw.messages.find((m) => m.name === 'dataRow') as unknown as { fields: (string | null)[] };
      assert.ok(binary, raw.names().join(','));
      assert.ok(!JSON.stringify(binary.fields).includes('bcrypt'), 'the binary text value is masked too');
    } finally {
      raw.end();
    }
  });
});
