import { z } from 'zod';
import { IsoTime } from './common.js';
import { Action, ApprovalChannel } from './action.js';

export const ApprovalScope = z.enum(['once', 'session']);
export type ApprovalScope = z.infer<typeof ApprovalScope>;

export const ApprovalStatus = z.enum(['pending', 'approved', 'denied', 'expired', 'cancelled']);
export type ApprovalStatus = z.infer<typeof ApprovalStatus>;

export const ApprovalResolution = z.object({
  at: IsoTime,
  /** the person, or "airlock" for timeouts and cancellations */
  by: z.string(),
  via: z.union([ApprovalChannel, z.literal('system')]),
  scope: ApprovalScope.optional(),
  reason: z.string().optional(),
  grantId: z.string().optional(),
});
export type ApprovalResolution = z.infer<typeof ApprovalResolution>;

export const Approval = z.object({
  id: z.string(),
  action: Action,
  ruleId: z.string(),
  reason: z.string(),
  requestedAt: IsoTime,
  expiresAt: IsoTime,
  status: ApprovalStatus,
  resolution: ApprovalResolution.optional(),
});
export type Approval = z.infer<typeof Approval>;

/** Lets later actions of one agent session that match one rule through without a prompt. */
export const Grant = z.object({
  id: z.string(),
  sessionId: z.string(),
  ruleId: z.string(),
  approvalId: z.string(),
  /** the approved action's grantKey: the grant covers only actions with the same key */
  key: z.string().optional(),
  createdAt: IsoTime,
  /** null: until the agent session ends */
  expiresAt: IsoTime.nullable(),
  by: z.string(),
  via: ApprovalChannel,
});
export type Grant = z.infer<typeof Grant>;
