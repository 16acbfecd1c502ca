import { z } from 'zod';
import { IsoTime } from './common.js';
import { Action, Decision, Verdict } from './action.js';
import { ApprovalResolution, ApprovalStatus } from './approval.js';
import { AuditFinding, LedgerRef } from './ledger.js';
import { PolicyDifference } from './policy-change.js';

/**
 * One line of a session log (JSON Lines). Every record carries `seq` (0 for the header), `ts`, `type`
 * and `prev`: the SHA-256 (hex) of the previous line's bytes. The header's `prev` is null and its
 * `nonce` is random, so a chain cannot be precomputed.
 */
const base = {
  seq: z.number().int().min(0),
  ts: IsoTime,
  prev: z.string().regex(/^[0-9a-f]{64}$/),
};

export const HeaderRecord = z.object({
  seq: z.literal(0),
  ts: IsoTime,
  type: z.literal('header'),
  prev: z.null(),
  version: z.literal(1),
  recordingId: z.string(),
  agentSessionId: z.string(),
  agentSessionName: z.string(),
  nonce: z.string().regex(/^[0-9a-f]{32,}$/),
  /** the recordings ledger's head when the log was created; absent in logs made before the ledger existed */
  ledger: LedgerRef.optional(),
});

/**
 * An action and what policy decided. `verdict` is there when the action was settled at once (an allow
 * or deny by policy): it then stands for the outcome record that would otherwise follow.
 */
export const ActionRecord = z.object({ ...base, type: z.literal('action'), action: Action, decision: Decision, verdict: Verdict.optional() });
export const ApprovalRequestedRecord = z.object({
  ...base,
  type: z.literal('approval.requested'),
  approvalId: z.string(),
  actionId: z.string(),
  ruleId: z.string(),
  expiresAt: IsoTime,
});
export const ApprovalResolvedRecord = z.object({
  ...base,
  type: z.literal('approval.resolved'),
  approvalId: z.string(),
  actionId: z.string(),
  status: ApprovalStatus,
  resolution: ApprovalResolution,
});
export const OutcomeRecord = z.object({ ...base, type: z.literal('outcome'), verdict: Verdict });
/** What came back from upstream, already masked. `detail` is protocol-specific. */
export const ResultRecord = z.object({
  ...base,
  type: z.literal('result'),
  actionId: z.string(),
  summary: z.string(),
  durationMs: z.number().min(0).optional(),
  error: z.string().optional(),
  detail: z.record(z.string(), z.unknown()).default({}),
});
export const NoteRecord = z.object({ ...base, type: z.literal('note'), message: z.string() });
/**
 * A change to what is enforced, written to every open session's log: a loosening staged (an attempt,
 * whoever made it), a staged change confirmed by a person, a tightening applied at once, a staged
 * change withdrawn.
 */
export const PolicyChangeRecord = z.object({
  ...base,
  type: z.literal('policy.change'),
  stage: z.enum(['staged', 'confirmed', 'tightened', 'withdrawn']),
  /** the staged change's hash (confirmed, staged, withdrawn) or the new effective policy's (tightened) */
  changeHash: z.string(),
  differences: z.array(PolicyDifference),
  /** confirmed: who, through which channel */
  by: z.string().optional(),
  via: z.string().optional(),
});
export const SealRecord = z.object({
  ...base,
  type: z.literal('seal'),
  /** number of records before this one, header included */
  records: z.number().int().min(1),
  reason: z.enum(['closed', 'revoked', 'expired', 'shutdown']),
});

export const RecordingRecord = z.discriminatedUnion('type', [
  HeaderRecord,
  ActionRecord,
  ApprovalRequestedRecord,
  ApprovalResolvedRecord,
  OutcomeRecord,
  ResultRecord,
  NoteRecord,
  PolicyChangeRecord,
  SealRecord,
]);
export type RecordingRecord = z.infer<typeof RecordingRecord>;
export type RecordType = RecordingRecord['type'];
/** A record as handed to the recorder: seq, ts and prev are filled in when it is written. */
export type RecordBody = RecordingRecord extends infer R
  ? R extends { type: infer T }
    ? T extends 'header' | 'seal'
      ? never
      : Omit<Extract<RecordingRecord, { type: T }>, 'seq' | 'ts' | 'prev'>
    : never
  : never;

export const RecordingState = z.enum(['open', 'sealed', 'interrupted']);
export type RecordingState = z.infer<typeof RecordingState>;

/** The session index entry for one log. */
export const RecordingSummary = z.object({
  id: z.string(),
  agentSessionId: z.string(),
  agentSessionName: z.string(),
  /** log file name inside <data dir>/recordings */
  file: z.string(),
  startedAt: IsoTime,
  endedAt: IsoTime.nullable(),
  /** lines written and known to be complete, header (and seal) included */
  records: z.number().int().min(0),
  /** SHA-256 of the last complete line; null when the index was rebuilt from an unsealed log */
  head: z.string().nullable(),
  state: RecordingState,
  sealReason: SealRecord.shape.reason.optional(),
  actions: z.number().int().min(0).default(0),
});
export type RecordingSummary = z.infer<typeof RecordingSummary>;

export const VerifyResult = z.object({
  recordingId: z.string(),
  ok: z.boolean(),
  /** complete records that verified */
  records: z.number().int().min(0),
  sealed: z.boolean(),
  /** the last line was cut short by a crash; everything before it verified */
  torn: z.boolean(),
  error: z
    .object({
      /** 1-based line number in the log */
      line: z.number().int().min(1),
      seq: z.number().int().nullable(),
      reason: z.string(),
    })
    .optional(),
  /** what the recordings ledger says against this log (removed, rewritten): each makes `ok` false */
  ledgerProblems: z.array(z.string()).optional(),
});
export type VerifyResult = z.infer<typeof VerifyResult>;

/** `airlock verify --all`: every log's chain, then the logs, the index and the ledger checked against each other. */
export const VerifyAllReport = z.object({
  ok: z.boolean(),
  recordings: z.array(VerifyResult),
  ledger: z.object({
    /** false for a data dir from before the ledger (or one whose ledger was deleted: a finding says which) */
    present: z.boolean(),
    entries: z.number().int().min(0),
    startedAt: IsoTime.nullable(),
  }),
  findings: z.array(AuditFinding),
});
export type VerifyAllReport = z.infer<typeof VerifyAllReport>;
