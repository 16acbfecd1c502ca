import type { Masker, MaskReportBuilder } from '../../masking/index.js';
import { BodyReader } from './protocol.js';

/**
 * The server's own text that can carry data: error and notice fields (`SELECT cast(email AS int)`
 * echoes the value, RAISE NOTICE prints anything), NOTIFY payloads from other sessions and
 * ParameterStatus values (a function can set application_name to a secret). Each is masked with
 * the content detectors before it reaches the agent, and what is recorded is the masked text.
 */

/** ErrorResponse/NoticeResponse fields that name where an error happened rather than carry data. */
const STRUCTURAL_FIELDS = new Set(['S', 'V', 'C', 'P', 'p', 'F', 'L', 'R'].map((c) => c.charCodeAt(0)));

/** An ErrorResponse or NoticeResponse body with every data-bearing field masked; null when nothing changed. */
export function maskNoticeFields(body: Buffer, masker: Masker, report: MaskReportBuilder): Buffer | null {
  const fields: [number, string][] = [];
  let changed = false;
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const code = body[at]!;
    const end = body.indexOf(0, at + 1);
    if (end < 0) return null;
    const value = body.toString('utf8', at + 1, end);
    const masked = STRUCTURAL_FIELDS.has(code) ? value : masker.maskText(value, report);
    if (masked !== value) changed = true;
    fields.push([code, masked]);
    at = end + 1;
  }
  if (!changed) return null;
  const parts: Buffer[] = [];
  for (const [code, value] of fields) parts.push(Buffer.from([code]), Buffer.from(value + '\0', 'utf8'));
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** NotificationResponse: process id, channel, payload. */
export function maskNotification(body: Buffer, masker: Masker, report: MaskReportBuilder): Buffer | null {
  const r = new BodyReader(body);
  const pid = r.int32();
  const channel = r.cstring();
  const payload = r.cstring();
  const maskedChannel = masker.maskText(channel, report);
  const maskedPayload = masker.maskText(payload, report);
  if (maskedChannel === channel && maskedPayload === payload) return null;
  const head = Buffer.alloc(4);
  head.writeInt32BE(pid, 0);
  return Buffer.concat([head, Buffer.from(maskedChannel + '\0', 'utf8'), Buffer.from(maskedPayload + '\0', 'utf8')]);
}

/** ParameterStatus: name, value. Only the value is masked: the names are the server's settings. */
export function maskParameterStatus(body: Buffer, masker: Masker, report: MaskReportBuilder): Buffer | null {
  const r = new BodyReader(body);
  const name = r.cstring();
  const value = r.cstring();
  const masked = masker.maskText(value, report);
  if (masked === value) return null;
  return Buffer.concat([Buffer.from(name + '\0', 'utf8'), Buffer.from(masked + '\0', 'utf8')]);
}
