import type { PgResultDetail } from '@airlock/shared';
import { NOTHING_TO_MASK, type Masker, type MaskReportBuilder } from '../../masking/index.js';
import { ProtocolError } from './protocol.js';
import { BUILTIN_BINARY_TYPES, encodeRewritten, type BinaryTypes } from './binary-values.js';

/** The mark and report name of a binary value withheld because Airlock could not read it. */
export const UNINSPECTABLE = 'uninspectable';

const BYTEA_OID = 17;

/** Decoded binary values up to this length, in ASCII, are screened before the detectors run (numbers, uuids, short texts). */
const SCREEN_SCRATCH_BYTES = 1024;

export interface ResultColumn {
  name: string;
  /** where the value comes from, as RowDescription says: a table's OID and column number (0 when computed) */
  tableOid?: number;
  attnum?: number;
  typeOid: number;
  /** 0 text, 1 binary */
  format: number;
}

/**
 * How one column's values are read for masking; worked out once per RowDescription, not per row.
 * 'text': the wire bytes are the value's UTF-8 text (text format, or a binary text-like type);
 * 'jsonb': a version byte, then the text; 'binary': decoded by type (binary-values.ts).
 */
interface ColumnPlan {
  label: string | undefined;
  mode: 'text' | 'jsonb' | 'binary';
  typeOid: number;
}

/** a binary column of a type not known: OID 0 is no type, so every value is uninspectable */
const UNTYPED_BINARY_PLAN: ColumnPlan = { label: undefined, mode: 'binary', typeOid: 0 };

/** One masked cell of a row: which column, changed by which column rule or detectors. */
export interface CellMark {
  column: number;
  by: string[];
  /** a binary value sent as NULL because it could not be rewritten or read */
  nulled?: boolean;
}

/** A value of the row replaced: new bytes, or null for SQL NULL. */
interface CellChange {
  start: number;
  end: number;
  value: string | Buffer | null;
}

/**
 * Masks DataRow values for one result shape. Binary values are decoded by type and masked as their
 * text would be: a text-like value (text, varchar, json, jsonb, ...) is rewritten; a value of any
 * other type that masking would change, or that Airlock cannot decode, is sent as NULL and counted
 * in the report's `nulled`, so nothing unread reaches the agent while masking is on.
 */
export class RowMasker {
  private readonly plans: ColumnPlan[];
  /** decoded binary values are written here to be screened as bytes; made on the first one */
  private scratchBuffer: Buffer | undefined;

  /**
   * @param labels the column rule that applies to each column, when worked out from where its
   *   values come from (source columns through aliases, views and whole-row values); by default the
   *   rule matching the output name
   */
  constructor(
    readonly columns: ResultColumn[] | undefined,
    readonly masker: Masker,
    readonly types: BinaryTypes = BUILTIN_BINARY_TYPES,
    labels?: readonly (string | undefined)[],
  ) {
    this.plans = (columns ?? []).map((c, i) => {
      const rewrite = c.format === 1 ? types.rewriteForm(c.typeOid) : 'utf8';
      return { label: labels ? labels[i] : masker.columnRule(c.name), mode: rewrite === 'utf8' ? 'text' : rewrite === 'jsonb' ? 'jsonb' : 'binary', typeOid: c.typeOid };
    });
  }


  /**
   * Masks one DataRow body. Returns the rebuilt message (type, length and every value's length
   * recomputed), or null when nothing changed and the original bytes go on as they are. Values are
   * decoded straight from the body and unchanged ones copied as byte ranges: this runs per row.
   */
  maskRow(body: Buffer, report: MaskReportBuilder, marks?: CellMark[]): Buffer | null {
    if (!this.masker.active) return null;
    const count = body.readInt16BE(0);
    let changes: CellChange[] | undefined;
    let offset = 2;
    for (let i = 0; i < count; i++) {
      if (offset + 4 > body.length) throw new ProtocolError('DataRow shorter than its columns');
      const len = body.readInt32BE(offset);
      const start = offset + 4;
      offset = start + Math.max(len, 0);
      if (len <= 0) continue;
      if (offset > body.length) throw new ProtocolError('DataRow value longer than the message');
      // a value past the described columns: withheld, never passed unread
      const plan = this.plans[i] ?? UNTYPED_BINARY_PLAN;
      if (plan.mode !== 'text') {
        const change = this.maskBinary(plan, body, start, offset, i, report, marks);
        if (change !== undefined) (changes ??= []).push({ start: start - 4, end: offset, value: change });
        continue;
      }
      // most cells cannot hold anything a detector looks for: screened on the bytes, before decoding them
      const screened = plan.label === undefined ? this.masker.screenBytes(body, start, offset) : -1;
      if (screened === NOTHING_TO_MASK) continue;
      const text = body.toString('utf8', start, offset);
      const labels = marks ? [] : undefined;
      const masked = this.masker.maskCell(text, plan.label, report, screened, labels);
      if (masked !== text) {
        (changes ??= []).push({ start: start - 4, end: offset, value: masked });
        if (labels && labels.length > 0) marks!.push({ column: i, by: labels });
      }
    }
    if (!changes) return null;
    let size = 5 + body.length;
    for (const c of changes) size += (c.value === null ? 4 : 4 + (typeof c.value === 'string' ? Buffer.byteLength(c.value) : c.value.length)) - (c.end - c.start);
    const out = Buffer.allocUnsafe(size);
    out[0] = 0x44; // 'D'
    out.writeInt32BE(size - 1, 1);
    let at = 5;
    let from = 0;
    for (const c of changes) {
      at += body.copy(out, at, from, c.start);
      if (c.value === null) at = out.writeInt32BE(-1, at);
      else {
        const written = typeof c.value === 'string' ? out.write(c.value, at + 4, 'utf8') : c.value.copy(out, at + 4);
        out.writeInt32BE(written, at);
        at += 4 + written;
      }
      from = c.end;
    }
    body.copy(out, at, from);
    return out;
  }

  private get scratch(): Buffer {
    return (this.scratchBuffer ??= Buffer.allocUnsafe(SCREEN_SCRATCH_BYTES));
  }

  /** One binary value that is not plain UTF-8 text: undefined when it goes on unchanged, else its replacement (null: NULL). */
  private maskBinary(plan: ColumnPlan, body: Buffer, start: number, end: number, column: number, report: MaskReportBuilder, marks: CellMark[] | undefined): Buffer | null | undefined {
    if (plan.mode === 'jsonb' && plan.label === undefined && body[start] === 1 && this.masker.screenBytes(body, start + 1, end) === NOTHING_TO_MASK) return undefined;
    const inspection = this.types.inspect(plan.typeOid, body, start, end);
    if (inspection.kind === 'uninspectable') {
      report.nulled(1);
      report.add(UNINSPECTABLE, 1);
      marks?.push({ column, by: [UNINSPECTABLE], nulled: true });
      return null;
    }
    if (inspection.kind === 'clean') {
      if (plan.label === undefined) return undefined;
      report.nulled(1);
      report.add(plan.label, 1);
      marks?.push({ column, by: [plan.label], nulled: true });
      return null;
    }
    let screened = -1;
    if (plan.label === undefined) {
      // the decoded text is screened as text-format bytes are, so a number or a uuid costs no detector pass
      const length = asciiInto(inspection.text, this.scratch);
      if (length >= 0) {
        screened = this.masker.screenBytes(this.scratch, 0, length);
        if (screened === NOTHING_TO_MASK) return undefined;
      }
    }
    const labels = marks ? [] : undefined;
    const masked = this.masker.maskCell(inspection.text, plan.label, report, screened, labels);
    if (masked === inspection.text) return undefined;
    if (inspection.rewritable) {
      if (labels && labels.length > 0) marks!.push({ column, by: labels });
      return encodeRewritten(inspection.rewritable, masked);
    }
    report.nulled(1);
    if (labels) marks!.push({ column, by: labels, nulled: true });
    return null;
  }
}

export type SampleMask = PgResultDetail['masks'][number];

/** The first rows of a result as the agent saw them, within a row and byte budget, for the recording. */
export class ResultSample {
  readonly rows: (string | null)[][] = [];
  /** masked cells of the kept rows, so a viewer can show what was masked and why (never the original) */
  readonly masks: SampleMask[] = [];
  rowCount = 0;
  truncated = false;
  private bytes = 0;

  constructor(
    private readonly maxRows: number,
    private readonly maxBytes: number,
  ) {}

  /** Whether the next row would still be kept: decoding a row for the sample costs, so callers ask first. */
  get wantsRows(): boolean {
    return !this.truncated && this.rows.length < this.maxRows;
  }

  /** Counts a row without keeping it. */
  countOnly(): void {
    this.rowCount++;
    if (this.rows.length >= this.maxRows) this.truncated = true;
  }

  add(values: (Buffer | null)[], columns: ResultColumn[] | undefined, marks?: readonly CellMark[], types: BinaryTypes = BUILTIN_BINARY_TYPES): void {
    this.rowCount++;
    if (this.truncated) return;
    if (this.rows.length >= this.maxRows) {
      this.truncated = true;
      return;
    }
    const row: (string | null)[] = [];
    let size = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === null || v === undefined) row.push(null);
      else {
        const text = columns?.[i]?.format === 1 ? binarySampleText(columns[i]!.typeOid, v, types) : v.toString('utf8');
        size += text.length;
        row.push(text);
      }
    }
    if (this.bytes + size > this.maxBytes) {
      this.truncated = true;
      return;
    }
    this.bytes += size;
    if (marks) for (const m of marks) this.masks.push(m.nulled ? { row: this.rows.length, column: m.column, by: m.by, nulled: true } : { row: this.rows.length, column: m.column, by: m.by });
    this.rows.push(row);
  }
}

/** Copies an ASCII string into `out` byte for byte (Buffer.write costs more for short strings); -1 when it is not ASCII or does not fit. */
function asciiInto(text: string, out: Buffer): number {
  if (text.length > out.length) return -1;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return -1;
    out[i] = code;
  }
  return text.length;
}

/**
 * A binary value as the recording shows it: its text form when Airlock can decode it (the value
 * went through masking as that text), else its first bytes in hex.
 */
function binarySampleText(typeOid: number, value: Buffer, types: BinaryTypes): string {
  const inspection = types.inspect(typeOid, value);
  // bytea is inspected as latin1, which is not how anyone reads it
  if (inspection.kind === 'text' && typeOid !== BYTEA_OID) return inspection.text;
  return `\\x${value.subarray(0, 64).toString('hex')}${value.length > 64 ? '…' : ''}`;
}
