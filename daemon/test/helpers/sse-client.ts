import http from 'node:http';
import { SseParser } from '@airlock/shared';

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
  receivedAt: bigint;
}

/**
 * A minimal EventSource for tests, on the shared SseParser (comments counted as heartbeats), so tests
 * can assert on exactly what went over the wire.
 */
export class SseTestClient {
  readonly messages: SseMessage[] = [];
  heartbeats = 0;
  private req?: http.ClientRequest;
  private waiters: { predicate: (m: SseMessage) => boolean; resolve: (m: SseMessage) => void }[] = [];
  status = 0;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly lastEventId?: string,
  ) {}

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' };
      if (this.lastEventId) headers['last-event-id'] = this.lastEventId;
      this.req = http.get(this.url, { headers }, (res) => {
        this.status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        const parser = new SseParser();
        res.on('data', (chunk: string) => {
          for (const m of parser.push(chunk)) this.dispatch({ ...m, receivedAt: process.hrtime.bigint() });
          this.heartbeats = parser.comments;
        });
        resolve();
      });
      this.req.on('error', reject);
    });
  }

  /** Resolves with the first message (already received or future) that matches. */
  waitFor(predicate: (m: SseMessage) => boolean, timeoutMs = 10_000): Promise<SseMessage> {
    const seen = this.messages.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching SSE message within ${timeoutMs}ms; got: ${this.messages.map((m) => m.event).join(', ')}`)), timeoutMs);
      this.waiters.push({
        predicate,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  close(): void {
    this.req?.destroy();
  }

  get lastId(): string | undefined {
    return [...this.messages].reverse().find((m) => m.id)?.id;
  }

  private dispatch(message: SseMessage): void {
    this.messages.push(message);
    this.waiters = this.waiters.filter((w) => {
      if (!w.predicate(message)) return true;
      w.resolve(message);
      return false;
    });
  }
}
