import type { K8sRequestError } from './types.js';

/**
 * The path as the API server reads it, made canonical once. Go's URL parser percent-decodes the
 * path before the request-info filter and the router see it, so `/api/v1/namespaces/x/%70ods` is
 * a pods request and `a%2Fb` becomes two segments. Rather than guess how every layer in between
 * (load balancers, aggregated API servers, the kubelet behind nodes/proxy) treats the odd forms,
 * they are refused: only paths whose decoded segments are the same under every reading pass.
 *
 * Refused (400): a path that does not start with `/`; an empty segment (`//`); `.` and `..`
 * segments, raw or encoded (`%2e%2e`); an escape that decodes to `/`, `\`, `%`, a control character
 * or invalid UTF-8; a raw `\`, `?`, `#` or non-ASCII byte; a malformed escape (`%zz`, Go refuses
 * it too). Allowed: one trailing slash, which the API server's splitPath trims (`/api/v1/pods/` is
 * a list of pods), and escapes of ordinary characters, which are decoded.
 *
 * Canonical paths are canonical again (idempotent), so the adapter may pass the raw request path or
 * one the HTTP core has already normalised (which keeps `%2F` encoded: refused here).
 */

export interface CanonicalPath {
  /** the decoded segments, no empty ones */
  segments: string[];
  /** `/` + segments, each re-encoded where a character needs it */
  path: string;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Characters a path segment keeps unencoded (RFC 3986 pchar less `%`). */
const SEGMENT_SAFE = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;

function refusal(error: string): K8sRequestError {
  return { error, status: 400 };
}

function decodeSegment(raw: string, whole: string): string | K8sRequestError {
  if (!raw.includes('%')) return raw;
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const ch = raw.charCodeAt(i);
    if (ch !== 0x25) {
      bytes.push(ch);
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return refusal(`The path ${JSON.stringify(whole)} has a malformed percent escape.`);
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  let decoded: string;
  try {
    decoded = UTF8.decode(new Uint8Array(bytes));
  } catch {
    return refusal(`The path ${JSON.stringify(whole)} has an escape that is not UTF-8 text.`);
  }
  if (/[/\\]/.test(decoded)) return refusal(`The path ${JSON.stringify(whole)} has an encoded slash: the API server would read it as two segments.`);
  if (decoded.includes('%')) return refusal(`The path ${JSON.stringify(whole)} has an encoded percent sign, which no Kubernetes name contains.`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(decoded)) return refusal(`The path ${JSON.stringify(whole)} has an encoded control character.`);
  return decoded;
}

const SEGMENT_ALL_SAFE = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]*$/;

function encodeSegment(segment: string): string {
  if (SEGMENT_ALL_SAFE.test(segment)) return segment;
  let out = '';
  for (const ch of segment) out += SEGMENT_SAFE.test(ch) ? ch : encodeURIComponent(ch);
  return out;
}

/** The decoded segments and canonical form of a request path, or why it is refused. */
export function canonicalK8sPath(raw: string): CanonicalPath | K8sRequestError {
  if (!raw.startsWith('/')) return refusal(`The path ${JSON.stringify(raw)} does not start with "/".`);
  // the raw path is ASCII by HTTP's rules; anything else was smuggled in, and `\` is a slash to some readers
  if (/[^\x21-\x7e]/.test(raw)) return refusal(`The path ${JSON.stringify(raw)} has a character that must be percent-encoded.`);
  if (/[\\?#]/.test(raw)) return refusal(`The path ${JSON.stringify(raw)} has a "\\", "?" or "#" in it.`);
  if (raw === '/') return { segments: [], path: '/' };
  const rawSegments = raw.slice(1).split('/');
  if (rawSegments[rawSegments.length - 1] === '') rawSegments.pop();
  const segments: string[] = [];
  for (const rawSegment of rawSegments) {
    if (rawSegment === '') return refusal(`The path ${JSON.stringify(raw)} has an empty segment ("//").`);
    const decoded = decodeSegment(rawSegment, raw);
    if (typeof decoded !== 'string') return decoded;
    if (decoded === '.' || decoded === '..') return refusal(`The path ${JSON.stringify(raw)} has a "${decoded}" segment.`);
    segments.push(decoded);
  }
  return { segments, path: `/${segments.map(encodeSegment).join('/')}` };
}

/** A name the API server accepts in a path segment (apimachinery's IsValidPathSegmentName). */
export function isValidPathSegmentName(name: string): boolean {
  return name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%');
}
