import http from 'node:http';
import { AirlockEvent, SseParser, type AirlockEvent as AirlockEventType, type DaemonInfo } from '@airlock/shared';

export interface EventStreamListener {
  /** a validated event, in order */
  onEvent(event: AirlockEventType): void;
  /** connected (again): `resumed` when the daemon replayed what was missed, false when state must be refetched */
  onConnected(resumed: boolean): void;
  onDisconnected(reason: string): void;
  /** an event that failed validation: shown, never applied */
  onInvalid?(reason: string): void;
}

/**
 * Follows GET /v1/events: reconnects with backoff and Last-Event-ID, so nothing is missed while
 * the daemon keeps running; a `resync` event (or a first connection) tells the caller to refetch.
 */
export class EventStream {
  private request?: http.ClientRequest;
  private timer?: NodeJS.Timeout;
  private lastEventId?: string;
  private attempt = 0;
  private stopped = false;

  constructor(
    private readonly info: DaemonInfo,
    private readonly listener: EventStreamListener,
    private readonly backoffMs: (attempt: number) => number = (n) => Math.min(250 * 2 ** n, 10_000),
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  dispose(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.request?.destroy();
  }

  private connect(): void {
    const headers: Record<string, string> = { authorization: `Bearer ${this.info.token}`, accept: 'text/event-stream' };
    const resuming = this.lastEventId !== undefined;
    if (this.lastEventId) headers['last-event-id'] = this.lastEventId;
    const req = http.get({ host: this.info.host, port: this.info.port, path: '/v1/events', headers }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        this.retry(`the daemon answered ${res.statusCode} to the event stream`);
        return;
      }
      this.attempt = 0;
      res.setEncoding('utf8');
      const parser = new SseParser();
      let announced = false;
      const announce = (resumed: boolean) => {
        if (announced) return;
        announced = true;
        this.listener.onConnected(resumed);
      };
      // a fresh stream says nothing until an event happens: announce at once unless we are resuming
      if (!resuming) announce(false);
      res.on('data', (chunk: string) => {
        for (const message of parser.push(chunk)) {
          if (message.event === 'resync') {
            announce(false);
            continue;
          }
          let json: unknown;
          try {
            json = JSON.parse(message.data);
          } catch {
            this.listener.onInvalid?.(`event "${message.event}" is not JSON`);
            continue;
          }
          const parsed = AirlockEvent.safeParse(json);
          if (!parsed.success) {
            this.listener.onInvalid?.(`event "${message.event}" does not match the schema`);
            continue;
          }
          announce(true);
          if (message.id) this.lastEventId = message.id;
          this.listener.onEvent(parsed.data as AirlockEventType);
        }
        if (parser.comments > 0) announce(true);
      });
      res.on('end', () => this.retry('the daemon closed the event stream'));
      res.on('error', (err) => this.retry(err.message));
    });
    req.on('error', (err) => this.retry(err.message));
    this.request = req;
  }

  private retry(reason: string): void {
    if (this.stopped) return;
    this.request?.destroy();
    this.listener.onDisconnected(reason);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), this.backoffMs(this.attempt++));
  }
}
