import { createHash, type Hash } from 'node:crypto';
import type { TextCut } from '@airlock/shared';

/**
 * An asciicast v2 recording of one exec or shell (SSH exec and shell, Kubernetes exec and attach), bounded (pure: times are handed in). The header
 * line, then one JSON array per event: `[seconds, "o", output]`, `[seconds, "i", input]`,
 * `[seconds, "r", "COLSxROWS"]`, `[seconds, "m", marker]`. Once the events kept reach `maxBytes`
 * later output is not kept and the clip says `truncated` (with `describeOutput`, `textCut()` gives
 * the length and SHA-256 of all the output); the exit marker is always written, so a replay shows
 * how the command ended.
 */

export type CastEvent = 'o' | 'i' | 'r' | 'm';

export class AsciicastWriter {
  private readonly lines: string[] = [];
  private bytes = 0;
  private cut = false;
  /**
   * `describeOutput`: every output byte offered, kept or not, counted and hashed as it comes, for a
   * TextCut once the clip is cut. The output rather than the whole clip: after the cut only a hash
   * update per chunk is paid (no decoding, no JSON), and it is what the agent holds a copy of.
   */
  private readonly output: { hash: Hash; bytes: number; keptBytes: number } | undefined;

  constructor(
    private readonly startMs: number,
    private readonly maxBytes: number,
    header: { width: number; height: number; term?: string; title?: string },
    options: { describeOutput?: boolean } = {},
  ) {
    const head: Record<string, unknown> = { version: 2, width: header.width, height: header.height, timestamp: Math.floor(startMs / 1000) };
    if (header.term) head.env = { TERM: header.term };
    if (header.title) head.title = header.title;
    this.lines.push(JSON.stringify(head));
    if (options.describeOutput) this.output = { hash: createHash('sha256'), bytes: 0, keptBytes: 0 };
  }

  /**
   * What the clip left out, once events were dropped (needs `describeOutput`): the bytes of all the
   * output ("o" events, in the order they came), how many of them the clip kept, and their SHA-256,
   * so the output the agent received can be checked against the recording.
   */
  textCut(): TextCut | undefined {
    if (!this.cut || !this.output) return undefined;
    return { bytes: this.output.bytes, keptBytes: this.output.keptBytes, sha256: this.output.hash.copy().digest('hex') };
  }

  get truncated(): boolean {
    return this.cut;
  }

  /** Adds an event at `nowMs`; what goes over the budget is dropped (only the budget's head is kept). */
  add(nowMs: number, type: CastEvent, data: string): void {
    if (data.length === 0) return;
    if (type === 'o' && this.output) {
      const bytes = Buffer.from(data, 'utf8');
      this.output.hash.update(bytes);
      this.output.bytes += bytes.length;
      if (this.keep(nowMs, type, data)) this.output.keptBytes += bytes.length;
      return;
    }
    this.keep(nowMs, type, data);
  }

  /** An output event given as the UTF-8 bytes that went to the agent: once the clip is cut they are only counted and hashed. */
  addOutput(nowMs: number, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.output) {
      this.output.hash.update(bytes);
      this.output.bytes += bytes.length;
    }
    if (this.cut) return;
    if (this.keep(nowMs, 'o', Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8')) && this.output) this.output.keptBytes += bytes.length;
  }

  /** Writes the event's line unless it goes over the budget; whether it was kept. */
  private keep(nowMs: number, type: CastEvent, data: string): boolean {
    if (this.cut && type !== 'm') return false;
    const line = `[${secondsSince(this.startMs, nowMs)}, ${JSON.stringify(type)}, ${JSON.stringify(data)}]`;
    if (type !== 'm' && this.bytes + line.length > this.maxBytes) {
      this.cut = true;
      return false;
    }
    this.bytes += line.length;
    this.lines.push(line);
    return true;
  }

  /** The exit marker: `exit 0`, `signal TERM`. */
  exit(nowMs: number, status: number | null, signal?: string | null): void {
    this.add(nowMs, 'm', signal ? `signal ${signal}` : `exit ${status ?? 'unknown'}`);
  }

  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}

function secondsSince(startMs: number, nowMs: number): string {
  return (Math.max(0, nowMs - startMs) / 1000).toFixed(6);
}
