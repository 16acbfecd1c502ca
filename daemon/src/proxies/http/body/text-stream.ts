import { isUtf8 } from 'node:buffer';
import { StreamMasker, type MaskReportBuilder, type Masker } from '../../../masking/index.js';

/**
 * A body masked as a stream of text: UTF-8 decoded across chunk boundaries, through the streaming
 * masker (which holds back only what could be the start of a match, a bounded tail). Bytes that are
 * not UTF-8 switch the rest of the body to one character per byte (latin1), written back the same
 * way: every byte passes unchanged unless a detector matched, and the detectors' ASCII patterns still
 * find secrets among binary bytes. Also the fallback of the JSON, NDJSON and SSE maskers.
 */
export class TextStream {
  private readonly stream: StreamMasker;
  private latin1 = false;
  /** the first bytes of a UTF-8 character cut at the end of the last chunk */
  private partial: Buffer = EMPTY;

  constructor(
    private readonly masker: Masker,
    report: MaskReportBuilder,
  ) {
    this.stream = new StreamMasker(masker, report);
  }

  push(chunk: Uint8Array): Uint8Array {
    if (!this.masker.active) return chunk;
    if (chunk.length === 0) return EMPTY;
    let bytes = asBuffer(chunk);
    if (this.latin1) return this.out(this.stream.push(bytes.toString('latin1')));
    if (this.partial.length > 0) bytes = Buffer.concat([this.partial, bytes]);
    const cut = bytes.length - incompleteUtf8Tail(bytes);
    const whole = bytes.subarray(0, cut);
    if (isUtf8(whole)) {
      this.partial = cut < bytes.length ? Buffer.from(bytes.subarray(cut)) : EMPTY;
      return this.out(this.stream.push(whole.toString('utf8')));
    }
    // what was held back went in as text: it goes out as UTF-8, the rest byte for byte
    const before = Buffer.from(this.stream.flush(), 'utf8');
    this.latin1 = true;
    this.partial = EMPTY;
    const after = this.out(this.stream.push(bytes.toString('latin1')));
    return before.length === 0 ? after : Buffer.concat([before, after]);
  }

  /** Everything held back, masked; the stream may go on afterwards (a new line of NDJSON, the next SSE event). */
  flush(): Uint8Array {
    if (!this.masker.active) return EMPTY;
    const text = this.out(this.stream.flush());
    if (this.partial.length === 0) return text;
    // a character cut at the very end: its bytes go as they came
    const tail = this.partial;
    this.partial = EMPTY;
    return text.length === 0 ? tail : Buffer.concat([text, tail]);
  }

  private out(text: string): Buffer {
    if (text.length === 0) return EMPTY;
    return Buffer.from(text, this.latin1 ? 'latin1' : 'utf8');
  }
}

const EMPTY = Buffer.alloc(0);

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** How many bytes at the end are the start of a UTF-8 character that is not complete yet (0–3). */
export function incompleteUtf8Tail(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = n - 1;
  while (i >= 0 && i >= n - 3 && ((bytes[i] as number) & 0xc0) === 0x80) i--;
  if (i < 0) return 0;
  const lead = bytes[i] as number;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  const have = n - i;
  return have < need ? have : 0;
}
