import type { DetectorName } from '@airlock/shared';
import { HAS_UPPER, RUN_13, RUN_6, RUN_7, RUN_9, cardRunTier, hasPhoneRun, isDigitCode } from './features.js';
import type { SpanList } from './spans.js';
import {
  appendMod97,
  ibanChecksumCompletes,
  ibanLengthAt,
  jwtHeaderValid,
  looksLikeDate,
  looksLikeIpv4,
  looksLikeSsn,
  looksLikeThousands,
  ninoPrefixValid,
  plausibleCardIssuer,
  spanishIdLetterValid,
  ssnValid,
} from './validators.js';

/**
 * The built-in content detectors. Each finds candidates (a regex, or a hand-written scan where a
 * regex would allocate a match object per cell), validates them (checksums, format rules) and
 * claims exactly the characters to replace. Most cells run none of them: textFeatures gathers the
 * digit runs and secret hints of a text in one pass and each detector is skipped unless the text
 * could hold its shape; the secret detectors also wait behind one combined trigger regex.
 *
 * Every match stays on one line and has bounded repetitions (MAX_MATCH_LENGTH), except private-key
 * blocks: the stream masker relies on both.
 */

/** Longest match any built-in detector but private-key can produce, in characters. */
export const MAX_MATCH_LENGTH = 8192;

export const MASK_FORMS: Readonly<Record<DetectorName, { form: string; replaces: string }>> = {
  email: { form: '[EMAIL]', replaces: 'the address' },
  'payment-card': { form: '****1111', replaces: 'the card number; the last four digits stay' },
  iban: { form: '[IBAN]', replaces: 'the IBAN' },
  phone: { form: '[PHONE]', replaces: 'the number' },
  'national-id': { form: '[NATIONAL-ID]', replaces: 'the id (US SSN, UK NINO, Spanish DNI/NIE)' },
  'cloud-key': { form: '[CLOUD-KEY]', replaces: 'the key; a label such as `AccountKey=` stays' },
  token: { form: '[TOKEN]', replaces: 'the token; `Bearer ` stays' },
  jwt: { form: '[JWT]', replaces: 'all three segments' },
  'private-key': { form: '[PRIVATE-KEY]', replaces: 'the whole BEGIN … END block' },
  'connection-password': { form: '[PASSWORD]', replaces: 'only the password: `postgres://user:[PASSWORD]@host`, `password=[PASSWORD]` (also `passwd=`, `pwd=`, any casing)' },
};

/** The shortest text that can hold a secret detector's match. */
const SECRET_MIN_LENGTH = 8;

/** Run only when textFeatures saw a SECRET_HINT. */
export function mayHoldSecret(text: string): boolean {
  return text.length >= SECRET_MIN_LENGTH && SECRET_TRIGGER.test(text);
}

// --- scanning ---------------------------------------------------------------------------------

/** What a judge accepts: the characters to replace (within or equal to the match) and with what. */
interface Finding {
  start: number;
  end: number;
  replacement: string;
}

/** Accepts (filling in `finding`, which starts out as the whole match) or rejects a candidate. */
type Judge = (match: RegExpExecArray, text: string, finding: Finding) => boolean;

const acceptAll: Judge = () => true;

/** Reused: judging runs synchronously, one candidate at a time. */
const finding: Finding = { start: 0, end: 0, replacement: '' };

/**
 * Runs a global regex over the text and claims what the judge accepts. A rejected candidate's
 * characters are not rescanned (the regexes are greedy, so a rejected card number does not turn
 * into a phone number made of its last groups); a candidate that collides with an earlier
 * detector's span resumes after that span.
 */
export function scanWith(regex: RegExp, text: string, spans: SpanList, detector: string, replacement: string, judge: Judge = acceptAll): void {
  regex.lastIndex = 0;
  let match: RegExpExecArray | null;
  while ((match = regex.exec(text)) !== null) {
    const matchEnd = regex.lastIndex;
    if (matchEnd === match.index) {
      regex.lastIndex++;
      continue;
    }
    finding.start = match.index;
    finding.end = matchEnd;
    finding.replacement = replacement;
    if (!judge(match, text, finding)) continue;
    const blockedUntil = spans.claim(finding.start, finding.end, finding.replacement, detector);
    regex.lastIndex = blockedUntil >= 0 ? Math.max(blockedUntil, match.index + 1) : finding.end;
  }
  spans.commit();
}

// --- email ------------------------------------------------------------------------------------

/** The domain part, tried at each `@`: scanning for addresses from every position is what makes email regexes slow. */
const EMAIL_DOMAIN = /@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-]|\.[A-Za-z0-9])/y;

const LOCAL_PART_MAX = 64;

/** Letters, digits and . _ % + - (a table: branching per character mispredicts on random text) */
const LOCAL_PART_CHAR = new Uint8Array(65536);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-') LOCAL_PART_CHAR[ch.charCodeAt(0)] = 1;

const EMAIL_FORM = MASK_FORMS.email.form;

/**
 * Addresses: a local part of up to 64 characters, then a domain with a 2–24 letter top level. Not
 * preceded by `/`: in `scheme://user@host` the user and host are not an address (a password in
 * such a URL is claimed first by connection-password).
 */
function findEmails(text: string, spans: SpanList): void {
  let from = 0;
  for (;;) {
    const at = text.indexOf('@', from);
    if (at < 0) break;
    from = at + 1;
    let start = at;
    const limit = Math.max(0, at - LOCAL_PART_MAX - 1);
    while (start > limit && LOCAL_PART_CHAR[text.charCodeAt(start - 1)] === 1) start--;
    if (start === at || at - start > LOCAL_PART_MAX || (start > 0 && text.charCodeAt(start - 1) === 47)) continue;
    EMAIL_DOMAIN.lastIndex = at;
    if (!EMAIL_DOMAIN.test(text)) continue;
    const end = EMAIL_DOMAIN.lastIndex;
    const blockedUntil = spans.claim(start, end, EMAIL_FORM, 'email');
    from = blockedUntil >= 0 ? Math.max(blockedUntil, from) : end;
  }
  spans.commit();
}

// --- payment card -----------------------------------------------------------------------------

const DIGIT_CHAR = new Uint8Array(65536);
for (let c = 48; c <= 57; c++) DIGIT_CHAR[c] = 1;

const ALPHANUMERIC_CHAR = new Uint8Array(65536);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789') ALPHANUMERIC_CHAR[ch.charCodeAt(0)] = 1;

/** A card number does not start right after these: it would be part of an id, a decimal or a signed number. */
const CARD_GLUE_CHAR = new Uint8Array(65536);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.,+-') CARD_GLUE_CHAR[ch.charCodeAt(0)] = 1;

const CARD_MIN_DIGITS = 13;
const CARD_MAX_DIGITS = 19;

/** The digits of the run being judged, where each sits, and per group its first digit and the separator before it. Reused. */
const cardDigits: number[] = [];
const cardDigitAt: number[] = [];
const groupFirstDigit: number[] = [];
const groupSeparator: number[] = [];

/** Luhn's doubled digit, digit sum taken: 0 2 4 6 8 1 3 5 7 9 */
const LUHN_DOUBLED = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];

/** Luhn over cardDigits[from, to). */
function cardLuhnValid(from: number, to: number): boolean {
  let sum = 0;
  let doubled = false;
  for (let k = to - 1; k >= from; k--) {
    const digit = cardDigits[k] as number;
    sum += doubled ? (LUHN_DOUBLED[digit] as number) : digit;
    doubled = !doubled;
  }
  return sum % 10 === 0;
}

/**
 * Card numbers: runs of digits joined by single spaces or dashes, judged by whole groups. A card
 * is 13–19 digits with one separator kind throughout, a plausible issuer prefix and a valid Luhn
 * digit. It starts a run (not glued to a letter, digit, `_ . , + -`) or follows a space inside
 * one, so a reference number before it or a year after it does not hide it. A hand-written scan:
 * a regex would allocate a match per candidate.
 */
function findCards(text: string, spans: SpanList): void {
  const length = text.length;
  let i = 0;
  while (i < length) {
    if (DIGIT_CHAR[text.charCodeAt(i)] === 0) {
      i++;
      continue;
    }
    let digits = 0;
    let groups = 0;
    groupFirstDigit[0] = 0;
    groupSeparator[0] = i > 0 && CARD_GLUE_CHAR[text.charCodeAt(i - 1)] === 1 ? -1 : 0;
    let j = i;
    while (j < length) {
      const code = text.charCodeAt(j);
      if (code >= 48 && code <= 57) {
        cardDigits[digits] = code - 48;
        cardDigitAt[digits++] = j++;
      } else if ((code === 32 || code === 45) && j + 1 < length && DIGIT_CHAR[text.charCodeAt(j + 1)] === 1) {
        groupFirstDigit[++groups] = digits;
        groupSeparator[groups] = code;
        j++;
      } else break;
    }
    groupFirstDigit[++groups] = digits;
    if (digits >= CARD_MIN_DIGITS) claimCards(text, spans, groups, gluedAfter(text, j));
    i = j;
  }
  spans.commit();
}

/**
 * Whether the run ending before `end` goes on as something else: a letter, digit or `_` right
 * after it, or `-`, `.`, `,`, `+` and then one (`…5946-5b2f` in a UUID, a decimal).
 */
function gluedAfter(text: string, end: number): boolean {
  if (end >= text.length) return false;
  const next = text.charCodeAt(end);
  if (ALPHANUMERIC_CHAR[next] === 1 || next === 95) return true;
  return CARD_GLUE_CHAR[next] === 1 && ALPHANUMERIC_CHAR[text.charCodeAt(end + 1)] === 1;
}

/**
 * Finds cards among the groups of one run, left to right; a group after a card may start another.
 * A card ends the run (unless the run is glued to what follows) or ends before a space: like its
 * start, its end is not tied by a dash to more digits.
 */
function claimCards(text: string, spans: SpanList, groups: number, runGluedAfter: boolean): void {
  let first = 0;
  while (first < groups) {
    // a card starts the run (unless glued) or follows a space; a dash ties it to what is before
    const before = groupSeparator[first] as number;
    if (before === -1 || before === 45) {
      first++;
      continue;
    }
    const from = groupFirstDigit[first] as number;
    let last = first;
    while (last + 1 < groups && (groupFirstDigit[last + 2] as number) - from <= CARD_MAX_DIGITS) last++;
    const prefix = (cardDigits[from] as number) * 1000 + (cardDigits[from + 1] as number) * 100 + (cardDigits[from + 2] as number) * 10 + (cardDigits[from + 3] as number);
    let found = -1;
    for (; last >= first; last--) {
      const to = groupFirstDigit[last + 1] as number;
      if (to - from < CARD_MIN_DIGITS) break;
      if (to - from > CARD_MAX_DIGITS || !plausibleCardIssuer(prefix, to - from)) continue;
      if (last === groups - 1 ? runGluedAfter : groupSeparator[last + 1] !== 32) continue;
      if (!sameSeparators(first + 1, last) || !cardLuhnValid(from, to)) continue;
      const end = (cardDigitAt[to - 1] as number) + 1;
      spans.claim(cardDigitAt[from] as number, end, '****' + lastFourDigits(text, end), 'payment-card');
      found = last;
      break;
    }
    first = found >= 0 ? found + 1 : first + 1;
  }
}

/** Whether the separators before groups from..last (inclusive) are all the same. */
function sameSeparators(from: number, last: number): boolean {
  for (let g = from + 1; g <= last; g++) if (groupSeparator[g] !== groupSeparator[from]) return false;
  return true;
}

function lastFourDigits(text: string, end: number): string {
  let plain = true;
  for (let i = end - 4; i < end; i++) if (DIGIT_CHAR[text.charCodeAt(i)] === 0) plain = false;
  if (plain) return text.slice(end - 4, end);
  let digits = '';
  for (let i = end - 1; digits.length < 4; i--) if (DIGIT_CHAR[text.charCodeAt(i)] === 1) digits = text[i] + digits;
  return digits;
}

// --- IBAN -------------------------------------------------------------------------------------

const UPPER_CHAR = new Uint8Array(65536);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') UPPER_CHAR[ch.charCodeAt(0)] = 1;

const IBAN_MIN_LENGTH = 15;

/**
 * IBANs: a country code (uppercase: lowercase text is too often something else) and two check
 * digits not glued to a letter or digit, then the country's registry length in uppercase letters
 * and digits, written unbroken or in groups of four (the printed form; only the last group may be
 * shorter), ending at a word boundary, with a valid mod-97 check.
 */
function findIbans(text: string, spans: SpanList): void {
  const last = text.length - IBAN_MIN_LENGTH;
  for (let i = 0; i <= last; i++) {
    if (UPPER_CHAR[text.charCodeAt(i)] === 0 || UPPER_CHAR[text.charCodeAt(i + 1)] === 0) continue;
    if (DIGIT_CHAR[text.charCodeAt(i + 2)] === 0 || DIGIT_CHAR[text.charCodeAt(i + 3)] === 0) continue;
    if (i > 0 && ALPHANUMERIC_CHAR[text.charCodeAt(i - 1)] === 1) continue;
    const end = ibanEnd(text, i);
    if (end < 0) continue;
    if (spans.claim(i, end, IBAN_FORM, 'iban') < 0) i = end - 1;
  }
  spans.commit();
}

/**
 * Where the IBAN starting at `start` ends, or -1 when the characters there do not make one (or
 * its check fails). The mod-97 value is folded in as the characters go by: one pass.
 */
function ibanEnd(text: string, start: number): number {
  const expected = ibanLengthAt(text, start);
  if (expected === 0) return -1;
  let count = 4;
  let groupLength = 4;
  let spaced = false;
  let value = 0;
  for (let i = start + 4; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 32) {
      if (groupLength !== 4 || i + 1 >= text.length || text.charCodeAt(i + 1) === 32) return -1;
      spaced = true;
      groupLength = 0;
      continue;
    }
    if (UPPER_CHAR[code] === 0 && DIGIT_CHAR[code] === 0) return -1;
    groupLength++;
    value = appendMod97(value, code);
    if (++count === expected) {
      const end = i + 1;
      if (spaced && groupLength > 4) return -1;
      if (end < text.length && ALPHANUMERIC_CHAR[text.charCodeAt(end)] === 1) return -1;
      return ibanChecksumCompletes(text, start, value) ? end : -1;
    }
  }
  return -1;
}

// --- phone ------------------------------------------------------------------------------------

/**
 * Shapes: `+` and 7–15 digits unbroken; `+` country code then separated groups, optionally an area
 * code in parentheses; `(area) 555-2671`; three to five groups of digits with one separator kind;
 * or a national trunk `0` prefix then one separator and the subscriber number. A plain integer
 * never matches, nor a run glued to letters, `@`, `/` or a decimal point (ids, versions, paths),
 * nor a date such as 2024-03-15 or 15.03.2024. (The ISO form is ruled out in the regex, so the
 * timestamps every table has cost no match object; other dates are left to the judge.)
 */
const PHONE =
  /(?<![A-Za-z0-9_+@/.-])(?!\d{4}-\d\d-\d\d(?![\d-]))(?:\+\d{7,15}|\+\d{1,3}(?:[ .-]?\(\d{1,5}\)[ .-]?\d{1,8})?(?:[ .-]\d{1,6}){0,6}|\(\d{2,5}\)[ .-]?\d{2,5}(?:[ .-]\d{2,5}){1,3}|\d{2,5}(?:[ .-]\d{2,5}){2,4}|0\d{1,4}[ /-]\d{5,8})(?![A-Za-z0-9_@/]|[.:-]\d)/g;

const phoneGroupStarts: number[] = [];
const phoneGroupEnds: number[] = [];
const phoneGroups = { text: '', starts: phoneGroupStarts, ends: phoneGroupEnds, count: 0 };

/**
 * 7–15 digits. A candidate written with `+` or an area code in parentheses is taken as it is; the
 * bare group forms need one separator kind throughout and must not be a date, an IPv4 address,
 * digit grouping of a large number or the shape of an SSN.
 */
function judgePhone(match: RegExpExecArray, text: string): boolean {
  const start = match.index;
  const end = start + match[0].length;
  let separator = 0;
  let consistent = true;
  let digits = 0;
  let groups = 0;
  let groupStart = -1;
  for (let i = start; i <= end; i++) {
    const code = i < end ? text.charCodeAt(i) : 0;
    if (isDigitCode(code)) {
      digits++;
      if (groupStart < 0) groupStart = i;
      continue;
    }
    if (groupStart >= 0) {
      phoneGroupStarts[groups] = groupStart;
      phoneGroupEnds[groups++] = i;
      groupStart = -1;
    }
    if (code === 32 || code === 45 || code === 46 || code === 47) {
      if (separator === 0) separator = code;
      else if (separator !== code) consistent = false;
    }
  }
  if (digits < 7 || digits > 15) return false;
  const lead = text.charCodeAt(start);
  if (lead === 43 /* + */ || lead === 40 /* ( */) return true;
  if (!consistent) return false;
  phoneGroups.text = text;
  phoneGroups.count = groups;
  const separatorChar = String.fromCharCode(separator);
  return !looksLikeSsn(phoneGroups) && !looksLikeDate(phoneGroups, separatorChar) && !looksLikeIpv4(phoneGroups, separatorChar) && !looksLikeThousands(phoneGroups, separatorChar);
}

// --- national ids -----------------------------------------------------------------------------

/** An SSN does not start right after these (nor end before them, or before a dash and a digit). */
const SSN_GLUE_CHAR = new Uint8Array(65536);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-') SSN_GLUE_CHAR[ch.charCodeAt(0)] = 1;

function digitsAt(text: string, from: number, count: number): boolean {
  for (let i = from; i < from + count; i++) if (DIGIT_CHAR[text.charCodeAt(i)] === 0) return false;
  return true;
}

/** US SSNs `123-45-6789` (or with spaces), within the SSA rules. A scan, not a regex: no match objects. */
function findSsns(text: string, spans: SpanList): void {
  const last = text.length - 11;
  for (let i = 0; i <= last; i++) {
    const separator = text.charCodeAt(i + 3);
    if ((separator !== 45 && separator !== 32) || text.charCodeAt(i + 6) !== separator) continue;
    if (!digitsAt(text, i, 3) || !digitsAt(text, i + 4, 2) || !digitsAt(text, i + 7, 4)) continue;
    if (i > 0 && SSN_GLUE_CHAR[text.charCodeAt(i - 1)] === 1) continue;
    const end = i + 11;
    if (end < text.length) {
      const next = text.charCodeAt(end);
      if (ALPHANUMERIC_CHAR[next] === 1 || next === 95 || (next === 45 && DIGIT_CHAR[text.charCodeAt(end + 1)] === 1)) continue;
    }
    if (!ssnValid(text.slice(i, i + 3), text.slice(i + 4, i + 6), text.slice(i + 7, end))) continue;
    if (spans.claim(i, end, NATIONAL_ID_FORM, 'national-id') < 0) i = end - 1;
  }
  spans.commit();
}

/** First letter not D F I Q U V, second not D F I O Q U V; suffix A–D. */
const UK_NINO = /(?<![A-Za-z0-9])([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])/g;

/** DNI: 8 digits and a check letter; NIE: X, Y or Z, 7 digits and a check letter. */
const SPANISH_ID = /(?<![A-Za-z0-9])(?:([XYZ])-?(\d{7})|(\d{8}))-?([A-Z])(?![A-Za-z0-9])/g;

const judgeNino: Judge = (match) => ninoPrefixValid(match[1] as string);
const judgeSpanishId: Judge = (match) => spanishIdLetterValid(match[1], (match[2] ?? match[3]) as string, match[4] as string);

// --- secrets ----------------------------------------------------------------------------------

/** A block without its END line (cut off) is masked to the end of the text. */
const PRIVATE_KEY = /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END \1PRIVATE KEY\2-----|$)/g;

const JWT = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,1024}\.[A-Za-z0-9_-]{2,4096}\.[A-Za-z0-9_-]{0,1024}(?![A-Za-z0-9_-])/g;

const judgeJwt: Judge = (match) => jwtHeaderValid(match[0].slice(0, match[0].indexOf('.')));

/** scheme://user:PASSWORD@ — the password may hold `@` and `:`, so it runs to the last `@` before the path. */
const URL_PASSWORD = /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,30}:\/\/[^\s:/?#@[\]]{0,256}:([^\s/?#]{1,512})@/dg;

/**
 * password=…, pwd=…, PGPASSWORD=… in conninfo, ADO.NET, JDBC query strings and env files; quotes
 * stay. A quoted value whose closing quote is missing (the text was cut) runs to the end of the line.
 */
const KEY_VALUE_PASSWORD =
  /(?<![A-Za-z0-9])[A-Za-z0-9_]{0,40}?(?:password|passwd|pwd)[ \t]{0,16}=[ \t]{0,16}(?:'([^'\r\n]{1,512})(?:'|$)|"([^"\r\n]{1,512})(?:"|$)|([^\s;&'"]{1,512}))/dgim;

const PASSWORD_FORM = MASK_FORMS['connection-password'].form;

/** The keys KEY_VALUE_PASSWORD reads, in any casing as it does: a trigger that every match contains. */
const PASSWORD_KEYWORD = /[Pp][Aa][Ss][Ss](?:[Ww][Oo][Rr]|[Ww])?[Dd]|[Pp][Ww][Dd]/;

/**
 * The secret is the first capture group that took part (the regexes have the `d` flag); the label
 * around it stays. A value that is already a mask form is left alone, so masking masked text is
 * idempotent and not counted twice.
 */
const judgeCapturedValue: Judge = (match, _text, out) => {
  const indices = match.indices;
  if (indices === undefined) return false;
  for (let group = 1; group < indices.length; group++) {
    const at = indices[group];
    if (at === undefined) continue;
    if (match[group] === out.replacement) return false;
    out.start = at[0];
    out.end = at[1];
    return true;
  }
  return false;
};

const AWS_ACCESS_KEY_ID = /(?<![A-Za-z0-9])A(?:KI|SI)A[A-Z0-9]{16}(?![A-Za-z0-9])/g;

/** A 40-character AWS secret is indistinguishable from other base64 unless a label says what it is. */
const AWS_SECRET_KEY = /(?:aws_?)?secret_?access_?key["']?[ \t]{0,16}[:=][ \t]{0,16}["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/dgi;

const GCP_API_KEY = /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])/g;

const AZURE_ACCOUNT_KEY = /(?:AccountKey|SharedAccessKey)[ \t]{0,16}=[ \t]{0,16}([A-Za-z0-9+/]{20,1024}={0,2})/dg;

const TOKEN =
  /(?<![A-Za-z0-9_-])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255}|glpat-[A-Za-z0-9_-]{20,255}|xox[abpr]-[A-Za-z0-9-]{10,255}|[rs]k_live_[A-Za-z0-9]{16,247}|npm_[A-Za-z0-9]{36,255}|sk-(?:proj-|ant-(?:api|admin)\d{2}-)?[A-Za-z0-9_-]{20,255})(?![A-Za-z0-9_-])/g;

/** `sk-` alone is a common prefix for slugs; a key has digits in it. */
const judgeToken: Judge = (match) => !match[0].startsWith('sk-') || /\d/.test(match[0]);

const BEARER = /(?<![A-Za-z0-9])(?:Bearer|bearer)[ \t]{1,16}([A-Za-z0-9._~+/-]{16,4096}={0,2})(?![A-Za-z0-9._~+/=-])/dg;

/** "Bearer authentication-required" is prose; a token has digits. */
const judgeBearer: Judge = (match, text, out) => /\d/.test(match[1] as string) && judgeCapturedValue(match, text, out);

// --- the detectors ----------------------------------------------------------------------------

const JWT_FORM = MASK_FORMS.jwt.form;
const PRIVATE_KEY_FORM = MASK_FORMS['private-key'].form;
const CLOUD_KEY_FORM = MASK_FORMS['cloud-key'].form;
const TOKEN_FORM = MASK_FORMS.token.form;
const IBAN_FORM = MASK_FORMS.iban.form;
const NATIONAL_ID_FORM = MASK_FORMS['national-id'].form;
const PHONE_FORM = MASK_FORMS.phone.form;

export interface SecretDetector {
  readonly name: DetectorName;
  /** A substring every match of this detector contains: the detector runs only where it is found. */
  readonly trigger: RegExp;
  /** what it scans for; each of their matches contains the trigger (tested) */
  readonly patterns: readonly RegExp[];
  find(text: string, spans: SpanList): void;
}

/**
 * Found by prefix or keyword, in priority order (the first detector to claim characters keeps
 * them). They run only when textFeatures saw a SECRET_HINT and mayHoldSecret agrees, each only
 * where its own trigger is, and before the other detectors: a password in a URL must not become an
 * email address.
 */
export const SECRET_DETECTORS: readonly SecretDetector[] = [
  { name: 'private-key', trigger: /-----BEGIN/, patterns: [PRIVATE_KEY], find: (text, spans) => scanWith(PRIVATE_KEY, text, spans, 'private-key', PRIVATE_KEY_FORM) },
  { name: 'jwt', trigger: /eyJ/, patterns: [JWT], find: (text, spans) => scanWith(JWT, text, spans, 'jwt', JWT_FORM, judgeJwt) },
  {
    name: 'connection-password',
    trigger: new RegExp(`:\\/\\/|${PASSWORD_KEYWORD.source}`),
    patterns: [URL_PASSWORD, KEY_VALUE_PASSWORD],
    find: (text, spans) => {
      // each regex is costly on text it cannot match (a URL with no user info, one with no password key)
      const scheme = text.indexOf('://');
      if (scheme >= 0 && text.indexOf('@', scheme + 3) >= 0) scanWith(URL_PASSWORD, text, spans, 'connection-password', PASSWORD_FORM, judgeCapturedValue);
      if (PASSWORD_KEYWORD.test(text)) scanWith(KEY_VALUE_PASSWORD, text, spans, 'connection-password', PASSWORD_FORM, judgeCapturedValue);
    },
  },
  {
    name: 'cloud-key',
    // AWS_SECRET_KEY's label is read in any casing
    trigger: /A[KS]IA|AIza|AccountKey|SharedAccessKey|[Ss][Ee][Cc][Rr][Ee][Tt]_?[Aa][Cc][Cc][Ee][Ss][Ss]/,
    patterns: [AWS_ACCESS_KEY_ID, AWS_SECRET_KEY, GCP_API_KEY, AZURE_ACCOUNT_KEY],
    find: (text, spans) => {
      scanWith(AWS_ACCESS_KEY_ID, text, spans, 'cloud-key', CLOUD_KEY_FORM);
      scanWith(AWS_SECRET_KEY, text, spans, 'cloud-key', CLOUD_KEY_FORM, judgeCapturedValue);
      scanWith(GCP_API_KEY, text, spans, 'cloud-key', CLOUD_KEY_FORM);
      scanWith(AZURE_ACCOUNT_KEY, text, spans, 'cloud-key', CLOUD_KEY_FORM, judgeCapturedValue);
    },
  },
  {
    name: 'token',
    trigger: /gh[pousr]_|github_pat_|glpat-|xox[abpr]-|[rs]k_live_|npm_|sk-|[Bb]earer/,
    patterns: [TOKEN, BEARER],
    find: (text, spans) => {
      scanWith(TOKEN, text, spans, 'token', TOKEN_FORM, judgeToken);
      scanWith(BEARER, text, spans, 'token', TOKEN_FORM, judgeBearer);
    },
  },
];

/** Any secret detector's trigger: tested once per text; on a miss none of them runs. */
const SECRET_TRIGGER = new RegExp(SECRET_DETECTORS.map((d) => d.trigger.source).join('|'));

/** Bits for the detectors findPlainSpans runs. */
export const PLAIN_DETECTOR_BITS: Readonly<Partial<Record<DetectorName, number>>> = {
  email: 1,
  iban: 2,
  'payment-card': 4,
  phone: 8,
  'national-id': 16,
};

/** No plain detector matches fewer characters: `a@b.co`, seven phone digits. */
const PLAIN_MIN_LENGTH = 6;

/**
 * Whether findPlainSpans could claim anything in a text of `length` characters with these features
 * (`hasAt`: the text has an `@`): the gates of findPlainSpans without the text. False means every
 * plain detector would be skipped or, for email, find no `@`. Keep in step with findPlainSpans.
 */
export function plainSpansPossible(length: number, features: number, enabled: number, hasAt: boolean): boolean {
  if (length < PLAIN_MIN_LENGTH) return false;
  if ((enabled & 1) !== 0 && hasAt) return true;
  const tier = cardRunTier(features);
  const upper = (features & HAS_UPPER) !== 0;
  if ((enabled & 2) !== 0 && upper && tier >= RUN_7 && length >= IBAN_MIN_LENGTH) return true;
  if ((enabled & 4) !== 0 && tier === RUN_13) return true;
  if ((enabled & 8) !== 0 && hasPhoneRun(features)) return true;
  if ((enabled & 16) !== 0 && (tier >= RUN_9 || (upper && tier >= RUN_6))) return true;
  return false;
}

/**
 * The detectors with shapes (email, IBAN, payment card, phone, national id), in priority order,
 * each skipped when the features rule it out, and the rest skipped once the whole text is claimed.
 * One function with direct calls rather than a list of detector objects: this runs for every cell.
 * Phone runs before national-id because most phone numbers pass the SSN gate, and the phone judge
 * leaves the 3-2-4 SSN shape alone.
 */
export function findPlainSpans(text: string, spans: SpanList, features: number, enabled: number): void {
  const length = text.length;
  if (length < PLAIN_MIN_LENGTH) return;
  if ((enabled & 1) !== 0) {
    findEmails(text, spans);
    if (spans.covered === length) return;
  }
  const tier = cardRunTier(features);
  const upper = (features & HAS_UPPER) !== 0;
  if ((enabled & 2) !== 0 && upper && tier >= RUN_7 && length >= IBAN_MIN_LENGTH) {
    findIbans(text, spans);
    if (spans.covered === length) return;
  }
  if ((enabled & 4) !== 0 && tier === RUN_13) {
    findCards(text, spans);
    if (spans.covered === length) return;
  }
  if ((enabled & 8) !== 0 && hasPhoneRun(features)) {
    scanWith(PHONE, text, spans, 'phone', PHONE_FORM, judgePhone);
    if (spans.covered === length) return;
  }
  if ((enabled & 16) !== 0) {
    if (tier >= RUN_9) findSsns(text, spans);
    if (upper && tier >= RUN_6) scanWith(UK_NINO, text, spans, 'national-id', NATIONAL_ID_FORM, judgeNino);
    if (upper && tier >= RUN_7) scanWith(SPANISH_ID, text, spans, 'national-id', NATIONAL_ID_FORM, judgeSpanishId);
  }
}

// --- helpers for the stream masker ----------------------------------------------------------

const PRIVATE_KEY_BEGIN = /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----/g;

/** The first private-key block at or after `from` that has no END line yet: where it and its BEGIN line end. */
export function openPrivateKeyStart(text: string, from: number): { start: number; headerEnd: number } | null {
  PRIVATE_KEY_BEGIN.lastIndex = from;
  let begin: RegExpExecArray | null;
  while ((begin = PRIVATE_KEY_BEGIN.exec(text)) !== null) {
    const headerEnd = PRIVATE_KEY_BEGIN.lastIndex;
    const endLine = `-----END ${begin[1] ?? ''}PRIVATE KEY${begin[2] ?? ''}-----`;
    const end = text.indexOf(endLine, headerEnd);
    if (end < 0) return { start: begin.index, headerEnd };
    PRIVATE_KEY_BEGIN.lastIndex = end + endLine.length;
  }
  return null;
}

/** The END line of any private-key block. */
export const PRIVATE_KEY_END = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/;

/** A tail that may be the beginning of a private-key BEGIN line: dashes, then BEGIN and its words, in part. */
const PARTIAL_KEY_HEADER = /^-{1,5}(?:B(?:E(?:G(?:I(?:N(?: [A-Z0-9 ]{0,60}-{0,5})?)?)?)?)?)?$/;

/** The start of a partial BEGIN line at the end of the text (within its last 80 characters), or -1. */
export function partialKeyHeaderStart(text: string, from: number): number {
  const windowStart = Math.max(from, text.length - 80);
  for (let i = text.indexOf('-', windowStart); i >= 0; i = text.indexOf('-', i + 1)) {
    if (PARTIAL_KEY_HEADER.test(text.slice(i))) return i;
  }
  return -1;
}
