import { z } from 'zod';
import { IsoTime, Protocol } from './common.js';
import { DecisionKind } from './policy.js';

export const AttributeValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]);
export type AttributeValue = z.infer<typeof AttributeValue>;

export const RISKS = ['low', 'medium', 'high', 'critical'] as const;
export const Risk = z.enum(RISKS);
export type Risk = z.infer<typeof Risk>;

/**
 * One normalized request of an agent. `kind` is `<family>.<verb>`: sql.query, ssh.exec, ssh.shell,
 * ssh.sftp, ssh.forward, k8s.request, k8s.exec, http.request. `attributes` are what the classifier
 * found and what rules match on (for SQL: class, tables, statementCount, ...). `detail` is
 * protocol-specific and only displayed.
 */
export const Action = z.object({
  id: z.string().min(1),
  sessionId: z.string().min(1),
  target: z.string().min(1),
  protocol: Protocol,
  kind: z.string().regex(/^[a-z0-9]+\.[a-z0-9._-]+$/, { message: 'expected a kind such as "sql.query"' }),
  summary: z.string(),
  risk: Risk.default('medium'),
  attributes: z.record(z.string(), AttributeValue).default({}),
  detail: z.record(z.string(), z.unknown()).default({}),
  /**
   * What approving this action for the session covers, when that is narrower than its rule: a
   * session grant made from it lets through later actions of the same rule with the same key only
   * (egress: "registry.example:443", so approving one host does not open every host).
   */
  grantKey: z.string().min(1).optional(),
  at: IsoTime,
});
export type Action = z.infer<typeof Action>;
export type ActionInput = z.input<typeof Action>;

/** What policy said about an action. `ruleId` is "default" when no rule matched. */
export const Decision = z.object({
  decision: DecisionKind,
  ruleId: z.string(),
  reason: z.string(),
  /** review: how long to wait for a human */
  timeoutMs: z.number().int().positive().optional(),
});
export type Decision = z.infer<typeof Decision>;

export const APPROVAL_CHANNELS = ['extension', 'cli', 'central', 'api'] as const;
export const ApprovalChannel = z.enum(APPROVAL_CHANNELS);
export type ApprovalChannel = z.infer<typeof ApprovalChannel>;

/** Who decided, and through what. */
export const Approver = z.object({
  by: z.string().min(1),
  via: ApprovalChannel,
});
export type Approver = z.infer<typeof Approver>;

/** How an action finally went, after policy and, when held, a human. */
export const Verdict = z.object({
  actionId: z.string(),
  allowed: z.boolean(),
  via: z.enum(['policy', 'approval', 'grant', 'timeout', 'cancelled', 'error']),
  ruleId: z.string(),
  reason: z.string(),
  approvalId: z.string().optional(),
  grantId: z.string().optional(),
  decidedBy: Approver.optional(),
});
export type Verdict = z.infer<typeof Verdict>;
