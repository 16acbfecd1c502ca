import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionLimiter, type Admission, type ConnectionLease } from '../../src/proxies/connection-limits.js';
import { lineLogger } from '../../src/util/logger.js';
import { manualClock } from '../helpers/manual-clock.js';

function limiter(maxConnections: number, maxConnectionsPerSession: number) {
  const lines: string[] = [];
  const clock = manualClock();
  const limits = new ConnectionLimiter('app', { maxConnections, maxConnectionsPerSession }, lineLogger((l) => lines.push(l), 'postgres target "app"'), clock);
  return { limits, lines, clock };
}

function leaseOf(admission: Admission): ConnectionLease {
  assert.equal(admission.kind, 'admitted', `expected the connection to be admitted, it was ${admission.kind}`);
  return (admission as Extract<Admission, { kind: 'admitted' }>).lease;
}

const A = { id: 'sess-a', name: 'claude-1' };
const B = { id: 'sess-b', name: 'claude-2' };

describe('connection limiter', () => {
  test('connections count against the target from accept, before anyone has logged in', () => {
    const { limits } = limiter(3, 2);
    const leases = [leaseOf(limits.admit()), leaseOf(limits.admit()), leaseOf(limits.admit())];
    const over = limits.admit();
    assert.equal(over.kind, 'refused');
    assert.deepEqual(over.kind === 'refused' && over.refusal, {
      limit: 'maxConnections',
      message: 'target "app" allows 3 connections (limits.maxConnections); 3 are open',
    });
    assert.equal(limits.counts().open, 3);
    leases[0]!.release();
    assert.equal(limits.counts().open, 2);
    leaseOf(limits.admit());
  });

  test('one agent session is capped per target; another session is not held back by it', () => {
    const { limits } = limiter(10, 2);
    assert.equal(leaseOf(limits.admit()).identify(A), undefined);
    assert.equal(leaseOf(limits.admit()).identify(A), undefined);
    const third = leaseOf(limits.admit());
    assert.deepEqual(third.identify(A), {
      limit: 'maxConnectionsPerSession',
      message: 'target "app" allows 2 connections per agent session (limits.maxConnectionsPerSession); agent session "claude-1" has 2 open',
    });
    assert.equal(limits.counts().open, 2, 'the refused connection gave its place back');
    assert.equal(leaseOf(limits.admit()).identify(B), undefined);
    assert.deepEqual([...limits.counts().perSession], [
      ['sess-a', 2],
      ['sess-b', 1],
    ]);
  });

  test('a lease is released once, however often release is called', () => {
    const { limits } = limiter(2, 2);
    const first = leaseOf(limits.admit());
    first.identify(A);
    const second = leaseOf(limits.admit());
    second.identify(A);
    first.release();
    first.release();
    first.release();
    assert.equal(limits.counts().open, 1);
    assert.equal(limits.counts().perSession.get('sess-a'), 1);
    second.release();
    assert.equal(limits.counts().open, 0);
    assert.equal(limits.counts().perSession.size, 0, 'a session with nothing open is forgotten');
    assert.throws(() => second.identify(A), /target "app": a connection lease was used after it was released/);
  });

  test('at most maxConnections refused connections wait for the agent to speak; beyond that they are told at once', () => {
    const { limits } = limiter(2, 2);
    leaseOf(limits.admit());
    leaseOf(limits.admit());
    const atOnce = (a: Admission): boolean | undefined => (a.kind === 'refused' ? a.atOnce : undefined);
    const waiting = [limits.admit(), limits.admit()];
    assert.deepEqual(waiting.map(atOnce), [false, false]);
    assert.equal(atOnce(limits.admit()), true);
    assert.equal(limits.counts().refusing, 2, 'one told at once holds nothing');
    if (waiting[0]!.kind === 'refused') {
      waiting[0]!.release();
      waiting[0]!.release();
    }
    assert.equal(limits.counts().refusing, 1);
    assert.equal(atOnce(limits.admit()), false);
  });

  test('a flood of refusals logs one line, then one summary line per window', () => {
    const { limits, lines, clock } = limiter(1, 1);
    leaseOf(limits.admit());
    for (let i = 0; i < 500; i++) {
      const r = limits.admit();
      if (r.kind === 'refused') r.release();
    }
    assert.deepEqual(lines, ['postgres target "app": warn: refused a connection: target "app" allows 1 connections (limits.maxConnections); 1 are open']);
    clock.advance(10_000);
    assert.equal(lines.length, 2);
    assert.equal(lines[1], 'postgres target "app": warn: refused 499 more connections in the last 10s over limits.maxConnections');
    clock.advance(10_000);
    assert.equal(lines.length, 2, 'a quiet window logs nothing');
    limits.admit();
    assert.equal(lines.length, 3, 'the next refusal after a window is logged at once');
  });
});
