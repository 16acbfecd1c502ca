import { LedgerEntry, formatPath } from '@airlock/shared';
import { hashLine } from './chain.js';

/** Pure helpers of the recordings ledger's hash chain (see shared/src/ledger.ts); ledger.ts does the I/O. */

export type LedgerEntryData = LedgerEntry;
/** What a caller hands in; seq, ts and prev are the ledger's to fill in. */
export type LedgerBody = LedgerEntry extends infer E ? (E extends { type: 'start' } ? never : E extends LedgerEntry ? Omit<E, 'seq' | 'ts' | 'prev'> : never) : never;

/** The exact line of an entry, keys in the order `{seq, ts, type, ..., prev}`, without the newline. */
export function serializeLedgerEntry(body: LedgerBody | Omit<Extract<LedgerEntry, { type: 'start' }>, 'seq' | 'ts' | 'prev'>, seq: number, ts: string, prev: string | null): string {
  return JSON.stringify({ seq, ts, ...body, prev });
}

/** One complete or cut-short line as read from the ledger file. */
export interface LedgerLine {
  bytes: Uint8Array;
  complete: boolean;
}

/** What one pass over the ledger learns. */
export interface LedgerCheck {
  /** every line that parsed as an entry, in file order, whether or not the chain held there */
  entries: LedgerEntry[];
  /** SHA-256 of each complete line, by 0-based line number (= the entry's seq in an intact ledger) */
  hashes: string[];
  /** the first break in the chain: 1-based line and why */
  error?: { line: number; reason: string };
  /** the last line was cut short by a crash during an append; the daemon drops it at its next start */
  torn: boolean;
}

/**
 * Checks the ledger's chain: the first line a `start` entry with prev null, seq counting from 0, each prev the
 * SHA-256 of the line before. Entries are still collected past a break, so the audit can say what the rest
 * of the ledger claims; the break itself is the first finding.
 */
export function checkLedger(lines: Iterable<LedgerLine>): LedgerCheck {
  const entries: LedgerEntry[] = [];
  const hashes: string[] = [];
  let error: LedgerCheck['error'];
  let torn = false;
  let index = 0;
  let pendingUnparsed: number | null = null;
  const fail = (line: number, reason: string) => {
    error ??= { line, reason };
  };
  for (const line of lines) {
    if (!line.complete) {
      // Only an append cut short by a crash leaves a line without its newline, and only at the end.
      if (pendingUnparsed !== null) fail(pendingUnparsed, 'not valid JSON, and more lines follow — the ledger was edited or corrupted');
      torn = true;
      break;
    }
    if (pendingUnparsed !== null) fail(pendingUnparsed, 'not valid JSON, and more lines follow — the ledger was edited or corrupted');
    const lineNo = index + 1;
    const hash = hashLine(line.bytes);
    const previous = index === 0 ? null : (hashes[index - 1] as string);
    hashes.push(hash);
    index += 1;
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(line.bytes).toString('utf8'));
    } catch {
      pendingUnparsed = lineNo;
      continue;
    }
    const parsed = LedgerEntry.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      fail(lineNo, `not a valid ledger entry (${issue ? `${formatPath(issue.path)}: ${issue.message}` : 'schema mismatch'})`);
      continue;
    }
    const entry = parsed.data;
    entries.push(entry);
    if (lineNo === 1 && entry.type !== 'start') fail(lineNo, `the first entry must be the ledger's start, found "${entry.type}" — the ledger's beginning was cut off`);
    else if (lineNo > 1 && entry.type === 'start') fail(lineNo, 'a start entry may only be the first line — ledgers were spliced together');
    if (entry.seq !== lineNo - 1) fail(lineNo, `expected seq ${lineNo - 1}, found ${entry.seq} — entries were removed, inserted or reordered`);
    if (entry.prev !== previous) fail(lineNo, `prev does not match the SHA-256 of line ${lineNo - 1} — the ledger was edited or entries were removed`);
  }
  // A last complete line that is not JSON is what a crash mid-append can leave too (the newline made it, the
  // text did not): torn, not tampering, since nothing follows it.
  if (pendingUnparsed !== null && !error && !torn) {
    torn = true;
    hashes.pop();
  }
  const check: LedgerCheck = { entries, hashes, torn };
  if (error) check.error = error;
  return check;
}
