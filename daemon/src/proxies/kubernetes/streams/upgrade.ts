import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';
import type { Action, AgentSession, K8sExecDetail, K8sPortForwardDetail, Verdict } from '@airlock/shared';
import { describeK8sRequest } from '../../../classify/k8s/index.js';
import { headerListOf } from '../../http/headers.js';
import type { ActionRequest } from '../../../pipeline/pipeline.js';
import { EXEC_SUBPROTOCOLS, SPDY_PORTFORWARD_PROTOCOL, SPDY_TUNNEL_PORTFORWARD_PROTOCOL, negotiateExecProtocols, offeredProtocols, type ExecSubprotocol } from './codec.js';
import { relayExec } from './exec-relay.js';
import { relayPortForward } from './portforward-relay.js';
import { parsePorts } from './portforward-session.js';
import { relaySpdyPortForward, type SpdyPortForwardOptions } from './spdy/portforward-relay.js';
import { SPDY_PORTFORWARD_REFUSAL, SPDY_REFUSAL, rawK8sStatus } from './status.js';
import type { K8sUpgradeContext } from './types.js';
import { readRefusalBody } from './upstream-socket.js';
import { maskUpstreamText } from './upstream-text.js';

/**
 * A WebSocket upgrade on a connect request (exec, attach, portforward), after the agent logged in.
 * Policy first: the action (`k8s.exec` or `k8s.portforward`) is decided before the upstream is
 * dialled; while it is held the agent's socket is not read; a refusal is a 403 with a Kubernetes
 * Status before any upgrade (kubectl prints its message). Allowed: the upstream WebSocket is opened
 * with the daemon's credential, offering exactly what the agent offered among v5/v4, and only once
 * it answered is the agent's upgrade completed with the same subprotocol. Never throws.
 *
 * SPDY exec/attach (kubectl before 1.30, or KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false) is refused with
 * a Status that says what to use instead. kubectl's port-forward is SPDY, tunnelled in a WebSocket
 * (`SPDY/3.1+portforward.k8s.io`, kubectl 1.31+, checked with 1.32 -v=8) or, when that upgrade
 * fails or KUBECTL_PORT_FORWARD_WEBSOCKETS=false, plain `Upgrade: SPDY/3.1`: both are terminated
 * here (handleSpdyPortForward). A SPDY request that follows a refusal of the same request in the
 * same session is answered with that refusal, so kubectl prints why it was refused and policy
 * decides once per request.
 */
export async function handleK8sUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: K8sUpgradeContext): Promise<void> {
  socket.on('error', () => socket.destroy());
  const { info } = ctx.described;
  const upgrade = (req.headers.upgrade ?? '').toLowerCase();
  const refusalKey = `${ctx.session.id} ${info.path}?${new URLSearchParams(info.query).toString()}`;
  if (upgrade.startsWith('spdy/')) {
    const earlier = recentRefusals.take(refusalKey, ctx.context.clock.now());
    if (earlier) return void socket.end(earlier);
    if (info.connect === 'portforward' && offeredProtocols(req.headers['x-stream-protocol-version']).includes(SPDY_PORTFORWARD_PROTOCOL) && upgrade === 'spdy/3.1') {
      return handleSpdyPortForward(req, socket, head, ctx, 'plain', refusalKey);
    }
    ctx.context.logger.info(`target "${ctx.target.name}", session ${ctx.session.id}: refused a SPDY upgrade on ${info.path}`);
    return void socket.end(rawK8sStatus(400, 'BadRequest', info.connect === 'portforward' ? SPDY_PORTFORWARD_REFUSAL : SPDY_REFUSAL));
  }
  if (upgrade !== 'websocket') return void socket.end(rawK8sStatus(400, 'BadRequest', `target "${ctx.target.name}" upgrades only to WebSocket (asked: ${req.headers.upgrade ?? 'nothing'})`));
  const connect = info.connect;
  if (connect !== 'exec' && connect !== 'attach' && connect !== 'portforward') {
    return void socket.end(rawK8sStatus(400, 'BadRequest', `target "${ctx.target.name}" upgrades only exec, attach and portforward requests; ${info.path} is not one`));
  }
  const offered = offeredProtocols(req.headers['sec-websocket-protocol']);
  if (connect === 'portforward' && offered.includes(SPDY_TUNNEL_PORTFORWARD_PROTOCOL) && !offered.some((p) => (EXEC_SUBPROTOCOLS as readonly string[]).includes(p))) {
    return handleSpdyPortForward(req, socket, head, ctx, 'websocket', refusalKey);
  }
  const negotiated = negotiateExecProtocols(offered);
  if ('error' in negotiated) return void socket.end(rawK8sStatus(400, 'BadRequest', negotiated.error));

  const request =
    connect === 'portforward'
      ? { kind: 'k8s.portforward', detail: portForwardDetail(ctx, ctx.described) as unknown as Record<string, unknown> }
      : { kind: 'k8s.exec', detail: execDetail(ctx, connect) as unknown as Record<string, unknown> };
  const action = streamAction(ctx, ctx.described, request);

  const decided = await decideUpgrade(socket, ctx, action, refusalKey);
  if (!decided) return;
  await openAndRelay(req, socket, head, ctx, decided.action, negotiated.protocols, connect, refusalKey);
}

/**
 * Puts the upgrade's action to policy while the agent's socket is not read (what it sends waits in
 * TCP). A refusal is answered (403 Status) and kept for kubectl's SPDY retry; undefined then, or
 * when the agent went away meanwhile.
 */
async function decideUpgrade(socket: Duplex, ctx: K8sUpgradeContext, action: ActionRequest, refusalKey: string): Promise<{ action: Action; verdict: Verdict } | undefined> {
  socket.pause();
  const gone = ctx.gone ?? closeSignal(socket);
  const pipeline = ctx.context.pipeline;
  let decided: { action: Action; verdict: Verdict };
  try {
    decided = pipeline.submitNow(ctx.session, action) ?? (await pipeline.submit(ctx.session, action, { signal: gone }));
  } catch (err) {
    ctx.context.logger.error(`target "${ctx.target.name}", session ${ctx.session.id}: could not decide ${action.summary}: ${(err as Error).message}`);
    socket.end(rawK8sStatus(500, 'InternalError', `Airlock could not decide on ${action.summary}`));
    return undefined;
  }
  if (!decided.verdict.allowed) {
    const answer = rawK8sStatus(403, 'Forbidden', refusalMessage(ctx.target.name, decided.verdict), { 'x-airlock-decision': 'deny' });
    recentRefusals.put(refusalKey, answer, ctx.context.clock.now() + ctx.context.limits.authTimeoutMs);
    if (!socket.destroyed) socket.end(answer);
    return undefined;
  }
  if (socket.destroyed) {
    recordNotRun(ctx, decided.action, 'the agent went away before the stream opened');
    return undefined;
  }
  return decided;
}

/** The action of a port-forward (or an exec/attach) as the pipeline takes it. */
function streamAction(ctx: K8sUpgradeContext, described: K8sUpgradeContext['described'], request: { kind: string; detail: Record<string, unknown> }): ActionRequest {
  const { classification } = described;
  return { target: ctx.target.name, protocol: ctx.target.protocol, summary: classification.summary, risk: classification.risk, attributes: classification.attributes, ...request } as ActionRequest;
}

/**
 * kubectl port-forward: SPDY/3.1 terminated here, in a WebSocket (`SPDY/3.1+portforward.k8s.io`)
 * or after a plain `Upgrade: SPDY/3.1`. kubectl sends no `?ports=`: it names the port on each
 * stream, so each port is put to policy when it is first asked for, as an action of its own
 * (classified as the request with `?ports=PORT`, which is exactly what goes upstream). A request
 * that does carry `?ports=` is decided here once, before the upgrade, and other ports are refused.
 */
async function handleSpdyPortForward(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: K8sUpgradeContext, transport: 'websocket' | 'plain', refusalKey: string): Promise<void> {
  const { limits, logger } = ctx.context;
  let upgradeAction: { action: Action; ports: number[] } | undefined;
  if ((ctx.described.classification.ports ?? []).length > 0) {
    const ports = parsePorts(ctx.described.classification.ports ?? []);
    if (!Array.isArray(ports)) return void socket.end(rawK8sStatus(400, 'BadRequest', `target "${ctx.target.name}": ${ports.error}`));
    const decided = await decideUpgrade(socket, ctx, streamAction(ctx, ctx.described, { kind: 'k8s.portforward', detail: { ...portForwardDetail(ctx, ctx.described), protocol: SPDY_PORTFORWARD_PROTOCOL } }), refusalKey);
    if (!decided) return;
    upgradeAction = { action: decided.action, ports };
  }
  const options: SpdyPortForwardOptions = {
    ...(upgradeAction ? { upgradeAction } : {}),
    decidePort: async (port, gone) => {
      const described = describeWithPort(req, port);
      if ('error' in described) return { error: `Airlock cannot describe port ${port}: ${described.error}` };
      const action = streamAction(ctx, described, { kind: 'k8s.portforward', detail: { ...portForwardDetail(ctx, described), protocol: SPDY_PORTFORWARD_PROTOCOL } });
      return ctx.context.pipeline.submitNow(ctx.session, action) ?? (await ctx.context.pipeline.submit(ctx.session, action, { signal: gone }));
    },
    refusalMessage: (verdict) => refusalMessage(ctx.target.name, verdict),
    upstreamRefusal: (code, body) => {
      const said = upstreamStatusMessage(body, ctx);
      return `the Kubernetes API server of target "${ctx.target.name}" refused the port-forward with HTTP ${code}${said ? `: ${said}` : ''}`;
    },
  };
  socket.resume();
  if (transport === 'plain') {
    logger.info(`target "${ctx.target.name}", session ${ctx.session.id}: port-forward over SPDY/3.1 on ${ctx.described.info.path}`);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${SPDY_PORTFORWARD_PROTOCOL}\r\n\r\n`);
    return relaySpdyPortForward(socket, head, ctx, options);
  }
  const server = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes, perMessageDeflate: false });
  // ws refuses "SPDY/3.1+portforward.k8s.io" as a subprotocol token ("/" is a separator in RFC 7230
  // tokens, which Go's WebSocket client does not check): the offer is taken off the request and the
  // chosen protocol put on the 101 by hand
  delete req.headers['sec-websocket-protocol'];
  server.once('headers', (headers) => headers.push(`Sec-WebSocket-Protocol: ${SPDY_TUNNEL_PORTFORWARD_PROTOCOL}`));
  await new Promise<void>((resolve) => {
    server.handleUpgrade(req, socket, head, (agent) => {
      // SPDY bytes in binary messages, any chunking: the WebSocket is read as one byte stream
      const stream = createWebSocketStream(agent);
      stream.on('error', () => stream.destroy());
      void relaySpdyPortForward(stream, Buffer.alloc(0), ctx, options).then(resolve);
    });
  });
}

/** The request as if it carried `?ports=PORT` (and no other ports): what one port's upstream gets. */
function describeWithPort(req: IncomingMessage, port: number): K8sUpgradeContext['described'] | { error: string } {
  const rawUrl = req.url ?? '';
  const q = rawUrl.indexOf('?');
  const kept = [...new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1))].filter(([name]) => name !== 'ports');
  const query: Array<[string, string]> = [...kept, ['ports', String(port)]];
  const rawQuery = new URLSearchParams(query).toString();
  const described = describeK8sRequest({ method: req.method ?? '', path: q < 0 ? rawUrl : rawUrl.slice(0, q), query, rawQuery }, { headers: headerListOf(req.rawHeaders) });
  return 'error' in described ? { error: described.error } : described;
}

/** Dials the upstream, then completes the agent's upgrade with the subprotocol the upstream chose. */
function openAndRelay(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: K8sUpgradeContext, action: Action, protocols: ExecSubprotocol[], connect: 'exec' | 'attach' | 'portforward', refusalKey: string): Promise<void> {
  const { limits, logger, clock } = ctx.context;
  // kubectl retries a failed WebSocket upgrade over SPDY: the retry gets this answer, not the SPDY notice
  const fail = (answer: string): void => {
    recentRefusals.put(refusalKey, answer, clock.now() + limits.authTimeoutMs);
    socket.end(answer);
  };
  return new Promise((resolve) => {
    let upstream: WebSocket;
    try {
      upstream = ctx.openUpstream(protocols, { maxPayload: limits.upstreamMessageBytes, handshakeTimeout: limits.connectTimeoutMs });
    } catch (err) {
      const message = `Airlock could not reach the Kubernetes API server of target "${ctx.target.name}": ${(err as Error).message}`;
      fail(rawK8sStatus(503, 'ServiceUnavailable', message));
      recordNotRun(ctx, action, message);
      return resolve();
    }
    let settled = false;
    const agentGone = (): void => {
      if (settled) return;
      settled = true;
      upstream.terminate();
      recordNotRun(ctx, action, 'the agent went away before the stream opened');
      resolve();
    };
    socket.once('close', agentGone);
    upstream.once('unexpected-response', (_request, response) => {
      if (settled) return;
      settled = true;
      socket.off('close', agentGone);
      const code = response.statusCode ?? 502;
      // the upstream's Status says why (pod not found, container not running): its message, bounded and masked
      readRefusalBody(response, limits.actionTextBytes, (body) => {
        upstream.terminate();
        const said = upstreamStatusMessage(body, ctx);
        const message = `the Kubernetes API server of target "${ctx.target.name}" refused the stream with HTTP ${code}${said ? `: ${said}` : ''}`;
        fail(rawK8sStatus(code >= 400 && code < 600 ? code : 502, code === 403 ? 'Forbidden' : code === 404 ? 'NotFound' : code === 400 ? 'BadRequest' : 'InternalError', message));
        recordNotRun(ctx, action, message);
        resolve();
      });
    });
    upstream.once('error', (err) => {
      if (settled) return;
      settled = true;
      socket.off('close', agentGone);
      const message = `Airlock could not open the stream on target "${ctx.target.name}": ${err.message}`;
      fail(rawK8sStatus(503, 'ServiceUnavailable', message));
      recordNotRun(ctx, action, message);
      resolve();
    });
    upstream.once('open', () => {
      if (settled) return upstream.terminate();
      settled = true;
      socket.off('close', agentGone);
      const chosen = upstream.protocol;
      if (!protocols.includes(chosen as ExecSubprotocol)) {
        upstream.terminate();
        const message = `the Kubernetes API server of target "${ctx.target.name}" chose the subprotocol "${chosen}", which was not offered`;
        fail(rawK8sStatus(502, 'InternalError', message));
        recordNotRun(ctx, action, message);
        return resolve();
      }
      const server = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes, handleProtocols: () => chosen, perMessageDeflate: false });
      // read again: what the agent sent while the decision was pending goes to the stream now
      socket.resume();
      server.handleUpgrade(req, socket, head, (agent) => {
        const protocol = chosen as ExecSubprotocol;
        const done = connect === 'portforward' ? relayPortForward(agent, upstream, protocol, ctx, action) : relayExec(agent, upstream, protocol, ctx, action);
        void done.then(resolve, (err: Error) => {
          logger.error(`target "${ctx.target.name}", action ${action.id}: the stream ended with an error: ${err.message}`);
          resolve();
        });
      });
    });
  });
}

function execDetail(ctx: K8sUpgradeContext, operation: 'exec' | 'attach'): K8sExecDetail {
  const { info, classification } = ctx.described;
  const exec = classification.exec;
  return {
    connectionId: ctx.connectionId,
    operation,
    pod: exec?.pod ?? info.name,
    namespace: exec?.namespace ?? info.namespace,
    ...(exec?.container ? { container: exec.container } : {}),
    command: exec?.command ?? [],
    stdin: exec?.stdin ?? false,
    stdout: exec?.stdout ?? true,
    stderr: exec?.stderr ?? true,
    tty: exec?.tty ?? false,
    path: info.path,
  };
}

function portForwardDetail(ctx: K8sUpgradeContext, described: K8sUpgradeContext['described']): K8sPortForwardDetail {
  const { info, classification } = described;
  return { connectionId: ctx.connectionId, pod: info.name, namespace: info.namespace, ports: classification.ports ?? [], path: info.path };
}

function refusalMessage(target: string, verdict: Verdict): string {
  return `Airlock refused this request on target "${target}" (action ${verdict.actionId}, rule ${verdict.ruleId}): ${verdict.reason}`;
}

function recordNotRun(ctx: K8sUpgradeContext, action: Action, message: string): void {
  ctx.context.pipeline
    .recordResult(ctx.session as AgentSession, action, { summary: `not run: ${message}`, error: message, detail: { bytesIn: 0, bytesOut: 0, bytesErr: 0, closedBy: 'error', ...(action.kind === 'k8s.portforward' ? { ports: [] } : {}) } })
    .catch((err: Error) => ctx.context.logger.error(`could not record the result of action ${action.id}: ${err.message}`));
}

/** The message of a Status body, masked and bounded; undefined when the body is not one. */
function upstreamStatusMessage(body: Buffer, ctx: K8sUpgradeContext): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.subarray(0, ctx.context.limits.actionTextBytes).toString('utf8'));
  } catch {
    return undefined;
  }
  const message = (parsed as { message?: unknown } | null)?.message;
  if (typeof message !== 'string') return undefined;
  return maskUpstreamText(ctx, message.slice(0, ctx.context.limits.actionTextBytes));
}

function closeSignal(socket: Duplex): AbortSignal {
  const controller = new AbortController();
  socket.once('close', () => controller.abort());
  return controller.signal;
}

/**
 * Refusals of WebSocket upgrades kept for the SPDY retry kubectl makes right after (bounded: the
 * oldest goes first; each kept for limits.authTimeout).
 */
class RecentRefusals {
  private readonly entries = new Map<string, { answer: string; until: number }>();
  private static readonly MAX_ENTRIES = 256;

  put(key: string, answer: string, until: number): void {
    this.entries.delete(key);
    this.entries.set(key, { answer, until });
    if (this.entries.size > RecentRefusals.MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
  }

  take(key: string, now: number): string | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    return entry.until >= now ? entry.answer : undefined;
  }
}

const recentRefusals = new RecentRefusals();
