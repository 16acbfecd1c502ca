import { MaskReportBuilder, type Masker } from '../../../masking/index.js';
import { JsonMasker, type JsonMaskerOptions } from './json.js';
import { join } from './ndjson.js';
import { TextStream, asBuffer } from './text-stream.js';

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

/** A line and its terminator (`\r\n`, `\n` or `\r`; none for the last). */
const LINE = /([^\r\n]*)(\r\n|\r|\n|$)/g;
const DATA_FIELD = /^data: ?/;

/**
 * A `text/event-stream` body, masked per event: bytes are collected until the blank line that ends
 * an event (`\n\n`, `\r\n\r\n`, `\r\r`), and the event goes out masked at once, so a streaming
 * API stays live. `data:` values that are JSON go through the JSON masker, other values and every
 * other line (`event:`, `id:`, comments) through the content detectors. An event longer than
 * bufferBytes is masked as a text stream up to its end instead of being held.
 */
export class SseMasker {
  private readonly masker: Masker;
  private readonly report: MaskReportBuilder;
  private readonly bufferBytes: number;
  private event: Buffer[] = [];
  private eventBytes = 0;
  /** the last byte ended a line (an event starts at the start of a line) */
  private afterLineEnd = true;
  /** the last byte was `\r`: a `\n` right after it belongs to the same line ending */
  private afterCr = false;
  /** the current event is longer than bufferBytes and goes through it */
  private long: TextStream | undefined;

  constructor(private readonly options: JsonMaskerOptions) {
    this.masker = options.masker;
    this.report = options.report;
    this.bufferBytes = options.bufferBytes;
  }

  push(input: Uint8Array): Uint8Array {
    const chunk = asBuffer(input);
    const parts: Uint8Array[] = [];
    let start = 0;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const b = chunk[i] as number;
      if (b === LF) {
        if (this.afterCr) {
          this.afterCr = false;
          // the `\n` of a `\r\n` whose `\r` ended the event: it goes out on its own
          if (i === start && this.eventBytes === 0 && this.long === undefined) {
            parts.push(chunk.subarray(i, i + 1));
            start = i + 1;
          }
          continue;
        }
        if (this.afterLineEnd) {
          parts.push(this.endEvent(chunk.subarray(start, i + 1)));
          start = i + 1;
          continue;
        }
        this.afterLineEnd = true;
      } else if (b === CR) {
        this.afterCr = true;
        if (this.afterLineEnd) {
          parts.push(this.endEvent(chunk.subarray(start, i + 1)));
          start = i + 1;
          continue;
        }
        this.afterLineEnd = true;
      } else {
        this.afterCr = false;
        this.afterLineEnd = false;
      }
    }
    if (start < n) parts.push(this.hold(chunk.subarray(start)));
    return join(parts);
  }

  /** An event cut off by the end of the body goes out masked. */
  end(): Uint8Array {
    if (this.long !== undefined) {
      const out = this.long.flush();
      this.long = undefined;
      return out;
    }
    if (this.eventBytes === 0) return EMPTY;
    return this.endEvent(EMPTY);
  }

  private hold(bytes: Buffer): Uint8Array {
    if (this.long !== undefined) return this.long.push(bytes);
    if (this.eventBytes + bytes.length <= this.bufferBytes) {
      this.event.push(Buffer.from(bytes));
      this.eventBytes += bytes.length;
      return EMPTY;
    }
    const long = (this.long = new TextStream(this.masker, this.report));
    const parts = this.event.map((part) => long.push(part));
    parts.push(long.push(bytes));
    this.event = [];
    this.eventBytes = 0;
    return join(parts);
  }

  private endEvent(last: Buffer): Uint8Array {
    if (this.long !== undefined) {
      const long = this.long;
      this.long = undefined;
      return join([long.push(last), long.flush()]);
    }
    const bytes = this.event.length === 0 ? last : Buffer.concat([...this.event, last]);
    this.event = [];
    this.eventBytes = 0;
    return this.maskEvent(bytes);
  }

  private maskEvent(bytes: Buffer): Uint8Array {
    if (bytes.length === 0) return bytes;
    const text = bytes.toString('utf8');
    const lines: string[] = [];
    const endings: string[] = [];
    LINE.lastIndex = 0;
    let match: RegExpExecArray | null;
    while ((match = LINE.exec(text)) !== null) {
      lines.push(match[1] as string);
      endings.push(match[2] as string);
      if (match[2] === '') break;
    }
    const data = this.maskDataAsOne(lines, endings);
    let changed = false;
    let out = '';
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      if (data !== undefined && DATA_FIELD.test(line)) {
        // the event's data, masked as one document, goes where its first line was
        if (data.text !== undefined) {
          out += data.text;
          data.text = undefined;
        }
        continue;
      }
      const masked = this.maskLine(line);
      if (masked !== line) changed = true;
      out += masked + (endings[i] as string);
    }
    return changed || data?.changed === true ? Buffer.from(out, 'utf8') : bytes;
  }

  /**
   * An event's data spread over several `data:` lines (pretty-printed JSON) is one document: the
   * lines joined with `\n`, as the client will join them, go through the JSON masker whole, so a
   * credentials object over ten lines is replaced whole. Undefined when the data is one line, not
   * JSON, or not well-formed (then each line is masked on its own); else the data lines to write.
   */
  private maskDataAsOne(lines: readonly string[], endings: readonly string[]): { text: string | undefined; changed: boolean } | undefined {
    const values: string[] = [];
    let ending = '';
    for (let i = 0; i < lines.length; i++) {
      const field = DATA_FIELD.exec(lines[i] as string);
      if (field === null) continue;
      if (values.length === 0) ending = endings[i] === '' ? '\n' : (endings[i] as string);
      values.push((lines[i] as string).slice(field[0].length));
    }
    if (values.length < 2) return undefined;
    const joined = values.join('\n');
    const first = joined.trimStart().charCodeAt(0);
    if (first !== 0x7b /* { */ && first !== 0x5b /* [ */) return undefined;
    const counts = new MaskReportBuilder();
    const json = new JsonMasker({ ...this.options, report: counts });
    const masked = Buffer.from(join([json.push(Buffer.from(joined, 'utf8')), json.end()])).toString('utf8');
    if (json.fellBack) return undefined;
    for (const [detector, count] of Object.entries(counts.toReport().byDetector)) this.report.add(detector, count);
    const text = masked === joined ? undefined : masked.split('\n').map((value) => `data: ${value}${ending}`).join('');
    if (text === undefined) {
      // unchanged: the data lines go out as they came
      let original = '';
      for (let i = 0; i < lines.length; i++) if (DATA_FIELD.test(lines[i] as string)) original += (lines[i] as string) + (endings[i] as string);
      return { text: original, changed: false };
    }
    return { text, changed: true };
  }

  private maskLine(line: string): string {
    if (line.length === 0) return line;
    const data = DATA_FIELD.exec(line);
    if (data === null) return this.masker.maskText(line, this.report);
    const prefix = data[0];
    const value = line.slice(prefix.length);
    const first = value.trimStart().charCodeAt(0);
    if (first === 0x7b /* { */ || first === 0x5b /* [ */) {
      const json = new JsonMasker(this.options);
      const masked = Buffer.from(join([json.push(Buffer.from(value, 'utf8')), json.end()])).toString('utf8');
      return masked === value ? line : prefix + masked;
    }
    const masked = this.masker.maskText(value, this.report);
    return masked === value ? line : prefix + masked;
  }
}
