import { z } from 'zod';
import { IsoTime } from './common.js';

/**
 * The recordings ledger, `<data dir>/ledger.jsonl`: one JSON line per event in a log's life — the ledger's
 * start, a log's creation, its final head — hash-chained like a log (`prev` is the SHA-256 of the previous
 * line's bytes). It is what makes a recording that vanished from both the index and the disk visible: the
 * ledger names it, and each new log's header names the ledger's head, so the ledger cannot be cut or
 * rewritten without contradicting the logs that came after.
 */
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const base = {
  seq: z.number().int().min(0),
  ts: IsoTime,
};

/** The first line. `nonce` makes each ledger's chain unique, so one ledger's lines cannot stand in for another's. */
export const LedgerStartEntry = z.object({
  ...base,
  seq: z.literal(0),
  type: z.literal('start'),
  version: z.literal(1),
  nonce: z.string().regex(/^[0-9a-f]{32,}$/),
  prev: z.null(),
});

/** A log was created: written (and fsync'd) before the log's first line reaches its file. */
export const LedgerCreatedEntry = z.object({
  ...base,
  type: z.literal('created'),
  recordingId: z.string(),
  /** the log's file name inside <data dir>/recordings */
  file: z.string(),
  /** SHA-256 of the log's header line */
  headerHash: Sha256,
  prev: Sha256,
});

/** A log was sealed: its seal is the line numbered `lastSeq`, and that line hashes to `head`. */
export const LedgerSealedEntry = z.object({
  ...base,
  type: z.literal('sealed'),
  recordingId: z.string(),
  lastSeq: z.number().int().min(1),
  head: Sha256,
  prev: Sha256,
});

/**
 * A log ended without a seal (its writer failed, or the daemon crashed and the next start settled it): the
 * last verified line is `lastSeq` with hash `head`. Both null when nothing of it could be vouched for (the log
 * never got its header, or it no longer verified when it was settled).
 */
export const LedgerInterruptedEntry = z.object({
  ...base,
  type: z.literal('interrupted'),
  recordingId: z.string(),
  lastSeq: z.number().int().min(0).nullable(),
  head: Sha256.nullable(),
  prev: Sha256,
});

export const LedgerEntry = z.discriminatedUnion('type', [LedgerStartEntry, LedgerCreatedEntry, LedgerSealedEntry, LedgerInterruptedEntry]);
export type LedgerEntry = z.infer<typeof LedgerEntry>;
export type LedgerEntryType = LedgerEntry['type'];

/**
 * Where a log's header points into the ledger: the ledger's last entry when the log was created (its
 * `created` entry follows it at `seq + 1`).
 */
export const LedgerRef = z.object({ seq: z.number().int().min(0), head: Sha256 });
export type LedgerRef = z.infer<typeof LedgerRef>;

/** One thing `airlock verify --all` found beyond the logs' own chains. */
export const AuditFinding = z.object({
  /** error: evidence of removal or rewriting; interrupted: a log the daemon did not seal; note: coverage */
  severity: z.enum(['error', 'interrupted', 'note']),
  /** the recording it concerns; null for the ledger as a whole */
  recordingId: z.string().nullable(),
  message: z.string(),
});
export type AuditFinding = z.infer<typeof AuditFinding>;
