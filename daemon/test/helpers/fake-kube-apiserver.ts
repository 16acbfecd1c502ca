import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import YAML from 'yaml';
import { WebSocketServer } from 'ws';
import type { ServerCertificate } from '../../src/config/certificate-issuer.js';
import { execSubprotocols, runExec, type ExecRecord, type ExecSubprotocol } from './fake-kube-exec.js';
import { portTargetKey, runPortForward, type PortForwardRecord, type PortTargets } from './fake-kube-portforward.js';
import {
  apiGroupDocument,
  apiGroupListDocument,
  apiResourceListDocument,
  apiVersionOf,
  apiVersionsDocument,
  failureStatus,
  findResource,
  hasGroupVersion,
  openApiV3Document,
  openApiV3Root,
  resourceNotFound,
  toTable,
  versionDocument,
  type IncludeObject,
  type KubeObject,
  type ResourceInfo,
} from './fake-kube-resources.js';
import { FakeKubeStore, KubeStatusError, applyPatch, type PatchType, type StoredEvent } from './fake-kube-store.js';

/**
 * An in-test fake Kubernetes API server. No Kubernetes API server can run on these machines, so this
 * one speaks the real wire format itself, as Teleport's kube proxy tests do with theirs: HTTPS with a
 * certificate from test-ca.ts, bearer-token auth (401 Status otherwise), discovery (/version, /api,
 * /api/v1, /apis, /apis/GROUP/VERSION; aggregated discovery is not offered, so clients fall back to the
 * plain documents, as with a server without it), namespaced CRUD for pods, secrets, configmaps,
 * serviceaccounts, deployments and RBAC objects with resourceVersion/uid/creationTimestamp and the real
 * Status errors, list with limit/continue and label/field selectors, watch as chunked JSON lines,
 * `as=Table` answers for kubectl get, server-side dry run, PATCH (merge, strategic merge as merge,
 * JSON patch, server-side apply), `pods/log` with follow, `serviceaccounts/token`, `deployments/scale`, `pods/exec` over
 * WebSocket (v5/v4.channel.k8s.io; fake-kube-exec.ts), and `pods/portforward` over WebSocket
 * (v4.channel.k8s.io; fake-kube-portforward.ts: each pod port connected to a TCP address the test gives). SPDY upgrades are answered 400 and recorded, so a
 * test can check a proxy refused them before they got here. Every request is recorded (method, path,
 * query, headers incl. Authorization and Impersonate-*, body) for tests to assert on what the upstream
 * received. It does not check permissions: every valid token may do everything, impersonation included.
 */

/** A request as the fake received it. */
export interface RecordedRequest {
  method: string;
  /** the path as sent, without the query */
  path: string;
  query: Record<string, string[]>;
  headers: IncomingHttpHeaders;
  authorization?: string;
  /** every Impersonate-* header, lower-cased names */
  impersonation: Record<string, string | string[]>;
  /** the body as text (up to the request limit) */
  body: string;
  /** `websocket`, `spdy/3.1`, … for upgrade requests */
  upgrade?: string;
  /** the bearer token was one the fake accepts */
  authorized: boolean;
}

export interface FakeKubeApiServerOptions {
  /** the server certificate (a leaf from test-ca.ts) */
  tls: ServerCertificate;
  /** bearer tokens accepted; one random token by default */
  tokens?: string[];
  /** keep every request in `requests` (default); off for benchmarks, which send many */
  recordRequests?: boolean;
  /** events kept for watches resuming from a resourceVersion (default 10,000); older ones get 410 Expired */
  watchHistory?: number;
}

/** What `serviceaccounts/token` answers: a JWT-looking value a proxy must mask. */
export const fakeServiceAccountTokenPrefix = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImZha2UifQ.';

/** The real API server's request body limit (3 MiB); a larger body is answered 413. */
const maxRequestBytes = 3 * 1024 * 1024;

export interface FakeKubeApiServer {
  /** https://127.0.0.1:PORT */
  url: string;
  port: number;
  /** the first accepted token */
  token: string;
  requests: RecordedRequest[];
  execs: ExecRecord[];
  portForwards: PortForwardRecord[];
  store: FakeKubeStore;
  /** Connects `port` of the pod to a TCP address (an echo server the test runs): what a port-forward to it reaches. */
  setPortTarget(namespace: string, pod: string, port: number, address: { host: string; port: number }): void;
  /** Creates an object as a client's POST would (core group unless `group` is given). */
  create(plural: string, namespace: string | undefined, object: KubeObject, group?: string): KubeObject;
  /** Sets a pod's log lines (without newlines). */
  setLog(namespace: string, pod: string, lines: string[]): void;
  /** Adds a line to a pod's log; followers get it at once. */
  appendLog(namespace: string, pod: string, line: string): void;
  /** How many watch and log-follow streams are open. */
  openStreams(): number;
  close(): Promise<void>;
}

interface RequestTarget {
  resource: ResourceInfo;
  namespace?: string;
  name?: string;
  subresource?: string;
}

type ResponseForm = { kind: 'json' } | { kind: 'table'; version: string } | { kind: 'metadata'; version: string };

function queryOf(url: URL): Record<string, string[]> {
  const query: Record<string, string[]> = {};
  for (const [key, value] of url.searchParams) (query[key] ??= []).push(value);
  return query;
}

function impersonationOf(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const found: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (name.startsWith('impersonate-') && value !== undefined) found[name] = value;
  return found;
}

/** The Accept entries in order, each as its media type and parameters. */
function acceptEntries(accept: string | undefined): { type: string; params: Record<string, string> }[] {
  if (!accept) return [{ type: 'application/json', params: {} }];
  return accept.split(',').map((entry) => {
    const [type = '', ...rest] = entry.split(';').map((s) => s.trim());
    const params: Record<string, string> = {};
    for (const p of rest) {
      const [k, v] = p.split('=');
      if (k && v !== undefined) params[k.trim()] = v.trim();
    }
    return { type: type.toLowerCase(), params };
  });
}

/**
 * The first Accept entry this server can answer, as the real server negotiates: Table and
 * PartialObjectMetadata in meta.k8s.io, plain JSON; protobuf and aggregated discovery are not offered.
 */
function negotiate(accept: string | undefined): ResponseForm | undefined {
  for (const { type, params } of acceptEntries(accept)) {
    if (!['application/json', 'application/*', '*/*'].includes(type)) continue;
    if (params.as === undefined) return { kind: 'json' };
    if (params.g !== 'meta.k8s.io' || !['v1', 'v1beta1'].includes(params.v ?? '')) continue;
    if (params.as === 'Table') return { kind: 'table', version: params.v! };
    if (params.as === 'PartialObjectMetadata' || params.as === 'PartialObjectMetadataList') return { kind: 'metadata', version: params.v! };
  }
  return undefined;
}

function isTrue(value: string | undefined): boolean {
  return value === 'true' || value === '1';
}

/** `k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated: what a test or kubectl -l sends. */
function labelMatcher(selector: string | undefined): (obj: KubeObject) => boolean {
  if (!selector) return () => true;
  const tests = selector.split(',').map((requirement) => {
    const r = requirement.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s*!=\s*([\w.-]*)$/.exec(r))) return (labels: Record<string, string>) => labels[m![1]!] !== m![2];
    if ((m = /^([\w./-]+)\s*==?\s*([\w.-]*)$/.exec(r))) return (labels: Record<string, string>) => labels[m![1]!] === m![2];
    if ((m = /^!([\w./-]+)$/.exec(r))) return (labels: Record<string, string>) => !(m![1]! in labels);
    if ((m = /^([\w./-]+)$/.exec(r))) return (labels: Record<string, string>) => m![1]! in labels;
    throw new KubeStatusError(failureStatus(400, 'BadRequest', `unable to parse requirement: ${r}`));
  });
  return (obj) => tests.every((t) => t(obj.metadata?.labels ?? {}));
}

function fieldMatcher(selector: string | undefined): (obj: KubeObject) => boolean {
  if (!selector) return () => true;
  const tests = selector.split(',').map((requirement) => {
    const m = /^\s*(metadata\.name|metadata\.namespace)\s*(!=|==|=)\s*(.*?)\s*$/.exec(requirement);
    if (!m) throw new KubeStatusError(failureStatus(400, 'BadRequest', `field label not supported: ${requirement.split(/[!=]/)[0]}`));
    const field = m[1] === 'metadata.name' ? 'name' : 'namespace';
    return (obj: KubeObject) => (obj.metadata?.[field] === m[3]) === (m[2] !== '!=');
  });
  return (obj) => tests.every((t) => t(obj));
}

/** A list's items carry no kind/apiVersion on the wire, as the real server encodes typed lists. */
function listItem(obj: KubeObject): KubeObject {
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = obj;
  return rest;
}

function podContainers(pod: KubeObject): string[] {
  const spec = pod.spec as { containers?: { name?: string }[] } | undefined;
  return (spec?.containers ?? []).map((c) => c.name ?? '');
}

/** Which container of `pod` a log or exec request means, or the real server's 400 when it cannot tell. */
function chooseContainer(pod: KubeObject, asked: string | undefined): string {
  const containers = podContainers(pod);
  const name = pod.metadata?.name ?? '';
  if (asked !== undefined && asked !== '') {
    if (!containers.includes(asked)) throw new KubeStatusError(failureStatus(400, 'BadRequest', `container ${asked} is not valid for pod ${name}`));
    return asked;
  }
  if (containers.length !== 1) throw new KubeStatusError(failureStatus(400, 'BadRequest', `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`));
  return containers[0]!;
}

export async function startFakeKubeApiServer(options: FakeKubeApiServerOptions): Promise<FakeKubeApiServer> {
  const tokens = options.tokens ?? [`fake-cluster-token-${randomUUID()}`];
  const store = new FakeKubeStore(options.watchHistory);
  const requests: RecordedRequest[] = [];
  const execs: ExecRecord[] = [];
  const portForwards: PortForwardRecord[] = [];
  const portTargets: PortTargets = new Map();
  const logs = new Map<string, string[]>();
  const logFollowers = new Map<string, Set<(line: string) => void>>();
  const streams = new Set<ServerResponse>();
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => execSubprotocols.find((p) => offered.has(p)) ?? false });
  const portForwardWss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => (offered.has('v4.channel.k8s.io') ? 'v4.channel.k8s.io' : false) });
  let serverAddress = '';

  const logKey = (namespace: string, pod: string) => `${namespace}/${pod}`;

  const record = (req: IncomingMessage, url: URL, body: string, authorized: boolean): RecordedRequest => {
    const upgrade = req.headers.upgrade?.toLowerCase();
    const entry: RecordedRequest = {
      method: req.method ?? '',
      path: url.pathname,
      query: queryOf(url),
      headers: req.headers,
      ...(req.headers.authorization !== undefined ? { authorization: req.headers.authorization } : {}),
      impersonation: impersonationOf(req.headers),
      body,
      ...(upgrade ? { upgrade } : {}),
      authorized,
    };
    if (options.recordRequests !== false) requests.push(entry);
    return entry;
  };

  const isAuthorized = (req: IncomingMessage): boolean => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    return m !== null && tokens.includes(m[1]!);
  };

  const sendJson = (res: ServerResponse, code: number, body: unknown, contentType = 'application/json') => {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
    res.end(text);
  };
  const sendStatus = (res: ServerResponse, status: Record<string, unknown>) => sendJson(res, Number(status.code), status);

  /** Resolves a resource path (after /api/v1 or /apis/G/V) into its resource, namespace, name and subresource. */
  const resolveTarget = (group: string, version: string, rest: string[]): RequestTarget | undefined => {
    let namespace: string | undefined;
    let parts = rest;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      parts = rest.slice(2);
    }
    const [plural, name, subresource, ...extra] = parts;
    if (!plural || extra.length > 0) return undefined;
    const resource = findResource(group, version, plural);
    if (!resource) return undefined;
    if (namespace !== undefined && !resource.namespaced) return undefined;
    if (subresource !== undefined && !findResource(group, version, `${plural}/${subresource}`)) return undefined;
    return { resource, ...(namespace !== undefined ? { namespace } : {}), ...(name !== undefined ? { name } : {}), ...(subresource !== undefined ? { subresource } : {}) };
  };

  /** `/api/v1/...` or `/apis/GROUP/VERSION/...` → group, version and the rest of the path. */
  const splitPath = (segments: string[]): { group: string; version: string; rest: string[] } | undefined => {
    if (segments[0] === 'api' && segments[1] === 'v1') return { group: '', version: 'v1', rest: segments.slice(2) };
    if (segments[0] === 'apis' && segments.length >= 3) return { group: segments[1]!, version: segments[2]!, rest: segments.slice(3) };
    return undefined;
  };

  const dryRunOf = (query: URLSearchParams, deleteOptions?: Record<string, unknown>): boolean => {
    const values = [...query.getAll('dryRun'), ...(Array.isArray(deleteOptions?.dryRun) ? (deleteOptions.dryRun as unknown[]).map(String) : [])];
    for (const value of values) {
      if (value !== 'All') throw new KubeStatusError(failureStatus(400, 'BadRequest', `Invalid dryRun value: ${value}; supported values: "All"`));
    }
    return values.length > 0;
  };

  const parseBody = (body: string, contentType: string | undefined): unknown => {
    try {
      return /yaml/i.test(contentType ?? '') ? YAML.parse(body) : JSON.parse(body);
    } catch (err) {
      throw new KubeStatusError(failureStatus(400, 'BadRequest', `couldn't get version/kind; json parse error: ${(err as Error).message}`));
    }
  };

  const shapeForm = (form: ResponseForm, resource: ResourceInfo, objects: KubeObject[], listMeta: Record<string, unknown>, query: URLSearchParams, single: boolean): unknown => {
    if (form.kind === 'table') {
      const includeObject = (query.get('includeObject') ?? 'Metadata') as IncludeObject;
      if (!['None', 'Metadata', 'Object'].includes(includeObject)) throw new KubeStatusError(failureStatus(400, 'BadRequest', `includeObject: Unsupported value: "${includeObject}"`));
      return { ...toTable(resource, objects, listMeta, includeObject), apiVersion: `meta.k8s.io/${form.version}` };
    }
    if (form.kind === 'metadata') {
      const partial = (obj: KubeObject) => ({ kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${form.version}`, metadata: obj.metadata });
      if (single) return partial(objects[0]!);
      return { kind: 'PartialObjectMetadataList', apiVersion: `meta.k8s.io/${form.version}`, metadata: listMeta, items: objects.map(partial) };
    }
    return single ? objects[0] : { kind: `${resource.kind}List`, apiVersion: apiVersionOf(resource.group, resource.version), metadata: listMeta, items: objects.map(listItem) };
  };

  const contentTypeOf = (form: ResponseForm): string =>
    form.kind === 'table' ? `application/json;as=Table;v=${form.version};g=meta.k8s.io` : form.kind === 'metadata' ? `application/json;as=PartialObjectMetadata;v=${form.version};g=meta.k8s.io` : 'application/json';

  const serveWatch = (req: IncomingMessage, res: ServerResponse, target: RequestTarget, query: URLSearchParams, form: ResponseForm) => {
    // selectors parsed before the answer starts, so a bad one is a 400 and not a broken stream
    const labels = labelMatcher(query.get('labelSelector') ?? undefined);
    const fields = fieldMatcher(query.get('fieldSelector') ?? undefined);
    const matches = (obj: KubeObject) =>
      (target.namespace === undefined || obj.metadata?.namespace === target.namespace) && (target.name === undefined || obj.metadata?.name === target.name) && labels(obj) && fields(obj);
    const line = (type: string, obj: KubeObject) => `${JSON.stringify({ type, object: form.kind === 'json' ? obj : shapeForm(form, target.resource, [obj], { resourceVersion: obj.metadata?.resourceVersion }, query, true) })}\n`;
    const wanted = (event: StoredEvent) => event.resource === target.resource && matches(event.object);
    res.writeHead(200, { 'Content-Type': contentTypeOf(form), 'Cache-Control': 'no-cache, private' });
    // the real server sends the headers at once: a client waits for them before it reads any event
    res.flushHeaders();
    streams.add(res);
    const since = query.get('resourceVersion');
    // unset or "0": the current state as ADDED events first (the real server's "get state and start at most recent")
    const send = (text: string) => {
      if (!res.writableEnded) res.write(text);
    };
    if (!since || since === '0') for (const obj of store.list(target.resource, target.namespace).filter(matches)) send(line('ADDED', obj));
    else {
      const replay = /^\d+$/.test(since) ? store.eventsSince(Number(since)) : undefined;
      if (!replay) {
        // what the real server sends for a version older than its watch cache: one ERROR event, then the end
        send(`${JSON.stringify({ type: 'ERROR', object: failureStatus(410, 'Expired', `too old resource version: ${since} (${store.resourceVersion})`) })}\n`);
        streams.delete(res);
        return void res.end();
      }
      for (const event of replay.filter(wanted)) send(line(event.type, event.object));
    }
    const unsubscribe = store.subscribe((event) => {
      if (wanted(event)) send(line(event.type, event.object));
    });
    const timeout = Number(query.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    const stop = () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
      streams.delete(res);
    };
    res.on('close', stop);
  };

  const serveList = (res: ServerResponse, target: RequestTarget, query: URLSearchParams, form: ResponseForm) => {
    let items = store.list(target.resource, target.namespace).filter(labelMatcher(query.get('labelSelector') ?? undefined)).filter(fieldMatcher(query.get('fieldSelector') ?? undefined));
    let offset = 0;
    const token = query.get('continue');
    if (token) {
      try {
        offset = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset: number }).offset;
        if (!Number.isInteger(offset) || offset < 0) throw new Error('bad offset');
      } catch {
        throw new KubeStatusError(failureStatus(400, 'BadRequest', 'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)'));
      }
    }
    const limit = Number(query.get('limit') ?? 0);
    const listMeta: Record<string, unknown> = { resourceVersion: String(store.resourceVersion) };
    items = items.slice(offset);
    if (limit > 0 && items.length > limit) {
      listMeta.continue = Buffer.from(JSON.stringify({ offset: offset + limit })).toString('base64url');
      listMeta.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    sendJson(res, 200, shapeForm(form, target.resource, items, listMeta, query, false), contentTypeOf(form));
  };

  const serveLog = (req: IncomingMessage, res: ServerResponse, target: RequestTarget, query: URLSearchParams) => {
    const pod = store.get(target.resource, target.namespace, target.name!);
    chooseContainer(pod, query.get('container') ?? undefined);
    const key = logKey(target.namespace!, target.name!);
    let lines = logs.get(key) ?? [`${target.name} started`, `${target.name} listening on :8080`, `${target.name} ready`];
    const tail = query.get('tailLines');
    if (tail !== null) lines = Number(tail) > 0 ? lines.slice(-Number(tail)) : [];
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    for (const l of lines) res.write(`${l}\n`);
    if (!isTrue(query.get('follow') ?? undefined)) return void res.end();
    streams.add(res);
    const follower = (l: string) => {
      if (!res.writableEnded) res.write(`${l}\n`);
    };
    const followers = logFollowers.get(key) ?? new Set();
    followers.add(follower);
    logFollowers.set(key, followers);
    const stop = () => {
      followers.delete(follower);
      streams.delete(res);
    };
    res.on('close', stop);
  };

  const serveToken = (res: ServerResponse, target: RequestTarget, body: unknown, dryRun: boolean) => {
    store.get(target.resource, target.namespace, target.name!);
    const request = (body && typeof body === 'object' ? body : {}) as { spec?: { audiences?: string[]; expirationSeconds?: number } };
    const seconds = request.spec?.expirationSeconds ?? 3600;
    sendJson(res, 201, {
      kind: 'TokenRequest',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { name: target.name, namespace: target.namespace, creationTimestamp: null },
      spec: { audiences: request.spec?.audiences ?? ['https://kubernetes.default.svc'], expirationSeconds: seconds, boundObjectRef: null },
      status: { token: dryRun ? '' : `${fakeServiceAccountTokenPrefix}${Buffer.from(JSON.stringify({ sub: `system:serviceaccount:${target.namespace}:${target.name}`, jti: randomUUID() })).toString('base64url')}.c2lnbmF0dXJl`, expirationTimestamp: new Date(Date.now() + seconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z') },
    });
  };

  /** `deployments/scale` as autoscaling/v1 Scale: what kubectl scale reads and patches. */
  const serveScale = (req: IncomingMessage, res: ServerResponse, target: RequestTarget, body: string) => {
    const query = new URL(req.url ?? '/', 'https://fake-kube').searchParams;
    const scaleOf = (deployment: KubeObject): KubeObject => {
      const spec = deployment.spec as { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
      return {
        kind: 'Scale',
        apiVersion: 'autoscaling/v1',
        metadata: { name: deployment.metadata?.name, namespace: deployment.metadata?.namespace, uid: deployment.metadata?.uid, resourceVersion: deployment.metadata?.resourceVersion, creationTimestamp: deployment.metadata?.creationTimestamp },
        spec: { replicas: spec.replicas ?? 1 },
        status: { replicas: spec.replicas ?? 1, selector: Object.entries(spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') },
      };
    };
    const current = store.get(target.resource, target.namespace, target.name!);
    if (req.method === 'GET') return sendJson(res, 200, scaleOf(current));
    if (req.method !== 'PATCH' && req.method !== 'PUT') throw new KubeStatusError(failureStatus(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
    const wanted = (req.method === 'PUT' ? parseBody(body, req.headers['content-type']) : applyPatch(scaleOf(current), patchTypeOf(req.headers['content-type']), body)) as { spec?: { replicas?: unknown } };
    const replicas = wanted.spec?.replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw new KubeStatusError(failureStatus(422, 'Invalid', `Scale.autoscaling "${target.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`));
    }
    const updated = store.patch(target.resource, target.namespace, target.name!, 'merge', JSON.stringify({ spec: { replicas } }), { dryRun: dryRunOf(query) });
    sendJson(res, 200, scaleOf(updated));
  };

  const patchTypeOf = (contentType: string | undefined): PatchType => {
    const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
    const known: Record<string, PatchType> = {
      'application/merge-patch+json': 'merge',
      'application/strategic-merge-patch+json': 'strategic',
      'application/json-patch+json': 'json',
      'application/apply-patch+yaml': 'apply',
    };
    const found = known[type];
    if (!found) throw new KubeStatusError(failureStatus(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`));
    return found;
  };

  const serveResource = (req: IncomingMessage, res: ServerResponse, url: URL, target: RequestTarget, body: string) => {
    const query = url.searchParams;
    const method = req.method ?? 'GET';
    const { resource, namespace, name, subresource } = target;
    if (subresource === 'log' && method === 'GET') return serveLog(req, res, target, query);
    if (subresource === 'token' && method === 'POST') return serveToken(res, target, body ? parseBody(body, req.headers['content-type']) : {}, dryRunOf(query));
    if (subresource === 'exec' || subresource === 'attach' || subresource === 'portforward') {
      throw new KubeStatusError(failureStatus(400, 'BadRequest', `Upgrade request required`));
    }
    if (subresource === 'scale') return serveScale(req, res, target, body);
    if (subresource !== undefined && subresource !== 'status') throw new KubeStatusError(failureStatus(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`));
    const form = negotiate(req.headers.accept);
    if (!form) throw new KubeStatusError(failureStatus(406, 'NotAcceptable', `only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io`));
    switch (method) {
      case 'GET':
        if (isTrue(query.get('watch') ?? undefined)) return serveWatch(req, res, target, query, form);
        if (name === undefined) return serveList(res, target, query, form);
        return sendJson(res, 200, shapeForm(form, resource, [store.get(resource, namespace, name)], {}, query, true), contentTypeOf(form));
      case 'POST':
        if (name !== undefined) throw new KubeStatusError(failureStatus(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
        return sendJson(res, 201, store.create(resource, namespace, parseBody(body, req.headers['content-type']), { dryRun: dryRunOf(query) }));
      case 'PUT':
        if (name === undefined) throw new KubeStatusError(failureStatus(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
        return sendJson(res, 200, store.update(resource, namespace, name, parseBody(body, req.headers['content-type']), { dryRun: dryRunOf(query) }));
      case 'PATCH': {
        if (name === undefined) throw new KubeStatusError(failureStatus(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
        const type = patchTypeOf(req.headers['content-type']);
        const existed = store.list(resource, namespace).some((o) => o.metadata?.name === name);
        const fieldManager = query.get('fieldManager') ?? undefined;
        const patched = store.patch(resource, namespace, name, type, body, { dryRun: dryRunOf(query), ...(fieldManager ? { fieldManager } : {}) });
        return sendJson(res, existed ? 200 : 201, patched);
      }
      case 'DELETE': {
        const deleteOptions = body.trim() ? (parseBody(body, req.headers['content-type']) as Record<string, unknown>) : undefined;
        const dryRun = dryRunOf(query, deleteOptions);
        if (name === undefined) {
          const deleted = store.list(resource, namespace).filter(labelMatcher(query.get('labelSelector') ?? undefined)).map((o) => store.delete(resource, namespace, o.metadata!.name!, { dryRun }));
          return sendJson(res, 200, { kind: `${resource.kind}List`, apiVersion: apiVersionOf(resource.group, resource.version), metadata: { resourceVersion: String(store.resourceVersion) }, items: deleted.map(listItem) });
        }
        const preconditions = deleteOptions?.preconditions as { uid?: string; resourceVersion?: string } | undefined;
        const current = store.get(resource, namespace, name);
        if (preconditions?.uid !== undefined && preconditions.uid !== current.metadata?.uid) {
          throw new KubeStatusError(failureStatus(409, 'Conflict', `Operation cannot be fulfilled on ${resource.name} "${name}": Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${current.metadata?.uid}`, { name, kind: resource.name }));
        }
        return sendJson(res, 200, store.delete(resource, namespace, name, { dryRun }));
      }
      default:
        throw new KubeStatusError(failureStatus(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
    }
  };

  const route = (req: IncomingMessage, res: ServerResponse, url: URL, body: string) => {
    const segments = url.pathname.split('/').filter(Boolean);
    const path = `/${segments.join('/')}`;
    if (req.method !== 'GET' && ['/version', '/api', '/apis', '/healthz', '/livez', '/readyz'].includes(path)) {
      throw new KubeStatusError(failureStatus(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
    }
    if (path === '/version') return sendJson(res, 200, versionDocument());
    if (['/healthz', '/livez', '/readyz'].includes(path)) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      return void res.end('ok');
    }
    // aggregated discovery is asked first by kubectl 1.32; a server without it answers the plain form
    if (path === '/api') return sendJson(res, 200, apiVersionsDocument(serverAddress));
    if (path === '/apis') return sendJson(res, 200, apiGroupListDocument());
    // OpenAPI v3 only (kubectl asks for v3 first and needs v2 only when v3 is missing); v2 is a 404
    if (path === '/openapi/v3') return sendJson(res, 200, openApiV3Root());
    if (path.startsWith('/openapi/v3/')) {
      const document = openApiV3Document(path.slice('/openapi/v3/'.length));
      return document ? sendJson(res, 200, document) : sendStatus(res, resourceNotFound());
    }
    if (segments[0] === 'apis' && segments.length === 2) {
      const group = apiGroupDocument(segments[1]!);
      return group ? sendJson(res, 200, group) : sendStatus(res, resourceNotFound());
    }
    const split = splitPath(segments);
    if (!split || !hasGroupVersion(split.group, split.version)) return sendStatus(res, resourceNotFound());
    if (split.rest.length === 0) {
      if (req.method !== 'GET') throw new KubeStatusError(failureStatus(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
      return sendJson(res, 200, apiResourceListDocument(split.group, split.version));
    }
    const target = resolveTarget(split.group, split.version, split.rest);
    if (!target) return sendStatus(res, resourceNotFound());
    serveResource(req, res, url, target, body);
  };

  const server = https.createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://fake-kube');
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxRequestBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const authorized = isAuthorized(req);
      record(req, url, body, authorized);
      if (!authorized) return sendStatus(res, failureStatus(401, 'Unauthorized', 'Unauthorized'));
      if (tooLarge) return sendStatus(res, failureStatus(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${maxRequestBytes}`));
      try {
        route(req, res, url, body);
      } catch (err) {
        if (err instanceof KubeStatusError) sendStatus(res, err.status);
        else sendStatus(res, failureStatus(500, 'InternalError', `Internal error occurred: ${(err as Error).message}`));
      }
    });
  });

  /** An answer on a socket that asked to upgrade: plain HTTP with a Status body, then closed. */
  const refuseUpgrade = (socket: Socket, status: Record<string, unknown>) => {
    const text = JSON.stringify(status);
    const code = Number(status.code);
    socket.end(`HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
  };

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'https://fake-kube');
    const authorized = isAuthorized(req);
    record(req, url, '', authorized);
    socket.on('error', () => socket.destroy());
    if (!authorized) return refuseUpgrade(socket, failureStatus(401, 'Unauthorized', 'Unauthorized'));
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') {
      return refuseUpgrade(socket, failureStatus(400, 'BadRequest', `the fake Kubernetes API server does not speak ${req.headers.upgrade}; exec and attach are served over WebSocket (v5.channel.k8s.io, v4.channel.k8s.io)`));
    }
    try {
      const split = splitPath(url.pathname.split('/').filter(Boolean));
      const target = split ? resolveTarget(split.group, split.version, split.rest) : undefined;
      if (!target || target.resource.name !== 'pods' || target.name === undefined || (target.subresource !== 'exec' && target.subresource !== 'attach' && target.subresource !== 'portforward')) {
        return refuseUpgrade(socket, resourceNotFound());
      }
      const pod = store.get(target.resource, target.namespace, target.name);
      const query = url.searchParams;
      if (target.subresource === 'portforward') {
        const ports = query.getAll('ports').flatMap((p) => p.split(','));
        if (ports.length === 0 || ports.some((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535)) return refuseUpgrade(socket, failureStatus(400, 'BadRequest', `invalid port in ports=${ports.join(',')}`));
        const offeredPf = new Set((req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()));
        if (!offeredPf.has('v4.channel.k8s.io')) return refuseUpgrade(socket, failureStatus(400, 'BadRequest', 'this fake serves port-forward over v4.channel.k8s.io only'));
        return portForwardWss.handleUpgrade(req, socket, head, (ws) => {
          const record: PortForwardRecord = { namespace: target.namespace!, pod: target.name!, ports: ports.map(Number), bytesFromClient: 0, bytesToClient: 0, closed: false };
          portForwards.push(record);
          runPortForward(ws, record, portTargets, pod.metadata?.uid ?? '');
        });
      }
      const container = chooseContainer(pod, query.get('container') ?? undefined);
      const command = target.subresource === 'attach' ? ['cat'] : query.getAll('command');
      if (command.length === 0) return refuseUpgrade(socket, failureStatus(400, 'BadRequest', 'you must specify at least 1 command'));
      const offered = new Set((req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()));
      const protocol = execSubprotocols.find((p) => offered.has(p));
      if (!protocol) return refuseUpgrade(socket, failureStatus(400, 'BadRequest', `none of the offered subprotocols (${[...offered].join(', ')}) is served; this fake speaks ${execSubprotocols.join(', ')}`));
      const streams = { stdin: isTrue(query.get('stdin') ?? undefined), stdout: isTrue(query.get('stdout') ?? 'true'), stderr: isTrue(query.get('stderr') ?? 'true') };
      wss.handleUpgrade(req, socket, head, (ws) => {
        const exec: ExecRecord = {
          namespace: target.namespace!,
          pod: target.name!,
          container,
          command,
          protocol: protocol as ExecSubprotocol,
          tty: isTrue(query.get('tty') ?? undefined),
          stdin: Buffer.alloc(0),
          resizes: [],
          stdinClosed: false,
        };
        execs.push(exec);
        void runExec(ws, exec, streams).then(() => (exec.socketClosed = true));
      });
    } catch (err) {
      refuseUpgrade(socket, err instanceof KubeStatusError ? err.status : failureStatus(500, 'InternalError', (err as Error).message));
    }
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  serverAddress = `127.0.0.1:${port}`;

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    token: tokens[0]!,
    requests,
    execs,
    portForwards,
    store,
    setPortTarget(namespace, pod, port, address) {
      portTargets.set(portTargetKey(namespace, pod, port), address);
    },
    create(plural, namespace, object, group = '') {
      return store.create(store.resource(group, plural), namespace, object, { dryRun: false });
    },
    setLog(namespace, pod, lines) {
      logs.set(logKey(namespace, pod), [...lines]);
    },
    appendLog(namespace, pod, line) {
      const key = logKey(namespace, pod);
      logs.set(key, [...(logs.get(key) ?? []), line]);
      for (const follower of logFollowers.get(key) ?? []) follower(line);
    },
    openStreams: () => streams.size,
    async close() {
      for (const res of streams) res.end();
      for (const client of [...wss.clients, ...portForwardWss.clients]) client.terminate();
      wss.close();
      portForwardWss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

