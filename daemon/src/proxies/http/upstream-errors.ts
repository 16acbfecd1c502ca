import type { HeaderList } from '../../classify/http/types.js';
import { upstreamFailure, type DaemonAnswer } from './refusal.js';

/** TLS verification failures as Node and OpenSSL name them. */
const CERTIFICATE_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

function codeOf(err: unknown): string | undefined {
  let e = err as { code?: string; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (e.code && e.code !== 'UND_ERR_SOCKET') return e.code;
    e = e.cause as typeof e;
  }
  return (err as { code?: string } | undefined)?.code;
}

/**
 * The answer for an upstream that could not be reached or broke off before its response began:
 * 504 for a connect timeout, 502 otherwise, one sentence naming the target. A certificate that does
 * not verify says so (the credential was not sent: TLS failed before any request byte).
 */
export function upstreamErrorAnswer(err: unknown, target: string, headers: HeaderList, actionId?: string): DaemonAnswer {
  const code = codeOf(err);
  const message = (err as Error).message;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return upstreamFailure(504, `target "${target}": the upstream did not accept a connection in time (limits.connectTimeout)`, headers, actionId);
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return upstreamFailure(504, `target "${target}": the upstream did not answer in time (limits.idleTimeout)`, headers, actionId);
  if (code && CERTIFICATE_ERRORS.has(code)) return upstreamFailure(502, `target "${target}": the upstream's TLS certificate could not be verified (${code}); nothing was sent to it`, headers, actionId);
  if (code === 'ECONNREFUSED') return upstreamFailure(502, `target "${target}": the upstream refused the connection`, headers, actionId);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return upstreamFailure(502, `target "${target}": the upstream's host name does not resolve`, headers, actionId);
  return upstreamFailure(502, `target "${target}": the upstream failed: ${code ?? message}`, headers, actionId);
}
