import type { Request, Response } from 'express';
import type { AirlockEvent } from '@airlock/shared';
import type { EventBus } from '../events/bus.js';

export interface SseOptions {
  heartbeatMs: number;
  /** a client this far behind (bytes buffered in the socket) is dropped; it resumes with Last-Event-ID */
  maxBufferedBytes: number;
}

/**
 * GET /v1/events: every bus event as `id: <run>.<n>`, `event: <type>`, `data: <json>`. A client
 * that reconnects with Last-Event-ID gets what it missed, or a `resync` event when the daemon
 * restarted or no longer keeps those events; comments keep idle proxies from closing the stream.
 */
export function streamEvents(bus: EventBus, options: SseOptions) {
  return (req: Request, res: Response): void => {
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    req.socket.setNoDelay(true);
    req.socket.setKeepAlive(true);
    res.write('retry: 1000\n\n');

    const send = (event: AirlockEvent): void => {
      res.write(`id: ${bus.streamId(event)}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      if (res.socket && res.socket.writableLength > options.maxBufferedBytes) {
        res.destroy();
      }
    };
    // subscribe before replaying so nothing published in between is lost; replayed ids are skipped live
    let replayedUpTo = 0;
    const subscription = bus.subscribe((event) => {
      if (event.id > replayedUpTo) send(event);
    });

    const lastEventId = headerValue(req.headers['last-event-id']) ?? (typeof req.query.lastEventId === 'string' ? req.query.lastEventId : undefined);
    if (lastEventId !== undefined && lastEventId !== '') {
      const after = bus.parseStreamId(lastEventId);
      const missed = after === null ? null : bus.since(after);
      if (missed === null) {
        const reason = after === null ? 'the daemon restarted since that event' : 'the daemon no longer keeps events that old';
        res.write(`event: resync\ndata: ${JSON.stringify({ id: 0, ts: new Date().toISOString(), type: 'resync', data: { reason } })}\n\n`);
      } else {
        for (const event of missed) send(event);
        replayedUpTo = missed.length > 0 ? missed[missed.length - 1]!.id : 0;
      }
    }

    const heartbeat = setInterval(() => res.write(`: heartbeat ${Date.now()}\n\n`), options.heartbeatMs);
    const stop = (): void => {
      clearInterval(heartbeat);
      subscription.dispose();
    };
    req.on('close', stop);
    res.on('error', stop);
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
