/**
 * The pkt-line framing of git's wire protocol (gitprotocol-common(5)), read the way git's own
 * `packet_read_with_status` reads it, so the command list Airlock decides on is the one
 * `git receive-pack` executes. Pure: bytes in, one packet out.
 */

/** a pkt-line starts with its total length as four hex digits (the digits included) */
export const PKT_LENGTH_DIGITS = 4;
/** git's LARGE_PACKET_MAX: no pkt-line is longer, and git dies on one that says it is */
export const PKT_MAX_LENGTH = 65520;

export type PktRead =
  | { kind: 'data'; payload: Uint8Array; next: number }
  /** 0000 ends a list, 0001 separates sections (protocol v2), 0002 ends a stateless response */
  | { kind: 'flush'; next: number }
  | { kind: 'delim'; next: number }
  | { kind: 'response-end'; next: number }
  /** the bytes stop before this packet does: more of the body is needed */
  | { kind: 'incomplete' }
  | { kind: 'error'; error: string };

/** Reads the pkt-line at `offset`. */
export function readPktLine(bytes: Uint8Array, offset: number): PktRead {
  if (bytes.length - offset < PKT_LENGTH_DIGITS) return { kind: 'incomplete' };
  let length = 0;
  for (let i = 0; i < PKT_LENGTH_DIGITS; i++) {
    const digit = hexDigit(bytes[offset + i]!);
    if (digit < 0) {
      return { kind: 'error', error: `pkt-line at byte ${offset} has a length that is not four hex digits ("${printable(bytes.subarray(offset, offset + PKT_LENGTH_DIGITS))}")` };
    }
    length = length * 16 + digit;
  }
  const next = offset + PKT_LENGTH_DIGITS;
  if (length === 0) return { kind: 'flush', next };
  if (length === 1) return { kind: 'delim', next };
  if (length === 2) return { kind: 'response-end', next };
  if (length < PKT_LENGTH_DIGITS) return { kind: 'error', error: `pkt-line at byte ${offset} has the invalid length ${length}` };
  if (length > PKT_MAX_LENGTH) {
    return { kind: 'error', error: `pkt-line at byte ${offset} declares ${length} bytes, more than git's maximum of ${PKT_MAX_LENGTH}` };
  }
  const end = offset + length;
  if (end > bytes.length) return { kind: 'incomplete' };
  return { kind: 'data', payload: bytes.subarray(next, end), next: end };
}

/** A payload as git's reader hands it on: one trailing LF removed (PACKET_READ_CHOMP_NEWLINE). */
export function chompNewline(payload: Uint8Array): Uint8Array {
  return payload.length > 0 && payload[payload.length - 1] === LF ? payload.subarray(0, payload.length - 1) : payload;
}

const LF = 0x0a;

/** git's hexval(): both cases */
export function hexDigit(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  return -1;
}

/** Bytes shown in an error: printable ASCII kept, the rest escaped. */
export function printable(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  return text;
}
