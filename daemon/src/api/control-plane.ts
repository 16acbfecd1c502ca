import type {
  AddSessionTokenResponse,
  AgentSession,
  AgentSessionsResponse,
  Approval,
  ApprovalsResponse,
  CreateAgentSessionResponse,
  EffectivePolicy,
  PendingPolicyChange,
  PolicyChangeApplied,
  ApplyPolicyChangeRequest,
  RecordingSummary,
  RecordsPage,
  StatusResponse,
  SubmitActionResponse,
  Target,
  TargetStatus,
  VerifyResult,
  ApproveRequest,
  CreateAgentSessionRequest,
  DenyRequest,
  SubmitActionRequest,
  SshConfigRequest,
  KubeconfigRequest,
  KubeconfigResponse,
  SshConfigResponse,
} from '@airlock/shared';
import type { z } from 'zod';
import type { EventBus } from '../events/bus.js';

/** What the control API needs from the daemon; the daemon implements it, the routes stay thin. */
export interface ControlPlane {
  readonly bus: EventBus;
  status(): StatusResponse;
  targets(): TargetStatus[];
  addTarget(target: Target): Promise<TargetStatus[]>;
  removeTarget(name: string): Promise<TargetStatus[]>;
  createSession(request: z.output<typeof CreateAgentSessionRequest>): Promise<CreateAgentSessionResponse>;
  listSessions(): AgentSessionsResponse['sessions'];
  revokeSession(id: string): Promise<AgentSession | undefined>;
  /** another token for an active agent session (id, or the name of one active session) */
  addSessionToken(idOrName: string): Promise<AddSessionTokenResponse>;
  /** writes the OpenSSH client config for one agent session and says where */
  sshConfig(request: z.output<typeof SshConfigRequest>): Promise<SshConfigResponse>;
  /** writes a kubeconfig for one agent session (its token checked) and says where */
  kubeconfig(request: z.output<typeof KubeconfigRequest>): Promise<KubeconfigResponse>;
  recordings(): RecordingSummary[];
  recording(id: string): RecordingSummary | undefined;
  records(id: string, after: number, limit: number): Promise<RecordsPage>;
  verify(id: string): Promise<VerifyResult>;
  approvals(): ApprovalsResponse;
  approval(id: string): Approval | undefined;
  approve(id: string, request: z.output<typeof ApproveRequest>): Approval;
  deny(id: string, request: z.output<typeof DenyRequest>): Approval;
  effectivePolicy(): EffectivePolicy;
  /** a change that loosens enforcement, waiting for a person */
  pendingPolicyChange(): PendingPolicyChange | null;
  applyPolicyChange(request: z.output<typeof ApplyPolicyChangeRequest>): Promise<PolicyChangeApplied>;
  /** present only when the daemon runs with the test-only action source */
  submitTestAction?(request: z.output<typeof SubmitActionRequest>, signal: AbortSignal): Promise<SubmitActionResponse>;
}
