import { randomBytes } from 'node:crypto';
import type { AirlockEvent, AirlockEventBody } from '@airlock/shared';
import { isoNow } from '../util/time.js';

export type EventListener = (event: AirlockEvent) => void;

/**
 * The daemon's in-process event bus. Keeps the newest events in a ring so an SSE client that
 * reconnects with Last-Event-ID gets what it missed; ids restart with each daemon run, so the
 * stream id carries the run id too.
 */
export class EventBus {
  readonly runId = randomBytes(4).toString('hex');
  private nextId = 1;
  private readonly ring: (AirlockEvent | undefined)[];
  private readonly listeners = new Set<EventListener>();

  /**
   * 1,000 events: minutes of an agent's interactive work, for a client that reconnects; further back
   * it gets `resync`. Not more: each kept event holds its action or result objects, and with 10,000
   * every proxied statement's objects outlived the young generation under load (user CPU per pgbench
   * transaction 87 → 78 µs over six interleaved runs; a later A/B against the old build was within
   * the machine's noise).
   */
  constructor(private readonly capacity = 1_000) {
    this.ring = new Array<AirlockEvent | undefined>(capacity);
  }

  publish(body: AirlockEventBody): AirlockEvent {
    // built with a fixed shape rather than spread: this runs several times per proxied statement
    const event = { type: body.type, data: body.data, id: this.nextId++, ts: isoNow() } as AirlockEvent;
    this.ring[event.id % this.capacity] = event;
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
    if (id < 0 || last - id > this.capacity) return null;
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
