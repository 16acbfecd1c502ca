import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamIdleTimer, idleStreamMessage } from '../../src/proxies/kubernetes/streams/idle-timer.js';
import { manualClock } from '../helpers/manual-clock.js';

/** limits.idleTimeout on exec/attach/port-forward streams, with a clock the test moves. */
describe('StreamIdleTimer', () => {
  test('fires once after idleMs with no traffic', () => {
    const clock = manualClock();
    let fired = 0;
    new StreamIdleTimer(clock, 30_000, () => fired++);
    clock.advance(29_999);
    assert.equal(fired, 0);
    clock.advance(1);
    assert.equal(fired, 1);
    clock.advance(60_000);
    assert.equal(fired, 1, 'never twice');
    assert.equal(clock.pending, 0);
  });

  test('traffic moves the deadline: idle counts from the last message', () => {
    const clock = manualClock();
    let fired = 0;
    const timer = new StreamIdleTimer(clock, 30_000, () => fired++);
    clock.advance(20_000);
    timer.touch();
    clock.advance(10_000);
    assert.equal(fired, 0, 'only 10s quiet at the first deadline');
    clock.advance(19_999);
    assert.equal(fired, 0);
    clock.advance(1);
    assert.equal(fired, 1);
  });

  test('a busy stream (a side paused for backpressure) is not idle', () => {
    const clock = manualClock();
    let fired = 0;
    let busy = true;
    new StreamIdleTimer(clock, 1_000, () => fired++, () => busy);
    clock.advance(1_000);
    clock.advance(5_000);
    assert.equal(fired, 0);
    busy = false;
    clock.advance(1_000);
    assert.equal(fired, 1);
  });

  test('0 is off; stop() cancels', () => {
    const clock = manualClock();
    let fired = 0;
    new StreamIdleTimer(clock, 0, () => fired++);
    assert.equal(clock.pending, 0);
    const timer = new StreamIdleTimer(clock, 1_000, () => fired++);
    timer.stop();
    clock.advance(10_000);
    assert.equal(fired, 0);
  });

  test('the message names the target, the stream, the duration and the limit', () => {
    assert.equal(idleStreamMessage('staging', 'exec', 30_000), 'target "staging" closed the exec stream: no traffic for 30s (limits.idleTimeout)');
    assert.equal(idleStreamMessage('db', 'port-forward', 90_000), 'target "db" closed the port-forward stream: no traffic for 1m30s (limits.idleTimeout)');
  });
});
