import { DEFAULT_LIMITS, DETECTORS, describeCredential, describeUpstream, parseDuration } from '@airlock/shared';
import type {
  AttributeCondition,
  ChangeDirection,
  CustomDetector,
  DecisionKind,
  LimitOverrides,
  Limits,
  LocalConfig,
  MaskingPolicy,
  NumberComparison,
  Pattern,
  Policy,
  PolicyDifference,
  Rule,
  RuleMatch,
  Target,
} from '@airlock/shared';
import { canonicalJson } from './hash.js';

/**
 * Which differences between what is enforced now and what the files now say loosen enforcement.
 * Pure: the daemon stages a change with any loosening difference until a person confirms it, and
 * applies the rest at once.
 *
 * Fail closed: a difference this module cannot prove harmless (a glob rewritten into another glob, an
 * upstream URL's query changed, a credential moved) counts as loosening.
 *
 * The engine's semantics decide what loosens. Of the rules that match an action the first deny wins,
 * else the first review, else the first allow, else the default: so reordering rules never lets an
 * allow win over a deny or review, but it can change which review rule (and so which timeout) holds
 * an action. A review rule is only stricter than what it replaces when the default is not deny: an
 * action the default denied would otherwise be held for a human and could be approved.
 */

const SEVERITY: Record<DecisionKind, number> = { allow: 0, review: 1, deny: 2 };

export interface PolicyView {
  policy: Policy;
  /** what a review rule without its own timeout waits (config approvals.defaultTimeout) */
  defaultReviewTimeoutMs: number;
}

export function loosens(differences: readonly PolicyDifference[]): boolean {
  return differences.some((d) => d.direction === 'loosening');
}

// ---------------------------------------------------------------------------------------------
// Policy

export function comparePolicies(before: PolicyView, after: PolicyView): PolicyDifference[] {
  const out: PolicyDifference[] = [];
  const add = (direction: ChangeDirection, subject: string, text: string) => out.push({ direction, subject, text });
  const oldPolicy = before.policy;
  const newPolicy = after.policy;

  if (oldPolicy.default !== newPolicy.default) {
    const weaker = SEVERITY[newPolicy.default] < SEVERITY[oldPolicy.default];
    add(weaker ? 'loosening' : 'tightening', 'default', `an action no rule matches is ${verb(newPolicy.default)} instead of ${verb(oldPolicy.default)}`);
  }
  if (before.defaultReviewTimeoutMs !== after.defaultReviewTimeoutMs) {
    add(
      after.defaultReviewTimeoutMs > before.defaultReviewTimeoutMs ? 'loosening' : 'tightening',
      'approvals',
      `a held action waits ${ms(after.defaultReviewTimeoutMs)} for a human instead of ${ms(before.defaultReviewTimeoutMs)} before it is denied`,
    );
  }

  const oldRules = new Map(oldPolicy.rules.map((r) => [r.id, r]));
  const newRules = new Map(newPolicy.rules.map((r) => [r.id, r]));
  const defaultDenies = newPolicy.default === 'deny';

  for (const rule of oldPolicy.rules) {
    const subject = `rule ${rule.id}`;
    const next = newRules.get(rule.id);
    if (next === undefined) {
      if (rule.decision === 'allow') add('tightening', subject, `removed (it allowed ${matchText(rule.match)})`);
      else add('loosening', subject, `removed: ${matchText(rule.match)} is no longer ${verb(rule.decision)} by it`);
      continue;
    }
    compareRule(rule, next, before, after, defaultDenies, add);
  }
  for (const rule of newPolicy.rules) {
    if (oldRules.has(rule.id)) continue;
    const subject = `rule ${rule.id}`;
    if (rule.decision === 'allow') add('loosening', subject, `added: allows ${matchText(rule.match)}`);
    else if (rule.decision === 'deny') add('tightening', subject, `added: denies ${matchText(rule.match)}`);
    else if (defaultDenies) add('loosening', subject, `added: holds ${matchText(rule.match)} for a human, which the default (deny) refused`);
    else if (reviewTimeout(rule, after) > before.defaultReviewTimeoutMs) {
      add('loosening', subject, `added: holds ${matchText(rule.match)} for ${ms(reviewTimeout(rule, after))}, longer than the default ${ms(before.defaultReviewTimeoutMs)}`);
    } else add('tightening', subject, `added: holds ${matchText(rule.match)} for a human`);
  }
  compareReviewOrder(oldPolicy.rules, newPolicy.rules, before, after, add);
  compareMasking(oldPolicy.masking, newPolicy.masking, add);
  return out;
}

type Add = (direction: ChangeDirection, subject: string, text: string) => void;

function compareRule(rule: Rule, next: Rule, before: PolicyView, after: PolicyView, defaultDenies: boolean, add: Add): void {
  const subject = `rule ${rule.id}`;
  if (rule.decision !== next.decision) {
    const weaker = SEVERITY[next.decision] < SEVERITY[rule.decision];
    add(weaker ? 'loosening' : 'tightening', subject, `${matchText(next.match)} is ${verb(next.decision)} instead of ${verb(rule.decision)}`);
  }
  const relation = matchRelation(rule.match, next.match);
  if (relation !== 'same') {
    const change = `match changed from ${matchText(rule.match)} to ${matchText(next.match)}`;
    // what the rule now decides, measured against what it decided before
    let direction: ChangeDirection;
    if (relation === 'unrelated') direction = 'loosening';
    else if (next.decision === 'allow') direction = relation === 'broader' ? 'loosening' : 'tightening';
    else if (next.decision === 'deny') direction = relation === 'narrower' ? 'loosening' : 'tightening';
    // a broader review rule also holds what the default denied, when the default denies
    else direction = relation === 'narrower' || defaultDenies ? 'loosening' : 'tightening';
    add(direction, subject, `${change} (${relation === 'unrelated' ? 'neither contains the other' : relation})`);
  }
  if (next.decision === 'review' && rule.decision === 'review') {
    const was = reviewTimeout(rule, before);
    const now = reviewTimeout(next, after);
    if (was !== now) add(now > was ? 'loosening' : 'tightening', subject, `a held action waits ${ms(now)} for a human instead of ${ms(was)}`);
  }
  if ((rule.description ?? '') !== (next.description ?? '') && rule.decision === next.decision && relation === 'same') {
    add('tightening', subject, 'description changed (no effect on decisions)');
  }
}

/**
 * The first matching review rule gives a held action its timeout: review rules kept in both whose
 * order swapped, with different timeouts, may hold an action longer. Deny and allow rules' order
 * changes only which rule is named in the reason.
 */
function compareReviewOrder(oldRules: readonly Rule[], newRules: readonly Rule[], before: PolicyView, after: PolicyView, add: Add): void {
  const kept = (rules: readonly Rule[], other: readonly Rule[]) =>
    rules.filter((r) => r.decision === 'review' && other.some((o) => o.id === r.id && o.decision === 'review')).map((r) => r.id);
  const oldOrder = kept(oldRules, newRules);
  const newOrder = kept(newRules, oldRules);
  if (canonicalJson(oldOrder) === canonicalJson(newOrder)) return;
  const timeouts = new Set(newRules.filter((r) => newOrder.includes(r.id)).map((r) => reviewTimeout(r, after)));
  for (const r of oldRules) if (oldOrder.includes(r.id)) timeouts.add(reviewTimeout(r, before));
  if (timeouts.size > 1) {
    add('loosening', 'rule order', `review rules reordered (${oldOrder.join(', ')} → ${newOrder.join(', ')}): an action several of them match may be held with a longer timeout`);
  } else {
    add('tightening', 'rule order', `review rules reordered (${oldOrder.join(', ')} → ${newOrder.join(', ')}); their timeouts are equal, so no decision changes`);
  }
}

function reviewTimeout(rule: Rule, view: PolicyView): number {
  return rule.timeout === undefined ? view.defaultReviewTimeoutMs : parseDuration(rule.timeout);
}

// ---- match containment ------------------------------------------------------------------------

export type MatchRelation = 'same' | 'narrower' | 'broader' | 'unrelated';

/** How the set of actions `next` matches relates to the set `previous` matches, as far as can be proven. */
export function matchRelation(previous: RuleMatch | undefined, next: RuleMatch | undefined): MatchRelation {
  const a = previous ?? {};
  const b = next ?? {};
  if (canonicalJson(normalizeMatch(a)) === canonicalJson(normalizeMatch(b))) return 'same';
  if (matchCovers(a, b)) return 'narrower';
  if (matchCovers(b, a)) return 'broader';
  return 'unrelated';
}

function normalizeMatch(match: RuleMatch): unknown {
  const list = (p: Pattern | readonly string[] | undefined) => (p === undefined ? undefined : [...new Set(typeof p === 'string' ? [p] : p)].sort());
  return {
    targets: list(match.targets),
    protocols: list(match.protocols),
    kinds: list(match.kinds),
    attributes: Object.fromEntries(Object.entries(match.attributes ?? {}).map(([k, c]) => [k, typeof c === 'string' || Array.isArray(c) ? list(c) : c])),
  };
}

/** True when every action `inner` matches is provably matched by `outer` (a conjunction of conditions). */
function matchCovers(outer: RuleMatch, inner: RuleMatch): boolean {
  if (!patternCovers(outer.targets, inner.targets)) return false;
  if (!patternCovers(outer.protocols, inner.protocols)) return false;
  if (!patternCovers(outer.kinds, inner.kinds)) return false;
  const innerAttributes = inner.attributes ?? {};
  for (const [key, condition] of Object.entries(outer.attributes ?? {})) {
    const inside = innerAttributes[key];
    if (inside === undefined || !conditionCovers(condition, inside)) return false;
  }
  return true;
}

/** An absent condition matches everything; a glob list covers another when it holds all its globs, or `*`. */
function patternCovers(outer: Pattern | readonly string[] | undefined, inner: Pattern | readonly string[] | undefined): boolean {
  if (outer === undefined) return true;
  const outerList = typeof outer === 'string' ? [outer] : outer;
  if (outerList.some((p) => /^\*+$/.test(p))) return true;
  if (inner === undefined) return false;
  const innerList = typeof inner === 'string' ? [inner] : inner;
  // a negated glob matches nearly everything: only an identical one is covered
  return innerList.every((p) => outerList.includes(p));
}

interface Interval {
  lo: number;
  loOpen: boolean;
  hi: number;
  hiOpen: boolean;
}

function conditionCovers(outer: AttributeCondition, inner: AttributeCondition): boolean {
  if (typeof outer === 'string' || Array.isArray(outer)) {
    if (typeof inner === 'string' || Array.isArray(inner)) return patternCovers(outer as Pattern, inner as Pattern);
    return false;
  }
  if (typeof outer === 'boolean') return inner === outer;
  const outerRange = toInterval(outer);
  if (outerRange === null) return false;
  if (typeof inner === 'number') return inInterval(outerRange, inner);
  if (typeof inner !== 'object' || Array.isArray(inner)) return false;
  const innerRange = toInterval(inner);
  if (innerRange === null) return false;
  const loOk = innerRange.lo > outerRange.lo || (innerRange.lo === outerRange.lo && (!outerRange.loOpen || innerRange.loOpen));
  const hiOk = innerRange.hi < outerRange.hi || (innerRange.hi === outerRange.hi && (!outerRange.hiOpen || innerRange.hiOpen));
  return loOk && hiOk;
}

function toInterval(condition: number | NumberComparison | boolean): Interval | null {
  if (typeof condition === 'boolean') return null;
  if (typeof condition === 'number') return { lo: condition, loOpen: false, hi: condition, hiOpen: false };
  const range: Interval = { lo: -Infinity, loOpen: true, hi: Infinity, hiOpen: true };
  if (condition.gte !== undefined) range.lo = condition.gte;
  if (condition.gte !== undefined) range.loOpen = false;
  if (condition.gt !== undefined && (condition.gt > range.lo || (condition.gt === range.lo && !range.loOpen))) {
    range.lo = condition.gt;
    range.loOpen = true;
  }
  if (condition.lte !== undefined) range.hi = condition.lte;
  if (condition.lte !== undefined) range.hiOpen = false;
  if (condition.lt !== undefined && (condition.lt < range.hi || (condition.lt === range.hi && !range.hiOpen))) {
    range.hi = condition.lt;
    range.hiOpen = true;
  }
  return range;
}

function inInterval(range: Interval, value: number): boolean {
  return (value > range.lo || (value === range.lo && !range.loOpen)) && (value < range.hi || (value === range.hi && !range.hiOpen));
}

// ---- masking ------------------------------------------------------------------------------------

function compareMasking(before: MaskingPolicy, after: MaskingPolicy, add: Add): void {
  const oldDetectors = new Set<string>(before.detectors ?? DETECTORS);
  const newDetectors = new Set<string>(after.detectors ?? DETECTORS);
  const off = [...oldDetectors].filter((d) => !newDetectors.has(d));
  const on = [...newDetectors].filter((d) => !oldDetectors.has(d));
  if (off.length > 0) add('loosening', 'masking', `detector${off.length > 1 ? 's' : ''} ${off.join(', ')} switched off: such values reach the agent unmasked`);
  if (on.length > 0) add('tightening', 'masking', `detector${on.length > 1 ? 's' : ''} ${on.join(', ')} switched on`);

  const oldColumns = new Map(before.columns.map((c) => [canonicalJson(c), c]));
  const newColumns = new Map(after.columns.map((c) => [canonicalJson(c), c]));
  for (const [key, c] of oldColumns) {
    if (!newColumns.has(key)) add('loosening', 'masking', `column rule ${patternList(c.columns)}${c.targets ? ` on ${patternList(c.targets)}` : ''} removed or changed: those columns reach the agent unmasked`);
  }
  for (const [key, c] of newColumns) {
    if (!oldColumns.has(key)) add('tightening', 'masking', `column rule ${patternList(c.columns)}${c.targets ? ` on ${patternList(c.targets)}` : ''} added`);
  }

  const oldCustom = new Map(before.custom.map((d) => [d.name, d]));
  const newCustom = new Map(after.custom.map((d) => [d.name, d]));
  for (const [name, d] of oldCustom) {
    const next = newCustom.get(name);
    if (next === undefined) add('loosening', 'masking', `custom detector ${name} removed`);
    else if (next.regex !== d.regex) add('loosening', 'masking', `custom detector ${name}: pattern changed from /${d.regex}/ to /${next.regex}/ (it may match less)`);
    else if (labelOf(next) !== labelOf(d)) add('tightening', 'masking', `custom detector ${name}: label changed (values stay masked)`);
  }
  for (const [name] of newCustom) if (!oldCustom.has(name)) add('tightening', 'masking', `custom detector ${name} added`);
}

function labelOf(d: CustomDetector): string {
  return d.label ?? d.name.toUpperCase();
}

// ---------------------------------------------------------------------------------------------
// Config

/** What of the config decides enforcement: the targets (paths to systems) and where policy comes from. */
export type ConfigView = Pick<LocalConfig, 'targets' | 'limits' | 'central' | 'policyFile' | 'approvals'>;

export function compareConfigs(before: ConfigView, after: ConfigView): PolicyDifference[] {
  const out: PolicyDifference[] = [];
  const add: Add = (direction, subject, text) => out.push({ direction, subject, text });
  const oldTargets = new Map(before.targets.map((t) => [t.name, t]));
  const newTargets = new Map(after.targets.map((t) => [t.name, t]));
  for (const [name, t] of oldTargets) {
    const next = newTargets.get(name);
    if (next === undefined) add('tightening', `target ${name}`, `removed: agents can no longer reach ${t.upstream} through it`);
    else compareTarget(t, next, resolvedLimits(before.limits, t.limits), resolvedLimits(after.limits, next.limits), add);
  }
  for (const [name, t] of newTargets) {
    if (!oldTargets.has(name)) add('loosening', `target ${name}`, `added: a new path for agents to ${t.upstream} (${t.protocol}, listening on ${t.listen.host}:${t.listen.port})`);
  }
  if (canonicalJson(before.central ?? null) !== canonicalJson(after.central ?? null)) {
    add('loosening', 'central', `central endpoint changed from ${before.central?.url ?? 'none'} to ${after.central?.url ?? 'none'}`);
  }
  if (before.policyFile !== after.policyFile) add('loosening', 'policy file', `policy file changed from ${before.policyFile} to ${after.policyFile}`);
  const oldTimeout = parseDuration(before.approvals.defaultTimeout);
  const newTimeout = parseDuration(after.approvals.defaultTimeout);
  if (oldTimeout !== newTimeout) {
    // longer: more time in which a held action can still be let through
    add(newTimeout > oldTimeout ? 'loosening' : 'tightening', 'approvals', `a held action waits ${after.approvals.defaultTimeout} for a human instead of ${before.approvals.defaultTimeout} (from the next start)`);
  }
  return out;
}

function resolvedLimits(daemonWide: LimitOverrides, own: LimitOverrides | undefined): Limits {
  return { ...DEFAULT_LIMITS, ...daemonWide, ...(own ?? {}) };
}

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];
/** query parameters compared on their own; any other query change counts as loosening */
const URL_SECURITY_PARAMS = new Set(['sslmode', 'require_auth']);

function compareTarget(before: Target, after: Target, oldLimits: Limits, newLimits: Limits, add: Add): void {
  const subject = `target ${before.name}`;
  if (before.protocol !== after.protocol) add('loosening', subject, `protocol changed from ${before.protocol} to ${after.protocol}`);

  compareUpstreams(before, after, subject, add);

  if (before.listen.host !== after.listen.host) add('loosening', subject, `listens on ${after.listen.host} instead of ${before.listen.host}`);
  else if (before.listen.port !== after.listen.port) add('tightening', subject, `listens on port ${after.listen.port} instead of ${before.listen.port}`);
  if (before.listen.tls !== undefined && after.listen.tls === undefined) add('loosening', subject, 'TLS to agents switched off');
  else if (before.listen.tls === undefined && after.listen.tls !== undefined) add('tightening', subject, 'TLS to agents switched on');
  else if (canonicalJson(before.listen.tls ?? null) !== canonicalJson(after.listen.tls ?? null)) add('loosening', subject, 'TLS certificate or key changed');

  if (canonicalJson(before.credential ?? null) !== canonicalJson(after.credential ?? null)) {
    const agent = after.credential !== undefined && 'agentSocket' in after.credential ? ': airlockd signs with whatever keys that ssh-agent holds' : '';
    add('loosening', subject, `credential changed from ${credentialText(before)} to ${credentialText(after)}${agent}`);
  }
  compareHostKeyPins(before, after, subject, add);
  compareHttpSettings(before, after, subject, add);
  compareKubeconfig(before, after, subject, add);
  if (before.catalog !== false && after.catalog === false) add('loosening', subject, 'catalog reads switched off: calls are judged by their text alone and column rules by output names');
  else if (before.catalog === false && after.catalog !== false) add('tightening', subject, 'catalog reads switched on');

  for (const key of Object.keys(oldLimits) as (keyof Limits)[]) {
    const was = limitValue(oldLimits[key]);
    const now = limitValue(newLimits[key]);
    if (was === now) continue;
    add(now > was ? 'loosening' : 'tightening', subject, `limit ${key} ${String(oldLimits[key])} → ${String(newLimits[key])}`);
  }
  compareUnjudgedFields(before, after, subject, add);
}

/** The upstream URL and the security settings in its query (PostgreSQL's sslmode, require_auth). */
function compareUpstreams(before: Target, after: Target, subject: string, add: Add): void {
  if (before.upstream === undefined || after.upstream === undefined) {
    if (before.upstream !== after.upstream) add('loosening', subject, `upstream changed from ${describeUpstream(before)} to ${describeUpstream(after)}`);
    return;
  }
  const oldUrl = new URL(before.upstream);
  const newUrl = new URL(after.upstream);
  const strip = (u: URL) => {
    const copy = new URL(u.href);
    for (const p of URL_SECURITY_PARAMS) copy.searchParams.delete(p);
    copy.searchParams.sort();
    return copy.href;
  };
  if (strip(oldUrl) !== strip(newUrl)) add('loosening', subject, `upstream changed from ${before.upstream} to ${after.upstream}: a different system or connection`);
  const oldSsl = oldUrl.searchParams.get('sslmode') ?? 'prefer';
  const newSsl = newUrl.searchParams.get('sslmode') ?? 'prefer';
  if (oldSsl !== newSsl) {
    const oldRank = SSL_MODES.indexOf(oldSsl);
    const newRank = SSL_MODES.indexOf(newSsl);
    const weaker = newRank < 0 || oldRank < 0 || newRank < oldRank;
    add(weaker ? 'loosening' : 'tightening', subject, `sslmode ${oldSsl} → ${newSsl}`);
  }
  const oldAuth = oldUrl.searchParams.get('require_auth');
  const newAuth = newUrl.searchParams.get('require_auth');
  if (oldAuth !== newAuth) {
    add(oldAuth === null ? 'tightening' : 'loosening', subject, `require_auth ${oldAuth ?? '(none)'} → ${newAuth ?? '(none)'}`);
  }
}

/**
 * An SSH target's upstream host key pin (hostKey fingerprint or knownHosts file). Pinning where
 * nothing was pinned is tightening (an unpinned target connects nowhere, so it only lets connections
 * through); any other change trusts a different key or file, possibly an attacker's: loosening.
 */
function compareHostKeyPins(before: Target, after: Target, subject: string, add: Add): void {
  const pinned = (t: Target) => t.hostKey !== undefined || t.knownHosts !== undefined;
  const hostKeyChanged = before.hostKey !== after.hostKey;
  const knownHostsChanged = before.knownHosts !== after.knownHosts;
  if (!hostKeyChanged && !knownHostsChanged) return;
  if (!pinned(before)) {
    add('tightening', subject, `upstream host key pinned (${pinText(after)}), where none was`);
    return;
  }
  if (hostKeyChanged) {
    if (after.hostKey === undefined) add('loosening', subject, `host key pin ${before.hostKey} removed${after.knownHosts !== undefined ? `: keys in ${after.knownHosts} are trusted instead` : ': the upstream is no longer checked against it'}`);
    else if (before.hostKey === undefined) add('loosening', subject, `host key ${after.hostKey} trusted, where only ${before.knownHosts} was`);
    else add('loosening', subject, `host key pin changed from ${before.hostKey} to ${after.hostKey}: a different upstream key is trusted`);
  }
  if (knownHostsChanged) {
    if (after.knownHosts === undefined) add('loosening', subject, `known_hosts file ${before.knownHosts} no longer pins the upstream's key`);
    else if (before.knownHosts === undefined) add('loosening', subject, `keys in ${after.knownHosts} trusted, where only ${before.hostKey} was`);
    else add('loosening', subject, `known_hosts file changed from ${before.knownHosts} to ${after.knownHosts}: other upstream keys may be trusted`);
  }
}

/**
 * HTTP and egress settings. Trusting more certificate authorities, accepting a plaintext upstream,
 * presenting the credential another way and listing more egress hosts let more through: loosening.
 * GraphQL paths only change how requests are read (a request on a path no longer listed is judged by
 * its method, a POST is a write), but a person confirms any change of them.
 */
function compareHttpSettings(before: Target, after: Target, subject: string, add: Add): void {
  if (before.auth !== after.auth) add('loosening', subject, `the credential is presented as ${after.auth ?? 'nothing'} instead of ${before.auth ?? 'nothing'}`);
  if (before.caFile !== after.caFile) {
    if (after.caFile === undefined) add('tightening', subject, `certificate authorities of ${before.caFile} no longer trusted for the upstream`);
    else add('loosening', subject, `certificate authorities of ${after.caFile} trusted for the upstream${before.caFile !== undefined ? ` instead of ${before.caFile}` : ''}`);
  }
  if ((before.plaintext === true) !== (after.plaintext === true)) {
    add(after.plaintext === true ? 'loosening' : 'tightening', subject, after.plaintext === true ? 'a plaintext (http://) upstream accepted: the credential goes unencrypted over loopback' : 'plaintext upstreams no longer accepted');
  }
  if (canonicalJson(before.graphqlPaths ?? null) !== canonicalJson(after.graphqlPaths ?? null)) add('loosening', subject, `GraphQL paths changed from ${(before.graphqlPaths ?? ['(default)']).join(', ')} to ${(after.graphqlPaths ?? ['(default)']).join(', ')}`);
  const oldHosts = new Set(before.allowHosts ?? []);
  const newHosts = new Set(after.allowHosts ?? []);
  const added = [...newHosts].filter((h) => !oldHosts.has(h));
  const removed = [...oldHosts].filter((h) => !newHosts.has(h));
  if (added.length > 0) add('loosening', subject, `egress reaches ${added.join(', ')} without asking`);
  if (removed.length > 0) add('tightening', subject, `egress to ${removed.join(', ')} is asked for again`);
}

/**
 * A Kubernetes target's kubeconfig and context name the cluster and the credential the daemon uses:
 * another file or context may be another cluster or a stronger identity, so any change is loosening.
 */
function compareKubeconfig(before: Target, after: Target, subject: string, add: Add): void {
  if (before.kubeconfig !== after.kubeconfig) add('loosening', subject, `kubeconfig changed from ${before.kubeconfig ?? '(none)'} to ${after.kubeconfig ?? '(none)'}: possibly another cluster or credential`);
  if (before.context !== after.context) add('loosening', subject, `kubeconfig context changed from ${before.context ?? '(current-context)'} to ${after.context ?? '(current-context)'}: possibly another cluster or credential`);
}

function pinText(t: Target): string {
  return [t.hostKey, t.knownHosts !== undefined ? `known_hosts ${t.knownHosts}` : undefined].filter((x) => x !== undefined).join(', ');
}

/** Target fields judged above; a field this list does not name is judged loosening when it changes (fail closed). */
const JUDGED_TARGET_FIELDS = new Set(['name', 'protocol', 'upstream', 'listen', 'credential', 'catalog', 'limits', 'hostKey', 'knownHosts', 'auth', 'caFile', 'plaintext', 'graphqlPaths', 'allowHosts', 'kubeconfig', 'context']);

function compareUnjudgedFields(before: Target, after: Target, subject: string, add: Add): void {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const key of [...keys].sort()) {
    if (JUDGED_TARGET_FIELDS.has(key)) continue;
    const was = (before as Record<string, unknown>)[key];
    const now = (after as Record<string, unknown>)[key];
    if (canonicalJson(was ?? null) !== canonicalJson(now ?? null)) add('loosening', subject, `${key} changed (a setting Airlock cannot judge, so a person confirms it)`);
  }
}

/** A duration limit in ms ("0s" idle timeout = never = unlimited); a size or count as is. */
function limitValue(value: number | string): number {
  if (typeof value === 'number') return value;
  const ms = parseDuration(value);
  return ms === 0 ? Infinity : ms;
}

function credentialText(t: Target): string {
  return describeCredential(t.credential);
}

// ---------------------------------------------------------------------------------------------
// Wording

function verb(decision: DecisionKind): string {
  return decision === 'allow' ? 'allowed' : decision === 'deny' ? 'denied' : 'held for review';
}

function patternList(p: Pattern | readonly string[]): string {
  return typeof p === 'string' ? p : p.join('|');
}

/** `sql.* on prod-* with class=write|ddl`, or `every action` */
function matchText(match: RuleMatch | undefined): string {
  const m = match ?? {};
  const parts: string[] = [];
  if (m.kinds !== undefined) parts.push(patternList(m.kinds));
  if (m.protocols !== undefined) parts.push(`protocol ${patternList(m.protocols)}`);
  if (m.targets !== undefined) parts.push(`on ${patternList(m.targets)}`);
  const attributes = Object.entries(m.attributes ?? {}).map(([k, c]) => `${k}=${typeof c === 'string' || Array.isArray(c) ? patternList(c) : canonicalJson(c)}`);
  if (attributes.length > 0) parts.push(`with ${attributes.join(', ')}`);
  return parts.length === 0 ? 'every action' : `actions ${parts.join(' ')}`;
}

function ms(value: number): string {
  if (value % 86_400_000 === 0) return `${value / 86_400_000}d`;
  if (value % 3_600_000 === 0) return `${value / 3_600_000}h`;
  if (value % 60_000 === 0) return `${value / 60_000}m`;
  if (value % 1000 === 0) return `${value / 1000}s`;
  return `${value}ms`;
}
