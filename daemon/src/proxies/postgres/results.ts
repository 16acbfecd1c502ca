import type { Masker, MaskReportBuilder } from '../../masking/index.js';

/** PostgreSQL type OIDs whose binary form is their UTF-8 text, so masking them is the same as text. */
const TEXT_LIKE_BINARY = new Set([25 /* text */, 1043 /* varchar */, 1042 /* bpchar */, 19 /* name */, 114 /* json */, 142 /* xml */, 705 /* unknown */]);

export interface ResultColumn {
  name: string;
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

/**
 * Masks DataRow values for one result shape. A value a column rule wants masked that cannot be
 * rewritten safely (a binary value of a non-text type) is replaced by NULL and reported.
 */
export class RowMasker {
  private readonly plans: ColumnPlan[];

  constructor(
    readonly columns: ResultColumn[] | undefined,
    private readonly masker: Masker,
  ) {
    this.plans = (columns ?? []).map((c) => ({
      label: masker.columnRule(c.name),
      textual: c.format === 0 || TEXT_LIKE_BINARY.has(c.typeOid),
    }));
  }

  /** The masked values, or null when nothing changed (the original row is forwarded as is). */
  mask(values: (Buffer | null)[], report: MaskReportBuilder): (Buffer | null)[] | null {
    if (!this.masker.active) return null;
    let out: (Buffer | null)[] | null = null;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (value === null || value === undefined || value.length === 0) continue;
      // without a RowDescription (Execute without Describe) assume text: the Bind result formats said so or the driver reads text
      const plan = this.plans[i] ?? { label: undefined, textual: true };
      if (!plan.textual) {
        if (plan.label !== undefined) {
          out ??= values.slice();
          out[i] = null;
          report.nulled(1);
          report.add(plan.label, 1);
        }
        continue;
      }
      const text = value.toString('utf8');
      const masked = this.masker.maskCell(text, plan.label, report);
      if (masked !== text) {
        out ??= values.slice();
        out[i] = Buffer.from(masked, 'utf8');
      }
    }
    return out;
  }
}

/** The first rows of a result as the agent saw them, within a row and byte budget, for the recording. */
export class ResultSample {
  readonly rows: (string | null)[][] = [];
  rowCount = 0;
  truncated = false;
  private bytes = 0;

  constructor(
    private readonly maxRows: number,
    private readonly maxBytes: number,
  ) {}

  add(values: (Buffer | null)[], columns: ResultColumn[] | undefined): void {
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
