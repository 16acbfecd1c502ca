import type { PgResultDetail } from '@airlock/shared';
import { NOTHING_TO_MASK, type Masker, type MaskReportBuilder } from '../../masking/index.js';
import { ProtocolError } from './protocol.js';

/** PostgreSQL type OIDs whose binary form is their UTF-8 text, so masking them is the same as text. */
const TEXT_LIKE_BINARY = new Set([25 /* text */, 1043 /* varchar */, 1042 /* bpchar */, 19 /* name */, 114 /* json */, 142 /* xml */, 705 /* unknown */]);

export interface ResultColumn {
  name: string;
  /** where the value comes from, as RowDescription says: a table's OID and column number (0 when computed) */
  tableOid?: number;
  attnum?: number;
  typeOid: number;
  /** 0 text, 1 binary */
  format: number;
}

/** How one column's values are masked; worked out once per RowDescription, not per row. */
interface ColumnPlan {
  label: string | undefined;
  /** the value can be decoded as UTF-8 text */
  textual: boolean;
}

/** The plan for a value beyond the described columns. */
const UNDESCRIBED: ColumnPlan = { label: 'UNDESCRIBED', textual: false };

/** One masked cell of a row: which column, changed by which column rule or detectors. */
export interface CellMark {
  column: number;
  by: string[];
  /** a binary value sent as NULL because it could not be rewritten */
  nulled?: boolean;
}

/**
 * Masks DataRow values for one result shape. A value a column rule wants masked that cannot be
 * rewritten safely (a binary value of a non-text type) is replaced by NULL and reported.
 */
export class RowMasker {
  private readonly plans: ColumnPlan[];

  /**
   * @param labels the column rule that applies to each column, when worked out from where its
   *   values come from (source columns through aliases, views and whole-row values); by default the
   *   rule matching the output name
   */
  constructor(
    readonly columns: ResultColumn[] | undefined,
    readonly masker: Masker,
    labels?: readonly (string | undefined)[],
  ) {
    this.plans = (columns ?? []).map((c, i) => ({
      label: labels ? labels[i] : masker.columnRule(c.name),
      textual: c.format === 0 || TEXT_LIKE_BINARY.has(c.typeOid),
    }));
  }

  /**
   * Masks one DataRow body. Returns the rebuilt message (type, length and every value's length
   * recomputed), or null when nothing changed and the original bytes go on as they are. Values are
   * decoded straight from the body and unchanged ones copied as byte ranges: this runs per row.
   */
  maskRow(body: Buffer, report: MaskReportBuilder, marks?: CellMark[]): Buffer | null {
    if (!this.masker.active) return null;
    const count = body.readInt16BE(0);
    let changes: { start: number; end: number; text: string | null }[] | undefined;
    let offset = 2;
    for (let i = 0; i < count; i++) {
      if (offset + 4 > body.length) throw new ProtocolError('DataRow shorter than its columns');
      const len = body.readInt32BE(offset);
      const start = offset + 4;
      offset = start + Math.max(len, 0);
      if (len <= 0) continue;
      if (offset > body.length) throw new ProtocolError('DataRow value longer than the message');
      // a value of a column nobody described cannot be planned for: withheld, never passed unread
      const plan = this.plans[i] ?? UNDESCRIBED;
      if (!plan.textual) {
        if (plan.label !== undefined) {
          (changes ??= []).push({ start: start - 4, end: offset, text: null });
          report.nulled(1);
          report.add(plan.label, 1);
          marks?.push({ column: i, by: [plan.label], nulled: true });
        }
        continue;
      }
      // most cells cannot hold anything a detector looks for: screened on the bytes, before decoding them
      const screened = plan.label === undefined ? this.masker.screenBytes(body, start, offset) : -1;
      if (screened === NOTHING_TO_MASK) continue;
      const text = body.toString('utf8', start, offset);
      const labels = marks ? [] : undefined;
      const masked = this.masker.maskCell(text, plan.label, report, screened, labels);
      if (masked !== text) {
        (changes ??= []).push({ start: start - 4, end: offset, text: masked });
        if (labels && labels.length > 0) marks!.push({ column: i, by: labels });
      }
    }
    if (!changes) return null;
    let size = 5 + body.length;
    for (const c of changes) size += (c.text === null ? 4 : 4 + Buffer.byteLength(c.text)) - (c.end - c.start);
    const out = Buffer.allocUnsafe(size);
    out[0] = 0x44; // 'D'
    out.writeInt32BE(size - 1, 1);
    let at = 5;
    let from = 0;
    for (const c of changes) {
      at += body.copy(out, at, from, c.start);
      if (c.text === null) at = out.writeInt32BE(-1, at);
      else {
        const written = out.write(c.text, at + 4, 'utf8');
        out.writeInt32BE(written, at);
        at += 4 + written;
      }
      from = c.end;
    }
    body.copy(out, at, from);
    return out;
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

  add(values: (Buffer | null)[], columns: ResultColumn[] | undefined, marks?: readonly CellMark[]): void {
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
        const binary = columns?.[i]?.format === 1 && !TEXT_LIKE_BINARY.has(columns[i]!.typeOid);
        const text = binary ? `\\x${v.subarray(0, 64).toString('hex')}${v.length > 64 ? '…' : ''}` : v.toString('utf8');
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

/**
 * Masks one COPY TO STDOUT row field by field, as DataRow cells are. CopyOutResponse says only
 * "textual", not text or csv: a row with a tab is split on tabs (text format), otherwise on commas
 * outside double quotes (csv). Replacements never contain a delimiter, quote or backslash.
 */
export function maskCopyRow(row: string, masker: Masker, report: MaskReportBuilder): string {
  const eol = row.endsWith('\r\n') ? '\r\n' : row.endsWith('\n') ? '\n' : '';
  const body = eol ? row.slice(0, -eol.length) : row;
  if (body.includes('\t')) {
    const fields = body.split('\t');
    let changed = false;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (f === '\\N' || f === '') continue;
      const masked = masker.maskCell(f, undefined, report);
      if (masked !== f) {
        fields[i] = masked;
        changed = true;
      }
    }
    return changed ? fields.join('\t') + eol : row;
  }
  const fields = splitCsv(body);
  let changed = false;
  const out = fields.map(({ value, quoted }) => {
    if (value === '') return quoted ? '""' : '';
    const masked = masker.maskCell(value, undefined, report);
    if (masked !== value) changed = true;
    return quoted || /[",\n\r]/.test(masked) ? `"${masked.replace(/"/g, '""')}"` : masked;
  });
  return changed ? out.join(',') + eol : row;
}

function splitCsv(line: string): { value: string; quoted: boolean }[] {
  const fields: { value: string; quoted: boolean }[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      while (i < line.length) {
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else value += line[i++];
      }
      fields.push({ value, quoted: true });
    } else {
      const comma = line.indexOf(',', i);
      const end = comma < 0 ? line.length : comma;
      fields.push({ value: line.slice(i, end), quoted: false });
      i = end;
    }
    if (line[i] === ',') i++;
    else break;
  }
  return fields;
}
