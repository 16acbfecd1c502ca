import { isUtf8 } from 'node:buffer';

/**
 * Binary-format result values, decoded to the text masking should look at. Pure: no I/O.
 *
 * A client may ask for any result column in binary (Bind's result formats). Masking reads text, so
 * each binary value is decoded by its type's send format (PostgreSQL's `*send` functions) into the
 * same text the server would print for it in text format, so a binary value is masked exactly as its
 * text form would be. What cannot be decoded here is said to be uninspectable, and the caller
 * withholds it while masking is on: nothing Airlock cannot read reaches the agent.
 *
 * Domains need nothing of their own: RowDescription carries a domain column's base type
 * (printtup.c sends getBaseType). Inside a binary record, though, each field carries its declared
 * type, which may be a domain's own OID: that is a user type, uninspectable unless a catalog
 * (`BinaryTypes.with`) says what it is.
 */

/** What a binary value holds for masking. */
export type BinaryInspection =
  /** decoded to its text form; `rewritable` when masked text can be sent back in the same type */
  | { kind: 'text'; text: string; rewritable: RewriteForm | undefined }
  /** a fixed-size value of a type whose text form cannot hold anything a detector looks for (dates, times, addresses) */
  | { kind: 'clean' }
  | { kind: 'uninspectable'; reason: string };

/** How masked text goes back into a binary value of a text-like type. */
export type RewriteForm = 'utf8' | 'jsonb';

/** A decoder for one type: reads `bytes[start, end)`. */
type Decode = (types: BinaryTypes, bytes: Buffer, start: number, end: number, depth: number) => BinaryInspection;

/** How deep arrays of records of arrays may nest before a value is given up as uninspectable. */
const MAX_DEPTH = 32;

const CLEAN: BinaryInspection = { kind: 'clean' };

function uninspectable(reason: string): BinaryInspection {
  return { kind: 'uninspectable', reason };
}

function text(value: string, rewritable?: RewriteForm): BinaryInspection {
  return { kind: 'text', text: value, rewritable };
}

const utf8Text: Decode = (_t, b, s, e) => text(b.toString('utf8', s, e), 'utf8');

/** A value whose binary form is its text but whose rewritten text the type would not accept (e.g. "char" is one byte). */
const utf8Value: Decode = (_t, b, s, e) => text(b.toString('utf8', s, e));

const jsonb: Decode = (_t, b, s, e) => {
  if (e - s < 1 || b[s] !== 1) return uninspectable(`jsonb binary version ${e > s ? b[s] : 'missing'} is not 1`);
  return text(b.toString('utf8', s + 1, e), 'jsonb');
};

/** jsonpath is sent as jsonb is (a version byte and its text), but masked text is rarely a valid path. */
const jsonpath: Decode = (_t, b, s, e) => {
  if (e - s < 1 || b[s] !== 1) return uninspectable(`jsonpath binary version ${e > s ? b[s] : 'missing'} is not 1`);
  return text(b.toString('utf8', s + 1, e));
};

function fixed(size: number, read: (b: Buffer, s: number) => string): Decode {
  return (_t, b, s, e) => (e - s === size ? text(read(b, s)) : uninspectable(`a ${size}-byte value was ${e - s} bytes`));
}

function fixedClean(...sizes: number[]): Decode {
  return (_t, _b, s, e) => (sizes.includes(e - s) ? CLEAN : uninspectable(`a value of ${sizes.join(' or ')} bytes was ${e - s} bytes`));
}

const bool = fixed(1, (b, s) => (b[s] !== 0 ? 't' : 'f'));
const int2 = fixed(2, (b, s) => String(b.readInt16BE(s)));
const int4 = fixed(4, (b, s) => String(b.readInt32BE(s)));
const uint4 = fixed(4, (b, s) => String(b.readUInt32BE(s)));
const int8 = fixed(8, (b, s) => {
  const high = b.readInt32BE(s);
  // within 2^53 a Number prints the same digits, without a BigInt
  if (high >= -0x200000 && high < 0x200000) return String(high * 0x100000000 + b.readUInt32BE(s + 4));
  return b.readBigInt64BE(s).toString();
});
const float4 = fixed(4, (b, s) => floatText(b.readFloatBE(s), true));
const float8 = fixed(8, (b, s) => floatText(b.readDoubleBE(s), false));
const uuid = fixed(16, (b, s) => {
  const h = b.toString('hex', s, s + 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
});

/**
 * bytea's text form is hex, which no detector reads; its bytes are looked at instead, as the UTF-8
 * text they are when they are valid UTF-8, else as latin1 (one character a byte, so ASCII text among
 * other bytes is still seen).
 */
const bytea: Decode = (_t, b, s, e) => text(b.toString(isUtf8(b.subarray(s, e)) ? 'utf8' : 'latin1', s, e));

const NUMERIC_POS = 0x0000;
const NUMERIC_NEG = 0x4000;
const NUMERIC_NAN = 0xc000;
const NUMERIC_PINF = 0xd000;
const NUMERIC_NINF = 0xf000;

/** numeric_send: ndigits, weight, sign, dscale, then base-10000 digits; printed as numeric_out does. */
const numeric: Decode = (_t, b, s, e) => {
  if (e - s < 8) return uninspectable('a numeric shorter than its header');
  const ndigits = b.readInt16BE(s);
  const weight = b.readInt16BE(s + 2);
  const sign = b.readUInt16BE(s + 4);
  const dscale = b.readInt16BE(s + 6);
  if (ndigits < 0 || dscale < 0 || e - s !== 8 + 2 * ndigits) return uninspectable('a numeric whose digit count does not match its length');
  if (sign === NUMERIC_NAN) return text('NaN');
  if (sign === NUMERIC_PINF) return text('Infinity');
  if (sign === NUMERIC_NINF) return text('-Infinity');
  if (sign !== NUMERIC_POS && sign !== NUMERIC_NEG) return uninspectable(`a numeric with sign word 0x${sign.toString(16)}`);
  // digits before the first or after the last stored one are zeros
  const digit = (d: number): number => (d < 0 || d >= ndigits ? 0 : b.readInt16BE(s + 8 + 2 * d));
  for (let d = 0; d < ndigits; d++) if (digit(d) < 0 || digit(d) > 9999) return uninspectable('a numeric digit outside 0..9999');
  let out = sign === NUMERIC_NEG ? '-' : '';
  if (weight < 0) out += '0';
  else for (let d = 0; d <= weight; d++) out += d === 0 ? String(digit(d)) : String(digit(d)).padStart(4, '0');
  if (dscale > 0) {
    let frac = '';
    for (let d = weight + 1; frac.length < dscale; d++) frac += String(digit(d)).padStart(4, '0');
    out += '.' + frac.slice(0, dscale);
  }
  return text(out);
};

/**
 * float4out/float8out at the default extra_float_digits (1): the shortest digits that read back to
 * the same value, in fixed notation for decimal exponents from -4 to 14 (float8) or 5 (float4),
 * otherwise as d.ddde+XX.
 */
export function floatText(value: number, single: boolean): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  // there both print the shortest digits that read back, in fixed notation
  const magnitude = Math.abs(value);
  if (!single && magnitude >= 1e-4 && magnitude < 1e15) return String(value);
  let exponential = value.toExponential();
  if (single) {
    for (let p = 1; p <= 9; p++) {
      const candidate = value.toExponential(p - 1);
      if (Math.fround(Number(candidate)) === value) {
        exponential = candidate;
        break;
      }
    }
  }
  const [mantissa, exp] = exponential.split('e') as [string, string];
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const e = Number(exp);
  let out: string;
  if (e >= -4 && e < (single ? 6 : 15)) {
    if (e < 0) out = '0.' + '0'.repeat(-e - 1) + digits;
    else if (digits.length <= e + 1) out = digits + '0'.repeat(e + 1 - digits.length);
    else out = digits.slice(0, e + 1) + '.' + digits.slice(e + 1);
  } else {
    const abs = Math.abs(e);
    out = (digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits) + 'e' + (e < 0 ? '-' : '+') + (abs < 10 ? '0' : '') + String(abs);
  }
  return negative ? '-' + out : out;
}

/** inet_send/cidr_send: family, bits, is_cidr, address length, address. An address holds no text. */
const inet: Decode = (_t, b, s, e) => {
  if (e - s < 4) return uninspectable('an inet shorter than its header');
  const family = b[s]!;
  const length = b[s + 3]!;
  if (!((family === 2 && length === 4) || (family === 3 && length === 16)) || e - s !== 4 + length) return uninspectable('an inet of unknown family or length');
  return CLEAN;
};

/**
 * array_send: ndim, has-nulls flag, element OID, (size, lower bound) per dimension, then each
 * element as length (-1 NULL) and bytes. Printed as array_out does, elements by their own type.
 */
function arrayOf(expectedElement: number | undefined): Decode {
  return (types, b, s, e, depth) => {
    if (depth >= MAX_DEPTH) return uninspectable('values nested too deep');
    if (e - s < 12) return uninspectable('an array shorter than its header');
    const ndim = b.readInt32BE(s);
    const element = b.readUInt32BE(s + 8);
    if (ndim < 0 || ndim > 6) return uninspectable(`an array of ${ndim} dimensions`);
    if (expectedElement !== undefined && element !== expectedElement) return uninspectable(`an array of type ${element} where ${expectedElement} was expected`);
    if (ndim === 0) return e - s === 12 ? text('{}') : uninspectable('an empty array with trailing bytes');
    if (e - s < 12 + 8 * ndim) return uninspectable('an array shorter than its dimensions');
    const dims: number[] = [];
    const lowers: number[] = [];
    let count = 1;
    for (let d = 0; d < ndim; d++) {
      const size = b.readInt32BE(s + 12 + 8 * d);
      if (size < 0) return uninspectable('an array dimension of negative size');
      dims.push(size);
      lowers.push(b.readInt32BE(s + 16 + 8 * d));
      count *= size;
    }
    if (count > e - s) return uninspectable('an array with more elements than bytes');
    const decode = types.decoderFor(element);
    if (!decode) return uninspectable(`an array of type ${element}, which Airlock cannot decode`);
    const elements: (string | null)[] = [];
    let clean = true;
    let at = s + 12 + 8 * ndim;
    for (let i = 0; i < count; i++) {
      if (at + 4 > e) return uninspectable('an array element past the end of the value');
      const len = b.readInt32BE(at);
      at += 4;
      if (len < 0) {
        elements.push(null);
        continue;
      }
      if (at + len > e) return uninspectable('an array element past the end of the value');
      const inner = decode(types, b, at, at + len, depth + 1);
      at += len;
      if (inner.kind === 'uninspectable') return inner;
      if (inner.kind === 'clean') elements.push('');
      else {
        clean = false;
        elements.push(inner.text);
      }
    }
    if (at !== e) return uninspectable('an array with bytes after its last element');
    if (clean) return CLEAN;
    let out = '';
    if (lowers.some((l) => l !== 1)) out = dims.map((size, d) => `[${lowers[d]}:${lowers[d]! + size - 1}]`).join('') + '=';
    let next = 0;
    const nest = (d: number): string => {
      const parts: string[] = [];
      for (let i = 0; i < dims[d]!; i++) parts.push(d === ndim - 1 ? arrayElementText(elements[next++]!) : nest(d + 1));
      return '{' + parts.join(',') + '}';
    };
    return text(out + nest(0));
  };
}

/** array_out quotes on C isspace (these six), not on every Unicode space. */
function arrayElementText(value: string | null): string {
  if (value === null) return 'NULL';
  if (value === '' || value.toUpperCase() === 'NULL' || /[{}",\\ \t\n\r\v\f]/.test(value)) return '"' + value.replace(/["\\]/g, '\\$&') + '"';
  return value;
}

/** record_send: field count, then per field its type OID, length (-1 NULL) and bytes. Printed as record_out does. */
const record: Decode = (types, b, s, e, depth) => {
  if (depth >= MAX_DEPTH) return uninspectable('values nested too deep');
  if (e - s < 4) return uninspectable('a record shorter than its field count');
  const count = b.readInt32BE(s);
  if (count < 0 || count * 8 > e - s) return uninspectable('a record with more fields than bytes');
  const fields: string[] = [];
  let clean = true;
  let at = s + 4;
  for (let i = 0; i < count; i++) {
    if (at + 8 > e) return uninspectable('a record field past the end of the value');
    const oid = b.readUInt32BE(at);
    const len = b.readInt32BE(at + 4);
    at += 8;
    if (len < 0) {
      fields.push('');
      continue;
    }
    if (at + len > e) return uninspectable('a record field past the end of the value');
    const decode = types.decoderFor(oid);
    if (!decode) return uninspectable(`a record field of type ${oid}, which Airlock cannot decode`);
    const inner = decode(types, b, at, at + len, depth + 1);
    at += len;
    if (inner.kind === 'uninspectable') return inner;
    if (inner.kind === 'clean') fields.push('');
    else {
      clean = false;
      fields.push(recordFieldText(inner.text));
    }
  }
  if (at !== e) return uninspectable('a record with bytes after its last field');
  return clean ? CLEAN : text('(' + fields.join(',') + ')');
};

function recordFieldText(value: string): string {
  if (value === '' || /[",\\() \t\n\r\v\f]/.test(value)) return '"' + value.replace(/["\\]/g, '$&$&') + '"';
  return value;
}

/**
 * tsvectorsend: lexeme count, then each lexeme as its text, a zero byte, a position count and
 * the positions (weight in the top two bits). Printed as tsvectorout does: 'lexeme':1A,2.
 */
const tsvector: Decode = (_t, b, s, e) => {
  if (e - s < 4) return uninspectable('a tsvector shorter than its lexeme count');
  const count = b.readInt32BE(s);
  if (count < 0 || count * 4 > e - s) return uninspectable('a tsvector with more lexemes than bytes');
  const lexemes: string[] = [];
  let at = s + 4;
  for (let i = 0; i < count; i++) {
    const zero = b.indexOf(0, at);
    if (zero < 0 || zero + 3 > e) return uninspectable('a tsvector lexeme past the end of the value');
    let entry = "'" + b.toString('utf8', at, zero).replace(/['\\]/g, '$&$&') + "'";
    const positions = b.readUInt16BE(zero + 1);
    at = zero + 3;
    if (at + 2 * positions > e) return uninspectable('tsvector positions past the end of the value');
    for (let p = 0; p < positions; p++, at += 2) {
      const word = b.readUInt16BE(at);
      entry += (p === 0 ? ':' : ',') + String(word & 0x3fff) + (['', 'C', 'B', 'A'][word >> 14] ?? '');
    }
    lexemes.push(entry);
  }
  if (at !== e) return uninspectable('a tsvector with bytes after its last lexeme');
  return text(lexemes.join(' '));
};

const RANGE_EMPTY = 0x01;
const RANGE_LB_INC = 0x02;
const RANGE_UB_INC = 0x04;
const RANGE_LB_INF = 0x08;
const RANGE_UB_INF = 0x10;
const RANGE_LB_NULL = 0x20;
const RANGE_UB_NULL = 0x40;

/**
 * range_send: a flags byte, then each bound the flags say is there as length and bytes of the
 * element type. Printed as range_out does; a range of clean bounds (dates, timestamps) is clean.
 */
function rangeOf(element: number): Decode {
  return (types, b, s, e, depth) => {
    if (e - s < 1) return uninspectable('a range without its flags');
    const flags = b[s]!;
    if (flags & RANGE_EMPTY) return e - s === 1 ? text('empty') : uninspectable('an empty range with trailing bytes');
    const decode = types.decoderFor(element)!;
    let at = s + 1;
    const bound = (absent: boolean): BinaryInspection | undefined => {
      if (absent) return undefined;
      if (at + 4 > e) return uninspectable('a range bound past the end of the value');
      const len = b.readInt32BE(at);
      if (len < 0 || at + 4 + len > e) return uninspectable('a range bound past the end of the value');
      const inner = decode(types, b, at + 4, at + 4 + len, depth + 1);
      at += 4 + len;
      return inner;
    };
    const lower = bound((flags & (RANGE_LB_INF | RANGE_LB_NULL)) !== 0);
    const upper = bound((flags & (RANGE_UB_INF | RANGE_UB_NULL)) !== 0);
    if (at !== e) return uninspectable('a range with bytes after its bounds');
    for (const inner of [lower, upper]) if (inner?.kind === 'uninspectable') return inner;
    if (lower?.kind !== 'text' && upper?.kind !== 'text') return CLEAN;
    const boundText = (inner: BinaryInspection | undefined): string => (inner?.kind === 'text' ? rangeBoundText(inner.text) : '');
    return text(((flags & RANGE_LB_INC) !== 0 ? '[' : '(') + boundText(lower) + ',' + boundText(upper) + ((flags & RANGE_UB_INC) !== 0 ? ']' : ')'));
  };
}

/** range_bound_escape: quoted when empty or holding a delimiter, bracket, quote, backslash or C space; quotes and backslashes doubled. */
function rangeBoundText(value: string): string {
  if (value === '' || /[",\\()[\] \t\n\r\v\f]/.test(value)) return '"' + value.replace(/["\\]/g, '$&$&') + '"';
  return value;
}

/** Built-in types by OID (pg_type.dat) with their send function, which fixes their binary format. */
const SCALARS: [number, string, Decode][] = [
  [25, 'textsend', utf8Text],
  [1043, 'varcharsend', utf8Text],
  [1042, 'bpcharsend', utf8Text],
  [19, 'namesend', utf8Text],
  [114, 'json_send', utf8Text],
  [142, 'xml_send', utf8Text],
  [705, 'unknownsend', utf8Text],
  [18, 'charsend', utf8Value], // "char": one byte, so a rewritten text would not fit
  [3802, 'jsonb_send', jsonb],
  [4072, 'jsonpath_send', jsonpath],
  [16, 'boolsend', bool],
  [21, 'int2send', int2],
  [23, 'int4send', int4],
  [20, 'int8send', int8],
  [26, 'oidsend', uint4],
  [28, 'xidsend', uint4],
  [29, 'cidsend', uint4],
  [790, 'cash_send', int8], // money: cents as an integer (its text depends on lc_monetary)
  [700, 'float4send', float4],
  [701, 'float8send', float8],
  [1700, 'numeric_send', numeric],
  [2950, 'uuid_send', uuid],
  [17, 'byteasend', bytea],
  [1082, 'date_send', fixedClean(4)],
  [1083, 'time_send', fixedClean(8)],
  [1114, 'timestamp_send', fixedClean(8)],
  [1184, 'timestamptz_send', fixedClean(8)],
  [1266, 'timetz_send', fixedClean(12)],
  [1186, 'interval_send', fixedClean(16)],
  [869, 'inet_send', inet],
  [650, 'cidr_send', inet],
  [829, 'macaddr_send', fixedClean(6)],
  [774, 'macaddr8_send', fixedClean(8)],
  [600, 'point_send', fixedClean(16)],
  [27, 'tidsend', fixedClean(6)],
  [3220, 'pg_lsn_send', fixedClean(8)],
  [5069, 'xid8send', fixedClean(8)],
  // reg* types are sent as the OID (their text is a name looked up in the catalog): an OID holds no text
  [24, 'regprocsend', fixedClean(4)],
  [2202, 'regproceduresend', fixedClean(4)],
  [2203, 'regopersend', fixedClean(4)],
  [2204, 'regoperatorsend', fixedClean(4)],
  [2205, 'regclasssend', fixedClean(4)],
  [2206, 'regtypesend', fixedClean(4)],
  [3734, 'regconfigsend', fixedClean(4)],
  [3769, 'regdictionarysend', fixedClean(4)],
  [4089, 'regnamespacesend', fixedClean(4)],
  [4096, 'regrolesend', fixedClean(4)],
  [4191, 'regcollationsend', fixedClean(4)],
  [2249, 'record_send', record],
  [3614, 'tsvectorsend', tsvector],
  [3904, 'range_send', rangeOf(23)], // int4range
  [3926, 'range_send', rangeOf(20)], // int8range
  [3906, 'range_send', rangeOf(1700)], // numrange
  [3908, 'range_send', rangeOf(1114)], // tsrange
  [3910, 'range_send', rangeOf(1184)], // tstzrange
  [3912, 'range_send', rangeOf(1082)], // daterange
];

const ARRAYS: [number, number][] = [
  [3643, 3614],
  [3905, 3904],
  [3927, 3926],
  [3907, 3906],
  [3909, 3908],
  [3911, 3910],
  [3913, 3912],
  [1009, 25],
  [1015, 1043],
  [1014, 1042],
  [1003, 19],
  [199, 114],
  [143, 142],
  [1002, 18],
  [3807, 3802],
  [1000, 16],
  [1005, 21],
  [1007, 23],
  [1016, 20],
  [1028, 26],
  [791, 790],
  [1021, 700],
  [1022, 701],
  [1231, 1700],
  [2951, 2950],
  [1001, 17],
  [1182, 1082],
  [1183, 1083],
  [1115, 1114],
  [1185, 1184],
  [1270, 1266],
  [1187, 1186],
  [1041, 869],
  [651, 650],
  [1040, 829],
  [2287, 2249],
];

/** What a type not built in is, for a catalog the caller read from pg_type. */
export type UserType =
  /** a type whose binary form is its UTF-8 text, e.g. citext, or an enum (enum_send sends the label) */
  | { kind: 'text' }
  | { kind: 'enum' }
  | { kind: 'domain'; base: number }
  | { kind: 'array'; element: number }
  /** any composite: record_send is the same for all of them */
  | { kind: 'composite' }
  /** a type (a domain, say) sent by a built-in send function: decoded as that function's type, never rewritten */
  | { kind: 'sent-as'; send: string };

/**
 * The decoders by type OID: the built-in types, and user types a caller defines (citext, enums,
 * domains inside records, arrays of them, composites) from pg_type. Unknown OIDs have none.
 * Immutable: `with` returns a new set, so the built-in one can be shared by every connection.
 */
export class BinaryTypes {
  private readonly decoders: Map<number, Decode>;

  constructor(from?: BinaryTypes) {
    if (from) this.decoders = new Map(from.decoders);
    else {
      this.decoders = new Map();
      for (const [oid, , decode] of SCALARS) this.decoders.set(oid, decode);
      for (const [oid, element] of ARRAYS) this.decoders.set(oid, arrayOf(element));
    }
  }

  /** These types and one user type more. A built-in type cannot be redefined. */
  with(oid: number, type: UserType): BinaryTypes {
    return this.withAll([[oid, type]]);
  }

  /** These types and the user types given (from userTypesFromCatalog, say). */
  withAll(types: Iterable<readonly [number, UserType]>): BinaryTypes {
    const next = new BinaryTypes(this);
    for (const [oid, type] of types) {
      if (BUILTIN_OIDS.has(oid)) throw new Error(`type ${oid} is built in and cannot be redefined`);
      next.decoders.set(oid, userDecoder(type));
    }
    return next;
  }
  /** The decoder for a type, or undefined when values of that type are uninspectable. */
  decoderFor(oid: number): Decode | undefined {
    return this.decoders.get(oid);
  }

  /** Decodes one non-NULL binary value of type `oid` from `bytes[start, end)`. */
  inspect(oid: number, bytes: Buffer, start = 0, end = bytes.length): BinaryInspection {
    const decode = this.decoders.get(oid);
    if (!decode) return uninspectable(`type ${oid} is not one Airlock can decode in binary`);
    return decode(this, bytes, start, end, 0);
  }

  /** Whether values of this type are sent in binary as their UTF-8 text, so masked text can replace them. */
  rewriteForm(oid: number): RewriteForm | undefined {
    const decode = this.decoders.get(oid);
    return decode === utf8Text ? 'utf8' : decode === jsonb ? 'jsonb' : undefined;
  }
}

const BUILTIN_OIDS = new Set([...SCALARS.map(([oid]) => oid), ...ARRAYS.map(([oid]) => oid)]);

/** A built-in type Airlock decodes: a scalar or an array of one, or the anonymous `record` (never a table's row type). */
export function isBuiltInType(oid: number): boolean {
  return BUILTIN_OIDS.has(oid);
}

/** Decoders by send function, for user types whose send function is a built-in one (domains, types reusing one). */
const BY_SEND_FUNCTION = new Map<string, Decode>(SCALARS.filter(([, send]) => send !== 'range_send').map(([, send, decode]) => [send, decode]));

/**
 * The catalog query that gives `fromCatalog` its rows: every user type with the name of its send
 * function (types, enums, composites and domains created in the database, extension types).
 */
export const USER_TYPES_QUERY =
  'SELECT t.oid, t.typtype, p.proname AS send, t.typelem, t.typbasetype FROM pg_type t JOIN pg_proc p ON p.oid = t.typsend WHERE t.oid >= 16384';

/** One row of USER_TYPES_QUERY. */
export interface UserTypeRow {
  oid: number;
  typtype: string;
  send: string;
  typelem: number;
  typbasetype: number;
}

/**
 * The user types of a catalog, each by its send function (which is what fixes its binary format,
 * whatever the type is called): array_send, record_send and enum_send as such, citext's as text,
 * a domain or a type that reuses a built-in send function as that type but never rewritten. A
 * user type with any other send function (hstore, PostGIS, ...) stays uninspectable.
 */
export function userTypesFromCatalog(rows: readonly UserTypeRow[]): [number, UserType][] {
  const out: [number, UserType][] = [];
  for (const row of rows) {
    if (BUILTIN_OIDS.has(row.oid)) continue;
    if (row.send === 'array_send' && row.typelem !== 0) out.push([row.oid, { kind: 'array', element: row.typelem }]);
    else if (row.send === 'record_send') out.push([row.oid, { kind: 'composite' }]);
    else if (row.send === 'enum_send') out.push([row.oid, { kind: 'enum' }]);
    else if (row.send === 'citextsend' && row.typtype === 'b') out.push([row.oid, { kind: 'text' }]);
    else if (BY_SEND_FUNCTION.has(row.send)) out.push([row.oid, { kind: 'sent-as', send: row.send }]);
  }
  return out;
}

function userDecoder(type: UserType): Decode {
  switch (type.kind) {
    case 'text':
      return utf8Text;
    case 'enum':
      // a masked label is not a label of the enum: such a value is withheld, not rewritten
      return utf8Value;
    case 'domain':
      return (types, b, s, e, depth) => {
        const base = types.decoderFor(type.base);
        if (!base) return uninspectable(`a domain over type ${type.base}, which Airlock cannot decode`);
        // a domain's constraint could refuse the masked text, and a record carries the domain's OID, not the base's
        const inner = base(types, b, s, e, depth);
        return inner.kind === 'text' ? text(inner.text) : inner;
      };
    case 'array':
      return arrayOf(type.element);
    case 'composite':
      return record;
    case 'sent-as': {
      const decode = BY_SEND_FUNCTION.get(type.send);
      if (!decode) return () => uninspectable(`a type sent by ${type.send}, which Airlock cannot decode`);
      return (types, b, s, e, depth) => {
        const inner = decode(types, b, s, e, depth);
        return inner.kind === 'text' ? text(inner.text) : inner;
      };
    }
  }
}

/** The built-in types only: what a connection knows before it has read any catalog. */
export const BUILTIN_BINARY_TYPES = new BinaryTypes();

/** Masked text as a binary value of a text-like type. */
export function encodeRewritten(form: RewriteForm, value: string): Buffer {
  if (form === 'utf8') return Buffer.from(value, 'utf8');
  const out = Buffer.allocUnsafe(1 + Buffer.byteLength(value));
  out[0] = 1;
  out.write(value, 1, 'utf8');
  return out;
}
