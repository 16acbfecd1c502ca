import { randomBytes } from 'node:crypto';
import type { AirlockEvent, AirlockEventBody } from '@airlock/shared';
import { isoNow } from '../util/time.js';

export type EventListener = (event: AirlockEvent) => void;

/** Bytes the ring may hold (by estimate): with actions' text bounded to 64 KiB, at least 128 of the largest. */
export const DEFAULT_RING_BYTES = 16 * 1024 * 1024;

/**
 * The daemon's in-process event bus. Keeps the newest events in a ring so an SSE client that
 * reconnects with Last-Event-ID gets what it missed; ids restart with each daemon run, so the
 * stream id carries the run id too.
 */
export class EventBus {
  readonly runId = randomBytes(4).toString('hex');
  private nextId = 1;
  private readonly ring: (AirlockEvent | undefined)[];
  /** each kept event's estimated size, by ring slot */
  private readonly sizes: Float64Array;
  private keptBytes = 0;
  /** the oldest id still in the ring: older ones were overwritten or dropped for bytes */
  private oldest = 1;
  private readonly listeners = new Set<EventListener>();

  /**
   * 1,000 events: minutes of an agent's interactive work, for a client that reconnects; further back
   * it gets `resync`. Not more: each kept event holds its action or result objects, and with 10,000
   * every proxied statement's objects outlived the young generation under load (user CPU per pgbench
   * transaction 87 → 78 µs over six interleaved runs; a later A/B against the old build was within
   * the machine's noise).
   *
   * `maxBytes` bounds the ring by the events' estimated size too (eventBytes): when it is passed the
   * oldest events are dropped, and a client that asks for them gets `resync`.
   */
  constructor(
    private readonly capacity = 1_000,
    private readonly maxBytes = DEFAULT_RING_BYTES,
  ) {
    this.ring = new Array<AirlockEvent | undefined>(capacity);
    this.sizes = new Float64Array(capacity);
  }

  publish(body: AirlockEventBody): AirlockEvent {
    // built with a fixed shape rather than spread: this runs several times per proxied statement
    const event = { type: body.type, data: body.data, id: this.nextId++, ts: isoNow() } as AirlockEvent;
    this.keep(event, eventBytes(body));
    if (this.listeners.size === 0) return event;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        // one broken subscriber must not stop the others or the action path
        console.error(`airlockd: event listener failed on ${event.type}: ${(err as Error).message}`);
      }
    }
    return event;
  }

  /** estimated bytes of the events kept for reconnecting clients */
  get bytes(): number {
    return this.keptBytes;
  }

  private keep(event: AirlockEvent, size: number): void {
    const slot = event.id % this.capacity;
    // the slot's previous event (capacity ids ago) is overwritten, unless bytes already dropped it
    if (this.ring[slot] !== undefined) this.keptBytes -= this.sizes[slot]!;
    this.ring[slot] = event;
    this.sizes[slot] = size;
    this.keptBytes += size;
    if (event.id - this.oldest >= this.capacity) this.oldest = event.id - this.capacity + 1;
    while (this.keptBytes > this.maxBytes && this.oldest < event.id) {
      const old = this.oldest % this.capacity;
      this.keptBytes -= this.sizes[old]!;
      this.sizes[old] = 0;
      this.ring[old] = undefined;
      this.oldest++;
    }
  }

  subscribe(listener: EventListener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  get lastId(): number {
    return this.nextId - 1;
  }

  /** Events after `id`, oldest first; null when some of them are no longer kept. */
  since(id: number): AirlockEvent[] | null {
    const last = this.lastId;
    if (id >= last) return [];
    if (id < 0 || id + 1 < this.oldest) return null;
    const out: AirlockEvent[] = [];
    for (let i = id + 1; i <= last; i++) {
      const event = this.ring[i % this.capacity];
      if (!event || event.id !== i) return null;
      out.push(event);
    }
    return out;
  }

  streamId(event: AirlockEvent): string {
    return `${this.runId}.${event.id}`;
  }

  /** Parses a Last-Event-ID; null when it belongs to another daemon run or is malformed. */
  parseStreamId(value: string): number | null {
    const m = /^([0-9a-f]+)\.(\d+)$/.exec(value.trim());
    if (!m || m[1] !== this.runId) return null;
    return Number(m[2]);
  }
}

/** Arrays longer than this are estimated from their first elements. */
const SAMPLED_ELEMENTS = 32;

/**
 * A cheap estimate of an event's size in memory: string lengths and a fixed cost per value, a few
 * levels deep (an action's detail's parameters are the deepest strings that matter), long arrays
 * extrapolated from their head. Not a JSON.stringify: it runs for every event, three per proxied
 * statement (about 0.6 µs for the three on the bench machine).
 */
export function eventBytes(body: AirlockEventBody): number {
  if (body.type === 'action.decided' || body.type === 'action.completed') {
    // both events of an action carry the same action object: it is walked once
    const action = body.data.action;
    let size = actionBytes.get(action);
    if (size === undefined) {
      size = approxBytes(action, 3);
      actionBytes.set(action, size);
    }
    return 64 + 256 + size;
  }
  return 64 + approxBytes(body.data, 5);
}

const actionBytes = new WeakMap<object, number>();

function approxBytes(value: unknown, depth: number): number {
  if (typeof value === 'string') return 16 + value.length;
  if (typeof value !== 'object' || value === null) return 8;
  if (depth === 0) return 64;
  let n = 32;
  if (Array.isArray(value)) {
    const sampled = Math.min(value.length, SAMPLED_ELEMENTS);
    let head = 0;
    for (let i = 0; i < sampled; i++) head += approxBytes(value[i], depth - 1);
    return sampled === value.length ? n + head : n + Math.ceil((head / sampled) * value.length);
  }
  const record = value as Record<string, unknown>;
  for (const key in record) n += key.length + approxBytes(record[key], depth - 1);
  return n;
}
