import type { AuditFinding, LedgerEntry, LedgerRef, RecordingSummary } from '@airlock/shared';
import type { LedgerCheck } from './ledger-chain.js';

/**
 * The pure core of `airlock verify --all` beyond each log's own chain: the logs on disk, the session index
 * and the recordings ledger checked against one another, so a log cannot vanish, or be rewritten with a
 * recomputed chain, without one of the others contradicting it. verify-all.ts gathers the facts.
 */

/** What one log file on disk shows, from one scan of it (see verify.ts scanLog). */
export interface LogFacts {
  /** file name inside the recordings dir */
  file: string;
  /** the header's recording id, or the file name without `.jsonl` when it has no readable header */
  recordingId: string;
  header: { recordingId: string; ts: string; ledger?: LedgerRef } | null;
  /** SHA-256 of the first line */
  headerHash: string | null;
  /** complete lines (a torn last line not counted) */
  lines: number;
  /** SHA-256 of the last complete line */
  head: string | null;
  sealed: boolean;
}

export interface AuditInput {
  /** the checked ledger; null when there is no ledger file */
  ledger: LedgerCheck | null;
  ledgerFile: string;
  /** the session index's entries; null when there is no readable index */
  index: RecordingSummary[] | null;
  logs: LogFacts[];
}

/** Findings, errors first in the order found; `error` ones mean the data dir does not verify. */
export function auditRecordings(input: AuditInput): AuditFinding[] {
  const findings: AuditFinding[] = [];
  const error = (recordingId: string | null, message: string) => findings.push({ severity: 'error', recordingId, message });
  const logsByFile = new Map(input.logs.map((log) => [log.file, log]));
  const indexed = new Map((input.index ?? []).map((entry) => [entry.id, entry]));
  const { ledger } = input;

  if (!ledger) {
    for (const log of input.logs) {
      if (log.header?.ledger) {
        error(log.recordingId, `recording ${log.recordingId}: its header refers to entry ${log.header.ledger.seq} of the recordings ledger, but there is no ledger ${input.ledgerFile} — the ledger was deleted`);
      }
    }
    for (const entry of input.index ?? []) {
      if (logsByFile.has(entry.file)) continue;
      if (neverCreated(entry)) findings.push(neverCreatedFinding(entry.id));
      else error(entry.id, `recording ${entry.id} is in the session index but its log ${entry.file} is missing — it was deleted`);
    }
    reportUnindexed(input, findings);
    findings.push({
      severity: 'note',
      recordingId: null,
      message: `there is no recordings ledger (${input.ledgerFile}): the recordings here predate it, so a log deleted together with its index entry could not be noticed; each log is checked by its own chain and the index`,
    });
    return order(findings);
  }

  if (ledger.error) {
    error(null, `recordings ledger ${input.ledgerFile}: line ${ledger.error.line}: ${ledger.error.reason}`);
  }
  if (ledger.torn) {
    findings.push({ severity: 'note', recordingId: null, message: `recordings ledger ${input.ledgerFile}: the last line was cut short by a crash while it was written; the daemon drops it at its next start` });
  }
  const start = ledger.entries[0]?.type === 'start' ? ledger.entries[0] : null;
  const startedAt = start ? Date.parse(start.ts) : null;
  const created = new Map<string, Extract<LedgerEntry, { type: 'created' }>>();
  const ended = new Map<string, Extract<LedgerEntry, { type: 'sealed' | 'interrupted' }>>();
  for (const entry of ledger.entries) {
    if (entry.type === 'created') {
      if (created.has(entry.recordingId)) error(entry.recordingId, `recording ${entry.recordingId}: the ledger records its creation twice (entries ${created.get(entry.recordingId)!.seq} and ${entry.seq}) — the ledger was edited`);
      else created.set(entry.recordingId, entry);
    } else if (entry.type === 'sealed' || entry.type === 'interrupted') {
      // A crashed run's recording may be marked interrupted, then found sealed: the last word counts.
      ended.set(entry.recordingId, entry);
    }
  }

  // Every recording the ledger says was created: its log is there, begins with the header the ledger
  // hashed, and ends where the ledger says it ended.
  for (const entry of created.values()) {
    const id = entry.recordingId;
    const end = ended.get(id);
    const log = logsByFile.get(entry.file);
    if (!log) {
      if (end?.type === 'interrupted' && end.lastSeq === null) continue;
      if (!end && neverCreated(indexed.get(id))) {
        findings.push(neverCreatedFinding(id));
        continue;
      }
      error(id, `recording ${id}: the ledger records its creation (entry ${entry.seq}) but its log ${entry.file} is missing — it was deleted`);
      continue;
    }
    if (log.headerHash !== entry.headerHash) {
      error(id, `recording ${id}: the header of ${entry.file} is not the one the ledger recorded at its creation (entry ${entry.seq}) — the log was rewritten or replaced`);
      continue;
    }
    const ref = log.header?.ledger;
    if (!ref || ref.seq !== entry.seq - 1 || ledger.hashes[ref.seq] !== ref.head) {
      error(id, `recording ${id}: its header refers to ledger entry ${ref ? ref.seq : '(none)'} with a hash the ledger does not have there — the ledger was rewritten or truncated`);
    }
    if (!end) {
      findings.push({ severity: 'interrupted', recordingId: id, message: `recording ${id}: created (ledger entry ${entry.seq}) but not sealed: the daemon is still recording it, or stopped before it could seal it; its chain is checked up to its last line` });
      continue;
    }
    if (end.type === 'sealed') {
      if (!log.sealed || log.lines !== end.lastSeq + 1 || log.head !== end.head) {
        error(id, `recording ${id}: ${entry.file} does not end at the seal the ledger recorded (line ${end.lastSeq + 1}, entry ${end.seq}) — the log was rewritten or truncated`);
      }
    } else if (end.lastSeq === null) {
      findings.push({ severity: 'interrupted', recordingId: id, message: `recording ${id}: interrupted before any of it could be vouched for (ledger entry ${end.seq})` });
    } else if (log.lines !== end.lastSeq + 1 || log.head !== end.head) {
      error(id, `recording ${id}: ${entry.file} does not end at line ${end.lastSeq + 1} with the hash the ledger recorded when it was interrupted (entry ${end.seq}) — the log was rewritten, truncated or appended to`);
    } else {
      findings.push({ severity: 'interrupted', recordingId: id, message: `recording ${id}: interrupted (not sealed); its ${end.lastSeq + 1} lines match the ledger` });
    }
  }

  // Every log on disk: in the ledger, or from before it.
  let beforeLedger = 0;
  for (const log of input.logs) {
    if (created.has(log.recordingId) && created.get(log.recordingId)!.file === log.file) continue;
    const ref = log.header?.ledger;
    if (ref) {
      error(
        log.recordingId,
        ref.seq >= ledger.hashes.length
          ? `recording ${log.recordingId}: its header refers to ledger entry ${ref.seq}, but the ledger ends at entry ${ledger.hashes.length - 1} — the ledger was truncated`
          : `recording ${log.recordingId}: its header refers to ledger entry ${ref.seq}, but the ledger has no creation entry for it — the ledger was rewritten`,
      );
    } else if (log.header && startedAt !== null && Date.parse(log.header.ts) >= startedAt) {
      error(log.recordingId, `recording ${log.recordingId}: ${log.file} was started after the ledger (${start!.ts}) but is not in it — the log was made or rewritten outside the daemon`);
    } else {
      beforeLedger += 1;
    }
  }

  // Every index entry: its log is there (the ledger's own were checked above).
  for (const entry of input.index ?? []) {
    if (created.has(entry.id) || logsByFile.has(entry.file)) continue;
    const end = ended.get(entry.id);
    if ((end?.type === 'interrupted' && end.lastSeq === null) || neverCreated(entry)) findings.push(neverCreatedFinding(entry.id));
    else error(entry.id, `recording ${entry.id} is in the session index but its log ${entry.file} is missing — it was deleted`);
  }
  reportUnindexed(input, findings);
  if (beforeLedger > 0) {
    findings.push({
      severity: 'note',
      recordingId: null,
      message: `${beforeLedger} recording(s) predate the recordings ledger (started ${start?.ts ?? 'at an unknown time'}): they are checked by their own chains and the index only, so their deletion could not be noticed`,
    });
  }
  return order(findings);
}

/**
 * The daemon names a recording in the index (and the ledger) before it creates the log; a crash in between
 * leaves an entry that is open with no records and no file. An attacker gains nothing by faking one: a
 * sealed recording has its end in the ledger, and that is checked first.
 */
function neverCreated(entry: RecordingSummary | undefined): boolean {
  return entry !== undefined && entry.records === 0 && entry.state !== 'sealed';
}

function neverCreatedFinding(id: string): AuditFinding {
  return { severity: 'interrupted', recordingId: id, message: `recording ${id}: registered, but its log was never created: the daemon stopped before it could write the first line` };
}

/** Logs the index does not list: reported, not failed — the index keeps only the newest recordings. */
function reportUnindexed(input: AuditInput, findings: AuditFinding[]): void {
  if (!input.index) return;
  const indexed = new Set(input.index.map((entry) => entry.file));
  for (const log of input.logs) {
    if (!indexed.has(log.file)) {
      findings.push({ severity: 'note', recordingId: log.recordingId, message: `recording ${log.recordingId}: ${log.file} is not in the session index (the index keeps only the newest recordings); it is checked by its chain and the ledger` });
    }
  }
}

const RANK: Record<AuditFinding['severity'], number> = { error: 0, interrupted: 1, note: 2 };

function order(findings: AuditFinding[]): AuditFinding[] {
  return findings.map((finding, i) => ({ finding, i })).sort((a, b) => RANK[a.finding.severity] - RANK[b.finding.severity] || a.i - b.i).map(({ finding }) => finding);
}
