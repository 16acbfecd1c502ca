import { isUtf8 } from 'node:buffer';
import { StreamMasker, type MaskReportBuilder, type Masker } from './index.js';

/** An escape sequence longer than this is not one a terminal would wait for: it is let through as text. */
const ESCAPE_HOLD_LIMIT = 256;

/**
 * One output stream (stdout or stderr of one channel) on its way to the agent: bytes decoded as
 * UTF-8 with a streaming decoder (a character split across chunks is joined, never turned into two
 * replacement characters), an ANSI escape sequence cut at the end of a chunk held until it is whole
 * (so a mask never lands inside one and a replay never shows half of one), then the streaming masker,
 * which holds back what could be the start of a secret. Pure: the shell calls flush() when the source
 * goes quiet and at the end.
 *
 * Output that is not UTF-8 (a packfile for `git fetch` over ssh, `cat` of an archive) is binary:
 * from its first invalid byte on, the stream is read one character per byte (latin1) and written
 * back the same way, so every byte reaches the agent unchanged unless a detector matched. The
 * detectors' patterns (keys, tokens, URLs with passwords, PEM blocks, emails, cards) are ASCII, so
 * they still find secrets inside binary output; replacing U+FFFD for such bytes would corrupt it.
 */
export class MaskedOutput {
  private readonly stream: StreamMasker;
  /** the output turned out not to be UTF-8: one character per byte from then on */
  private binary = false;
  /** the first bytes of a UTF-8 character cut at the end of the last chunk (text mode) */
  private pendingBytes: Buffer = Buffer.alloc(0);
  private escapeTail = '';
  /** bytes in (from upstream) and out (to the agent, UTF-8) */
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    private readonly masker: Masker,
    report: MaskReportBuilder,
  ) {
    this.stream = new StreamMasker(masker, report);
  }

  /** Characters received and not given out yet: what a quiet-time flush would release. */
  get held(): number {
    return this.stream.held + this.escapeTail.length;
  }

  /** Bytes from upstream; returns what the agent may see now (possibly empty). */
  push(chunk: Buffer): Buffer {
    this.bytesIn += chunk.length;
    if (!this.masker.active) {
      // nothing to mask: bytes pass as they are (binary output included)
      this.bytesOut += chunk.length;
      return chunk;
    }
    let prefix: Buffer = EMPTY;
    let decoded: string;
    if (this.binary) decoded = chunk.toString('latin1');
    else {
      const bytes = this.pendingBytes.length > 0 ? Buffer.concat([this.pendingBytes, chunk]) : chunk;
      const cutAt = bytes.length - incompleteUtf8Tail(bytes);
      const whole = bytes.subarray(0, cutAt);
      if (isUtf8(whole)) {
        decoded = whole.toString('utf8');
        this.pendingBytes = Buffer.from(bytes.subarray(cutAt));
      } else {
        // what was held back as text goes out as text (masked as if the text ended here); the rest is binary
        prefix = this.out(this.stream.push(this.escapeTail) + this.stream.flush());
        this.escapeTail = '';
        this.binary = true;
        this.pendingBytes = EMPTY;
        decoded = bytes.toString('latin1');
      }
    }
    let text = this.escapeTail + decoded;
    // only a sequence that starts within the hold limit of the end is held: none further back is looked for
    const cut = incompleteEscapeStart(text, text.length - ESCAPE_HOLD_LIMIT);
    if (cut >= 0 && text.length - cut <= ESCAPE_HOLD_LIMIT) {
      this.escapeTail = text.slice(cut);
      text = text.slice(0, cut);
    } else this.escapeTail = '';
    const out = this.out(this.stream.push(text));
    return prefix.length === 0 ? out : Buffer.concat([prefix, out]);
  }

  /** Everything held back; `end`: the stream is over (the bytes of a character cut at the very end go as they came). */
  flush(end = false): Buffer {
    if (!this.masker.active) return EMPTY;
    const pending = this.escapeTail;
    this.escapeTail = '';
    const text = this.out(this.stream.push(pending) + this.stream.flush());
    if (!end || this.pendingBytes.length === 0) return text;
    // a character cut at the very end: its bytes go as they came
    const cutTail = this.pendingBytes;
    this.pendingBytes = EMPTY;
    this.bytesOut += cutTail.length;
    return Buffer.concat([text, cutTail]);
  }

  private out(text: string): Buffer {
    if (text.length === 0) return EMPTY;
    const bytes = Buffer.from(text, this.binary ? 'latin1' : 'utf8');
    this.bytesOut += bytes.length;
    return bytes;
  }
}

const EMPTY = Buffer.alloc(0);

/** How many bytes at the end of `bytes` are the start of a UTF-8 character that is not complete yet (0–3). */
export function incompleteUtf8Tail(bytes: Buffer): number {
  const n = bytes.length;
  let i = n - 1;
  // back over continuation bytes (10xxxxxx), at most three
  while (i >= 0 && i >= n - 3 && (bytes[i]! & 0xc0) === 0x80) i--;
  if (i < 0) return 0;
  const lead = bytes[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  const have = n - i;
  return have < need ? have : 0;
}

/**
 * Where an escape sequence that is not complete yet starts at the end of `text`, or -1. CSI (`ESC [`
 * parameters, then a final byte @–~), OSC and the string sequences DCS/APC/PM/SOS (ended by BEL or
 * `ESC \`), and two-character escapes. With `from`, only an escape at or after it counts (the
 * text before is not searched: a 64 KiB chunk without escapes costs a short look at its end).
 */
export function incompleteEscapeStart(text: string, from = 0): number {
  const esc = from > 0 ? lastEscapeFrom(text, from) : text.lastIndexOf('\x1b');
  if (esc < 0) {
    // an OSC may have started earlier and still be open: only looked for in the tail we would hold
    return -1;
  }
  if (esc === text.length - 1) return esc;
  const kind = text.charCodeAt(esc + 1);
  if (kind === 0x5b /* [ */) {
    for (let i = esc + 2; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x40 && code <= 0x7e) return -1;
    }
    return esc;
  }
  if (kind === 0x5c /* \ ends a string sequence */) {
    return -1;
  }
  if (kind === 0x5d /* ] */ || kind === 0x50 /* P */ || kind === 0x5f /* _ */ || kind === 0x5e /* ^ */ || kind === 0x58 /* X */) {
    return text.indexOf('\x07', esc) >= 0 ? -1 : esc;
  }
  return -1;
}

/** The last ESC in text at or after `from`, or -1. */
function lastEscapeFrom(text: string, from: number): number {
  for (let i = text.length - 1; i >= from; i--) if (text.charCodeAt(i) === 0x1b) return i;
  return -1;
}
