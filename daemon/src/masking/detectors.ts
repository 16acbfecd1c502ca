import type { DetectorName } from '@airlock/shared';
import { HAS_UPPER, IBAN_START, RUN_13, RUN_6, RUN_7, RUN_9, cardRunTier, hasPhoneRun, isDigitCode } from './features.js';
import type { SpanList } from './spans.js';
import {
  appendMod97,
  ibanChecksumCompletes,
  ibanLengthAt,
  ibanLengthOf,
  isSecretValue,
  jwtHeaderValid,
  looksLikeDate,
  looksLikeIpv4,
  looksLikeSecret,
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
  email: { form: '[EMAIL]', replaces: 'the address (also a quoted local part, `"john doe"@example.com`, and internationalised ones, `jürgen@müller.de`)' },
  'payment-card': { form: '****1111', replaces: 'the card number, unbroken or grouped by spaces, `-`, `.`, `_` or `/`; the last four digits stay' },
  iban: { form: '[IBAN]', replaces: 'the IBAN, upper or lower case, unbroken or grouped by spaces or dashes' },
  phone: { form: '[PHONE]', replaces: 'the number' },
  'national-id': { form: '[NATIONAL-ID]', replaces: 'the id (US SSN with `-`, space, `.` or a Unicode dash, UK NINO, Spanish DNI/NIE)' },
  'cloud-key': { form: '[CLOUD-KEY]', replaces: 'the key (AWS key ids in either case); a label such as `AccountKey=` stays' },
  token: {
    form: '[TOKEN]',
    replaces:
      'the token: provider tokens by prefix, `Authorization:` credentials (the scheme such as `Bearer ` or `Basic ` stays), and values labelled secret, token or key: `api_key=[TOKEN]`, `"client_secret": "[TOKEN]"`, `X-Api-Key: [TOKEN]` (the label stays)',
  },
  jwt: { form: '[JWT]', replaces: 'all three segments' },
  'private-key': { form: '[PRIVATE-KEY]', replaces: 'the whole BEGIN … END block' },
  'connection-password': {
    form: '[PASSWORD]',
    replaces:
      'only the password: `postgres://user:[PASSWORD]@host`, `password=[PASSWORD]`, `Password: [PASSWORD]`, `"db_password": "[PASSWORD]"`, `<password>[PASSWORD]</password>`, SQL\'s `PASSWORD \'[PASSWORD]\'` (keys ending in password, passwd, pwd or passphrase, any casing; the key stays)',
  },
};

/** The shortest text that can hold a secret detector's match: `pwd=x`. */
const SECRET_MIN_LENGTH = 5;

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

/**
 * The domain part, tried at each `@`: scanning for addresses from every position is what makes
 * email regexes slow. ASCII labels; the top level is letters or punycode (`xn--fiqs8s`).
 */
const EMAIL_DOMAIN = /@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9-]{1,59})(?![A-Za-z0-9-]|\.[A-Za-z0-9])/y;

/** An internationalised domain (`müller.de`, `例子.中国`): tried only where the ASCII one fails and the text has non-ASCII characters. */
const EMAIL_DOMAIN_UNICODE =
  /@(?:[\p{L}\p{N}](?:[\p{L}\p{M}\p{N}-]{0,61}[\p{L}\p{M}\p{N}])?\.){1,8}(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9-]{1,59}|\p{L}[\p{L}\p{M}]{1,23})(?![\p{L}\p{M}\p{N}-]|\.[\p{L}\p{N}])/uy;

const LOCAL_PART_MAX = 64;

/** Letters, digits and . _ % + - (a table: branching per character mispredicts on random text) */
const LOCAL_PART_CHAR = new Uint8Array(65536);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-') LOCAL_PART_CHAR[ch.charCodeAt(0)] = 1;

/** A non-ASCII letter, mark or digit: what an internationalised local part (RFC 6531) is written in. */
const UNICODE_WORD_CHAR = /^[\p{L}\p{M}\p{N}]$/u;

const EMAIL_FORM = MASK_FORMS.email.form;

/** Where the unquoted local part that ends before `at` starts (`at` itself when there is none). */
function localPartStart(text: string, at: number): number {
  let start = at;
  const limit = Math.max(0, at - LOCAL_PART_MAX - 1);
  while (start > limit) {
    const code = text.charCodeAt(start - 1);
    if (LOCAL_PART_CHAR[code] === 1) {
      start--;
      continue;
    }
    // an apostrophe between letters (o'brien@), not a quote around the address ('bob@…')
    if (code === 39 && start < at && start >= 2 && ALPHANUMERIC_CHAR[text.charCodeAt(start - 2)] === 1) {
      start--;
      continue;
    }
    if (code < 0x80) break;
    // a letter outside the BMP is a surrogate pair: test the pair
    const width = code >= 0xdc00 && code <= 0xdfff && start >= 2 ? 2 : 1;
    if (!UNICODE_WORD_CHAR.test(text.slice(start - width, start))) break;
    start -= width;
  }
  return start;
}

/**
 * Where the quoted local part (`"john doe"@`) whose closing quote is right before `at` starts, or
 * -1. A JSON-escaped opening quote (`\"john doe\"@` inside a JSON string) takes its backslash along.
 */
function quotedLocalPartStart(text: string, at: number): number {
  // the content, its two quotes and the backslash of an escaped opening quote
  const limit = Math.max(0, at - LOCAL_PART_MAX - 3);
  for (let i = at - 2; i >= limit; i--) {
    const code = text.charCodeAt(i);
    if (code === 10 || code === 13) return -1;
    if (code !== 34) continue;
    if (i === at - 2 || (i === at - 3 && text.charCodeAt(at - 2) === 92)) return -1;
    return i > 0 && text.charCodeAt(i - 1) === 92 ? i - 1 : i;
  }
  return -1;
}

/**
 * Addresses: a local part of up to 64 characters (letters of any script, digits, `._%+-`, or a
 * quoted string), then a domain with a 2–24 letter top level (or an internationalised one). Not
 * preceded by `/`: in `scheme://user@host` the user and host are not an address (a password in
 * such a URL is claimed first by connection-password).
 */
function findEmails(text: string, spans: SpanList): void {
  let from = 0;
  let nonAscii = -1;
  for (;;) {
    const at = text.indexOf('@', from);
    if (at < 0) break;
    from = at + 1;
    const quoted = at > 0 && text.charCodeAt(at - 1) === 34;
    const start = quoted ? quotedLocalPartStart(text, at) : localPartStart(text, at);
    if (start < 0 || start === at || (!quoted && at - start > LOCAL_PART_MAX) || (start > 0 && text.charCodeAt(start - 1) === 47)) continue;
    let end: number;
    EMAIL_DOMAIN.lastIndex = at;
    if (EMAIL_DOMAIN.test(text)) end = EMAIL_DOMAIN.lastIndex;
    else {
      if (nonAscii < 0) nonAscii = hasNonAscii(text) ? 1 : 0;
      if (nonAscii === 0) continue;
      EMAIL_DOMAIN_UNICODE.lastIndex = at;
      if (!EMAIL_DOMAIN_UNICODE.test(text)) continue;
      end = EMAIL_DOMAIN_UNICODE.lastIndex;
    }
    const blockedUntil = spans.claim(start, end, EMAIL_FORM, 'email');
    from = blockedUntil >= 0 ? Math.max(blockedUntil, from) : end;
  }
  spans.commit();
}

function hasNonAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return true;
  return false;
}

// --- payment card -----------------------------------------------------------------------------

const DIGIT_CHAR = new Uint8Array(65536);
for (let c = 48; c <= 57; c++) DIGIT_CHAR[c] = 1;

/** ASCII letters: 1 for uppercase, 2 for lowercase. */
const LETTER_CASE = new Uint8Array(65536);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') LETTER_CASE[ch.charCodeAt(0)] = 1;
for (const ch of 'abcdefghijklmnopqrstuvwxyz') LETTER_CASE[ch.charCodeAt(0)] = 2;

const ALPHANUMERIC_CHAR = new Uint8Array(65536);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789') ALPHANUMERIC_CHAR[ch.charCodeAt(0)] = 1;

/** A card number does not start right after these: it would be part of a longer number, a decimal or a signed number. */
const CARD_GLUE_CHAR = new Uint8Array(65536);
for (const ch of '0123456789.,+-') CARD_GLUE_CHAR[ch.charCodeAt(0)] = 1;

const CARD_MIN_DIGITS = 13;
const CARD_MAX_DIGITS = 19;

/** groupSeparator of the first group when the run is glued to what is before it: to a number, or to a letter or `_`. */
const GLUED = -1;
const GLUED_TO_LETTER = -2;
const SPACE = 32;
const DASH = 45;
const DOT = 46;

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

/** `-` `.` `_` `/` join card groups (a space too, and two spaces: see findCards). */
function isCardSeparator(code: number): boolean {
  return code === DASH || code === DOT || code === 95 || code === 47;
}

/**
 * Card numbers: runs of digits joined by one or two spaces or one of `-._/`, judged by whole
 * groups. A card is 13–19 digits with one separator kind throughout (one or two spaces count as
 * one kind), a plausible issuer prefix and a valid Luhn digit. It starts a run (not glued to a
 * digit or `. , + -`: a decimal, a signed number, `ORD-…`) or follows a separator that breaks it
 * from the group before (see breaksCard), so a reference number before it or a year after it does
 * not hide it. Letters may touch it (`card4111111111111111x`). A hand-written scan: a regex would
 * allocate a match per candidate.
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
    groupSeparator[0] = i === 0 ? 0 : CARD_GLUE_CHAR[text.charCodeAt(i - 1)] === 1 ? GLUED : LETTER_CASE[text.charCodeAt(i - 1)] !== 0 || text.charCodeAt(i - 1) === 95 ? GLUED_TO_LETTER : 0;
    let j = i;
    while (j < length) {
      const code = text.charCodeAt(j);
      if (code >= 48 && code <= 57) {
        cardDigits[digits] = code - 48;
        cardDigitAt[digits++] = j++;
        continue;
      }
      let width = 0;
      if (code === SPACE) width = text.charCodeAt(j + 1) === SPACE ? 2 : 1;
      else if (isCardSeparator(code)) width = 1;
      if (width === 0 || !isDigitCode(text.charCodeAt(j + width))) break;
      groupFirstDigit[++groups] = digits;
      groupSeparator[groups] = code;
      j += width;
    }
    groupFirstDigit[++groups] = digits;
    if (digits >= CARD_MIN_DIGITS) claimCards(text, spans, groups, glueAfter(text, j));
    i = j;
  }
  spans.commit();
}

/** What follows a run: nothing that ties it (NOT_GLUED), a letter or `_` right after it, or `-`, `.`, `,`, `+` and then a letter or digit. */
const NOT_GLUED = 0;
const GLUED_LETTER = 1;
const GLUED_ON = 2;

function glueAfter(text: string, end: number): number {
  if (end >= text.length) return NOT_GLUED;
  const next = text.charCodeAt(end);
  if (ALPHANUMERIC_CHAR[next] === 1 || next === 95) return GLUED_LETTER;
  return CARD_GLUE_CHAR[next] === 1 && ALPHANUMERIC_CHAR[text.charCodeAt(end + 1)] === 1 ? GLUED_ON : NOT_GLUED;
}

/**
 * Whether a separator between two groups sets a card apart from the group on its other side: a
 * space does; a dash or a dot never does (ids, UUIDs, decimals and versions go on through them);
 * `_` or `/` does unless the card's own groups are joined by it. `kind` is the card's separator,
 * 0 for a card written unbroken.
 */
function breaksCard(separator: number, kind: number): boolean {
  if (separator === SPACE) return true;
  if (separator === DASH || separator === DOT || separator === GLUED) return false;
  return separator !== kind;
}

/**
 * Finds cards among the groups of one run, left to right; a group after a card may start another.
 * A card ends the run or ends where breaksCard says. A letter right before or after it is accepted
 * when the card is unbroken or spaced (`card4111…1111x`); a card grouped by dashes (or dots, `_`,
 * `/`) glued to a letter is part of something else, such as the groups of a UUID.
 */
function claimCards(text: string, spans: SpanList, groups: number, runGlue: number): void {
  let first = 0;
  while (first < groups) {
    const from = groupFirstDigit[first] as number;
    let last = first;
    while (last + 1 < groups && (groupFirstDigit[last + 2] as number) - from <= CARD_MAX_DIGITS) last++;
    const prefix = (cardDigits[from] as number) * 1000 + (cardDigits[from + 1] as number) * 100 + (cardDigits[from + 2] as number) * 10 + (cardDigits[from + 3] as number);
    const before = groupSeparator[first] as number;
    let found = -1;
    for (; last >= first; last--) {
      const to = groupFirstDigit[last + 1] as number;
      if (to - from < CARD_MIN_DIGITS) break;
      if (to - from > CARD_MAX_DIGITS || !plausibleCardIssuer(prefix, to - from)) continue;
      const kind = last > first ? (groupSeparator[first + 1] as number) : 0;
      const startsApart = first > 0 ? breaksCard(before, kind) : before === GLUED_TO_LETTER ? kind === 0 || kind === SPACE : before !== GLUED;
      if (!startsApart) continue;
      if (last === groups - 1) {
        if (runGlue === GLUED_ON || (runGlue === GLUED_LETTER && kind !== 0 && kind !== SPACE)) continue;
      } else if (!breaksCard(groupSeparator[last + 1] as number, kind)) continue;
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

const IBAN_MIN_LENGTH = 15;

/**
 * IBANs: a country code (two letters of one case) and two check digits not glued to a letter or
 * digit, then the country's registry length in letters (either case) and digits, written
 * unbroken or in groups of four joined by single spaces or by single dashes (only the last group
 * may be shorter), ending at a word boundary, with a valid mod-97 check. The check is what keeps
 * lower case in: one random candidate of the right shape and length in 97 passes it.
 */
/**
 * Whether bytes[start, end) (ASCII) hold where findIbans would start a candidate: a country code
 * with an IBAN length (two letters of one case) and two digits, not glued to a letter or digit,
 * with room for the shortest IBAN. The features only say "two letters and two digits at the
 * start of a word", which a quarter of UUIDs have.
 */
export function mayHoldIbanAscii(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i <= end - IBAN_MIN_LENGTH; i++) {
    const letterCase = LETTER_CASE[bytes[i] as number] as number;
    if (letterCase === 0 || LETTER_CASE[bytes[i + 1] as number] !== letterCase) continue;
    if (!isDigitCode(bytes[i + 2] as number) || !isDigitCode(bytes[i + 3] as number)) continue;
    if (i > start && ALPHANUMERIC_CHAR[bytes[i - 1] as number] === 1) continue;
    if (ibanLengthOf(bytes[i] as number, bytes[i + 1] as number) > 0) return true;
  }
  return false;
}

function findIbans(text: string, spans: SpanList): void {
  const last = text.length - IBAN_MIN_LENGTH;
  for (let i = 0; i <= last; i++) {
    const letterCase = LETTER_CASE[text.charCodeAt(i)] as number;
    if (letterCase === 0 || LETTER_CASE[text.charCodeAt(i + 1)] !== letterCase) continue;
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
  let separator = 0;
  let value = 0;
  for (let i = start + 4; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === SPACE || code === DASH) {
      if (groupLength !== 4 || (separator !== 0 && code !== separator) || ALPHANUMERIC_CHAR[text.charCodeAt(i + 1)] !== 1) return -1;
      separator = code;
      groupLength = 0;
      continue;
    }
    if (ALPHANUMERIC_CHAR[code] === 0) return -1;
    groupLength++;
    value = appendMod97(value, code);
    if (++count === expected) {
      const end = i + 1;
      if (separator !== 0 && groupLength > 4) return -1;
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

/**
 * An SSN does not start right after these: the digit groups of a longer number or id would go on
 * through them. Letters may touch it (`SSN123-45-6789`).
 */
const SSN_GLUE_BEFORE = new Uint8Array(65536);
for (const ch of '0123456789-.,+\u2010\u2011\u2012\u2013\u2014\u2212') SSN_GLUE_BEFORE[ch.charCodeAt(0)] = 1;

/** What joins an SSN's groups: a dash, a space, a dot, or a Unicode dash (‐ ‑ ‒ – — −). */
function isSsnSeparator(code: number): boolean {
  return code === DASH || code === SPACE || code === DOT || (code >= 0x2010 && code <= 0x2014) || code === 0x2212;
}

function digitsAt(text: string, from: number, count: number): boolean {
  for (let i = from; i < from + count; i++) if (DIGIT_CHAR[text.charCodeAt(i)] === 0) return false;
  return true;
}

/**
 * US SSNs `123-45-6789` (or with spaces, dots or a Unicode dash, one kind throughout), within the
 * SSA rules, not followed by a letter, digit or `_`, nor by a separator and a digit (a longer
 * number). A scan, not a regex: no match objects.
 */
function findSsns(text: string, spans: SpanList): void {
  const last = text.length - 11;
  for (let i = 0; i <= last; i++) {
    const separator = text.charCodeAt(i + 3);
    if (!isSsnSeparator(separator) || text.charCodeAt(i + 6) !== separator) continue;
    if (!digitsAt(text, i, 3) || !digitsAt(text, i + 4, 2) || !digitsAt(text, i + 7, 4)) continue;
    if (i > 0 && SSN_GLUE_BEFORE[text.charCodeAt(i - 1)] === 1) continue;
    const end = i + 11;
    if (end < text.length) {
      const next = text.charCodeAt(end);
      if (ALPHANUMERIC_CHAR[next] === 1 || next === 95 || (SSN_GLUE_BEFORE[next] === 1 && isDigitCode(text.charCodeAt(end + 1)))) continue;
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

/** `[Pp][Aa][Ss][Ss]` for `pass`: the triggers are joined into one regex without flags, so they spell out any casing. */
function anyCase(word: string): string {
  return [...word].map((ch) => (ch.toLowerCase() !== ch.toUpperCase() ? `[${ch.toUpperCase()}${ch.toLowerCase()}]` : ch)).join('');
}

/** A block without its END line (cut off) is masked to the end of the text. */
const PRIVATE_KEY = /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END \1PRIVATE KEY\2-----|$)/g;

const JWT = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,1024}\.[A-Za-z0-9_-]{2,4096}\.[A-Za-z0-9_-]{0,1024}(?![A-Za-z0-9_-])/g;

const judgeJwt: Judge = (match) => jwtHeaderValid(match[0].slice(0, match[0].indexOf('.')));

/** scheme://user:PASSWORD@ — the password may hold `@` and `:`, so it runs to the last `@` before the path. */
const URL_PASSWORD = /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,30}:\/\/[^\s:/?#@[\]]{0,256}:([^\s/?#]{1,512})@/dg;

/** URL_PASSWORD is costly on a URL it cannot match: one with no `@` after its `://` has no user info. */
function mayHoldUserInfo(text: string): boolean {
  const scheme = text.indexOf('://');
  return scheme >= 0 && text.indexOf('@', scheme + 3) >= 0;
}

/**
 * The value after a key, one capture group per form (the first that took part is the secret):
 * `\"…\"` (JSON inside a JSON string), `"…"` and `'…'` (backslash escapes inside, and SQL's `''`
 * in `'…'`, so an escaped quote does not end the value), or an unquoted word that does not start
 * an object or array. A
 * quoted value whose closing quote is missing (the text was cut) runs to the end of the line.
 */
const KEY_VALUE_VALUE = [
  String.raw`\\"((?:[^"\\\r\n]|\\[^"\r\n]){1,512})(?:\\"|$)`,
  String.raw`"((?:[^"\\\r\n]|\\[^\r\n]){1,512})(?:"|$)`,
  String.raw`'((?:[^'\\\r\n]|\\[^\r\n]|''){1,512})(?:'|$)`,
  String.raw`([^\s;&'"\\<{[][^\s;&'"<]{0,511})`,
].join('|');

/** The capture group of an unquoted value in a keyValuePattern. */
const UNQUOTED_VALUE = 4;

/**
 * `key = value`, `key: value`, `"key": "value"`, `key => value`, `key := value` where the key and
 * separator are `label` (any casing; a prefix such as `db_`, `PG`, `client` or `X-Api-` may come
 * first): conninfo, ADO.NET, JDBC and URL query strings, env and ini files, YAML, JSON, Python and
 * Ruby literals, HTTP headers. The key and quotes stay; the value is the secret.
 */
function keyValuePattern(label: string): RegExp {
  return new RegExp(String.raw`(?<![A-Za-z0-9])[A-Za-z0-9_]{0,40}?(?:${label})(?:${KEY_VALUE_VALUE})`, 'dgim');
}

/** One of `keys`, a quote that may close it, and a separator. */
function keyThenSeparator(keys: string): string {
  return String.raw`(?:${keys})(?:\\?["'])?[ \t]{0,16}(?:=>|:=|[:=])[ \t]{0,16}`;
}

/**
 * `<password>value</password>`, `<ns:api_key type="x">value</ns:api_key>`: XML config and what
 * query_to_xml makes of a column of that name. The value (group 1) is the text up to the next tag.
 * Attributes are quoted, so the key's end or a quote is right before `>` (see hintStep).
 */
function xmlElementPattern(keys: string): RegExp {
  return new RegExp(String.raw`<[A-Za-z0-9_.:-]{0,40}?(?:${keys})(?:[ \t][^<>\r\n]{0,256}["'])?[ \t]{0,16}>([^<\r\n]{1,512})</`, 'dgi');
}

const PASSWORD_KEYS = 'pass(?:word|wd|phrase)|pwd';
const SECRET_KEYS = 'secret|token|(?:api|secret|private|access|auth|client|signing|encryption|master|session)[_-]?key';

/**
 * Also SQL's `PASSWORD 'x'` (CREATE and ALTER ROLE, as pg_stat_activity and server logs show
 * them): a quoted value after spaces, for keys ending in d (what hintStep looks for).
 */
const KEY_VALUE_PASSWORD = keyValuePattern(String.raw`${keyThenSeparator(PASSWORD_KEYS)}|(?:pass(?:word|wd)|pwd)[ \t]{1,16}(?=["'])`);
const XML_PASSWORD = xmlElementPattern(PASSWORD_KEYS);

/** The keys KEY_VALUE_PASSWORD reads, in any casing as it does. */
const PASSWORD_KEYWORD = new RegExp(`${anyCase('pass')}(?:${anyCase('wor')}|${anyCase('w')})?${anyCase('d')}|${anyCase('passphrase')}|${anyCase('pwd')}`);

const KEY_VALUE_SECRET = keyValuePattern(keyThenSeparator(SECRET_KEYS));
const XML_SECRET = xmlElementPattern(SECRET_KEYS);

/** The keys KEY_VALUE_SECRET reads, in any casing as it does. */
const SECRET_KEYWORD = new RegExp(`${anyCase('secret')}|${anyCase('token')}|${anyCase('key')}`);

const PASSWORD_FORM = MASK_FORMS['connection-password'].form;

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

/** Ends an unquoted value: `}` `]` `)` `>` `,` `.` at its end close what is around it (`{password=x}`, `password=x.`). */
const VALUE_CLOSER = new Uint8Array(128);
for (const ch of '}])>,.') VALUE_CLOSER[ch.charCodeAt(0)] = 1;

function trimValueEnd(text: string, start: number, end: number): number {
  let trimmed = end;
  while (trimmed > start) {
    const code = text.charCodeAt(trimmed - 1);
    if (VALUE_CLOSER[code] !== 1 && code !== 32 && code !== 9) break;
    trimmed--;
  }
  return trimmed;
}

/** Whether the separator before an unquoted value at `start` is a colon (`key: value`) rather than `=`, `=>`. */
function colonBefore(text: string, start: number): boolean {
  let i = start - 1;
  while (i >= 0 && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i--;
  return text.charCodeAt(i) === 58;
}

/** Where the rest of a line's value that starts at `start` ends: before a line break, `,`, `;`, `}` or `]`, at most 512 characters on. */
function lineValueEnd(text: string, start: number): number {
  const limit = Math.min(text.length, start + 512);
  let end = start;
  while (end < limit) {
    const code = text.charCodeAt(end);
    if (code === 10 || code === 13 || code === 44 || code === 59 || code === 125 || code === 93) break;
    end++;
  }
  return end;
}

/**
 * A labelled password is masked whatever it looks like. Unquoted after `=` it is one word (conninfo
 * puts the next key after a space); after `:` it is the rest of the line (`Password: correct horse
 * battery staple`, YAML, a header). `null`, `true` and the like are left alone.
 */
const judgePasswordValue: Judge = (match, text, out) => {
  if (!judgeCapturedValue(match, text, out)) return false;
  if (match[UNQUOTED_VALUE] === undefined) return true;
  const end = colonBefore(text, out.start) ? lineValueEnd(text, out.start) : out.end;
  out.end = trimValueEnd(text, out.start, end);
  return out.end > out.start && isSecretValue(text.slice(out.start, out.end));
};

/**
 * A value labelled secret, token or key: quoted, or unquoted after `=`, it is masked whatever it
 * looks like; an unquoted word after `:` only when it looks like a secret (prose says "Invalid
 * token: expired").
 */
const judgeSecretValue: Judge = (match, text, out) => {
  if (!judgeCapturedValue(match, text, out)) return false;
  if (match[UNQUOTED_VALUE] === undefined) return true;
  out.end = trimValueEnd(text, out.start, out.end);
  if (out.end === out.start) return false;
  const value = text.slice(out.start, out.end);
  return isSecretValue(value) && (!colonBefore(text, out.start) || looksLikeSecret(value));
};

/** An element's text, spaces around it aside, unless it is `null` and the like. */
const judgeElementText: Judge = (match, text, out) => {
  if (!judgeCapturedValue(match, text, out)) return false;
  while (out.start < out.end && (text.charCodeAt(out.start) === 32 || text.charCodeAt(out.start) === 9)) out.start++;
  out.end = trimValueEnd(text, out.start, out.end);
  return out.end > out.start && isSecretValue(text.slice(out.start, out.end));
};

/** Upper case: the 16 characters are A–Z and 0–9 as ever; lower case (`akia…`), base32 (a–z, 2–7) with a digit among them. */
const AWS_ACCESS_KEY_ID = /(?<![A-Za-z0-9])(?:A(?:KI|SI)A[A-Z0-9]{16}|a(?:ki|si)a[a-z2-7]{16})(?![A-Za-z0-9])/g;

/** An AWS key id is random base32: in lower case, a word such as asiapacificregions has the shape but no digit. */
const judgeAwsKeyId: Judge = (match) => match[0].charCodeAt(0) === 65 || /[2-7]/.test(match[0]);

/** A 40-character AWS secret is indistinguishable from other base64 unless a label says what it is. */
const AWS_SECRET_KEY = /(?:aws_?)?secret_?access_?key["']?[ \t]{0,16}[:=][ \t]{0,16}["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/dgi;

const GCP_API_KEY = /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])/g;

const AZURE_ACCOUNT_KEY = /(?:AccountKey|SharedAccessKey)[ \t]{0,16}=[ \t]{0,16}([A-Za-z0-9+/]{20,1024}={0,2})/dg;

const TOKEN =
  /(?<![A-Za-z0-9_-])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255}|glpat-[A-Za-z0-9_-]{20,255}|xox[abpr]-[A-Za-z0-9-]{10,255}|[rs]k_live_[A-Za-z0-9]{16,247}|npm_[A-Za-z0-9]{36,255}|sk-(?:proj-|ant-(?:api|admin)\d{2}-)?[A-Za-z0-9_-]{20,255})(?![A-Za-z0-9_-])/g;

/** `sk-` alone is a common prefix for slugs; a key has digits in it. */
const judgeToken: Judge = (match) => !match[0].startsWith('sk-') || /\d/.test(match[0]);

/**
 * An `Authorization` header (or a field of that name in JSON, a dict, a query string): an optional
 * scheme word (group 1, kept) and the credentials (group 2, masked).
 */
const AUTHORIZATION = new RegExp(
  String.raw`(?<![A-Za-z0-9])authorization(?:\\?["'])?[ \t]{0,16}[:=][ \t]{0,16}(?:\\?["'])?(?:([A-Za-z][A-Za-z0-9_-]{0,30})[ \t]{1,16})?([^\s"'\\,;]{1,4096})`,
  'dgi',
);

/** Schemes whose credentials are masked whatever they look like. */
const AUTHORIZATION_SCHEMES = new Set(['basic', 'bearer', 'token', 'digest', 'negotiate', 'ntlm', 'oauth', 'apikey', 'api-key', 'key', 'bot', 'jwt', 'hmac', 'aws4-hmac-sha256', 'sharedkey', 'ssws']);

/** Schemes whose credentials are a list of parameters (`Digest username="…", response="…"`): masked to the end of the line. */
const PARAMETER_SCHEMES = new Set(['digest', 'aws4-hmac-sha256']);

/**
 * A known scheme's credentials are masked whatever they look like (`Basic dXNlcjpwYXNz`); with
 * an unknown scheme or none, only a value that looks like a secret ("authorization: pending" is
 * prose).
 */
const judgeAuthorization: Judge = (match, text, out) => {
  const at = match.indices?.[2];
  const credentials = match[2];
  if (at === undefined || credentials === undefined || credentials === out.replacement) return false;
  out.start = at[0];
  out.end = at[1];
  const scheme = match[1]?.toLowerCase();
  if (scheme !== undefined && AUTHORIZATION_SCHEMES.has(scheme)) {
    if (PARAMETER_SCHEMES.has(scheme)) out.end = Math.max(out.end, trimValueEnd(text, out.start, lineEnd(text, out.start)));
    return true;
  }
  return looksLikeSecret(credentials);
};

/** Where the line that `start` is on ends, at most 4096 characters on. */
function lineEnd(text: string, start: number): number {
  const limit = Math.min(text.length, start + 4096);
  let end = start;
  while (end < limit && text.charCodeAt(end) !== 10 && text.charCodeAt(end) !== 13) end++;
  return end;
}

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

/** One regex of a secret detector. */
export interface SecretScan {
  readonly pattern: RegExp;
  /** A substring every match of the pattern contains (tested): the pattern runs only where it is found. */
  readonly keyword: RegExp;
  readonly judge: Judge;
  /** A cheaper test the text must also pass, which only rules out text the pattern cannot match. */
  readonly mayMatch?: (text: string) => boolean;
}

export interface SecretDetector {
  readonly name: DetectorName;
  /** Any of its scans' keywords: the detector runs only where one is found. */
  readonly trigger: RegExp;
  readonly scans: readonly SecretScan[];
  find(text: string, spans: SpanList): void;
}

function secretDetector(name: DetectorName, form: string, scans: SecretScan[]): SecretDetector {
  return {
    name,
    trigger: new RegExp(scans.map((scan) => scan.keyword.source).join('|')),
    scans,
    find: (text, spans) => {
      for (const scan of scans) {
        if (!scan.keyword.test(text) || (scan.mayMatch !== undefined && !scan.mayMatch(text))) continue;
        scanWith(scan.pattern, text, spans, name, form, scan.judge);
      }
    },
  };
}

/**
 * Found by prefix or keyword, in priority order (the first detector, and within one the first
 * scan, to claim characters keeps them). They run only when textFeatures saw a SECRET_HINT and
 * mayHoldSecret agrees, each only where its own trigger is, and before the other detectors: a
 * password in a URL must not become an email address. A provider token claims its characters
 * before the key-value scans, so `token: ghp_…` says [TOKEN] and is counted once.
 */
export const SECRET_DETECTORS: readonly SecretDetector[] = [
  secretDetector('private-key', PRIVATE_KEY_FORM, [{ pattern: PRIVATE_KEY, keyword: /-----BEGIN/, judge: acceptAll }]),
  secretDetector('jwt', JWT_FORM, [{ pattern: JWT, keyword: /eyJ/, judge: judgeJwt }]),
  secretDetector('connection-password', PASSWORD_FORM, [
    { pattern: URL_PASSWORD, keyword: /:\/\//, judge: judgeCapturedValue, mayMatch: mayHoldUserInfo },
    { pattern: KEY_VALUE_PASSWORD, keyword: PASSWORD_KEYWORD, judge: judgePasswordValue },
    { pattern: XML_PASSWORD, keyword: PASSWORD_KEYWORD, judge: judgeElementText },
  ]),
  secretDetector('cloud-key', CLOUD_KEY_FORM, [
    { pattern: AWS_ACCESS_KEY_ID, keyword: /A[KS]IA|a[ks]ia/, judge: judgeAwsKeyId },
    // the label is read in any casing
    { pattern: AWS_SECRET_KEY, keyword: new RegExp(`${anyCase('secret')}_?${anyCase('access')}`), judge: judgeCapturedValue },
    { pattern: GCP_API_KEY, keyword: /AIza/, judge: acceptAll },
    { pattern: AZURE_ACCOUNT_KEY, keyword: /AccountKey|SharedAccessKey/, judge: judgeCapturedValue },
  ]),
  secretDetector('token', TOKEN_FORM, [
    { pattern: TOKEN, keyword: /gh[pousr]_|github_pat_|glpat-|xox[abpr]-|[rs]k_live_|npm_|sk-/, judge: judgeToken },
    { pattern: AUTHORIZATION, keyword: new RegExp(anyCase('authorization')), judge: judgeAuthorization },
    { pattern: BEARER, keyword: /[Bb]earer/, judge: judgeBearer },
    { pattern: KEY_VALUE_SECRET, keyword: SECRET_KEYWORD, judge: judgeSecretValue },
    { pattern: XML_SECRET, keyword: SECRET_KEYWORD, judge: judgeElementText },
  ]),
];

/** Any secret detector's trigger: tested once per text; on a miss none of them runs. */
const SECRET_TRIGGER = new RegExp(SECRET_DETECTORS.map((d) => d.trigger.source).join('|'));

/** The length mayHoldSecret asks of a text. */
export { SECRET_MIN_LENGTH };

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
  if ((enabled & 2) !== 0 && (features & IBAN_START) !== 0 && length >= IBAN_MIN_LENGTH) return true;
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
  if ((enabled & 2) !== 0 && (features & IBAN_START) !== 0 && length >= IBAN_MIN_LENGTH) {
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

/** One plain detector for Masker.findSpansStream: its gate on one line's features and length, and its scan. */
export interface PlainScan {
  readonly bit: number;
  open(features: number, length: number): boolean;
  scan(text: string, spans: SpanList): void;
}

/**
 * The plain detectors after email, in findPlainSpans' order and with its gates, one by one: the
 * stream masker runs each over the runs of lines its gate lets through. Keep in step with findPlainSpans.
 */
export const PLAIN_SCANS: readonly PlainScan[] = [
  { bit: 2, open: (features, length) => (features & IBAN_START) !== 0 && length >= IBAN_MIN_LENGTH, scan: findIbans },
  { bit: 4, open: (features, length) => length >= PLAIN_MIN_LENGTH && cardRunTier(features) === RUN_13, scan: findCards },
  { bit: 8, open: (features, length) => length >= PLAIN_MIN_LENGTH && hasPhoneRun(features), scan: (text, spans) => scanWith(PHONE, text, spans, 'phone', PHONE_FORM, judgePhone) },
  { bit: 16, open: (features, length) => length >= PLAIN_MIN_LENGTH && cardRunTier(features) >= RUN_9, scan: findSsns },
  {
    bit: 16,
    open: (features, length) => length >= PLAIN_MIN_LENGTH && (features & HAS_UPPER) !== 0 && cardRunTier(features) >= RUN_6,
    scan: (text, spans) => scanWith(UK_NINO, text, spans, 'national-id', NATIONAL_ID_FORM, judgeNino),
  },
  {
    bit: 16,
    open: (features, length) => length >= PLAIN_MIN_LENGTH && (features & HAS_UPPER) !== 0 && cardRunTier(features) >= RUN_7,
    scan: (text, spans) => scanWith(SPANISH_ID, text, spans, 'national-id', NATIONAL_ID_FORM, judgeSpanishId),
  },
];

/** findEmails, for the stream masker (email has no gate but its `@`). */
export function findEmailSpans(text: string, spans: SpanList): void {
  if (text.length >= PLAIN_MIN_LENGTH) findEmails(text, spans);
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
