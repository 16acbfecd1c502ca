import { z } from 'zod';
import { Action, Approval, ApprovalScope, AttributeValue, HttpResponseResultDetail, HttpTunnelResultDetail, K8sExecResultDetail, K8sPortForwardResultDetail, K8sResponseResultDetail, MaskReport, ParsedActionDetailSchema, PgResultDetail, Protocol, Risk, SshSessionResultDetail, SshSftpResultDetail, VerifyResult } from '@airlock/shared';

/**
 * The one message protocol between the extension host and Airlock's webviews. Both sides import
 * these schemas and validate what they receive: a webview is a separate, less trusted process, and
 * a host message from an older or newer build must fail loudly, not render half.
 */

// ---- view models the host sends ------------------------------------------------------------------

export const TimelineApproval = z.object({
  approvalId: z.string(),
  ruleId: z.string(),
  requestedT: z.number(),
  resolvedT: z.number().optional(),
  status: z.enum(['pending', 'approved', 'denied', 'expired', 'cancelled']),
  by: z.string().optional(),
  via: z.string().optional(),
  scope: z.string().optional(),
  reason: z.string().optional(),
});
export type TimelineApproval = z.infer<typeof TimelineApproval>;

export const TimelineResult = z.object({
  summary: z.string(),
  durationMs: z.number().optional(),
  error: z.string().optional(),
  rowCount: z.number().int().optional(),
  maskReport: MaskReport.optional(),
  sample: PgResultDetail.optional(),
  /** ssh.exec / ssh.shell: how it ended (its output plays in the terminal lane) */
  session: SshSessionResultDetail.omit({ asciicast: true }).optional(),
  /** ssh.sftp: the operation's status, bytes and digest */
  sftp: SshSftpResultDetail.optional(),
  /** http.request: the status, response headers and masked body excerpt the agent got */
  http: HttpResponseResultDetail.optional(),
  /** http.connect / http.websocket: the tunnel's bytes each way */
  tunnel: HttpTunnelResultDetail.optional(),
  /** k8s.request: the status, the response object's kind and count, its body (masked) */
  k8s: K8sResponseResultDetail.optional(),
  /** k8s.exec: how the command ended (its output plays in the terminal lane) */
  k8sExec: K8sExecResultDetail.omit({ asciicast: true }).optional(),
  /** k8s.portforward: bytes per port */
  k8sPortForward: K8sPortForwardResultDetail.optional(),
});
export type TimelineResult = z.infer<typeof TimelineResult>;

export const TimelineEntry = z.object({
  actionId: z.string(),
  seq: z.number().int(),
  at: z.string(),
  t: z.number(),
  target: z.string(),
  protocol: Protocol,
  kind: z.string(),
  risk: Risk,
  summary: z.string(),
  /** the action's detail, typed by its kind once, when the timeline is built */
  detail: ParsedActionDetailSchema,
  attributes: z.record(z.string(), AttributeValue),
  decision: z.enum(['allow', 'deny', 'review']),
  ruleId: z.string(),
  reason: z.string(),
  status: z.enum(['allowed', 'denied', 'held']),
  via: z.string().optional(),
  decidedBy: z.string().optional(),
  approval: TimelineApproval.optional(),
  result: TimelineResult.optional(),
});
export type TimelineEntry = z.infer<typeof TimelineEntry>;

export const TerminalClip = z.object({
  actionId: z.string(),
  t: z.number(),
  /** how long its output plays, in ms */
  duration: z.number().min(0),
  cast: z.string(),
  /** the daemon kept only the head of the session's output */
  truncated: z.boolean(),
  exitStatus: z.number().int().nullable(),
  exitSignal: z.string().nullable().optional(),
});
export type TerminalClip = z.infer<typeof TerminalClip>;

export const Timeline = z.object({
  recordingId: z.string(),
  agentSessionName: z.string(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  duration: z.number().min(0),
  entries: z.array(TimelineEntry),
  protocols: z.array(Protocol),
  terminals: z.array(TerminalClip),
  notes: z.array(z.object({ t: z.number(), message: z.string() })),
  sealed: z.boolean(),
  sealReason: z.string().optional(),
});
export type Timeline = z.infer<typeof Timeline>;

/** A recent action of the same agent session, for context in the approval panel. */
export const RecentAction = z.object({ id: z.string(), at: z.string(), protocol: Protocol, summary: z.string(), outcome: z.string() });
export type RecentAction = z.infer<typeof RecentAction>;

export const ApprovalPanelState = z.object({
  approval: Approval,
  /** the held action's detail typed by its kind (parsed once, by the host); the panel renders it by kind */
  detail: ParsedActionDetailSchema,
  recent: z.array(RecentAction),
  /** "approved by ada via cli" once decided, here or anywhere else */
  outcome: z.string().optional(),
});
export type ApprovalPanelState = z.infer<typeof ApprovalPanelState>;

export const MaskedResultState = z.object({
  action: Action,
  outcome: z.string(),
  result: TimelineResult.optional(),
  /** why there are no rows to show (still running, not recorded, ...) */
  note: z.string().optional(),
});
export type MaskedResultState = z.infer<typeof MaskedResultState>;

export const ReplayState = z.object({
  timeline: Timeline,
  verify: VerifyResult.optional(),
  /** the log had more records than the panel loads */
  truncated: z.boolean(),
});
export type ReplayState = z.infer<typeof ReplayState>;

// ---- host → webview -------------------------------------------------------------------------------

export const HostMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('approval.state'), state: ApprovalPanelState }),
  z.object({ type: z.literal('masked.state'), state: MaskedResultState }),
  z.object({ type: z.literal('replay.state'), state: ReplayState }),
  /** something the panel asked for failed: shown in the panel, one sentence */
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type HostMessage = z.infer<typeof HostMessage>;

// ---- webview → host -------------------------------------------------------------------------------

export const WebviewMessage = z.discriminatedUnion('type', [
  /** the script loaded: send the current state */
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('approve'), approvalId: z.string().min(1), scope: ApprovalScope }),
  z.object({ type: z.literal('deny'), approvalId: z.string().min(1), reason: z.string().trim().min(1, 'a reason is required').max(2_000) }),
  /** open the masked-data view of one action of the replayed session */
  z.object({ type: z.literal('openResult'), actionId: z.string().min(1) }),
  z.object({ type: z.literal('reload') }),
]);
export type WebviewMessage = z.infer<typeof WebviewMessage>;

export type WebviewKind = 'approval' | 'masked' | 'replay';
