import { JsonMasker, type JsonMaskerOptions } from './json.js';
import { asBuffer } from './text-stream.js';

const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

/**
 * Newline-delimited JSON (and JSON text sequences): each line through the JSON masker, which starts
 * over at every line break, so a malformed line is masked as text up to its end and the next line
 * is JSON again. JSON strings cannot hold a raw line break, so cutting at `\n` never splits a value.
 */
export class NdjsonMasker {
  private readonly json: JsonMasker;

  constructor(options: JsonMaskerOptions) {
    this.json = new JsonMasker({ ...options, multiValue: true });
  }

  push(input: Uint8Array): Uint8Array {
    const chunk = asBuffer(input);
    const parts: Uint8Array[] = [];
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline < 0) {
        if (start < chunk.length) parts.push(this.json.push(chunk.subarray(start)));
        break;
      }
      parts.push(this.json.push(chunk.subarray(start, newline)), this.json.end(), chunk.subarray(newline, newline + 1));
      this.json.reset();
      start = newline + 1;
    }
    return join(parts);
  }

  end(): Uint8Array {
    return this.json.end();
  }
}

export function join(parts: Uint8Array[]): Uint8Array {
  let nonEmpty = 0;
  let last: Uint8Array = EMPTY;
  for (const part of parts) {
    if (part.length > 0) {
      nonEmpty++;
      last = part;
    }
  }
  if (nonEmpty <= 1) return last;
  return Buffer.concat(parts);
}
