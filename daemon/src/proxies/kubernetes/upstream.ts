import type https from 'node:https';
import tls from 'node:tls';
import { Agent } from 'undici';
import { KubeConfig } from '@kubernetes/client-node';
import type { Target } from '@airlock/shared';
import type { ProxyContext } from '../listeners.js';
import { TargetConfigError } from '../target-config-error.js';
import { httpUpstream } from '../http/upstream.js';

/**
 * A Kubernetes target's upstream API server: where requests go, over which verified TLS connection
 * pool, with which credential. Two sources:
 * - a kubeconfig (`kubeconfig`, `context`), read with @kubernetes/client-node's KubeConfig: the
 *   server, its CA, and the user's client certificate, token or exec credential plugin (the library
 *   runs the plugin and keeps its token until the expiry the plugin gave, then runs it again);
 * - an upstream URL with a bearer token (credential env/file) and an optional CA file (the HTTP
 *   target's upstream code).
 * TLS is always verified: a kubeconfig cluster with insecure-skip-tls-verify is refused.
 */
export interface K8sUpstream {
  /** https://host:port */
  origin: string;
  hostHeader: string;
  /** the server URL's path ("" for "/"): a cluster served under a prefix (Rancher's /k8s/clusters/ID) */
  basePath: string;
  /** the pool and the headers carrying the credential for the next request (an exec token may have been renewed) */
  credentials(): Promise<{ dispatcher: Agent; headers: Array<[string, string]> }>;
  /** literal forms of the credential, redacted wherever an upstream echoes them; grows as exec tokens are renewed */
  secrets: string[];
  /** the CA, client certificate and key for a WebSocket to the upstream (exec, attach, portforward) */
  tlsOptions(): Promise<{ ca?: string | Buffer | Array<string | Buffer>; cert?: string | Buffer; key?: string | Buffer }>;
  close(): Promise<void>;
}

export function k8sUpstream(target: Target, context: ProxyContext): K8sUpstream {
  return target.kubeconfig !== undefined ? fromKubeconfig(target, context, target.kubeconfig) : fromUpstreamUrl(target, context);
}

function fromUpstreamUrl(target: Target, context: ProxyContext): K8sUpstream {
  const upstream = httpUpstream({ ...target, auth: 'bearer' }, context);
  if (upstream.scheme !== 'https') throw new TargetConfigError(`target "${target.name}": a kubernetes upstream must be https://`);
  const headers: Array<[string, string]> = upstream.credentialHeader ? [upstream.credentialHeader] : [];
  let ca: string[] | undefined;
  return {
    origin: upstream.origin,
    hostHeader: upstream.hostHeader,
    basePath: upstream.basePath,
    secrets: upstream.secrets,
    credentials: () => Promise.resolve({ dispatcher: upstream.dispatcher, headers }),
    tlsOptions: async () => {
      if (target.caFile && !ca) ca = [...tls.rootCertificates, (await import('node:fs')).readFileSync(target.caFile, 'utf8')];
      return ca ? { ca } : {};
    },
    close: () => upstream.dispatcher.close().catch(() => undefined),
  };
}

function fromKubeconfig(target: Target, context: ProxyContext, file: string): K8sUpstream {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new TargetConfigError(`target "${target.name}": cannot read the kubeconfig ${file}: ${e.code ?? e.message.split('\n')[0]}`);
  }
  if (target.context !== undefined) {
    if (!kc.getContexts().some((c) => c.name === target.context)) {
      throw new TargetConfigError(`target "${target.name}": the kubeconfig ${file} has no context "${target.context}" (it has ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
    }
    kc.setCurrentContext(target.context);
  }
  const contextName = kc.getCurrentContext();
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new TargetConfigError(`target "${target.name}": the kubeconfig ${file} names no cluster for context "${contextName}"`);
  if (cluster.skipTLSVerify) {
    throw new TargetConfigError(`target "${target.name}": cluster "${cluster.name}" in ${file} sets insecure-skip-tls-verify; Airlock sends the credential only to a server whose certificate it verified, so give the cluster its certificate-authority(-data) instead`);
  }
  if (cluster.proxyUrl) throw new TargetConfigError(`target "${target.name}": cluster "${cluster.name}" in ${file} goes through proxy-url ${cluster.proxyUrl}, which Airlock does not support`);
  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch {
    throw new TargetConfigError(`target "${target.name}": cluster "${cluster.name}" in ${file} has no valid server URL`);
  }
  if (url.protocol !== 'https:') throw new TargetConfigError(`target "${target.name}": cluster "${cluster.name}" in ${file} is served at ${url.protocol}//; Airlock sends the credential over verified TLS only (https://)`);
  const user = kc.getCurrentUser();
  if (user?.username !== undefined || user?.password !== undefined) {
    throw new TargetConfigError(`target "${target.name}": user "${user?.name}" in ${file} logs in with a user name and password, which the API server no longer accepts; use a token, client certificate or exec plugin`);
  }

  const limits = context.limits;
  const secrets: string[] = [];
  const pools = new Map<string, Agent>();
  let last: https.RequestOptions | undefined;
  /** the options the library derives for the next request: CA, client certificate, Authorization (exec tokens renewed as they expire) */
  const derive = async (): Promise<https.RequestOptions> => {
    const opts: https.RequestOptions = { headers: {} };
    try {
      await kc.applyToHTTPSOptions(opts);
    } catch (err) {
      throw new Error(`target "${target.name}": the kubeconfig credential of user "${user?.name ?? '?'}" could not be obtained: ${(err as Error).message.split('\n')[0]}`);
    }
    if (opts.rejectUnauthorized === false) throw new Error(`target "${target.name}": the kubeconfig turns TLS verification off; refused`);
    last = opts;
    return opts;
  };
  const poolFor = (opts: https.RequestOptions): Agent => {
    const key = `${String(opts.cert ?? '')}\u0000${String(opts.key ?? '')}`;
    let pool = pools.get(key);
    if (!pool) {
      const ca = opts.ca;
      const secureContext = tls.createSecureContext({
        ...(ca ? { ca: ca as string | Buffer } : {}),
        ...(opts.cert ? { cert: opts.cert as string | Buffer } : {}),
        ...(opts.key ? { key: opts.key as string | Buffer } : {}),
      });
      pool = new Agent({
        connect: { rejectUnauthorized: true, secureContext, ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}), timeout: limits.connectTimeoutMs },
        headersTimeout: limits.idleTimeoutMs,
        bodyTimeout: limits.idleTimeoutMs,
        maxResponseSize: -1,
      });
      // an exec plugin handing out a new certificate: the old pool's connections finish and close
      for (const [k, old] of pools) if (k !== key) void old.close().catch(() => undefined);
      pools.clear();
      pools.set(key, pool);
    }
    return pool;
  };
  // static credentials (token, certificate files) do not change: derived once; an exec plugin or auth provider each time (the library caches until expiry)
  const dynamic = user?.exec !== undefined || user?.authProvider !== undefined;
  return {
    origin: `https://${url.host}`,
    hostHeader: url.host,
    basePath: url.pathname.replace(/\/+$/, ''),
    secrets,
    credentials: async () => {
      const opts = dynamic || !last ? await derive() : last;
      const headers: Array<[string, string]> = [];
      for (const [name, value] of Object.entries(opts.headers ?? {})) {
        if (value === undefined) continue;
        const lower = name.toLowerCase();
        const text = Array.isArray(value) ? value.join(', ') : String(value);
        headers.push([lower, text]);
        if (lower === 'authorization') {
          const token = text.replace(/^Bearer\s+/i, '');
          for (const form of [text, token]) if (form.length >= 8 && !secrets.includes(form)) secrets.push(form);
        }
      }
      return { dispatcher: poolFor(opts), headers };
    },
    tlsOptions: async () => {
      const opts = dynamic || !last ? await derive() : last;
      return { ...(opts.ca ? { ca: opts.ca as string | Buffer } : {}), ...(opts.cert ? { cert: opts.cert as string | Buffer } : {}), ...(opts.key ? { key: opts.key as string | Buffer } : {}) };
    },
    close: async () => {
      await Promise.all([...pools.values()].map((p) => p.close().catch(() => undefined)));
    },
  };
}
