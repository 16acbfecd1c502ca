import { z } from 'zod';
import {
  AgentSession,
  AgentSessionsResponse,
  ApiError,
  ApprovalResponse,
  ApprovalsResponse,
  CreateAgentSessionResponse,
  KubeconfigResponse,
  PendingPolicyChangeResponse,
  PolicyChangeApplied,
  PolicyResponse,
  RecordingsResponse,
  RecordsPage,
  SshConfigResponse,
  StatusResponse,
  TargetsResponse,
  VerifyResponse,
  describeIssues,
  type ApplyPolicyChangeRequest,
  type ApproveRequest,
  type CreateAgentSessionRequest,
  type DaemonInfo,
  type DenyRequest,
  type KubeconfigRequest,
  type SshConfigRequest,
} from '@airlock/shared';

/** A control-API call that failed, as one sentence for the user. */
export class DaemonRequestError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DaemonRequestError';
  }
}

/** The extension host's side of the control API; every answer is validated with the shared schemas. */
export class DaemonClient {
  readonly base: string;

  constructor(readonly info: DaemonInfo) {
    this.base = `http://${info.host.includes(':') ? `[${info.host}]` : info.host}:${info.port}`;
  }

  status() {
    return this.call('GET', '/v1/status', undefined, StatusResponse);
  }
  targets() {
    return this.call('GET', '/v1/targets', undefined, TargetsResponse);
  }
  approvals() {
    return this.call('GET', '/v1/approvals', undefined, ApprovalsResponse);
  }
  approve(id: string, body: ApproveRequest) {
    return this.call('POST', `/v1/approvals/${encodeURIComponent(id)}/approve`, body, ApprovalResponse);
  }
  deny(id: string, body: DenyRequest) {
    return this.call('POST', `/v1/approvals/${encodeURIComponent(id)}/deny`, body, ApprovalResponse);
  }
  agentSessions() {
    return this.call('GET', '/v1/agent-sessions', undefined, AgentSessionsResponse);
  }
  createAgentSession(body: CreateAgentSessionRequest) {
    return this.call('POST', '/v1/agent-sessions', body, CreateAgentSessionResponse);
  }
  revokeAgentSession(id: string) {
    return this.call('DELETE', `/v1/agent-sessions/${encodeURIComponent(id)}`, undefined, z.object({ session: AgentSession }));
  }
  /** The daemon writes an ssh config for the agent session (under its data dir) and says where, and which Host aliases it has. */
  sshConfig(body: SshConfigRequest) {
    return this.call('POST', '/v1/ssh-config', body, SshConfigResponse);
  }
  kubeconfig(body: KubeconfigRequest) {
    return this.call('POST', '/v1/kubeconfig', body, KubeconfigResponse);
  }
  recordings() {
    return this.call('GET', '/v1/sessions', undefined, RecordingsResponse);
  }
  records(id: string, after = -1, limit = 200) {
    return this.call('GET', `/v1/sessions/${encodeURIComponent(id)}/records?after=${after}&limit=${limit}`, undefined, RecordsPage);
  }
  verify(id: string) {
    return this.call('GET', `/v1/sessions/${encodeURIComponent(id)}/verify`, undefined, VerifyResponse);
  }
  policy() {
    return this.call('GET', '/v1/policy', undefined, PolicyResponse);
  }
  pendingPolicyChange() {
    return this.call('GET', '/v1/policy/pending', undefined, PendingPolicyChangeResponse);
  }
  applyPolicyChange(body: ApplyPolicyChangeRequest) {
    return this.call('POST', '/v1/policy/pending/apply', body, PolicyChangeApplied);
  }

  private async call<S extends z.ZodType>(method: string, path: string, body: unknown, schema: S): Promise<z.output<S>> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: { authorization: `Bearer ${this.info.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      throw new DaemonRequestError(`Airlock daemon at ${this.base} did not answer: ${(err as Error).message}`);
    }
    const json: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const error = ApiError.safeParse(json);
      throw new DaemonRequestError(error.success ? error.data.error : `Airlock daemon answered ${method} ${path} with ${res.status}`, res.status);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new DaemonRequestError(describeIssues(`Airlock daemon's answer to ${method} ${path}`, parsed.error));
    return parsed.data;
  }
}
