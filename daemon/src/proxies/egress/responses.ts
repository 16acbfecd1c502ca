import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Action, Verdict } from '@airlock/shared';

/**
 * How the egress proxy says no, in HTTP: a status, a JSON body with one sentence, and for a 407 the
 * challenge curl, git and Python wait for before they send credentials. A CONNECT is answered on the
 * raw socket (the HTTP server has handed it over); a plain request through its ServerResponse.
 */

/** The JSON body of a refusal or failure. */
export type EgressErrorBody =
  | { error: 'airlock_policy'; rule: string; reason: string; action: string }
  | { error: 'airlock_proxy_auth' | 'airlock_bad_request' | 'airlock_limit' | 'airlock_upstream'; reason: string; action?: string };

export interface EgressReply {
  status: number;
  headers: Record<string, string>;
  body: EgressErrorBody;
}

const CHALLENGE = { 'proxy-authenticate': 'Basic realm="Airlock"' };

export function proxyAuthRequired(reason: string): EgressReply {
  return { status: 407, headers: CHALLENGE, body: { error: 'airlock_proxy_auth', reason } };
}

export function badRequest(reason: string): EgressReply {
  return { status: 400, headers: {}, body: { error: 'airlock_bad_request', reason } };
}

export function busy(reason: string): EgressReply {
  return { status: 503, headers: {}, body: { error: 'airlock_limit', reason } };
}

export function upstreamFailed(reason: string, action?: Action): EgressReply {
  return { status: 502, headers: {}, body: { error: 'airlock_upstream', reason, ...(action ? { action: action.id } : {}) } };
}

/** The pipeline's verdict, framed: 403 with the rule, its sentence and the action id. */
export function policyRefusal(action: Action, verdict: Verdict): EgressReply {
  return {
    status: 403,
    headers: { 'x-airlock-decision': 'deny' },
    body: { error: 'airlock_policy', rule: verdict.ruleId, reason: verdict.reason, action: action.id },
  };
}

/** Writes a reply on a socket the HTTP server no longer parses (after CONNECT), then closes it once written. */
export function writeRawReply(socket: Duplex, reply: EgressReply): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(reply.body);
  let head = `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Error'}\r\n`;
  for (const [name, value] of Object.entries(reply.headers)) head += `${name}: ${value}\r\n`;
  head += `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n`;
  socket.end(head + body);
}

/** Writes a reply through the HTTP server's response; `close` also ends the connection after it. */
export function sendReply(res: ServerResponse, reply: EgressReply, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(reply.body);
  res.writeHead(reply.status, { ...reply.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(close ? { connection: 'close' } : {}) });
  res.end(body);
}
