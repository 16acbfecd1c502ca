/** One stretch of a text to replace, and the detector (or custom detector name) that found it. */
export interface Span {
  start: number;
  end: number;
  replacement: string;
  detector: string;
}

function newSpans(): Span[] {
  return [];
}

function put(slots: Span[], index: number, start: number, end: number, replacement: string, detector: string): void {
  const slot = slots[index];
  if (slot === undefined) {
    slots.push({ start, end, replacement, detector });
    return;
  }
  slot.start = start;
  slot.end = end;
  slot.replacement = replacement;
  slot.detector = detector;
}

/**
 * The non-overlapping stretches of one text that masking replaces. Detectors run one after another
 * in priority order; a later detector cannot claim characters an earlier one claimed. One detector's
 * own matches arrive in ascending order (they come from a left-to-right scan), so they are
 * collected apart and merged in once the detector is done: claiming stays O(log n) and a text with
 * thousands of matches is not quadratic.
 *
 * Reused from text to text with its span objects pooled: masking a cell allocates nothing here.
 * Slots beyond `length` hold stale values; read spans with at().
 */
export class SpanList {
  private committed = newSpans();
  private committedCount = 0;
  private readonly pending = newSpans();
  private pendingCount = 0;
  private spare = newSpans();
  private coveredCount = 0;
  /**
   * Added to the positions claim() is given and taken off what it returns: a detector run over
   * one line of a larger text (the stream masker) claims in that text's positions.
   */
  base = 0;

  /** Committed spans, ascending and non-overlapping. */
  get length(): number {
    return this.committedCount;
  }

  /** The i-th committed span (0 <= i < length); valid until the list changes. */
  at(i: number): Span {
    return this.committed[i] as Span;
  }

  clear(): void {
    this.committedCount = 0;
    this.pendingCount = 0;
    this.coveredCount = 0;
  }

  /** Characters covered by committed spans. */
  get covered(): number {
    return this.coveredCount;
  }

  /**
   * Records a span unless it overlaps one an earlier detector claimed, or the current detector's
   * previous one (a detector claims left to right). Returns -1 when recorded, else the end of the
   * span in the way, so the caller can resume scanning past it.
   */
  claim(relativeStart: number, relativeEnd: number, replacement: string, detector: string): number {
    const base = this.base;
    const start = relativeStart + base;
    const end = relativeEnd + base;
    if (this.pendingCount > 0) {
      const previous = this.pending[this.pendingCount - 1] as Span;
      if (start < previous.end) return previous.end - base;
    }
    const count = this.committedCount;
    if (count > 0) {
      const committed = this.committed;
      // first committed span ending after `start`; it overlaps when it also starts before `end`
      let lo = 0;
      let hi = count;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((committed[mid] as Span).end <= start) lo = mid + 1;
        else hi = mid;
      }
      if (lo < count) {
        const next = committed[lo] as Span;
        if (next.start < end) return next.end - base;
      }
    }
    put(this.pending, this.pendingCount++, start, end, replacement, detector);
    return -1;
  }

  /** Merges the current detector's spans in. */
  commit(): void {
    const pendingCount = this.pendingCount;
    if (pendingCount === 0) return;
    const pending = this.pending;
    const committed = this.committed;
    const count = this.committedCount;
    for (let j = 0; j < pendingCount; j++) this.coveredCount += (pending[j] as Span).end - (pending[j] as Span).start;
    if (count === 0 || (committed[count - 1] as Span).end <= (pending[0] as Span).start) {
      for (let j = 0; j < pendingCount; j++) {
        const span = pending[j] as Span;
        put(committed, count + j, span.start, span.end, span.replacement, span.detector);
      }
      this.committedCount = count + pendingCount;
      this.pendingCount = 0;
      return;
    }
    const merged = this.spare;
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < count || j < pendingCount) {
      const takeCommitted = j >= pendingCount || (i < count && (committed[i] as Span).start <= (pending[j] as Span).start);
      const span = (takeCommitted ? committed[i++] : pending[j++]) as Span;
      put(merged, k++, span.start, span.end, span.replacement, span.detector);
    }
    this.spare = committed;
    this.committed = merged;
    this.committedCount = k;
    this.pendingCount = 0;
  }

  /**
   * `text` from `from` to `to` with the spans inside replaced. A span that starts before `from` and
   * ends after it (its head already went out) contributes its replacement once.
   */
  render(text: string, from = 0, to = text.length): string {
    const count = this.committedCount;
    if (count === 1 && from === 0 && to === text.length) {
      const only = this.committed[0] as Span;
      if (only.start === 0 && only.end === to) return only.replacement;
    }
    let out = '';
    let copied = from;
    for (let i = 0; i < count; i++) {
      const span = this.committed[i] as Span;
      if (span.end <= from) continue;
      if (span.start >= to) break;
      if (span.start > copied) out += text.slice(copied, span.start);
      out += span.replacement;
      copied = span.end;
    }
    if (copied < to) out += text.slice(copied, to);
    return out;
  }
}
