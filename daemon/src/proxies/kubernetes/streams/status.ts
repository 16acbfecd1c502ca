import { STATUS_CODES } from 'node:http';

/**
 * Kubernetes' own refusal format for the daemon's answers on an upgrade request: a v1 Status as the
 * HTTP response before any upgrade, so kubectl and client libraries print its message
 * (`error: unable to upgrade connection: MESSAGE`, `Error from server (Forbidden): MESSAGE`).
 */

export type K8sStatusReason = 'BadRequest' | 'Forbidden' | 'NotFound' | 'ServiceUnavailable' | 'InternalError' | 'Timeout' | 'MethodNotAllowed';

export function k8sStatusBody(code: number, reason: K8sStatusReason, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

/** A whole HTTP/1.1 response carrying a Status, for a socket that asked to upgrade; the connection closes after it. */
export function rawK8sStatus(code: number, reason: K8sStatusReason, message: string, extraHeaders: Record<string, string> = {}): string {
  const body = k8sStatusBody(code, reason, message);
  const lines = [`HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ''}`, 'content-type: application/json', `content-length: ${Buffer.byteLength(body)}`, 'cache-control: no-store', 'connection: close'];
  for (const [name, value] of Object.entries(extraHeaders)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** What an agent using SPDY for exec or attach is told (kubectl before 1.30, or KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false). */
export const SPDY_REFUSAL =
  'Airlock proxies exec and attach over WebSocket only, not SPDY; use kubectl 1.30 or later without KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false (or a client library that speaks v5.channel.k8s.io or v4.channel.k8s.io)';

/** What a SPDY port-forward speaking another stream protocol than kubectl's portforward.k8s.io is told. */
export const SPDY_PORTFORWARD_REFUSAL =
  'Airlock proxies port-forward over SPDY/3.1 with the portforward.k8s.io stream protocol (kubectl port-forward) or over WebSocket with v4.channel.k8s.io; this request offered neither';
