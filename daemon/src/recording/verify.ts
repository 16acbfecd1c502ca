import path from 'node:path';
import { RecordingRecord, formatPath } from '@airlock/shared';
import type { VerifyResult } from '@airlock/shared';
import { hashLine, linksTo } from './chain.js';
import type { HeaderRecordData, SealRecordData } from './chain.js';
import { scanLines } from './lines.js';

/** What the session index knows about a log, to catch truncation and rewriting that the chain alone cannot. */
export interface ExpectedChain {
  /** complete lines the index saw written */
  records: number;
  /** SHA-256 of line number `records`; null when unknown (index rebuilt from an unsealed log) */
  head: string | null;
  /** the header must name this recording; catches a log swapped in under another's name */
  recordingId?: string;
}

/** Everything one pass over a log learns; the recorder uses it to settle recordings a crash left open. */
export interface LogScan {
  result: VerifyResult;
  /** complete lines in the file, verified or not (a torn last line is not counted) */
  lines: number;
  /** SHA-256 of the last complete line */
  head: string | null;
  header: HeaderRecordData | null;
  /** SHA-256 of the first line, whatever it holds */
  headerHash: string | null;
  seal: SealRecordData | null;
  /** ts of the last verified record */
  lastTs: string | null;
  /** verified action records */
  actions: number;
}

interface ChainError {
  line: number;
  seq: number | null;
  reason: string;
}

/** Verifies a log; see scanLog. */
export async function verifyLog(file: string, expected?: ExpectedChain): Promise<VerifyResult> {
  return (await scanLog(file, expected)).result;
}

/**
 * Streams a log once and checks every line: valid JSON and a valid RecordingRecord, the header first with
 * prev null, seq counting up from 0, each prev the SHA-256 of the line before, a seal counting the lines
 * before it and nothing after it. A cut-short last line (no newline, or not JSON) is "torn": expected after
 * a crash, so the log still verifies up to it; a broken line with more lines after it is corruption.
 * `expected` adds what the chain cannot show by itself: lines removed from the end, or the last line edited.
 */
export async function scanLog(file: string, expected?: ExpectedChain): Promise<LogScan> {
  let error: ChainError | undefined;
  let verified = 0;
  let lines = 0;
  let head: string | null = null;
  let headBeforeUnparsed: string | null = null;
  let hashAtExpected: string | null = null;
  /** a complete line that is not JSON: torn if it is the last one, corruption otherwise */
  let unparsedLine: number | null = null;
  let sealLine: number | null = null;
  let torn = false;
  let header: HeaderRecordData | null = null;
  let headerHash: string | null = null;
  let seal: SealRecordData | null = null;
  let lastTs: string | null = null;
  let actions = 0;

  const fail = (line: number, seq: number | null, reason: string): void => {
    error ??= { line, seq, reason };
  };

  const visit = (bytes: Buffer, index: number, complete: boolean): void => {
    const lineNo = index + 1;
    if (!complete) {
      if (error) return;
      if (unparsedLine !== null) fail(unparsedLine, null, notJsonFollowed());
      else if (sealLine !== null) fail(lineNo, null, `data after the seal on line ${sealLine} — the log was appended to after it was sealed`);
      else torn = true;
      return;
    }
    const hash = hashLine(bytes);
    const previousHash = head;
    lines += 1;
    head = hash;
    if (index === 0) headerHash = hash;
    if (expected && lineNo === expected.records) hashAtExpected = hash;
    if (error) return;
    if (unparsedLine !== null) return fail(unparsedLine, null, notJsonFollowed());

    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      unparsedLine = lineNo;
      headBeforeUnparsed = previousHash;
      return;
    }
    const claimedSeq = seqOf(parsed);
    if (sealLine !== null) {
      return fail(lineNo, claimedSeq, `record after the seal on line ${sealLine} — the log was appended to after it was sealed`);
    }
    const checked = RecordingRecord.safeParse(parsed);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      const what = issue ? `${formatPath(issue.path)}: ${issue.message}` : 'schema mismatch';
      return fail(lineNo, claimedSeq, `not a valid record (${what})`);
    }
    const record = checked.data;
    if (index === 0 && record.type !== 'header') return fail(lineNo, record.seq, `the first record must be the header, found "${record.type}"`);
    if (index > 0 && record.type === 'header') return fail(lineNo, record.seq, 'a header may only be the first line — logs were spliced together');
    if (record.seq !== index) {
      return fail(lineNo, record.seq, `expected seq ${index} — records were removed, inserted or reordered`);
    }
    if (!linksTo(record, previousHash)) {
      return fail(lineNo, record.seq, `prev does not match the SHA-256 of line ${index} — the log was edited, reordered or lines were removed`);
    }
    if (record.type === 'seal') {
      if (record.records !== index) {
        return fail(lineNo, record.seq, `the seal counts ${record.records} records before it but there are ${index}`);
      }
      sealLine = lineNo;
      seal = record;
    } else if (record.type === 'header') {
      header = record;
    } else if (record.type === 'action') {
      actions += 1;
    }
    lastTs = record.ts;
    verified += 1;
  };

  try {
    await scanLines(file, (line) => visit(line.bytes, line.index, line.complete));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    fail(1, null, `cannot read ${file}: ${code}`);
  }

  if (unparsedLine !== null && !error) {
    // Only the last line may be unreadable: it is what a crash mid-write leaves behind.
    torn = true;
    lines -= 1;
    head = headBeforeUnparsed;
  }
  if (!error && expected) {
    if (verified < expected.records) {
      fail(
        verified + 1,
        null,
        `truncated: the index recorded ${expected.records} complete lines but the log has ${verified}` +
          (torn ? ' and a torn line' : '') +
          ' — lines were removed from the end',
      );
    } else if (expected.head !== null && expected.records > 0 && hashAtExpected !== expected.head) {
      fail(
        expected.records,
        expected.records - 1,
        `head mismatch: line ${expected.records} does not hash to the head the index recorded — the log was edited or rewritten`,
      );
    } else if (expected.recordingId !== undefined && header && (header as HeaderRecordData).recordingId !== expected.recordingId) {
      fail(1, 0, `the header names recording "${(header as HeaderRecordData).recordingId}", expected "${expected.recordingId}"`);
    }
  }

  const finalError = error as ChainError | undefined;
  const finalSeal = seal as SealRecordData | null;
  const result: VerifyResult = {
    recordingId: expected?.recordingId ?? (header as HeaderRecordData | null)?.recordingId ?? path.basename(file, '.jsonl'),
    ok: finalError === undefined,
    records: verified,
    sealed: finalSeal !== null && finalError === undefined,
    torn: torn && finalError === undefined,
  };
  if (finalError) result.error = finalError;
  return { result, lines, head, header, headerHash, seal: finalSeal, lastTs, actions };
}

/**
 * One line for people: `line 7 (seq 6): prev does not match the SHA-256 of line 6 — …`, or what verified.
 */
export function describeVerifyResult(result: VerifyResult): string {
  if (result.error) {
    const seq = result.error.seq === null ? '' : ` (seq ${result.error.seq})`;
    return `recording ${result.recordingId}: line ${result.error.line}${seq}: ${result.error.reason}`;
  }
  const state = result.sealed ? 'sealed' : 'not sealed';
  const torn = result.torn ? '; the last line was torn by a crash and is not counted' : '';
  return `recording ${result.recordingId}: ok, ${result.records} records verified, ${state}${torn}`;
}

function notJsonFollowed(): string {
  return 'not valid JSON, and more lines follow — the log was edited or corrupted (only a crash-torn last line may be unreadable)';
}

function seqOf(value: unknown): number | null {
  if (typeof value === 'object' && value !== null && 'seq' in value) {
    const seq = (value as { seq: unknown }).seq;
    if (typeof seq === 'number' && Number.isInteger(seq)) return seq;
  }
  return null;
}
