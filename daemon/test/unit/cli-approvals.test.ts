import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import type { Approval, Grant } from '@airlock/shared';
import { approvalsListing } from '../../src/cli/commands/approvals.js';
import { wrapText } from '../../src/cli/output.js';
import { classifySql, initSqlClassifier, sqlActionSummary } from '../../src/classify/index.js';

const now = Date.parse('2026-12-04T10:00:00.000Z');
const held = (id: string, summary: string): Approval => ({
  id,
  action: { id: `act_${id}`, sessionId: 'ses_1', target: 'db', protocol: 'postgres', kind: 'sql.query', summary, risk: 'high', attributes: {}, detail: {}, at: '2026-12-04T09:59:00.000Z' },
  ruleId: 'writes',
  reason: 'writes wait',
  requestedAt: '2026-12-04T09:59:00.000Z',
  expiresAt: '2026-12-04T10:04:10.000Z',
  status: 'pending',
});

/** The ACTION column's text of one approval, continuation lines joined back. */
function actionColumn(lines: string[], id: string): string {
  const start = lines.findIndex((l) => l.startsWith(id));
  assert.ok(start > 0, `a row for ${id}`);
  const column = lines[0]!.indexOf('ACTION');
  const parts = [lines[start]!.slice(column)];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith(' '.repeat(column))) break;
    parts.push(line.slice(column));
  }
  return parts.join(' ');
}

describe('airlock approvals: the whole statement list, wrapped, never cut', () => {
  before(async () => {
    await initSqlClassifier();
  });

  test('a long statement list wraps under the ACTION column and loses nothing', () => {
    const sql = Array.from({ length: 60 }, (_, i) => (i === 41 ? 'DROP TABLE victim' : i % 9 === 0 ? `UPDATE orders_${i} SET x = 1 WHERE id = 1` : `SELECT * FROM t${i}`)).join('; ');
    const summary = sqlActionSummary(sql, classifySql(sql));
    assert.ok(summary.length > 200, 'long enough to need wrapping');
    const lines = approvalsListing([held('apr_1', summary), held('apr_2', 'select 1')], [], now, 100);
    assert.equal(lines[0], 'ID     TARGET  KIND       RULE    EXPIRES    ACTION');
    assert.ok(lines.every((l) => l.length <= 100), lines.join('\n'));
    assert.equal(actionColumn(lines, 'apr_1'), summary, 'joined back, the column is the whole summary');
    assert.ok(lines.some((l) => l.includes('DROP TABLE victim (ddl)')), 'a statement that fits a line is not split over two');
    assert.equal(actionColumn(lines, 'apr_2'), 'select 1');
    assert.match(lines.find((l) => l.startsWith('apr_2'))!, /^apr_2 {2}db {6}sql\.query {2}writes {2}in 4m 10s {2}select 1$/);
  });

  test('without a terminal width each approval is one line, whole', () => {
    const summary = `UPDATE orders (write); ${'SELECT FROM t; '.repeat(40)}DROP TABLE victim (ddl)`;
    const lines = approvalsListing([held('apr_3', summary)], [], now);
    assert.equal(lines.length, 2);
    assert.ok(lines[1]!.endsWith('DROP TABLE victim (ddl)'));
  });

  test('a summary cannot rewrite the terminal: control and bidirectional characters are escaped', () => {
    const lines = approvalsListing([held('apr_4', 'SELECT 1\x1b[1A\x1b[2K\rDROP\u202e')], [], now, 120);
    assert.ok(!lines.some((l) => ['\x1b', '\r', '\u202e'].some((c) => l.includes(c))), JSON.stringify(lines));
    // a carriage return is whitespace: it becomes a space on the one line
    assert.match(lines[1]!, /SELECT 1\\u\{1b\}\[1A\\u\{1b\}\[2K DROP\\u\{202e\}$/);
  });

  test('no pending approvals, and the grants after them', () => {
    const grant: Grant = { id: 'grt_1', sessionId: 'ses_1', ruleId: 'writes', approvalId: 'apr_1', createdAt: '2026-12-04T09:00:00.000Z', expiresAt: null, by: 'ada', via: 'cli' };
    assert.deepEqual(approvalsListing([], [grant], now), ['no pending approvals', '', 'session grants', 'ID     SESSION  RULE    BY         EXPIRES', 'grt_1  ses_1    writes  ada (cli)  with the session']);
  });

  test('wrapping: at statement boundaries first, then spaces, a longer word split', () => {
    assert.deepEqual(wrapText('SELECT FROM a; UPDATE b (write); DROP TABLE c (ddl)', 34), ['SELECT FROM a; UPDATE b (write);', 'DROP TABLE c (ddl)']);
    assert.deepEqual(wrapText(`x ${'y'.repeat(25)} z`, 10), ['x', 'yyyyyyyyyy', 'yyyyyyyyyy', 'yyyyy z']);
    assert.deepEqual(wrapText('a\n\nb', 10), ['a b']);
    assert.throws(() => wrapText('a', 0), /width/);
  });
});
