import { StreamMasker, type MaskReportBuilder, type Masker } from '../../masking/index.js';

/** An escape sequence longer than this is not one a terminal would wait for: it is let through as text. */
const ESCAPE_HOLD_LIMIT = 256;

/**
 * One output stream (stdout or stderr of one channel) on its way to the agent: bytes decoded as
 * UTF-8 with a streaming decoder (a character split across chunks is joined, never turned into two
 * replacement characters), an ANSI escape sequence cut at the end of a chunk held until it is whole
 * (so a mask never lands inside one and a replay never shows half of one), then the streaming masker,
 * which holds back what could be the start of a secret. Pure: the shell calls flush() when the source
 * goes quiet and at the end. Bytes that are not UTF-8 come out as U+FFFD while masking is on: the
 * output is text to the agent, and bytes the masker cannot read are not passed unread.
 */
export class MaskedOutput {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly stream: StreamMasker;
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
    let text = this.escapeTail + this.decoder.decode(chunk, { stream: true });
    const cut = incompleteEscapeStart(text);
    if (cut >= 0 && text.length - cut <= ESCAPE_HOLD_LIMIT) {
      this.escapeTail = text.slice(cut);
      text = text.slice(0, cut);
    } else this.escapeTail = '';
    return this.out(this.stream.push(text));
  }

  /** Everything held back; `end`: the stream is over (a character cut at the very end becomes U+FFFD). */
  flush(end = false): Buffer {
    if (!this.masker.active) return EMPTY;
    const rest = end ? this.decoder.decode() : '';
    const pending = this.escapeTail + rest;
    this.escapeTail = '';
    return this.out(this.stream.push(pending) + this.stream.flush());
  }

  private out(text: string): Buffer {
    if (text.length === 0) return EMPTY;
    const bytes = Buffer.from(text, 'utf8');
    this.bytesOut += bytes.length;
    return bytes;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Where an escape sequence that is not complete yet starts at the end of `text`, or -1. CSI (`ESC [`
 * parameters, then a final byte @–~), OSC and the string sequences DCS/APC/PM/SOS (ended by BEL or
 * `ESC \`), and two-character escapes.
 */
export function incompleteEscapeStart(text: string): number {
  const esc = text.lastIndexOf('\x1b');
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
