import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from '../../src/events/bus.js';

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
