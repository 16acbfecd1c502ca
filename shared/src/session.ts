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
  /**
   * The session's SSH public key (`ssh-ed25519 AAAA…`), with which its agent logs in to SSH targets;
   * the private key is the file the session's creation returned (`sshIdentity`). Absent for sessions
   * made before Airlock gave sessions SSH keys: those log in with their token only.
   */
  sshPublicKey: z.string().regex(/^ssh-ed25519 [A-Za-z0-9+/]+=*$/, { message: 'expected an OpenSSH ed25519 public key line' }).optional(),
});
export type AgentSession = z.infer<typeof AgentSession>;

export const AgentSessionState = z.enum(['active', 'expired', 'revoked']);
export type AgentSessionState = z.infer<typeof AgentSessionState>;

export function agentSessionState(session: AgentSession, now: number = Date.now()): AgentSessionState {
  if (session.revokedAt) return 'revoked';
  if (Date.parse(session.expiresAt) <= now) return 'expired';
  return 'active';
}
