import { z } from 'zod';
import { Duration, Name } from './common.js';
import { Target } from './config.js';
import { Action, ApprovalChannel, Verdict } from './action.js';
import { Approval, ApprovalScope, Grant } from './approval.js';
import { AgentSession } from './session.js';
import { RecordingRecord, RecordingSummary, VerifyResult } from './recording.js';
import { EffectivePolicy } from './policy.js';
import { PendingPolicyChange } from './policy-change.js';

/** Control API (daemon <-> extension and CLI). Paths are under /v1. */

export const ApiError = z.object({ error: z.string() });
export type ApiError = z.infer<typeof ApiError>;

export const Health = z.object({ ok: z.literal(true), version: z.string(), pid: z.number().int() });
export type Health = z.infer<typeof Health>;

export const TargetState = z.enum(['listening', 'stopped', 'unsupported', 'error']);
export const TargetStatus = z.object({
  target: Target,
  state: TargetState,
  /** host:port the listener is bound to */
  address: z.string().optional(),
  error: z.string().optional(),
});
export type TargetStatus = z.infer<typeof TargetStatus>;

export const StatusResponse = z.object({
  version: z.string(),
  pid: z.number().int(),
  startedAt: z.string(),
  home: z.string(),
  api: z.string(),
  recordingMode: z.enum(['async', 'sync']),
  policy: z.object({ hash: z.string(), rules: z.number().int(), sources: EffectivePolicy.shape.sources }),
  /** a change that loosens enforcement, waiting for a person to confirm it */
  pendingPolicyChange: PendingPolicyChange.nullable().default(null),
  targets: z.array(TargetStatus),
  pendingApprovals: z.number().int(),
  activeSessions: z.number().int(),
});
export type StatusResponse = z.infer<typeof StatusResponse>;

export const TargetsResponse = z.object({ targets: z.array(TargetStatus) });
export type TargetsResponse = z.infer<typeof TargetsResponse>;

export const CreateAgentSessionRequest = z
  .object({
    name: z.string().min(1).max(200),
    targets: z.array(Name).min(1).optional(),
    ttl: Duration.default('8h'),
  })
  .strict();
export type CreateAgentSessionRequest = z.input<typeof CreateAgentSessionRequest>;
export const CreateAgentSessionResponse = z.object({
  session: AgentSession,
  token: z.string(),
  /** the session's SSH private key file (0600), for ssh's IdentityFile; absent when the daemon made none */
  sshIdentity: z.string().optional(),
});
export type CreateAgentSessionResponse = z.infer<typeof CreateAgentSessionResponse>;
/**
 * POST /v1/agent-sessions/:id/tokens (id, or the name of one active session): another token for an
 * existing, active agent session, for a client that needs the session's token but was not the one
 * given it (the daemon keeps only hashes). Same session, same expiry; its other tokens keep working.
 */
export const AddSessionTokenRequest = z.object({}).strict();
export type AddSessionTokenRequest = z.input<typeof AddSessionTokenRequest>;
export const AddSessionTokenResponse = z.object({
  session: AgentSession,
  /** shown once: the daemon keeps only its hash */
  token: z.string(),
});
export type AddSessionTokenResponse = z.infer<typeof AddSessionTokenResponse>;
export const AgentSessionsResponse = z.object({
  sessions: z.array(AgentSession.extend({ state: z.enum(['active', 'expired', 'revoked']) })),
});
export type AgentSessionsResponse = z.infer<typeof AgentSessionsResponse>;

/**
 * POST /v1/ssh-config: the daemon writes an OpenSSH client config for one agent session: a `Host`
 * block per SSH target (alias = target name) that logs in with the session's key and pins the
 * daemon's host key. A terminal uses it with `ssh -F PATH TARGET` or `GIT_SSH_COMMAND`.
 */
export const SshConfigRequest = z
  .object({
    /** agent session id (or its name, when one active session has it) */
    sessionId: z.string().min(1).max(200),
  })
  .strict();
export type SshConfigRequest = z.input<typeof SshConfigRequest>;
export const SshConfigResponse = z.object({
  /** the config file written (0600), under the data dir */
  path: z.string(),
  /** the known_hosts file it names: the daemon's host key for each SSH listener */
  knownHostsPath: z.string(),
  /** the session's private key, the config's IdentityFile */
  identityFile: z.string(),
  /** the Host aliases in it, one per SSH target the session may use */
  hosts: z.array(z.string()),
  /** the config's text, so a client can also write it elsewhere */
  config: z.string(),
  /** the known_hosts file's text */
  knownHosts: z.string(),
  /** the daemon's host key fingerprint, as ssh-keygen -lf prints it */
  hostKeyFingerprint: z.string(),
});
export type SshConfigResponse = z.infer<typeof SshConfigResponse>;

/**
 * POST /v1/kubeconfig: the daemon writes a kubeconfig for one agent session: one cluster, user and
 * context per listening Kubernetes target (named after it), the server its listener over HTTPS
 * trusted through the daemon's local CA, the user the session's token. The daemon keeps only a hash
 * of a token, so the caller sends the token it holds; the daemon checks it is that session's. A
 * terminal uses it with `KUBECONFIG=PATH kubectl --context TARGET ...`.
 */
export const KubeconfigRequest = z
  .object({
    /** agent session id (or its name, when one active session has it) */
    sessionId: z.string().min(1).max(200),
    /** the session's token, as the caller was given it when the session was made */
    token: z.string().min(1).max(1_000),
  })
  .strict();
export type KubeconfigRequest = z.input<typeof KubeconfigRequest>;
export const KubeconfigResponse = z.object({
  /** the kubeconfig file written (0600), under the data dir */
  path: z.string(),
  /** its contexts, one per listening Kubernetes target, named after the target */
  contexts: z.array(z.string()),
  /** the file's text */
  config: z.string(),
});
export type KubeconfigResponse = z.infer<typeof KubeconfigResponse>;

export const RecordingsResponse = z.object({ recordings: z.array(RecordingSummary) });
export type RecordingsResponse = z.infer<typeof RecordingsResponse>;
export const RecordsPage = z.object({
  records: z.array(RecordingRecord),
  /** pass as `after` for the next page; null at the end of the log */
  nextAfter: z.number().int().nullable(),
});
export type RecordsPage = z.infer<typeof RecordsPage>;
export const RecordsQuery = z.object({
  after: z.coerce.number().int().min(-1).default(-1),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
export const VerifyResponse = VerifyResult;

export const ApprovalsResponse = z.object({ approvals: z.array(Approval), grants: z.array(Grant) });
export type ApprovalsResponse = z.infer<typeof ApprovalsResponse>;
export const ApproveRequest = z
  .object({
    scope: ApprovalScope.default('once'),
    by: z.string().min(1).max(200).optional(),
    via: ApprovalChannel.default('api'),
    /** session scope: how long the grant lasts; until the agent session ends when omitted */
    grantTtl: Duration.optional(),
  })
  .strict();
export type ApproveRequest = z.input<typeof ApproveRequest>;
export const DenyRequest = z
  .object({
    reason: z.string().trim().min(1, { message: 'a reason is required to deny' }).max(2000),
    by: z.string().min(1).max(200).optional(),
    via: ApprovalChannel.default('api'),
  })
  .strict();
export type DenyRequest = z.input<typeof DenyRequest>;
export const ApprovalResponse = z.object({ approval: Approval });
export type ApprovalResponse = z.infer<typeof ApprovalResponse>;

export const PolicyResponse = EffectivePolicy;

/** Test-only action source (enabled with AIRLOCK_TEST_ACTION_SOURCE=1): runs an action through the pipeline. */
export const SubmitActionRequest = Action.omit({ id: true, at: true, sessionId: true })
  .extend({
    token: z.string().min(1),
    /** recorded as the action's result when it is allowed: what a protocol proxy would record (terminal output, rows) */
    result: z.object({ summary: z.string(), durationMs: z.number().min(0).optional(), detail: z.record(z.string(), z.unknown()).optional() }).optional(),
  })
  .strict();
export type SubmitActionRequest = z.input<typeof SubmitActionRequest>;
export const SubmitActionResponse = z.object({ action: Action, verdict: Verdict });
export type SubmitActionResponse = z.infer<typeof SubmitActionResponse>;
