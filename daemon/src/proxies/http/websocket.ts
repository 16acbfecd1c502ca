import type { IncomingMessage } from 'node:http';
import type net from 'node:net';
import { upgrade } from 'undici';
import type { Action, AgentSession, HttpTunnelResultDetail, HttpWebsocketDetail, Target, Verdict } from '@airlock/shared';
import { classifyHttpRequest, isMalformed } from '../../classify/http/index.js';
import type { HttpRequestHead } from '../../classify/http/types.js';
import { MaskReportBuilder } from '../../masking/index.js';
import { boundText } from '../../pipeline/bounded-text.js';
import type { ProxyContext } from '../listeners.js';
import { maskResponseHeaders, maskUrlForRecord } from './body/index.js';
import type { ExchangeHooks } from './exchange.js';
import { forwardHeaders, headerListOf, headerValue, responseHeaders } from './headers.js';
import { badRequest, policyRefusal, rawAnswer } from './refusal.js';
import { upstreamErrorAnswer } from './upstream-errors.js';
import type { HttpUpstream } from './upstream.js';

interface WebsocketDeps {
  target: Target;
  context: ProxyContext;
  hooks: ExchangeHooks;
  upstream: HttpUpstream;
}

/**
 * A WebSocket upgrade: one `http.websocket` action (the default policy refuses it). When a rule
 * allows it the upgrade goes upstream with the real credential, and frames pass both ways without
 * being inspected: only their byte counts and who closed are recorded. Any other Upgrade (h2c) is
 * refused: this listener speaks HTTP/1.1.
 */
export async function runWebsocket(req: IncomingMessage, socket: net.Socket, headBytes: Buffer, who: { id: string; session: AgentSession; gone: AbortSignal }, deps: WebsocketDeps): Promise<void> {
  const { target, context, hooks, upstream } = deps;
  const head: HttpRequestHead = { method: req.method ?? '', target: req.url ?? '', headers: headerListOf(req.rawHeaders) };
  if ((headerValue(head.headers, 'upgrade') ?? '').toLowerCase() !== 'websocket') {
    socket.end(rawAnswer(badRequest(400, `only WebSocket upgrades pass target "${target.name}"; send the request without Upgrade`, head.headers)));
    return;
  }
  const description = hooks.describe(head);
  if (isMalformed(description)) {
    socket.end(rawAnswer(badRequest(description.status, description.reason, head.headers)));
    return;
  }
  const classification = classifyHttpRequest(description, undefined, hooks.classifyOptions);
  const masker = context.masking(target.name);
  const headers = forwardHeaders(head.headers, { websocket: true, contentLength: undefined, credentialHeader: upstream.credentialHeader?.[0] });
  const upstreamTarget = upstream.basePath + description.forwardTarget;
  const url = boundText(maskUrlForRecord(`${upstream.origin.replace(/^http/, 'ws')}${upstreamTarget}`), context.limits.actionTextBytes);
  const protocols = (headerValue(head.headers, 'sec-websocket-protocol') ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  const detail: HttpWebsocketDetail = {
    via: hooks.via,
    connectionId: who.id,
    method: description.method,
    url: url.text,
    ...(url.cut ? { urlCut: url.cut } : {}),
    host: description.host,
    path: description.path,
    headers: maskResponseHeaders(headers, masker, upstream.secrets, new MaskReportBuilder()),
    protocols,
  };
  const request = {
    target: target.name,
    protocol: target.protocol,
    kind: 'http.websocket',
    summary: `WebSocket ${description.path}`,
    risk: classification.risk,
    attributes: { ...classification.attributes, class: 'websocket' },
    detail: detail as unknown as Record<string, unknown>,
  };
  const pipeline = context.pipeline;
  const decided: { action: Action; verdict: Verdict } = pipeline.submitNow(who.session, request) ?? (await pipeline.submit(who.session, request, { signal: who.gone }));
  if (!decided.verdict.allowed) {
    if (!socket.destroyed) socket.end(rawAnswer(policyRefusal(decided.verdict, head.headers)));
    return;
  }
  const started = context.clock.now();
  const sendHeaders: Record<string, string | string[]> = { ...headers, host: upstream.hostHeader };
  delete sendHeaders.connection;
  delete sendHeaders.upgrade;
  if (upstream.credentialHeader) sendHeaders[upstream.credentialHeader[0]] = upstream.credentialHeader[1];
  const result: HttpTunnelResultDetail = { bytesUp: 0, bytesDown: 0 };
  let error: string | undefined;
  try {
    const abort = new AbortController();
    const onGone = (): void => abort.abort();
    socket.once('close', onGone);
    const up = await upgrade(`${upstream.origin}${upstreamTarget}`, { dispatcher: upstream.dispatcher, method: 'GET', headers: sendHeaders, protocol: 'websocket', signal: abort.signal });
    socket.off('close', onGone);
    result.status = 101;
    const shown = maskResponseHeaders(responseHeaders(up.headers as Record<string, string | string[] | undefined>, false), masker, upstream.secrets, new MaskReportBuilder());
    const lines = ['HTTP/1.1 101 Switching Protocols', 'connection: Upgrade', 'upgrade: websocket'];
    for (const [k, v] of Object.entries(shown)) for (const value of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${value}`);
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    const upSocket = up.socket as net.Socket;
    if (headBytes.length > 0) {
      result.bytesUp += headBytes.length;
      upSocket.write(headBytes);
    }
    await relay(socket, upSocket, result);
  } catch (err) {
    if (!socket.destroyed && result.status === undefined) {
      const reply = upstreamErrorAnswer(err, target.name, head.headers, decided.action.id);
      socket.end(rawAnswer(reply));
    }
    error = (err as Error).message;
    result.closedBy = 'error';
  }
  context.pipeline
    .recordResult(who.session, decided.action, {
      summary: error ? `WebSocket ${description.path}: ${error}` : `WebSocket ${description.path}: ${result.bytesUp} bytes up, ${result.bytesDown} down`,
      durationMs: context.clock.now() - started,
      ...(error ? { error } : {}),
      detail: result as unknown as Record<string, unknown>,
    })
    .catch((err: Error) => context.logger.error(`could not record the result of action ${decided.action.id}: ${err.message}`));
}

/** Bytes both ways with backpressure until either side closes; counts them. */
function relay(agent: net.Socket, up: net.Socket, result: HttpTunnelResultDetail): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (by: HttpTunnelResultDetail['closedBy']): void => {
      if (done) return;
      done = true;
      result.closedBy = by;
      agent.destroy();
      up.destroy();
      resolve();
    };
    agent.on('data', (chunk: Buffer) => {
      result.bytesUp += chunk.length;
      if (!up.write(chunk)) agent.pause();
    });
    up.on('data', (chunk: Buffer) => {
      result.bytesDown += chunk.length;
      if (!agent.write(chunk)) up.pause();
    });
    up.on('drain', () => agent.resume());
    agent.on('drain', () => up.resume());
    agent.once('end', () => up.end());
    up.once('end', () => agent.end());
    agent.once('close', () => finish('agent'));
    up.once('close', () => finish('upstream'));
    agent.on('error', () => finish('agent'));
    up.on('error', () => finish('upstream'));
  });
}
