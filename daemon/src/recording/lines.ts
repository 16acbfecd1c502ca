import { createReadStream, promises as fs } from 'node:fs';

const NEWLINE = 0x0a;
const READ_CHUNK_BYTES = 1 << 20;

export interface ScannedLine {
  /** the line's bytes without the newline; only valid during the callback */
  bytes: Buffer;
  /** 0-based line number */
  index: number;
  /** byte offset of the line's first byte in the file */
  offset: number;
  /** false for a last line with no trailing newline */
  complete: boolean;
}

/** Where to start scanning: a byte offset that begins a line, and that line's 0-based number. */
export interface LineCursor {
  offset: number;
  index: number;
}

/**
 * Streams a file line by line at the byte level, so a line's hash covers exactly the bytes on disk even
 * when they are not valid UTF-8. `onLine` returns false to stop early. Lines are split only on '\n'.
 */
export async function scanLines(
  file: string,
  onLine: (line: ScannedLine) => boolean | void,
  from: LineCursor = { offset: 0, index: 0 },
): Promise<void> {
  const stream = createReadStream(file, { start: from.offset, highWaterMark: READ_CHUNK_BYTES });
  let index = from.index;
  let lineOffset = from.offset;
  let carry: Buffer[] = [];
  let carryBytes = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let pos = 0;
      for (;;) {
        const newline = chunk.indexOf(NEWLINE, pos);
        if (newline === -1) break;
        let bytes = chunk.subarray(pos, newline);
        if (carryBytes > 0) {
          carry.push(bytes);
          bytes = Buffer.concat(carry, carryBytes + bytes.length);
          carry = [];
          carryBytes = 0;
        }
        if (onLine({ bytes, index, offset: lineOffset, complete: true }) === false) return;
        lineOffset += bytes.length + 1;
        index += 1;
        pos = newline + 1;
      }
      if (pos < chunk.length) {
        carry.push(chunk.subarray(pos));
        carryBytes += chunk.length - pos;
      }
    }
    if (carryBytes > 0) onLine({ bytes: Buffer.concat(carry, carryBytes), index, offset: lineOffset, complete: false });
  } finally {
    stream.destroy();
  }
}

/** The first line of a file (complete or not), reading no more than needed; null for an empty file. */
export async function readFirstLine(file: string): Promise<{ bytes: Buffer; complete: boolean } | null> {
  let first: { bytes: Buffer; complete: boolean } | null = null;
  await scanLines(file, (line) => {
    first = { bytes: Buffer.from(line.bytes), complete: line.complete };
    return false;
  });
  return first;
}

/**
 * The last complete lines of a file, newest last, reading backwards from the end in growing windows
 * until `count` complete lines are in hand (or the file start is reached). A trailing fragment without
 * a newline is returned separately as `torn`.
 */
export async function readLastLines(
  file: string,
  count: number,
): Promise<{ lines: Buffer[]; torn: Buffer | null; size: number }> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    let window = Math.min(size, 64 * 1024);
    for (;;) {
      const start = size - window;
      const buffer = Buffer.alloc(window);
      let filled = 0;
      while (filled < window) {
        const { bytesRead } = await handle.read(buffer, filled, window - filled, start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      const text = buffer.subarray(0, filled);
      const lastNewline = text.lastIndexOf(NEWLINE);
      const torn = lastNewline === text.length - 1 ? null : Buffer.from(text.subarray(lastNewline + 1));
      const lines: Buffer[] = [];
      let end = lastNewline;
      while (end >= 0 && lines.length < count) {
        const previous = end === 0 ? -1 : text.lastIndexOf(NEWLINE, end - 1);
        // A line whose start lies before the window is incomplete here: read a wider window.
        if (previous === -1 && start > 0) break;
        lines.unshift(Buffer.from(text.subarray(previous + 1, end)));
        end = previous;
      }
      if (lines.length >= count || start === 0) return { lines, torn, size };
      window = Math.min(size, window * 4);
    }
  } finally {
    await handle.close();
  }
}
