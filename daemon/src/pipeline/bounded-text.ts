import { createHash } from 'node:crypto';
import type { BoundedText } from '@airlock/shared';

/**
 * The text an action keeps of a statement, command or body: all of it up to `maxBytes` of UTF-8,
 * else its head cut at a character boundary, with the whole text's length and SHA-256. Pure (no
 * I/O). Every protocol bounds its action text here, so an agent's 16 MB statement becomes 64 KiB in
 * the event ring, the recorder's queue and the log, not 16 MB in each.
 *
 * A text short enough that it cannot exceed the limit (3 bytes per UTF-16 unit at most) returns at
 * once: the common statement pays neither a length count nor a hash.
 */
export function boundText(text: string, maxBytes: number): BoundedText {
  if (text.length * 3 <= maxBytes) return { text };
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= maxBytes) return { text };
  const kept = headOf(text, maxBytes);
  return { text: kept.text, cut: { bytes, keptBytes: kept.bytes, sha256: createHash('sha256').update(text, 'utf8').digest('hex') } };
}

/**
 * boundText for UTF-8 bytes (a bound parameter, a request body): the bytes are hashed as they are and
 * only the kept head is decoded, so a 16 MB body never becomes a 16 MB string.
 */
export function boundBytes(bytes: Buffer, maxBytes: number): BoundedText {
  if (bytes.length <= maxBytes) return { text: bytes.toString('utf8') };
  const end = boundaryAtOrBefore(bytes, maxBytes);
  return { text: bytes.toString('utf8', 0, end), cut: { bytes: bytes.length, keptBytes: end, sha256: createHash('sha256').update(bytes).digest('hex') } };
}

/**
 * The longest head of `text` whose UTF-8 is at most `maxBytes`. Only the first `maxBytes` UTF-16
 * units are encoded (each is at least one byte); a pair split there encodes as a 3-byte replacement
 * that cannot fit after the units before it, so the cut below never keeps half a character.
 */
function headOf(text: string, maxBytes: number): { text: string; bytes: number } {
  const head = Buffer.from(text.slice(0, maxBytes), 'utf8');
  const end = boundaryAtOrBefore(head, maxBytes);
  return { text: head.toString('utf8', 0, end), bytes: end };
}

/** The largest offset at most `max` where a UTF-8 character starts (or the end of the bytes). */
function boundaryAtOrBefore(bytes: Buffer, max: number): number {
  let end = Math.min(max, bytes.length);
  // back off continuation bytes (10xxxxxx): the byte at `end` must start a character
  while (end > 0 && end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end--;
  return end;
}
