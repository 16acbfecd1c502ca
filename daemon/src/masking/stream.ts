import { MASK_FORMS, MAX_MATCH_LENGTH, PRIVATE_KEY_END, openPrivateKeyStart, partialKeyHeaderStart } from './detectors.js';
import type { Masker } from './masker.js';
import type { MaskReportBuilder } from './report.js';
import { SpanList } from './spans.js';

export interface StreamMaskerOptions {
  /** most characters held back outside a private-key block (default 8 KiB) */
  holdLimit?: number;
  /** most characters of an unterminated private-key block held back before it is replaced (default 64 KiB) */
  keyHoldLimit?: number;
}

/** No built-in match is longer, so a cut this far back from the end never splits one. */
const DEFAULT_HOLD_LIMIT = MAX_MATCH_LENGTH;
const DEFAULT_KEY_HOLD_LIMIT = 64 * 1024;

/**
 * Most characters dropped after a replaced, unterminated private-key block. A line that is not key
 * material ends the dropping long before; this only bounds what a stream of base64 can swallow.
 */
const DROP_LIMIT = 1024 * 1024;

/**
 * Already emitted text kept in front of the next chunk while scanning: lookbehind guards see the
 * real previous characters, and a label that went out (`Bearer `, `password=`) still anchors the
 * value after it.
 */
const CONTEXT_LENGTH = 256;

const PRIVATE_KEY_FORM = MASK_FORMS['private-key'].form;

/** Base64 body lines, blank lines and PEM headers (Proc-Type, DEK-Info); `\` for keys inside JSON strings. */
const KEY_MATERIAL_LINE = /^(?:[A-Za-z0-9+/=\\]*|[A-Za-z][A-Za-z-]*: .*)\r?$/;
const KEY_MATERIAL_PARTIAL = /^[A-Za-z0-9+/=\\]*$/;

/** A key whose quoted value may run on past the end of a chunk: `password='…`, `"api_key": "…`, `\\"token\\": \\"…`, `PASSWORD '…`. */
const SECRET_KEY_BEFORE_QUOTE = /(?:pass(?:word|wd|phrase)|pwd|secret|token|key|authorization)(?:\\?["'])?[ \t]*(?:=>|:=|[:=])[ \t]*\\?$|(?:pass(?:word|wd|phrase)|pwd)[ \t]+$/i;

/** An element whose text is a secret: `<password>`, `<ns:api_key type="x">`. */
const SECRET_ELEMENT_BEFORE = /<[A-Za-z0-9_.:-]{0,40}?(?:pass(?:word|wd|phrase)|pwd|secret|token|key)(?:[ \t][^<>\r\n]{0,256}["'])?[ \t]*>$/i;

/** A key whose unquoted value runs to the end of the line (`Password: correct horse …`, a Digest header): held until the line ends. */
const LINE_VALUE_KEY = /(?:pass(?:word|wd|phrase)|pwd)(?:\\?["'])?[ \t]*:|authorization(?:\\?["'])?[ \t]*[:=]/i;

/** The longest quoted local part: 64 characters and the quotes (and a backslash escaping the first). */
const QUOTED_LOCAL_PART_MAX = 67;

/**
 * Where a quoted email local part that is not complete yet may start at the end of `text`, or -1:
 * the last `"` when fewer than QUOTED_LOCAL_PART_MAX characters and no line break follow it (it
 * may open one), or the `"` before it when the last one ends the text or is followed by `@` and a
 * domain still arriving (it may close one).
 */
function quotedLocalPartStart(text: string): number {
  const last = lastIndexIn(text, 34 /* " */, text.length - QUOTED_LOCAL_PART_MAX);
  if (last < 0 || text.length - last > QUOTED_LOCAL_PART_MAX || text.indexOf('\n', last) >= 0) return -1;
  const closing = last === text.length - 1 || (text.charCodeAt(last + 1) === 64 && !/\s/.test(text.slice(last + 1)));
  if (!closing) return last;
  const first = text.lastIndexOf('"', last - 1);
  if (first < 0 || last - first > QUOTED_LOCAL_PART_MAX) return last;
  const lineBreak = text.indexOf('\n', first);
  if (lineBreak >= 0 && lineBreak < last) return last;
  return first > 0 && text.charCodeAt(first - 1) === 92 ? first - 1 : first;
}

/**
 * The last `code` in text at or after `from`, or -1: lastIndexOf would search on through the whole
 * held text (32 KiB of SSH output) for a character that only counts near its end. Past the last
 * NEAR_END characters the native search takes over: a long line (binary output, /dev/zero) is
 * then not walked character by character in JavaScript on every chunk.
 */
function lastIndexIn(text: string, code: number, from: number): number {
  const bound = Math.max(0, from);
  const near = Math.max(bound, text.length - NEAR_END);
  for (let i = text.length - 1; i >= near; i--) if (text.charCodeAt(i) === code) return i;
  if (near === bound) return -1;
  const found = text.lastIndexOf(String.fromCharCode(code), near - 1);
  return found >= bound ? found : -1;
}

/** lastIndexIn: how far back from the end it looks itself. */
const NEAR_END = 256;

function isWhitespace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13 || code === 12 || code === 11;
}

/** Characters of the groups in card, phone, IBAN and id numbers. */
function isGroupChar(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || code === 40 || code === 41 || code === 43;
}

function isGroupSeparator(code: number): boolean {
  return code === 32 || code === 45 || code === 46 || code === 47;
}

/**
 * Masks a stream of text (SSH output) chunk by chunk. push() returns what is safe to show now and
 * holds back the tail that could be the beginning of a match: the last word, a trailing run of
 * digit groups (a card or phone number may continue), an open quoted password value, a partial
 * private-key BEGIN line, an unterminated private-key block. Built-in matches are made of those
 * shapes, so text before the tail is final. Outside a key block at most `holdLimit` characters are
 * held: a longer tail is cut `holdLimit` from the end (moved out of any match found there), which
 * no built-in match can straddle since none is longer. Custom regexes that match across spaces or
 * lines may be split.
 *
 * flush() emits the rest: call it at the end of the stream, and when the source goes quiet (say
 * 50 ms) so an interactive prompt is not held back; what arrives after a flush is scanned as a
 * continuation, but a match split by the flush itself can be missed.
 *
 * A private-key block whose END does not arrive within `keyHoldLimit` (or by a flush) is replaced
 * by `[PRIVATE-KEY]`, and what follows is dropped through its END line, or while it still looks
 * like key material (base64 lines, PEM headers) when the END never comes.
 *
 * Counts go to the report: one unit per match.
 */
export class StreamMasker {
  private readonly holdLimit: number;
  private readonly keyHoldLimit: number;
  private readonly spans = new SpanList();
  /** original text not emitted yet */
  private pending = '';
  /** the last characters emitted, original text */
  private context = '';
  /** inside an unterminated private-key block that was already replaced */
  private droppingKey = false;
  private dropped = 0;
  /** the dropped text so far ended with a line break, to be given back before what follows */
  private droppedLineBreak = false;
  /** an incomplete line while dropping key material */
  private dropCarry = '';

  constructor(
    private readonly masker: Masker,
    private readonly report: MaskReportBuilder,
    options: StreamMaskerOptions = {},
  ) {
    this.holdLimit = options.holdLimit ?? DEFAULT_HOLD_LIMIT;
    this.keyHoldLimit = options.keyHoldLimit ?? DEFAULT_KEY_HOLD_LIMIT;
  }

  /** Characters received but not emitted yet. */
  get held(): number {
    return this.pending.length + this.dropCarry.length;
  }

  push(chunk: string): string {
    if (!this.masker.active) return chunk;
    if (chunk.length === 0) return '';
    return this.drain(chunk, false);
  }

  /** Everything held back, masked. The masker stays usable. */
  flush(): string {
    if (!this.masker.active) return '';
    return this.drain('', true);
  }

  private drain(chunk: string, final: boolean): string {
    let out = '';
    let input = chunk;
    for (;;) {
      if (this.droppingKey) {
        const rest = this.dropKeyMaterial(input, final);
        if (rest === null) return out;
        input = rest;
      }
      this.pending += input;
      input = '';
      const text = this.context + this.pending;
      const base = this.context.length;
      this.masker.findSpansStream(text, this.spans);
      let end = final ? text.length : this.holdStart(text, base);
      if (this.masker.detects('private-key')) {
        const open = openPrivateKeyStart(text, base);
        if (open !== null && open.start < end && (final || text.length - open.start > this.keyHoldLimit)) {
          // emit up to the block, its replacement, and drop the block's body as it comes
          out += this.emit(text, base, open.start) + PRIVATE_KEY_FORM;
          this.report.add('private-key', 1);
          this.context = '';
          this.pending = '';
          this.droppingKey = true;
          this.dropped = 0;
          this.droppedLineBreak = false;
          this.dropCarry = '';
          input = text.slice(open.headerEnd);
          if (final && input.length === 0) return out;
          continue;
        }
        if (open !== null && open.start < end) end = open.start;
      }
      return out + this.emit(text, base, this.cutOutsideSpans(end, base));
    }
  }

  /** Where the tail that could still become (part of) a match begins. */
  private holdStart(text: string, base: number): number {
    const length = text.length;
    // Nothing before `floor` is held (a longer tail is cut there, see holdLimit): the walks back
    // stop at it, and once one reached it nothing further back can matter. Output without white
    // space (a binary stream, /dev/zero) is then not searched through on every chunk.
    const floor = Math.max(base, length - this.holdLimit);
    let hold = length;
    while (hold > floor && !isWhitespace(text.charCodeAt(hold - 1))) hold--;
    let groups = length;
    while (groups > floor) {
      const code = text.charCodeAt(groups - 1);
      if (isGroupChar(code)) groups--;
      else if (isGroupSeparator(code) && groups - 1 > base && isGroupChar(text.charCodeAt(groups - 2))) groups--;
      else break;
    }
    if (groups < hold) hold = groups;
    // at the floor already: no candidate below can move the cut further back
    if (hold === floor) return floor;
    const header = partialKeyHeaderStart(text, base);
    if (header >= 0 && header < hold) hold = header;
    // An open value that may hold spaces: held whole until it closes. Each check looks into the
    // context too: what opened the value may have gone out already, and then all that is pending
    // is held. password='value with spaces — the closing quote has not arrived:
    // (only a quote on the last line can be open: one with a line break after it is not)
    const lastLine = text.lastIndexOf('\n') + 1;
    let quote = Math.max(lastIndexIn(text, 39 /* ' */, lastLine), lastIndexIn(text, 34 /* " */, lastLine));
    // SQL doubles a quote inside a literal ('it''s'): the value opened before the pair
    while (quote > 0 && text.charCodeAt(quote - 1) === text.charCodeAt(quote)) quote = text.lastIndexOf(text.charAt(quote), quote - 2);
    if (quote >= 0 && quote + 1 < hold && text.indexOf('\n', quote) < 0 && SECRET_KEY_BEFORE_QUOTE.test(text.slice(Math.max(0, quote - 64), quote))) {
      hold = Math.max(base, quote + 1);
    }
    // <password>value with spaces — the closing tag has not arrived (or only its `<`):
    const tagEnd = lastIndexIn(text, 62 /* > */, lastLine);
    const nextTag = tagEnd >= 0 ? text.indexOf('<', tagEnd) : -1;
    if (tagEnd >= 0 && tagEnd + 1 < hold && (nextTag < 0 || nextTag === length - 1) && text.indexOf('\n', tagEnd) < 0 && SECRET_ELEMENT_BEFORE.test(text.slice(Math.max(0, tagEnd - 320), tagEnd + 1))) {
      hold = Math.max(base, tagEnd + 1);
    }
    // "john doe"@example.com — a quoted local part may be open, or closed with its @ and domain to come:
    const localPart = quotedLocalPartStart(text);
    if (localPart >= 0 && localPart < hold) hold = Math.max(base, localPart);
    // Password: value with spaces — the line has not ended:
    const lineStart = lastLine;
    if (lineStart < hold) {
      const key = LINE_VALUE_KEY.exec(text.slice(lineStart, hold));
      if (key !== null) hold = Math.max(base, lineStart + key.index);
    }
    return Math.max(hold, floor);
  }

  /** Moves a cut out of a match: before it, or after it if the match began in text already emitted. */
  private cutOutsideSpans(end: number, base: number): number {
    const spans = this.spans;
    for (let i = 0; i < spans.length; i++) {
      const span = spans.at(i);
      if (span.start >= end) break;
      if (span.end > end) return span.start >= base ? span.start : span.end;
    }
    return end;
  }

  /** Emits text[base, end) masked, counts its matches and keeps the rest pending. */
  private emit(text: string, base: number, end: number): string {
    const spans = this.spans;
    for (let i = 0; i < spans.length; i++) {
      const span = spans.at(i);
      if (span.start >= end) break;
      if (span.end > base) this.report.add(span.detector, 1);
    }
    const out = spans.length === 0 ? text.slice(base, end) : spans.render(text, base, end);
    this.context = text.slice(Math.max(0, end - CONTEXT_LENGTH), end);
    this.pending = text.slice(end);
    return out;
  }

  /**
   * Drops the body of a replaced private-key block: through its END line, or up to the first line
   * that is not key material, or once DROP_LIMIT characters went. Returns the text after it (a
   * line break that went with the dropped text put back in front), or null while still inside. A
   * flush does not end it: the rest of the block may still come.
   */
  private dropKeyMaterial(input: string, final: boolean): string | null {
    const text = this.dropCarry + input;
    this.dropCarry = '';
    const endMarker = PRIVATE_KEY_END.exec(text);
    let lineStart = 0;
    for (;;) {
      const newline = text.indexOf('\n', lineStart);
      const lineEnd = newline < 0 ? text.length : newline;
      if (endMarker !== null && endMarker.index <= lineEnd) return this.stopDropping(text, endMarker.index + endMarker[0].length, false);
      const line = text.slice(lineStart, lineEnd);
      if (newline < 0) {
        if (!KEY_MATERIAL_PARTIAL.test(line)) return this.stopDropping(text, lineStart, lineStart > 0 || this.droppedLineBreak);
        // an incomplete line is kept to judge once complete; a flush drops it for good
        if (final) this.dropped += line.length;
        else this.dropCarry = line;
        if (this.dropped + line.length > DROP_LIMIT) return this.stopDropping(text, text.length, false);
        return null;
      }
      if (!KEY_MATERIAL_LINE.test(line)) return this.stopDropping(text, lineStart, lineStart > 0 || this.droppedLineBreak);
      this.dropped += line.length + 1;
      this.droppedLineBreak = true;
      if (this.dropped > DROP_LIMIT) return this.stopDropping(text, newline + 1, true);
      lineStart = newline + 1;
    }
  }

  private stopDropping(text: string, from: number, lineBreak: boolean): string {
    this.droppingKey = false;
    this.dropped = 0;
    this.dropCarry = '';
    this.droppedLineBreak = false;
    return lineBreak ? '\n' + text.slice(from) : text.slice(from);
  }
}
