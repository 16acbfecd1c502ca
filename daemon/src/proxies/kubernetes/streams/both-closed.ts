import type { WebSocket } from 'ws';
import type { Clock } from '../../../util/time.js';

/**
 * Resolves once both WebSockets of a relayed stream are closed; a side that does not complete the
 * closing handshake within `graceMs` is terminated, so a relay always ends.
 */
export function bothClosed(agent: WebSocket, upstream: WebSocket, clock: Clock, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const stop = clock.setTimeout(() => {
      agent.terminate();
      upstream.terminate();
    }, graceMs);
    let open = 2;
    const closed = (): void => {
      if (--open > 0) return;
      stop.cancel();
      resolve();
    };
    for (const ws of [agent, upstream]) {
      if (ws.readyState === ws.CLOSED) closed();
      else ws.once('close', closed);
    }
  });
}
