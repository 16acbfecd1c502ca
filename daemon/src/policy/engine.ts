import { PROTOCOLS, parseDuration } from '@airlock/shared';
import type { Action, AttributeCondition, AttributeValue, Decision, DecisionKind, NumberComparison, Policy, Protocol, Rule } from '@airlock/shared';
import { GlobMatcher } from './glob.js';

/**
 * The policy engine. Pure: no I/O, no clock. Compiling does all the work that does not depend on
 * the action (globs to regular expressions, durations to milliseconds, rules bucketed by protocol
 * and split by decision) so that evaluating is a short scan with no allocation until the decision.
 */

/** What evaluation looks at; the rest of an Action is for display and recording. */
export type PolicySubject = Pick<Action, 'target' | 'protocol' | 'kind' | 'attributes'>;

export interface CompileOptions {
  /** timeout of a review decision whose rule names none (and of a review by default) */
  defaultReviewTimeoutMs: number;
}

export interface CompiledPolicy {
  /** the policy this was compiled from */
  readonly policy: Policy;
  evaluate(action: PolicySubject): Decision;
}

/** A policy that cannot be compiled although it passed the schema; `path` is where, as in `rules[2].timeout`. */
export class PolicyCompileError extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = 'PolicyCompileError';
  }
}

export const DEFAULT_RULE_ID = 'default';

/** The class a classifier gives what it could not understand; never allowed without saying so. */
export const UNKNOWN_CLASS = 'unknown';

const SEVERITY: Record<DecisionKind, number> = { allow: 0, review: 1, deny: 2 };

/** deny > review > allow */
export function stricterDecision(a: DecisionKind, b: DecisionKind): DecisionKind {
  return SEVERITY[a] >= SEVERITY[b] ? a : b;
}

/**
 * Compiles a (schema-valid) policy. Throws PolicyCompileError for what the schema lets through but
 * evaluation cannot use (a zero timeout).
 */
export function compilePolicy(policy: Policy, options: CompileOptions): CompiledPolicy {
  const { defaultReviewTimeoutMs } = options;
  if (!Number.isInteger(defaultReviewTimeoutMs) || defaultReviewTimeoutMs <= 0) {
    throw new RangeError(`defaultReviewTimeoutMs: expected a positive whole number of milliseconds, got ${defaultReviewTimeoutMs}`);
  }
  const rules = policy.rules.map((rule, index) => compileRule(rule, index));
  return new RuleSetPolicy(policy, rules, defaultReviewTimeoutMs);
}

/**
 * Decisions of `primary`, but never looser than those of `floor`: when the floor is stricter its
 * decision is returned instead. The effective policy needs this when central denies by default
 * (see merge.ts).
 */
export function withFloor(primary: CompiledPolicy, floor: CompiledPolicy): CompiledPolicy {
  return {
    policy: primary.policy,
    evaluate(action: PolicySubject): Decision {
      const decided = primary.evaluate(action);
      if (decided.decision === 'deny') return decided;
      const floored = floor.evaluate(action);
      return SEVERITY[floored.decision] > SEVERITY[decided.decision] ? floored : decided;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Compiled rules

const CHECK_GLOB = 0;
const CHECK_EQUALS = 1;
const CHECK_RANGE = 2;

/** One condition of `match.attributes`, in a shape V8 keeps monomorphic. */
class AttributeCheck {
  constructor(
    readonly key: string,
    readonly kind: typeof CHECK_GLOB | typeof CHECK_EQUALS | typeof CHECK_RANGE,
    readonly glob: GlobMatcher | null,
    readonly expected: number | boolean | null,
    readonly gt: number | undefined,
    readonly gte: number | undefined,
    readonly lt: number | undefined,
    readonly lte: number | undefined,
  ) {}

  static compile(key: string, condition: AttributeCondition): AttributeCheck {
    if (typeof condition === 'string' || Array.isArray(condition)) {
      return new AttributeCheck(key, CHECK_GLOB, GlobMatcher.compile(condition), null, undefined, undefined, undefined, undefined);
    }
    if (typeof condition === 'number' || typeof condition === 'boolean') {
      return new AttributeCheck(key, CHECK_EQUALS, null, condition, undefined, undefined, undefined, undefined);
    }
    const range = condition as NumberComparison;
    return new AttributeCheck(key, CHECK_RANGE, null, null, range.gt, range.gte, range.lt, range.lte);
  }

  matches(attributes: Readonly<Record<string, AttributeValue>>): boolean {
    // No hasOwn: inherited properties (constructor, toString) are functions, which no branch accepts.
    const value: unknown = attributes[this.key];
    switch (this.kind) {
      case CHECK_GLOB:
        return matchesGlob(this.glob as GlobMatcher, value);
      case CHECK_EQUALS:
        return value === this.expected;
      default:
        return typeof value === 'number' && this.inRange(value);
    }
  }

  private inRange(value: number): boolean {
    return (
      (this.gt === undefined || value > this.gt) &&
      (this.gte === undefined || value >= this.gte) &&
      (this.lt === undefined || value < this.lt) &&
      (this.lte === undefined || value <= this.lte)
    );
  }

  /** `statementCount>3 and statementCount<=10`, `class=write|ddl` */
  describeCondition(): string {
    switch (this.kind) {
      case CHECK_GLOB:
        return `${this.key}=${String(this.glob)}`;
      case CHECK_EQUALS:
        return `${this.key}=${String(this.expected)}`;
      default:
        return this.rangeParts()
          .map((part) => `${this.key}${part}`)
          .join(' and ');
    }
  }

  /** The action's value that satisfied this check, for a reason: `tables "public.users"`, `statementCount 12 (>10)`. */
  describeMatch(attributes: Readonly<Record<string, AttributeValue>>): string {
    const value = attributes[this.key];
    if (this.kind === CHECK_RANGE) return `${this.key} ${String(value)} (${this.rangeParts().join(', ')})`;
    if (Array.isArray(value)) {
      const glob = this.glob as GlobMatcher;
      const hits = value.filter((element) => glob.test(String(element)));
      const shown = hits.slice(0, 3).map(quote).join(', ');
      return `${this.key} ${shown}${hits.length > 3 ? ` and ${hits.length - 3} more` : ''}`;
    }
    return `${this.key} ${typeof value === 'string' ? quote(value) : String(value)}`;
  }

  private rangeParts(): string[] {
    const parts: string[] = [];
    if (this.gt !== undefined) parts.push(`>${this.gt}`);
    if (this.gte !== undefined) parts.push(`>=${this.gte}`);
    if (this.lt !== undefined) parts.push(`<${this.lt}`);
    if (this.lte !== undefined) parts.push(`<=${this.lte}`);
    return parts;
  }
}

/** A string attribute matches its globs; a list attribute matches when any element does. */
function matchesGlob(glob: GlobMatcher, value: unknown): boolean {
  switch (typeof value) {
    case 'string':
      return glob.test(value);
    case 'number':
    case 'boolean':
      return glob.test(String(value));
    case 'object':
      if (!Array.isArray(value)) return false;
      for (let i = 0; i < value.length; i++) {
        const element: unknown = value[i];
        if (glob.test(typeof element === 'string' ? element : String(element))) return true;
      }
      return false;
    default:
      return false;
  }
}

class CompiledRule {
  constructor(
    readonly rule: Rule,
    readonly targets: GlobMatcher | null,
    readonly protocols: ReadonlySet<string> | null,
    readonly kinds: GlobMatcher | null,
    readonly attributeChecks: readonly AttributeCheck[],
    /** allow rules only: the rule may allow an action whose class is unknown */
    readonly namesUnknownClass: boolean,
    readonly timeoutMs: number | undefined,
    /** one line, whitespace collapsed */
    readonly description: string | undefined,
  ) {}

  get id(): string {
    return this.rule.id;
  }

  get decision(): DecisionKind {
    return this.rule.decision;
  }

  appliesTo(protocol: string, target: string, kind: string): boolean {
    return (
      (this.protocols === null || this.protocols.has(protocol)) &&
      (this.targets === null || this.targets.test(target)) &&
      (this.kinds === null || this.kinds.test(kind))
    );
  }

  matchesAttributes(attributes: Readonly<Record<string, AttributeValue>>): boolean {
    const checks = this.attributeChecks;
    for (let i = 0; i < checks.length; i++) {
      if (!(checks[i] as AttributeCheck).matches(attributes)) return false;
    }
    return true;
  }
}

function compileRule(rule: Rule, index: number): CompiledRule {
  const at = `rules[${index}]`;
  const match = rule.match ?? {};
  const protocols = match.protocols === undefined ? null : new Set<string>(typeof match.protocols === 'string' ? [match.protocols] : match.protocols);
  const attributeChecks = Object.entries(match.attributes ?? {}).map(([key, condition]) => AttributeCheck.compile(key, condition));
  let timeoutMs: number | undefined;
  if (rule.timeout !== undefined) {
    timeoutMs = parseDuration(rule.timeout);
    if (timeoutMs <= 0) throw new PolicyCompileError(`${at}.timeout`, `expected a duration longer than zero, such as "30s" or "5m", got "${rule.timeout}"`);
  }
  return new CompiledRule(
    rule,
    match.targets === undefined ? null : GlobMatcher.compile(match.targets),
    protocols,
    match.kinds === undefined ? null : GlobMatcher.compile(match.kinds),
    attributeChecks,
    rule.decision === 'allow' && namesUnknownLiterally(match.attributes?.class),
    timeoutMs,
    rule.description === undefined || rule.description.trim() === '' ? undefined : oneLine(rule.description),
  );
}

/** Only the literal word counts: a glob such as `*` must not let unknown actions through by accident. */
function namesUnknownLiterally(condition: AttributeCondition | undefined): boolean {
  if (typeof condition === 'string') return condition === UNKNOWN_CLASS;
  return Array.isArray(condition) && condition.includes(UNKNOWN_CLASS);
}

/**
 * Only `class: unknown` (or a list holding it) counts as unknown. An action without a `class`
 * attribute is not unknown: it is matched by whatever rules do not ask for a class, and reaches
 * the default otherwise; classifiers always set `class`, so its absence is a kind of action that
 * has none (an SSH port forward, say), not a failure to understand one.
 */
function isUnknownClass(attributes: Readonly<Record<string, AttributeValue>>): boolean {
  const value: unknown = attributes.class;
  if (value === UNKNOWN_CLASS) return true;
  return Array.isArray(value) && value.includes(UNKNOWN_CLASS);
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** The rules that can match actions of one protocol, target and kind, split by decision in file order. */
interface Plan {
  readonly deny: readonly CompiledRule[];
  readonly review: readonly CompiledRule[];
  readonly allow: readonly CompiledRule[];
}

/**
 * Targets and kinds come from small sets (configured targets, the classifiers' kinds), so the rules
 * left after their globs are remembered per (protocol, target, kind); the bound keeps a stream of
 * odd names from growing the cache without limit.
 */
const MAX_CACHED_PLANS = 4096;

class ProtocolBucket {
  readonly plans = new Map<string, Map<string, Plan>>();

  constructor(
    readonly protocol: string,
    /** the rules whose protocols condition admits this protocol, in file order */
    readonly rules: readonly CompiledRule[],
  ) {}

  buildPlan(target: string, kind: string): Plan {
    const deny: CompiledRule[] = [];
    const review: CompiledRule[] = [];
    const allow: CompiledRule[] = [];
    for (const rule of this.rules) {
      if (!rule.appliesTo(this.protocol, target, kind)) continue;
      (rule.decision === 'deny' ? deny : rule.decision === 'review' ? review : allow).push(rule);
    }
    return { deny, review, allow };
  }
}

class RuleSetPolicy implements CompiledPolicy {
  private readonly buckets = new Map<string, ProtocolBucket>();
  /** for a protocol outside PROTOCOLS, which the schema rejects but a caller might still pass */
  private readonly otherProtocols: ProtocolBucket;
  private cachedPlans = 0;

  constructor(
    readonly policy: Policy,
    rules: readonly CompiledRule[],
    private readonly defaultReviewTimeoutMs: number,
  ) {
    for (const protocol of PROTOCOLS) {
      this.buckets.set(protocol, new ProtocolBucket(protocol, rules.filter((r) => r.protocols === null || r.protocols.has(protocol))));
    }
    this.otherProtocols = new ProtocolBucket('', rules.filter((r) => r.protocols === null));
  }

  evaluate(action: PolicySubject): Decision {
    const plan = this.planFor(action.protocol, action.target, action.kind);
    const attributes = action.attributes;

    const deny = firstMatch(plan.deny, attributes);
    if (deny !== null) return this.ruleDecision(deny, action);
    const review = firstMatch(plan.review, attributes);
    if (review !== null) return this.ruleDecision(review, action);

    let passedOver: CompiledRule | null = null;
    const allow = plan.allow;
    for (let i = 0; i < allow.length; i++) {
      const rule = allow[i] as CompiledRule;
      if (!rule.matchesAttributes(attributes)) continue;
      if (!rule.namesUnknownClass && isUnknownClass(attributes)) {
        passedOver ??= rule;
        continue;
      }
      return this.ruleDecision(rule, action);
    }
    return this.defaultDecision(action, passedOver);
  }

  private planFor(protocol: Protocol, target: string, kind: string): Plan {
    const bucket = this.buckets.get(protocol) ?? this.otherProtocols;
    let byKind = bucket.plans.get(target);
    let plan = byKind?.get(kind);
    if (plan !== undefined) return plan;
    if (this.cachedPlans >= MAX_CACHED_PLANS) {
      for (const b of this.buckets.values()) b.plans.clear();
      this.otherProtocols.plans.clear();
      this.cachedPlans = 0;
      byKind = undefined;
    }
    if (byKind === undefined) {
      byKind = new Map();
      bucket.plans.set(target, byKind);
    }
    plan = bucket.buildPlan(target, kind);
    byKind.set(kind, plan);
    this.cachedPlans++;
    return plan;
  }

  private ruleDecision(rule: CompiledRule, action: PolicySubject): Decision {
    const reason = `rule "${rule.id}": ${ruleReason(rule, action)}`;
    if (rule.decision !== 'review') return { decision: rule.decision, ruleId: rule.id, reason };
    return { decision: 'review', ruleId: rule.id, reason, timeoutMs: rule.timeoutMs ?? this.defaultReviewTimeoutMs };
  }

  private defaultDecision(action: PolicySubject, passedOver: CompiledRule | null): Decision {
    const subject = `${action.kind} on target ${quote(action.target)}`;
    const configured = this.policy.default;
    let reason: string;
    let decision = configured;
    if (passedOver !== null) {
      // An allow rule matched but may not allow an unknown action.
      decision = configured === 'allow' ? 'review' : configured;
      reason =
        `rule "${passedOver.id}" would allow ${subject}, but its class is unknown and the rule does not name "unknown" in attributes.class; ` +
        (decision === 'review' ? 'held for review' : `the policy default is ${decision}`);
    } else if (configured === 'allow' && isUnknownClass(action.attributes)) {
      decision = 'review';
      reason = `no rule matched ${subject} and its class is unknown: the default "allow" never applies to unknown actions, so it is held for review`;
    } else {
      reason = `no rule matched ${subject}; the policy default is ${configured}`;
    }
    if (decision !== 'review') return { decision, ruleId: DEFAULT_RULE_ID, reason };
    return { decision, ruleId: DEFAULT_RULE_ID, reason, timeoutMs: this.defaultReviewTimeoutMs };
  }
}

function firstMatch(rules: readonly CompiledRule[], attributes: Readonly<Record<string, AttributeValue>>): CompiledRule | null {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as CompiledRule;
    if (rule.matchesAttributes(attributes)) return rule;
  }
  return null;
}

/** The rule's description, or what of the action it matched: `sql.query with class "write" on target "prod"`. */
function ruleReason(rule: CompiledRule, action: PolicySubject): string {
  const subject = `${action.kind} on target ${quote(action.target)}`;
  if (rule.description !== undefined) return `${rule.description} (${subject})`;
  if (rule.attributeChecks.length === 0) return subject;
  const matched = rule.attributeChecks.map((check) => check.describeMatch(action.attributes)).join(', ');
  return `${action.kind} with ${matched} on target ${quote(action.target)}`;
}

// ---------------------------------------------------------------------------------------------
// Display

/**
 * One line for `airlock policy show`:
 * `writes-review: review if target=prod-* and class=write|ddl (timeout 10m) — writes wait for a human`
 */
export function describeRule(rule: Rule): string {
  const match = rule.match ?? {};
  const conditions: string[] = [];
  if (match.targets !== undefined) conditions.push(`target=${patternText(match.targets)}`);
  if (match.protocols !== undefined) conditions.push(`protocol=${patternText(match.protocols)}`);
  if (match.kinds !== undefined) conditions.push(`kind=${patternText(match.kinds)}`);
  for (const [key, condition] of Object.entries(match.attributes ?? {})) {
    conditions.push(AttributeCheck.compile(key, condition).describeCondition());
  }
  const when = conditions.length === 0 ? 'always' : `if ${conditions.join(' and ')}`;
  const timeout = rule.timeout !== undefined ? ` (timeout ${rule.timeout})` : '';
  const description = rule.description !== undefined && rule.description.trim() !== '' ? ` — ${oneLine(rule.description)}` : '';
  return `${rule.id}: ${rule.decision} ${when}${timeout}${description}`;
}

function patternText(pattern: string | readonly string[]): string {
  return typeof pattern === 'string' ? pattern : pattern.join('|');
}

function oneLine(text: string): string {
  return text.trim().replace(/\s+/g, ' ');
}

const MAX_QUOTED = 80;

/** JSON quoting keeps a reason on one line whatever a command or path holds. */
function quote(text: string): string {
  return JSON.stringify(text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED - 1)}…` : text);
}
