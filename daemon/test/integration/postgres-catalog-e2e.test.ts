import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type pg from 'pg';
import { serialize } from 'pg-protocol';
import { RawPgClient } from '../helpers/pg-raw.js';
import { DEMO_SCHEMA } from '../helpers/pg-fixtures.js';
import { psqlDirect, useProxiedAgent, type PgProxyHarness } from '../helpers/pg-proxy.js';

/**
 * The catalog through the running daemon: a call to a user function that deletes rows is the write
 * it is (directly, through a view), a redefinition through Airlock is seen at once, and column rules
 * follow values to their source column through aliases, expressions, subqueries, views and whole
 * rows, in rows and in COPY.
 */

const DB = 'airlock_catalog_e2e';
const POLICY = `
version: 1
default: deny
rules:
  - { id: reads, decision: allow, match: { attributes: { class: read } } }
  - { id: schema-changes, decision: allow, match: { attributes: { class: ddl } } }
masking:
  columns:
    - { columns: "*password*", label: REDACTED }
`;

const SETUP = `${DEMO_SCHEMA}
CREATE FUNCTION purge_audit() RETURNS int LANGUAGE plpgsql AS $$ BEGIN DELETE FROM audit_log; RETURN 1; END $$;
CREATE VIEW audit_purger AS SELECT purge_audit() AS purged;
CREATE VIEW login_view AS SELECT id, password_hash AS pw, email AS who FROM customers;
CREATE TYPE mood AS ENUM ('calm', 'bob@example.com');
CREATE TABLE moods (id int, m mood);
INSERT INTO moods VALUES (1, 'calm'), (2, 'bob@example.com');
CREATE FUNCTION hash_of(int) RETURNS text LANGUAGE sql STABLE AS $$ SELECT password_hash FROM customers WHERE id = $1 $$;
CREATE VIEW hashes AS SELECT id, hash_of(id) AS h FROM customers;
INSERT INTO audit_log (entry) VALUES ('keep me');
`;

describe('PostgreSQL catalog through the daemon', () => {
  const proxied = useProxiedAgent(DB, SETUP, POLICY);
  let h: PgProxyHarness;
  let agent: pg.Client;
  before(() => {
    h = proxied.harness();
    agent = proxied.agent();
  });

  async function refused(sql: string): Promise<string> {
    const err = await agent.query(sql).then(
      () => undefined,
      (e: pg.DatabaseError) => e,
    );
    assert.ok(err, `${sql} ran`);
    assert.equal(err.code, '42501', `${sql}: ${err.message}`);
    return err.message;
  }

  test('a call to a volatile user function that deletes rows is a write, also through a view', async () => {
    await refused('SELECT purge_audit()');
    await refused('SELECT * FROM audit_purger');
    assert.equal(psqlDirect(DB, 'SELECT count(*) FROM audit_log'), '1');
    const fine = await agent.query("SELECT lower('A') AS l, now() IS NOT NULL AS t");
    assert.equal(fine.rows[0].l, 'a');
  });

  test('a function redefined through Airlock is judged by its new definition at once', async () => {
    await agent.query('CREATE FUNCTION answer() RETURNS int LANGUAGE sql STABLE AS $$ SELECT 42 $$');
    assert.equal((await agent.query('SELECT answer() AS a')).rows[0].a, 42);
    await agent.query("CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE plpgsql VOLATILE AS $$ BEGIN DELETE FROM audit_log; RETURN 42; END $$");
    await refused('SELECT answer()');
    assert.equal(psqlDirect(DB, 'SELECT count(*) FROM audit_log'), '1');
  });

  test('column rules follow the value: aliases, expressions, subqueries, views and whole rows', async () => {
    const one = async (sql: string): Promise<unknown[]> => Object.values((await agent.query(sql)).rows[0] as object);
    assert.deepEqual(await one('SELECT password_hash AS p FROM customers WHERE id = 1'), ['[REDACTED]']);
    assert.deepEqual(await one('SELECT upper(password_hash) FROM customers WHERE id = 1'), ['[REDACTED]']);
    assert.deepEqual(await one('SELECT (SELECT password_hash FROM customers WHERE id = 1) AS x'), ['[REDACTED]']);
    assert.deepEqual(await one('SELECT x FROM (SELECT password_hash AS x FROM customers) s LIMIT 1'), ['[REDACTED]']);
    assert.deepEqual(await one('SELECT pw FROM login_view WHERE id = 1'), ['[REDACTED]']);
    assert.deepEqual(await one('SELECT upper(pw) FROM login_view WHERE id = 1'), ['[REDACTED]']);
    assert.deepEqual(await one('SELECT c FROM customers c WHERE id = 1'), ['[REDACTED]']);
    assert.deepEqual(await one('SELECT row_to_json(c)::text FROM customers c WHERE id = 1'), ['[REDACTED]']);
    // a user function can return a column the text never names: what it computes is masked, sourced columns are not
    assert.deepEqual(await one('SELECT hash_of(1) AS x'), ['[REDACTED]']);
    assert.deepEqual(await one('SELECT id, hash_of(id) FROM customers WHERE id = 1'), [1, '[REDACTED]']);
    assert.deepEqual(await one('SELECT h FROM hashes WHERE id = 1'), ['[REDACTED]']);
    // nothing masked is reached: computed values stay, content detectors still run
    assert.deepEqual(await one('SELECT count(*)::int AS n FROM customers'), [3]);
    assert.deepEqual(await one('SELECT email AS e, name FROM customers WHERE id = 1'), ['[EMAIL]', 'Ada Lovelace']);
  });

  test('binary values of the database\'s own types (an enum) are decoded with the catalog, not withheld', async () => {
    const raw = await RawPgClient.login(h.port, h.token, DB);
    try {
      raw.write([serialize.parse({ name: '', text: 'SELECT m FROM moods ORDER BY id', types: [] }), serialize.bind({ statement: '', portal: '', binary: true }), serialize.describe({ type: 'P', name: '' }), serialize.execute({ portal: '' }), serialize.sync()]);
      await raw.waitFor((m) => m.name === 'readyForQuery');
      const rows = raw.messages.filter((m) => m.name === 'dataRow') as unknown as { fields: (string | null)[] }[];
      assert.equal(rows.length, 2, raw.names().join(','));
      assert.equal(rows[0]!.fields[0], 'calm', 'a clean enum value passes as it is');
      assert.ok(rows[1]!.fields[0] === null || !String(rows[1]!.fields[0]).includes('bob@'), `the email label is masked: ${rows[1]!.fields[0]}`);
    } finally {
      raw.end();
    }
  });

  test('COPY applies column rules: a table without a column list, and a query with aliases', async () => {
    const copy = (sql: string) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn('psql', ['-At', '-c', sql], { env: { ...process.env, ...h.env } });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
      });
    const table = await copy('COPY customers TO STDOUT');
    assert.match(table, /\[REDACTED\]/);
    assert.ok(!table.includes('bcrypt'), table);
    const query = await copy('COPY (SELECT id, password_hash AS p FROM customers) TO STDOUT WITH (FORMAT csv)');
    assert.ok(!query.includes('bcrypt'), query);
    assert.match(query, /^1,\[REDACTED\]$/m);
    const wholeRow = await copy('COPY (SELECT c FROM customers c) TO STDOUT');
    assert.ok(!wholeRow.includes('bcrypt'), wholeRow);
    const viaView = await copy('COPY (SELECT id, upper(pw) FROM login_view) TO STDOUT WITH (FORMAT csv)');
    assert.ok(!viaView.toLowerCase().includes('bcrypt'), viaView);
    assert.match(viaView, /^1,\[REDACTED\]$/m);
  });
});
