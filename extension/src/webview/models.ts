import type { MaskReport, PgResultDetail } from '@airlock/shared';

/** Pure helpers behind the webviews' rendering, tested without a browser. */

export interface TableCell {
  text: string;
  isNull: boolean;
  /** set on a cell masking changed: the column rule or detectors, for the highlight and tooltip */
  maskedBy?: string[];
  nulled?: boolean;
}

export interface TableModel {
  columns: string[];
  rows: TableCell[][];
  maskedCells: number;
}

/** The recorded rows with each masked cell marked; columns are named `column 1..n` when the result had no RowDescription. */
export function tableModel(sample: PgResultDetail): TableModel {
  const width = Math.max(sample.columns?.length ?? 0, ...sample.rows.map((r) => r.length));
  const columns = Array.from({ length: width }, (_, i) => sample.columns?.[i] ?? `column ${i + 1}`);
  const marks = new Map<string, PgResultDetail['masks'][number]>();
  for (const m of sample.masks) marks.set(`${m.row}:${m.column}`, m);
  const rows = sample.rows.map((row, r) =>
    columns.map((_, c): TableCell => {
      const value = row[c] ?? null;
      const mark = marks.get(`${r}:${c}`);
      return { text: value ?? 'NULL', isNull: value === null, ...(mark ? { maskedBy: mark.by, ...(mark.nulled ? { nulled: true } : {}) } : {}) };
    }),
  );
  return { columns, rows, maskedCells: sample.masks.length };
}

export function maskTooltip(cell: TableCell): string | undefined {
  if (!cell.maskedBy) return undefined;
  const what = cell.maskedBy.length === 1 ? `masked by ${cell.maskedBy[0]}` : `masked by ${cell.maskedBy.join(', ')}`;
  return cell.nulled ? `${what} (a binary value that could not be rewritten: sent as NULL)` : what;
}

/** Per-detector counts, largest first. */
export function detectorCounts(report: MaskReport | undefined): { label: string; cells: number }[] {
  if (!report) return [];
  return Object.entries(report.byDetector)
    .map(([label, cells]) => ({ label, cells }))
    .sort((a, b) => b.cells - a.cells || a.label.localeCompare(b.label));
}

/** mm:ss.t for the player clock; h:mm:ss past an hour. */
export function clock(ms: number): string {
  const total = Math.max(0, ms) / 1000;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = s.toFixed(1).padStart(4, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${String(m).padStart(2, '0')}:${ss}`;
}

/** The window of a fixed-row-height list to render: rows in view plus `overscan` either side. */
export function visibleRange(scrollTop: number, viewportHeight: number, rowHeight: number, count: number, overscan = 8): { start: number; end: number } {
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const last = Math.ceil((Math.max(0, scrollTop) + viewportHeight) / rowHeight);
  return { start: Math.max(0, first - overscan), end: Math.min(count, last + overscan) };
}


/** A stretch of a masked text: plain, or a mask mark with the detector or rule that put it there. */
export interface TextSegment {
  text: string;
  maskedBy?: string;
}

/** What the built-in detectors write in place of a match (daemon/src/masking/detectors.ts MASK_FORMS). */
const BUILT_IN_FORMS: Record<string, string> = {
  '[EMAIL]': 'email',
  '[IBAN]': 'iban',
  '[PHONE]': 'phone',
  '[NATIONAL-ID]': 'national-id',
  '[CLOUD-KEY]': 'cloud-key',
  '[TOKEN]': 'token',
  '[JWT]': 'jwt',
  '[PRIVATE-KEY]': 'private-key',
  '[PASSWORD]': 'connection-password',
};

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A masked text (a response body, an output excerpt) cut into plain stretches and mask marks. Only
 * forms of detectors or rules the result's mask report counts are marked, so a `[TOKEN]` the
 * upstream itself wrote in a body that nothing masked is not shown as masked. The originals are
 * never recorded: a mark can be pointed at, never revealed.
 */
export function maskSegments(text: string, report: MaskReport | undefined): TextSegment[] {
  const used = Object.entries(report?.byDetector ?? {}).filter(([, n]) => n > 0).map(([label]) => label);
  if (used.length === 0) return [{ text }];
  const forms = new Map<string, string>();
  let cards = false;
  for (const [form, detector] of Object.entries(BUILT_IN_FORMS)) if (used.includes(detector)) forms.set(form, detector);
  for (const label of used) {
    if (label === 'payment-card') cards = true;
    // column rules write [label]; custom detectors their label or their name upper-cased
    else if (!Object.values(BUILT_IN_FORMS).includes(label)) {
      forms.set(`[${label}]`, label);
      forms.set(`[${label.toUpperCase()}]`, label);
    }
  }
  const alternatives = [...forms.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
  if (cards) alternatives.push('\\*{4}\\d{4}');
  if (alternatives.length === 0) return [{ text }];
  const pattern = new RegExp(alternatives.join('|'), 'g');
  const segments: TextSegment[] = [];
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    if (m.index > last) segments.push({ text: text.slice(last, m.index) });
    segments.push({ text: m[0], maskedBy: forms.get(m[0]) ?? 'payment-card' });
    last = m.index + m[0].length;
  }
  if (last < text.length) segments.push({ text: text.slice(last) });
  return segments;
}
