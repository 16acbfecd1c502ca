import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import type { UpstreamSocketOptions } from './types.js';

/** How the daemon reaches a Kubernetes API server: its URL, its CA, and the daemon's credential. */
export interface K8sUpstreamCredentials {
  /** https://HOST:PORT (with the server's path prefix, if any) */
  server: string;
  /** PEM of the CA(s) the server's certificate must chain to; the system roots when absent */
  ca?: string | Buffer;
  /** the daemon's bearer token */
  token?: string;
  /** a client certificate and key (PEM) */
  cert?: string | Buffer;
  key?: string | Buffer;
}

/**
 * Opens the upstream WebSocket of an exec/attach/portforward stream: `pathAndQuery` on the
 * server, offering `protocols`, with the daemon's credential, the server's certificate verified
 * (rejectUnauthorized is never turned off), no compression, messages bounded.
 */
export function openK8sUpstreamSocket(credentials: K8sUpstreamCredentials, pathAndQuery: string, protocols: string[], options: UpstreamSocketOptions): WebSocket {
  const base = new URL(credentials.server);
  const url = `${base.protocol === 'http:' ? 'ws:' : 'wss:'}//${base.host}${base.pathname.replace(/\/$/, '')}${pathAndQuery}`;
  return new WebSocket(url, protocols, {
    headers: credentials.token ? { Authorization: `Bearer ${credentials.token}` } : {},
    ...(credentials.ca ? { ca: credentials.ca } : {}),
    ...(credentials.cert ? { cert: credentials.cert, key: credentials.key } : {}),
    rejectUnauthorized: true,
    perMessageDeflate: false,
    maxPayload: options.maxPayload,
    handshakeTimeout: options.handshakeTimeout,
    followRedirects: false,
  });
}

/** The path and query the upstream gets: the canonical path, the query as sent. */
export function upstreamPathOf(info: { path: string; query: ReadonlyArray<readonly [string, string]> }): string {
  const query = new URLSearchParams(info.query as [string, string][]).toString();
  return query ? `${info.path}?${query}` : info.path;
}

/**
 * The body of an upstream's refusal of a WebSocket upgrade (its Status, usually), at most `maxBytes`
 * of it kept; `done` runs once, when the body ended or failed.
 */
export function readRefusalBody(response: IncomingMessage, maxBytes: number, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let called = false;
  const finish = (): void => {
    if (called) return;
    called = true;
    done(Buffer.concat(chunks));
  };
  response.on('data', (chunk: Buffer) => {
    if (size >= maxBytes) return;
    chunks.push(chunk);
    size += chunk.length;
  });
  response.once('end', finish);
  response.once('error', finish);
}
