import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { AgentSession, AttributeValue, HttpBodyExcerpt, HttpRequestDetail, HttpResponseResultDetail, HttpVia, Target, Verdict, Action } from '@airlock/shared';
import type { BodyPrefix, HttpClassifyOptions, HttpRequestDescription, HttpRequestHead, MalformedRequest } from '../../classify/http/types.js';
import { bodyNeeded, isMalformed } from '../../classify/http/index.js';
import { classifyExchange } from './classification.js';
import { GitPushPrefixReader } from '../../classify/http/git.js';
import { createBodyMasker, decoderFor, maskResponseHeaders, maskUrlForRecord, planBody } from './body/index.js';
import type { BodyMasker } from './body/types.js';
import { MaskReportBuilder, mergeMaskReports } from '../../masking/index.js';
import { boundText } from '../../pipeline/bounded-text.js';
import type { Refusal } from '../../pipeline/pipeline.js';
import type { ProxyContext } from '../listeners.js';
import type { CookieJar } from './cookies.js';
import { firstHeaderValue, forwardHeaders, headerListOf, responseHeaders, type HeaderRecord } from './headers.js';
import { badRequest, gitPushRefusalAnswer, policyRefusal, rawAnswer, upstreamFailure, type DaemonAnswer } from './refusal.js';
import { relayBody } from './relay-body.js';
import { upstreamErrorAnswer } from './upstream-errors.js';

/**
 * One HTTP request through a listener, after the agent logged in: describe it, read what the
 * classifier needs of the body, classify, submit to the pipeline (a held request's body stays
 * unread: the socket is not read, so the agent is held back by TCP), then forward the rest
 * streaming, and mask and stream the response back, recording the result.
 *
 * Shared by API targets (listener.ts) and the egress proxy's plain-HTTP requests: the differences
 * are in ExchangeHooks (how a head is described, where it goes, with which credential).
 */

/** Where an allowed request goes and what is added to it. */
export interface ExchangeRoute {
  /** scheme://host:port */
  origin: string;
  /** the Host header upstream */
  hostHeader: string;
  /** prepended to the forwarded path (an API target's URL path); "" for none */
  basePath: string;
  dispatcher: Dispatcher;
  /** the real credential's header (API targets); none for egress */
  credentialHeader?: readonly [name: string, value: string];
  /** literal secret forms to redact from responses and records */
  secrets: readonly string[];
  /** attributes added to the classifier's (egress: destination) */
  attributes?: Record<string, AttributeValue>;
  /** refused whatever policy says (egress: an internal destination), under its own rule id */
  refuse?: Refusal;
  /** the session-grant scope (egress: "host:port") */
  grantKey?: string;
}

export interface ExchangeHooks {
  via: HttpVia;
  /** the request model of the head (API targets: origin-form against the upstream; egress: absolute-form) */
  describe(head: HttpRequestHead): HttpRequestDescription | MalformedRequest;
  /** where a described request goes (may resolve DNS, may refuse) */
  route(description: HttpRequestDescription): ExchangeRoute | Promise<ExchangeRoute>;
  classifyOptions: HttpClassifyOptions;
}

/** The agent's connection an exchange runs on. */
export interface ExchangeConnection {
  id: string;
  session: AgentSession;
  /** aborted when the agent's connection goes: a held request is cancelled */
  gone: AbortSignal;
  /** upstream cookies of this agent session */
  jar: CookieJar;
  /**
   * The connection cannot carry another request (a body was left unread): `raw` (a whole HTTP
   * response) is written, the socket half-closed and, after a grace period, destroyed, never read.
   */
  endWith(raw: string | Uint8Array): void;
}

export interface ExchangeDeps {
  target: Target;
  context: ProxyContext;
  hooks: ExchangeHooks;
}

/**
 * Writes one answer of the daemon's own. `bodyLeft`: the agent's request body was not read, so the
 * connection cannot carry another request; the answer goes straight to the socket, which is then
 * half-closed and left unread (Node's server would otherwise read and discard the whole body to
 * reuse the connection: a 10 GB upload would be read to refuse it).
 */
export function answer(res: ServerResponse, reply: DaemonAnswer, connection?: Pick<ExchangeConnection, 'endWith'>, bodyLeft = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (bodyLeft && connection) {
    connection.endWith(rawAnswer(reply));
    return;
  }
  res.writeHead(reply.status, { ...reply.headers, 'content-length': typeof reply.body === 'string' ? Buffer.byteLength(reply.body) : reply.body.length });
  res.end(reply.body);
}

/**
 * ExchangeConnection.endWith for a socket: writes `raw`, half-closes, stops reading, and destroys
 * the socket after limits.authTimeout (time for the agent to read the answer while its own writes
 * meet TCP backpressure). Idempotent per socket.
 */
export function endSocketWith(socket: Socket, raw: string | Uint8Array, context: Pick<ProxyContext, 'clock' | 'limits'>): void {
  if (ENDED.has(socket)) return;
  ENDED.add(socket);
  socket.end(raw);
  socket.pause();
  context.clock.setTimeout(() => socket.destroy(), context.limits.authTimeoutMs);
}

const ENDED = new WeakSet<Socket>();

/** The request has a body that was not read to its end (Node sets `complete` only once it was). */
export function bodyPending(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function hasBody(d: HttpRequestDescription): boolean {
  return d.contentLength === undefined || d.contentLength > 0;
}

/**
 * Reads the body prefix the classifier needs, leaving the rest unread (the stream paused). Complete
 * when the body ended or all `declared` bytes (its Content-Length) arrived; stops at `max` bytes or
 * once `enough` says so.
 */
function readPrefix(req: IncomingMessage, declared: number | undefined, enough: (chunks: Buffer[], total: number) => boolean, max: number): Promise<{ chunks: Buffer[]; total: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const done = (complete: boolean): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (!complete) req.pause();
      resolve({ chunks, total, complete });
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      total += chunk.length;
      const all = req.readableEnded || (declared !== undefined && total >= declared);
      if (all || total >= max || enough(chunks, total)) done(all);
    };
    const onEnd = (): void => done(true);
    const onError = (err: Error): void => reject(err);
    const onAborted = (): void => reject(new Error('the agent closed the connection while sending the body'));
    if (req.readableEnded) return resolve({ chunks, total, complete: true });
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('aborted', onAborted);
  });
}

/**
 * readPrefix's `enough` for a git push. The reader is fed each chunk once and re-walks the prefix
 * only after it grew by half: walking it again on every chunk made a large first object quadratic
 * (a 12 MB object in 64 KB chunks cost 827 ms against 12 ms), a cheap way to keep the daemon busy.
 */
function gitPushPrefixCheck(): (chunks: Buffer[]) => boolean {
  const reader = new GitPushPrefixReader();
  let fed = 0;
  return (chunks) => {
    let enough = false;
    while (fed < chunks.length) enough = reader.push(chunks[fed++]!);
    return enough;
  };
}

/**
 * A client that sent `Expect: 100-continue` waits for this before sending its body: sent only when
 * the body is about to be read (for the decision, or to forward it once allowed), so a refused
 * upload is never sent at all.
 */
function continueBody(req: IncomingMessage, res: ServerResponse): void {
  if (CONTINUED.has(res) || !expectsContinue(req)) return;
  CONTINUED.add(res);
  res.writeContinue();
}

const CONTINUED = new WeakSet<ServerResponse>();

function expectsContinue(req: IncomingMessage): boolean {
  return (req.headers.expect ?? '').toLowerCase() === '100-continue';
}

/** Runs one request; never throws (every failure becomes an answer to the agent and a record). */
export async function runExchange(req: IncomingMessage, res: ServerResponse, connection: ExchangeConnection, deps: ExchangeDeps): Promise<void> {
  const { target, context, hooks } = deps;
  const head: HttpRequestHead = { method: req.method ?? '', target: req.url ?? '', headers: headerListOf(req.rawHeaders) };
  const description = hooks.describe(head);
  if (isMalformed(description)) return answer(res, badRequest(description.status, description.reason, head.headers), connection, bodyPending(req));

  let route: ExchangeRoute;
  try {
    route = await hooks.route(description);
  } catch (err) {
    return answer(res, upstreamFailure(502, (err as Error).message, head.headers), connection, bodyPending(req));
  }

  // what the classifier needs of the body before the decision (bounded by limits.maxMessageBytes);
  // a small body of known length is read whole too, so the approval shows it
  const limits = context.limits;
  const need = bodyNeeded(description, hooks.classifyOptions);
  let prefix: { chunks: Buffer[]; total: number; complete: boolean } | undefined;
  try {
    // (a client waiting for 100 Continue is not invited to send a body only shown, not needed)
    const showBody = description.contentLength !== undefined && description.contentLength <= limits.actionTextBytes && !expectsContinue(req);
    if (hasBody(description) && (need.kind !== 'none' || showBody)) {
      continueBody(req, res);
      if (need.kind === 'graphql') prefix = await readPrefix(req, description.contentLength, () => false, limits.maxMessageBytes);
      else if (need.kind === 'git-receive-pack') prefix = await readPrefix(req, description.contentLength, gitPushPrefixCheck(), limits.maxMessageBytes);
      else prefix = await readPrefix(req, description.contentLength, () => false, limits.actionTextBytes);
    }
  } catch {
    return; // the agent went away mid-body: nothing was submitted
  }
  const prefixBytes = prefix ? (prefix.chunks.length === 1 ? prefix.chunks[0]! : Buffer.concat(prefix.chunks)) : undefined;
  const bodyPrefix: BodyPrefix | undefined = prefixBytes ? { bytes: prefixBytes, complete: prefix!.complete } : undefined;
  const classification = classifyExchange(description, bodyPrefix, hooks.classifyOptions, limits.maxMessageBytes);

  const masker = context.masking(target.name);
  const upstreamTarget = route.basePath + description.forwardTarget;
  const headers = forwardHeaders(head.headers, { websocket: false, contentLength: description.contentLength, credentialHeader: route.credentialHeader?.[0] });
  const recordedUrl = boundText(maskUrlForRecord(`${route.origin}${upstreamTarget}`), limits.actionTextBytes);
  const detail: HttpRequestDetail = {
    via: hooks.via,
    connectionId: connection.id,
    method: description.method,
    url: recordedUrl.text,
    ...(recordedUrl.cut ? { urlCut: recordedUrl.cut } : {}),
    host: description.host,
    path: description.path,
    headers: maskResponseHeaders(headers, masker, route.secrets, new MaskReportBuilder()),
    ...(prefixBytes ? { body: requestBodyExcerpt(prefixBytes, prefix!.complete, description, masker, route.secrets, limits) } : {}),
    ...(description.methodOverride ? { methodOverride: description.methodOverride } : {}),
    ...(classification.graphql ? { graphql: classification.graphql } : {}),
    ...(classification.git ? { git: classification.git } : {}),
  };
  const request = {
    target: target.name,
    protocol: target.protocol,
    kind: 'http.request',
    summary: classification.summary,
    risk: classification.risk,
    attributes: route.attributes ? { ...classification.attributes, ...route.attributes } : classification.attributes,
    detail: detail as unknown as Record<string, unknown>,
    ...(route.grantKey ? { grantKey: route.grantKey } : {}),
  };

  const pipeline = context.pipeline;
  let decided: { action: Action; verdict: Verdict };
  try {
    decided = pipeline.submitNow(connection.session, request, route.refuse) ?? (await pipeline.submit(connection.session, request, { signal: connection.gone, refuse: route.refuse }));
  } catch (err) {
    context.logger.error(`action for ${description.method} ${description.path} could not be submitted: ${(err as Error).message}`);
    return answer(res, upstreamFailure(502, 'the daemon could not decide on this request', head.headers), connection, true);
  }
  const bodyLeft = prefix ? !prefix.complete : bodyPending(req);
  if (!decided.verdict.allowed) {
    if (connection.gone.aborted) return;
    // a push gets the refusal as a receive-pack result git prints (when it asked for one)
    const refusal = classification.git?.service === 'git-receive-pack' && bodyPrefix ? gitPushRefusalAnswer(decided.verdict, bodyPrefix, classification.git.refs.map((r) => r.ref), head.headers) : policyRefusal(decided.verdict, head.headers);
    return answer(res, refusal, connection, bodyLeft);
  }
  await forward(req, res, connection, deps, { description, head, route, headers, prefix, prefixBytes, upstreamTarget, action: decided.action });
}

/** The request body read before the decision, masked for the approval and the record (a compressed one is not decoded for it: marked binary). */
function requestBodyExcerpt(bytes: Buffer, complete: boolean, d: HttpRequestDescription, masker: ReturnType<ProxyContext['masking']>, secrets: readonly string[], limits: ProxyContext['limits']): HttpBodyExcerpt {
  const plan = planBody({ contentType: d.contentType, contentEncoding: d.contentEncoding });
  if (plan.withhold || plan.decode) return { bytes: complete ? bytes.length : null, ...(d.contentType ? { contentType: d.contentType } : {}), treatment: 'binary' };
  const bodyMasker = createBodyMasker(plan, { masker, secrets, excerptBytes: limits.actionTextBytes, bufferBytes: limits.bufferBytes, ...(d.contentType ? { contentType: d.contentType } : {}) });
  bodyMasker.push(bytes);
  if (complete) bodyMasker.end();
  const excerpt = bodyMasker.excerpt();
  return { ...excerpt, bytes: complete ? bytes.length : null };
}

interface Forwarding {
  description: HttpRequestDescription;
  head: HttpRequestHead;
  route: ExchangeRoute;
  headers: HeaderRecord;
  prefix?: { chunks: Buffer[]; total: number; complete: boolean };
  prefixBytes?: Buffer;
  upstreamTarget: string;
  action: Action;
}

/** Sends an allowed request upstream and streams the masked response back; records the result. */
async function forward(req: IncomingMessage, res: ServerResponse, connection: ExchangeConnection, deps: ExchangeDeps, f: Forwarding): Promise<void> {
  const { target, context } = deps;
  const started = context.clock.now();
  const { description, route, action } = f;
  const abort = new AbortController();
  // 'close' also follows a response that finished: only an agent gone before the end aborts (an abort is not free)
  const onGone = (): void => {
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onGone);
  connection.gone.addEventListener('abort', onGone, { once: true });

  const sendHeaders: HeaderRecord = { ...f.headers, host: route.hostHeader };
  if (route.credentialHeader) sendHeaders[route.credentialHeader[0]] = route.credentialHeader[1];
  const now = context.clock.now();
  const cookie = connection.jar.header(route.hostHeader, description.path, now);
  if (cookie) sendHeaders.cookie = cookie;

  let requestBytes = 0;
  let body: Dispatcher.DispatchOptions['body'];
  if (hasBody(description)) {
    continueBody(req, res);
    if (f.prefix?.complete) {
      body = f.prefixBytes;
      requestBytes = f.prefix.total;
    } else {
      const chunks = f.prefix?.chunks ?? [];
      // undici takes an async iterable body; typed as Readable only
      body = (async function* () {
        for (const c of chunks) {
          requestBytes += c.length;
          yield c;
        }
        for await (const c of req as AsyncIterable<Buffer>) {
          requestBytes += c.length;
          yield c;
        }
      })() as unknown as Readable;
    }
  }

  const masker = context.masking(target.name);
  const report = new MaskReportBuilder();
  let status: number | undefined;
  let recordedHeaders: HeaderRecord | undefined;
  let bodyMasker: BodyMasker | undefined;
  let decoded: string | undefined;
  let error: string | undefined;
  try {
    const response = await route.dispatcher.request({
      origin: route.origin,
      path: f.upstreamTarget,
      method: description.method as Dispatcher.HttpMethod,
      headers: sendHeaders,
      body,
      signal: abort.signal,
    });
    status = response.statusCode;
    const setCookie = response.headers['set-cookie'];
    if (setCookie) connection.jar.store(route.hostHeader, description.path, Array.isArray(setCookie) ? setCookie : [setCookie], context.clock.now());
    const contentType = firstHeaderValue(response.headers['content-type']);
    const encoding = firstHeaderValue(response.headers['content-encoding']);
    const noBody = description.method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
    const plan = planBody({ contentType, contentEncoding: encoding });
    if (plan.withhold && !noBody) {
      response.body.destroy();
      status = 502;
      error = plan.withhold;
      answer(res, upstreamFailure(502, plan.withhold, f.head.headers, action.id), connection, bodyPending(req));
    } else {
      const rewritten = !noBody && (plan.treatment !== 'binary' || plan.decode !== undefined);
      recordedHeaders = maskResponseHeaders(responseHeaders(response.headers, rewritten), masker, route.secrets, report);
      if (plan.decode) decoded = plan.decode;
      if (noBody) {
        res.writeHead(status, recordedHeaders);
        response.body.resume();
        res.end();
      } else {
        // a small body of known length that is not a stream goes out whole, with its masked length, in
        // one write; anything else streams (chunked), each masked piece sent as soon as it is final
        const declared = Number(firstHeaderValue(response.headers['content-length']) ?? NaN);
        const whole = rewritten && !plan.decode && plan.treatment !== 'sse' && plan.treatment !== 'ndjson' && declared <= context.limits.actionTextBytes;
        const excerptLimit = Math.min(context.limits.resultBytes, context.limits.actionTextBytes);
        bodyMasker = createBodyMasker(plan, {
          masker,
          secrets: route.secrets,
          // the excerpt's buffer is made up front: for a body of known, smaller length no larger than it
          // needs (twice the declared size: a mask may be longer than what it replaces)
          excerptBytes: whole ? Math.min(excerptLimit, declared * 2) : excerptLimit,
          bufferBytes: context.limits.bufferBytes,
          ...(contentType ? { contentType } : {}),
        });
        if (!whole) res.writeHead(status, recordedHeaders);
        const decoder = decoderFor(plan, decodeBounds(context.limits));
        await relayBody(response.body, res, bodyMasker, { ...(decoder ? { decoder } : {}), ...(whole ? { whole: { status, headers: recordedHeaders } } : {}) });
      }
    }
  } catch (err) {
    error = describeUpstreamError(err, abort.signal.aborted, res);
    if (!res.headersSent && !abort.signal.aborted) {
      const reply = upstreamErrorAnswer(err, target.name, f.head.headers, action.id);
      status = reply.status;
      answer(res, reply, connection, bodyPending(req));
    } else res.destroy();
  } finally {
    res.off('close', onGone);
    connection.gone.removeEventListener('abort', onGone);
  }
  const excerpt = bodyMasker?.excerpt();
  const result: HttpResponseResultDetail = {
    ...(status !== undefined ? { status } : {}),
    ...(recordedHeaders ? { headers: recordedHeaders } : {}),
    ...(excerpt ? { body: excerpt } : {}),
    requestBytes,
    ...(decoded ? { decoded } : {}),
  };
  const maskReport = mergeMaskReports(report.toReport(), bodyMasker?.report());
  context.pipeline
    .recordResult(connection.session, action, {
      summary: error ? `${description.method} ${description.path}: ${error}` : `${status} ${description.method} ${description.path}`,
      durationMs: context.clock.now() - started,
      ...(error ? { error } : {}),
      ...(maskReport.cells > 0 || maskReport.nulled > 0 ? { maskReport } : {}),
      detail: result as unknown as Record<string, unknown>,
    })
    .catch((err: Error) => context.logger.error(`could not record the result of action ${action.id}: ${err.message}`));
}

/**
 * A compressed response decodes to at most limits.upstreamMessageBytes, and past limits.bufferBytes
 * to at most DECOMPRESSION_RATIO times what arrived (a decompression bomb fails the response).
 */
function decodeBounds(limits: ProxyContext['limits']): { maxBytes: number; maxRatio: number; ratioAfterBytes: number } {
  return { maxBytes: limits.upstreamMessageBytes, maxRatio: DECOMPRESSION_RATIO, ratioAfterBytes: limits.bufferBytes };
}

/** deflate cannot honestly exceed about 1032:1; a body beyond this ratio is a bomb */
const DECOMPRESSION_RATIO = 1100;

function describeUpstreamError(err: unknown, agentGone: boolean, res: ServerResponse): string {
  if (agentGone) return 'the agent closed the connection before the response ended';
  const message = (err as Error).message;
  return res.headersSent ? `the upstream response broke off: ${message}` : message;
}

