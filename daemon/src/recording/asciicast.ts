import { createHash, type Hash } from 'node:crypto';
import type { TextCut } from '@airlock/shared';

/**
 * An asciicast v2 recording of one exec or shell (SSH exec and shell, Kubernetes exec and attach), bounded (pure: times are handed in). The header
 * line, then one JSON array per event: `[seconds, "o", output]`, `[seconds, "i", input]`,
 * `[seconds, "r", "COLSxROWS"]`, `[seconds, "m", marker]`. Once the events kept reach `maxBytes`
 * later output is not kept and the clip says `truncated` (with `describeWhole`, `textCut()` gives
 * the whole clip's length and SHA-256); the exit marker is always written, so a
 * replay shows how the command ended.
 */

export type CastEvent = 'o' | 'i' | 'r' | 'm';

export class AsciicastWriter {
  private readonly lines: string[] = [];
  private bytes = 0;
  private cut = false;
  /** `describeWhole`: the whole clip's length and hash, for a TextCut once it is cut */
  private readonly whole: { hash: Hash; bytes: number } | undefined;

  constructor(
    private readonly startMs: number,
    private readonly maxBytes: number,
    header: { width: number; height: number; term?: string; title?: string },
    options: { describeWhole?: boolean } = {},
  ) {
    const head: Record<string, unknown> = { version: 2, width: header.width, height: header.height, timestamp: Math.floor(startMs / 1000) };
    if (header.term) head.env = { TERM: header.term };
    if (header.title) head.title = header.title;
    this.lines.push(JSON.stringify(head));
    if (options.describeWhole) {
      this.whole = { hash: createHash('sha256'), bytes: 0 };
      this.account(this.lines[0]!);
    }
  }

  /** The clip as a TextCut when events were dropped (needs `describeWhole`). */
  textCut(): TextCut | undefined {
    if (!this.cut || !this.whole) return undefined;
    return { bytes: this.whole.bytes, keptBytes: Buffer.byteLength(this.toString()), sha256: this.whole.hash.copy().digest('hex') };
  }

  private account(line: string): void {
    if (!this.whole) return;
    const text = line + '\n';
    this.whole.hash.update(text);
    this.whole.bytes += Buffer.byteLength(text);
  }

  get truncated(): boolean {
    return this.cut;
  }

  /** Adds an event at `nowMs`; what goes over the budget is dropped (only the budget's head is kept). */
  add(nowMs: number, type: CastEvent, data: string): void {
    if (data.length === 0) return;
    if (this.cut && type !== 'm' && !this.whole) return;
    const line = `[${secondsSince(this.startMs, nowMs)}, ${JSON.stringify(type)}, ${JSON.stringify(data)}]`;
    this.account(line);
    if (this.cut && type !== 'm') return;
    if (type !== 'm' && this.bytes + line.length > this.maxBytes) {
      this.cut = true;
      return;
    }
    this.bytes += line.length;
    this.lines.push(line);
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
