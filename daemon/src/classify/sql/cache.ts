import { classifySql } from './classify.js';
import type { SqlClassification } from './types.js';

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Classifications by exact text, least recently used evicted first, so that the statements an
 * agent repeats cost a Map lookup instead of a parse. A Map iterates in insertion order: a hit is
 * deleted and re-inserted to become the newest, and the first key is the oldest. Results are
 * frozen because every caller of the same text shares one object.
 */
export class SqlClassifierCache {
  private readonly entries = new Map<string, SqlClassification>();
  /** characters of all keys: what bounds the cache's memory, as a count of entries alone does not */
  private totalChars = 0;

  /**
   * @param maxEntries how many texts to keep
   * @param maxTextLength longer texts are classified every time rather than kept as keys
   * @param maxTotalChars characters of all kept texts together; the oldest go first
   */
  constructor(
    readonly maxEntries = 5000,
    readonly maxTextLength = 100_000,
    readonly maxTotalChars = 32 * 1024 * 1024,
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

  classify(sql: string): SqlClassification {
    const cached = this.entries.get(sql);
    if (cached !== undefined) {
      this.entries.delete(sql);
      this.entries.set(sql, cached);
      return cached;
    }
    const classification = deepFreeze(classifySql(sql));
    if (sql.length > this.maxTextLength) return classification;
    this.entries.set(sql, classification);
    this.totalChars += sql.length;
    while (this.entries.size > this.maxEntries || this.totalChars > this.maxTotalChars) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
      this.totalChars -= oldest.value.length;
    }
    return classification;
  }
}
