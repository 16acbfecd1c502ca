import { z } from 'zod';
import { Duration, Name, Pattern, Protocol, refineUnique } from './common.js';

export const DECISIONS = ['allow', 'deny', 'review'] as const;
export const DecisionKind = z.enum(DECISIONS);
export type DecisionKind = z.infer<typeof DecisionKind>;

export const NumberComparison = z
  .object({ gt: z.number().optional(), gte: z.number().optional(), lt: z.number().optional(), lte: z.number().optional() })
  .strict()
  .refine((c) => Object.keys(c).length > 0, { message: 'expected at least one of gt, gte, lt, lte' });
export type NumberComparison = z.infer<typeof NumberComparison>;

/**
 * A condition on one classified attribute of an action.
 * - string / list of strings: globs; a list-valued attribute (such as `tables`) matches when any element matches
 * - number / boolean: equality
 * - {gt, gte, lt, lte}: numeric comparison
 */
export const AttributeCondition = z.union([Pattern, z.number(), z.boolean(), NumberComparison]);
export type AttributeCondition = z.infer<typeof AttributeCondition>;

export const RuleMatch = z
  .object({
    targets: Pattern.optional(),
    protocols: z.union([Protocol, z.array(Protocol).min(1)]).optional(),
    kinds: Pattern.optional(),
    attributes: z.record(z.string().min(1), AttributeCondition).optional(),
  })
  .strict();
export type RuleMatch = z.infer<typeof RuleMatch>;

export const Rule = z
  .object({
    id: Name,
    description: z.string().optional(),
    decision: DecisionKind,
    match: RuleMatch.default({}),
    /** review only: how long a held action waits for a human before it is denied */
    timeout: Duration.optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.timeout !== undefined && rule.decision !== 'review') {
      ctx.addIssue({ code: 'custom', path: ['timeout'], message: 'a timeout only applies to rules whose decision is review' });
    }
  });
export type Rule = z.infer<typeof Rule>;

export const DETECTORS = [
  'email',
  'payment-card',
  'iban',
  'phone',
  'national-id',
  'cloud-key',
  'token',
  'jwt',
  'private-key',
  'connection-password',
] as const;
export const DetectorName = z.enum(DETECTORS);
export type DetectorName = z.infer<typeof DetectorName>;

export const ColumnRule = z
  .object({
    /** column-name globs, case-insensitive */
    columns: Pattern,
    targets: Pattern.optional(),
    label: z.string().min(1).default('REDACTED'),
  })
  .strict();
export type ColumnRule = z.infer<typeof ColumnRule>;

export const CustomDetector = z
  .object({
    name: Name,
    regex: z.string().min(1).refine(
      (source) => {
        try {
          new RegExp(source, 'g');
          return true;
        } catch {
          return false;
        }
      },
      { message: 'expected a valid JavaScript regular expression' },
    ),
    label: z.string().min(1).optional(),
  })
  .strict();
export type CustomDetector = z.infer<typeof CustomDetector>;

export const MaskingPolicy = z
  .object({
    /** built-in content detectors that run; all of them when omitted */
    detectors: z.array(DetectorName).optional(),
    columns: z.array(ColumnRule).default([]),
    custom: z.array(CustomDetector).default([]),
  })
  .strict();
export type MaskingPolicy = z.infer<typeof MaskingPolicy>;

export const Policy = z
  .object({
    version: z.literal(1).default(1),
    /** decision when no rule matches; an unknown action is never allowed by default */
    default: DecisionKind.default('review'),
    rules: z.array(Rule).default([]),
    masking: MaskingPolicy.default({ columns: [], custom: [] }),
  })
  .strict()
  .superRefine((policy, ctx) => refineUnique(policy.rules, (r) => r.id, ctx, { list: 'rules', field: 'id', what: 'rule id' }));
export type Policy = z.infer<typeof Policy>;
export type PolicyInput = z.input<typeof Policy>;

export const PolicySourceKind = z.enum(['central', 'local', 'default']);
export const PolicySource = z.object({
  kind: PolicySourceKind,
  file: z.string().optional(),
  hash: z.string(),
});
export type PolicySource = z.infer<typeof PolicySource>;

/** The policy in force: central + local (tighten only), or the embedded default. */
export const EffectivePolicy = z.object({
  policy: Policy,
  hash: z.string(),
  sources: z.array(PolicySource),
  /** local rules dropped because they would loosen central policy */
  ignoredLocalRules: z.array(z.string()),
});
export type EffectivePolicy = z.infer<typeof EffectivePolicy>;
