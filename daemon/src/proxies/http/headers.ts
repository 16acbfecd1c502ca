import type { HeaderList } from '../../classify/http/types.js';

/**
 * Which of the agent's headers go upstream (RFC 9110 §7.6.1). Pure.
 *
 * Dropped: hop-by-hop headers (Connection and every header it names, Keep-Alive, TE, Trailer,
 * Transfer-Encoding, Upgrade unless the request is a WebSocket upgrade, Proxy-*); the agent's
 * Authorization (its session token) and the target's own credential header name (the daemon adds
 * the real one); Cookie (the daemon keeps the upstream's cookies itself, see cookies.ts); Host (the
 * upstream's is set); Accept-Encoding (identity is asked for so the body can be masked);
 * Content-Length (set again from the request description, which policy saw); and the headers a
 * proxy, not a client, sets (Forwarded, X-Forwarded-*, X-Real-IP): an agent sending them would be
 * telling the upstream a story about where the request came from.
 */
const ALWAYS_DROPPED = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'authorization',
  'cookie',
  'host',
  'accept-encoding',
  'content-length',
  'expect',
  'forwarded',
  'x-real-ip',
]);

/** Header name → value(s), as undici takes them and as HttpHeaders records them. */
export type HeaderRecord = Record<string, string | string[]>;

export interface ForwardOptions {
  /** keep Upgrade/Connection: upgrade and the Sec-WebSocket-* headers */
  websocket: boolean;
  /** the declared body length policy saw (undefined: chunked) */
  contentLength?: number;
  /** the credential header's name (lowercased) the daemon adds: the agent's own is dropped */
  credentialHeader?: string;
}

/** The agent's headers as they go upstream, before the credential is added. */
export function forwardHeaders(headers: HeaderList, options: ForwardOptions): HeaderRecord {
  const named = new Set<string>();
  for (const [name, value] of headers) {
    if (name !== 'connection') continue;
    for (const token of value.split(',')) {
      const t = token.trim().toLowerCase();
      if (t) named.add(t);
    }
  }
  const out: HeaderRecord = {};
  for (const [name, value] of headers) {
    if (ALWAYS_DROPPED.has(name) || name.startsWith('proxy-') || name.startsWith('x-forwarded-')) continue;
    if (name === options.credentialHeader) continue;
    if (named.has(name) && !(options.websocket && name.startsWith('sec-websocket-'))) continue;
    const had = out[name];
    if (had === undefined) out[name] = value;
    else if (Array.isArray(had)) had.push(value);
    else out[name] = [had, value];
  }
  if (options.contentLength !== undefined && options.contentLength > 0) out['content-length'] = String(options.contentLength);
  if (options.websocket) {
    out.connection = 'upgrade';
    out.upgrade = 'websocket';
  } else out['accept-encoding'] = 'identity';
  return out;
}

/**
 * Response headers the agent never gets whatever the masker says: hop-by-hop ones (Node frames the
 * response itself) and Set-Cookie (the cookie jar keeps them; an upstream session cookie is a
 * credential too).
 */
const RESPONSE_DROPPED = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection', 'proxy-authenticate', 'set-cookie', 'set-cookie2']);

/** Headers describing the bytes of a body that the masker may change. */
const BODY_BOUND = new Set(['content-length', 'etag', 'content-md5', 'digest', 'content-encoding', 'repr-digest', 'content-digest']);

/** The upstream's response headers the agent may get (before masking), with what a masked body invalidates removed when `bodyRewritten`. */
export function responseHeaders(headers: Record<string, string | string[] | undefined>, bodyRewritten: boolean): HeaderRecord {
  const named = new Set<string>();
  const connection = headers.connection;
  for (const value of Array.isArray(connection) ? connection : connection ? [connection] : []) {
    for (const token of value.split(',')) named.add(token.trim().toLowerCase());
  }
  const out: HeaderRecord = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || RESPONSE_DROPPED.has(name) || named.has(name)) continue;
    if (bodyRewritten && BODY_BOUND.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** The first value of a header in the agent's list (names lowercased). */
export function headerValue(headers: HeaderList, name: string): string | undefined {
  for (const [n, v] of headers) if (n === name) return v;
  return undefined;
}

/** Node's rawHeaders (name, value, name, value …) as a HeaderList with names lowercased. */
export function headerListOf(raw: string[]): Array<[string, string]> {
  const list: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) list.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return list;
}

/** The first value of a header as Node's IncomingMessage gives it (a string, or a list for repeated ones). */
export function firstHeaderValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
