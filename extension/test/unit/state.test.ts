import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Action, AirlockEvent, Approval, Decision, PendingPolicyChange, Verdict } from '@airlock/shared';
import { AirlockState } from '../../src/state/airlock-state.js';
import { activityItem, approvalItem, decisionLabel, policyChangeTexts, statusBarText, timeLeft } from '../../src/state/view-models.js';

let nextId = 1;
const action = (summary: string, protocol: Action['protocol'] = 'postgres'): Action => ({
  id: `act_${nextId++}`,
  sessionId: 'ses_1',
  target: 'db',
  protocol,
  kind: 'sql.query',
  summary,
  risk: 'medium',
  attributes: { class: 'write' },
  detail: {},
  at: '2026-11-25T10:00:00.000Z',
});
const event = (body: Omit<AirlockEvent, 'id' | 'ts'>): AirlockEvent => ({ ...body, id: nextId++, ts: '2026-11-25T10:00:00.000Z' }) as AirlockEvent;
const review: Decision = { decision: 'review', ruleId: 'writes', reason: 'writes wait', timeoutMs: 300_000 };
const approval = (a: Action, status: Approval['status'] = 'pending', resolution?: Approval['resolution']): Approval => ({
  id: `apr_${a.id}`,
  action: a,
  ruleId: 'writes',
  reason: 'writes wait',
  requestedAt: '2026-11-25T10:00:00.000Z',
  expiresAt: '2026-11-25T10:05:00.000Z',
  status,
  ...(resolution ? { resolution } : {}),
});

describe('extension state from daemon events', () => {
  test('a held action shows as pending, then approved by X, newest first, with masked counts', () => {
    const state = new AirlockState();
    const read = action('select * from users');
    const write = action('update users set x = 1');
    state.apply(event({ type: 'action.decided', data: { action: read, decision: { decision: 'allow', ruleId: 'reads', reason: 'reads go through' } } }));
    state.apply(event({ type: 'action.completed', data: { action: read, verdict: { actionId: read.id, allowed: true, via: 'policy', ruleId: 'reads', reason: 'ok' } } }));
    state.apply(event({ type: 'action.result', data: { actionId: read.id, sessionId: 'ses_1', target: 'db', summary: 'SELECT 3', rowCount: 3, maskReport: { cells: 2, byDetector: { email: 2 }, nulled: 0 } } }));
    state.apply(event({ type: 'action.decided', data: { action: write, decision: review } }));
    state.apply(event({ type: 'approval.requested', data: { approval: approval(write) } }));

    assert.equal(state.pending().length, 1);
    assert.deepEqual(state.activity().map((e) => e.action.summary), ['update users set x = 1', 'select * from users']);
    assert.equal(decisionLabel(state.activity()[0]!), 'held for approval');
    assert.match(activityItem(state.activity()[1]!).description, /db · allowed · 2 masked/);

    const resolution = { at: '2026-11-25T10:01:00.000Z', by: 'alice', via: 'extension' as const, scope: 'once' as const };
    state.apply(event({ type: 'approval.resolved', data: { approval: approval(write, 'approved', resolution) } }));
    const verdict: Verdict = { actionId: write.id, allowed: true, via: 'approval', ruleId: 'writes', reason: 'approved', decidedBy: { by: 'alice', via: 'extension' } };
    state.apply(event({ type: 'action.completed', data: { action: write, verdict } }));
    assert.equal(state.pending().length, 0);
    assert.equal(decisionLabel(state.activity()[0]!), 'approved by alice');
  });

  test('a reset drops approvals decided while disconnected; the activity list is bounded', () => {
    const state = new AirlockState(3);
    const held = action('delete from t where id = 1');
    state.apply(event({ type: 'action.decided', data: { action: held, decision: review } }));
    state.apply(event({ type: 'approval.requested', data: { approval: approval(held) } }));
    state.reset({ pending: [], recordings: [] });
    assert.equal(state.pending().length, 0);
    const whileAway = action('update t set a = 2 where id = 2');
    state.reset({ pending: [approval(whileAway)], recordings: [] });
    assert.equal(state.activity()[0]!.action.id, whileAway.id, 'held while disconnected: listed');
    assert.equal(state.activity()[0]!.status, 'held');
    state.reset({ pending: [], recordings: [] });
    assert.notEqual(state.activity()[0]!.status, 'held');
    for (let i = 0; i < 5; i++) state.apply(event({ type: 'action.decided', data: { action: action(`select ${i}`), decision: { decision: 'allow', ruleId: 'r', reason: 'x' } } }));
    assert.equal(state.activity().length, 3);
    assert.equal(state.activity()[0]!.action.summary, 'select 4');
  });

  test('view models: time left, labels, status bar', () => {
    const now = Date.parse('2026-11-25T10:03:30.000Z');
    assert.equal(timeLeft('2026-11-25T10:05:00.000Z', now), '1m 30s left');
    assert.equal(timeLeft('2026-11-25T10:03:40.000Z', now), '10s left');
    assert.equal(timeLeft('2026-11-25T10:00:00.000Z', now), 'timing out');
    const item = approvalItem(approval(action('UPDATE  orders\n SET paid = true', 'postgres')), now);
    assert.equal(item.label, 'UPDATE orders SET paid = true');
    assert.equal(item.icon, 'database');
    assert.match(item.description, /db · writes · 1m 30s left/);
    assert.equal(statusBarText(false, 0).text, '$(debug-disconnect) Airlock');
    assert.equal(statusBarText(true, 2).text, '$(shield) Airlock: 2 pending');
  });
});

describe('a staged policy change in the extension state', () => {
  const change: PendingPolicyChange = {
    hash: 'a'.repeat(64),
    stagedAt: '2026-11-25T10:00:00.000Z',
    files: ['/home/me/.airlock/policy.yaml'],
    policy: { from: 'old', to: 'new' },
    differences: [
      { direction: 'loosening', subject: 'rule privileged-deny', text: 'removed' },
      { direction: 'loosening', subject: 'masking', text: 'detector email switched off' },
      { direction: 'tightening', subject: 'rule drop-deny', text: 'added' },
    ],
  };

  test("staged, then applied or withdrawn; a reset takes the daemon's view", () => {
    const state = new AirlockState();
    assert.equal(state.policyChange(), null);
    state.apply(event({ type: 'policy.staged', data: { change } }));
    assert.equal(state.policyChange()?.hash, change.hash);
    state.apply(event({ type: 'policy.applied', data: { change, by: 'me', via: 'extension', appliedAt: '2026-11-25T10:01:00.000Z' } }));
    assert.equal(state.policyChange(), null);
    state.apply(event({ type: 'policy.staged', data: { change } }));
    state.apply(event({ type: 'policy.unstaged', data: { hash: change.hash, reason: 'back' } }));
    assert.equal(state.policyChange(), null);
    state.reset({ pending: [], recordings: [], policyChange: change });
    assert.equal(state.policyChange()?.hash, change.hash);
  });

  test('the modal names the file, counts what loosens and lists loosening first', () => {
    const texts = policyChangeTexts(change);
    assert.match(texts.notice, /a change to policy\.yaml loosens enforcement \(2 ways\)/);
    assert.match(texts.detail, /^Loosens:\n {2}- rule privileged-deny: removed\n {2}- masking: detector email switched off\nTightens or leaves as strict:\n {2}- rule drop-deny: added/);
    assert.match(texts.detail, /aaaaaaaaaaaa/);
  });
});
