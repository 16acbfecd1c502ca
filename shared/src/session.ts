import { z } from 'zod';
import { IsoTime } from './common.js';

/** An agent's identity towards the daemon. The bearer token is shown once and stored only as a hash. */
export const AgentSession = z.object({
  id: z.string(),
  name: z.string().min(1).max(200),
  /** target names this session may use; null means all */
  targets: z.array(z.string()).nullable(),
  createdAt: IsoTime,
  expiresAt: IsoTime,
  revokedAt: IsoTime.nullable(),
});
export type AgentSession = z.infer<typeof AgentSession>;

export const AgentSessionState = z.enum(['active', 'expired', 'revoked']);
export type AgentSessionState = z.infer<typeof AgentSessionState>;

export function agentSessionState(session: AgentSession, now: number = Date.now()): AgentSessionState {
  if (session.revokedAt) return 'revoked';
  if (Date.parse(session.expiresAt) <= now) return 'expired';
  return 'active';
}
