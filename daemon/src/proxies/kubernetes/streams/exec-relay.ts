import type { WebSocket } from 'ws';
import type { Action, K8sExecResultDetail } from '@airlock/shared';
import { isFrameError, type ExecSubprotocol } from './codec.js';
import { ExecSession } from './exec-session.js';
import { bothClosed } from './both-closed.js';
import { StreamIdleTimer, idleStreamMessage } from './idle-timer.js';
import type { K8sUpgradeContext } from './types.js';

/** Held-back output is released after this much quiet, so a prompt is not kept from the agent (as the SSH adapter does). */
const QUIET_FLUSH_MS = 50;

/** WebSocket close code for a protocol error (RFC 6455). */
const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_NORMAL = 1000;

/**
 * The shell around ExecSession: two open WebSockets (the agent's, answered by the daemon; the
 * upstream's, dialled with the daemon's credential), messages through the session both ways with
 * backpressure (a side whose send buffer is over limits.bufferBytes stops the other from being
 * read until it drained), held output flushed after a quiet time, and the result recorded once
 * either side closed (the other is then closed too). Resolves when both are closed and the result
 * was handed to the pipeline.
 */
export function relayExec(agent: WebSocket, upstream: WebSocket, protocol: ExecSubprotocol, ctx: K8sUpgradeContext, action: Action): Promise<void> {
  const { clock, limits, logger } = ctx.context;
  const started = clock.now();
  const exec = ctx.described.classification.exec;
  const session = new ExecSession({
    protocol,
    masker: ctx.context.masking(ctx.target.name),
    secrets: ctx.secrets ?? [],
    agentMaxBytes: limits.maxMessageBytes,
    upstreamMaxBytes: limits.upstreamMessageBytes,
    clipBytes: limits.recordedBytesPerClip,
    startMs: started,
    title: ctx.described.classification.summary,
  });
  let quiet: { cancel(): void } | undefined;
  let finished = false;

  return new Promise((resolve) => {
    const send = (to: WebSocket, from: WebSocket, frames: Buffer[]): void => {
      for (const frame of frames) {
        if (to.readyState !== to.OPEN) return;
        to.send(frame, { binary: true }, () => {
          if (from.isPaused && to.bufferedAmount <= limits.bufferBytes) from.resume();
        });
      }
      // the receiver is not keeping up: stop reading the sender until its buffer drained
      if (to.bufferedAmount > limits.bufferBytes && !from.isPaused) from.pause();
    };

    const finish = (closedBy: K8sExecResultDetail['closedBy'], problem?: string): void => {
      if (finished) return;
      finished = true;
      quiet?.cancel();
      idle.stop();
      if (agent.readyState === agent.OPEN) send(agent, upstream, session.flush(clock.now(), true));
      // a limit was told on the error channel already: the stream itself ends normally
      const code = problem && closedBy !== 'limit' ? CLOSE_PROTOCOL_ERROR : CLOSE_NORMAL;
      const reason = problem ? problem.slice(0, 120) : '';
      if (agent.readyState === agent.OPEN || agent.readyState === agent.CONNECTING) agent.close(code, reason);
      if (upstream.readyState === upstream.OPEN || upstream.readyState === upstream.CONNECTING) upstream.close(code, reason);
      const detail = session.result(clock.now(), closedBy, problem);
      const report = session.report;
      const what = exec?.command.length ? exec.command.join(' ') : ctx.described.info.path;
      const summary =
        detail.exitCode !== undefined ? `${what}: exit ${detail.exitCode}` : `${what}: ended without an exit status (closed by ${closedBy}${problem ? `: ${problem}` : ''})`;
      ctx.context.pipeline
        .recordResult(ctx.session, action, {
          summary,
          durationMs: clock.now() - started,
          ...(detail.error !== undefined && detail.exitCode === undefined ? { error: detail.error } : {}),
          ...(report.changed ? { maskReport: report.toReport() } : {}),
          detail: detail as unknown as Record<string, unknown>,
        })
        .catch((err: Error) => logger.error(`could not record the result of action ${action.id}: ${err.message}`))
        .finally(() => void bothClosed(agent, upstream, clock, limits.authTimeoutMs).then(resolve));
    };

    // limits.idleTimeout: no bytes either way; a side paused for backpressure still has bytes on their way
    const operation = ctx.described.info.connect === 'attach' ? 'attach' : 'exec';
    const idle = new StreamIdleTimer(
      clock,
      limits.idleTimeoutMs,
      () => {
        const message = idleStreamMessage(ctx.target.name, operation, limits.idleTimeoutMs);
        logger.info(`target "${ctx.target.name}", session ${ctx.session.id}, action ${action.id}: ${message}`);
        if (agent.readyState === agent.OPEN) send(agent, upstream, session.endWithStatus(message, 'Timeout', clock.now()));
        finish('limit', message);
      },
      () => agent.isPaused || upstream.isPaused || agent.bufferedAmount > 0 || upstream.bufferedAmount > 0,
    );

    agent.on('message', (data: Buffer, isBinary: boolean) => {
      if (finished) return;
      idle.touch();
      const out = session.fromAgent(data, isBinary, clock.now());
      if (isFrameError(out)) return finish('error', `the agent sent ${out.error}`);
      send(upstream, agent, out);
    });
    upstream.on('message', (data: Buffer, isBinary: boolean) => {
      if (finished) return;
      idle.touch();
      const out = session.fromUpstream(data, isBinary, clock.now());
      if (isFrameError(out)) return finish('error', `the API server sent ${out.error}`);
      send(agent, upstream, out);
      quiet?.cancel();
      quiet = undefined;
      if (session.held > 0) quiet = clock.setTimeout(() => send(agent, upstream, session.flush(clock.now(), false)), QUIET_FLUSH_MS);
    });
    agent.once('close', () => finish(session.exited ? 'upstream' : 'agent'));
    upstream.once('close', (code: number) => finish('upstream', code === CLOSE_NORMAL || session.exited ? undefined : `the API server closed the stream (code ${code})`));
    agent.on('error', (err) => finish('agent', err.message));
    upstream.on('error', (err) => finish('upstream', err.message));
  });
}
