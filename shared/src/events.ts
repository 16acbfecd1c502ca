import { z } from 'zod';
import { Action, Decision, Verdict } from './action.js';
import { Approval } from './approval.js';
import { AgentSession } from './session.js';
import { RecordingSummary } from './recording.js';
import { EffectivePolicy } from './policy.js';
import { TargetStatus } from './api.js';
import { MaskReport } from './masking.js';
import { PendingPolicyChange, PolicyChangeApplied } from './policy-change.js';

/**
 * Events on the daemon's bus, streamed to the extension over SSE (`event:` = type, `id:` = id).
 * Ids increase by one per event within a daemon run; `Last-Event-ID` resumes after one.
 */
const variants = [
  z.object({ type: z.literal('action.decided'), data: z.object({ action: Action, decision: Decision }) }),
  z.object({ type: z.literal('action.completed'), data: z.object({ action: Action, verdict: Verdict }) }),
  z.object({
    type: z.literal('action.result'),
    data: z.object({
      actionId: z.string(),
      sessionId: z.string(),
      target: z.string(),
      summary: z.string(),
      durationMs: z.number().optional(),
      error: z.string().optional(),
      rowCount: z.number().int().optional(),
      maskReport: MaskReport.optional(),
    }),
  }),
  z.object({ type: z.literal('approval.requested'), data: z.object({ approval: Approval }) }),
  z.object({ type: z.literal('approval.resolved'), data: z.object({ approval: Approval }) }),
  z.object({
    type: z.literal('policy.changed'),
    data: z.object({ hash: z.string(), rules: z.number().int(), sources: EffectivePolicy.shape.sources }),
  }),
  /** a change that loosens enforcement is waiting for a person; the previous policy stays in force */
  z.object({ type: z.literal('policy.staged'), data: z.object({ change: PendingPolicyChange }) }),
  /** the staged change was withdrawn: the files went back to what is in force, or a newer edit tightened */
  z.object({ type: z.literal('policy.unstaged'), data: z.object({ hash: z.string(), reason: z.string() }) }),
  /** a person confirmed the staged change and it is in force */
  z.object({ type: z.literal('policy.applied'), data: PolicyChangeApplied }),
  z.object({ type: z.literal('policy.rejected'), data: z.object({ file: z.string(), error: z.string() }) }),
  z.object({ type: z.literal('config.rejected'), data: z.object({ file: z.string(), error: z.string() }) }),
  z.object({ type: z.literal('targets.changed'), data: z.object({ targets: z.array(TargetStatus) }) }),
  z.object({ type: z.literal('session.created'), data: z.object({ session: AgentSession }) }),
  z.object({ type: z.literal('session.revoked'), data: z.object({ session: AgentSession }) }),
  z.object({ type: z.literal('recording.opened'), data: z.object({ recording: RecordingSummary }) }),
  z.object({ type: z.literal('recording.sealed'), data: z.object({ recording: RecordingSummary }) }),
  z.object({ type: z.literal('recording.failed'), data: z.object({ recordingId: z.string(), error: z.string() }) }),
  /** the requested Last-Event-ID is older than the daemon keeps (or from another run): refetch state */
  z.object({ type: z.literal('resync'), data: z.object({ reason: z.string() }) }),
] as const;

export const AirlockEventBody = z.discriminatedUnion('type', variants);
export type AirlockEventBody = z.infer<typeof AirlockEventBody>;
export type AirlockEventType = AirlockEventBody['type'];

export const AirlockEvent = z.intersection(
  z.object({ id: z.number().int().min(1), ts: z.string() }),
  AirlockEventBody,
);
export type AirlockEvent = AirlockEventBody & { id: number; ts: string };
export type EventOf<T extends AirlockEventType> = Extract<AirlockEvent, { type: T }>;
