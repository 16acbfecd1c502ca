import type net from 'node:net';
import type { Action, AgentSession, HttpConnectDetail, HttpTunnelResultDetail, Verdict } from '@airlock/shared';
import type { ActionRequest } from '../../pipeline/pipeline.js';
import { classifyConnect } from '../../classify/http/index.js';
import { hostPort, type ProxyDestination } from './authority.js';
import { checkDestination, dialChecked, type CheckedDestination } from './destination.js';
import { policyRefusal, upstreamFailed, writeRawReply } from './responses.js';
import type { AgentSocket, EgressDeps } from './listener.js';

export interface TunnelRequest {
  connection: AgentSocket;
  session: AgentSession;
  destination: ProxyDestination;
  /** the agent's socket, paused: nothing is read from it until the tunnel is open */
  socket: net.Socket;
  /** bytes the agent sent after the CONNECT head (a client that does not wait for the 200) */
  head: Buffer;
}

type ClosedBy = NonNullable<HttpTunnelResultDetail['closedBy']>;

const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';

/** The `http.connect` action of a checked destination. */
export function connectAction(deps: EgressDeps, connectionId: string, checked: CheckedDestination): ActionRequest {
  const classification = classifyConnect(checked.host, checked.port, checked.verdict);
  const detail: HttpConnectDetail = { via: 'egress', connectionId, host: checked.host, port: checked.port, addresses: checked.addresses, destination: checked.verdict.destination };
  return {
    target: deps.target.name,
    protocol: 'egress',
    kind: 'http.connect',
    summary: classification.summary,
    risk: classification.risk,
    attributes: classification.attributes,
    detail,
    grantKey: hostPort(checked),
  };
}

/**
 * One CONNECT: the destination resolved and checked, the action decided (held ones wait with the
 * agent's socket unread), then a connection to exactly the checked address and bytes relayed both
 * ways as they are, counted; the count and who closed it are recorded when it ends.
 */
export async function openTunnel(deps: EgressDeps, request: TunnelRequest): Promise<void> {
  const { context, target } = deps;
  const { socket, session } = request;
  const logger = context.logger.child(`connection ${request.connection.id}`);
  const gone = new AbortController();
  const early = new EarlyBytes(socket, request.head, context.limits.bufferBytes, () => gone.abort());

  const check = await checkDestination(request.destination, target, deps.resolve, context.daemonPorts?.() ?? []);
  if (!check.ok) {
    early.stop();
    return writeRawReply(socket, upstreamFailed(`target "${target.name}": ${check.reason}`));
  }
  const checked = check.checked;
  const actionRequest = connectAction(deps, request.connection.id, checked);
  const refuse = checked.verdict.refuse === undefined ? undefined : { ruleId: 'egress-internal', reason: checked.verdict.refuse };

  let decided: { action: Action; verdict: Verdict };
  try {
    decided = context.pipeline.submitNow(session, actionRequest, refuse) ?? (await context.pipeline.submit(session, actionRequest, { signal: gone.signal, refuse }));
  } catch (err) {
    logger.error(`could not decide CONNECT ${hostPort(checked)}: ${(err as Error).message}`);
    early.stop();
    return writeRawReply(socket, upstreamFailed(`target "${target.name}": Airlock could not decide on CONNECT ${hostPort(checked)}: ${(err as Error).message}`));
  }
  const { action, verdict } = decided;
  if (!verdict.allowed) {
    early.stop();
    return writeRawReply(socket, policyRefusal(action, verdict));
  }
  if (gone.signal.aborted) {
    void recordTunnel(deps, session, action, { bytesUp: 0, bytesDown: 0, closedBy: 'agent' }, 0, 'not opened: the agent went away before the decision');
    return;
  }

  const started = context.clock.now();
  let upstream: net.Socket;
  try {
    upstream = await dialChecked(checked, deps.dial, context.limits.connectTimeoutMs, context.clock, gone.signal);
  } catch (err) {
    const message = (err as Error).message;
    logger.warn(`${action.id}: ${message}`);
    void recordTunnel(deps, session, action, { bytesUp: 0, bytesDown: 0, closedBy: 'error' }, context.clock.now() - started, `not opened: ${message}`, message);
    early.stop();
    return writeRawReply(socket, upstreamFailed(`target "${target.name}": ${message}`, action));
  }
  relay(deps, session, action, socket, upstream, early.stop(), started);
}

/** The open tunnel: the 200, then both directions piped with backpressure; bytes counted by the sockets themselves. */
function relay(deps: EgressDeps, session: AgentSession, action: Action, agent: net.Socket, upstream: net.Socket, early: readonly Buffer[], started: number): void {
  const { context } = deps;
  let closedBy: ClosedBy | undefined;
  let finished = false;
  const entry = { close: (by: 'daemon') => end(by) };
  deps.open.add(entry);

  function end(by: ClosedBy): void {
    closedBy ??= by;
    agent.destroy();
    upstream.destroy();
  }
  const finish = (): void => {
    if (finished || !agent.destroyed || !upstream.destroyed) return;
    finished = true;
    deps.open.delete(entry);
    const detail: HttpTunnelResultDetail = { bytesUp: upstream.bytesWritten, bytesDown: upstream.bytesRead, closedBy: closedBy ?? 'agent' };
    void recordTunnel(deps, session, action, detail, context.clock.now() - started, `${detail.bytesUp} bytes up, ${detail.bytesDown} bytes down, closed by the ${detail.closedBy}`);
  };

  // one side finished sending: the other is told (half-close), and the tunnel ends once both are done
  agent.once('end', () => (closedBy ??= 'agent'));
  upstream.once('end', () => (closedBy ??= 'upstream'));
  agent.on('error', () => end('error'));
  upstream.on('error', () => end('error'));
  agent.once('close', () => {
    closedBy ??= 'agent';
    upstream.end(() => upstream.destroy());
    finish();
  });
  upstream.once('close', () => {
    closedBy ??= 'upstream';
    if (agent.writableEnded) agent.destroy();
    else agent.end(() => agent.destroy());
    finish();
  });
  if (context.limits.idleTimeoutMs > 0) {
    // a socket's timeout restarts on reads and writes: the agent's side sees both directions
    agent.setTimeout(context.limits.idleTimeoutMs);
    agent.once('timeout', () => {
      context.logger.info(`${action.id}: tunnel closed: no traffic for ${context.limits.idleTimeoutMs} ms (limits.idleTimeout)`);
      end('limit');
    });
  }
  agent.write(ESTABLISHED);
  for (const chunk of early) upstream.write(chunk);
  agent.pipe(upstream);
  upstream.pipe(agent);
  agent.resume();
}

function recordTunnel(deps: EgressDeps, session: AgentSession, action: Action, detail: HttpTunnelResultDetail, durationMs: number, summary: string, error?: string): Promise<void> {
  return deps.context.pipeline.recordResult(session, action, { summary, durationMs, detail, ...(error !== undefined ? { error } : {}) }).catch((err: Error) => {
    deps.context.logger.error(`${action.id}: could not record the tunnel's result: ${err.message}`);
  });
}

/**
 * What the agent sends while its CONNECT waits for a decision and a connection. Clients wait for the
 * 200 and send nothing, so reading costs nothing and lets the daemon see an agent that hangs up (its
 * held approval is then cancelled); a client that sends early (a TLS ClientHello) has its bytes kept,
 * up to limits.bufferBytes, after which the socket is no longer read (TCP holds it back). Nothing
 * is forwarded before the tunnel is allowed and open.
 */
class EarlyBytes {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly onData = (chunk: Buffer): void => {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size >= this.limit) this.socket.pause();
  };
  private readonly onGone: () => void;

  constructor(
    private readonly socket: net.Socket,
    head: Buffer,
    private readonly limit: number,
    gone: () => void,
  ) {
    if (head.length > 0) this.onData(head);
    this.onGone = gone;
    socket.on('error', () => undefined);
    socket.on('data', this.onData);
    socket.once('end', this.onGone);
    socket.once('close', this.onGone);
    if (this.size < limit) socket.resume();
  }

  /** Stops watching; the socket is paused again and the bytes kept are handed over. */
  stop(): Buffer[] {
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onGone);
    this.socket.off('close', this.onGone);
    return this.chunks;
  }
}
