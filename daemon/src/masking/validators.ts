import { isDigitCode } from './features.js';

/**
 * Checksums and format rules that turn a regex candidate into a finding. Each takes the candidate's
 * characters as they appear in the text (separators included) so no normalised copy is allocated.
 */

/** Luhn (mod 10) over the digits of text[start, end), separators skipped. */
export function luhnValid(text: string, start: number, end: number): boolean {
  let sum = 0;
  let double = false;
  for (let i = end - 1; i >= start; i--) {
    const code = text.charCodeAt(i);
    if (!isDigitCode(code)) continue;
    let digit = code - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * Whether a card number of `length` digits whose first four digits are `prefix` (0–9999) falls in
 * a range a card network issues, with a length that network uses. Random ids that happen to pass
 * Luhn mostly fail this. Ranges, not divisions: this runs for every card-shaped candidate.
 */
export function plausibleCardIssuer(prefix: number, length: number): boolean {
  if (prefix >= 4000 && prefix <= 4999) return length === 13 || length === 16 || length === 19; // Visa
  if (prefix >= 5100 && prefix <= 5599) return length === 16; // Mastercard
  if ((prefix >= 5000 && prefix <= 5099) || (prefix >= 5600 && prefix <= 5999)) return length >= 13; // Maestro
  if (prefix >= 2221 && prefix <= 2720) return length === 16; // Mastercard 2-series
  if ((prefix >= 3400 && prefix <= 3499) || (prefix >= 3700 && prefix <= 3799)) return length === 15; // American Express
  if (prefix >= 3528 && prefix <= 3589) return length >= 16; // JCB
  if ((prefix >= 3000 && prefix <= 3059) || (prefix >= 3600 && prefix <= 3699) || (prefix >= 3800 && prefix <= 3999)) return length >= 14; // Diners Club
  if (prefix >= 6000 && prefix <= 6999) return length >= 13; // Discover, UnionPay, Maestro, RuPay
  return false;
}

/** IBAN length per country (SWIFT IBAN registry). */
export const IBAN_LENGTHS: ReadonlyMap<string, number> = new Map(
  Object.entries({
    AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
    CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
    FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28,
    IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20,
    LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28,
    NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31,
    SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29,
    VA: 22, VG: 24, XK: 20, YE: 30,
  }),
);

/** IBAN_LENGTHS by the two letter codes, so a candidate is looked up without slicing its country code out. */
const IBAN_LENGTH_BY_CODES = new Uint8Array(26 * 26);
for (const [country, length] of IBAN_LENGTHS) IBAN_LENGTH_BY_CODES[(country.charCodeAt(0) - 65) * 26 + (country.charCodeAt(1) - 65)] = length;

/** Upper case of an ASCII letter's code (clearing the bit that makes it lower case). */
function upperCode(code: number): number {
  return code & ~32;
}

/** The IBAN length of the country whose code is these two ASCII letters (either case), 0 when it has none. */
export function ibanLengthOf(first: number, second: number): number {
  return IBAN_LENGTH_BY_CODES[(upperCode(first) - 65) * 26 + (upperCode(second) - 65)] ?? 0;
}

/** ibanLengthOf the country code at text[at]. */
export function ibanLengthAt(text: string, at: number): number {
  return ibanLengthOf(text.charCodeAt(at), text.charCodeAt(at + 1));
}

/** Beyond this the running value is reduced: it stays an exact integer after another `* 100 + 35`. */
const MOD97_REDUCE_ABOVE = 1e13;

/**
 * v mod 97 for a whole number below 2^53. `%` on a number that large is a slow library call; the
 * quotient from a division can be one off, and the product and difference are exact.
 */
function mod97(v: number): number {
  const r = v - Math.floor(v / 97) * 97;
  return r < 0 ? r + 97 : r >= 97 ? r - 97 : r;
}

/** Appends one IBAN character (a digit, or a letter of either case worth 10..35) to a running value, reducing it mod 97 rarely. */
export function appendMod97(value: number, code: number): number {
  const next = isDigitCode(code) ? value * 10 + (code - 48) : value * 100 + (upperCode(code) - 55);
  return next > MOD97_REDUCE_ABOVE ? mod97(next) : next;
}

/**
 * ISO 13616 mod-97 check over the alphanumerics of text[start, end) (spaces and dashes skipped):
 * the first four characters move to the end, letters of either case count as 10..35, and the
 * number must leave 1 mod 97.
 */
export function ibanChecksumValid(text: string, start: number, end: number): boolean {
  let value = 0;
  let head = 0;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code === 32 || code === 45) continue;
    if (head < 4) head++;
    else value = appendMod97(value, code);
  }
  head = 0;
  for (let i = start; i < end && head < 4; i++) {
    const code = text.charCodeAt(i);
    if (code === 32 || code === 45) continue;
    head++;
    value = appendMod97(value, code);
  }
  return mod97(value) === 1;
}

/** The end of ibanChecksumValid when the rest was folded in already: append the first four characters and check. */
export function ibanChecksumCompletes(text: string, start: number, bbanValue: number): boolean {
  let value = bbanValue;
  for (let i = start; i < start + 4; i++) value = appendMod97(value, text.charCodeAt(i));
  return mod97(value) === 1;
}

/** The literals a config or JSON value can be that are no secret: `password: null`, `"secret": false`. */
const NOT_A_SECRET = /^(?:null|nil|none|true|false|undefined)$/i;

export function isSecretValue(value: string): boolean {
  return value.length > 0 && !NOT_A_SECRET.test(value);
}

/**
 * Whether an unquoted word after a label such as `token:` looks like a secret rather than prose
 * ("Invalid token: expired"): 16 characters or more, or 8 and more with a digit. Keys and tokens
 * are long and random; words are short and have no digits.
 */
export function looksLikeSecret(value: string): boolean {
  if (value.length >= 16) return true;
  if (value.length < 8) return false;
  for (let i = 0; i < value.length; i++) if (isDigitCode(value.charCodeAt(i))) return true;
  return false;
}

/**
 * US Social Security number rules (SSA): the area is not 000, 666 or 900-999, the group is not 00
 * and the serial is not 0000.
 */
export function ssnValid(area: string, group: string, serial: string): boolean {
  return area !== '000' && area !== '666' && area.charCodeAt(0) !== 57 /* 9 */ && group !== '00' && serial !== '0000';
}

/** UK National Insurance number prefixes HMRC never allocates. */
const NINO_UNALLOCATED_PREFIXES = new Set(['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ']);

/** The prefix letter rules are in the regex; what remains is the list of unallocated pairs. */
export function ninoPrefixValid(prefix: string): boolean {
  return !NINO_UNALLOCATED_PREFIXES.has(prefix);
}

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

/**
 * Spanish DNI / NIE check letter: the number (a NIE's leading X, Y, Z read as 0, 1, 2) modulo 23
 * indexes a fixed letter table.
 */
export function spanishIdLetterValid(niePrefix: string | undefined, digits: string, letter: string): boolean {
  const lead = niePrefix === undefined ? '' : String('XYZ'.indexOf(niePrefix));
  const number = Number(lead + digits);
  return DNI_LETTERS[number % 23] === letter;
}

/** A JWT's first segment is base64url JSON naming an algorithm; anything else starting eyJ is not a JWT. */
export function jwtHeaderValid(segment: string): boolean {
  try {
    const header: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

/**
 * Digit groups of a candidate: group k is text[starts[k], ends[k]). The phone judge fills them
 * (reused arrays, no allocation per candidate) and the shape checks below read them.
 */
export interface DigitGroups {
  readonly text: string;
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  readonly count: number;
}

function groupLength(groups: DigitGroups, k: number): number {
  return (groups.ends[k] as number) - (groups.starts[k] as number);
}

function groupValue(groups: DigitGroups, k: number): number {
  let value = 0;
  for (let i = groups.starts[k] as number; i < (groups.ends[k] as number); i++) value = value * 10 + (groups.text.charCodeAt(i) - 48);
  return value;
}

/** A phone-shaped candidate that is really a date (2024-03-15, 15.03.2024, 03/15/24), to be left alone. */
export function looksLikeDate(groups: DigitGroups, separator: string): boolean {
  if (groups.count !== 3 || (separator !== '-' && separator !== '.' && separator !== '/')) return false;
  const x = groupValue(groups, 0);
  const y = groupValue(groups, 1);
  const z = groupValue(groups, 2);
  if (groupLength(groups, 0) === 4) return y >= 1 && y <= 12 && z >= 1 && z <= 31;
  const last = groupLength(groups, 2);
  if (last !== 4 && last !== 2) return false;
  if (groupLength(groups, 0) > 2 || groupLength(groups, 1) > 2) return false;
  return x >= 1 && y >= 1 && ((x <= 31 && y <= 12) || (x <= 12 && y <= 31));
}

/** A dotted quad such as 192.168.10.200. */
export function looksLikeIpv4(groups: DigitGroups, separator: string): boolean {
  if (separator !== '.' || groups.count !== 4) return false;
  for (let k = 0; k < 4; k++) if (groupLength(groups, k) > 3 || groupValue(groups, k) > 255) return false;
  return true;
}

/** 12 345 678 or 1.234.567: digit grouping of a large number, not a phone number. */
export function looksLikeThousands(groups: DigitGroups, separator: string): boolean {
  if (separator !== ' ' && separator !== '.' && separator !== ',') return false;
  if (groupLength(groups, 0) > 3) return false;
  for (let k = 1; k < groups.count; k++) if (groupLength(groups, k) !== 3) return false;
  return true;
}

/** 3-2-4, the shape of a US SSN: one that failed the SSN rules is not a phone number either. */
export function looksLikeSsn(groups: DigitGroups): boolean {
  return groups.count === 3 && groupLength(groups, 0) === 3 && groupLength(groups, 1) === 2 && groupLength(groups, 2) === 4;
}
