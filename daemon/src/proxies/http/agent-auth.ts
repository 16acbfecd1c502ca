import type { HeaderList } from '../../classify/http/types.js';

/**
 * The agent's session token from its Authorization header: `Bearer TOKEN`, or Basic with the token
 * as the password (any user name), so `git clone http://agent:TOKEN@127.0.0.1:PORT/repo.git` works.
 * Pure. `header` names the header (Authorization for API targets, Proxy-Authorization for egress).
 */
export type AgentCredential = { kind: 'token'; token: string } | { kind: 'missing' } | { kind: 'malformed'; reason: string };

export function agentCredential(headers: HeaderList, header = 'authorization'): AgentCredential {
  let value: string | undefined;
  for (const [name, v] of headers) {
    if (name !== header) continue;
    if (value !== undefined) return { kind: 'malformed', reason: `more than one ${header} header` };
    value = v;
  }
  if (value === undefined) return { kind: 'missing' };
  const space = value.indexOf(' ');
  const scheme = (space < 0 ? value : value.slice(0, space)).toLowerCase();
  const rest = space < 0 ? '' : value.slice(space + 1).trim();
  if (scheme === 'bearer') return rest ? { kind: 'token', token: rest } : { kind: 'malformed', reason: 'the Bearer credential is empty' };
  if (scheme === 'basic') {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(rest)) return { kind: 'malformed', reason: 'the Basic credential is not base64' };
    const decoded = Buffer.from(rest, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { kind: 'malformed', reason: 'the Basic credential has no password (use the session token as the password)' };
    const token = decoded.slice(colon + 1);
    return token ? { kind: 'token', token } : { kind: 'malformed', reason: 'the Basic password is empty (use the session token as the password)' };
  }
  return { kind: 'malformed', reason: `the ${header} scheme must be Bearer (the session token) or Basic (the token as the password)` };
}
