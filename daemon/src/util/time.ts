const UNITS: ReadonlyArray<readonly [suffix: string, ms: number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
];

/**
 * A duration as a person would write it: 250 → "250ms", 90_000 → "1m30s", 5_400_000 → "1h30m".
 * At one second and above it is rounded to whole seconds; exact single-unit values ("5m", "30s")
 * read back with parseDuration.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cannot format ${ms} as a duration: expected a non-negative number of milliseconds`);
  const rounded = Math.round(ms);
  if (rounded < 1_000) return `${rounded}ms`;
  let rest = Math.round(rounded / 1_000) * 1_000;
  let out = '';
  for (const [suffix, unitMs] of UNITS) {
    const count = Math.floor(rest / unitMs);
    if (count > 0) {
      out += `${count}${suffix}`;
      rest -= count * unitMs;
    }
  }
  return out;
}

let isoMs = -1;
let isoText = '';

/**
 * `new Date().toISOString()` for now, formatted once per millisecond: the proxy stamps several
 * records and events per statement, and formatting a date costs more than the rest of the stamp.
 */
export function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

/** Time as the core hands it to adapters, so timeouts can be tested without waiting. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
