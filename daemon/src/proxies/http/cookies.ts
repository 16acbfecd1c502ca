/**
 * The upstream's cookies, kept by the daemon per agent session and upstream host (a small subset of
 * RFC 6265: name, value, Path, Max-Age/Expires; host-only, Domain ignored since one jar serves one
 * host). The agent never sees a Set-Cookie value (an upstream session cookie is a credential like
 * the token the daemon injects) and its own Cookie header is never forwarded; the daemon sends the
 * jar's cookies itself, so cookie-based upstream sessions still work through the proxy.
 */
interface StoredCookie {
  name: string;
  value: string;
  path: string;
  /** ms since the epoch; undefined: until the daemon stops */
  expiresAt?: number;
}

/** RFC 6265 §6.1: a user agent should keep at least 50 cookies per domain; more are dropped oldest first. */
const COOKIES_PER_HOST = 50;

export class CookieJar {
  private readonly byHost = new Map<string, StoredCookie[]>();

  /** Takes the Set-Cookie values of a response from `host` for a request to `requestPath`. */
  store(host: string, requestPath: string, setCookies: readonly string[], now: number): void {
    if (setCookies.length === 0) return;
    let cookies = this.byHost.get(host);
    if (!cookies) this.byHost.set(host, (cookies = []));
    for (const header of setCookies) {
      const parsed = parseSetCookie(header, requestPath, now);
      if (!parsed) continue;
      const at = cookies.findIndex((c) => c.name === parsed.name && c.path === parsed.path);
      if (at >= 0) cookies.splice(at, 1);
      if (parsed.expiresAt !== undefined && parsed.expiresAt <= now) continue;
      cookies.push(parsed);
      if (cookies.length > COOKIES_PER_HOST) cookies.shift();
    }
  }

  /** The Cookie header for a request to `host` and `path`, or undefined. */
  header(host: string, path: string, now: number): string | undefined {
    const cookies = this.byHost.get(host);
    if (!cookies || cookies.length === 0) return undefined;
    const parts: string[] = [];
    for (let i = cookies.length - 1; i >= 0; i--) {
      const c = cookies[i]!;
      if (c.expiresAt !== undefined && c.expiresAt <= now) {
        cookies.splice(i, 1);
        continue;
      }
      if (pathMatches(path, c.path)) parts.unshift(`${c.name}=${c.value}`);
    }
    return parts.length > 0 ? parts.join('; ') : undefined;
  }
}

function defaultPath(requestPath: string): string {
  const slash = requestPath.lastIndexOf('/');
  return slash <= 0 ? '/' : requestPath.slice(0, slash);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath.charAt(cookiePath.length) === '/';
}

function parseSetCookie(header: string, requestPath: string, now: number): StoredCookie | undefined {
  const [pair, ...attributes] = header.split(';');
  const eq = pair!.indexOf('=');
  if (eq <= 0) return undefined;
  const name = pair!.slice(0, eq).trim();
  const value = pair!.slice(eq + 1).trim();
  if (!name || /[\s;,]/.test(name)) return undefined;
  const cookie: StoredCookie = { name, value, path: defaultPath(requestPath) };
  for (const attribute of attributes) {
    const at = attribute.indexOf('=');
    const key = (at < 0 ? attribute : attribute.slice(0, at)).trim().toLowerCase();
    const val = at < 0 ? '' : attribute.slice(at + 1).trim();
    if (key === 'path' && val.startsWith('/')) cookie.path = val;
    else if (key === 'max-age' && /^-?\d+$/.test(val)) cookie.expiresAt = now + Number(val) * 1000;
    else if (key === 'expires' && cookie.expiresAt === undefined) {
      const t = Date.parse(val);
      if (!Number.isNaN(t)) cookie.expiresAt = t;
    }
  }
  return cookie;
}
