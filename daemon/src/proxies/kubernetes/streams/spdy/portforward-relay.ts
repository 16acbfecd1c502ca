import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Action, K8sPortForwardResultDetail, Verdict } from '@airlock/shared';
import { StreamIdleTimer, idleStreamMessage } from '../idle-timer.js';
import type { K8sUpgradeContext } from '../types.js';
import { readRefusalBody } from '../upstream-socket.js';
import { maskUpstreamText } from '../upstream-text.js';
import { GOAWAY_STATUS, SPDY_MAX_FRAME_LENGTH, SpdyFrameReader, SpdyFrameWriter, type SpdyRawFrame } from './frames.js';
import { SpdyPortForwardSession, type SpdyPortForwardEffect } from './portforward-session.js';

export const V4_PORTFORWARD_PROTOCOL = 'v4.channel.k8s.io';

/** What the upgrade hands the SPDY port-forward shell. */
export interface SpdyPortForwardOptions {
  /** the action decided at the upgrade (its `?ports=`), whose ports are allowed; absent when each port is decided as it comes */
  upgradeAction?: { action: Action; ports: number[] };
  /** Puts one port to policy (an action of its own, as `?ports=PORT`). */
  decidePort(port: number, gone: AbortSignal): Promise<{ action: Action; verdict: Verdict } | { error: string }>;
  /** The sentence for a refusal. */
  refusalMessage(verdict: Verdict): string;
  /** The upstream's refusal of a WebSocket (its Status body) as one sentence, masked and bounded. */
  upstreamRefusal(code: number, body: Buffer): string;
}

/**
 * The shell around SpdyPortForwardSession: reads SPDY frames from the agent (a TLS socket after a
 * plain `Upgrade: SPDY/3.1`, or a stream over the WebSocket of `SPDY/3.1+portforward.k8s.io`),
 * opens one upstream v4 WebSocket per request, puts ports to policy, enforces the buffers and the
 * idle timeout, and records one result per decided action when the connection ends. Never throws.
 */
export function relaySpdyPortForward(agent: Duplex, head: Buffer, ctx: K8sUpgradeContext, options: SpdyPortForwardOptions): Promise<void> {
  const { clock, limits, logger, pipeline } = ctx.context;
  const where = `target "${ctx.target.name}", session ${ctx.session.id}`;
  const started = clock.now();
  const reader = new SpdyFrameReader({ maxFrameBytes: Math.min(limits.maxMessageBytes, SPDY_MAX_FRAME_LENGTH), maxBlockBytes: limits.actionTextBytes, maxPairs: limits.maxChannelsPerConnection });
  const writer = new SpdyFrameWriter();
  const decided = new Map<number, { state: 'allowed' }>();
  for (const port of options.upgradeAction?.ports ?? []) decided.set(port, { state: 'allowed' });
  // a forwarded connection is a channel, as an SSH direct-tcpip channel is: two SPDY streams each
  const session = new SpdyPortForwardSession({ maxStreams: 2 * limits.maxChannelsPerConnection, maxPorts: limits.maxChannelsPerConnection, maxErrorBytes: limits.actionTextBytes }, decided, !options.upgradeAction, (text) => maskUpstreamText(ctx, text));
  const actions: { action: Action; ports: number[] }[] = options.upgradeAction ? [options.upgradeAction] : [];
  const upstreams = new Map<string, WebSocket>();
  const gone = new AbortController();

  return new Promise((resolve) => {
    let finished = false;
    let agentPausedForUpstream = false;
    let ending: { closedBy: K8sPortForwardResultDetail['closedBy']; error: string } | undefined;

    const finish = (closedBy: K8sPortForwardResultDetail['closedBy'], problem?: string): void => {
      if (finished) return;
      finished = true;
      idle.stop();
      gone.abort();
      for (const ws of upstreams.values()) ws.terminate();
      upstreams.clear();
      reader.close();
      if (!agent.destroyed) agent.end();
      if (problem) logger.info(`${where}: the port-forward ended: ${problem}`);
      const records = actions.map(({ action, ports }) => {
        const detail = session.result(ports, closedBy);
        const moved = detail.ports.map((p) => `${p.port}: ${p.bytesUp} up, ${p.bytesDown} down`).join('; ');
        return pipeline
          .recordResult(ctx.session, action, {
            summary: `port-forward ${ctx.described.info.name}: ${moved || 'no bytes'}${problem ? ` (${problem})` : ''}`,
            durationMs: clock.now() - started,
            ...(problem ? { error: problem } : {}),
            detail: detail as unknown as Record<string, unknown>,
          })
          .catch((err: Error) => logger.error(`could not record the result of action ${action.id}: ${err.message}`));
      });
      void Promise.all(records).then(() => resolve());
    };

    // limits.idleTimeout: no bytes either way; a request whose upstream is still full is not idle
    const idle = new StreamIdleTimer(
      clock,
      limits.idleTimeoutMs,
      () => apply(session.shutdown(idleStreamMessage(ctx.target.name, 'port-forward', limits.idleTimeoutMs))),
      () => agentPausedForUpstream,
    );
    const moved = (): void => idle.touch();

    /** Reads the agent again once nothing waits above the buffer limit. */
    const maybeResumeAgent = (): void => {
      if (!agentPausedForUpstream || finished) return;
      // a frame whose header block is inflating holds the agent until it is handled
      if (inflating) return;
      if (session.heldBytes() > limits.bufferBytes) return;
      for (const ws of upstreams.values()) if (ws.bufferedAmount > limits.bufferBytes) return;
      agentPausedForUpstream = false;
      agent.resume();
    };
    const checkAgentBackpressure = (): void => {
      if (agentPausedForUpstream) return;
      let over = session.heldBytes() > limits.bufferBytes;
      for (const ws of upstreams.values()) if (ws.bufferedAmount > limits.bufferBytes) over = true;
      if (over) {
        agentPausedForUpstream = true;
        agent.pause();
      }
    };

    const toAgent = (bytes: Buffer): void => {
      if (agent.destroyed || !agent.writable) return;
      if (!agent.write(bytes)) for (const ws of upstreams.values()) ws.pause();
    };
    agent.on('drain', () => {
      for (const ws of upstreams.values()) ws.resume();
    });

    const apply = (effects: SpdyPortForwardEffect[]): void => {
      for (const effect of effects) {
        if (finished) return;
        switch (effect.kind) {
          case 'to-agent':
            toAgent(writer.encode(effect.frame));
            break;
          case 'decide':
            decide(effect.port);
            break;
          case 'open-upstream':
            openUpstream(effect.requestId, effect.port);
            break;
          case 'to-upstream': {
            const ws = upstreams.get(effect.requestId);
            if (ws && ws.readyState === ws.OPEN) ws.send(effect.message, { binary: true }, maybeResumeAgent);
            break;
          }
          case 'close-upstream': {
            const ws = upstreams.get(effect.requestId);
            if (ws && ws.readyState === ws.OPEN) ws.close(1000);
            else if (ws) ws.terminate();
            break;
          }
          case 'end':
            if (!effect.linger) {
              finish(effect.closedBy, effect.error);
              break;
            }
            ending = { closedBy: effect.closedBy, error: effect.error };
            for (const ws of upstreams.values()) ws.terminate();
            clock.setTimeout(() => finish(effect.closedBy, effect.error), limits.authTimeoutMs);
            break;
        }
      }
      checkAgentBackpressure();
    };

    const decide = (port: number): void => {
      options
        .decidePort(port, gone.signal)
        .then((outcome) => {
          if (finished) {
            // allowed after kubectl went away: the action gets a result saying nothing ran
            if (!('error' in outcome) && outcome.verdict.allowed) {
              const message = 'the agent went away before the port was forwarded';
              pipeline
                .recordResult(ctx.session, outcome.action, { summary: `not run: ${message}`, error: message, detail: { ports: [{ port: String(port), bytesUp: 0, bytesDown: 0 }], closedBy: 'agent' } })
                .catch((err: Error) => logger.error(`could not record the result of action ${outcome.action.id}: ${err.message}`));
            }
            return;
          }
          if ('error' in outcome) return apply(session.decided(port, false, outcome.error));
          if (outcome.verdict.allowed) actions.push({ action: outcome.action, ports: [port] });
          apply(session.decided(port, outcome.verdict.allowed, outcome.verdict.allowed ? undefined : options.refusalMessage(outcome.verdict)));
          maybeResumeAgent();
        })
        .catch((err: Error) => {
          // a decision cancelled because the agent went away is no error
          if (finished) return;
          logger.error(`${where}: could not decide on port ${port}: ${err.message}`);
          apply(session.decided(port, false, `Airlock could not decide on port ${port}`));
        });
    };

    const openUpstream = (requestId: string, port: number): void => {
      let ws: WebSocket;
      try {
        ws = ctx.openUpstream([V4_PORTFORWARD_PROTOCOL], { maxPayload: limits.upstreamMessageBytes, handshakeTimeout: limits.connectTimeoutMs }, [...ctx.described.info.query.filter(([name]) => name !== 'ports'), ['ports', String(port)]]);
      } catch (err) {
        return apply(session.upstreamFailed(requestId, `Airlock could not reach the Kubernetes API server of target "${ctx.target.name}": ${(err as Error).message}`));
      }
      upstreams.set(requestId, ws);
      let over = false;
      const done = (effects: () => SpdyPortForwardEffect[]): void => {
        if (over) return;
        over = true;
        upstreams.delete(requestId);
        apply(effects());
        maybeResumeAgent();
      };
      ws.once('unexpected-response', (_request, response) => {
        readRefusalBody(response, limits.actionTextBytes, (body) => {
          ws.terminate();
          done(() => session.upstreamFailed(requestId, options.upstreamRefusal(response.statusCode ?? 502, body)));
        });
      });
      ws.once('error', (err) => done(() => session.upstreamFailed(requestId, `Airlock could not open port ${port} on target "${ctx.target.name}": ${err.message}`)));
      ws.once('open', () => {
        if (over) return;
        if (ws.protocol !== V4_PORTFORWARD_PROTOCOL) {
          ws.terminate();
          return done(() => session.upstreamFailed(requestId, `the Kubernetes API server of target "${ctx.target.name}" chose the subprotocol "${ws.protocol}", not ${V4_PORTFORWARD_PROTOCOL}`));
        }
        apply(session.upstreamOpened(requestId));
        maybeResumeAgent();
      });
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (over) return;
        moved();
        apply(session.upstreamMessage(requestId, data, isBinary));
      });
      ws.once('close', (code, reason) => done(() => session.upstreamClosed(requestId, code === 1000 || code === 1005 ? undefined : `the API server closed port ${port} (WebSocket ${code}${reason.length ? ` ${reason.toString('utf8')}` : ''})`)));
    };

    const protocolError = (error: string): void => {
      toAgent(writer.encode({ type: 'goaway', lastGoodStreamId: 0, status: GOAWAY_STATUS.protocolError }));
      finish('error', `the agent sent ${error}`);
    };
    // frames are handled in order; one whose header block is being inflated holds those behind it
    // (the agent is not read meanwhile, so what waits is bounded by one read)
    const queue: SpdyRawFrame[] = [];
    let inflating = false;
    const drain = (): void => {
      while (queue.length > 0 && !inflating && !finished) {
        const raw = queue.shift()!;
        if (!('block' in raw)) {
          apply(session.fromAgent(raw));
          continue;
        }
        inflating = true;
        agent.pause();
        void reader.decodeHeaders(raw).then((frame) => {
          inflating = false;
          if (finished) return;
          if ('error' in frame) return protocolError(frame.error);
          apply(session.fromAgent(frame));
          drain();
          if (!inflating && !agentPausedForUpstream && !finished) agent.resume();
        });
      }
    };
    const fromAgent = (chunk: Buffer): void => {
      if (finished) return;
      moved();
      const frames = reader.push(chunk);
      if ('error' in frames) return protocolError(frames.error);
      queue.push(...frames);
      drain();
    };

    agent.on('data', fromAgent);
    // after the session ended (idle timeout), the agent closing is how it ends: recorded as the session's end
    const agentGone = (problem?: string): void => finish(ending?.closedBy ?? 'agent', ending?.error ?? problem);
    agent.once('end', () => agentGone());
    agent.once('close', () => agentGone());
    agent.on('error', (err) => agentGone(err.message));
    if (head.length > 0) fromAgent(head);
    agent.resume();
  });
}
