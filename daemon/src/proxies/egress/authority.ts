import { isIP } from 'node:net';

/**
 * The request-targets a forward proxy receives, parsed once into the host and port the destination
 * check and the connect both use (pure: no I/O). The host goes through the WHATWG URL host parser, so
 * the spellings an agent could use to hide an address (`2130706433`, `0x7f000001`, `0177.0.0.1`,
 * `[::ffff:127.0.0.1]`, upper case, IDN) become the one canonical form policy and the classifier see.
 */

export interface ProxyDestination {
  /** canonical: lowercased, punycoded; an IPv4 address in dotted form; an IPv6 address without brackets */
  host: string;
  port: number;
}

export type ParsedAuthority = ({ ok: true } & ProxyDestination) | { ok: false; reason: string };

export type ParsedAbsoluteUrl = ({ ok: true; scheme: 'http'; url: URL } & ProxyDestination) | { ok: false; status: 400; reason: string };

/** `host:port` or `[v6]:port` of a CONNECT request (RFC 9110 §9.3.6: authority-form, port required, no userinfo). */
export function parseConnectAuthority(authority: string): ParsedAuthority {
  if (authority.length === 0) return { ok: false, reason: 'CONNECT needs host:port' };
  if (authority.includes('@')) return { ok: false, reason: `CONNECT ${quoted(authority)}: credentials in the authority are not accepted (authenticate to the proxy with Proxy-Authorization)` };
  if (/[/?#\\\s%]/.test(authority)) return { ok: false, reason: `CONNECT ${quoted(authority)}: expected host:port, with no path, query or escapes` };
  let hostPart: string;
  let portPart: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return { ok: false, reason: `CONNECT ${quoted(authority)}: an IPv6 address needs its closing bracket` };
    hostPart = authority.slice(0, close + 1);
    const rest = authority.slice(close + 1);
    if (!rest.startsWith(':')) return { ok: false, reason: `CONNECT ${quoted(authority)}: a port is required ([address]:port)` };
    portPart = rest.slice(1);
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon < 0) return { ok: false, reason: `CONNECT ${quoted(authority)}: a port is required (host:port)` };
    hostPart = authority.slice(0, colon);
    portPart = authority.slice(colon + 1);
    if (hostPart.includes(':')) return { ok: false, reason: `CONNECT ${quoted(authority)}: an IPv6 address goes in brackets ([address]:port)` };
  }
  const port = parsePort(portPart);
  if (port === undefined) return { ok: false, reason: `CONNECT ${quoted(authority)}: the port must be a number from 1 to 65535` };
  const host = canonicalHost(hostPart);
  if (host === undefined) return { ok: false, reason: `CONNECT ${quoted(authority)}: ${quoted(hostPart)} is not a valid host` };
  return { ok: true, host, port };
}

/**
 * An absolute-form request-target (`http://host[:port]/path?q`), as a forward proxy gets for plain
 * HTTP. `https://` is refused: a client reaches an HTTPS origin through CONNECT, and a proxy that
 * fetched it itself would see the plaintext Airlock promises not to intercept.
 */
export function parseAbsoluteUrl(target: string): ParsedAbsoluteUrl {
  if (target.startsWith('/') || target === '*') {
    return { ok: false, status: 400, reason: 'this is a forward proxy: send requests in absolute form (GET http://host/path), as HTTP_PROXY clients do, or CONNECT host:port' };
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { ok: false, status: 400, reason: `${quoted(target)} is not an absolute URL` };
  }
  if (url.protocol === 'https:') return { ok: false, status: 400, reason: `${quoted(`${url.protocol}//${url.host}`)}: use CONNECT ${url.hostname}:${url.port || 443} for HTTPS (HTTPS_PROXY clients do); the proxy does not fetch HTTPS itself` };
  if (url.protocol !== 'http:') return { ok: false, status: 400, reason: `the scheme ${quoted(url.protocol.replace(/:$/, ''))} is not proxied: only http:// (and CONNECT for HTTPS)` };
  if (url.username !== '' || url.password !== '') return { ok: false, status: 400, reason: 'credentials in the URL are not forwarded; authenticate to the proxy with Proxy-Authorization' };
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (host === '') return { ok: false, status: 400, reason: `${quoted(target)} names no host` };
  const port = url.port === '' ? 80 : Number(url.port);
  if (port === 0) return { ok: false, status: 400, reason: `${quoted(target)}: port 0 cannot be reached` };
  return { ok: true, scheme: 'http', url, host, port };
}

/** Port text as RFC 3986 allows it (digits only), within 1..65535. */
function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** The host as the URL parser canonicalises it, without brackets; undefined when it is no valid host. */
function canonicalHost(hostPart: string): string | undefined {
  if (hostPart === '' || hostPart === '[]') return undefined;
  let hostname: string;
  try {
    hostname = new URL(`http://${hostPart}/`).hostname;
  } catch {
    return undefined;
  }
  if (hostname === '') return undefined;
  if (hostname.startsWith('[')) {
    const inner = hostname.slice(1, -1);
    return isIP(inner) === 6 ? inner : undefined;
  }
  // a trailing dot names the same host (an absolute DNS name): dropped so allowHosts and grants match it
  const host = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  return host === '' ? undefined : host;
}

/** Of agent text quoted in a message, this many characters are shown. */
const QUOTED_CHARS = 200;

/** Agent text in a message: bounded, so a long target cannot fill a log line or a response. */
function quoted(text: string): string {
  const shown = text.length > QUOTED_CHARS ? `${text.slice(0, QUOTED_CHARS)}…` : text;
  return JSON.stringify(shown);
}

/** `host:port` as people and grant keys write it: an IPv6 address in brackets. */
export function hostPort(destination: ProxyDestination): string {
  return `${isIP(destination.host) === 6 ? `[${destination.host}]` : destination.host}:${destination.port}`;
}
