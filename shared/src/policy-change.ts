import { z } from 'zod';
import { Duration, IsoTime } from './common.js';
import { ApprovalChannel } from './action.js';
import { LimitOverrides, Target } from './config.js';
import { Policy } from './policy.js';

/**
 * A change to what Airlock enforces (policy files, targets in the config) and whether it loosens.
 * A change that tightens is applied at once; one that loosens anything is staged until a person
 * confirms it (VS Code modal or `airlock policy apply` at a terminal), because an agent that is
 * blocked can rewrite the files as easily as the user can.
 */
export const ChangeDirection = z.enum(['tightening', 'loosening']);
export type ChangeDirection = z.infer<typeof ChangeDirection>;

export const PolicyDifference = z.object({
  direction: ChangeDirection,
  /** what changed: `default`, `rule writes-review`, `masking`, `target db`, `approvals` */
  subject: z.string(),
  /** one sentence for a person: what was, what would be */
  text: z.string(),
});
export type PolicyDifference = z.infer<typeof PolicyDifference>;

/** A staged change: what would be applied, and the hash a confirmation must name. */
export const PendingPolicyChange = z.object({
  /** SHA-256 of the staged content; a confirmation naming another hash is refused */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  stagedAt: IsoTime,
  /** the files the staged content was read from */
  files: z.array(z.string()),
  /** effective policy hash in force now, and the one the change would put in force */
  policy: z.object({ from: z.string(), to: z.string() }),
  differences: z.array(PolicyDifference),
});
export type PendingPolicyChange = z.infer<typeof PendingPolicyChange>;

export const PendingPolicyChangeResponse = z.object({ pending: PendingPolicyChange.nullable() });
export type PendingPolicyChangeResponse = z.infer<typeof PendingPolicyChangeResponse>;

export const ApplyPolicyChangeRequest = z
  .object({
    /** the hash of the change the person was shown */
    hash: z.string().regex(/^[0-9a-f]{64}$/, { message: 'expected the 64-hex-digit hash of the staged change' }),
    by: z.string().min(1).max(200).optional(),
    via: ApprovalChannel.default('api'),
  })
  .strict();
export type ApplyPolicyChangeRequest = z.input<typeof ApplyPolicyChangeRequest>;

export const PolicyChangeApplied = z.object({
  change: PendingPolicyChange,
  by: z.string(),
  via: ApprovalChannel,
  appliedAt: IsoTime,
});
export type PolicyChangeApplied = z.infer<typeof PolicyChangeApplied>;

/** What of the config decides enforcement: the paths to systems, their limits, where policy comes from. */
export const EnforcedConfig = z.object({
  targets: z.array(Target),
  limits: LimitOverrides,
  central: z.object({ url: z.string().url() }).strict().optional(),
  policyFile: z.string().min(1),
  approvals: z.object({ defaultTimeout: Duration }).strict(),
});
export type EnforcedConfig = z.infer<typeof EnforcedConfig>;

/**
 * <data dir>/enforced.json: what was last in force (the policy files' content and the config's
 * targets), so a restart does not put an unconfirmed loosening in force: at start, files that loosen
 * this are staged like an edit while the daemon runs.
 */
export const EnforcedState = z.object({
  version: z.literal(1),
  savedAt: IsoTime,
  policy: z.object({
    central: z.object({ policy: Policy, hash: z.string() }).optional(),
    local: z.object({ policy: Policy, file: z.string(), hash: z.string() }).optional(),
  }),
  config: EnforcedConfig,
});
export type EnforcedState = z.infer<typeof EnforcedState>;

/** One text block for a person, loosening first: what a modal or a terminal shows. */
export function describeDifferences(differences: readonly PolicyDifference[]): string {
  const loosening = differences.filter((d) => d.direction === 'loosening');
  const tightening = differences.filter((d) => d.direction === 'tightening');
  const lines: string[] = [];
  if (loosening.length > 0) lines.push('Loosens:', ...loosening.map((d) => `  - ${d.subject}: ${d.text}`));
  if (tightening.length > 0) lines.push('Tightens or leaves as strict:', ...tightening.map((d) => `  - ${d.subject}: ${d.text}`));
  return lines.join('\n');
}

const STAGE_WORDS: Record<string, string> = {
  staged: 'a change that loosens enforcement was staged (not in force until a person confirms it)',
  confirmed: 'a staged policy change was confirmed and applied',
  tightened: 'a policy change that does not loosen enforcement was applied',
  withdrawn: 'a staged policy change was withdrawn',
};

/** One line for a replay: what happened to the policy, by whom, and what loosened. */
export function policyChangeLine(record: { stage: string; differences: readonly PolicyDifference[]; by?: string; via?: string }): string {
  const loosening = record.differences.filter((d) => d.direction === 'loosening').map((d) => `${d.subject}: ${d.text}`);
  const who = record.by !== undefined ? ` by ${record.by}${record.via !== undefined ? ` (${record.via})` : ''}` : '';
  return `policy: ${STAGE_WORDS[record.stage] ?? record.stage}${who}${loosening.length > 0 ? `; loosens: ${loosening.join('; ')}` : ''}`;
}
