import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { Agent } from 'undici';
import { upstreamUrlOf, type Target } from '@airlock/shared';
import { CredentialFileError, readCredentialFile } from '../../config/credential-file.js';
import type { ProxyContext } from '../listeners.js';
import { TargetConfigError, checkTargetCredentialFile } from '../target-config-error.js';

/** An API target's upstream: where requests go, how, and with which credential. */
export interface HttpUpstream {
  /** scheme://host:port */
  origin: string;
  /** the Host header upstream */
  hostHeader: string;
  /** the upstream host, lowercased, without port (what policy sees as `host`) */
  host: string;
  port: number;
  scheme: 'http' | 'https';
  /** the path prefix of the upstream URL ("" for "/") that every forwarded path goes under */
  basePath: string;
  dispatcher: Agent;
  /** the header carrying the real credential, as added to each forwarded request */
  credentialHeader?: [name: string, value: string];
  /** every literal form of the secret (raw, `Bearer S`, base64 of user:pass): redacted wherever an upstream echoes it */
  secrets: string[];
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '[::1]', 'localhost']);

/**
 * Reads the target's credential and CA at start (a missing variable or unreadable file stops the
 * target with a sentence naming it) and makes the upstream connection pool. TLS is always verified:
 * `caFile` adds to the system roots, never replaces verification. A plain http:// upstream is
 * accepted only on loopback with `plaintext` (the config schema checks; checked again here since
 * the credential would otherwise travel in the clear).
 */
export function httpUpstream(target: Target, context: ProxyContext, env: NodeJS.ProcessEnv = process.env): HttpUpstream {
  checkTargetCredentialFile(target);
  const url = upstreamUrlOf(target);
  const scheme = url.protocol === 'https:' ? 'https' : url.protocol === 'http:' ? 'http' : undefined;
  if (!scheme) throw new TargetConfigError(`target "${target.name}": the upstream ${url.href} is not an http:// or https:// URL`);
  if (scheme === 'http' && (target.plaintext !== true || !LOOPBACK.has(url.hostname))) {
    throw new TargetConfigError(`target "${target.name}": a plain http:// upstream is accepted only on a loopback address with plaintext set; ${url.host} would receive the credential unencrypted`);
  }
  const port = url.port ? Number(url.port) : scheme === 'https' ? 443 : 80;
  const secret = readSecret(target, env);
  const { header, secrets } = credentialOf(target, url, secret);
  // one secure context for every upstream connection: parsing the system roots and the CA file for
  // each new connection costs milliseconds of CPU apiece
  let secureContext: tls.SecureContext | undefined;
  if (target.caFile) {
    try {
      secureContext = tls.createSecureContext({ ca: [...tls.rootCertificates, readFileSync(target.caFile, 'utf8')] });
    } catch (err) {
      throw new TargetConfigError(`target "${target.name}": cannot read the CA file ${target.caFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const limits = context.limits;
  const dispatcher = new Agent({
    connect: { rejectUnauthorized: true, ...(secureContext ? { secureContext } : {}), timeout: limits.connectTimeoutMs },
    // a held stream (SSE, a long poll) may be quiet for long: the idle limit, or none
    headersTimeout: limits.idleTimeoutMs,
    bodyTimeout: limits.idleTimeoutMs,
    maxResponseSize: -1,
  });
  return {
    origin: `${scheme}://${url.host}`,
    hostHeader: url.host,
    host: url.hostname.replace(/^\[|\]$/g, '').toLowerCase(),
    port,
    scheme,
    basePath: url.pathname.replace(/\/+$/, ''),
    dispatcher,
    credentialHeader: header,
    secrets,
  };
}

function readSecret(target: Target, env: NodeJS.ProcessEnv): string | undefined {
  const credential = target.credential;
  if (!credential) return undefined;
  if ('env' in credential) {
    const value = env[credential.env];
    if (value === undefined || value === '') throw new TargetConfigError(`target "${target.name}": the credential variable ${credential.env} is not set in airlockd's environment`);
    return value;
  }
  if ('file' in credential) {
    try {
      return readCredentialFile(target.name, credential.file);
    } catch (err) {
      if (err instanceof CredentialFileError) throw new TargetConfigError(err.message);
      throw err;
    }
  }
  throw new TargetConfigError(`target "${target.name}": an http target takes credential.env or credential.file`);
}

/** The header that presents the secret as `target.auth` says, and the literal forms an upstream might echo. */
export function credentialOf(target: Pick<Target, 'name' | 'auth'>, url: URL, secret: string | undefined): { header?: [string, string]; secrets: string[] } {
  if (secret === undefined) return { secrets: [] };
  const auth = target.auth ?? 'bearer';
  if (auth === 'bearer') return { header: ['authorization', `Bearer ${secret}`], secrets: [`Bearer ${secret}`, secret] };
  if (auth === 'basic') {
    let user = decodeURIComponent(url.username);
    let password = secret;
    if (!user) {
      const colon = secret.indexOf(':');
      if (colon < 0) throw new TargetConfigError(`target "${target.name}": basic auth needs a user: put it in the upstream URL (https://USER@host) or store the credential as USER:PASSWORD`);
      user = secret.slice(0, colon);
      password = secret.slice(colon + 1);
    }
    const encoded = Buffer.from(`${user}:${password}`, 'utf8').toString('base64');
    return { header: ['authorization', `Basic ${encoded}`], secrets: [`Basic ${encoded}`, encoded, password, ...(password !== secret ? [secret] : [])].filter((s) => s.length > 0) };
  }
  const name = auth.slice('header:'.length).toLowerCase();
  return { header: [name, secret], secrets: [secret] };
}
