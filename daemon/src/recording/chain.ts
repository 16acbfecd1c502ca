import { hash } from 'node:crypto';
import type { RecordBody, RecordingRecord } from '@airlock/shared';

/** Pure helpers of the hash chain: a record becomes one line, and each line names the hash of the one before. */

export const RECORDING_FORMAT_VERSION = 1;

export type HeaderRecordData = Extract<RecordingRecord, { type: 'header' }>;
export type SealRecordData = Extract<RecordingRecord, { type: 'seal' }>;
export type SealReason = SealRecordData['reason'];
export type HeaderBody = Omit<HeaderRecordData, 'seq' | 'ts' | 'prev'>;
export type SealBody = Omit<SealRecordData, 'seq' | 'ts' | 'prev'>;
/** Anything the writer can put on a line; seq, ts and prev are its to fill in. */
export type ChainBody = RecordBody | HeaderBody | SealBody;

/**
 * Composes a record with the chain fields, keeping the key order `{seq, ts, type, ..., prev}` so logs read
 * naturally. Chain fields always win over same-named keys a caller may have left in the body.
 */
export function buildRecord(body: ChainBody, seq: number, ts: string, prev: string | null): RecordingRecord {
  const record = { seq, ts, ...body, prev } as Record<string, unknown>;
  record.seq = seq;
  record.ts = ts;
  return record as unknown as RecordingRecord;
}

/**
 * The exact text of a record's line, without the newline. JSON.stringify escapes control characters
 * inside strings, so a line can never contain a raw newline.
 */
export function serializeRecord(record: RecordingRecord): string {
  return JSON.stringify(record);
}

/**
 * The line of `buildRecord(body, seq, ts, prev)`, byte for byte, without building the record object: the
 * writer's hot path. Falls back to building the object when the body carries chain fields of its own.
 */
export function serializeChained(body: ChainBody, seq: number, ts: string, prev: string | null): string {
  if ('seq' in body || 'ts' in body || 'prev' in body) return serializeRecord(buildRecord(body, seq, ts, prev));
  const bodyJson = JSON.stringify(body);
  // A body always has its `type`, so bodyJson is `{...}` with at least one member.
  return `{"seq":${seq},"ts":${JSON.stringify(ts)},${bodyJson.slice(1, -1)},"prev":${prev === null ? 'null' : JSON.stringify(prev)}}`;
}

/** SHA-256 (hex) of a line's bytes, newline excluded; strings are hashed as their UTF-8 bytes. */
export function hashLine(line: string | Uint8Array): string {
  // One-shot hash: about twice as fast as createHash() for lines this short.
  return hash('sha256', line, 'hex');
}

/** Whether a record names `previousLineHash` as its predecessor (null: it claims to be the first line). */
export function linksTo(record: { prev: string | null }, previousLineHash: string | null): boolean {
  return record.prev === previousLineHash;
}
