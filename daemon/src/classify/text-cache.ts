function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Classifications by exact text, least recently used evicted first, so that what an agent repeats
 * (`git status`, pgbench's statements) costs a Map lookup instead of a parse. A Map iterates in
 * insertion order: a hit is deleted and re-inserted to become the newest, and the first key is the
 * oldest. Results are frozen because every caller of the same text shares one object. Bounded by
 * the characters of its keys too, as a count of entries alone does not bound its memory.
 */
export class ClassificationCache<T> {
  private readonly entries = new Map<string, T>();
  private totalChars = 0;

  /**
   * @param classifyText the classifier whose results are kept
   * @param maxEntries how many texts to keep
   * @param maxTextLength longer texts are classified every time rather than kept as keys
   * @param maxTotalChars characters of all kept texts together; the oldest go first
   */
  constructor(
    private readonly classifyText: (text: string) => T,
    readonly maxEntries: number,
    readonly maxTextLength: number,
    readonly maxTotalChars: number,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries: expected a positive whole number, got ${maxEntries}`);
    if (!Number.isInteger(maxTotalChars) || maxTotalChars < maxTextLength) {
      throw new RangeError(`maxTotalChars: expected a whole number of at least maxTextLength (${maxTextLength}), got ${maxTotalChars}`);
    }
  }

  /** characters of all kept texts */
  get chars(): number {
    return this.totalChars;
  }

  get size(): number {
    return this.entries.size;
  }

  classify(text: string): T {
    const cached = this.entries.get(text);
    if (cached !== undefined) {
      this.entries.delete(text);
      this.entries.set(text, cached);
      return cached;
    }
    const classification = deepFreeze(this.classifyText(text));
    if (text.length > this.maxTextLength) return classification;
    this.entries.set(text, classification);
    this.totalChars += text.length;
    while (this.entries.size > this.maxEntries || this.totalChars > this.maxTotalChars) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
      this.totalChars -= oldest.value.length;
    }
    return classification;
  }
}
