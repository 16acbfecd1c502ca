import type { Verdict } from '@airlock/shared';
import type { DaemonAnswer } from '../http/refusal.js';

/**
 * The daemon's own answers on a Kubernetes listener, as the API server writes its errors: a
 * `Status` object (kind Status, apiVersion v1, status Failure, reason, code). kubectl prints such
 * a body as `Error from server (REASON): MESSAGE`, client libraries raise it with the reason, so a
 * refusal reads like any other API error. Pure.
 */

export type StatusReason = 'Unauthorized' | 'Forbidden' | 'BadRequest' | 'NotFound' | 'RequestEntityTooLarge' | 'ServiceUnavailable' | 'InternalError' | 'Timeout' | 'TooManyRequests';

export function k8sStatus(code: number, reason: StatusReason, message: string, extra: Record<string, string> = {}): DaemonAnswer {
  const body = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  return { status: code, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra }, body: JSON.stringify(body) + '\n' };
}

/** A request policy refused: the pipeline's sentence, with the rule and action so a person can find it. */
export function k8sPolicyRefusal(verdict: Verdict): DaemonAnswer {
  const message = `airlock: ${verdict.reason} (action ${verdict.actionId})`;
  return k8sStatus(403, 'Forbidden', message, { 'x-airlock-decision': 'deny' });
}

/** The daemon's JSON answer (a login refusal, a connection cap, an upstream failure) in Status form. */
export function asK8sStatus(answer: DaemonAnswer): DaemonAnswer {
  let message = typeof answer.body === 'string' ? answer.body : Buffer.from(answer.body).toString('utf8');
  try {
    const parsed = JSON.parse(message) as { reason?: string };
    if (typeof parsed.reason === 'string') message = parsed.reason;
  } catch {
    message = message.trim();
  }
  const reason: StatusReason =
    answer.status === 401 ? 'Unauthorized' : answer.status === 403 ? 'Forbidden' : answer.status === 413 ? 'RequestEntityTooLarge' : answer.status === 503 ? 'ServiceUnavailable' : answer.status === 504 ? 'Timeout' : answer.status >= 500 ? 'InternalError' : 'BadRequest';
  // a 502 is what the API server never says; clients retry a 503 and show its message
  const code = answer.status === 502 ? 503 : answer.status;
  return k8sStatus(code, code === 503 ? 'ServiceUnavailable' : reason, `airlock: ${message}`);
}
