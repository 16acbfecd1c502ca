import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordingRecord, RecordingSummary, VerifyResult } from '@airlock/shared';
import { RecordingSummary as RecordingSummarySchema, RecordingRecord as RecordingRecordSchema } from '@airlock/shared';
import { buildRecord, hashLine, serializeRecord } from '../../src/recording/chain.js';
import type { ChainBody } from '../../src/recording/chain.js';
import { buildExport, formatReplay } from '../../src/recording/replay.js';

const T0 = Date.parse('2025-03-01T09:00:00.000Z');
const at = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

function chain(bodies: ChainBody[]): RecordingRecord[] {
  const records: RecordingRecord[] = [];
  let prev: string | null = null;
  bodies.forEach((body, seq) => {
    const record = buildRecord(body, seq, at(seq), prev);
    records.push(record);
    prev = hashLine(serializeRecord(record));
  });
  return records;
}

const deleteAction = {
  id: 'act_del',
  sessionId: 'ses_a',
  target: 'prod-db',
  protocol: 'postgres' as const,
  kind: 'sql.query',
  summary: 'DELETE FROM orders\nWHERE created < now() - interval \'1 year\'',
  risk: 'high' as const,
  attributes: { class: 'write', tables: ['orders'] },
  detail: {},
  at: at(1),
};
const dropAction = { ...deleteAction, id: 'act_drop', summary: 'DROP TABLE customers', risk: 'critical' as const, at: at(2) };

const records = chain([
  { type: 'header', version: 1, recordingId: 'rec-replay', agentSessionId: 'ses_a', agentSessionName: 'alice-claude', nonce: 'ef'.repeat(16) },
  { type: 'action', action: deleteAction, decision: { decision: 'review', ruleId: 'deletes-need-review', reason: 'deletes on prod need a human', timeoutMs: 300000 } },
  { type: 'approval.requested', approvalId: 'apr_1', actionId: 'act_del', ruleId: 'deletes-need-review', expiresAt: at(301) },
  // Another action interleaves while the first one waits for its approver.
  { type: 'action', action: dropAction, decision: { decision: 'deny', ruleId: 'no-ddl', reason: 'DDL is never allowed' } },
  { type: 'outcome', verdict: { actionId: 'act_drop', allowed: false, via: 'policy', ruleId: 'no-ddl', reason: 'DDL is never allowed' } },
  {
    type: 'approval.resolved',
    approvalId: 'apr_1',
    actionId: 'act_del',
    status: 'approved',
    resolution: { at: at(30), by: 'alice', via: 'extension', scope: 'session', grantId: 'grt_1', reason: 'cleanup is planned' },
  },
  {
    type: 'outcome',
    verdict: { actionId: 'act_del', allowed: true, via: 'approval', ruleId: 'deletes-need-review', reason: 'approved', approvalId: 'apr_1', decidedBy: { by: 'alice', via: 'extension' } },
  },
  { type: 'result', actionId: 'act_del', summary: 'DELETE 1204', durationMs: 87, detail: {} },
  { type: 'note', message: 'agent disconnected' },
  { type: 'seal', records: 9, reason: 'revoked' },
]);

const summary: RecordingSummary = {
  id: 'rec-replay',
  agentSessionId: 'ses_a',
  agentSessionName: 'alice-claude',
  file: 'rec-replay.jsonl',
  startedAt: at(0),
  endedAt: at(9),
  records: 10,
  head: hashLine(serializeRecord(records[9] as RecordingRecord)),
  state: 'sealed',
  sealReason: 'revoked',
  actions: 2,
};

describe('replay fixture', () => {
  test('is a valid, chained recording', () => {
    let prev: string | null = null;
    for (const record of records) {
      assert.equal(RecordingRecordSchema.safeParse(record).success, true, JSON.stringify(record));
      assert.equal(record.prev, prev);
      prev = hashLine(serializeRecord(record));
    }
    assert.equal(RecordingSummarySchema.safeParse(summary).success, true);
  });
});

describe('formatReplay', () => {
  const text = formatReplay(summary, records);
  const lines = text.split('\n');

  test('starts with the session and its times', () => {
    assert.equal(lines[0], 'Recording rec-replay — agent session "alice-claude" (ses_a)');
    assert.match(lines[1] as string, /^started 2025-03-01 09:00:00\.000Z, ended 2025-03-01 09:00:09\.000Z; sealed; 2 action\(s\), 10 record\(s\)$/);
  });

  test('one block per action, holding its approval, outcome and result even when records interleave', () => {
    const blocks = text.split('\n\n');
    const deleteBlock = blocks.find((b) => b.includes('action act_del')) ?? '';
    const dropBlock = blocks.find((b) => b.includes('action act_drop')) ?? '';
    assert.ok(blocks.indexOf(deleteBlock) < blocks.indexOf(dropBlock), 'blocks in the order actions arrived');
    assert.deepEqual(deleteBlock.split('\n'), [
      '[2025-03-01 09:00:01.000Z] sql.query on prod-db (postgres, risk high) — action act_del',
      '    DELETE FROM orders',
      "        WHERE created < now() - interval '1 year'",
      '    decision: review by rule deletes-need-review — deletes on prod need a human',
      '    approval requested 2025-03-01 09:00:02.000Z (apr_1, rule deletes-need-review, expires 2025-03-01 09:05:01.000Z)',
      '    approval approved by alice via extension at 2025-03-01 09:00:30.000Z, scope session (grant for the rest of the session), grant grt_1 — cleanup is planned',
      '    outcome: allowed via approval (rule deletes-need-review) — approved; decided by alice via extension',
      '    result in 87 ms: DELETE 1204',
    ]);
    assert.deepEqual(dropBlock.split('\n'), [
      '[2025-03-01 09:00:03.000Z] sql.query on prod-db (postgres, risk critical) — action act_drop',
      '    DROP TABLE customers',
      '    decision: deny by rule no-ddl — DDL is never allowed',
      '    outcome: denied via policy (rule no-ddl) — DDL is never allowed',
    ]);
  });

  test('an action record that carries its verdict (settled at once) reads as if an outcome record followed it', () => {
    const verdict = { actionId: 'act_drop', allowed: false, via: 'policy' as const, ruleId: 'no-ddl', reason: 'DDL is never allowed' };
    const folded = chain([
      { type: 'header', version: 1, recordingId: 'rec-folded', agentSessionId: 'ses_a', agentSessionName: 'alice-claude', nonce: 'ef'.repeat(16) },
      { type: 'action', action: { ...dropAction, at: at(2) }, decision: { decision: 'deny', ruleId: 'no-ddl', reason: 'DDL is never allowed' }, verdict },
    ]);
    const separate = chain([
      { type: 'header', version: 1, recordingId: 'rec-folded', agentSessionId: 'ses_a', agentSessionName: 'alice-claude', nonce: 'ef'.repeat(16) },
      { type: 'action', action: { ...dropAction, at: at(2) }, decision: { decision: 'deny', ruleId: 'no-ddl', reason: 'DDL is never allowed' } },
      { type: 'outcome', verdict },
    ]);
    for (const record of folded) assert.equal(RecordingRecordSchema.safeParse(record).success, true, JSON.stringify(record));
    const block = (rs: RecordingRecord[]) => formatReplay({ ...summary, id: 'rec-folded' }, rs).split('\n\n').find((b) => b.includes('action act_drop'));
    assert.equal(block(folded), block(separate));
    assert.match(block(folded) ?? '', /outcome: denied via policy \(rule no-ddl\) — DDL is never allowed/);
  });

  test('a SQL action shows its statement summary and, when the summary is not the text itself, the text as sent', () => {
    const sql = '/* nightly */ UPDATE orders SET paid = true;\nDROP TABLE customers';
    const listed = { ...dropAction, id: 'act_list', summary: 'UPDATE orders (write); DROP TABLE customers (ddl)', detail: { sql } };
    const asWritten = { ...dropAction, id: 'act_own', summary: 'DROP TABLE customers (ddl)', detail: { sql: 'DROP TABLE\n  customers' } };
    const rs = chain([
      { type: 'header', version: 1, recordingId: 'rec-sql', agentSessionId: 'ses_a', agentSessionName: 'alice-claude', nonce: 'ef'.repeat(16) },
      { type: 'action', action: listed, decision: { decision: 'deny', ruleId: 'no-ddl', reason: 'DDL is never allowed' } },
      { type: 'action', action: asWritten, decision: { decision: 'deny', ruleId: 'no-ddl', reason: 'DDL is never allowed' } },
    ]);
    const blocks = formatReplay({ ...summary, id: 'rec-sql' }, rs).split('\n\n');
    const block = (id: string) => (blocks.find((b) => b.includes(`action ${id}`)) ?? '').split('\n');
    assert.deepEqual(block('act_list').slice(1, 4), ['    UPDATE orders (write); DROP TABLE customers (ddl)', '    text: /* nightly */ UPDATE orders SET paid = true;', '        DROP TABLE customers']);
    assert.deepEqual(block('act_own').slice(1, 3), ['    DROP TABLE customers (ddl)', '    decision: deny by rule no-ddl — DDL is never allowed']);
  });

  test('notes in place and the seal at the end', () => {
    assert.ok(text.includes('[2025-03-01 09:00:08.000Z] note: agent disconnected'));
    assert.equal(lines[lines.length - 2], '[2025-03-01 09:00:09.000Z] sealed (revoked) after 9 record(s)');
  });

  test('an unsealed recording says why it has no seal', () => {
    const open = formatReplay({ ...summary, state: 'interrupted', endedAt: null }, records.slice(0, 3));
    assert.match(open, /still open/);
    assert.match(open, /not sealed: the recording was interrupted/);
    assert.match(open, /outcome: not recorded/);
  });
});

describe('buildExport', () => {
  test('holds the summary, the verify result and every record', () => {
    const verify: VerifyResult = { recordingId: 'rec-replay', ok: true, records: 10, sealed: true, torn: false };
    const doc = buildExport(summary, records, verify);
    assert.deepEqual(doc, { format: 'airlock.recording', version: 1, recording: summary, verify, records });
    assert.notEqual(doc.records, records, 'a copy, not the caller’s array');
    const roundTripped = JSON.parse(JSON.stringify(doc)) as { records: RecordingRecord[] };
    assert.equal(hashLine(serializeRecord(roundTripped.records[8] as RecordingRecord)), (records[9] as RecordingRecord).prev, 'exported records re-chain');
  });
});
