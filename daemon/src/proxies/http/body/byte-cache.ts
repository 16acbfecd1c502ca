/** FNV-1a over bytes[from, to). */
function hashBytes(bytes: Uint8Array, from: number, to: number): number {
  let hash = 0x811c9dc5;
  for (let i = from; i < to; i++) hash = Math.imul(hash ^ (bytes[i] as number), 0x01000193);
  return hash >>> 0;
}

export interface CacheEntry<V> {
  readonly bytes: Uint8Array;
  readonly value: V;
}

/**
 * A verdict per short byte string, found without decoding it: the same JSON keys come back in
 * every record of an array. Bounded: it starts over when full; two strings with one hash just
 * miss each other. (Caching values the detectors passed was tried: unique ids churn it, and it
 * cost more than it saved.)
 */
export class ShortBytesCache<V> {
  private readonly entries = new Map<number, CacheEntry<V>>();

  constructor(
    readonly maxLength: number,
    private readonly maxEntries: number,
  ) {}

  get(bytes: Uint8Array, from: number, to: number): CacheEntry<V> | undefined {
    const length = to - from;
    if (length > this.maxLength) return undefined;
    const entry = this.entries.get(hashBytes(bytes, from, to));
    if (entry === undefined || entry.bytes.length !== length) return undefined;
    const known = entry.bytes;
    for (let i = 0; i < length; i++) if (known[i] !== bytes[from + i]) return undefined;
    return entry;
  }

  set(bytes: Uint8Array, from: number, to: number, value: V): void {
    if (to - from > this.maxLength) return;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(hashBytes(bytes, from, to), { bytes: Uint8Array.prototype.slice.call(bytes, from, to), value });
  }
}
