import net from 'node:net';
import { TargetConfigError } from '../target-config-error.js';

/**
 * How the daemon may reach a target's server and hand it the real password, read from the upstream
 * URL's libpq-style query (`sslmode`, `sslrootcert`, `require_auth`, `channel_binding`). Pure: no
 * files are read here, so `airlock target add` can resolve and judge a target's settings too.
 *
 * The defaults are stricter than libpq's, because the daemon holds a password agents must never
 * get, and an agent on the same machine can answer at the upstream address itself (a port left
 * free while the real server is down):
 * - sslmode is verify-full for any host outside loopback; loopback keeps libpq's prefer;
 * - the password leaves only by SCRAM (which never reveals it) or, in cleartext or as an MD5 hash,
 *   over TLS whose certificate was verified (see passwordAllowed).
 */

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** libpq's require_auth methods. Airlock speaks password, md5, scram-sha-256 and none. */
export const AUTH_METHODS = ['password', 'md5', 'scram-sha-256', 'gss', 'sspi', 'creds', 'none'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

export const CHANNEL_BINDINGS = ['disable', 'prefer', 'require'] as const;
export type ChannelBinding = (typeof CHANNEL_BINDINGS)[number];

/**
 * `only`: a plain list (libpq: the server must use one of these, whatever the transport; the
 * explicit opt-in to cleartext or md5 without verified TLS). `default`: Airlock's default, less any
 * `!method` the URL negates.
 */
export type RequireAuth = { kind: 'only'; methods: readonly AuthMethod[] } | { kind: 'default'; denied: readonly AuthMethod[] };

export interface UpstreamSecurity {
  sslmode: SslMode;
  /** the URL set sslmode itself (rather than taking the default for its host) */
  sslmodeSet: boolean;
  /** path of the CA bundle; `system` or absent: the root CAs Node trusts (libpq reads ~/.postgresql/root.crt instead) */
  sslrootcert?: string;
  requireAuth: RequireAuth;
  channelBinding: ChannelBinding;
  /** the host is 127.0.0.0/8, ::1 or localhost */
  loopback: boolean;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** The upstream URL's host as the daemon connects to it (an empty host is loopback, as before). */
export function upstreamHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
}

/** Resolves the URL's security settings, with Airlock's defaults for what it leaves out. */
export function resolveUpstreamSecurity(targetName: string, upstream: string): UpstreamSecurity {
  const url = new URL(upstream);
  const q = url.searchParams;
  const loopback = isLoopbackHost(upstreamHost(url));
  const fail = (what: string) => new TargetConfigError(`target "${targetName}": ${what}`);

  const sslmodeText = q.get('sslmode');
  if (sslmodeText !== null && !(SSL_MODES as readonly string[]).includes(sslmodeText)) throw fail(`sslmode "${sslmodeText}" is not one of ${SSL_MODES.join(', ')}`);
  const sslmode: SslMode = (sslmodeText as SslMode | null) ?? (loopback ? 'prefer' : 'verify-full');

  const cbText = q.get('channel_binding');
  if (cbText !== null && !(CHANNEL_BINDINGS as readonly string[]).includes(cbText)) throw fail(`channel_binding "${cbText}" is not one of ${CHANNEL_BINDINGS.join(', ')}`);
  const channelBinding: ChannelBinding = (cbText as ChannelBinding | null) ?? 'prefer';
  if (channelBinding === 'require' && sslmode === 'disable') throw fail('channel_binding=require needs TLS, but sslmode=disable turns it off');

  const rootcert = q.get('sslrootcert') ?? undefined;
  if (rootcert === 'system' && sslmode !== 'verify-full') throw fail(`sslrootcert=system requires sslmode=verify-full (got ${sslmode}), as in libpq`);

  return { sslmode, sslmodeSet: sslmodeText !== null, sslrootcert: rootcert, requireAuth: parseRequireAuth(targetName, q.get('require_auth')), channelBinding, loopback };
}

/** libpq's syntax: a comma-separated list, all plain or all negated with `!`. */
export function parseRequireAuth(targetName: string, text: string | null): RequireAuth {
  if (text === null || text.trim() === '') return { kind: 'default', denied: [] };
  const items = text.split(',').map((s) => s.trim());
  const negated = items.filter((s) => s.startsWith('!')).length;
  if (negated !== 0 && negated !== items.length) throw new TargetConfigError(`target "${targetName}": require_auth "${text}" mixes negated (!) and plain methods, which libpq does not allow either`);
  const methods = items.map((s) => s.replace(/^!/, ''));
  for (const m of methods) {
    if (!(AUTH_METHODS as readonly string[]).includes(m)) throw new TargetConfigError(`target "${targetName}": require_auth method "${m}" is not one of ${AUTH_METHODS.join(', ')}`);
  }
  const list = [...new Set(methods)] as AuthMethod[];
  return negated ? { kind: 'default', denied: list } : { kind: 'only', methods: list };
}

/** TLS is in use and its certificate was checked against a CA (verify-ca, verify-full, or require with a CA, as libpq does). */
export function verifiesCertificate(security: Pick<UpstreamSecurity, 'sslmode' | 'sslrootcert'>): boolean {
  return security.sslmode === 'verify-ca' || security.sslmode === 'verify-full' || (security.sslmode === 'require' && security.sslrootcert !== undefined);
}

/**
 * Whether the daemon lets the server use `method`. A plain require_auth list decides alone (the
 * explicit opt-in); otherwise SCRAM and no authentication are allowed, and password and md5 only
 * over TLS whose certificate was verified, less what `!method` negates. No authentication is allowed
 * by default, as in libpq: a server that lets the daemon in without asking never sees the password.
 */
export function methodAllowed(requireAuth: RequireAuth, method: AuthMethod, verifiedTls: boolean): boolean {
  if (requireAuth.kind === 'only') return requireAuth.methods.includes(method);
  if (requireAuth.denied.includes(method)) return false;
  if (method === 'scram-sha-256' || method === 'none') return true;
  if (method === 'password' || method === 'md5') return verifiedTls;
  return false;
}

export function requireAuthText(requireAuth: RequireAuth): string {
  return requireAuth.kind === 'only' ? requireAuth.methods.join(',') : requireAuth.denied.map((m) => `!${m}`).join(',');
}

/**
 * Where a target's settings are weaker than Airlock's defaults, one sentence each: `airlock target
 * add` prints them as warnings. An explicit setting is honoured; the warning makes sure it was meant.
 */
export function weakerThanDefault(targetName: string, upstream: string): string[] {
  const security = resolveUpstreamSecurity(targetName, upstream);
  const host = upstreamHost(new URL(upstream));
  const out: string[] = [];
  if (!security.loopback && !verifiesCertificate(security)) {
    out.push(`target "${targetName}": sslmode=${security.sslmode} does not verify the certificate of ${host}, so whoever answers at that address gets the agents' queries and results (the default for a host outside loopback is verify-full)`);
  }
  if (!verifiesCertificate(security)) {
    const opened = (['password', 'md5'] as const).filter((m) => methodAllowed(security.requireAuth, m, false));
    if (opened.length > 0) {
      out.push(`target "${targetName}": require_auth=${requireAuthText(security.requireAuth)} lets the server ask for the password ${opened.includes('password') ? 'in cleartext' : 'as an MD5 hash'} without a verified TLS connection, so whoever answers at ${host} can capture it (set sslmode=verify-full, or use scram-sha-256)`);
    }
  }
  if (security.channelBinding === 'disable') {
    out.push(`target "${targetName}": channel_binding=disable turns off SCRAM's proof that the TLS connection ends at the server that knows the password (the default is prefer)`);
  }
  return out;
}
