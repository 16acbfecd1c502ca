import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { formatBytes } from '@airlock/shared';
import type { BodyCoding, BodyPlan } from './types.js';

export interface DecodeBounds {
  /** the most bytes a body may decode to */
  maxBytes: number;
  /** the most decoded bytes per encoded byte, checked once ratioAfterBytes were decoded */
  maxRatio: number;
  /** decoded bytes before the ratio counts (a small body of zeros may compress a thousand-fold honestly) */
  ratioAfterBytes: number;
}

/** A decompression bomb, or a body past the decoded-size bound. */
export class DecodeLimitError extends Error {
  override readonly name = 'DecodeLimitError';
}

/**
 * The Transform that undoes a plan's content-codings (undefined when there are none), bounded:
 * decoding more than maxBytes, or more than maxRatio times the encoded bytes read so far, fails
 * the stream with a DecodeLimitError instead of filling memory or the agent's context.
 */
export function decoderFor(plan: BodyPlan, bounds: DecodeBounds): Transform | undefined {
  const steps = plan.decodeSteps ?? (plan.decode !== undefined ? [plan.decode] : []);
  if (steps.length === 0 || plan.withhold !== undefined) return undefined;
  return new BoundedDecoder(steps, bounds);
}

class BoundedDecoder extends Transform {
  private first: Transform | undefined;
  private last: Transform | undefined;
  private encodedBytes = 0;
  private decodedBytes = 0;
  private finishing: TransformCallback | undefined;
  private failed = false;

  constructor(
    private readonly steps: readonly BodyCoding[],
    private readonly bounds: DecodeBounds,
  ) {
    super();
  }

  /** The zlib streams, made on the first bytes: raw deflate (no zlib header, as some servers send it) is told apart then. */
  private chain(firstBytes: Uint8Array): Transform {
    const stages = this.steps.map((coding, index) => decompressor(coding, index === 0 ? firstBytes : undefined));
    for (let i = 0; i + 1 < stages.length; i++) (stages[i] as Transform).pipe(stages[i + 1] as Transform);
    for (const stage of stages) stage.on('error', (error: Error) => this.fail(new Error(`The upstream's ${this.steps.join(', ')}-encoded body could not be decoded: ${error.message}.`)));
    const last = (this.last = stages[stages.length - 1] as Transform);
    last.on('data', (bytes: Buffer) => this.decoded(bytes));
    last.on('end', () => this.finishing?.());
    return stages[0] as Transform;
  }

  private decoded(bytes: Buffer): void {
    if (this.failed) return;
    this.decodedBytes += bytes.length;
    const { maxBytes, maxRatio, ratioAfterBytes } = this.bounds;
    if (this.decodedBytes > maxBytes || (this.decodedBytes > ratioAfterBytes && this.decodedBytes > this.encodedBytes * maxRatio)) {
      this.fail(
        new DecodeLimitError(
          `The upstream's ${this.steps.join(', ')}-encoded body decoded to more than ${
            this.decodedBytes > maxBytes ? formatBytes(maxBytes) : `${maxRatio} times its encoded size`
          }; it was refused as a possible decompression bomb.`,
        ),
      );
      return;
    }
    // a reader that does not keep up pauses the decompressor, which stops taking encoded bytes
    if (!this.push(bytes)) this.last?.pause();
  }

  override _read(size: number): void {
    this.last?.resume();
    super._read(size);
  }

  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.first?.destroy();
    this.destroy(error);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.failed) return callback();
    this.encodedBytes += chunk.length;
    this.first ??= this.chain(chunk);
    this.first.write(chunk, () => callback());
  }

  override _flush(callback: TransformCallback): void {
    if (this.first === undefined || this.failed) return callback();
    this.finishing = callback;
    this.first.end();
  }
}

function decompressor(coding: BodyCoding, firstBytes: Uint8Array | undefined): Transform {
  switch (coding) {
    case 'gzip':
      return zlib.createGunzip();
    case 'br':
      return zlib.createBrotliDecompress();
    case 'deflate':
      return firstBytes === undefined || hasZlibHeader(firstBytes) ? zlib.createInflate() : zlib.createInflateRaw();
    case 'zstd': {
      const create = (zlib as unknown as Record<string, () => Transform>)['createZstdDecompress'];
      if (create === undefined) throw new Error('This Node.js runtime cannot decode zstd.');
      return create();
    }
  }
}

/** RFC 1950: CM 8 and a header checksum that is a multiple of 31. */
function hasZlibHeader(bytes: Uint8Array): boolean {
  if (bytes.length < 2) return true;
  const cmf = bytes[0] as number;
  const flg = bytes[1] as number;
  return (cmf & 0x0f) === 8 && ((cmf << 8) | flg) % 31 === 0;
}
