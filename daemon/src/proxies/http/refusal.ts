import type { Verdict } from '@airlock/shared';
import type { BodyPrefix, HeaderList } from '../../classify/http/types.js';
import { gitPushRefusal } from './git-refusal.js';
import { headerValue } from './headers.js';

/**
 * Every answer the daemon itself gives an agent on an HTTP listener (a refusal by policy, a failed
 * login, a malformed request, an upstream it cannot reach) is rendered here, as one JSON object;
 * the sentences come from the pipeline (verdict.reason) or the caller. Pure.
 *
 * git prints the body of an error response only when it is text/plain (remote-curl's
 * show_http_message, as `remote: …` lines before `fatal: unable to access …`), so a client whose
 * User-Agent is git gets the same sentence as text.
 */
export interface DaemonAnswer {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

export type AnswerError = 'airlock_policy' | 'airlock_auth' | 'airlock_bad_request' | 'airlock_upstream' | 'airlock_limit';

export function isGitClient(headers: HeaderList): boolean {
  return /^git\//i.test(headerValue(headers, 'user-agent') ?? '');
}

function render(status: number, error: AnswerError, fields: Record<string, string | undefined>, headers: HeaderList, extra: Record<string, string> = {}): DaemonAnswer {
  const message = fields.reason ?? '';
  if (isGitClient(headers)) {
    const lines = [`airlock: ${message}`];
    if (fields.rule) lines.push(`airlock: rule ${fields.rule}${fields.action ? `, action ${fields.action}` : ''}`);
    return { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...extra }, body: lines.join('\n') + '\n' };
  }
  const json: Record<string, string> = { error };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) json[k] = v;
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...extra }, body: JSON.stringify(json) + '\n' };
}

/** A request policy refused (deny, a hold that timed out or was cancelled). */
export function policyRefusal(verdict: Verdict, headers: HeaderList): DaemonAnswer {
  return render(403, 'airlock_policy', { rule: verdict.ruleId, reason: verdict.reason, action: verdict.actionId }, headers, { 'x-airlock-decision': 'deny' });
}

/**
 * A refused git push, answered the smart-HTTP way (git-refusal.ts): git shows
 * the body of a failed receive-pack POST to no one ("RPC failed; HTTP 403"), so the refusal goes as
 * a receive-pack result git reads, status 200: the sentence as `remote: airlock: …` lines and each
 * ref rejected (` ! [remote rejected] main -> main (airlock: RULE)`); a client that did not ask for
 * report-status and a side band gets the 403.
 */
export function gitPushRefusalAnswer(verdict: Verdict, prefix: BodyPrefix, refs: readonly string[], headers: HeaderList): DaemonAnswer {
  const framed = gitPushRefusal(prefix.bytes, refs, verdict.ruleId, [verdict.reason, `rule ${verdict.ruleId}, action ${verdict.actionId}`]);
  if (!framed) return policyRefusal(verdict, headers);
  return { status: 200, headers: { 'content-type': framed.contentType, 'cache-control': 'no-store', 'x-airlock-decision': 'deny' }, body: framed.body };
}

/** No valid session token: 401 with the challenge git needs before it sends credentials. */
export function authRefusal(reason: string, headers: HeaderList, challenge = 'Basic realm="Airlock"'): DaemonAnswer {
  return render(401, 'airlock_auth', { reason }, headers, { 'www-authenticate': challenge });
}

/** A request the daemon cannot describe (400, 414, 431). */
export function badRequest(status: number, reason: string, headers: HeaderList): DaemonAnswer {
  return render(status, 'airlock_bad_request', { reason }, headers);
}

/** The upstream could not be reached or answered badly (502, 504), after policy allowed the request. */
export function upstreamFailure(status: 502 | 504, reason: string, headers: HeaderList, actionId?: string): DaemonAnswer {
  return render(status, 'airlock_upstream', { reason, action: actionId }, headers);
}

/** Over a connection cap (503). */
export function limitRefusal(reason: string, headers: HeaderList): DaemonAnswer {
  return render(503, 'airlock_limit', { reason }, headers);
}

/** An answer as raw HTTP/1.1 bytes, for a socket Node's server no longer frames (an upgrade, a refused connection). */
export function rawAnswer(answer: DaemonAnswer): Buffer {
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
  const lines = [`HTTP/1.1 ${answer.status} ${STATUS_TEXT[answer.status] ?? 'Error'}`];
  for (const [k, v] of Object.entries(answer.headers)) lines.push(`${k}: ${v}`);
  lines.push(`content-length: ${body.length}`, 'connection: close', '', '');
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), body]);
}

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 414: 'URI Too Long', 431: 'Request Header Fields Too Large', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };
