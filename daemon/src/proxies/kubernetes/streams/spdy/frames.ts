import { HeaderBlockDecoder, HeaderBlockEncoder, type HeaderBlockLimits, type SpdyHeaders } from './header-block.js';

/**
 * SPDY/3 framing (draft-mbelshe-httpbis-spdy-00 §2.2), as kubectl's spdystream speaks it: an
 * 8-byte header — a control bit, then either version and type (control) or a stream id (data) —
 * then flags, a 24-bit length and the payload. Pure: bytes in, frames out, and frames to bytes;
 * lengths and header blocks are bounded before anything is buffered for them. Header blocks are
 * the one asynchronous step (zlib, see header-block.ts).
 */

export const SPDY_VERSION = 3;
/** the length field is 24 bits */
export const SPDY_MAX_FRAME_LENGTH = 0xffffff;
export const FLAG_FIN = 0x01;

export const RST_STATUS = { protocolError: 1, invalidStream: 2, refusedStream: 3, cancel: 5, internalError: 6, frameTooLarge: 11 } as const;
export const GOAWAY_STATUS = { ok: 0, protocolError: 1, internalError: 2 } as const;

export type SpdyFrame =
  | { type: 'data'; streamId: number; fin: boolean; data: Buffer }
  | { type: 'syn_stream'; streamId: number; associatedTo: number; priority: number; fin: boolean; unidirectional: boolean; headers: SpdyHeaders }
  | { type: 'syn_reply'; streamId: number; fin: boolean; headers: SpdyHeaders }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; entries: { flags: number; id: number; value: number }[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'headers'; streamId: number; fin: boolean; headers: SpdyHeaders }
  | { type: 'window_update'; streamId: number; delta: number };

/** A frame as read, its header block (if it has one) still compressed: `SpdyFrameReader.decodeHeaders` finishes it. */
export type SpdyRawFrame = SpdyFrame extends infer F ? (F extends { headers: SpdyHeaders } ? Omit<F, 'headers'> & { block: Buffer } : F) : never;

export interface SpdyFrameLimits extends HeaderBlockLimits {
  /** the largest frame payload accepted (limits.maxMessageBytes, at most SPDY's 2^24-1) */
  maxFrameBytes: number;
}

const HEADER_BYTES = 8;
const TYPE = { syn_stream: 1, syn_reply: 2, rst_stream: 3, settings: 4, noop: 5, ping: 6, goaway: 7, headers: 8, window_update: 9 } as const;
const STREAM_ID_MASK = 0x7fffffff;

/**
 * Turns a byte stream into frames. Bytes may arrive in any chunking (a WebSocket message or a TCP
 * read holds any part of a frame); at most one frame's bytes are kept. An error is final: the
 * connection's header compression state is lost with it.
 */
export class SpdyFrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private failed: string | undefined;
  private readonly headerBlocks: HeaderBlockDecoder;

  constructor(private readonly limits: SpdyFrameLimits) {
    this.headerBlocks = new HeaderBlockDecoder(limits);
  }

  /** The frames completed by `chunk`, or the first error (then every later call returns it too). */
  push(chunk: Buffer): SpdyRawFrame[] | { error: string } {
    if (this.failed) return { error: this.failed };
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const frames: SpdyRawFrame[] = [];
    while (this.pendingBytes >= HEADER_BYTES) {
      const head = this.peek(HEADER_BYTES);
      const length = head.readUIntBE(5, 3);
      if (length > this.limits.maxFrameBytes) return this.fail(`a frame of ${length} bytes is larger than the ${this.limits.maxFrameBytes} accepted`);
      if (this.pendingBytes < HEADER_BYTES + length) break;
      const whole = this.take(HEADER_BYTES + length);
      const frame = this.parse(whole.subarray(0, HEADER_BYTES), whole.subarray(HEADER_BYTES));
      if ('error' in frame) return this.fail(frame.error);
      if (frame.type !== 'skip') frames.push(frame);
    }
    return frames;
  }

  /**
   * Decompresses a frame's header block. Blocks share one zlib stream, so frames are finished one
   * at a time in the order `push` returned them.
   */
  async decodeHeaders(frame: SpdyRawFrame): Promise<SpdyFrame | { error: string }> {
    if (!('block' in frame)) return frame;
    const headers = await this.headerBlocks.decode(frame.block);
    if ('error' in headers) {
      this.failed ??= headers.error;
      return headers;
    }
    const { block: _block, ...rest } = frame;
    return { ...rest, headers } as SpdyFrame;
  }

  close(): void {
    this.headerBlocks.close();
  }

  private fail(error: string): { error: string } {
    this.failed = error;
    this.pending = [];
    this.pendingBytes = 0;
    return { error };
  }

  private peek(n: number): Buffer {
    if (this.pending[0]!.length < n) this.pending = [Buffer.concat(this.pending)];
    return this.pending[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const rest = all.subarray(n);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return all.subarray(0, n);
  }

  private parse(head: Buffer, body: Buffer): SpdyRawFrame | { type: 'skip' } | { error: string } {
    const flags = head[4]!;
    if ((head[0]! & 0x80) === 0) {
      const streamId = head.readUInt32BE(0) & STREAM_ID_MASK;
      if (streamId === 0) return { error: 'a data frame on stream 0' };
      return { type: 'data', streamId, fin: (flags & FLAG_FIN) !== 0, data: body };
    }
    const version = head.readUInt16BE(0) & 0x7fff;
    if (version !== SPDY_VERSION) return { error: `a control frame of SPDY version ${version}; only 3 is spoken` };
    const type = head.readUInt16BE(2);
    const need = (n: number, name: string): { error: string } | undefined => (body.length < n ? { error: `a ${name} frame of ${body.length} bytes is too short` } : undefined);
    const fin = (flags & FLAG_FIN) !== 0;
    switch (type) {
      case TYPE.syn_stream: {
        const short = need(10, 'SYN_STREAM');
        if (short) return short;
        return { type: 'syn_stream', streamId: body.readUInt32BE(0) & STREAM_ID_MASK, associatedTo: body.readUInt32BE(4) & STREAM_ID_MASK, priority: body[8]! >> 5, fin, unidirectional: (flags & 0x02) !== 0, block: body.subarray(10) };
      }
      case TYPE.syn_reply:
      case TYPE.headers: {
        const short = need(4, type === TYPE.headers ? 'HEADERS' : 'SYN_REPLY');
        if (short) return short;
        return { type: type === TYPE.headers ? 'headers' : 'syn_reply', streamId: body.readUInt32BE(0) & STREAM_ID_MASK, fin, block: body.subarray(4) };
      }
      case TYPE.rst_stream:
        return body.length !== 8 ? { error: `a RST_STREAM frame of ${body.length} bytes (8 expected)` } : { type: 'rst_stream', streamId: body.readUInt32BE(0) & STREAM_ID_MASK, status: body.readUInt32BE(4) };
      case TYPE.settings: {
        const short = need(4, 'SETTINGS');
        if (short) return short;
        const count = body.readUInt32BE(0);
        if (body.length !== 4 + count * 8) return { error: `a SETTINGS frame says ${count} entries in ${body.length} bytes` };
        const entries = [];
        for (let i = 0; i < count; i++) entries.push({ flags: body[4 + i * 8]!, id: body.readUIntBE(5 + i * 8, 3), value: body.readUInt32BE(8 + i * 8) });
        return { type: 'settings', entries };
      }
      case TYPE.ping:
        return body.length !== 4 ? { error: `a PING frame of ${body.length} bytes (4 expected)` } : { type: 'ping', id: body.readUInt32BE(0) };
      case TYPE.goaway:
        return body.length !== 8 ? { error: `a GOAWAY frame of ${body.length} bytes (8 expected)` } : { type: 'goaway', lastGoodStreamId: body.readUInt32BE(0) & STREAM_ID_MASK, status: body.readUInt32BE(4) };
      case TYPE.window_update:
        return body.length !== 8 ? { error: `a WINDOW_UPDATE frame of ${body.length} bytes (8 expected)` } : { type: 'window_update', streamId: body.readUInt32BE(0) & STREAM_ID_MASK, delta: body.readUInt32BE(4) & STREAM_ID_MASK };
      case TYPE.noop:
        return { type: 'skip' };
      default:
        // SPDY/3 §2.2.1: a control frame of an unknown type is ignored
        return { type: 'skip' };
    }
  }
}

/** Frames to bytes; header blocks through the connection's one deflate context for this direction. */
export class SpdyFrameWriter {
  private readonly headerBlocks = new HeaderBlockEncoder();

  encode(frame: SpdyFrame): Buffer {
    switch (frame.type) {
      case 'data': {
        const head = Buffer.alloc(HEADER_BYTES);
        head.writeUInt32BE(frame.streamId & STREAM_ID_MASK, 0);
        head[4] = frame.fin ? FLAG_FIN : 0;
        head.writeUIntBE(frame.data.length, 5, 3);
        return Buffer.concat([head, frame.data]);
      }
      case 'syn_stream': {
        const fixed = Buffer.alloc(10);
        fixed.writeUInt32BE(frame.streamId & STREAM_ID_MASK, 0);
        fixed.writeUInt32BE(frame.associatedTo & STREAM_ID_MASK, 4);
        fixed[8] = (frame.priority & 0x07) << 5;
        return control(TYPE.syn_stream, (frame.fin ? FLAG_FIN : 0) | (frame.unidirectional ? 0x02 : 0), Buffer.concat([fixed, this.headerBlocks.encode(frame.headers)]));
      }
      case 'syn_reply':
      case 'headers':
        return control(frame.type === 'headers' ? TYPE.headers : TYPE.syn_reply, frame.fin ? FLAG_FIN : 0, Buffer.concat([u32(frame.streamId & STREAM_ID_MASK), this.headerBlocks.encode(frame.headers)]));
      case 'rst_stream':
        return control(TYPE.rst_stream, 0, Buffer.concat([u32(frame.streamId & STREAM_ID_MASK), u32(frame.status)]));
      case 'settings': {
        const body = Buffer.alloc(4 + frame.entries.length * 8);
        body.writeUInt32BE(frame.entries.length, 0);
        frame.entries.forEach((e, i) => {
          body[4 + i * 8] = e.flags;
          body.writeUIntBE(e.id, 5 + i * 8, 3);
          body.writeUInt32BE(e.value, 8 + i * 8);
        });
        return control(TYPE.settings, 0, body);
      }
      case 'ping':
        return control(TYPE.ping, 0, u32(frame.id));
      case 'goaway':
        return control(TYPE.goaway, 0, Buffer.concat([u32(frame.lastGoodStreamId & STREAM_ID_MASK), u32(frame.status)]));
      case 'window_update':
        return control(TYPE.window_update, 0, Buffer.concat([u32(frame.streamId & STREAM_ID_MASK), u32(frame.delta & STREAM_ID_MASK)]));
    }
  }

}

function control(type: number, flags: number, body: Buffer): Buffer {
  const head = Buffer.alloc(HEADER_BYTES);
  head.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  head.writeUInt16BE(type, 2);
  head[4] = flags;
  head.writeUIntBE(body.length, 5, 3);
  return Buffer.concat([head, body]);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}
