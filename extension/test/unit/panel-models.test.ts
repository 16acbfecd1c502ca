import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Action, Approval, RecordingRecord } from '@airlock/shared';
import { approvalPanelState, maskedResultFromRecords } from '../../src/state/panel-models.js';
import { approvalOutcome } from '../../src/state/view-models.js';
import { sqlQueryView } from '../../src/state/kinds.js';
import { ApprovalPanelState, MaskedResultState } from '../../src/protocol/webview-messages.js';
import type { ActivityEntry } from '../../src/state/airlock-state.js';

const at = '2026-11-25T10:00:00.000Z';
const action = (id: string, summary: string, detail: Record<string, unknown> = {}): Action => ({
  id,
  sessionId: 's1',
  target: 'db',
  protocol: 'postgres',
  kind: 'sql.query',
  summary,
  risk: 'medium',
  attributes: { class: 'write', tables: ['orders'] },
  detail,
  at,
});
/** The statement text the approval panel's SQL view shows. */
function panelText(state: ApprovalPanelState): string {
  assert.equal(state.detail.kind, 'sql.query', JSON.stringify(state.detail));
  return sqlQueryView(state.detail as Extract<ApprovalPanelState['detail'], { kind: 'sql.query' }>).text;
}
const approval = (a: Action, status: Approval['status'] = 'pending', resolution?: Approval['resolution']): Approval => ({
  id: `ap_${a.id}`,
  action: a,
  ruleId: 'writes',
  reason: 'writes wait',
  requestedAt: at,
  expiresAt: '2026-11-25T10:05:00.000Z',
  status,
  ...(resolution ? { resolution } : {}),
});

describe('approval panel model', () => {
  test('the whole statement, the session\'s other recent actions, and no outcome while pending', () => {
    const long = `UPDATE orders SET note = '${'x'.repeat(3000)}' WHERE id = 1`;
    const held = action('a9', `${long.slice(0, 2000)}…`, { sql: long });
    const recent: ActivityEntry[] = [
      { action: held, status: 'held' },
      { action: action('a8', 'SELECT 1'), status: 'allowed', verdict: { actionId: 'a8', allowed: true, via: 'policy', ruleId: 'reads', reason: 'ok' } },
      { action: action('a7', 'DELETE FROM orders'), status: 'denied', verdict: { actionId: 'a7', allowed: false, via: 'policy', ruleId: 'no-where', reason: 'no' } },
    ];
    const state = approvalPanelState(approval(held), recent);
    assert.equal(panelText(state), long);
    assert.deepEqual(state.recent.map((r) => [r.id, r.outcome]), [['a8', 'allowed'], ['a7', 'denied by rule no-where']]);
    assert.equal(state.outcome, undefined);
    assert.equal(ApprovalPanelState.safeParse(state).success, true);
  });

  test('a statement the daemon cut says how long it was and its SHA-256 before the head it kept', () => {
    const head = `SELECT 1 /* ${'x'.repeat(100)}`;
    const sha256 = 'ab'.repeat(32);
    const held = action('a3', 'SELECT (read)', { sql: head, sqlCut: { bytes: 12_900_000, keptBytes: 65_536, sha256 } });
    const state = approvalPanelState(approval(held), []);
    assert.equal(panelText(state), `-- … 12.3 MiB statement, first 64 KiB shown, sha256 ${sha256}\n${head}`);
    // a malformed cut note is not trusted to describe anything: the detail is shown as recorded, saying why
    const malformed = approvalPanelState(approval(action('a4', 's', { sql: head, sqlCut: { bytes: 'many' } })), []).detail;
    assert.ok(malformed.kind === 'other' && /sqlCut\.bytes/.test(malformed.problem ?? ''), JSON.stringify(malformed));
    assert.equal(malformed.detail.sql, head);
  });

  test('decided elsewhere: the outcome names who, through what and why', () => {
    const a = action('a1', 'UPDATE orders SET x = 1');
    assert.equal(approvalPanelState(approval(a, 'approved', { at, by: 'lead', via: 'cli', scope: 'once' }), []).outcome, 'approved by lead (cli)');
    assert.equal(approvalOutcome(approval(a, 'approved', { at, by: 'ada', via: 'extension', scope: 'session' })), 'approved for the session by ada (extension)');
    assert.equal(approvalOutcome(approval(a, 'denied', { at, by: 'ada', via: 'extension', reason: 'not now' })), 'denied by ada (extension): not now');
    assert.equal(approvalOutcome(approval(a, 'expired', { at, by: 'airlock', via: 'system' })), 'denied: nobody decided in time');
  });
});

describe('masked-data view model', () => {
  const prev = 'a'.repeat(64);
  const a = action('q1', 'SELECT email FROM customers');
  const actionRecord: RecordingRecord = { seq: 1, ts: at, type: 'action', prev, action: a, decision: { decision: 'allow', ruleId: 'reads', reason: 'ok' } };

  test('rows and marks from the result record', () => {
    const records: RecordingRecord[] = [
      actionRecord,
      { seq: 2, ts: at, type: 'outcome', prev, verdict: { actionId: 'q1', allowed: true, via: 'policy', ruleId: 'reads', reason: 'ok' } },
      { seq: 3, ts: at, type: 'result', prev, actionId: 'q1', summary: 'SELECT 60', detail: { columns: ['email'], rows: [['[EMAIL]']], truncated: true, masks: [{ row: 0, column: 0, by: ['email'] }], rowCount: 60 } },
    ];
    const state = maskedResultFromRecords(a, records, 'unknown');
    assert.equal(state.outcome, 'allowed');
    assert.deepEqual(state.result?.sample?.rows, [['[EMAIL]']]);
    assert.equal(state.note, 'The first 1 of 60 rows were recorded.');
    assert.equal(MaskedResultState.safeParse(state).success, true);
  });

  test('a refused action or one not recorded yet says so instead of showing an empty table', () => {
    const denied = maskedResultFromRecords(a, [actionRecord, { seq: 2, ts: at, type: 'outcome', prev, verdict: { actionId: 'q1', allowed: false, via: 'policy', ruleId: 'r', reason: 'no' } }], 'x');
    assert.match(denied.note!, /refused/);
    assert.equal(denied.result, undefined);
    const missing = maskedResultFromRecords(a, [], 'allowed');
    assert.equal(missing.outcome, 'allowed');
    assert.match(missing.note!, /No result is recorded/);
  });
});
