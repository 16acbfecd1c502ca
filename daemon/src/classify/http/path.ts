/**
 * Canonical form of a request path and query, so that policy and the upstream read the same text.
 *
 * One form, used both for matching and for forwarding:
 * - percent-escapes of unreserved characters (ALPHA, DIGIT, `-._~`) are decoded: every server
 *   decodes them to the same character, so `%61dmin` is `admin` to policy too;
 * - every other escape stays encoded, with upper-case hex (`%2F` routes differently from `/`);
 * - printable characters RFC 3986 does not allow raw (`{`, `|`, `"`, ...) are percent-encoded, which
 *   every server decodes back to the same character;
 * - what servers disagree on is refused, not repaired: dot segments in any spelling, empty
 *   segments (`//`), backslashes, `;` path parameters, control characters, invalid escapes, escapes
 *   that decode to another escape of a separator or a dot (double encoding), and Unicode that
 *   compatibility normalisation turns into a dot or a slash.
 * Nothing here does I/O.
 */

/** A refusal of the request target: one sentence a person reads in the 400 body. */
export class TargetRefusal extends Error {
  constructor(readonly status: 400 | 414, reason: string) {
    super(reason);
    this.name = 'TargetRefusal';
  }
}

const HEX = '0123456789ABCDEF';
/** how many times an escape is decoded again to look for a hidden separator (each round shortens the text, so this only bounds work) */
const MAX_DECODE_ROUNDS = 6;

function isUnreserved(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === 0x2d || code === 0x2e || code === 0x5f || code === 0x7e;
}

/** sub-delims, `:` and `@`: allowed raw in a segment and kept as sent (raw and encoded may differ to a server) */
function isSegmentDelimiter(code: number): boolean {
  return '!$&\'()*+,=:@'.includes(String.fromCharCode(code));
}

function isControl(code: number): boolean {
  return code < 0x20 || code === 0x7f;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

function escape(byte: number): string {
  return '%' + HEX[byte >> 4] + HEX[byte & 0xf];
}

/** The byte a `%XY` at `at` stands for, or -1 when it is not a valid escape. */
function escapedByte(text: string, at: number): number {
  if (at + 2 >= text.length) return -1;
  const high = hexValue(text.charCodeAt(at + 1));
  const low = hexValue(text.charCodeAt(at + 2));
  return high < 0 || low < 0 ? -1 : (high << 4) | low;
}

/** Checks the raw characters every part of a target shares: ASCII, no controls, no backslash, no fragment. */
function checkRawCharacters(text: string, where: string): void {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7e) throw new TargetRefusal(400, `The request ${where} contains a non-ASCII byte; percent-encode it.`);
    if (isControl(code) || code === 0x20) throw new TargetRefusal(400, `The request ${where} contains a control character or a space.`);
    if (code === 0x5c) throw new TargetRefusal(400, `The request ${where} contains a backslash, which servers read differently (as "/" or as a character).`);
    if (code === 0x23) throw new TargetRefusal(400, `The request ${where} contains "#": a fragment is not sent to a server.`);
  }
}

/** One round of percent-decoding (valid escapes only), as a latin1 string: one char per byte. */
function decodeOnce(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x25) {
      const byte = escapedByte(text, i);
      if (byte >= 0) {
        out += String.fromCharCode(byte);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

function hasDotPart(text: string): boolean {
  return text.split(/[/\\]/).some((part) => part === '.' || part === '..');
}

function countOf(text: string, chars: string): number {
  let n = 0;
  for (const c of text) if (chars.includes(c)) n++;
  return n;
}

/**
 * Refuses a segment (already canonical) whose decoded forms a server could route differently:
 * `..` behind `%2F`, double-encoded separators and dots, controls, overlong or invalid UTF-8,
 * and compatibility characters (fullwidth dot or solidus, two-dot leader) that normalise to them.
 */
function checkDecodedSegment(segment: string): void {
  const once = decodeOnce(segment);
  if (hasDotPart(once)) throw new TargetRefusal(400, 'The request path contains a dot segment ("." or "..") hidden behind an encoded slash.');
  for (let i = 0; i < once.length; i++) {
    if (isControl(once.charCodeAt(i))) throw new TargetRefusal(400, 'The request path contains an encoded control character (such as %00).');
  }
  if (/[\u0080-\u00ff]/.test(once)) {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(once, 'latin1'));
    } catch {
      throw new TargetRefusal(400, 'The request path contains percent-encoded bytes that are not valid UTF-8 (such as an overlong "." encoding).');
    }
    const compatible = text.normalize('NFKC');
    if (compatible !== text && (hasDotPart(compatible) || countOf(compatible, '/\\%') > countOf(text, '/\\%'))) {
      throw new TargetRefusal(400, 'The request path contains a Unicode character that normalises to a dot, a slash or a percent sign.');
    }
  }
  let previous = once;
  for (let round = 0; round < MAX_DECODE_ROUNDS && previous.includes('%'); round++) {
    const next = decodeOnce(previous);
    if (next === previous) break;
    if (hasDotPart(next) || countOf(next, '/\\') > countOf(previous, '/\\') || [...next].some((c) => isControl(c.charCodeAt(0)))) {
      throw new TargetRefusal(400, 'The request path contains a double-encoded dot, slash or backslash (such as %252e or %252f), which a server may decode twice.');
    }
    previous = next;
  }
}

/** One path segment in canonical form (see the module comment). */
function canonicalSegment(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code === 0x25) {
      const byte = escapedByte(raw, i);
      if (byte < 0) throw new TargetRefusal(400, 'The request path contains an invalid percent-escape ("%" not followed by two hex digits).');
      if (byte === 0x5c) throw new TargetRefusal(400, 'The request path contains an encoded backslash (%5C), which some servers read as "/".');
      if (byte === 0x3b) throw new TargetRefusal(400, 'The request path contains an encoded ";" (%3B): servers disagree on path parameters.');
      out += isUnreserved(byte) ? String.fromCharCode(byte) : escape(byte);
      i += 2;
    } else if (code === 0x3b) {
      throw new TargetRefusal(400, 'The request path contains ";": servers disagree on whether a path parameter is part of the segment.');
    } else if (isUnreserved(code) || isSegmentDelimiter(code)) {
      out += raw[i];
    } else {
      out += escape(code);
    }
  }
  if (out === '.' || out === '..') throw new TargetRefusal(400, 'The request path contains a dot segment ("." or ".."), in plain or percent-encoded form.');
  checkDecodedSegment(out);
  return out;
}

/**
 * The canonical form of an origin-form path (starting with `/`). Empty segments (`//`) are refused
 * rather than collapsed: servers differ on whether `/a//b` is `/a/b`, and the path forwarded must be
 * the one policy matched. A trailing `/` is kept (it is a different resource to most servers).
 */
export function canonicalPath(raw: string): string {
  if (!raw.startsWith('/')) throw new TargetRefusal(400, 'The request path must start with "/".');
  checkRawCharacters(raw, 'path');
  const segments = raw.slice(1).split('/');
  const out: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment === '' && i < segments.length - 1) throw new TargetRefusal(400, 'The request path contains an empty segment ("//"), which servers read differently.');
    out.push(canonicalSegment(segment));
  }
  return '/' + out.join('/');
}

/**
 * The canonical form of a query string (without `?`): the same escape rules as a path, but `/`,
 * `?`, `;` and encoded controls (`%0A` in a multi-line value) are ordinary here.
 */
export function canonicalQuery(raw: string): string {
  checkRawCharacters(raw, 'query');
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code === 0x25) {
      const byte = escapedByte(raw, i);
      if (byte < 0) throw new TargetRefusal(400, 'The request query contains an invalid percent-escape ("%" not followed by two hex digits).');
      out += isUnreserved(byte) ? String.fromCharCode(byte) : escape(byte);
      i += 2;
    } else if (isUnreserved(code) || isSegmentDelimiter(code) || code === 0x2f || code === 0x3f || code === 0x3b) {
      out += raw[i];
    } else {
      out += escape(code);
    }
  }
  return out;
}

/** Percent-decodes form-style text (`+` is a space) as UTF-8, replacing invalid sequences. */
export function decodeQueryComponent(text: string): string {
  const latin1 = decodeOnce(text.replaceAll('+', ' '));
  return /[\u0080-\u00ff]/.test(latin1) ? Buffer.from(latin1, 'latin1').toString('utf8') : latin1;
}

/** A canonical query's name/value pairs, decoded; `&` separates pairs (`;` does not: see queryParameterNames). */
export function queryPairs(query: string): Array<[string, string]> {
  if (query === '') return [];
  return query
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      return eq < 0 ? [decodeQueryComponent(part), ''] : [decodeQueryComponent(part.slice(0, eq)), decodeQueryComponent(part.slice(eq + 1))];
    });
}

/**
 * Pairs as a server that also splits on `;` reads them (older frameworks did); used where missing a
 * parameter would loosen the decision (`_method`, GraphQL's `query`).
 */
export function queryPairsAnySeparator(query: string): Array<[string, string]> {
  return queryPairs(query.replaceAll(';', '&'));
}
