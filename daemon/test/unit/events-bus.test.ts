import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus, eventBytes } from '../../src/events/bus.js';

const body = (reason: string) => ({ type: 'resync' as const, data: { reason } });

describe('event bus', () => {
  test('ids increase by one; since() returns what came after, in order', () => {
    const bus = new EventBus(100);
    for (let i = 0; i < 10; i++) bus.publish(body(`e${i}`));
    assert.equal(bus.lastId, 10);
    assert.deepEqual(bus.since(7)!.map((e) => e.id), [8, 9, 10]);
    assert.deepEqual(bus.since(10), []);
  });

  test('since() is null once the ring no longer holds the events', () => {
    const bus = new EventBus(5);
    for (let i = 0; i < 12; i++) bus.publish(body(`e${i}`));
    assert.equal(bus.since(2), null);
    assert.deepEqual(bus.since(7)!.map((e) => e.id), [8, 9, 10, 11, 12]);
  });

  test('the ring is bounded in bytes: large events push out the oldest, and a client that missed them gets null (resync)', () => {
    const bus = new EventBus(1000, 100_000);
    for (let i = 0; i < 10; i++) bus.publish(body(`small ${i}`));
    assert.deepEqual(bus.since(0)!.length, 10);
    const big = 'x'.repeat(30_000);
    for (let i = 0; i < 10; i++) bus.publish(body(big));
    assert.ok(bus.bytes <= 100_000, `${bus.bytes} bytes kept with a budget of 100,000`);
    assert.ok(bus.bytes >= 90_000, `${bus.bytes} bytes kept: the ring drops no more than it must`);
    assert.equal(bus.since(0), null, 'the small events were dropped for bytes');
    const kept = bus.since(17)!;
    assert.deepEqual(kept.map((e) => e.id), [18, 19, 20]);
    // one event larger than the whole budget is still kept (the newest always is), alone
    bus.publish(body('y'.repeat(200_000)));
    assert.deepEqual(bus.since(20)!.map((e) => e.id), [21]);
    assert.equal(bus.since(19), null);
  });

  test('an event\'s size estimate follows its text, not a fixed cost', () => {
    const small = eventBytes(body('x'));
    const large = eventBytes(body('x'.repeat(50_000)));
    assert.ok(large - small >= 49_000 && large - small <= 51_000, `estimates ${small} and ${large}`);
    // an action's text and parameters count, in both of its events
    const action = (sql: string, params: string[]) => ({ id: 'a', sessionId: 's', target: 'db', protocol: 'postgres' as const, kind: 'sql.query', summary: 'SELECT', risk: 'low' as const, attributes: {}, detail: { sql, params }, at: '2026-12-05T00:00:00.000Z' });
    const decided = (a: ReturnType<typeof action>) => eventBytes({ type: 'action.decided', data: { action: a, decision: { decision: 'allow', ruleId: 'r', reason: 'ok' } } });
    assert.ok(decided(action('x'.repeat(40_000), ['y'.repeat(20_000)])) - decided(action('x', ['y'])) >= 59_000);
    // a long array is extrapolated from its head, not walked
    const many = eventBytes({ type: 'targets.changed', data: { targets: Array.from({ length: 10_000 }, () => ({ name: 'n'.repeat(100) })) } } as never);
    assert.ok(many > 1_000_000, `an array of 10,000 objects of 100 characters estimated at ${many}`);
  });

  test('stream ids carry the run: another run\'s id does not parse', () => {
    const bus = new EventBus();
    const event = bus.publish(body('x'));
    assert.equal(bus.parseStreamId(bus.streamId(event)), event.id);
    assert.equal(new EventBus().parseStreamId(bus.streamId(event)), null);
    assert.equal(bus.parseStreamId('garbage'), null);
  });

  test('a throwing subscriber does not stop the others', () => {
    const bus = new EventBus();
    const seen: number[] = [];
    const errors = console.error;
    console.error = () => undefined;
    try {
      bus.subscribe(() => {
        throw new Error('boom');
      });
      const sub = bus.subscribe((e) => seen.push(e.id));
      bus.publish(body('a'));
      sub.dispose();
      bus.publish(body('b'));
    } finally {
      console.error = errors;
    }
    assert.deepEqual(seen, [1]);
  });
});
