import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentSession, MaskReport, Policy, RecordBody } from '@airlock/shared';
import { Policy as PolicySchema } from '@airlock/shared';
import { ActionPipeline, RECORDED_LIST_ENTRIES, actionOf, type ActionRequest } from '../../src/pipeline/pipeline.js';
import { ApprovalBroker } from '../../src/approvals/broker.js';
import { EventBus } from '../../src/events/bus.js';
import { compilePolicy } from '../../src/policy/engine.js';

const session: AgentSession = {
  id: 'ses_test',
  name: 'agent',
  targets: null,
  createdAt: new Date().toISOString(),
  expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  revokedAt: null,
};

const policy: Policy = PolicySchema.parse({
  rules: [
    { id: 'deny-priv', decision: 'deny', match: { attributes: { class: 'privileged' } } },
    { id: 'deny-secret', decision: 'deny', match: { attributes: { tables: 'secret.*' } } },
    { id: 'review-writes', decision: 'review', timeout: '5s', match: { attributes: { class: 'write' } } },
    { id: 'allow-reads', decision: 'allow', match: { attributes: { class: 'read' } } },
  ],
});

const request = (cls: string, summary = `a ${cls}`): ActionRequest => ({
  target: 'db',
  protocol: 'postgres',
  kind: 'sql.query',
  summary,
  risk: 'medium',
  attributes: { class: cls },
  detail: {},
});

function setup(options: { failRecordsOf?: RecordBody['type']; evaluateThrows?: boolean; appendNow?: boolean } = {}) {
  const records: RecordBody[] = [];
  const bus = new EventBus();
  const events: string[] = [];
  bus.subscribe((e) => events.push(e.type));
  const broker = new ApprovalBroker();
  const compiled = compilePolicy(policy, { defaultReviewTimeoutMs: 60_000 });
  const pipeline = new ActionPipeline({
    policy: {
      current: () => ({
        compiled: options.evaluateThrows
          ? { policy, evaluate: () => { throw new Error('classifier exploded'); } }
          : compiled,
      }),
    },
    broker,
    bus,
    recorder: {
      append: async (_s: { id: string; name: string }, body: RecordBody) => {
        if (body.type === options.failRecordsOf) throw new Error('disk full');
        records.push(body);
        return { recordingId: 'rec', seq: records.length };
      },
      // async mode's immediate admission; refuses (false) what append() would reject
      ...(options.appendNow
        ? {
            tryAppendNow: (_s: { id: string; name: string }, body: RecordBody) => {
              if (body.type === options.failRecordsOf) return false;
              records.push(body);
              return true;
            },
          }
        : {}),
    },
  });
  return { pipeline, broker, records, events };
}

describe('action pipeline', () => {
  test('allow and deny by policy are recorded and published in order', async () => {
    const { pipeline, records, events } = setup();
    const read = await pipeline.submit(session, request('read'));
    assert.equal(read.verdict.allowed, true);
    assert.equal(read.verdict.ruleId, 'allow-reads');
    const priv = await pipeline.submit(session, request('privileged'));
    assert.equal(priv.verdict.allowed, false);
    assert.equal(priv.verdict.via, 'policy');
    assert.deepEqual(records.map((r) => r.type), ['action', 'outcome', 'action', 'outcome']);
    assert.deepEqual(events, ['action.decided', 'action.completed', 'action.decided', 'action.completed']);
    assert.equal(read.action.sessionId, session.id);
    assert.match(read.action.id, /^act_/);
  });

  test('review waits for the broker; a session grant lets the next matching action through', async () => {
    const { pipeline, broker } = setup();
    const held = pipeline.submit(session, request('write', 'update 1'));
    await new Promise((r) => setImmediate(r));
    const [approval] = broker.pending();
    assert.ok(approval, 'held');
    broker.approve(approval.id, { by: 'dev', via: 'cli', scope: 'session' });
    const first = await held;
    assert.equal(first.verdict.allowed, true);
    assert.equal(first.verdict.via, 'approval');
    assert.deepEqual(first.verdict.decidedBy, { by: 'dev', via: 'cli' });

    const second = await pipeline.submit(session, request('write', 'update 2'));
    assert.equal(second.verdict.via, 'grant');
    assert.equal(broker.pending().length, 0, 'no prompt');
    const other = pipeline.submit({ ...session, id: 'ses_other' }, request('write', 'update 3'));
    await new Promise((r) => setImmediate(r));
    assert.equal(broker.pending().length, 1, 'grants are per agent session');
    broker.deny(broker.pending()[0]!.id, { by: 'dev', via: 'cli', reason: 'no' });
    assert.equal((await other).verdict.allowed, false);
  });

  test('an aborted agent cancels the hold', async () => {
    const { pipeline, broker } = setup();
    const controller = new AbortController();
    const held = pipeline.submit(session, request('write'), { signal: controller.signal });
    await new Promise((r) => setImmediate(r));
    controller.abort();
    const { verdict } = await held;
    assert.equal(verdict.allowed, false);
    assert.equal(verdict.via, 'cancelled');
    assert.equal(broker.pending().length, 0);
  });

  test('fail closed: a recording failure refuses the action', async () => {
    const { pipeline } = setup({ failRecordsOf: 'action' });
    const { verdict } = await pipeline.submit(session, request('read'));
    assert.equal(verdict.allowed, false);
    assert.equal(verdict.via, 'error');
    assert.match(verdict.reason, /recording failed.*disk full/);

    const late = setup({ failRecordsOf: 'outcome' });
    const r = await late.pipeline.submit(session, request('read'));
    assert.equal(r.verdict.allowed, false, 'an allow whose outcome cannot be recorded is refused too');
  });

  test('submitNow: allow and deny by policy settle at once, as one action record carrying the verdict', () => {
    const { pipeline, records, events } = setup({ appendNow: true });
    const read = pipeline.submitNow(session, request('read'));
    assert.ok(read, 'settled at once');
    assert.equal(read.verdict.allowed, true);
    assert.equal(read.verdict.via, 'policy');
    assert.equal(read.verdict.ruleId, 'allow-reads');
    const priv = pipeline.submitNow(session, request('privileged'));
    assert.ok(priv);
    assert.equal(priv.verdict.allowed, false);
    assert.deepEqual(records.map((r) => r.type), ['action', 'action']);
    const [first] = records;
    assert.ok(first?.type === 'action');
    assert.deepEqual(first.verdict, read.verdict, 'the verdict submit() would have recorded as the outcome');
    assert.equal(first.decision.ruleId, 'allow-reads');
    assert.equal(first.action.id, read.action.id);
    assert.deepEqual(events, ['action.decided', 'action.completed', 'action.decided', 'action.completed']);
  });

  test('a list attribute longer than the recording keeps: policy matches on all of it, the record and events get its head and a count', async () => {
    const tables = [...Array.from({ length: RECORDED_LIST_ENTRIES + 500 }, (_, i) => `public.t${i}`), 'secret.keys'];
    const huge: ActionRequest = { ...request('read'), attributes: { class: 'read', tables, statementCount: 1 } };
    for (const appendNow of [true, false]) {
      const { pipeline, records } = setup({ appendNow });
      const settled = appendNow ? pipeline.submitNow(session, huge) : await pipeline.submit(session, huge);
      assert.ok(settled);
      assert.equal(settled.verdict.allowed, false, 'the table past the recorded head was still matched');
      assert.equal(settled.verdict.ruleId, 'deny-secret');
      const record = records[0];
      assert.ok(record?.type === 'action');
      assert.equal((record.action.attributes.tables as string[]).length, RECORDED_LIST_ENTRIES);
      assert.equal(record.action.attributes.tablesOmitted, 501);
      assert.equal(record.action.attributes.statementCount, 1);
    }
    // a short list is recorded as it is: the same object, no copy
    const { pipeline } = setup({ appendNow: true });
    const short = request('read');
    assert.equal(pipeline.submitNow(session, short)?.action.attributes, short.attributes);
  });

  test('submitNow: the same verdict as submit() for every decision policy settles', async () => {
    for (const cls of ['read', 'privileged']) {
      const now = setup({ appendNow: true }).pipeline.submitNow(session, request(cls));
      const slow = await setup().pipeline.submit(session, request(cls));
      assert.ok(now);
      assert.deepEqual({ ...now.verdict, actionId: '' }, { ...slow.verdict, actionId: '' }, cls);
    }
  });

  test('submitNow leaves to submit() what it cannot settle at once, recording and publishing nothing', async () => {
    const review = setup({ appendNow: true });
    assert.equal(review.pipeline.submitNow(session, request('write')), undefined, 'a review is held by submit()');
    const noImmediate = setup();
    assert.equal(noImmediate.pipeline.submitNow(session, request('read')), undefined, 'a recorder without immediate admission (sync mode)');
    const refused = setup({ appendNow: true, failRecordsOf: 'action' });
    assert.equal(refused.pipeline.submitNow(session, request('read')), undefined, 'a record the recorder would not admit at once');
    for (const s of [review, noImmediate, refused]) {
      assert.deepEqual(s.records, []);
      assert.deepEqual(s.events, []);
    }
    // and submit() then fails closed as before
    const { verdict } = await refused.pipeline.submit(session, request('read'));
    assert.equal(verdict.allowed, false);
    assert.equal(verdict.via, 'error');
  });

  test('an action the adapter could not inspect is refused whatever policy says, and recorded', async () => {
    const { pipeline, records } = setup({ appendNow: true });
    const now = pipeline.submitNow(session, request('read'), 'portal "p" is not one Airlock saw the server confirm');
    assert.ok(now);
    assert.equal(now.verdict.allowed, false, 'a read policy allows is still refused');
    assert.equal(now.verdict.ruleId, 'uninspectable');
    assert.match(now.verdict.reason, /not one Airlock saw/);
    const later = await pipeline.submit(session, request('read'), { refuse: 'cannot tell' });
    assert.equal(later.verdict.allowed, false);
    assert.equal(records.filter((r) => r.type === 'action').length, 2, 'both are in the recording');
  });

  test('submitNow: an evaluation error is a deny, settled at once', () => {
    const { pipeline, records } = setup({ evaluateThrows: true, appendNow: true });
    const settled = pipeline.submitNow(session, request('read'));
    assert.ok(settled);
    assert.equal(settled.verdict.allowed, false);
    assert.match(settled.verdict.reason, /policy evaluation failed: classifier exploded/);
    assert.equal(records.length, 1);
  });

  test('recordResult admits at once when it can, and otherwise through append', async () => {
    const now = setup({ appendNow: true });
    await now.pipeline.recordResult(session, { id: 'act_1', target: 'db' }, { summary: 'SELECT 1', rowCount: 1 });
    assert.deepEqual(now.records.map((r) => r.type), ['result']);
    const failing = setup({ appendNow: true, failRecordsOf: 'result' });
    await assert.rejects(failing.pipeline.recordResult(session, { id: 'act_1', target: 'db' }, { summary: 'SELECT 1' }), /disk full/);
  });

  test('actionOf: the action a spread of the request would give, keys in the same order', () => {
    const r: ActionRequest = { ...request('read', 'SELECT 1'), detail: { protocol: 'simple', user: 'u', statements: [] } };
    const action = actionOf(r, session);
    assert.match(action.id, /^act_/);
    assert.equal(action.sessionId, session.id);
    // the recorded line is JSON of the action: same members, same order as { ...request, id, sessionId, at }
    assert.equal(JSON.stringify(action), JSON.stringify({ ...r, id: action.id, sessionId: session.id, at: action.at }));
    assert.equal(action.detail, r.detail);
  });

  test('the recorded action and result hold what was submitted, in the order recorded before', async () => {
    const { pipeline, records } = setup({ appendNow: true });
    const settled = pipeline.submitNow(session, request('read', 'SELECT 1'));
    assert.ok(settled);
    const recorded = records[0];
    assert.ok(recorded?.type === 'action');
    assert.deepEqual(Object.keys(recorded.action), ['target', 'protocol', 'kind', 'summary', 'risk', 'attributes', 'detail', 'id', 'sessionId', 'at']);
    const maskReport = { columns: [], detectors: [], cells: 0 } as unknown as MaskReport;
    await pipeline.recordResult(session, settled.action, { summary: 'SELECT 1', rowCount: 1, maskReport, detail: { columns: ['a'], rows: [['1']] } });
    const result = records[1];
    assert.ok(result?.type === 'result');
    assert.deepEqual(Object.keys(result.detail), ['columns', 'rows', 'rowCount', 'maskReport']);
    assert.deepEqual(result.detail, { columns: ['a'], rows: [['1']], rowCount: 1, maskReport });
  });

  test('fail closed: an evaluation error is a deny', async () => {
    const { pipeline } = setup({ evaluateThrows: true });
    const { verdict } = await pipeline.submit(session, request('read'));
    assert.equal(verdict.allowed, false);
    assert.match(verdict.reason, /policy evaluation failed: classifier exploded/);
  });
});
