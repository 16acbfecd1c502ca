import { oneLineText } from '@airlock/shared';

/** The last column is never narrower than this, however narrow the terminal. */
const MIN_LAST_COLUMN = 40;

/**
 * Rows as aligned lines; the last column is not padded. With `maxWidth` the last column wraps onto
 * continuation lines under itself instead of running past the edge: it is never cut.
 */
export function tableLines(headers: string[], rows: string[][], maxWidth?: number): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const lastIndex = headers.length - 1;
  const indent = widths.slice(0, lastIndex).reduce((sum, w) => sum + w + 2, 0);
  const lastWidth = maxWidth === undefined ? Number.POSITIVE_INFINITY : Math.max(MIN_LAST_COLUMN, maxWidth - indent);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const lines = [line(headers)];
  for (const row of rows) {
    const [first = '', ...rest] = wrapText(row[lastIndex] ?? '', lastWidth);
    lines.push(line([...row.slice(0, lastIndex), first]));
    for (const more of rest) lines.push(' '.repeat(indent) + more);
  }
  return lines;
}

/** Prints rows as an aligned table; the last column is not padded (and wraps within `maxWidth`). */
export function printTable(headers: string[], rows: string[][], maxWidth?: number): void {
  for (const line of tableLines(headers, rows, maxWidth)) console.log(line);
}

/** The terminal's width, or undefined when output goes to a file or a pipe (nothing wraps there). */
export function terminalWidth(): number | undefined {
  return process.stdout.isTTY ? process.stdout.columns : undefined;
}

/**
 * Text on one line (unprintable characters escaped), then broken into lines of at most `width`:
 * after a "; " where a statement list allows it, so a statement stays on one line when it fits,
 * else at a space; a word longer than a line is split. Nothing is left out.
 */
export function wrapText(text: string, width: number): string[] {
  if (!(width >= 1)) throw new RangeError(`width: expected at least 1, got ${width}`);
  const flat = oneLineText(text);
  if (flat.length <= width) return [flat];
  const lines: string[] = [];
  let current = '';
  const place = (piece: string): void => {
    if (current === '') current = piece;
    else if (current.length + 1 + piece.length <= width) current += ` ${piece}`;
    else {
      lines.push(current);
      current = piece;
    }
  };
  for (const segment of flat.split(/(?<=;) /)) {
    if (segment.length <= width) {
      place(segment);
      continue;
    }
    for (let word of segment.split(' ')) {
      while (word.length > width) {
        if (current !== '') lines.push(current);
        current = '';
        lines.push(word.slice(0, width));
        word = word.slice(width);
      }
      if (word !== '') place(word);
    }
  }
  if (current !== '') lines.push(current);
  return lines;
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** "in 4m 10s" / "3m ago" */
export function relativeTime(iso: string, now = Date.now()): string {
  const delta = Date.parse(iso) - now;
  const abs = Math.abs(delta);
  const s = Math.round(abs / 1000);
  const text = s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : s < 86400 ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m` : `${Math.floor(s / 86400)}d`;
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}
