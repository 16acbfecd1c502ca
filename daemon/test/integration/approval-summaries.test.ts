import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDatabase, dropDatabase, psqlDirect, run, startPgProxy, waitForApproval, type PgProxyHarness } from '../helpers/pg-proxy.js';
import { runCli } from '../helpers/daemon-process.js';

const DB = 'airlock_it_summaries';

/** DDL and writes are held for a person; only reads pass. */
const POLICY = `
version: 1
default: review
rules:
  - { id: ddl, decision: review, timeout: 30s, match: { attributes: { class: ddl } } }
  - { id: writes, decision: review, timeout: 30s, match: { attributes: { class: write } } }
  - { id: reads, decision: allow, match: { attributes: { class: read } } }
`;

interface HeldApproval {
  id: string;
  action: { summary: string; detail: { sql?: string; statements?: { command: string; class: string }[] } };
}

describe('a held statement is shown whole: padding and many statements cannot hide a DROP (real daemon, psql, CLI)', () => {
  let h: PgProxyHarness;
  const psql = (sql: string) => run('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql], h.env);

  before(async () => {
    createDatabase(DB, 'CREATE TABLE victim (id int); CREATE TABLE orders (id int, paid boolean); INSERT INTO orders VALUES (1, false);');
    h = await startPgProxy({ database: DB, policy: POLICY });
  });
  after(async () => {
    await h.stop();
    dropDatabase(DB);
  });

  async function heldApproval(id: string): Promise<HeldApproval> {
    const { json } = await h.daemon.api('GET', `/v1/approvals/${id}`);
    return (json as { approval: HeldApproval }).approval;
  }

  test('3,000 characters of comment, then DROP TABLE: airlock approvals names DROP TABLE and ddl; deny says so too', async () => {
    const sql = `/* ${'harmless reporting query '.repeat(120)} */\nUPDATE orders SET paid = true WHERE id = 1; DROP TABLE victim`;
    assert.ok(sql.indexOf('DROP TABLE') > 3000);
    const client = psql(sql);
    const { id } = await waitForApproval(h.daemon, 'DROP TABLE');

    const listed = await runCli(h.home, ['approvals']);
    assert.equal(listed.code, 0, listed.stderr);
    const row = listed.stdout.split('\n').find((l) => l.startsWith(id));
    assert.ok(row, listed.stdout);
    assert.match(row, /UPDATE orders \(write\); DROP TABLE victim \(ddl\)$/);
    assert.doesNotMatch(listed.stdout, /harmless reporting query/, 'the padding is not what is shown');

    const approval = await heldApproval(id);
    assert.equal(approval.action.detail.sql, sql, 'the whole text is kept in the detail');
    assert.deepEqual(
      approval.action.detail.statements?.map((s) => [s.command, s.class]),
      [
        ['UPDATE', 'write'],
        ['DROP TABLE', 'ddl'],
      ],
    );

    const denied = await runCli(h.home, ['deny', id, '--reason', 'no dropping tables']);
    assert.equal(denied.code, 0, denied.stderr);
    assert.equal(denied.stdout.trim(), `denied ${id}: UPDATE orders (write); DROP TABLE victim (ddl) on db`);
    const r = await client;
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no dropping tables/);
    assert.equal(psqlDirect(DB, "SELECT to_regclass('victim') IS NOT NULL"), 't', 'nothing ran');
    assert.equal(psqlDirect(DB, 'SELECT paid FROM orders WHERE id = 1'), 'f');
  });

  test('500 statements with one DROP in the middle: the listing names it', async () => {
    const sql = Array.from({ length: 500 }, (_, i) => (i === 250 ? 'DROP TABLE victim' : `SELECT ${i} FROM orders`)).join('; ');
    const client = psql(sql);
    const { id } = await waitForApproval(h.daemon, 'DROP TABLE');
    const listed = await runCli(h.home, ['approvals']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${id} .*SELECT FROM orders ×250; DROP TABLE victim \\(ddl\\); SELECT FROM orders ×249$`, 'm'));
    const approved = await runCli(h.home, ['deny', id, '--reason', 'no']);
    assert.match(approved.stdout, /DROP TABLE victim \(ddl\)/);
    assert.notEqual((await client).code, 0);
    assert.equal(psqlDirect(DB, "SELECT to_regclass('victim') IS NOT NULL"), 't');
  });

  test('a statement the parser rejects is held as unparseable, its first words shown past the padding', async () => {
    const client = psql(`-- ${'x'.repeat(3000)}\nDROP TABLE victim; SELECT (`);
    const { id } = await waitForApproval(h.daemon, 'unparseable SQL');
    const listed = await runCli(h.home, ['approvals']);
    assert.match(listed.stdout, new RegExp(`^${id} .*unparseable SQL \\(unknown\\): DROP TABLE victim; SELECT \\($`, 'm'));
    await runCli(h.home, ['deny', id, '--reason', 'no']);
    assert.notEqual((await client).code, 0);
  });
});
