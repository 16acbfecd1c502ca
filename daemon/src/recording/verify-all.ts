import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AuditFinding, RecordingSummary, VerifyAllReport, VerifyResult } from '@airlock/shared';
import { auditRecordings } from './audit.js';
import type { LogFacts } from './audit.js';
import { readLedger } from './ledger.js';
import { readIndexReadOnly } from './offline.js';
import { LOG_EXTENSION } from './session-index.js';
import { scanLog } from './verify.js';
import type { LogScan } from './verify.js';

/** Where verify looks: the recordings dir, the session index and the ledger of one data dir. */
export interface VerifyPaths {
  recordings: string;
  sessionIndex: string;
  ledger: string;
}

/**
 * `airlock verify --all`, read-only: every log's chain (against what the index knows of it), then the
 * logs, the index and the ledger against one another (audit.ts).
 */
export async function verifyAll(paths: VerifyPaths): Promise<VerifyAllReport> {
  const [ledger, { recordings: summaries, fromLogs }, files] = await Promise.all([
    readLedger(paths.ledger),
    readIndexReadOnly(paths.sessionIndex, paths.recordings),
    listLogs(paths.recordings),
  ]);
  const byFile = new Map(summaries.map((summary) => [summary.file, summary]));
  const results: VerifyResult[] = [];
  const logs: LogFacts[] = [];
  for (const file of files) {
    const summary = byFile.get(file);
    const scan = await scanLog(path.join(paths.recordings, file), summary ? expectedOf(summary) : undefined);
    results.push(scan.result);
    logs.push(factsOf(file, scan));
  }
  // An index rebuilt from the logs says nothing the logs do not: only a real index is checked against them.
  const findings = auditRecordings({ ledger, ledgerFile: paths.ledger, index: fromLogs ? null : summaries, logs });
  return {
    ok: results.every((r) => r.ok) && !findings.some((f) => f.severity === 'error'),
    recordings: results,
    ledger: {
      present: ledger !== null,
      entries: ledger?.hashes.length ?? 0,
      startedAt: ledger?.entries[0]?.type === 'start' ? ledger.entries[0].ts : null,
    },
    findings,
  };
}

/**
 * `airlock verify ID`: the log's chain against the index, and against the ledger's record of its creation
 * and end when the ledger has one. Findings about other recordings are left to `--all`.
 */
export async function verifyOne(paths: VerifyPaths, recording: RecordingSummary): Promise<{ result: VerifyResult; findings: AuditFinding[] }> {
  const [ledger, scan] = await Promise.all([readLedger(paths.ledger), scanLog(path.join(paths.recordings, recording.file), expectedOf(recording))]);
  // A log that could not be read is left out, so the audit says what the ledger knows of it.
  const logs = scan.lines > 0 ? [factsOf(recording.file, scan)] : [];
  const findings = ledger
    ? auditRecordings({ ledger, ledgerFile: paths.ledger, index: null, logs }).filter((f) => f.recordingId === recording.id && f.severity !== 'note')
    : [];
  return { result: scan.result, findings };
}

/** One line for people, prefixed by what it means. */
export function describeFinding(finding: AuditFinding): string {
  return `${finding.severity}: ${finding.message}`;
}

function expectedOf(recording: RecordingSummary) {
  return { records: recording.records, head: recording.head, recordingId: recording.id };
}

function factsOf(file: string, scan: LogScan): LogFacts {
  const header = scan.header;
  return {
    file,
    recordingId: header?.recordingId ?? file.slice(0, -LOG_EXTENSION.length),
    header: header ? { recordingId: header.recordingId, ts: header.ts, ...(header.ledger ? { ledger: header.ledger } : {}) } : null,
    headerHash: scan.headerHash,
    lines: scan.lines,
    head: scan.head,
    sealed: scan.seal !== null,
  };
}

async function listLogs(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).filter((name) => name.endsWith(LOG_EXTENSION) && !name.startsWith('.')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`recordings dir ${dir}: cannot list: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}
