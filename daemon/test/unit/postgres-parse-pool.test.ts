import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ParsePool } from '../../src/proxies/postgres/parse-pool.js';

const body = (sql: string) => Buffer.from(`${sql}\0`, 'utf8');

describe('parse threads for huge statements', () => {
  const pool = new ParsePool({ size: 1, timeoutMs: 20_000, heapMb: 512 });
  after(() => pool.close());

  test('a statement is classified on the thread as on the main thread, and only its head comes back', async () => {
    const sql = `/* ${'pad '.repeat(100_000)} */ DROP TABLE victim; SELECT 1`;
    const parsed = await pool.classify('Q', body(sql), 1024);
    assert.equal(parsed.kind, 'classified');
    if (parsed.kind !== 'classified') return;
    assert.equal(parsed.classification.class, 'ddl');
    assert.deepEqual(parsed.classification.commands, ['DROP TABLE', 'SELECT']);
    assert.equal(Buffer.byteLength(parsed.text.text), 1024);
    assert.deepEqual(parsed.text.cut, { bytes: Buffer.byteLength(sql), keptBytes: 1024, sha256: createHash('sha256').update(sql).digest('hex') });
    assert.ok(parsed.classification.statements.every((s) => Buffer.byteLength(s.text) <= 1024), 'statement texts are cut too');
  });

  test('a Parse message is read as one: its statement text, after the name', async () => {
    const parse = Buffer.concat([Buffer.from('stmt1\0'), body(`UPDATE orders SET x = $1 /* ${'y'.repeat(300_000)} */`), Buffer.from([0, 0])]);
    const parsed = await pool.classify('P', parse, 4096);
    assert.equal(parsed.kind === 'classified' && parsed.classification.class, 'write');
  });

  test('a COPY TO STDOUT comes back with its options, so its rows can be masked without a second parse here', async () => {
    const parsed = await pool.classify('Q', body(`COPY orders TO STDOUT WITH (FORMAT csv) /* ${'z'.repeat(300_000)} */`), 4096);
    assert.equal(parsed.kind === 'classified' && parsed.copyOut?.[0]?.options?.format, 'csv');
  });

  test('with references asked for, the columns a huge SELECT reads come back (column rules need them)', async () => {
    const parsed = await pool.classify('Q', body(`SELECT email, name FROM customers /* ${'z'.repeat(300_000)} */`), 4096, true);
    assert.ok(parsed.kind === 'classified' && parsed.refs?.tables.includes('customers'), 'the table read is found');
    const without = await pool.classify('Q', body(`SELECT email FROM customers /* ${'z'.repeat(300_000)} */`), 4096);
    assert.equal(without.kind === 'classified' && without.refs, undefined, 'not read when not asked for');
  });

  test('a malformed body is reported as such (the session answers it as a protocol error)', async () => {
    assert.deepEqual(await pool.classify('Q', Buffer.from('select 1 without its NUL'), 4096), { kind: 'malformed' });
  });

  test('a parse that takes too long is abandoned with a clear error, and the pool carries on', async () => {
    const slow = new ParsePool({ size: 1, timeoutMs: 1, heapMb: 512 });
    try {
      await assert.rejects(slow.classify('Q', body(`select 1 /* ${'x'.repeat(4 * 1024 * 1024)} */`), 4096), /parsing took longer than 1 ms/);
    } finally {
      await slow.close();
    }
    const parsed = await pool.classify('Q', body('select 2'), 4096);
    assert.equal(parsed.kind === 'classified' && parsed.classification.class, 'read');
  });
});
