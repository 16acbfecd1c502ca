import {
  describeCut,
  formatBytes,
  oneLineText,
  printable,
  type GitRefUpdateDetail,
  type HttpBodyExcerpt,
  type HttpConnectDetail,
  type HttpHeaders,
  type HttpRequestDetail,
  type HttpResponseResultDetail,
  type HttpTunnelResultDetail,
  type HttpWebsocketDetail,
} from '@airlock/shared';
import type { TimelineEntry } from '../protocol/webview-messages.js';

/**
 * How HTTP and egress actions read to a person: one line for the views ("POST api.github.com/repos/a/b/pulls",
 * "GraphQL mutation addStar", "git push refs/heads/main (force)", "CONNECT registry.npmjs.org:443")
 * and the view models the approval panel and the replay render. Pure, like the rest of state/.
 */

/** The first 7 hex digits of an object id, as git prints them; the all-zero id (no object) as "none". */
export function shortOid(oid: string): string {
  return /^0+$/.test(oid) ? 'none' : oneLineText(oid.slice(0, 7));
}

function refLine(r: GitRefUpdateDetail): string {
  return r.change === 'fast-forward' ? oneLineText(r.ref) : `${oneLineText(r.ref)} (${r.change})`;
}

/** "GraphQL mutation addStar": the operation's type and name, or its first field when it has no name. */
function graphqlOperationLine(op: NonNullable<HttpRequestDetail['graphql']>['operations'][number]): string {
  const name = op.name ?? (op.fields.length > 0 ? op.fields.join(', ') : undefined);
  return `${op.type}${name ? ` ${oneLineText(name)}` : ''}`;
}

/**
 * The line a view shows for a request: what it does when the daemon recognised a protocol on top
 * of HTTP (a git push names each ref and how it changes; GraphQL names its operations), else its
 * method, host and path. A method override shows as what the upstream may act on.
 */
export function httpRequestLine(d: HttpRequestDetail): string {
  const where = `${oneLineText(d.host)}${oneLineText(d.path)}`;
  if (d.git) {
    if (d.git.service === 'git-upload-pack') return `git fetch ${where}`;
    return d.git.refs.length > 0 ? `git push ${d.git.refs.map(refLine).join(', ')}` : `git push ${where}`;
  }
  if (d.graphql && d.graphql.operations.length > 0) return `GraphQL ${d.graphql.operations.map(graphqlOperationLine).join('; ')}`;
  if (d.graphql?.parseError !== undefined) return `GraphQL (unparsed) ${oneLineText(d.method)} ${where}`;
  const method = d.methodOverride ? `${oneLineText(d.method)} (as ${oneLineText(d.methodOverride)})` : oneLineText(d.method);
  return `${method} ${where}`;
}

export function websocketLine(d: HttpWebsocketDetail): string {
  return `WebSocket ${oneLineText(d.host)}${oneLineText(d.path)}`;
}

/** host:port, an IPv6 address in brackets. */
export function hostPort(host: string, port: number): string {
  const h = oneLineText(host);
  return `${h.includes(':') && !h.startsWith('[') ? `[${h}]` : h}:${port}`;
}

export function connectLine(d: HttpConnectDetail): string {
  return `CONNECT ${hostPort(d.host, d.port)}`;
}

// ---- bodies ------------------------------------------------------------------------------------------

/**
 * JSON laid out with two-space indentation, token by token: every key, value and number stays as
 * written. Parsing and printing again would not do: a duplicated key (`{"a":1,"a":2}`) would show
 * once while the upstream may read the other, and large numbers would be rounded. Text that is not
 * JSON (or the head of a cut body) is laid out as far as it goes; the caller decides whether to.
 */
export function reindentJson(text: string, indent = '  '): string {
  let out = '';
  let depth = 0;
  let i = 0;
  const newline = () => `\n${indent.repeat(Math.max(0, depth))}`;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      // a string, escapes and all, exactly as written
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '{' || c === '[') {
      // an empty object or array stays on one line
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j]!)) j++;
      if (text[j] === (c === '{' ? '}' : ']')) {
        out += c + text[j];
        i = j + 1;
        continue;
      }
      depth++;
      out += c + newline();
    } else if (c === '}' || c === ']') {
      depth--;
      out += newline() + c;
    } else if (c === ',') out += c + newline();
    else if (c === ':') out += ': ';
    else if (!/\s/.test(c)) out += c;
    i++;
  }
  return out;
}

function isJsonType(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/([\w.-]+\+)?json\b/i.test(contentType.trim());
}

function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const TREATMENTS: Record<HttpBodyExcerpt['treatment'], string> = {
  json: 'masked as JSON (by key name and content)',
  text: 'masked as text',
  ndjson: 'masked line by line (NDJSON)',
  sse: 'masked per event (server-sent events)',
  binary: 'binary: passed unmasked, not recorded',
  none: 'no body',
};

export interface HttpBodyView {
  /** the excerpt as shown (laid out when it is JSON and `pretty`), unprintable characters escaped */
  text?: string;
  /** the excerpt was laid out as JSON */
  pretty: boolean;
  contentType?: string;
  /** "1.2 KiB", "did not end" */
  size: string;
  /** the daemon kept the head: how much of how much, and its SHA-256 */
  cutNotice?: string;
  treatment: string;
}

/** A body excerpt as a panel shows it; JSON laid out when `pretty` (whole JSON, or the head of a cut JSON body). */
export function httpBodyView(body: HttpBodyExcerpt, pretty: boolean): HttpBodyView {
  const json = body.text !== undefined && (isJsonText(body.text) || (body.cut !== undefined && (body.treatment === 'json' || isJsonType(body.contentType)) && /^\s*[[{]/.test(body.text)));
  const layOut = pretty && json;
  return {
    ...(body.text !== undefined ? { text: printableKeepingLines(layOut ? reindentJson(body.text) : body.text) } : {}),
    pretty: layOut,
    ...(body.contentType !== undefined ? { contentType: oneLineText(body.contentType) } : {}),
    size: body.bytes === null ? 'did not end' : formatBytes(body.bytes),
    ...(body.cut ? { cutNotice: describeCut(body.cut, 'body') } : {}),
    treatment: TREATMENTS[body.treatment],
  };
}

/** Unprintable characters escaped, line breaks and tabs kept (a body is read as lines). */
function printableKeepingLines(text: string): string {
  return text
    .split(/(\r?\n|\t)/)
    .map((part) => (part === '\n' || part === '\r\n' || part === '\t' ? part : printable(part)))
    .join('');
}

// ---- headers -------------------------------------------------------------------------------------------

export interface HeaderRow {
  name: string;
  value: string;
}

/** One row per value, in the order recorded; names and values on one line, escaped. */
export function headerRows(headers: HttpHeaders | undefined): HeaderRow[] {
  const rows: HeaderRow[] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) rows.push({ name: oneLineText(name), value: oneLineText(v) });
  }
  return rows;
}

// ---- request view --------------------------------------------------------------------------------------

export interface GraphqlOperationView {
  type: 'query' | 'mutation' | 'subscription';
  /** the operation's name, or "(anonymous)" */
  name: string;
  fields: string[];
  /** read for queries; write otherwise (the daemon's class for it) */
  class: 'read' | 'write';
}

export interface GitRefView {
  ref: string;
  oldId: string;
  newId: string;
  change: GitRefUpdateDetail['change'];
}

export interface HttpRequestView {
  method: string;
  url: string;
  urlCutNotice?: string;
  host: string;
  path: string;
  via: string;
  headers: HeaderRow[];
  body?: HttpBodyView;
  /** the request asks the upstream to act as another method: said plainly, as a warning */
  overrideWarning?: string;
  graphql?: { operations: GraphqlOperationView[]; document?: string; parseError?: string };
  git?: { operation: 'fetch' | 'push'; refs: GitRefView[] };
  /** WebSocket: the subprotocols asked for */
  protocols?: string[];
}

export function httpRequestView(d: HttpRequestDetail | HttpWebsocketDetail, prettyBody: boolean): HttpRequestView {
  const method = oneLineText(d.method);
  const override = d.methodOverride !== undefined ? oneLineText(d.methodOverride) : undefined;
  return {
    method,
    url: oneLineText(d.url),
    ...(d.urlCut ? { urlCutNotice: describeCut(d.urlCut, 'URL') } : {}),
    host: oneLineText(d.host),
    path: oneLineText(d.path),
    via: d.via === 'egress' ? 'the egress proxy (plain HTTP)' : 'an API target (the daemon adds the credential)',
    headers: headerRows(d.headers),
    ...(d.body && d.body.treatment !== 'none' ? { body: httpBodyView(d.body, prettyBody) } : {}),
    ...(override !== undefined && override.toUpperCase() !== method.toUpperCase()
      ? { overrideWarning: `The request asks the upstream to treat it as ${override}, not ${method} (a method override header): judge it as ${override}.` }
      : {}),
    ...(d.graphql
      ? {
          graphql: {
            operations: d.graphql.operations.map((op) => ({ type: op.type, name: op.name !== undefined ? oneLineText(op.name) : '(anonymous)', fields: op.fields.map(oneLineText), class: op.type === 'query' ? 'read' : 'write' })),
            ...(d.graphql.document !== undefined ? { document: printableKeepingLines(d.graphql.document) } : {}),
            ...(d.graphql.parseError !== undefined ? { parseError: oneLineText(d.graphql.parseError) } : {}),
          },
        }
      : {}),
    ...(d.git
      ? { git: { operation: d.git.service === 'git-upload-pack' ? 'fetch' : 'push', refs: d.git.refs.map((r) => ({ ref: oneLineText(r.ref), oldId: shortOid(r.oldOid), newId: shortOid(r.newOid), change: r.change })) } }
      : {}),
    ...('protocols' in d ? { protocols: d.protocols.map(oneLineText) } : {}),
  };
}

// ---- CONNECT --------------------------------------------------------------------------------------------

const DESTINATIONS: Record<HttpConnectDetail['destination'], string> = {
  listed: 'listed on the egress target (allowHosts)',
  public: 'a public address not on the egress target\'s list',
  internal: 'an internal address (loopback, private, link-local, a metadata endpoint or the daemon\'s own port)',
};

export interface HttpConnectView {
  hostPort: string;
  /** the approval panel's question */
  question: string;
  destination: HttpConnectDetail['destination'];
  destinationText: string;
  addresses: string[];
  note: string;
}

export function httpConnectView(d: HttpConnectDetail): HttpConnectView {
  const where = hostPort(d.host, d.port);
  return {
    hostPort: where,
    question: `Allow the agent to reach ${where} for this session?`,
    destination: d.destination,
    destinationText: DESTINATIONS[d.destination],
    addresses: d.addresses.map(oneLineText),
    note: 'A tunnel: TLS inside it is not intercepted. Airlock decides on the host, port and resolved address, and records the bytes each way, not their content.',
  };
}

// ---- results --------------------------------------------------------------------------------------------

export interface HttpResponseView {
  /** "200", or why there is none */
  status: string;
  ok: boolean;
  headers: HeaderRow[];
  body?: HttpBodyView;
  /** "1.2 KiB up" and, when the daemon decoded a content-encoding, which */
  transfer: string;
}

function headerContentType(headers: HttpHeaders | undefined): { contentType?: string } {
  const entry = Object.entries(headers ?? {}).find(([name]) => name.toLowerCase() === 'content-type');
  const value = entry ? (Array.isArray(entry[1]) ? entry[1][0] : entry[1]) : undefined;
  return value !== undefined ? { contentType: value } : {};
}

export function httpResponseView(r: HttpResponseResultDetail, prettyBody: boolean): HttpResponseView {
  return {
    status: r.status !== undefined ? String(r.status) : 'no response (the upstream was unreachable or reset)',
    ok: r.status !== undefined && r.status < 400,
    headers: headerRows(r.headers),
    // the body's own content type, else the response's header (an adapter may record only the header)
    ...(r.body && r.body.treatment !== 'none' ? { body: httpBodyView(r.body.contentType === undefined ? { ...r.body, ...headerContentType(r.headers) } : r.body, prettyBody) } : {}),
    transfer: `${formatBytes(r.requestBytes)} up${r.body ? `, ${r.body.bytes === null ? 'a body that did not end' : formatBytes(r.body.bytes)} down` : ''}${r.decoded ? ` (${oneLineText(r.decoded)} decoded by the daemon)` : ''}`,
  };
}

/** "↑ 1.2 KiB ↓ 40 MiB, closed by the agent" */
export function tunnelLine(r: HttpTunnelResultDetail): string {
  return `↑ ${formatBytes(r.bytesUp)} ↓ ${formatBytes(r.bytesDown)}${r.status !== undefined ? `, status ${r.status}` : ''}${r.closedBy ? `, closed by ${r.closedBy === 'limit' ? 'a limit' : r.closedBy === 'error' ? 'an error' : `the ${r.closedBy}`}` : ''}`;
}

// ---- the replay's HTTP lane ------------------------------------------------------------------------------

export interface HttpLaneRow {
  actionId: string;
  t: number;
  /** GET, POST, …, CONNECT or WS */
  method: string;
  /** host and path of a request, host:port of a tunnel */
  where: string;
  /** the response status, or how the action ended without one ("denied", "held", "no response") */
  status: string;
  failed: boolean;
  duration?: string;
  /** the response body's size, or a tunnel's bytes each way */
  bytes: string;
}

/** One row per HTTP or egress action of a replayed session, in time order; other kinds are not rows. */
export function httpLaneRows(entries: readonly TimelineEntry[]): HttpLaneRow[] {
  const rows: HttpLaneRow[] = [];
  for (const e of entries) {
    const d = e.detail;
    if (d.kind !== 'http.request' && d.kind !== 'http.connect' && d.kind !== 'http.websocket') continue;
    const r = e.result;
    const ended = e.status === 'denied' ? 'denied' : e.status === 'held' ? 'held' : undefined;
    const common = { actionId: e.actionId, t: e.t, ...(r?.durationMs !== undefined ? { duration: `${r.durationMs.toFixed(1)} ms` } : {}) };
    if (d.kind === 'http.connect') {
      rows.push({ ...common, method: 'CONNECT', where: hostPort(d.detail.host, d.detail.port), status: ended ?? (r?.tunnel ? 'tunnel' : '—'), failed: ended === 'denied', bytes: r?.tunnel ? `↑ ${formatBytes(r.tunnel.bytesUp)} ↓ ${formatBytes(r.tunnel.bytesDown)}` : '' });
      continue;
    }
    const where = `${oneLineText(d.detail.host)}${oneLineText(d.detail.path)}`;
    if (d.kind === 'http.websocket') {
      const status = ended ?? (r?.tunnel?.status !== undefined ? String(r.tunnel.status) : '—');
      rows.push({ ...common, method: 'WS', where, status, failed: ended === 'denied', bytes: r?.tunnel ? `↑ ${formatBytes(r.tunnel.bytesUp)} ↓ ${formatBytes(r.tunnel.bytesDown)}` : '' });
      continue;
    }
    const http = r?.http;
    const status = ended ?? (http?.status !== undefined ? String(http.status) : http ? 'no response' : '—');
    const body = http?.body;
    rows.push({
      ...common,
      method: oneLineText(d.detail.method),
      where,
      status,
      failed: ended === 'denied' || (http !== undefined && (http.status === undefined || http.status >= 400)),
      bytes: body ? (body.bytes === null ? 'did not end' : formatBytes(body.bytes)) : '',
    });
  }
  return rows;
}
