/**
 * What one pass over a text tells the detectors before any regex runs, packed into one small
 * integer so that nothing is allocated per cell:
 *
 * - the longest run of digits joined by up to two of ` -._/` or a Unicode dash, as a tier: any
 *   digit, 6, 7, 9 or 13 digits (card numbers, SSNs, IBAN account numbers, Spanish ids, NINOs)
 * - whether a run of 7 digits joined by up to two of ` -./()+` starts where a phone number may
 *   start (not glued to a letter, as in UUIDs and order ids)
 * - whether there is an uppercase ASCII letter, a hint of a secret (see hintStep), and what may
 *   start an IBAN: two letters and two digits at the start of a word
 *
 * A detector whose shape needs more than the text has is skipped: a UUID or a timestamp never
 * reaches the card regex, a name never reaches any regex.
 *
 * The pass is three small deterministic automata over a character class, table driven: random data
 * such as UUIDs makes per-character branches mispredict, which costs more than the lookups.
 */

// --- character classes ------------------------------------------------------------------------

const K_OTHER = 0; // punctuation not listed below, control characters, non-ASCII
const K_DIGIT = 1;
const K_SPACE = 2; // space and tab
const K_DASH = 3;
const K_DOT = 4;
const K_SLASH = 5;
const K_PAREN_PLUS = 6; // ( ) +
const K_AT = 7;
const K_UNDERSCORE = 8;
const K_EQUALS = 9; // = and >: what follows a key (`password=`, `<password>`)
const K_COLON = 10;
const K_QUOTE = 11; // " '
const K_BACKSLASH = 12;
const K_UNICODE_DASH = 13; // ‐ ‑ ‒ – — −: SSNs are written with them
// uppercase letters
const K_A = 14;
const K_K_S = 15;
const K_I = 16;
const K_J = 17;
const K_Y = 18;
const K_KEY_END = 19; // E N T: a key such as SECRET, TOKEN may end here
const K_UPPER = 20; // uppercase letters not listed above
// lowercase letters
const K_a = 21;
const K_k = 22;
const K_s = 23;
const K_i = 24;
const K_t = 25;
const K_x = 26;
const K_o = 27;
const K_bpr = 28;
const K_y = 29;
const K_key_end = 30; // e n
const K_LOWER = 31; // lowercase letters not listed above
// PASSWORD may end with D or d, and SQL puts its value after a space: PASSWORD 'x'
const K_D = 32;
const K_d = 33;
const CLASSES = 34;

const CHAR_CLASS = new Uint8Array(65536).fill(K_OTHER);
function classify(chars: string, kind: number): void {
  for (const ch of chars) CHAR_CLASS[ch.charCodeAt(0)] = kind;
}
classify('abcdefghijklmnopqrstuvwxyz', K_LOWER);
classify('ABCDEFGHIJKLMNOPQRSTUVWXYZ', K_UPPER);
classify('0123456789', K_DIGIT);
classify(' \t', K_SPACE);
classify('-', K_DASH);
classify('.', K_DOT);
classify('/', K_SLASH);
classify('()+', K_PAREN_PLUS);
classify('@', K_AT);
classify('_', K_UNDERSCORE);
classify('=>', K_EQUALS);
classify(':', K_COLON);
classify('"\'', K_QUOTE);
classify('\\', K_BACKSLASH);
classify('\u2010\u2011\u2012\u2013\u2014\u2212', K_UNICODE_DASH);
classify('A', K_A);
classify('KS', K_K_S);
classify('I', K_I);
classify('J', K_J);
classify('Y', K_Y);
classify('ENT', K_KEY_END);
classify('a', K_a);
classify('k', K_k);
classify('s', K_s);
classify('i', K_i);
classify('t', K_t);
classify('x', K_x);
classify('o', K_o);
classify('bpr', K_bpr);
classify('y', K_y);
classify('en', K_key_end);
classify('D', K_D);
classify('d', K_d);

const UPPER_CLASSES = new Set([K_A, K_K_S, K_I, K_J, K_Y, K_KEY_END, K_D, K_UPPER]);
const LOWER_CLASSES = new Set([K_a, K_k, K_s, K_i, K_t, K_x, K_o, K_bpr, K_y, K_key_end, K_d, K_LOWER]);
const LETTER_CLASSES = new Set([...UPPER_CLASSES, ...LOWER_CLASSES]);

export const HAS_UPPER = 1;
export const SECRET_HINT = 2;
/** Two ASCII letters and two digits not preceded by a letter or digit (bit 6: bits 2–5 hold the run tiers, bit 7 is HAS_AT). */
export const IBAN_START = 1 << 6;

// --- automata ---------------------------------------------------------------------------------

/**
 * Builds a transition table from a step function over states encoded as strings, exploring the
 * states reachable from `initial`. Table entries are next-state numbers pre-multiplied by CLASSES
 * so that a step is one addition and one load.
 */
function buildAutomaton(initial: string, step: (state: string, kind: number) => string): { table: Uint16Array; states: string[] } {
  const index = new Map<string, number>([[initial, 0]]);
  const states = [initial];
  const rows: number[][] = [];
  for (let s = 0; s < states.length; s++) {
    const row: number[] = [];
    for (let kind = 0; kind < CLASSES; kind++) {
      const next = step(states[s] as string, kind);
      let n = index.get(next);
      if (n === undefined) {
        n = states.length;
        index.set(next, n);
        states.push(next);
      }
      row.push(n * CLASSES);
    }
    rows.push(row);
  }
  return { table: Uint16Array.from(rows.flat()), states };
}

/**
 * The tiers of the longest card-style run: digits joined by up to two of ` -._/` and the Unicode
 * dashes (wider than any detector joins its groups: cards take one or two spaces or one of `-._/`,
 * SSNs one of ` -.` or a Unicode dash, IBANs one space or dash).
 */
export const RUN_NONE = 0;
export const RUN_ANY = 1;
export const RUN_6 = 2;
export const RUN_7 = 3;
export const RUN_9 = 4;
export const RUN_13 = 5;

function runTier(run: number): number {
  if (run >= 13) return RUN_13;
  if (run >= 9) return RUN_9;
  if (run >= 7) return RUN_7;
  if (run >= 6) return RUN_6;
  return run >= 1 ? RUN_ANY : RUN_NONE;
}

const RUN_JOINS = new Set([K_SPACE, K_DASH, K_DOT, K_UNDERSCORE, K_SLASH, K_UNICODE_DASH]);
const MAX_JOINS = 2;

/** State `tier,run,joins`; the tier only grows and 13 is final. */
const CARD = buildAutomaton('0,0,0', (state, kind) => {
  const [tier, run, joins] = state.split(',').map(Number) as [number, number, number];
  if (tier === RUN_13) return state;
  if (kind === K_DIGIT) {
    const next = run > 0 ? run + 1 : 1;
    const best = Math.max(tier, runTier(next));
    return best === RUN_13 ? `${RUN_13},0,0` : `${best},${Math.min(next, 12)},0`;
  }
  if (RUN_JOINS.has(kind) && run > 0 && joins < MAX_JOINS) return `${tier},${run},${joins + 1}`;
  return `${tier},0,0`;
});
const CARD_TIER = Uint8Array.from(CARD.states, (state) => Number(state.split(',')[0]));

/**
 * State `tier,run,joins,eligible,soft,prevGlue`. A run is eligible when it starts after a
 * character the phone regex's lookbehind allows (not a letter, digit, `@`, `_`, `-`, `.`, `/`),
 * or after a space, `(`, `)` or `+` within a longer run; `soft` records such a joiner since the
 * last digit. Ambiguous characters count as not glued, which can only let more through.
 */
const PHONE_FINAL = 1;
const PHONE = buildAutomaton('0,0,0,0,0,0', (state, kind) => {
  const [tier, run, joins, eligible, soft, prevGlue] = state.split(',').map(Number) as [number, number, number, number, number, number];
  if (tier === PHONE_FINAL) return state;
  if (kind === K_DIGIT) {
    let nextRun: number;
    let nextEligible: number;
    if (run > 0 && joins <= 2) {
      if (eligible) [nextRun, nextEligible] = [run + 1, 1];
      else if (soft) [nextRun, nextEligible] = [1, 1];
      else [nextRun, nextEligible] = [run + 1, 0];
    } else {
      [nextRun, nextEligible] = [1, prevGlue ? 0 : 1];
    }
    if (nextEligible && nextRun >= 7) return `${PHONE_FINAL},0,0,0,0,0`;
    return `${tier},${Math.min(nextRun, 6)},0,${nextEligible},0,1`;
  }
  if (kind === K_SPACE || kind === K_PAREN_PLUS) {
    return run > 0 ? `${tier},${run},${Math.min(joins + 1, 3)},${eligible},1,0` : `${tier},0,0,0,0,0`;
  }
  if (kind === K_DASH || kind === K_DOT || kind === K_SLASH) {
    return run > 0 ? `${tier},${run},${Math.min(joins + 1, 3)},${eligible},${soft},1` : `${tier},0,0,0,0,1`;
  }
  // a quote is not glue: "415-555-2671" in a JSON string is a phone number
  const glue = LETTER_CLASSES.has(kind) || kind === K_AT;
  return `${tier},0,0,0,0,${glue ? 1 : 0}`;
});
const PHONE_TIER = Uint8Array.from(PHONE.states, (state) => Number(state.split(',')[0]));

/**
 * Whether something a secret detector looks for may be here: `_` (token prefixes, `secret_access`),
 * `--` (a PEM line), `k-` and `t-` (`sk-`, `glpat-`), `xoxb-`, a key that may end a secret's label
 * before `:`, `=` or `>` (a quote, `\`, or d e n t y in either case, then spaces: `"password" :`,
 * `Token:`, `api_key=`, `AccountKey=`, `<secret>`), a quote after d and spaces (`PASSWORD 'x'`), `yJ` (a JWT), `AKI`, `ASI`, `AI`, `akia`, `asia`; `://`
 * and then an `@` (user info) is looked for beside it (see HINT), `bearer` once after the pass.
 * Loose on purpose: it only decides whether the secret trigger regex runs.
 */
const HINT_FINAL = 'hint';

/** States after which `:`, `=` or `>` (spaces between) may end a secret's label. */
const KEY_ENDS = new Set(['keyEnd', 'y', 't', 'd', 'dSpace']);

function hintStep(state: string, kind: number): string {
  if (state === HINT_FINAL) return state;
  switch (kind) {
    case K_UNDERSCORE:
      return HINT_FINAL;
    case K_EQUALS:
    case K_COLON:
      if (KEY_ENDS.has(state)) return HINT_FINAL;
      return kind === K_COLON ? 'colon' : 'none';
    case K_DASH:
      return state === 'dash' || state === 'k' || state === 't' || state === 'ak' || state === 'xoxL' ? HINT_FINAL : 'dash';
    case K_SPACE:
      // spaces between a key and its colon, or between PASSWORD and its quoted value
      if (state === 'd' || state === 'dSpace') return 'dSpace';
      return KEY_ENDS.has(state) ? 'keyEnd' : 'none';
    case K_SLASH:
      return state === 'colon' ? 'scheme' : 'none';
    case K_QUOTE:
      return state === 'dSpace' ? HINT_FINAL : 'keyEnd';
    case K_D:
    case K_d:
      return 'd';
    case K_BACKSLASH:
    case K_KEY_END:
    case K_key_end:
      return 'keyEnd';
    case K_Y:
    case K_y:
      return 'y';
    case K_J:
      return state === 'y' ? HINT_FINAL : 'none';
    case K_I:
      return state === 'A' || state === 'AKS' ? HINT_FINAL : 'none';
    case K_A:
      return 'A';
    case K_K_S:
      return state === 'A' ? 'AKS' : 'none';
    case K_t:
      return 't';
    case K_k:
      return state === 'a' ? 'ak' : 'k';
    case K_s:
      return state === 'a' ? 'ak' : 'none';
    case K_i:
      return state === 'ak' ? 'aki' : 'none';
    case K_a:
      // after xox, `a` is xoxa-'s (akia there would be glued to the x, which the AWS regex refuses)
      return state === 'aki' ? HINT_FINAL : state === 'xox' ? 'xoxL' : 'a';
    case K_x:
      return state === 'xo' ? 'xox' : 'x';
    case K_o:
      return state === 'x' ? 'xo' : 'none';
    case K_bpr:
      return state === 'xox' ? 'xoxL' : 'none';
    default:
      return 'none';
  }
}

/**
 * Whether an IBAN may start here: `start` after a character that is not a letter or digit, then
 * one letter, two, and a digit; two digits are final. Any letters and the digits of an account
 * number may follow, so a run-length tier cannot stand in for this (a BBAN may be mostly letters).
 */
const IBAN_FINAL = 'iban';
function ibanStep(state: string, kind: number): string {
  if (state === IBAN_FINAL) return state;
  if (LETTER_CLASSES.has(kind)) return state === 'start' ? 'L' : state === 'L' ? 'LL' : 'word';
  if (kind === K_DIGIT) return state === 'LL' ? 'LLD' : state === 'LLD' ? IBAN_FINAL : 'word';
  return 'start';
}

/**
 * The hint automaton, with whether an uppercase letter was seen, the IBAN start, and whether a
 * `:/` went by (a URL's user info is then marked by an `@`) folded into its state
 * (`upper,iban,url|hint`).
 */
const HINT = buildAutomaton('0,start,0|none', (state, kind) => {
  const [flags, hint] = state.split('|') as [string, string];
  const [upper, iban, url] = flags.split(',') as [string, string, string];
  const nextUpper = upper === '1' || UPPER_CLASSES.has(kind) ? 1 : 0;
  let nextHint = hintStep(hint, kind);
  if (url === '1' && kind === K_AT) nextHint = HINT_FINAL;
  const nextUrl = nextHint !== HINT_FINAL && (url === '1' || nextHint === 'scheme') ? 1 : 0;
  return `${nextUpper},${ibanStep(iban, kind)},${nextUrl}|${nextHint}`;
});
const HINT_FLAGS = Uint8Array.from(HINT.states, (state) => {
  const [flags, hint] = state.split('|') as [string, string];
  const [upper, iban] = flags.split(',');
  return (upper === '1' ? HAS_UPPER : 0) | (iban === IBAN_FINAL ? IBAN_START : 0) | (hint === HINT_FINAL ? SECRET_HINT : 0);
});

// --- the pass ---------------------------------------------------------------------------------

const CARD_SHIFT = 2;
const PHONE_SHIFT = 5;

/** `Bearer ` and a 16-character token with a digit in it. */
const BEARER_MIN_LENGTH = 23;

export function textFeatures(text: string): number {
  return textFeaturesRange(text, 0, text.length);
}

/**
 * textFeatures of text[start, end) without slicing it out: the stream masker gates its detectors
 * line by line, so that a 32 KiB chunk with one digit run or one `_` somewhere does not send every
 * line of it through every detector.
 */
export function textFeaturesRange(text: string, start: number, end: number): number {
  const card = CARD.table;
  const phone = PHONE.table;
  const hint = HINT.table;
  let c = 0;
  let p = 0;
  let h = 0;
  for (let i = start; i < end; i++) {
    const kind = CHAR_CLASS[text.charCodeAt(i)] as number;
    c = card[c + kind] as number;
    p = phone[p + kind] as number;
    h = hint[h + kind] as number;
  }
  const cardTier = CARD_TIER[c / CLASSES] as number;
  let flags = HINT_FLAGS[h / CLASSES] as number;
  if ((flags & SECRET_HINT) === 0 && cardTier !== RUN_NONE && end - start >= BEARER_MIN_LENGTH && hasEarerIn(text, start, end)) flags |= SECRET_HINT;
  return flags | (cardTier << CARD_SHIFT) | ((PHONE_TIER[p / CLASSES] as number) << PHONE_SHIFT);
}

/** Whether text[start, end) contains `earer` (indexOf would look on past `end`, to the end of a large text). */
function hasEarerIn(text: string, start: number, end: number): boolean {
  if (start === 0 && end === text.length) return text.indexOf('earer') >= 0;
  for (let i = start; i + 5 <= end; i++) {
    if (text.charCodeAt(i) === 0x65 && text.charCodeAt(i + 1) === 0x61 && text.charCodeAt(i + 2) === 0x72 && text.charCodeAt(i + 3) === 0x65 && text.charCodeAt(i + 4) === 0x72) return true;
  }
  return false;
}

/** Set by textFeaturesAscii only: the text has an `@` (email is the one plain detector the features do not gate). */
export const HAS_AT = 1 << 7;

/**
 * textFeatures of the text whose UTF-8 bytes are `bytes[start, end)`, read without decoding them,
 * when every byte is ASCII (then bytes and characters are the same); -1 as soon as one is not.
 * The same pass and the same result as textFeatures, plus HAS_AT: a caller can rule detectors out
 * before it pays for a string.
 */
export function textFeaturesAscii(bytes: Uint8Array, start: number, end: number): number {
  const card = CARD.table;
  const phone = PHONE.table;
  const hint = HINT.table;
  let c = 0;
  let p = 0;
  let h = 0;
  let at = 0;
  for (let i = start; i < end; i++) {
    const byte = bytes[i] as number;
    if (byte >= 0x80) return -1;
    if (byte === 0x40) at = HAS_AT;
    const kind = CHAR_CLASS[byte] as number;
    c = card[c + kind] as number;
    p = phone[p + kind] as number;
    h = hint[h + kind] as number;
  }
  const cardTier = CARD_TIER[c / CLASSES] as number;
  let flags = HINT_FLAGS[h / CLASSES] as number;
  if ((flags & SECRET_HINT) === 0 && cardTier !== RUN_NONE && end - start >= BEARER_MIN_LENGTH && hasEarer(bytes, start, end)) flags |= SECRET_HINT;
  return at | flags | (cardTier << CARD_SHIFT) | ((PHONE_TIER[p / CLASSES] as number) << PHONE_SHIFT);
}

/** Whether bytes[start, end) contain `earer` (textFeatures' `text.indexOf('earer') >= 0`). */
function hasEarer(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i + 5 <= end; i++) {
    if (bytes[i] === 0x65 && bytes[i + 1] === 0x61 && bytes[i + 2] === 0x72 && bytes[i + 3] === 0x65 && bytes[i + 4] === 0x72) return true;
  }
  return false;
}

/** Features that rule no detector out: every gate open (what the tests compare the gated masker with). */
export const EVERY_FEATURE = HAS_UPPER | IBAN_START | SECRET_HINT | (RUN_13 << CARD_SHIFT) | (1 << PHONE_SHIFT);

/** The card-style run tier, RUN_NONE … RUN_13. */
export function cardRunTier(features: number): number {
  return (features >>> CARD_SHIFT) & 7;
}

/** Whether bytes[start, end) are all ASCII digits (and there is at least one). */
export function allDigitsAscii(bytes: Uint8Array, start: number, end: number): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) if (!isDigitCode(bytes[i] as number)) return false;
  return true;
}

/** The features without the phone run: for a text the phone regex cannot match whatever its runs. */
export function withoutPhoneRun(features: number): number {
  return features & ~(1 << PHONE_SHIFT);
}

/** Whether an eligible phone-style run of at least 7 digits was seen. */
export function hasPhoneRun(features: number): boolean {
  return (features & (1 << PHONE_SHIFT)) !== 0;
}

// --- whole-cell dates and timestamps ------------------------------------------------------------

const DASH = 0x2d;
const COLON = 0x3a;

/** Whether a character code (or byte) is an ASCII digit. */
export function isDigitCode(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** The byte at i when i is inside the range, else -1: never a byte of the next cell. */
function byteAt(bytes: Uint8Array, i: number, end: number): number {
  return i < end ? (bytes[i] as number) : -1;
}

/** The index after `n` digits at i, or -1. */
function afterDigits(bytes: Uint8Array, i: number, end: number, n: number): number {
  if (i < 0 || i + n > end) return -1;
  for (let k = i; k < i + n; k++) if (!isDigitCode(bytes[k] as number)) return -1;
  return i + n;
}

/**
 * Whether bytes[start, end) are exactly a date or timestamp as PostgreSQL prints them in the ISO
 * DateStyle (or as ISO 8601 text): `YYYY-MM-DD`, optionally ` HH:MM[:SS[.fraction]]` (or `T…`),
 * a zone `Z` or `±HH[[:]MM[[:]SS]]`, and ` BC`. Their digit runs look like phone numbers and ids to
 * the features pass, yet no built-in detector matches inside one (tested on random timestamps), so
 * such a cell can be passed over. Timestamps are in nearly every table, so this is worth the check.
 */
export function isIsoDateTimeAscii(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start < 10 || end - start > 48) return false;
  let i = afterDigits(bytes, start, end, 4);
  if (byteAt(bytes, i, end) !== DASH) return false;
  i = afterDigits(bytes, i + 1, end, 2);
  if (byteAt(bytes, i, end) !== DASH) return false;
  i = afterDigits(bytes, i + 1, end, 2);
  if (i < 0) return false;
  const separator = byteAt(bytes, i, end);
  if (separator === 0x20 /* space */ || separator === 0x54 /* T */) {
    if (!isDigitCode(byteAt(bytes, i + 1, end))) return finishBc(bytes, i, end);
    i = afterDigits(bytes, i + 1, end, 2);
    if (byteAt(bytes, i, end) !== COLON) return false;
    i = afterDigits(bytes, i + 1, end, 2);
    if (i < 0) return false;
    if (byteAt(bytes, i, end) === COLON) {
      i = afterDigits(bytes, i + 1, end, 2);
      if (i < 0) return false;
      if (byteAt(bytes, i, end) === 0x2e /* . */) {
        let j = i + 1;
        while (j < end && j - i <= 9 && isDigitCode(bytes[j] as number)) j++;
        if (j === i + 1) return false;
        i = j;
      }
    }
    const zone = byteAt(bytes, i, end);
    if (zone === 0x5a /* Z */) i++;
    else if (zone === 0x2b /* + */ || zone === DASH) {
      i = afterDigits(bytes, i + 1, end, 2);
      for (let part = 0; part < 2 && i >= 0 && i < end && (bytes[i] === COLON || isDigitCode(bytes[i] as number)); part++) {
        i = afterDigits(bytes, bytes[i] === COLON ? i + 1 : i, end, 2);
      }
      if (i < 0) return false;
    }
  }
  return finishBc(bytes, i, end);
}

const HEX_DIGIT = new Uint8Array(256);
for (const ch of '0123456789abcdefABCDEF') HEX_DIGIT[ch.charCodeAt(0)] = 1;

/**
 * Whether bytes[start, end) are exactly a UUID as PostgreSQL prints one (8-4-4-4-12 hex digits,
 * either case). No built-in detector matches inside one (tested on random UUIDs, digits-only ones
 * included): a dash ties the digit groups together so that no card, phone number or SSN starts
 * or ends inside, no group is long enough for an unbroken IBAN or key, and an IBAN grouped by
 * dashes would need groups of four. UUIDs are in nearly every table.
 */
export function isUuidAscii(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start !== UUID_LENGTH) return false;
  for (let i = 0; i < UUID_LENGTH; i++) if (!uuidCharAt(i, bytes[start + i] as number)) return false;
  return true;
}

/** isUuidAscii of a string. */
export function isUuid(text: string): boolean {
  if (text.length !== UUID_LENGTH) return false;
  for (let i = 0; i < UUID_LENGTH; i++) if (!uuidCharAt(i, text.charCodeAt(i))) return false;
  return true;
}

const UUID_LENGTH = 36;

function uuidCharAt(i: number, code: number): boolean {
  if (i === 8 || i === 13 || i === 18 || i === 23) return code === DASH;
  return code < 256 && HEX_DIGIT[code] === 1;
}

/** The range ends at i, or at i + ` BC`. */
function finishBc(bytes: Uint8Array, i: number, end: number): boolean {
  if (i === end) return true;
  return i + 3 === end && bytes[i] === 0x20 && bytes[i + 1] === 0x42 && bytes[i + 2] === 0x43;
}
