import type { WebSocket } from 'ws';
import type { Action, K8sPortForwardResultDetail } from '@airlock/shared';
import { isFrameError, type ExecSubprotocol } from './codec.js';
import { bothClosed } from './both-closed.js';
import { StreamIdleTimer, idleStreamMessage } from './idle-timer.js';
import { PortForwardSession, parsePorts } from './portforward-session.js';
import type { K8sUpgradeContext } from './types.js';
import { maskUpstreamText } from './upstream-text.js';

const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_NORMAL = 1000;

/**
 * The shell around PortForwardSession: messages pass both ways unchanged with backpressure, bytes
 * are counted per port, and the result is recorded once either side closed (the other is closed too).
 */
export function relayPortForward(agent: WebSocket, upstream: WebSocket, protocol: ExecSubprotocol, ctx: K8sUpgradeContext, action: Action): Promise<void> {
  const { clock, limits, logger } = ctx.context;
  const started = clock.now();
  const ports = parsePorts(ctx.described.classification.ports ?? []);
  return new Promise((resolve) => {
    let finished = false;
    const session = isFrameError(ports) ? undefined : new PortForwardSession(protocol, ports, { agentMaxBytes: limits.maxMessageBytes, upstreamMaxBytes: limits.upstreamMessageBytes }, (text) => maskUpstreamText(ctx, text));

    const finish = (closedBy: K8sPortForwardResultDetail['closedBy'], problem?: string): void => {
      if (finished) return;
      finished = true;
      idle.stop();
      // a limit is not the protocol's fault: a normal close whose reason says which limit
      const code = problem && closedBy !== 'limit' ? CLOSE_PROTOCOL_ERROR : CLOSE_NORMAL;
      for (const ws of [agent, upstream]) if (ws.readyState === ws.OPEN) ws.close(code, (problem ?? '').slice(0, 120));
      const detail: K8sPortForwardResultDetail = session ? session.result(closedBy) : { ports: [], ...(closedBy ? { closedBy } : {}) };
      const moved = detail.ports.map((p) => `${p.port}: ${p.bytesUp} up, ${p.bytesDown} down`).join('; ');
      ctx.context.pipeline
        .recordResult(ctx.session, action, {
          summary: `port-forward ${ctx.described.info.name}: ${moved || 'no bytes'}${problem ? ` (${problem})` : ''}`,
          durationMs: clock.now() - started,
          ...(problem ? { error: problem } : {}),
          detail: detail as unknown as Record<string, unknown>,
        })
        .catch((err: Error) => logger.error(`could not record the result of action ${action.id}: ${err.message}`))
        .finally(() => void bothClosed(agent, upstream, clock, limits.authTimeoutMs).then(resolve));
    };
    // limits.idleTimeout: no bytes either way; a side paused for backpressure still has bytes on their way
    const idle = new StreamIdleTimer(
      clock,
      limits.idleTimeoutMs,
      () => {
        const message = idleStreamMessage(ctx.target.name, 'port-forward', limits.idleTimeoutMs);
        logger.info(`target "${ctx.target.name}", session ${ctx.session.id}, action ${action.id}: ${message}`);
        finish('limit', message);
      },
      () => agent.isPaused || upstream.isPaused || agent.bufferedAmount > 0 || upstream.bufferedAmount > 0,
    );
    if (!session) return finish('error', (ports as { error: string }).error);

    const pipe = (from: WebSocket, to: WebSocket, step: (m: Buffer, b: boolean) => Buffer | { error: string }, who: string): void => {
      from.on('message', (data: Buffer, isBinary: boolean) => {
        if (finished) return;
        idle.touch();
        const out = step(data, isBinary);
        if (isFrameError(out)) return finish('error', `${who} sent ${out.error}`);
        if (to.readyState !== to.OPEN) return;
        to.send(out, { binary: true }, () => {
          if (from.isPaused && to.bufferedAmount <= limits.bufferBytes) from.resume();
        });
        if (to.bufferedAmount > limits.bufferBytes && !from.isPaused) from.pause();
      });
    };
    pipe(agent, upstream, (m, b) => session.fromAgent(m, b), 'the agent');
    pipe(upstream, agent, (m, b) => session.fromUpstream(m, b), 'the API server');
    agent.once('close', () => finish('agent'));
    upstream.once('close', () => finish('upstream'));
    agent.on('error', (err) => finish('agent', err.message));
    upstream.on('error', (err) => finish('upstream', err.message));
  });
}
