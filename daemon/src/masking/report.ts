import type { MaskReport } from '@airlock/shared';

/**
 * Counts what masking changed in one result, for its MaskReport. Counts are per detector name (or
 * column-rule label, or custom detector name); original values are never seen here.
 *
 * Units: a DataRow cell is one unit whichever detectors hit it. A cell that two detectors changed
 * (an email and a phone number in one comment) counts once in `cells` and once under each of the
 * two detectors, so the per-detector counts can add up to more than `cells`. Free text and
 * streams have no cells; there every match is one unit.
 */
export class MaskReportBuilder {
  /** boxed counts: one map lookup per add, not a get and a set; made on the first count (most results mask nothing) */
  private byDetector: Map<string, { count: number }> | undefined;
  private cells = 0;
  private nulledCells = 0;

  /** `cells` units changed by one detector (or column rule). */
  add(detector: string, cells = 1): void {
    if (cells <= 0) return;
    this.cells += cells;
    this.count(detector).count += cells;
  }

  private count(detector: string): { count: number } {
    const byDetector = (this.byDetector ??= new Map());
    let box = byDetector.get(detector);
    if (box === undefined) {
      box = { count: 0 };
      byDetector.set(detector, box);
    }
    return box;
  }

  /** One cell changed by each of `detectors` (distinct names): one unit in total, one under each. */
  addCell(detectors: readonly string[]): void {
    if (detectors.length === 0) return;
    this.cells++;
    for (const detector of detectors) this.count(detector).count++;
  }

  /** Values sent as NULL because they could not be rewritten (count them under their rule with add() too). */
  nulled(count = 1): void {
    if (count > 0) this.nulledCells += count;
  }

  get changed(): boolean {
    return this.cells > 0 || this.nulledCells > 0;
  }

  toReport(): MaskReport {
    const byDetector = Object.fromEntries([...(this.byDetector ?? [])].map(([detector, box]) => [detector, box.count]));
    return { cells: this.cells, byDetector, nulled: this.nulledCells };
  }
}

/** Two reports of one result (its headers' masking and its body's, say) as one. */
export function mergeMaskReports(a: MaskReport, b: MaskReport | undefined): MaskReport {
  if (!b) return a;
  const byDetector = { ...a.byDetector };
  for (const [k, v] of Object.entries(b.byDetector)) byDetector[k] = (byDetector[k] ?? 0) + v;
  return { cells: a.cells + b.cells, byDetector, nulled: (a.nulled ?? 0) + (b.nulled ?? 0) };
}
