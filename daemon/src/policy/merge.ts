import { DETECTORS } from '@airlock/shared';
import type { ColumnRule, CustomDetector, EffectivePolicy, MaskingPolicy, Policy, PolicySource, Rule } from '@airlock/shared';
import { DEFAULT_POLICY } from './defaults.js';
import { compilePolicy, stricterDecision, withFloor } from './engine.js';
import type { CompileOptions, CompiledPolicy } from './engine.js';
import { canonicalJson, policyHash } from './hash.js';

/**
 * How the policy in force is made from what is known. Pure: the store reads the files.
 *
 * Central policy is authoritative and a local policy may only tighten it: central rules come first,
 * then the local deny and review rules; local allow rules are dropped (and listed); the default is
 * the stricter of the two; masking is the union of both.
 */

export interface PolicyInputs {
  central?: { policy: Policy; hash: string };
  local?: { policy: Policy; file: string; hash: string };
}

/** The effective policy and its compiled form, swapped together. */
export interface PolicySnapshot {
  effective: EffectivePolicy;
  compiled: CompiledPolicy;
}

/** Prefix of a local rule (or custom detector) whose name central already uses. */
export const LOCAL_PREFIX = 'local.';

const MAX_NAME_LENGTH = 63;

const DEFAULT_POLICY_HASH = policyHash(DEFAULT_POLICY);

export function effectivePolicy(input: PolicyInputs): EffectivePolicy {
  const { central, local } = input;
  if (central === undefined) {
    if (local !== undefined) return assemble(local.policy, [{ kind: 'local', file: local.file, hash: local.hash }], []);
    return { policy: DEFAULT_POLICY, hash: DEFAULT_POLICY_HASH, sources: [{ kind: 'default', hash: DEFAULT_POLICY_HASH }], ignoredLocalRules: [] };
  }
  const centralSource: PolicySource = { kind: 'central', hash: central.hash };
  if (local === undefined) return assemble(central.policy, [centralSource], []);

  const usedIds = new Set(central.policy.rules.map((rule) => rule.id));
  const tightening: Rule[] = [];
  const ignoredLocalRules: string[] = [];
  for (const rule of local.policy.rules) {
    if (rule.decision === 'allow') {
      ignoredLocalRules.push(rule.id);
      continue;
    }
    const id = unusedName(rule.id, usedIds);
    usedIds.add(id);
    tightening.push(id === rule.id ? rule : { ...rule, id });
  }
  const policy: Policy = {
    version: 1,
    default: stricterDecision(central.policy.default, local.policy.default),
    rules: [...central.policy.rules, ...tightening],
    masking: mergeMasking(central.policy.masking, local.policy.masking),
  };
  return assemble(policy, [centralSource, { kind: 'local', file: local.file, hash: local.hash }], ignoredLocalRules);
}

/**
 * The effective policy compiled so that it is never looser than central. Concatenating rules is
 * exact except in one case: central denies by default and a local review rule matches an action
 * no central rule matches. The concatenation would hold it for review where central denies it, so
 * then central's own decision is kept as a floor (see withFloor).
 */
export function compileEffectivePolicy(input: PolicyInputs, options: CompileOptions): PolicySnapshot {
  const effective = effectivePolicy(input);
  let compiled = compilePolicy(effective.policy, options);
  if (needsCentralFloor(input)) compiled = withFloor(compiled, compilePolicy((input.central as { policy: Policy }).policy, options));
  return { effective, compiled };
}

function needsCentralFloor({ central, local }: PolicyInputs): boolean {
  return central !== undefined && local !== undefined && central.policy.default === 'deny' && local.policy.rules.some((rule) => rule.decision === 'review');
}

function assemble(policy: Policy, sources: PolicySource[], ignoredLocalRules: string[]): EffectivePolicy {
  return { policy, hash: policyHash(policy), sources, ignoredLocalRules };
}

/**
 * Stricter masking is more masking: every detector either side runs (none listed means all of
 * them), every column rule and custom detector of both applies.
 */
function mergeMasking(central: MaskingPolicy, local: MaskingPolicy): MaskingPolicy {
  const masking: MaskingPolicy = {
    columns: unionBy<ColumnRule>(central.columns, local.columns),
    custom: mergeCustomDetectors(central.custom, local.custom),
  };
  if (central.detectors !== undefined && local.detectors !== undefined) {
    const enabled = new Set([...central.detectors, ...local.detectors]);
    masking.detectors = DETECTORS.filter((name) => enabled.has(name));
  }
  return masking;
}

function unionBy<T>(first: readonly T[], second: readonly T[]): T[] {
  const seen = new Set(first.map((item) => canonicalJson(item)));
  const out = [...first];
  for (const item of second) {
    const key = canonicalJson(item);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(item);
  }
  return out;
}

/** A local detector named like a different central one is renamed, so mask reports stay unambiguous. */
function mergeCustomDetectors(central: readonly CustomDetector[], local: readonly CustomDetector[]): CustomDetector[] {
  const merged = unionBy(central, local);
  const used = new Set<string>();
  return merged.map((detector) => {
    const name = unusedName(detector.name, used);
    used.add(name);
    return name === detector.name ? detector : { ...detector, name };
  });
}

/** `name`, or `local.name` (then `local.name-2`, ...) when taken, within the 63 characters a Name allows. */
function unusedName(name: string, used: ReadonlySet<string>): string {
  if (!used.has(name)) return name;
  const base = `${LOCAL_PREFIX}${name}`.slice(0, MAX_NAME_LENGTH);
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) {
    const suffix = `-${n}`;
    const candidate = `${base.slice(0, MAX_NAME_LENGTH - suffix.length)}${suffix}`;
    if (!used.has(candidate)) return candidate;
  }
}
