import { NOTHING_TO_MASK, columnForm, type MaskReportBuilder, type Masker } from '../../../masking/index.js';
import { maskBase64Text, mayBeBase64Bytes } from './base64.js';
import { ShortBytesCache } from './byte-cache.js';
import type { KeyRules } from './keys.js';
import { redactSecretsInText } from './secrets.js';
import { TextStream, asBuffer } from './text-stream.js';

/** Nesting deeper than this is masked as text from there on: the container stack stays small. */
export const JSON_MAX_DEPTH = 512;

/** A digit run this long can be a card number (the shortest is 13 digits); shorter numbers pass unlooked at. */
const CARD_MIN_DIGITS = 13;

export interface JsonMaskerOptions {
  masker: Masker;
  report: MaskReportBuilder;
  keyRules: KeyRules;
  /** secretForms(secrets): looked for in strings whose escapes were decoded (the raw forms are replaced before) */
  secretForms: readonly string[];
  /** the most bytes held for one string, number or literal: a longer string value is masked as a stream */
  bufferBytes: number;
  maxDepth?: number;
  /** several top-level values may follow one another (NDJSON, JSON text sequences: RS counts as white space) */
  multiValue?: boolean;
  /** a caller that decides by where a value is, not only by its key's name (the Kubernetes masker) */
  hook?: JsonStructureHook;
  /**
   * What happens to the rest of the body once it stops being JSON: masked as text (the default), or
   * withheld (dropped) where text masking could let through what only the structure revealed.
   */
  onMalformed?: 'text' | 'withhold';
}

/** A value put in place of another: `text` as a JSON string, counted under `label`. */
export interface JsonReplacement {
  text: string;
  label: string;
}

/**
 * What a structure hook does with the value of a key it was shown:
 * - replace: the value, whatever it is, becomes the replacement (`null` stays);
 * - members: an object value keeps its keys and the hook decides on each (it sees the object
 *   open); any other value becomes the replacement;
 * - observe: a string value is shown to the hook (decoded) before it is masked as usual;
 * - rewrite: a string value (decoded) is replaced by what `rewrite` returns, sent as it is (the
 *   rewriter masked it); undefined: the value is masked as usual. A string too long to hold
 *   (bufferBytes) becomes `tooLong`.
 * - field: the key is a field name of a known schema, not data: the built-in credential names do
 *   not apply to its value (a Pod's `automountServiceAccountToken: true` is no token; replacing
 *   its `secret` volume with a string breaks every typed client); the policy's rules still do.
 * The hook's action comes before the key rules, except that a key-rule replacement beats observe and rewrite.
 */
export type JsonKeyAction =
  | { field: true }
  | { replace: JsonReplacement }
  | { members: JsonReplacement }
  | { observe: true }
  | { rewrite: (text: string) => string | undefined; tooLong: JsonReplacement };

/**
 * The JSON masker's structure, told as it is read: a path-aware masker keeps its own stack from
 * open/close. Values replaced whole are not read, so nothing inside them is told.
 */
export interface JsonStructureHook {
  /** a key (decoded) of the object open now: what to do with its value (undefined: the default) */
  key(name: string): JsonKeyAction | undefined;
  /** an object or array opens: a top-level value, the value of the last key told, or an array element */
  open(isArray: boolean): void;
  close(): void;
  /** the string value of a key whose action was observe */
  value(text: string): void;
}

interface CachedKey {
  name: string;
  /** KeyRules.labelFor */
  label: string | undefined;
  /** KeyRules.configuredLabelFor, when there is a hook */
  configuredLabel: string | undefined;
}

/** The report label of a body whose rest was withheld because it stopped being JSON. */
export const MALFORMED_WITHHELD_LABEL = 'malformed-json-withheld';

// what the grammar expects next
const S_VALUE = 0;
const S_VALUE_OR_CLOSE = 1;
const S_KEY_OR_CLOSE = 2;
const S_KEY = 3;
const S_COLON = 4;
const S_AFTER = 5;
const S_DONE = 6;

// the token being read
const T_NONE = 0;
const T_STRING = 1;
const T_NUMBER = 2;
const T_LITERAL = 3;
/** a string value longer than bufferBytes, masked as a stream between its quotes */
const T_STREAM_STRING = 4;

const OBJECT = 1;
const ARRAY = 2;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

const WHITESPACE = new Uint8Array(256);
for (const b of [0x20, 0x09, 0x0a, 0x0d]) WHITESPACE[b] = 1;
const NUMBER_CHAR = new Uint8Array(256);
for (const ch of '0123456789+-.eE') NUMBER_CHAR[ch.charCodeAt(0)] = 1;
const LITERAL_CHAR = new Uint8Array(256);
for (let b = 0x61; b <= 0x7a; b++) LITERAL_CHAR[b] = 1;
/** what ends a scalar being skipped: white space, `,`, `}`, `]` */
const SCALAR_END = new Uint8Array(256);
for (const ch of ' \t\r\n,}]\x1e') SCALAR_END[ch.charCodeAt(0)] = 1;

const QUOTE_BYTES = Buffer.from('"');

/** Keys up to this many bytes have their verdicts cached, up to CACHE_ENTRIES of them. */
const SHORT_STRING_BYTES = 64;
const CACHE_ENTRIES = 1024;

/** Lookups of passed values after which a cache that hardly ever hit is given up; the hits it needs: one in this many. */
const VALUE_CACHE_TRIAL = 256;
const VALUE_CACHE_MIN_HIT_SHARE = 4;

type Utf8Slice = (this: Buffer, start: number, end: number) => string;
/** Buffer's own UTF-8 decoder, without toString's argument handling (it is most of the cost for short strings). */
const UTF8_SLICE = (Buffer.prototype as unknown as { utf8Slice?: Utf8Slice }).utf8Slice;

function utf8(bytes: Buffer, from: number, to: number): string {
  return UTF8_SLICE !== undefined ? UTF8_SLICE.call(bytes, from, to) : bytes.toString('utf8', from, to);
}

/** Whether bytes[from, to) are `true`, `false` or `null`. */
function isLiteral(bytes: Buffer, from: number, to: number): boolean {
  const length = to - from;
  const first = bytes[from];
  if (length === 4 && first === 0x74) return bytes[from + 1] === 0x72 && bytes[from + 2] === 0x75 && bytes[from + 3] === 0x65;
  if (length === 4 && first === 0x6e) return bytes[from + 1] === 0x75 && bytes[from + 2] === 0x6c && bytes[from + 3] === 0x6c;
  if (length === 5 && first === 0x66) return bytes[from + 1] === 0x61 && bytes[from + 2] === 0x6c && bytes[from + 3] === 0x73 && bytes[from + 4] === 0x65;
  return false;
}
const EMPTY = Buffer.alloc(0);

/**
 * A streaming JSON masker: a byte-level tokenizer that keeps only the container stack and the
 * token being read, so a chunk boundary may fall anywhere (inside a string, an escape, a UTF-8
 * character, a number, a key). What it passes is copied from the input unchanged; only a masked
 * value is rewritten, so a body with nothing to mask comes out byte for byte.
 *
 * - A value under a credential key (KeyRules) is replaced whole (string, number, object, array) by
 *   one `"[LABEL]"` string; `null` stays. Escaped key names are decoded before they are matched.
 * - Every other string value, and every key, goes through the content detectors (one cell each).
 * - A number of 13 digits or more that the card detector takes becomes the string `"****1111"`.
 * - A string value longer than bufferBytes is masked as a stream between its quotes.
 * - Malformed JSON, a key longer than bufferBytes or nesting deeper than maxDepth: from that
 *   point on the body goes through the streaming text masker (never unmasked), or is withheld
 *   (onMalformed: 'withhold').
 * - A structure hook (optional) is told each key and each container opening and closing, and may
 *   decide a value by where it is rather than by its key's name (see JsonKeyAction).
 */
export class JsonMasker {
  private readonly masker: Masker;
  private readonly report: MaskReportBuilder;
  private readonly keyRules: KeyRules;
  private readonly secretForms: readonly string[];
  private readonly bufferBytes: number;
  private readonly maxDepth: number;
  private readonly multiValue: boolean;
  private readonly stack: Uint8Array;
  private readonly hook: JsonStructureHook | undefined;
  private readonly withholdMalformed: boolean;
  /** the hook's action for the value of the key just read */
  private pendingAction: JsonKeyAction | undefined;
  /** observe or rewrite, for the string value being read */
  private valueAction: JsonKeyAction | undefined;
  /** the body stopped being JSON and its rest is dropped */
  private withheld = false;

  private state = S_VALUE;
  private depth = 0;
  /** the label of the key just read, when its value is to be replaced */
  private pendingLabel: string | undefined;

  private token = T_NONE;
  private tokenIsKey = false;
  private tokenHasEscape = false;
  /** a backslash ended the last chunk: the next byte is escaped */
  private escapePending = false;
  /** the bytes of the token so far, from earlier chunks */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private longString: TextStream | undefined;

  private skipping = false;
  private skipDepth = 0;
  private skipInString = false;
  private skipScalar = false;

  /** each replacement's JSON string, as bytes */
  private readonly markers = new Map<string, Buffer>();
  /** set once the body stopped being JSON: the rest goes through it */
  private text: TextStream | undefined;

  // per push
  private chunk: Buffer = EMPTY;
  private parts: Uint8Array[] = [];
  private emitFrom = 0;
  /** where the token being read starts in this chunk; -1 when it started in an earlier one */
  private tokenStart = -1;
  /** where the next backslash of this chunk is (the chunk's length when there is none), once looked for */
  private nextBackslash = -1;
  /** keys that passed unchanged, with their labels (and their names, for a hook) */
  private readonly keyCache = new ShortBytesCache<CachedKey>(SHORT_STRING_BYTES, CACHE_ENTRIES);
  /**
   * Short string values the screen could not pass and the detectors then left unchanged (IP
   * addresses open the phone detector's gate): the same bytes again are passed without decoding
   * and scanning them. Values the screen passes are not looked up (most of them: ids, times).
   */
  private readonly passedValues = new ShortBytesCache<true>(SHORT_STRING_BYTES, CACHE_ENTRIES);
  /** passedValues lookups so far, -1 once it was given up (see passedBefore) */
  private valueLookups = 0;
  private valueHits = 0;
  /** where tokenBuffer's token lies in the buffer it returned */
  private tokenFrom = 0;
  private tokenTo = 0;

  constructor(options: JsonMaskerOptions) {
    this.masker = options.masker;
    this.report = options.report;
    this.keyRules = options.keyRules;
    this.secretForms = options.secretForms;
    this.bufferBytes = options.bufferBytes;
    this.maxDepth = options.maxDepth ?? JSON_MAX_DEPTH;
    this.multiValue = options.multiValue ?? false;
    this.stack = new Uint8Array(this.maxDepth);
    this.hook = options.hook;
    this.withholdMalformed = options.onMalformed === 'withhold';
  }

  /** Whether the body stopped being JSON and is being masked as text. */
  get fellBack(): boolean {
    return this.text !== undefined;
  }

  /** Whether the body stopped being JSON and its rest was withheld (onMalformed: 'withhold'). */
  get withheldRest(): boolean {
    return this.withheld;
  }

  /** Starts over for a new document (the next NDJSON line); call end() first. */
  reset(): void {
    this.state = S_VALUE;
    this.depth = 0;
    this.pendingLabel = undefined;
    this.pendingAction = undefined;
    this.valueAction = undefined;
    this.token = T_NONE;
    this.escapePending = false;
    this.held = [];
    this.heldBytes = 0;
    this.longString = undefined;
    this.skipping = false;
    this.text = undefined;
  }

  push(input: Uint8Array): Uint8Array {
    if (input.length === 0 || this.withheld) return EMPTY;
    if (this.text !== undefined) return this.text.push(input);
    const chunk = asBuffer(input);
    this.chunk = chunk;
    this.parts = [];
    this.emitFrom = 0;
    this.tokenStart = -1;
    this.nextBackslash = -1;
    this.run(chunk);
    const parts = this.parts;
    this.chunk = EMPTY;
    this.parts = [];
    if (parts.length === 0) return EMPTY;
    if (parts.length === 1) return parts[0] as Uint8Array;
    return Buffer.concat(parts);
  }

  /** At the end of the document: a number or literal that ended with it is judged; an unfinished string is masked as text. */
  end(): Uint8Array {
    if (this.withheld) return EMPTY;
    if (this.text !== undefined) return this.text.flush();
    this.chunk = EMPTY;
    this.parts = [];
    this.emitFrom = 0;
    this.tokenStart = -1;
    if (this.skipping) {
      this.held = [];
      this.heldBytes = 0;
    } else if (this.token === T_NUMBER || this.token === T_LITERAL) {
      this.finishScalar(0);
    } else if (this.token === T_STREAM_STRING) {
      this.parts.push((this.longString as TextStream).flush());
    } else if (this.token === T_STRING) {
      this.fail(0);
    }
    this.token = T_NONE;
    if (this.withheld) return concatParts(this.parts);
    const fallback = this.text as TextStream | undefined;
    if (fallback !== undefined) this.parts.push(fallback.flush());
    const parts = this.parts;
    this.parts = [];
    return parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);
  }

  private run(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    if (this.skipping) {
      i = this.passOver(0);
      if (i < 0) return;
    } else if (this.token !== T_NONE) {
      i = this.continueToken(0);
      if (i < 0) return;
    }
    while (i < n) {
      const b = chunk[i] as number;
      if (WHITESPACE[b] === 1 || (b === 0x1e && this.multiValue)) {
        i++;
        continue;
      }
      switch (this.state) {
        case S_VALUE_OR_CLOSE:
        case S_VALUE:
          i = b === 0x5d /* ] */ && this.state === S_VALUE_OR_CLOSE ? this.close(i, ARRAY) : this.value(i, b);
          break;
        case S_KEY_OR_CLOSE:
        case S_KEY:
          if (b === 0x7d /* } */ && this.state === S_KEY_OR_CLOSE) {
            i = this.close(i, OBJECT);
            break;
          }
          if (b !== QUOTE) {
            i = this.fail(i);
            break;
          }
          this.tokenIsKey = true;
          i = this.startString(i);
          break;
        case S_COLON:
          if (b !== 0x3a /* : */) {
            i = this.fail(i);
            break;
          }
          this.state = S_VALUE;
          i++;
          break;
        case S_AFTER:
          if (b === 0x2c /* , */) {
            this.state = this.stack[this.depth - 1] === OBJECT ? S_KEY : S_VALUE;
            i++;
          } else if (b === 0x7d) i = this.close(i, OBJECT);
          else if (b === 0x5d) i = this.close(i, ARRAY);
          else i = this.fail(i);
          break;
        default:
          // S_DONE: one value only, unless values may follow one another
          if (this.multiValue) {
            this.state = S_VALUE;
            i = this.value(i, b);
          } else i = this.fail(i);
      }
      if (i < 0) return;
    }
    if (this.skipping) this.emitFrom = n;
    this.flushTo(n);
  }

  /** A value starting at i with byte b; returns where to go on, or -1 when the rest of the chunk was handled. */
  private value(i: number, b: number): number {
    const label = this.pendingLabel;
    const action = this.pendingAction;
    this.valueAction = undefined;
    if (action !== undefined) {
      this.pendingAction = undefined;
      if ('replace' in action) {
        this.pendingLabel = undefined;
        if (b !== 0x6e /* n: null stays */) return this.startSkip(i, b, action.replace);
      } else if ('members' in action) {
        this.pendingLabel = undefined;
        if (b !== 0x6e && b !== 0x7b) return this.startSkip(i, b, action.members);
      } else if (label === undefined && b === QUOTE) this.valueAction = action;
    }
    if (label !== undefined) {
      this.pendingLabel = undefined;
      if (b !== 0x6e /* n: null stays */) return this.startSkip(i, b, { text: columnForm(label), label });
    }
    if (b === QUOTE) {
      this.tokenIsKey = false;
      return this.startString(i);
    }
    if (b === 0x7b /* { */ || b === 0x5b /* [ */) {
      if (this.depth >= this.maxDepth) return this.fail(i);
      this.stack[this.depth++] = b === 0x7b ? OBJECT : ARRAY;
      this.state = b === 0x7b ? S_KEY_OR_CLOSE : S_VALUE_OR_CLOSE;
      this.hook?.open(b === 0x5b);
      return i + 1;
    }
    if (b === 0x2d /* - */ || (b >= 0x30 && b <= 0x39)) {
      this.token = T_NUMBER;
      this.tokenStart = i;
      return this.continueToken(i + 1);
    }
    if (b === 0x74 /* t */ || b === 0x66 /* f */ || b === 0x6e /* n */) {
      this.token = T_LITERAL;
      this.tokenStart = i;
      return this.continueToken(i + 1);
    }
    return this.fail(i);
  }

  private close(i: number, kind: number): number {
    if (this.depth === 0 || this.stack[this.depth - 1] !== kind) return this.fail(i);
    this.depth--;
    this.hook?.close();
    this.valueEnded();
    return i + 1;
  }

  private valueEnded(): void {
    this.state = this.depth === 0 ? S_DONE : S_AFTER;
  }

  private startString(i: number): number {
    this.token = T_STRING;
    this.tokenStart = i;
    this.tokenHasEscape = false;
    this.escapePending = false;
    return this.continueToken(i + 1);
  }

  /** Reads on in the token; returns the index after it, or -1 when the chunk ended inside it (or it failed). */
  private continueToken(from: number): number {
    const chunk = this.chunk;
    const n = chunk.length;
    let i = from;
    if (this.token === T_STRING || this.token === T_STREAM_STRING) {
      if (this.escapePending) {
        if (i >= n) return this.holdToken();
        this.escapePending = false;
        i++;
      }
      // native searches: faster than a byte loop even on short strings; where the next backslash
      // is stays known for the chunk, so a chunk without escapes is searched for one once
      for (;;) {
        let quote = chunk.indexOf(QUOTE, i);
        if (quote < 0) quote = n;
        if (this.nextBackslash < i) {
          this.nextBackslash = chunk.indexOf(BACKSLASH, i);
          if (this.nextBackslash < 0) this.nextBackslash = n;
        }
        const backslash = this.nextBackslash;
        if (backslash < quote) {
          this.tokenHasEscape = true;
          if (backslash + 1 >= n) {
            this.escapePending = true;
            return this.holdToken();
          }
          i = backslash + 2;
          continue;
        }
        if (quote === n) return this.holdToken();
        return this.finishString(quote + 1);
      }
    }
    const table = this.token === T_NUMBER ? NUMBER_CHAR : LITERAL_CHAR;
    while (i < n && table[chunk[i] as number] === 1) i++;
    if (i === n) return this.holdToken();
    return this.finishScalar(i);
  }

  /** The chunk ended inside the token: what went before is emitted, the token's bytes are held (bounded). */
  private holdToken(): number {
    const chunk = this.chunk;
    const start = this.tokenStart >= 0 ? this.tokenStart : 0;
    if (this.token === T_STREAM_STRING) {
      this.flushTo(start);
      this.parts.push((this.longString as TextStream).push(chunk.subarray(start)));
      this.emitFrom = chunk.length;
      return -1;
    }
    if (this.heldBytes + chunk.length - start > this.bufferBytes) {
      const action = this.valueAction;
      if (this.token === T_STRING && !this.tokenIsKey && action !== undefined && 'rewrite' in action) {
        this.skipLongString(start, action.tooLong);
        return -1;
      }
      if (this.token === T_STRING && !this.tokenIsKey) {
        this.streamLongString(start);
        return -1;
      }
      return this.fail(start);
    }
    this.flushTo(start);
    if (chunk.length > start) {
      this.held.push(Buffer.from(chunk.subarray(start)));
      this.heldBytes += chunk.length - start;
    }
    this.emitFrom = chunk.length;
    this.tokenStart = -1;
    return -1;
  }

  /** A string value to rewrite that is past bufferBytes: its replacement goes out, the rest of it is read past. */
  private skipLongString(start: number, replacement: JsonReplacement): void {
    this.valueAction = undefined;
    this.flushTo(start);
    this.parts.push(this.markerBytes(replacement.text));
    this.report.add(replacement.label, 1);
    this.held = [];
    this.heldBytes = 0;
    this.token = T_NONE;
    this.tokenStart = -1;
    // escapePending stays: the chunk may have ended on a backslash inside the string
    this.skipping = true;
    this.skipDepth = 0;
    this.skipInString = true;
    this.skipScalar = false;
    this.emitFrom = this.chunk.length;
  }

  /** A string value past bufferBytes: its opening quote goes out, its content through a text stream from here to its closing quote. */
  private streamLongString(start: number): void {
    const chunk = this.chunk;
    // a value too long to hold is not shown to the hook
    this.valueAction = undefined;
    const stream = (this.longString = new TextStream(this.masker, this.report));
    let first = true;
    const feed = (bytes: Buffer): void => {
      if (first) {
        first = false;
        this.parts.push(QUOTE_BYTES);
        bytes = bytes.subarray(1);
      }
      this.parts.push(stream.push(bytes));
    };
    this.flushTo(start);
    for (const part of this.held) feed(part);
    feed(chunk.subarray(start));
    this.held = [];
    this.heldBytes = 0;
    this.emitFrom = chunk.length;
    this.token = T_STREAM_STRING;
    this.tokenStart = -1;
  }

  /**
   * The token's bytes, from `tokenFrom` to `tokenTo` in the returned buffer: this chunk itself when
   * the token started in it (no copy, no view made), else the held bytes joined to this chunk's.
   */
  private tokenBuffer(end: number): Buffer {
    const chunk = this.chunk;
    if (this.tokenStart >= 0) {
      this.tokenFrom = this.tokenStart;
      this.tokenTo = end;
      return chunk;
    }
    const joined = this.held.length === 1 && end === 0 ? (this.held[0] as Buffer) : Buffer.concat([...this.held, chunk.subarray(0, end)]);
    this.tokenFrom = 0;
    this.tokenTo = joined.length;
    return joined;
  }

  /** Puts the token out as it came, or its replacement. */
  private emitToken(end: number, replacement: string | undefined): void {
    if (replacement === undefined) {
      if (this.tokenStart < 0) for (const part of this.held) this.parts.push(part);
    } else {
      if (this.tokenStart >= 0) this.flushTo(this.tokenStart);
      this.parts.push(Buffer.from(replacement));
      this.emitFrom = end;
    }
    // most tokens never held anything: no new array for them
    if (this.held.length > 0) this.held = [];
    this.heldBytes = 0;
    this.token = T_NONE;
    this.tokenStart = -1;
  }

  private finishString(end: number): number {
    if (this.token === T_STREAM_STRING) {
      const stream = this.longString as TextStream;
      this.flushTo(0);
      this.parts.push(stream.push(this.chunk.subarray(0, end - 1)), stream.flush(), QUOTE_BYTES);
      this.emitFrom = end;
      this.longString = undefined;
      this.token = T_NONE;
      this.tokenStart = -1;
      this.valueEnded();
      return end;
    }
    const bytes = this.tokenBuffer(end);
    const from = this.tokenFrom + 1;
    const to = this.tokenTo - 1;
    let text: string;
    let screened = -1;
    if (this.tokenHasEscape) {
      try {
        text = JSON.parse(bytes.toString('utf8', from - 1, to + 1)) as string;
      } catch {
        return this.fail(this.tokenStart >= 0 ? this.tokenStart : 0);
      }
    } else {
      if (this.tokenIsKey) {
        const known = this.keyCache.get(bytes, from, to);
        if (known !== undefined) {
          this.keyRead(known.value);
          this.state = S_COLON;
          this.emitToken(end, undefined);
          return end;
        }
      }
      screened = this.masker.screenBytes(bytes, from, to);
      if (!this.tokenIsKey && this.valueAction === undefined && ((screened === NOTHING_TO_MASK && !mayBeBase64Bytes(bytes, from, to)) || this.passedBefore(bytes, from, to))) {
        this.emitToken(end, undefined);
        this.valueEnded();
        return end;
      }
      text = utf8(bytes, from, to);
    }
    let source = text;
    // a value shown to the hook is never looked up in passedValues: it is not remembered either
    const hooked = this.valueAction !== undefined;
    if (!this.tokenIsKey && this.valueAction !== undefined) {
      const action = this.valueAction;
      this.valueAction = undefined;
      if ('observe' in action) this.hook?.value(text);
      else if ('rewrite' in action) {
        const rewritten = action.rewrite(text);
        if (rewritten !== undefined) source = rewritten;
      }
    }
    if (source !== text) {
      this.emitToken(end, JSON.stringify(source));
      this.valueEnded();
      return end;
    }
    let masked = this.tokenHasEscape ? redactSecretsInText(text, this.secretForms, this.report) : text;
    if (this.tokenIsKey) {
      const key: CachedKey = { name: text, label: this.keyRules.labelFor(text), configuredLabel: this.hook === undefined ? undefined : this.keyRules.configuredLabelFor(text) };
      this.keyRead(key);
      if (this.masker.active && screened !== NOTHING_TO_MASK) masked = this.masker.maskCell(masked, undefined, this.report, masked === text ? screened : -1);
      if (masked === text && !this.tokenHasEscape) this.keyCache.set(bytes, from, to, key);
      this.state = S_COLON;
    } else {
      if (this.masker.active && screened !== NOTHING_TO_MASK) masked = this.masker.maskCell(masked, undefined, this.report, masked === text ? screened : -1);
      if (masked === text) masked = maskBase64Text(text, this.masker, this.secretForms, this.report) ?? text;
      if (masked === text && !this.tokenHasEscape && !hooked && this.valueLookups >= 0) this.passedValues.set(bytes, from, to, true);
      this.valueEnded();
    }
    this.emitToken(end, masked === text ? undefined : JSON.stringify(masked));
    return end;
  }

  /**
   * Whether these bytes were a value the detectors passed before. A body whose such values do not
   * repeat (an email, a card number in every record: masked, so never remembered) gives the cache
   * up after VALUE_CACHE_TRIAL lookups with fewer than one hit in VALUE_CACHE_MIN_HIT_SHARE, and
   * stops paying for lookups.
   */
  private passedBefore(bytes: Buffer, from: number, to: number): boolean {
    if (this.valueLookups < 0) return false;
    const hit = this.passedValues.get(bytes, from, to) !== undefined;
    if (hit) this.valueHits++;
    if (++this.valueLookups === VALUE_CACHE_TRIAL && this.valueHits * VALUE_CACHE_MIN_HIT_SHARE < VALUE_CACHE_TRIAL) this.valueLookups = -1;
    return hit;
  }

  /** A key was read: the hook's action for its value, and the key rules' label (only the configured rules for a schema field). */
  private keyRead(key: CachedKey): void {
    if (this.hook === undefined) {
      this.pendingLabel = key.label;
      return;
    }
    const action = this.hook.key(key.name);
    if (action !== undefined && 'field' in action) {
      this.pendingLabel = key.configuredLabel;
      this.pendingAction = undefined;
    } else {
      this.pendingLabel = key.label;
      this.pendingAction = action;
    }
  }

  private finishScalar(end: number): number {
    const bytes = this.tokenBuffer(end);
    const from = this.tokenFrom;
    const to = this.tokenTo;
    if (this.token === T_LITERAL) {
      if (!isLiteral(bytes, from, to)) return this.fail(this.tokenStart >= 0 ? this.tokenStart : 0);
      this.emitToken(end, undefined);
    } else {
      let replacement: string | undefined;
      if (to - from >= CARD_MIN_DIGITS && this.masker.active) {
        const screened = this.masker.screenBytes(bytes, from, to);
        if (screened !== NOTHING_TO_MASK) {
          const text = bytes.toString('latin1', from, to);
          const masked = this.masker.maskCell(text, undefined, this.report, screened);
          if (masked !== text) replacement = JSON.stringify(masked);
        }
      }
      this.emitToken(end, replacement);
    }
    this.valueEnded();
    return end;
  }

  /** A value under a credential key: its marker goes out, the value itself is read past and dropped. */
  private startSkip(i: number, b: number, replacement: JsonReplacement): number {
    this.flushTo(i);
    this.parts.push(this.markerBytes(replacement.text));
    this.report.add(replacement.label, 1);
    this.skipping = true;
    this.skipDepth = 0;
    this.skipInString = false;
    this.skipScalar = false;
    this.escapePending = false;
    if (b === 0x7b || b === 0x5b) this.skipDepth = 1;
    else if (b === QUOTE) this.skipInString = true;
    else this.skipScalar = true;
    const next = this.passOver(this.skipScalar ? i : i + 1);
    return next;
  }

  private markerBytes(text: string): Buffer {
    let bytes = this.markers.get(text);
    if (bytes === undefined) {
      bytes = Buffer.from(JSON.stringify(text));
      this.markers.set(text, bytes);
    }
    return bytes;
  }

  /** Reads past the value being skipped; returns the index after it, or -1 when the chunk ended first. */
  private passOver(from: number): number {
    const chunk = this.chunk;
    const n = chunk.length;
    let i = from;
    while (i < n) {
      if (this.skipInString) {
        if (this.escapePending) {
          this.escapePending = false;
          i++;
          continue;
        }
        const quote = chunk.indexOf(QUOTE, i);
        let backslash = chunk.indexOf(BACKSLASH, i);
        if (backslash < 0) backslash = n;
        if (backslash < (quote < 0 ? n : quote)) {
          if (backslash + 1 >= n) {
            this.escapePending = true;
            break;
          }
          i = backslash + 2;
          continue;
        }
        if (quote < 0) break;
        i = quote + 1;
        this.skipInString = false;
        if (this.skipDepth === 0) return this.endSkip(i);
        continue;
      }
      const b = chunk[i] as number;
      if (this.skipScalar) {
        if (SCALAR_END[b] === 1) return this.endSkip(i);
        i++;
        continue;
      }
      if (b === QUOTE) this.skipInString = true;
      else if (b === 0x7b || b === 0x5b) this.skipDepth++;
      else if ((b === 0x7d || b === 0x5d) && --this.skipDepth === 0) return this.endSkip(i + 1);
      i++;
    }
    this.emitFrom = n;
    return -1;
  }

  private endSkip(end: number): number {
    this.skipping = false;
    this.emitFrom = end;
    this.valueEnded();
    return end;
  }

  /**
   * The body stopped being JSON at `from` (the start of the token being read, or the byte that
   * broke the grammar): what went before is out already, the rest goes through the text masker.
   */
  private fail(from: number): number {
    const chunk = this.chunk;
    if (this.withholdMalformed) {
      // what went before the break was JSON and went out masked; the rest is dropped
      this.flushTo(this.tokenStart >= 0 ? Math.min(from, this.tokenStart) : from);
      this.withheld = true;
      this.report.add(MALFORMED_WITHHELD_LABEL, 1);
      this.held = [];
      this.heldBytes = 0;
      this.token = T_NONE;
      this.skipping = false;
      this.emitFrom = chunk.length;
      return -1;
    }
    const text = (this.text = new TextStream(this.masker, this.report));
    if (this.tokenStart < 0) for (const part of this.held) this.parts.push(text.push(part));
    else this.flushTo(Math.min(from, this.tokenStart));
    this.flushTo(from);
    this.held = [];
    this.heldBytes = 0;
    this.token = T_NONE;
    this.skipping = false;
    if (from < chunk.length) this.parts.push(text.push(chunk.subarray(from)));
    this.emitFrom = chunk.length;
    return -1;
  }

  private flushTo(i: number): void {
    if (i > this.emitFrom) this.parts.push(this.chunk.subarray(this.emitFrom, i));
    if (i > this.emitFrom) this.emitFrom = i;
  }
}

function concatParts(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 0) return EMPTY;
  return parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);
}
