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

interface LinkedEntry<V> extends CacheEntry<V> {
  /** the entry asked for right after this one, the last time it was asked for */
  next: LinkedEntry<V> | undefined;
}

function sameBytes(known: Uint8Array, bytes: Uint8Array, from: number, to: number): boolean {
  const length = to - from;
  if (known.length !== length) return false;
  for (let i = 0; i < length; i++) if (known[i] !== bytes[from + i]) return false;
  return true;
}

/**
 * A verdict per short byte string, found without decoding it: the same JSON keys come back in
 * every record of an array. Bounded: it starts over when full; two strings with one hash just
 * miss each other. (Caching every value the detectors passed was tried: unique ids churn it, and
 * it cost more than it saved; the JSON masker keeps only values its screen could not pass.)
 *
 * Records of an array repeat their keys in the same order, so each entry remembers which entry
 * was asked for after it: that guess is compared first, byte for byte, and when it is right the
 * string is neither hashed nor looked up. A wrong guess costs one comparison that stops at the
 * first differing byte (or at a differing length) and the lookup goes on as before.
 */
export class ShortBytesCache<V> {
  private readonly entries = new Map<number, LinkedEntry<V>>();
  /** the entry last found or added: its `next` is the guess for the next string */
  private last: LinkedEntry<V> | undefined;

  constructor(
    readonly maxLength: number,
    private readonly maxEntries: number,
  ) {}

  get(bytes: Uint8Array, from: number, to: number): CacheEntry<V> | undefined {
    if (to - from > this.maxLength) return this.follow(undefined);
    const guess = this.last?.next;
    if (guess !== undefined && sameBytes(guess.bytes, bytes, from, to)) return (this.last = guess);
    const entry = this.entries.get(hashBytes(bytes, from, to));
    return this.follow(entry !== undefined && sameBytes(entry.bytes, bytes, from, to) ? entry : undefined);
  }

  set(bytes: Uint8Array, from: number, to: number, value: V): void {
    if (to - from > this.maxLength) return;
    if (this.entries.size >= this.maxEntries) {
      this.entries.clear();
      this.last = undefined;
    }
    const entry: LinkedEntry<V> = { bytes: Uint8Array.prototype.slice.call(bytes, from, to), value, next: undefined };
    this.entries.set(hashBytes(bytes, from, to), entry);
    this.follow(entry);
  }

  /** `entry` (or a miss) comes after the last one: the last one's guess is updated. */
  private follow(entry: LinkedEntry<V> | undefined): LinkedEntry<V> | undefined {
    if (entry !== undefined && this.last !== undefined) this.last.next = entry;
    this.last = entry;
    return entry;
  }
}
