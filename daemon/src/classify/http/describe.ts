import { methodOverridesOf } from './method.js';
import { TargetRefusal, canonicalPath, canonicalQuery, queryPairs, queryPairsAnySeparator } from './path.js';
import type { DescribeLimits, HeaderList, HttpRequestDescription, HttpRequestHead, MalformedRequest, RequestBase } from './types.js';

/**
 * The request as policy sees it and as it goes upstream (see HttpRequestDescription): one pass over
 * the request line and the headers that decide what the upstream does. A request this cannot
 * describe exactly is refused (400/414) with one sentence saying why.
 *
 * - `base` an upstream: the target must be origin-form (`/path?query`); the Host header is ignored
 *   (the shell rewrites it) and host, port and scheme are the upstream's.
 * - `base` 'absolute' (egress, plain HTTP): the target must be an absolute `http://` URL; host and
 *   port come from it, the host canonicalised as a WHATWG URL parser does (`0x7f.1` and
 *   `2130706433` are 127.0.0.1), so the destination check sees the address that is reached.
 *   `user:pass@` is removed and noted (credentialsStripped), never described or recorded.
 */
export function describeRequest(head: HttpRequestHead, base: RequestBase, limits: DescribeLimits): HttpRequestDescription | MalformedRequest {
  try {
    return describe(head, base, limits);
  } catch (error) {
    if (error instanceof TargetRefusal) return { status: error.status, reason: error.message };
    throw error;
  }
}

export function isMalformed(value: HttpRequestDescription | MalformedRequest): value is MalformedRequest {
  return 'status' in value;
}

interface Location {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** the origin-form part: path and query as sent */
  rest: string;
  credentialsStripped: boolean;
}

function describe(head: HttpRequestHead, base: RequestBase, limits: DescribeLimits): HttpRequestDescription {
  if (head.target.length > limits.maxTargetBytes) {
    throw new TargetRefusal(414, `The request target is ${head.target.length} bytes long, above the limit of ${limits.maxTargetBytes}.`);
  }
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(head.method)) throw new TargetRefusal(400, 'The request method is not a valid token.');
  const location = base === 'absolute' ? absoluteLocation(head.target) : originLocation(head.target, base);
  const queryAt = location.rest.indexOf('?');
  const rawPath = queryAt < 0 ? location.rest : location.rest.slice(0, queryAt);
  const rawQuery = queryAt < 0 ? '' : location.rest.slice(queryAt + 1);
  const path = canonicalPath(rawPath);
  const queryText = canonicalQuery(rawQuery);
  const headers = head.headers.map(([name, value]) => [name.toLowerCase(), value] as const);
  const overrides = methodOverridesOf(headers, queryPairsAnySeparator(queryText));
  const description: HttpRequestDescription = {
    method: head.method,
    path,
    query: queryPairs(queryText),
    forwardTarget: queryText === '' ? path : `${path}?${queryText}`,
    host: location.host,
    port: location.port,
    scheme: location.scheme,
    methodOverrides: overrides,
    websocket: headerValues(headers, 'upgrade').some((value) => value.split(',').some((token) => token.trim().toLowerCase() === 'websocket')),
  };
  const contentType = singleHeader(headers, 'content-type');
  if (contentType !== undefined) description.contentType = contentType.split(';')[0]!.trim().toLowerCase();
  const contentEncoding = singleHeader(headers, 'content-encoding');
  if (contentEncoding !== undefined && contentEncoding.trim().toLowerCase() !== 'identity') description.contentEncoding = contentEncoding.trim().toLowerCase();
  const length = bodyLength(headers);
  if (length !== undefined) description.contentLength = length;
  if (overrides.length > 0) description.methodOverride = overrides.join(', ');
  if (location.credentialsStripped) description.credentialsStripped = true;
  return description;
}

function originLocation(target: string, base: Exclude<RequestBase, 'absolute'>): Location {
  if (!target.startsWith('/')) {
    throw new TargetRefusal(400, 'An API target takes origin-form requests ("/path?query"), not an absolute URL or "*".');
  }
  return { scheme: base.scheme, host: base.host.toLowerCase().replace(/^\[|\]$/g, ''), port: base.port, rest: target, credentialsStripped: false };
}

/** `http://[userinfo@]host[:port][/path][?query]`; anything else is refused (HTTPS goes through CONNECT). */
function absoluteLocation(target: string): Location {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(target);
  if (scheme === null) throw new TargetRefusal(400, 'The egress proxy takes absolute http:// URLs (or CONNECT host:port for HTTPS).');
  if (scheme[1]!.toLowerCase() !== 'http') {
    throw new TargetRefusal(400, `The egress proxy forwards only http:// URLs in the request line, not ${scheme[1]!.toLowerCase()}://; HTTPS goes through CONNECT.`);
  }
  if (target.includes('\\')) throw new TargetRefusal(400, 'The request URL contains a backslash, which URL parsers read differently (as "/" or as a character).');
  if (target.includes('#')) throw new TargetRefusal(400, 'The request URL contains "#": a fragment is not sent to a server.');
  const afterScheme = target.slice(scheme[0].length);
  const end = afterScheme.search(/[/?#\\]/);
  let authority = end < 0 ? afterScheme : afterScheme.slice(0, end);
  let rest = end < 0 ? '/' : afterScheme.slice(end);
  if (rest.startsWith('?')) rest = '/' + rest;
  // the last "@" ends the userinfo, as a WHATWG parser reads it (an earlier one is part of the password)
  const at = authority.lastIndexOf('@');
  const credentialsStripped = at >= 0;
  if (credentialsStripped) authority = authority.slice(at + 1);
  if (authority === '') throw new TargetRefusal(400, 'The URL in the request line has no host.');
  if (!/^[A-Za-z0-9._~!$&'()*+,;=:%[\]-]+$/.test(authority)) throw new TargetRefusal(400, 'The host in the request URL contains characters a host cannot have.');
  let url: URL;
  try {
    url = new URL(`http://${authority}/`);
  } catch {
    throw new TargetRefusal(400, 'The host or port in the request URL is not valid.');
  }
  // a trailing dot names the same host (a fully qualified name); policy matches it without
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (host === '') throw new TargetRefusal(400, 'The URL in the request line has no host.');
  return { scheme: 'http', host, port: url.port === '' ? 80 : Number(url.port), rest, credentialsStripped };
}

function headerValues(headers: HeaderList, name: string): string[] {
  return headers.filter(([n]) => n === name).map(([, value]) => value);
}

/** A header that must have one meaning: repeats with different values are refused (which one would the upstream take?). */
function singleHeader(headers: HeaderList, name: string): string | undefined {
  const values = [...new Set(headerValues(headers, name).map((value) => value.trim()))];
  if (values.length > 1) throw new TargetRefusal(400, `The request has ${values.length} different ${name} headers.`);
  return values[0];
}

/** The declared body length: a number, undefined when chunked, 0 when neither header is there. */
function bodyLength(headers: HeaderList): number | undefined {
  const transferEncoding = headerValues(headers, 'transfer-encoding');
  const contentLength = singleHeader(headers, 'content-length');
  if (transferEncoding.length > 0) {
    if (contentLength !== undefined) throw new TargetRefusal(400, 'The request has both Transfer-Encoding and Content-Length.');
    const codings = transferEncoding.flatMap((value) => value.split(',')).map((token) => token.trim().toLowerCase());
    if (codings.length !== 1 || codings[0] !== 'chunked') throw new TargetRefusal(400, 'The request uses a transfer coding other than chunked.');
    return undefined;
  }
  if (contentLength === undefined) return 0;
  if (!/^\d{1,15}$/.test(contentLength)) throw new TargetRefusal(400, 'The request has a Content-Length that is not a number.');
  return Number(contentLength);
}
