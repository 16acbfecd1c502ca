import type http from 'node:http';
import type { TargetLimits } from '../limits.js';

/**
 * The Node server options of a listener that runs exchanges (API targets, Kubernetes), from the
 * target's limits. The head must arrive within authTimeout (slowloris); a body may take as long as
 * it takes (a held request's body is not read at all, and an allowed upload streams), so there is
 * no whole-request timeout. Every header reaches the request model, which refuses too many; their
 * bytes are bounded by actionTextBytes.
 */
export function exchangeServerOptions(limits: Pick<TargetLimits, 'actionTextBytes' | 'authTimeoutMs' | 'idleTimeoutMs'>): http.ServerOptions {
  return {
    maxHeaderSize: limits.actionTextBytes,
    headersTimeout: limits.authTimeoutMs,
    requestTimeout: 0,
    connectionsCheckingInterval: Math.max(1, Math.floor(limits.authTimeoutMs / 4)),
    ...(limits.idleTimeoutMs > 0 ? { keepAliveTimeout: limits.idleTimeoutMs } : {}),
    maxHeadersCount: 0,
    noDelay: true,
  } as http.ServerOptions;
}
