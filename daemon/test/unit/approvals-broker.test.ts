import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Approval, Grant } from '@airlock/shared';
import type { Action, Decision } from '@airlock/shared';
import {
  AGENT_DISCONNECTED_REASON,
  ApprovalAlreadyDecidedError,
  ApprovalBroker,
  ApprovalNotFoundError,
  DAEMON_RESTARTED_REASON,
  DEFAULT_APPROVAL_TIMEOUT_MS,
} from '../../src/approvals/broker.js';
import type { ApprovalOutcome, BrokerOptions } from '../../src/approvals/broker.js';
import { newId } from '../../src/util/ids.js';
import { formatDuration } from '../../src/util/time.js';

const START = Date.parse('2025-03-01T09:00:00.000Z');

function makeAction(overrides: Partial<Action> = {}): Action {
  return {
    id: 'act_1',
    sessionId: 'ses_a',
    target: 'prod-db',
    protocol: 'postgres',
    kind: 'sql.query',
    summary: 'DELETE FROM users WHERE id = 7',
    risk: 'high',
    attributes: { class: 'delete', tables: ['users'] },
    detail: {},
    at: new Date(START).toISOString(),
    ...overrides,
  };
}

function reviewDecision(overrides: Partial<Decision> = {}): Decision {
  return { decision: 'review', ruleId: 'deletes-need-review', reason: 'deletes on prod need a human', timeoutMs: 60_000, ...overrides };
}

/** A broker with a clock the test moves and ids that say what they are. */
function makeBroker(options: BrokerOptions = {}): { broker: ApprovalBroker; clock: { ms: number } } {
  const clock = { ms: START };
  const counters = { apr: 0, grt: 0 };
  const broker = new ApprovalBroker({
    now: () => clock.ms,
    newId: (prefix) => `${prefix}_${++counters[prefix]}`,
    ...options,
  });
  return { broker, clock };
}

/**
 * The broker's timers are unref'd (in the daemon the waiting connection keeps the process up), so a
 * test that waits for one must hold the event loop open itself.
 */
async function keepingAlive<T>(promise: Promise<T>): Promise<T> {
  const keepAlive = setInterval(() => undefined, 1_000);
  try {
    return await promise;
  } finally {
    clearInterval(keepAlive);
  }
}

/** Settles with 'pending' if the outcome has not resolved by the next macrotask. */
async function stateSoon(outcome: Promise<ApprovalOutcome>): Promise<string> {
  return Promise.race([outcome.then((o) => o.approval.status), sleep(0).then(() => 'pending')]);
}

describe('ApprovalBroker.request', () => {
  test('returns a pending approval that carries the action, rule and deadline', () => {
    const { broker } = makeBroker();
    const action = makeAction();
    const { approval } = broker.request(action, reviewDecision({ timeoutMs: 90_000 }));
    assert.equal(approval.id, 'apr_1');
    assert.equal(approval.status, 'pending');
    assert.equal(approval.ruleId, 'deletes-need-review');
    assert.equal(approval.reason, 'deletes on prod need a human');
    assert.deepEqual(approval.action, action);
    assert.equal(approval.requestedAt, '2025-03-01T09:00:00.000Z');
    assert.equal(approval.expiresAt, '2025-03-01T09:01:30.000Z');
    assert.equal(approval.resolution, undefined);
    assert.doesNotThrow(() => Approval.parse(approval));
    assert.deepEqual(broker.pending(), [approval]);
    assert.equal(broker.get(approval.id), approval);
    broker.close('test over');
  });

  test('uses the default timeout of five minutes when the rule names none', () => {
    const { broker } = makeBroker();
    const { approval } = broker.request(makeAction(), reviewDecision({ timeoutMs: undefined }));
    assert.equal(Date.parse(approval.expiresAt) - Date.parse(approval.requestedAt), DEFAULT_APPROVAL_TIMEOUT_MS);
    assert.equal(DEFAULT_APPROVAL_TIMEOUT_MS, 300_000);
    broker.close('test over');
  });

  test('refuses decisions other than review, naming the action and rule', () => {
    const { broker } = makeBroker();
    assert.throws(
      () => broker.request(makeAction(), reviewDecision({ decision: 'allow', ruleId: 'reads-ok' })),
      /sql\.query on "prod-db".*rule "reads-ok" decided "allow"/,
    );
    assert.deepEqual(broker.pending(), []);
  });

  test('lists pending approvals oldest first', () => {
    const { broker, clock } = makeBroker();
    const first = broker.request(makeAction({ id: 'act_1' }), reviewDecision()).approval;
    clock.ms += 1_000;
    const second = broker.request(makeAction({ id: 'act_2' }), reviewDecision()).approval;
    clock.ms += 1_000;
    const third = broker.request(makeAction({ id: 'act_3' }), reviewDecision()).approval;
    broker.deny(second.id, { by: 'alice', via: 'cli', reason: 'no' });
    assert.deepEqual(
      broker.pending().map((a) => a.id),
      [first.id, third.id],
    );
    broker.close('test over');
  });
});

describe('ApprovalBroker.approve', () => {
  test('once: resolves the outcome as approved, records who, how and when, and creates no grant', async () => {
    const { broker, clock } = makeBroker();
    const { approval, outcome } = broker.request(makeAction(), reviewDecision());
    clock.ms += 5_000;
    const result = broker.approve(approval.id, { by: 'alice', via: 'extension', scope: 'once' });
    assert.equal(result.approval.status, 'approved');
    assert.deepEqual(result.approval.resolution, { at: '2025-03-01T09:00:05.000Z', by: 'alice', via: 'extension', scope: 'once' });
    assert.equal(result.grant, undefined);
    assert.deepEqual(await outcome, result);
    assert.doesNotThrow(() => Approval.parse(result.approval));
    assert.deepEqual(broker.grants(), []);
    assert.equal(broker.findGrant('ses_a', 'deletes-need-review'), undefined);
    assert.deepEqual(broker.pending(), []);
    assert.equal(broker.get(approval.id)?.status, 'approved');
    // the snapshot handed out at request time stays as it was
    assert.equal(approval.status, 'pending');
  });

  test('session: creates a grant that findGrant returns for the same session and rule only', async () => {
    const { broker } = makeBroker();
    const { approval, outcome } = broker.request(makeAction({ sessionId: 'ses_a' }), reviewDecision({ ruleId: 'deletes-need-review' }));
    const result = broker.approve(approval.id, { by: 'alice', via: 'cli', scope: 'session' });
    const grant = result.grant;
    assert.ok(grant, 'a session approval returns a grant');
    assert.deepEqual(grant, {
      id: 'grt_1',
      sessionId: 'ses_a',
      ruleId: 'deletes-need-review',
      approvalId: approval.id,
      createdAt: '2025-03-01T09:00:00.000Z',
      expiresAt: null,
      by: 'alice',
      via: 'cli',
    });
    assert.doesNotThrow(() => Grant.parse(grant));
    assert.deepEqual(result.approval.resolution, {
      at: '2025-03-01T09:00:00.000Z',
      by: 'alice',
      via: 'cli',
      scope: 'session',
      grantId: 'grt_1',
    });
    assert.deepEqual((await outcome).grant, grant);
    assert.deepEqual(broker.findGrant('ses_a', 'deletes-need-review'), grant);
    assert.equal(broker.findGrant('ses_b', 'deletes-need-review'), undefined);
    assert.equal(broker.findGrant('ses_a', 'drops-need-review'), undefined);
    assert.deepEqual(broker.grants(), [grant]);
  });

  test('session: a grant from an action with a grantKey covers only actions with that key', () => {
    const { broker } = makeBroker();
    const { approval } = broker.request(makeAction({ sessionId: 'ses_a', grantKey: 'registry.example:443' }), reviewDecision({ ruleId: 'egress-unlisted-review' }));
    const grant = broker.approve(approval.id, { by: 'alice', via: 'cli', scope: 'session' }).grant;
    assert.equal(grant?.key, 'registry.example:443');
    assert.deepEqual(broker.findGrant('ses_a', 'egress-unlisted-review', 'registry.example:443'), grant);
    assert.equal(broker.findGrant('ses_a', 'egress-unlisted-review', 'evil.example:443'), undefined, 'another host is not covered');
    assert.equal(broker.findGrant('ses_a', 'egress-unlisted-review'), undefined, 'an action without a key is not covered by a keyed grant');
  });

  test('session with a ttl: the grant holds until the ttl runs out, then is dropped', () => {
    const { broker, clock } = makeBroker();
    const { approval } = broker.request(makeAction(), reviewDecision());
    const { grant } = broker.approve(approval.id, { by: 'alice', via: 'extension', scope: 'session', grantTtlMs: 3_600_000 });
    assert.equal(grant?.expiresAt, '2025-03-01T10:00:00.000Z');
    clock.ms = START + 3_600_000 - 1;
    assert.equal(broker.findGrant('ses_a', 'deletes-need-review')?.id, grant?.id);
    clock.ms = START + 3_600_000;
    assert.equal(broker.findGrant('ses_a', 'deletes-need-review'), undefined);
    assert.deepEqual(broker.grants(), []);
  });

  test('findGrant prefers the grant that lasts longest when several match', () => {
    const { broker } = makeBroker();
    const short = broker.request(makeAction({ id: 'act_1' }), reviewDecision()).approval;
    const endless = broker.request(makeAction({ id: 'act_2' }), reviewDecision()).approval;
    const long = broker.request(makeAction({ id: 'act_3' }), reviewDecision()).approval;
    broker.approve(short.id, { by: 'alice', via: 'cli', scope: 'session', grantTtlMs: 1_000 });
    const endlessGrant = broker.approve(endless.id, { by: 'alice', via: 'cli', scope: 'session' }).grant;
    broker.approve(long.id, { by: 'alice', via: 'cli', scope: 'session', grantTtlMs: 60_000 });
    assert.equal(broker.findGrant('ses_a', 'deletes-need-review')?.id, endlessGrant?.id);
  });

  test('rejects a non-positive grant ttl and leaves the approval pending', () => {
    const { broker } = makeBroker();
    const { approval } = broker.request(makeAction(), reviewDecision());
    assert.throws(() => broker.approve(approval.id, { by: 'alice', via: 'cli', scope: 'session', grantTtlMs: 0 }), /apr_1.*grant ttl must be positive/);
    assert.equal(broker.get(approval.id)?.status, 'pending');
    assert.deepEqual(broker.grants(), []);
    broker.close('test over');
  });
});

describe('ApprovalBroker.deny and errors', () => {
  test('deny records the reason and resolves the outcome as denied', async () => {
    const { broker, clock } = makeBroker();
    const { approval, outcome } = broker.request(makeAction(), reviewDecision());
    clock.ms += 2_000;
    const denied = broker.deny(approval.id, { by: 'bob', via: 'central', reason: '  not on a Friday  ' });
    assert.equal(denied.status, 'denied');
    assert.deepEqual(denied.resolution, { at: '2025-03-01T09:00:02.000Z', by: 'bob', via: 'central', reason: 'not on a Friday' });
    assert.deepEqual((await outcome).approval, denied);
    assert.equal((await outcome).grant, undefined);
  });

  test('deny without a reason is refused and the approval stays pending', () => {
    const { broker } = makeBroker();
    const { approval } = broker.request(makeAction(), reviewDecision());
    assert.throws(() => broker.deny(approval.id, { by: 'bob', via: 'cli', reason: '   ' }), /cannot deny apr_1 .*a reason is required/);
    assert.equal(broker.get(approval.id)?.status, 'pending');
    broker.close('test over');
  });

  test('deciding twice throws ApprovalAlreadyDecidedError and keeps the first decision', () => {
    const { broker } = makeBroker();
    const { approval } = broker.request(makeAction(), reviewDecision());
    const denied = broker.deny(approval.id, { by: 'bob', via: 'extension', reason: 'too risky' });
    assert.throws(
      () => broker.approve(approval.id, { by: 'alice', via: 'cli', scope: 'session' }),
      (err: unknown) => {
        assert.ok(err instanceof ApprovalAlreadyDecidedError);
        assert.deepEqual(err.approval, denied);
        assert.match(err.message, /^approval apr_1 \(sql\.query on "prod-db": "DELETE FROM users WHERE id = 7"\) was already denied by bob via extension at .*: too risky$/);
        return true;
      },
    );
    assert.throws(() => broker.deny(approval.id, { by: 'carol', via: 'cli', reason: 'me too' }), ApprovalAlreadyDecidedError);
    assert.throws(() => broker.cancel(approval.id, 'whatever'), ApprovalAlreadyDecidedError);
    assert.deepEqual(broker.get(approval.id), denied);
    assert.deepEqual(broker.grants(), []);
  });

  test('an approved approval says how it was approved in the 409 message', () => {
    const { broker } = makeBroker();
    const { approval } = broker.request(makeAction(), reviewDecision());
    broker.approve(approval.id, { by: 'alice', via: 'cli', scope: 'session' });
    assert.throws(
      () => broker.deny(approval.id, { by: 'bob', via: 'cli', reason: 'late' }),
      /was already approved for the rest of the session \(grant grt_1\) by alice via cli/,
    );
  });

  test('an unknown id throws ApprovalNotFoundError carrying the id', () => {
    const { broker } = makeBroker();
    for (const decide of [
      () => broker.approve('apr_nope', { by: 'alice', via: 'cli', scope: 'once' }),
      () => broker.deny('apr_nope', { by: 'alice', via: 'cli', reason: 'x' }),
      () => broker.cancel('apr_nope', 'x'),
    ]) {
      assert.throws(decide, (err: unknown) => {
        assert.ok(err instanceof ApprovalNotFoundError);
        assert.equal(err.approvalId, 'apr_nope');
        assert.match(err.message, /apr_nope/);
        return true;
      });
    }
    assert.equal(broker.get('apr_nope'), undefined);
  });

  test('history is bounded: the oldest resolved approvals are forgotten (404), newer ones remembered (409)', () => {
    const { broker } = makeBroker({ historyLimit: 2 });
    const ids = [1, 2, 3].map((n) => broker.request(makeAction({ id: `act_${n}` }), reviewDecision()).approval.id);
    for (const id of ids) broker.cancel(id, 'cleanup');
    assert.equal(broker.get(ids[0]!), undefined);
    assert.throws(() => broker.approve(ids[0]!, { by: 'a', via: 'cli', scope: 'once' }), ApprovalNotFoundError);
    assert.equal(broker.get(ids[1]!)?.status, 'cancelled');
    assert.throws(() => broker.approve(ids[1]!, { by: 'a', via: 'cli', scope: 'once' }), ApprovalAlreadyDecidedError);
    assert.throws(() => broker.approve(ids[2]!, { by: 'a', via: 'cli', scope: 'once' }), ApprovalAlreadyDecidedError);
  });

  test('rejects a negative history limit', () => {
    assert.throws(() => new ApprovalBroker({ historyLimit: -1 }), /historyLimit must be a non-negative integer/);
  });
});

describe('ApprovalBroker timeouts', () => {
  test('an approval nobody decides expires at its deadline, by airlock via system', async () => {
    const broker = new ApprovalBroker();
    const started = Date.now();
    const { approval, outcome } = broker.request(makeAction(), reviewDecision({ timeoutMs: 30 }));
    const { approval: expired, grant } = await keepingAlive(outcome);
    assert.ok(Date.now() - started >= 25, 'did not expire early');
    assert.equal(expired.id, approval.id);
    assert.equal(expired.status, 'expired');
    assert.equal(expired.resolution?.by, 'airlock');
    assert.equal(expired.resolution?.via, 'system');
    assert.equal(expired.resolution?.reason, 'no decision within 30ms');
    assert.equal(grant, undefined);
    assert.deepEqual(broker.pending(), []);
    assert.throws(() => broker.approve(approval.id, { by: 'alice', via: 'cli', scope: 'once' }), /already expired at .*no decision within 30ms/);
  });

  test('the expiry reason gives the timeout in human units', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { broker } = makeBroker();
    const resolved: Approval[] = [];
    broker.on('resolved', (approval) => resolved.push(approval));
    broker.request(makeAction(), reviewDecision({ timeoutMs: 300_000 }));
    t.mock.timers.tick(299_999);
    assert.equal(resolved.length, 0);
    t.mock.timers.tick(1);
    assert.equal(resolved.length, 1);
    assert.equal(resolved[0]?.status, 'expired');
    assert.equal(resolved[0]?.resolution?.reason, 'no decision within 5m');
  });

  test('a timeout longer than setTimeout can wait still expires at its deadline, not at once', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { broker } = makeBroker();
    const thirtyDays = 30 * 86_400_000;
    const { approval } = broker.request(makeAction(), reviewDecision({ timeoutMs: thirtyDays }));
    t.mock.timers.tick(1);
    assert.equal(broker.get(approval.id)?.status, 'pending', 'did not fire at once');
    t.mock.timers.tick(2_147_483_647 - 1);
    assert.equal(broker.get(approval.id)?.status, 'pending');
    t.mock.timers.tick(thirtyDays - 2_147_483_647 - 1);
    assert.equal(broker.get(approval.id)?.status, 'pending');
    t.mock.timers.tick(1);
    assert.equal(broker.get(approval.id)?.status, 'expired');
    assert.equal(broker.get(approval.id)?.resolution?.reason, 'no decision within 30d');
  });

  test('race: a decision before the timer wins, and the timer then does nothing', async () => {
    const broker = new ApprovalBroker();
    const resolved: string[] = [];
    broker.on('resolved', (approval) => resolved.push(approval.status));
    const { approval, outcome } = broker.request(makeAction(), reviewDecision({ timeoutMs: 20 }));
    broker.approve(approval.id, { by: 'alice', via: 'extension', scope: 'once' });
    await sleep(60);
    assert.equal((await outcome).approval.status, 'approved');
    assert.equal(broker.get(approval.id)?.status, 'approved');
    assert.deepEqual(resolved, ['approved']);
  });

  test('race: the timer first, then a human decision gets 409 and the expiry stands', async () => {
    const broker = new ApprovalBroker();
    const { approval, outcome } = broker.request(makeAction(), reviewDecision({ timeoutMs: 20 }));
    await keepingAlive(outcome);
    assert.throws(
      () => broker.approve(approval.id, { by: 'alice', via: 'extension', scope: 'session' }),
      (err: unknown) => err instanceof ApprovalAlreadyDecidedError && err.approval.status === 'expired',
    );
    assert.equal(broker.get(approval.id)?.status, 'expired');
    assert.deepEqual(broker.grants(), []);
  });

  test('race: a decision after the deadline but before the timer ran gets 409 and the approval expires', async () => {
    const { broker, clock } = makeBroker();
    const { approval, outcome } = broker.request(makeAction(), reviewDecision({ timeoutMs: 60_000 }));
    clock.ms += 60_000;
    assert.throws(
      () => broker.approve(approval.id, { by: 'alice', via: 'cli', scope: 'session' }),
      (err: unknown) => err instanceof ApprovalAlreadyDecidedError && err.approval.status === 'expired',
    );
    assert.equal((await outcome).approval.status, 'expired');
    assert.equal((await outcome).approval.resolution?.reason, 'no decision within 1m');
    assert.deepEqual(broker.grants(), []);
  });
});

describe('ApprovalBroker cancellation', () => {
  test('aborting the signal (agent disconnected) cancels the approval', async () => {
    const { broker } = makeBroker();
    const agent = new AbortController();
    const { approval, outcome } = broker.request(makeAction(), reviewDecision(), agent.signal);
    assert.equal(await stateSoon(outcome), 'pending');
    agent.abort();
    const { approval: cancelled } = await outcome;
    assert.equal(cancelled.id, approval.id);
    assert.equal(cancelled.status, 'cancelled');
    assert.deepEqual(cancelled.resolution, { at: '2025-03-01T09:00:00.000Z', by: 'airlock', via: 'system', reason: AGENT_DISCONNECTED_REASON });
    assert.equal(AGENT_DISCONNECTED_REASON, 'agent disconnected');
    assert.deepEqual(broker.pending(), []);
  });

  test('an already aborted signal cancels at once', async () => {
    const { broker } = makeBroker();
    const { approval, outcome } = broker.request(makeAction(), reviewDecision(), AbortSignal.abort());
    assert.equal(approval.status, 'pending');
    assert.equal(await stateSoon(outcome), 'cancelled');
    assert.deepEqual(broker.pending(), []);
  });

  test('aborting after a decision changes nothing, and the broker no longer listens to the signal', async () => {
    const { broker } = makeBroker();
    const agent = new AbortController();
    const { approval, outcome } = broker.request(makeAction(), reviewDecision(), agent.signal);
    assert.equal(getEventListeners(agent.signal, 'abort').length, 1);
    broker.approve(approval.id, { by: 'alice', via: 'cli', scope: 'once' });
    assert.equal(getEventListeners(agent.signal, 'abort').length, 0);
    agent.abort();
    assert.equal((await outcome).approval.status, 'approved');
    assert.equal(broker.get(approval.id)?.status, 'approved');
  });

  test('cancel records a system cancellation with the reason', async () => {
    const { broker } = makeBroker();
    const { approval, outcome } = broker.request(makeAction(), reviewDecision());
    const cancelled = broker.cancel(approval.id, 'target removed from config');
    assert.deepEqual(cancelled.resolution, { at: '2025-03-01T09:00:00.000Z', by: 'airlock', via: 'system', reason: 'target removed from config' });
    assert.equal((await outcome).approval.status, 'cancelled');
  });

  test('cancelSession cancels that session only and drops its grants', async () => {
    const { broker } = makeBroker();
    const granted = broker.request(makeAction({ id: 'act_0', sessionId: 'ses_a' }), reviewDecision()).approval;
    broker.approve(granted.id, { by: 'alice', via: 'cli', scope: 'session' });
    const otherGranted = broker.request(makeAction({ id: 'act_9', sessionId: 'ses_b' }), reviewDecision()).approval;
    const otherGrant = broker.approve(otherGranted.id, { by: 'alice', via: 'cli', scope: 'session' }).grant;
    const a1 = broker.request(makeAction({ id: 'act_1', sessionId: 'ses_a' }), reviewDecision());
    const b1 = broker.request(makeAction({ id: 'act_2', sessionId: 'ses_b' }), reviewDecision());
    const a2 = broker.request(makeAction({ id: 'act_3', sessionId: 'ses_a' }), reviewDecision());

    const cancelled = broker.cancelSession('ses_a', 'agent session ended');
    assert.deepEqual(
      cancelled.map((a) => [a.id, a.status, a.resolution?.reason]),
      [
        [a1.approval.id, 'cancelled', 'agent session ended'],
        [a2.approval.id, 'cancelled', 'agent session ended'],
      ],
    );
    assert.equal((await a1.outcome).approval.status, 'cancelled');
    assert.equal((await a2.outcome).approval.status, 'cancelled');
    assert.deepEqual(
      broker.pending().map((a) => a.id),
      [b1.approval.id],
    );
    assert.equal(broker.findGrant('ses_a', 'deletes-need-review'), undefined);
    assert.deepEqual(broker.grants(), [otherGrant]);
    broker.close('test over');
  });

  test('revokeGrantsForSession returns the grants it dropped', () => {
    const { broker } = makeBroker();
    const approval = broker.request(makeAction({ sessionId: 'ses_a' }), reviewDecision()).approval;
    const grant = broker.approve(approval.id, { by: 'alice', via: 'cli', scope: 'session' }).grant;
    assert.deepEqual(broker.revokeGrantsForSession('ses_b'), []);
    assert.deepEqual(broker.revokeGrantsForSession('ses_a'), [grant]);
    assert.equal(broker.findGrant('ses_a', 'deletes-need-review'), undefined);
  });

  test('close cancels everything pending, stops the timers and refuses new requests', async () => {
    const { broker } = makeBroker();
    const statuses: string[] = [];
    broker.on('resolved', (approval) => statuses.push(approval.status));
    const first = broker.request(makeAction({ id: 'act_1' }), reviewDecision({ timeoutMs: 20 }));
    const second = broker.request(makeAction({ id: 'act_2', sessionId: 'ses_b' }), reviewDecision({ timeoutMs: 20 }));
    const closed = broker.close('the daemon is stopping');
    assert.deepEqual(
      closed.map((a) => [a.id, a.status, a.resolution?.reason]),
      [
        [first.approval.id, 'cancelled', 'the daemon is stopping'],
        [second.approval.id, 'cancelled', 'the daemon is stopping'],
      ],
    );
    assert.equal((await first.outcome).approval.status, 'cancelled');
    assert.equal((await second.outcome).approval.status, 'cancelled');
    await sleep(50);
    assert.deepEqual(statuses, ['cancelled', 'cancelled'], 'no timer fired after close');
    assert.throws(() => broker.request(makeAction({ id: 'act_3' }), reviewDecision()), /sql\.query on "prod-db".*broker is closed \(the daemon is stopping\)/);
    assert.deepEqual(broker.close('again'), []);
  });
});

describe('ApprovalBroker.recoverInterrupted', () => {
  test('returns approvals left pending by a dead daemon as cancelled, and remembers them', () => {
    const previous = makeBroker().broker;
    const leftPending = previous.request(makeAction({ id: 'act_1' }), reviewDecision()).approval;
    const leftPending2 = previous.request(makeAction({ id: 'act_2' }), reviewDecision()).approval;
    previous.close('test over');
    const alreadyDenied: Approval = {
      ...leftPending,
      id: 'apr_old',
      status: 'denied',
      resolution: { at: leftPending.requestedAt, by: 'bob', via: 'cli', reason: 'no' },
    };

    const { broker, clock } = makeBroker();
    clock.ms += 10_000;
    const recovered = broker.recoverInterrupted([leftPending, alreadyDenied, leftPending2, leftPending]);
    assert.deepEqual(
      recovered.map((a) => a.id),
      [leftPending.id, leftPending2.id],
    );
    const [first] = recovered;
    assert.equal(first?.status, 'cancelled');
    assert.deepEqual(first?.resolution, { at: '2025-03-01T09:00:10.000Z', by: 'airlock', via: 'system', reason: DAEMON_RESTARTED_REASON });
    assert.equal(DAEMON_RESTARTED_REASON, 'the daemon restarted; the held request was lost');
    assert.equal(first?.action.summary, leftPending.action.summary);
    assert.deepEqual(broker.get(leftPending.id), first);
    assert.equal(broker.get('apr_old'), undefined);
    assert.deepEqual(broker.pending(), []);
    assert.throws(() => broker.approve(leftPending.id, { by: 'alice', via: 'cli', scope: 'once' }), /was already cancelled at .*the daemon restarted/);
  });
});

describe('ApprovalBroker events', () => {
  test('requested, changed, resolved, changed fire in that order with the states of the moment', () => {
    const { broker } = makeBroker();
    const seen: string[] = [];
    broker.on('requested', (approval) => seen.push(`requested ${approval.id} ${approval.status}`));
    broker.on('changed', (pending) => seen.push(`changed [${pending.map((a) => a.id).join(',')}]`));
    broker.on('resolved', (approval, grant) => seen.push(`resolved ${approval.id} ${approval.status} ${grant?.id ?? '-'}`));
    const first = broker.request(makeAction({ id: 'act_1' }), reviewDecision()).approval;
    const second = broker.request(makeAction({ id: 'act_2' }), reviewDecision()).approval;
    broker.approve(first.id, { by: 'alice', via: 'cli', scope: 'session' });
    broker.deny(second.id, { by: 'alice', via: 'cli', reason: 'no' });
    assert.deepEqual(seen, [
      'requested apr_1 pending',
      'changed [apr_1]',
      'requested apr_2 pending',
      'changed [apr_1,apr_2]',
      'resolved apr_1 approved grt_1',
      'changed [apr_2]',
      'resolved apr_2 denied -',
      'changed []',
    ]);
  });

  test('a bulk cancellation announces the pending list once, after all are resolved', () => {
    const { broker } = makeBroker();
    broker.request(makeAction({ id: 'act_1' }), reviewDecision());
    broker.request(makeAction({ id: 'act_2' }), reviewDecision());
    const seen: string[] = [];
    broker.on('changed', (pending) => seen.push(`changed ${pending.length}`));
    broker.on('resolved', (approval) => seen.push(`resolved ${approval.id}`));
    broker.cancelSession('ses_a', 'ended');
    assert.deepEqual(seen, ['resolved apr_1', 'resolved apr_2', 'changed 0']);
  });

  test('dispose stops a listener; a throwing listener neither breaks the broker nor the others', async () => {
    const failures: string[] = [];
    const { broker } = makeBroker({ onListenerError: (error, event) => failures.push(`${event}: ${(error as Error).message}`) });
    const seen: string[] = [];
    const subscription = broker.on('requested', (approval) => seen.push(`first ${approval.id}`));
    broker.on('requested', () => {
      throw new Error('listener broke');
    });
    broker.on('requested', (approval) => seen.push(`third ${approval.id}`));
    const { approval, outcome } = broker.request(makeAction({ id: 'act_1' }), reviewDecision());
    subscription.dispose();
    broker.request(makeAction({ id: 'act_2' }), reviewDecision());
    assert.deepEqual(seen, ['first apr_1', 'third apr_1', 'third apr_2']);
    assert.deepEqual(failures, ['requested: listener broke', 'requested: listener broke']);
    broker.approve(approval.id, { by: 'alice', via: 'cli', scope: 'once' });
    assert.equal((await outcome).approval.status, 'approved');
    broker.close('test over');
  });
});

describe('helpers the broker uses', () => {
  test('newId: prefix, underscore, 24 lower-case base32 characters, different every time', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newId('apr')));
    assert.equal(ids.size, 200);
    for (const id of ids) assert.match(id, /^apr_[a-z2-7]{24}$/);
    assert.match(newId('grt'), /^grt_[a-z2-7]{24}$/);
  });

  test('newId uses the whole alphabet (all bits reach the output)', () => {
    const chars = new Set(Array.from({ length: 200 }, () => newId('x').slice(2)).join(''));
    assert.equal(chars.size, 32);
  });

  test('formatDuration writes durations the way people do', () => {
    assert.equal(formatDuration(0), '0ms');
    assert.equal(formatDuration(250), '250ms');
    assert.equal(formatDuration(30_000), '30s');
    assert.equal(formatDuration(90_000), '1m30s');
    assert.equal(formatDuration(300_000), '5m');
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(7 * 86_400_000), '7d');
    assert.equal(formatDuration(86_400_000 + 61_000), '1d1m1s');
    assert.equal(formatDuration(1_499), '1s');
    assert.throws(() => formatDuration(-1), RangeError);
    assert.throws(() => formatDuration(Number.NaN), RangeError);
  });
});
