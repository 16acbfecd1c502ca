import type { Clock } from '../../src/util/time.js';

/** A Clock whose timers run only when the test moves time on with `advance`. */
export interface ManualClock extends Clock {
  advance(ms: number): void;
  /** timers armed and neither run nor cancelled */
  readonly pending: number;
}

export function manualClock(start = 0): ManualClock {
  let now = start;
  const timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const timer = { at: now + ms, fn, cancelled: false };
      timers.push(timer);
      return { cancel: () => void (timer.cancelled = true) };
    },
    advance(ms) {
      now += ms;
      // timers armed by a running timer wait for the next advance, as real ones would for the next tick
      for (const timer of timers.splice(0)) {
        if (timer.cancelled) continue;
        if (timer.at <= now) timer.fn();
        else timers.push(timer);
      }
    },
    get pending() {
      return timers.filter((t) => !t.cancelled).length;
    },
  };
}
