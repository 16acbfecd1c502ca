import http from 'node:http';
import type { Action, AgentSession, HttpRequestDetail, HttpResponseResultDetail, Verdict } from '@airlock/shared';
import type { ActionRequest } from '../../pipeline/pipeline.js';
import { hostPort, type ParsedAbsoluteUrl } from './authority.js';
import { checkDestination, dialChecked } from './destination.js';
import { policyRefusal, sendReply, upstreamFailed } from './responses.js';
import type { AgentSocket, EgressDeps } from './listener.js';

type AbsoluteUrl = Extract<ParsedAbsoluteUrl, { ok: true }>;

export interface ForwardRequest {
  connection: AgentSocket;
  session: AgentSession;
  url: AbsoluteUrl;
  req: http.IncomingMessage;
  res: http.ServerResponse;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) and the proxy's own: never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A plain-HTTP request in absolute form (`GET http://host/path`): an `http.request` action on the
 * checked destination (internal ones refused as for CONNECT), then forwarded to exactly the checked
 * address with the proxy's headers removed; the response streams back. No credential is added.
 */
export async function forwardRequest(deps: EgressDeps, request: ForwardRequest): Promise<void> {
  const { context, target } = deps;
  const { req, res, session, url } = request;
  // the body stays unread until the decision: a held upload is held back by TCP
  req.pause();
  const gone = new AbortController();
  res.once('close', () => gone.abort());

  const check = await checkDestination({ host: url.host, port: url.port }, target, deps.resolve, context.daemonPorts?.() ?? []);
  if (!check.ok) return sendReply(res, upstreamFailed(`target "${target.name}": ${check.reason}`), true);
  const checked = check.checked;
  const method = req.method ?? '';
  const path = url.url.pathname;
  const headers = forwardedHeaders(req.rawHeaders);
  headers.push(['host', url.url.host]);
  const detail: HttpRequestDetail = {
    via: 'egress',
    connectionId: request.connection.id,
    method,
    url: `${url.url.origin}${path}${url.url.search === '' ? '' : '?…'}`,
    host: checked.host,
    path,
    headers: Object.fromEntries(headers.filter(([name]) => name !== 'cookie' && name !== 'authorization')),
  };
  const cls = READ_METHODS.has(method) ? 'read' : WRITE_METHODS.has(method) ? 'write' : 'unknown';
  const actionRequest: ActionRequest = {
    target: target.name,
    protocol: 'egress',
    kind: 'http.request',
    summary: `${method} ${url.url.origin}${path}`,
    risk: cls === 'read' ? 'low' : 'medium',
    attributes: { class: cls, method, path, host: checked.host, destination: checked.verdict.destination, ...(method === 'DELETE' ? { destructive: true } : {}) },
    detail,
    grantKey: hostPort(checked),
  };
  const refuse = checked.verdict.refuse === undefined ? undefined : { ruleId: 'egress-internal', reason: checked.verdict.refuse };
  let decided: { action: Action; verdict: Verdict };
  try {
    decided = context.pipeline.submitNow(session, actionRequest, refuse) ?? (await context.pipeline.submit(session, actionRequest, { signal: gone.signal, refuse }));
  } catch (err) {
    return sendReply(res, upstreamFailed(`target "${target.name}": Airlock could not decide on ${method} ${url.url.origin}${path}: ${(err as Error).message}`), true);
  }
  const { action, verdict } = decided;
  if (!verdict.allowed) return sendReply(res, policyRefusal(action, verdict), !req.complete);

  const started = context.clock.now();
  let requestBytes = 0;
  let result: HttpResponseResultDetail = { requestBytes: 0 };
  let error: string | undefined;
  try {
    const socket = await dialChecked(checked, deps.dial, context.limits.connectTimeoutMs, context.clock, gone.signal);
    const upstream = http.request({ method, path: `${path}${url.url.search}`, headers: headers.flat(), setHost: false, createConnection: () => socket });
    req.on('data', (chunk: Buffer) => (requestBytes += chunk.length));
    req.pipe(upstream);
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      upstream.once('response', resolve);
      upstream.once('error', reject);
    });
    const back = forwardedHeaders(response.rawHeaders);
    res.writeHead(response.statusCode ?? 502, back.flat());
    response.pipe(res);
    await new Promise<void>((resolve, reject) => {
      response.once('end', resolve);
      response.once('error', reject);
      res.once('close', resolve);
    });
    result = { status: response.statusCode, headers: Object.fromEntries(back.filter(([name]) => name !== 'set-cookie')), requestBytes };
  } catch (err) {
    error = (err as Error).message;
    result = { requestBytes };
    if (!res.headersSent) sendReply(res, upstreamFailed(`target "${target.name}": ${error}`, action), true);
    else res.destroy();
  }
  await context.pipeline
    .recordResult(session, action, { summary: error ? `${method} ${path}: ${error}` : `${result.status} ${method} ${path}`, durationMs: context.clock.now() - started, detail: result, ...(error ? { error } : {}) })
    .catch((err: Error) => context.logger.error(`${action.id}: could not record the result: ${err.message}`));
}

/** Header pairs as sent, names lowercased, without hop-by-hop headers and those the Connection header names. */
function forwardedHeaders(raw: string[]): Array<[string, string]> {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') for (const token of raw[i + 1]!.split(',')) named.add(token.trim().toLowerCase());
  }
  const out: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(name) && !named.has(name)) out.push([name, raw[i + 1]!]);
  }
  return out;
}
