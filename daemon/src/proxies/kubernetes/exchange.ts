import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Action, AgentSession, HttpBodyExcerpt, K8sRequestDetail, K8sResponseResultDetail, Target, Verdict } from '@airlock/shared';
import { describeK8sRequest, isK8sRequestError, parseRequestInfo, type K8sRequestInfo } from '../../classify/k8s/index.js';
import { MaskReportBuilder, mergeMaskReports } from '../../masking/index.js';
import type { ProxyContext } from '../listeners.js';
import { answer, bodyPending } from '../http/exchange.js';
import { firstHeaderValue, forwardHeaders, responseHeaders, type HeaderRecord } from '../http/headers.js';
import { maskResponseHeaders, planBody } from '../http/body/index.js';
import { createK8sResponseMasker, planK8sResponse } from './masking/index.js';
import type { BodyMasker, BodyPlan } from '../http/body/types.js';
import { relayBody } from '../http/relay-body.js';
import { upstreamErrorAnswer } from '../http/upstream-errors.js';
import { asK8sStatus, k8sPolicyRefusal, k8sStatus } from './status.js';
import type { K8sUpstream } from './upstream.js';

/**
 * One request through a Kubernetes listener, after the agent logged in: parse it as the API server
 * would (classify/k8s), read its body whole (bounded by limits.maxMessageBytes: what policy judges is
 * exactly what goes upstream), submit a `k8s.request` action, and forward it on the canonical path
 * with the daemon's credential, the agent's Authorization and every Impersonate-* header removed,
 * JSON asked for (never protobuf, which could not be masked) in identity encoding. The response is
 * masked as it streams: a watch event by event, a followed log line by line.
 */

export interface K8sExchangeConnection {
  id: string;
  session: AgentSession;
  gone: AbortSignal;
  endWith(raw: string | Uint8Array): void;
}

export interface K8sExchangeDeps {
  target: Target;
  context: ProxyContext;
  upstream: K8sUpstream;
}

/** Headers an agent may not pass to the API server: identity claims only the daemon's credential makes. */
function isIdentityHeader(name: string): boolean {
  const n = name.replace(/_/g, '-');
  return n.startsWith('impersonate-') || n.startsWith('x-remote-');
}

/**
 * The Accept header sent upstream: the agent's JSON choices kept (kubectl's
 * `application/json;as=Table;v=v1;g=meta.k8s.io` included), protobuf and CBOR dropped; JSON when
 * nothing else is left. A log is text whatever is asked.
 */
export function upstreamAccept(agentAccept: string | undefined, info: K8sRequestInfo): string {
  if (info.subresource === 'log') return 'text/plain, */*';
  const kept = (agentAccept ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => /^application\/json\s*(;|$)/i.test(entry));
  return kept.length > 0 ? kept.join(', ') : 'application/json';
}

export async function runK8sExchange(req: IncomingMessage, res: ServerResponse, connection: K8sExchangeConnection, deps: K8sExchangeDeps): Promise<void> {
  const { target, context, upstream } = deps;
  const limits = context.limits;
  const headers = headerList(req.rawHeaders);
  const rawUrl = req.url ?? '';
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  let query: Array<[string, string]>;
  try {
    query = [...new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1))];
  } catch {
    return answer(res, k8sStatus(400, 'BadRequest', 'airlock: the query string cannot be read'), connection, bodyPending(req));
  }
  const input = { method: req.method ?? '', path, query, rawQuery: q < 0 ? '' : rawUrl.slice(q + 1) };
  const parsed = parseRequestInfo(input);
  if (isK8sRequestError(parsed)) return answer(res, k8sStatus(parsed.status, parsed.status === 404 ? 'NotFound' : 'BadRequest', `airlock: ${parsed.error}`), connection, bodyPending(req));

  // the body, whole: policy and the upstream must read the same bytes
  const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
  if (declared !== undefined && declared > limits.maxMessageBytes) {
    return answer(res, tooLarge(target, declared, limits.maxMessageBytes), connection, true);
  }
  let body: Buffer | undefined;
  if (bodyPending(req) || (declared !== undefined && declared > 0)) {
    const read = await readWhole(req, limits.maxMessageBytes).catch(() => undefined);
    if (read === undefined) return; // the agent went away mid-body: nothing was submitted
    if (read === 'too-large') return answer(res, tooLarge(target, undefined, limits.maxMessageBytes), connection, true);
    body = read;
  }

  const described = describeK8sRequest(input, { headers, ...(body ? { body: { bytes: body, complete: true } } : {}) });
  if ('error' in described) return answer(res, k8sStatus(described.status, 'BadRequest', `airlock: ${described.error}`), connection, false);
  const { info, classification } = described;

  const masker = context.masking(target.name);
  const forwardQuery = new URLSearchParams(info.query).toString();
  const upstreamPath = `${upstream.basePath}${info.path}${forwardQuery ? `?${forwardQuery}` : ''}`;
  const sendHeaders = forwardHeaders(headers, { websocket: false, contentLength: body?.length });
  for (const name of Object.keys(sendHeaders)) if (isIdentityHeader(name)) delete sendHeaders[name];
  sendHeaders.accept = upstreamAccept(req.headers.accept, info);
  sendHeaders['accept-encoding'] = 'identity';

  const contentType = req.headers['content-type'];
  const detail: K8sRequestDetail = {
    connectionId: connection.id,
    method: info.method,
    ...classification.request,
    headers: maskResponseHeaders(sendHeaders, masker, upstream.secrets, new MaskReportBuilder()),
    ...(body && body.length > 0 ? { body: requestExcerpt(info, body, contentType, masker, upstream.secrets, limits) } : {}),
  };
  const request = {
    target: target.name,
    protocol: target.protocol,
    kind: 'k8s.request',
    summary: classification.summary,
    risk: classification.risk,
    attributes: classification.attributes,
    detail: detail as unknown as Record<string, unknown>,
  };
  let decided: { action: Action; verdict: Verdict };
  try {
    decided = context.pipeline.submitNow(connection.session, request) ?? (await context.pipeline.submit(connection.session, request, { signal: connection.gone }));
  } catch (err) {
    context.logger.error(`action for ${info.method} ${info.path} could not be submitted: ${(err as Error).message}`);
    return answer(res, k8sStatus(500, 'InternalError', 'airlock: the daemon could not decide on this request'), connection, false);
  }
  if (!decided.verdict.allowed) {
    if (connection.gone.aborted) return;
    return answer(res, k8sPolicyRefusal(decided.verdict), connection, false);
  }
  await forward(res, connection, deps, { info, upstreamPath, sendHeaders, body, action: decided.action, agentHeaders: headers, discovery: !info.isResourceRequest && classification.class === 'read' });
}

function tooLarge(target: Target, declared: number | undefined, max: number): ReturnType<typeof k8sStatus> {
  const size = declared !== undefined ? `${declared} bytes, more than` : 'larger than';
  return k8sStatus(413, 'RequestEntityTooLarge', `airlock: the request body is ${size} the ${max} bytes target "${target.name}" reads before deciding (limits.maxMessageBytes); nothing was sent upstream`);
}

function headerList(raw: string[]): Array<[string, string]> {
  const list: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) list.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return list;
}

/** The whole body, or 'too-large' past `max` bytes (the rest is left unread: the connection then ends). */
function readWhole(req: IncomingMessage, max: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > max) {
        cleanup();
        req.pause();
        chunks.length = 0;
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onAborted = (): void => onError(new Error('the agent closed the connection while sending the body'));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('aborted', onAborted);
  });
}

function requestExcerpt(info: K8sRequestInfo, bytes: Buffer, contentType: string | undefined, masker: ReturnType<ProxyContext['masking']>, secrets: readonly string[], limits: ProxyContext['limits']): HttpBodyExcerpt {
  const plan = planK8sResponse(info, planBody({ ...(contentType ? { contentType } : {}) }));
  if (plan.withhold) return { bytes: bytes.length, ...(contentType ? { contentType } : {}), treatment: 'binary' };
  const bodyMasker = createK8sResponseMasker(info, plan, { masker, secrets, excerptBytes: limits.actionTextBytes, bufferBytes: limits.bufferBytes, ...(contentType ? { contentType } : {}) });
  bodyMasker.push(bytes);
  bodyMasker.end();
  return { ...bodyMasker.excerpt(), bytes: bytes.length };
}

interface Forwarding {
  info: K8sRequestInfo;
  upstreamPath: string;
  sendHeaders: HeaderRecord;
  body: Buffer | undefined;
  action: Action;
  agentHeaders: Array<[string, string]>;
  /** a discovery, OpenAPI, version or health document (a non-resource read): passed unmasked */
  discovery: boolean;
}

/** A watch or a followed log: the response is a stream of events or lines, masked and sent one by one. */
function isStream(info: K8sRequestInfo): boolean {
  return info.verb === 'watch' || (info.subresource === 'log' && info.query.some(([k, v]) => k === 'follow' && v !== 'false' && v !== '0'));
}

async function forward(res: ServerResponse, connection: K8sExchangeConnection, deps: K8sExchangeDeps, f: Forwarding): Promise<void> {
  const { target, context, upstream } = deps;
  const started = context.clock.now();
  const abort = new AbortController();
  const onGone = (): void => {
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onGone);
  connection.gone.addEventListener('abort', onGone, { once: true });

  const masker = context.masking(target.name);
  const report = new MaskReportBuilder();
  let status: number | undefined;
  let bodyMasker: BodyMasker | undefined;
  let error: string | undefined;
  let events = 0;
  try {
    const { dispatcher, headers: credential } = await upstream.credentials();
    const headers: HeaderRecord = { ...f.sendHeaders, host: upstream.hostHeader };
    for (const [name, value] of credential) headers[name] = value;
    const response = await dispatcher.request({
      origin: upstream.origin,
      path: f.upstreamPath,
      method: f.info.method as Dispatcher.HttpMethod,
      headers,
      ...(f.body ? { body: f.body } : {}),
      signal: abort.signal,
    });
    status = response.statusCode;
    const contentType = firstHeaderValue(response.headers['content-type']);
    const encoding = firstHeaderValue(response.headers['content-encoding']);
    const noBody = f.info.method === 'HEAD' || status === 204 || status === 304;
    const plan: BodyPlan = planK8sResponse(f.info, planBody({ ...(contentType ? { contentType } : {}), ...(encoding ? { contentEncoding: encoding } : {}) }));
    const unreadable = plan.withhold ?? (plan.decode ? `the upstream answered in ${encoding} encoding though identity was asked for` : plan.treatment === 'binary' && !noBody ? `the upstream answered ${contentType ?? 'with no content type'}, which Airlock cannot mask` : undefined);
    if (unreadable && !noBody) {
      response.body.destroy();
      status = 503;
      error = unreadable;
      answer(res, k8sStatus(503, 'ServiceUnavailable', `airlock: target "${target.name}": ${unreadable}; the response was withheld (action ${f.action.id})`), connection, false);
    } else {
      const stream = isStream(f.info);
      if (stream && plan.treatment === 'json') plan.treatment = 'ndjson';
      const outHeaders = maskResponseHeaders(responseHeaders(response.headers, true), masker, upstream.secrets, report);
      res.writeHead(status, outHeaders);
      if (stream) res.flushHeaders();
      if (noBody) {
        response.body.resume();
        res.end();
      } else {
        bodyMasker = f.discovery ? discoveryPassThrough(contentType) : createK8sResponseMasker(f.info, plan, {
          masker,
          secrets: upstream.secrets,
          excerptBytes: Math.min(context.limits.resultBytes, context.limits.actionTextBytes),
          bufferBytes: context.limits.bufferBytes,
          ...(contentType ? { contentType } : {}),
        });
        events = (await relayBody(response.body, res, bodyMasker, { countLines: f.info.verb === 'watch' })).lines;
      }
    }
  } catch (err) {
    error = abort.signal.aborted ? 'the agent closed the connection before the response ended' : (err as Error).message;
    if (!res.headersSent && !abort.signal.aborted) {
      const reply = asK8sStatus(upstreamErrorAnswer(err, target.name, f.agentHeaders, f.action.id));
      status = reply.status;
      answer(res, reply, connection, false);
    } else res.destroy();
  } finally {
    res.off('close', onGone);
    connection.gone.removeEventListener('abort', onGone);
  }
  const excerpt = bodyMasker?.excerpt();
  const summary = excerpt ? summaryOf(excerpt) : {};
  const result: K8sResponseResultDetail = {
    ...(status !== undefined ? { status } : {}),
    ...summary,
    ...(f.info.verb === 'watch' ? { eventCount: events } : {}),
    ...(excerpt ? { body: excerpt } : {}),
    requestBytes: f.body?.length ?? 0,
  };
  const bodyReport = bodyMasker?.report();
  const maskReport = mergeMaskReports(report.toReport(), bodyReport);
  context.pipeline
    .recordResult(connection.session, f.action, {
      summary: error ? `${f.action.summary}: ${error}` : `${status} ${f.action.summary}`,
      durationMs: context.clock.now() - started,
      ...(error ? { error } : {}),
      ...(maskReport.cells > 0 || (maskReport.nulled ?? 0) > 0 ? { maskReport } : {}),
      detail: result as unknown as Record<string, unknown>,
    })
    .catch((err: Error) => context.logger.error(`could not record the result of action ${f.action.id}: ${(err as Error).message}`));
}

/**
 * Discovery, OpenAPI, version and health documents (GET of a known non-resource path, class read)
 * describe the API, not the cluster's objects: they go unmasked, since key-name masking would
 * redact their schema (`/api/v1/namespaces/{namespace}/secrets/{name}`) and break kubectl's
 * validation. Recorded as passed unmasked.
 */
function discoveryPassThrough(contentType: string | undefined): BodyMasker {
  let bytes = 0;
  const empty = new Uint8Array(0);
  return {
    push: (chunk) => {
      bytes += chunk.length;
      return chunk;
    },
    end: () => empty,
    report: () => ({ cells: 0, byDetector: {}, nulled: 0 }),
    excerpt: () => ({ bytes, ...(contentType ? { contentType } : {}), treatment: 'binary' }),
  };
}

/** The response's kind, item count and Status reason/message, read from the masked excerpt when it parses. */
function summaryOf(excerpt: HttpBodyExcerpt): Partial<Pick<K8sResponseResultDetail, 'kind' | 'itemCount' | 'reason' | 'message'>> {
  const text = (excerpt as { text?: string }).text;
  if (typeof text !== 'string' || excerpt.cut) return {};
  try {
    const value = JSON.parse(text) as { kind?: unknown; items?: unknown; rows?: unknown; reason?: unknown; message?: unknown };
    return {
      ...(typeof value.kind === 'string' ? { kind: value.kind } : {}),
      ...(Array.isArray(value.items) ? { itemCount: value.items.length } : Array.isArray(value.rows) ? { itemCount: value.rows.length } : {}),
      ...(value.kind === 'Status' && typeof value.reason === 'string' ? { reason: value.reason } : {}),
      ...(value.kind === 'Status' && typeof value.message === 'string' ? { message: value.message.slice(0, 1000) } : {}),
    };
  } catch {
    return {};
  }
}

