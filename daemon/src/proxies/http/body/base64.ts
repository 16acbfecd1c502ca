import { isUtf8 } from 'node:buffer';
import type { MaskReportBuilder, Masker } from '../../../masking/index.js';
import { redactSecretsInText } from './secrets.js';

/**
 * Shorter strings are not looked at as base64: ids and tokens of that size are common, a file is
 * rarely that small, and the detectors see the short ones as they are.
 */
export const BASE64_MIN_LENGTH = 24;

const BASE64_CHAR = new Uint8Array(256);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=') BASE64_CHAR[ch.charCodeAt(0)] = 1;
/** base64 wrapped in lines, as GitHub's contents API sends a file (the line breaks JSON-escaped) */
const BASE64_TEXT = /^[A-Za-z0-9+/=\r\n]+$/;

/** Whether bytes[from, to) could be unwrapped base64 long enough to be looked into. */
export function mayBeBase64Bytes(bytes: Uint8Array, from: number, to: number): boolean {
  if (to - from < BASE64_MIN_LENGTH || (to - from) % 4 !== 0) return false;
  for (let i = from; i < to; i++) if (BASE64_CHAR[bytes[i] as number] === 0) return false;
  return true;
}

/**
 * A string value that is base64 of UTF-8 text (a file's content from a contents API, a config
 * blob) with its decoded text masked and encoded again; undefined when it is not such a string or
 * nothing in it was masked. Without this, the agent would decode a `.env` file the detectors never saw.
 */
export function maskBase64Text(text: string, masker: Masker, secretForms: readonly string[], report: MaskReportBuilder): string | undefined {
  if (text.length < BASE64_MIN_LENGTH || !BASE64_TEXT.test(text)) return undefined;
  const compact = text.includes('\n') || text.includes('\r') ? text.replace(/[\r\n]/g, '') : text;
  if (compact.length % 4 !== 0) return undefined;
  const decoded = Buffer.from(compact, 'base64');
  if (decoded.length === 0 || decoded.includes(0) || !isUtf8(decoded)) return undefined;
  const inner = decoded.toString('utf8');
  const redacted = redactSecretsInText(inner, secretForms, report);
  const masked = masker.active ? masker.maskText(redacted, report) : redacted;
  if (masked === inner) return undefined;
  return Buffer.from(masked, 'utf8').toString('base64');
}
