import zlib from 'node:zlib';
import { SPDY3_HEADER_DICTIONARY } from './dictionary.js';

/** Header names (lower-case) to values, in the order sent; a name repeated in one block is refused. */
export type SpdyHeaders = Map<string, string[]>;

export interface HeaderBlockLimits {
  /** the largest header block, decompressed (limits.actionTextBytes) */
  maxBlockBytes: number;
  /** the most name/value pairs in one block */
  maxPairs: number;
}

/**
 * The name/value header blocks the agent sends on one SPDY/3 connection. SPDY compresses every
 * block of a direction with ONE zlib stream primed with the SPDY/3 dictionary, each block ending in
 * a sync flush (Go's framer keeps its compressor for the connection's life and resets nothing), so
 * the decoder keeps one inflate context from block to block. Node runs a long-lived zlib context
 * only asynchronously, so decoding is a promise; the caller decodes blocks in the order they came.
 * The decompressed size is capped as it is produced (a header bomb is an error, not memory).
 */
export class HeaderBlockDecoder {
  private readonly inflate: zlib.Inflate;
  private output: Buffer[] = [];
  private outputBytes = 0;
  private failed: string | undefined;
  private waiting: ((result: SpdyHeaders | { error: string }) => void) | undefined;

  constructor(private readonly limits: HeaderBlockLimits) {
    this.inflate = zlib.createInflate({ dictionary: SPDY3_HEADER_DICTIONARY });
    this.inflate.on('data', (chunk: Buffer) => {
      this.outputBytes += chunk.length;
      if (this.outputBytes > this.limits.maxBlockBytes) return this.fail(`a header block decompresses to more than ${this.limits.maxBlockBytes} bytes`);
      this.output.push(chunk);
    });
    this.inflate.on('error', (err) => this.fail(`a header block does not decompress (${err.message})`));
  }

  /** The headers of the next block; after an error every later block fails too (the shared context is lost). */
  decode(compressed: Buffer): Promise<SpdyHeaders | { error: string }> {
    return new Promise((resolve) => {
      if (this.failed) return resolve({ error: this.failed });
      this.output = [];
      this.outputBytes = 0;
      // a failure destroys the context, and the flush never calls back: fail() answers instead
      this.waiting = resolve;
      this.inflate.write(compressed);
      this.inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        if (this.waiting !== resolve) return;
        this.waiting = undefined;
        if (this.failed) return resolve({ error: this.failed });
        const block = Buffer.concat(this.output);
        this.output = [];
        resolve(parseHeaderBlock(block, this.limits.maxPairs));
      });
    });
  }

  close(): void {
    this.fail('the connection closed');
  }

  private fail(error: string): void {
    this.failed ??= error;
    this.output = [];
    this.inflate.destroy();
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.({ error: this.failed });
  }
}

/**
 * Header blocks Airlock sends, as one zlib stream per connection: the zlib header naming the SPDY/3
 * dictionary (FDICT and its Adler-32) once, then each block as non-final *stored* deflate blocks.
 * Stored blocks are byte-aligned; each header block ends with the empty stored block of a sync
 * flush, as Go's framer's do, and any inflater (Go's compress/zlib with the dictionary) reads them. Airlock
 * sends only empty SYN_REPLY blocks, so there is nothing to gain from compressing; this stays pure.
 */
export class HeaderBlockEncoder {
  private started = false;

  encode(headers: SpdyHeaders): Buffer {
    const block = serializeHeaderBlock(headers);
    const parts: Buffer[] = [];
    if (!this.started) {
      this.started = true;
      // CMF 0x78 (deflate, 32K window), FLG 0x20 (FDICT; 0x7820 is a multiple of 31), then the dictionary id
      parts.push(Buffer.from([0x78, 0x20]), u32(adler32(SPDY3_HEADER_DICTIONARY)));
    }
    for (let at = 0; at < block.length; at += STORED_MAX) {
      const piece = block.subarray(at, at + STORED_MAX);
      const head = Buffer.alloc(5);
      head[0] = 0; // BFINAL 0, BTYPE 00 (stored), padding to the byte
      head.writeUInt16LE(piece.length, 1);
      head.writeUInt16LE(~piece.length & 0xffff, 3);
      parts.push(head, piece);
    }
    // then the empty stored block a sync flush ends with: an inflater hands out what it holds only
    // on it (Go's flate keeps stored bytes in its window until a flush, reading past the frame otherwise)
    parts.push(SYNC_FLUSH_MARK);
    return Buffer.concat(parts);
  }
}

const STORED_MAX = 0xffff;
const SYNC_FLUSH_MARK = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);

export function adler32(data: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** The uncompressed block: a 32-bit pair count, then each name and value with 32-bit lengths (values joined by NUL). */
export function serializeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [u32(headers.size)];
  for (const [name, values] of headers) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(values.join('\0'), 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

export function parseHeaderBlock(block: Buffer, maxPairs: number): SpdyHeaders | { error: string } {
  if (block.length < 4) return { error: 'a header block is shorter than its pair count' };
  const count = block.readUInt32BE(0);
  if (count > maxPairs) return { error: `a header block has ${count} pairs; at most ${maxPairs} are accepted` };
  const headers: SpdyHeaders = new Map();
  let at = 4;
  const field = (what: string): string | { error: string } => {
    if (at + 4 > block.length) return { error: `a header block ends inside a ${what} length` };
    const length = block.readUInt32BE(at);
    at += 4;
    if (length > block.length - at) return { error: `a header ${what} runs past the end of its block` };
    const text = block.toString('utf8', at, at + length);
    at += length;
    return text;
  };
  for (let i = 0; i < count; i++) {
    const name = field('name');
    if (typeof name !== 'string') return name;
    const value = field('value');
    if (typeof value !== 'string') return value;
    if (name === '') return { error: 'a header block has an empty name' };
    if (name !== name.toLowerCase()) return { error: `the header name "${name}" is not lower-case` };
    if (headers.has(name)) return { error: `the header "${name}" appears twice in one block` };
    headers.set(name, value.split('\0'));
  }
  if (at !== block.length) return { error: 'a header block has bytes after its last pair' };
  return headers;
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}
