import type { Verdict } from '@airlock/shared';
import type { HeaderList } from '../../classify/http/types.js';
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
  body: string;
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
 * A refused git push, answered the smart-HTTP way: git shows the body of a failed receive-pack POST
 * to no one ("RPC failed; HTTP 403"), so the refusal goes as a receive-pack result git reads: the
 * sentence on side-band 2 (printed as `remote: airlock: …`) and each ref rejected in the report
 * (` ! [remote rejected] main -> main (airlock: rule …)`). Only when the client asked for
 * report-status and side-band-64k, as every git since 1.6 does; otherwise the plain refusal.
 */
export function gitPushRefusal(verdict: Verdict, refs: readonly string[], capabilities: string, headers: HeaderList): DaemonAnswer {
  if (refs.length === 0 || !/\breport-status\b/.test(capabilities) || !/\bside-band-64k\b/.test(capabilities)) return policyRefusal(verdict, headers);
  const reason = `airlock: ${verdict.ruleId}`.replace(/[\r\n]/g, ' ');
  const report = pkt('unpack ok\n') + refs.map((ref) => pkt(`ng ${ref} ${reason}\n`)).join('') + '0000';
  const progress = [`airlock: ${verdict.reason}`, `airlock: rule ${verdict.ruleId}, action ${verdict.actionId}`].map((line) => pkt(`\u0002${line.replace(/[\r\n]/g, ' ')}\n`)).join('');
  return {
    status: 200,
    headers: { 'content-type': 'application/x-git-receive-pack-result', 'cache-control': 'no-store', 'x-airlock-decision': 'deny' },
    body: progress + pkt(`\u0001${report}`) + '0000',
  };
}

function pkt(payload: string): string {
  return (Buffer.byteLength(payload, 'utf8') + 4).toString(16).padStart(4, '0') + payload;
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
export function rawAnswer(answer: DaemonAnswer): string {
  const body = Buffer.from(answer.body, 'utf8');
  const lines = [`HTTP/1.1 ${answer.status} ${STATUS_TEXT[answer.status] ?? 'Error'}`];
  for (const [k, v] of Object.entries(answer.headers)) lines.push(`${k}: ${v}`);
  lines.push(`content-length: ${body.length}`, 'connection: close', '', '');
  return lines.join('\r\n') + answer.body;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 414: 'URI Too Long', 431: 'Request Header Fields Too Large', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };
