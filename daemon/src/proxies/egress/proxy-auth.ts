/**
 * The agent's session token from a forward-proxy request (pure). Clients put the token in the proxy
 * URL (`HTTPS_PROXY=http://agent:<token>@127.0.0.1:PORT`) and send it as
 * `Proxy-Authorization: Basic base64(user:token)`; the user name is ignored. `Bearer <token>` is
 * accepted too, for clients configured with a header.
 */
export type ProxyCredential = { ok: true; token: string } | { ok: false; reason: string };

export function proxyCredentialOf(header: string | undefined): ProxyCredential {
  if (header === undefined || header.trim() === '') {
    return { ok: false, reason: 'proxy authentication required: put the agent session token in the proxy URL (http://agent:<token>@host:port)' };
  }
  const value = header.trim();
  const space = value.indexOf(' ');
  const scheme = (space < 0 ? value : value.slice(0, space)).toLowerCase();
  const rest = space < 0 ? '' : value.slice(space + 1).trim();
  if (scheme === 'bearer') {
    return rest === '' ? { ok: false, reason: 'Proxy-Authorization: Bearer carries no token' } : { ok: true, token: rest };
  }
  if (scheme !== 'basic') return { ok: false, reason: `Proxy-Authorization scheme "${scheme.slice(0, 32)}" is not accepted: use Basic (the token as the password) or Bearer` };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(rest)) return { ok: false, reason: 'Proxy-Authorization: Basic is not valid base64' };
  const decoded = Buffer.from(rest, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { ok: false, reason: 'Proxy-Authorization: Basic has no password; the agent session token is the password' };
  const token = decoded.slice(colon + 1);
  if (token === '') return { ok: false, reason: 'Proxy-Authorization: Basic has an empty password; the agent session token is the password' };
  return { ok: true, token };
}
