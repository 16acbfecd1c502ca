/** Shapes shared by the benchmark sections; run.ts prints them. */
export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
  /** the same work without Airlock's part, measured in the same run */
  baseline?: { name: string; value: number };
  /** what the issue asks for */
  target?: { op: '<=' | '>='; value: number };
}

export interface BenchSection {
  title: string;
  figures: BenchFigure[];
  notes?: string[];
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}

export function formatSection(section: BenchSection): string {
  const lines = [`## ${section.title}`];
  for (const f of section.figures) {
    let line = `  ${f.name}: ${fmt(f.value)} ${f.unit}`;
    if (f.baseline) line += `   (baseline ${f.baseline.name}: ${fmt(f.baseline.value)} ${f.unit}; ratio ${fmt(f.value / f.baseline.value)}x)`;
    if (f.target) {
      const met = f.target.op === '<=' ? f.value <= f.target.value : f.value >= f.target.value;
      line += `   target ${f.target.op} ${fmt(f.target.value)}: ${met ? 'met' : 'NOT met'}`;
    }
    lines.push(line);
  }
  for (const note of section.notes ?? []) lines.push(`  note: ${note}`);
  return lines.join('\n');
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(3);
}
