import { randomBytes } from 'node:crypto';

/** RFC 4648 base32, lower case: no padding, safe in URLs, file names and shell arguments. */
const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
/** 24 characters of 5 bits each: 120 bits, from 15 random bytes. */
const ID_CHARS = 24;

/** `prefix_` + 24 random lower-case base32 characters, e.g. `apr_k3x…`. */
export function newId(prefix: string): string {
  const bytes = takeRandom((ID_CHARS * 5) / 8);
  let bits = 0;
  let bitCount = 0;
  let out = '';
  for (const byte of bytes) {
    bits = (bits << 8) | byte;
    bitCount += 8;
    while (bitCount >= 5) {
      bitCount -= 5;
      out += BASE32_ALPHABET[(bits >> bitCount) & 31];
    }
    // keep only the bits not yet consumed so the accumulator never overflows
    bits &= (1 << bitCount) - 1;
  }
  return `${prefix}_${out}`;
}

/** Random bytes drawn from one pool refill: an id per proxied statement makes a syscall each too costly. */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function takeRandom(n: number): Buffer {
  if (poolOffset + n > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const out = pool.subarray(poolOffset, poolOffset + n);
  poolOffset += n;
  return out;
}
