import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { HeaderList } from '../../classify/http/types.js';
import { authRefusal, type DaemonAnswer } from '../http/refusal.js';

/**
 * How the egress proxy frames its own answers. The bodies are the HTTP core's (http/refusal.ts: one
 * JSON object, or text for git); what egress adds is the proxy's 407 challenge (curl, git and
 * Python send proxy credentials only after a 407 carrying it) and writing on a CONNECT's raw
 * socket, which the HTTP server has handed over.
 */

const CHALLENGE = 'Basic realm="Airlock"';

/** No valid agent session token in Proxy-Authorization: 407 with the Basic challenge. */
export function proxyAuthRequired(reason: string, headers: HeaderList): DaemonAnswer {
  const refusal = authRefusal(reason, headers, CHALLENGE);
  const { 'www-authenticate': _origin, ...rest } = refusal.headers;
  return { ...refusal, status: 407, headers: { ...rest, 'proxy-authenticate': CHALLENGE } };
}

/** Writes an answer on a socket the HTTP server no longer parses (after CONNECT), then closes it once written. */
export function writeRawAnswer(socket: Duplex, answer: DaemonAnswer): void {
  if (socket.destroyed) return;
  let head = `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? 'Error'}\r\n`;
  for (const [name, value] of Object.entries(answer.headers)) head += `${name}: ${value}\r\n`;
  head += `content-length: ${Buffer.byteLength(answer.body)}\r\nconnection: close\r\n\r\n`;
  socket.end(head + answer.body);
}
