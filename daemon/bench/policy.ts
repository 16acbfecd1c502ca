import { Policy } from '@airlock/shared';
import type { DecisionKind, PolicyInput } from '@airlock/shared';
import { compilePolicy } from '../src/policy/engine.js';
import type { CompiledPolicy, PolicySubject } from '../src/policy/engine.js';
import { percentile } from './report.js';
import type { BenchSection } from './report.js';

const OPTIONS = { defaultReviewTimeoutMs: 300_000 };
const SERVICES = 40;
const BATCH = 1_000;
const SAMPLES = 400;
const WARMUP_EVALUATIONS = 100_000;

/**
 * 200 rules the way a team writes them: per service, a deny on prod DDL, a review on writes to its
 * billing and audit tables, a review on sudo/systemctl over SSH or on mutating HTTP calls, a deny on
 * deletes in system or prod namespaces, and an allow for small reads.
 */
function realisticPolicy(): Policy {
  const rules: NonNullable<PolicyInput['rules']> = [];
  for (let i = 0; i < SERVICES; i++) {
    rules.push(
      { id: `svc-${i}-prod-ddl`, decision: 'deny', match: { targets: `svc-${i}-prod`, kinds: 'sql.*', attributes: { class: ['ddl', 'privileged'] } } },
      {
        id: `svc-${i}-billing-writes`,
        decision: 'review',
        timeout: '10m',
        match: { targets: `svc-${i}-*`, protocols: 'postgres', attributes: { class: 'write', tables: [`billing_${i}.*`, 'audit.*'] } },
      },
      i % 2 === 0
        ? { id: `host-${i}-admin`, decision: 'review', match: { protocols: 'ssh', targets: `host-${i}-*`, kinds: 'ssh.exec', attributes: { command: ['sudo *', `systemctl * svc-${i}*`] } } }
        : { id: `api-${i}-mutations`, decision: 'review', match: { protocols: 'http', targets: 'api-*', attributes: { method: '{POST,PUT,PATCH,DELETE}', path: `/api/v1/svc-${i}/**` } } },
      { id: `k8s-${i}-deletes`, decision: 'deny', match: { protocols: ['kubernetes'], targets: `k8s-${i % 4}`, attributes: { verb: ['delete', 'deletecollection'], namespace: ['kube-*', `team-${i}-prod`] } } },
      { id: `svc-${i}-small-reads`, decision: 'allow', match: { targets: `svc-${i}-*`, attributes: { class: 'read', statementCount: { lte: 20 } } } },
    );
  }
  return Policy.parse({ default: 'review', rules });
}

function oneRulePolicy(): Policy {
  return Policy.parse({ default: 'review', rules: [{ id: 'reads', decision: 'allow', match: { attributes: { class: 'read' } } }] });
}

const MIX: Array<{ action: PolicySubject; expected: DecisionKind }> = [
  { action: { protocol: 'postgres', target: 'svc-7-prod', kind: 'sql.query', attributes: { class: 'read', tables: ['public.users', 'public.orders'], statementCount: 1 } }, expected: 'allow' },
  { action: { protocol: 'postgres', target: 'svc-23-staging', kind: 'sql.query', attributes: { class: 'write', tables: ['public.users', 'billing_23.invoices'], statementCount: 2 } }, expected: 'review' },
  { action: { protocol: 'postgres', target: 'svc-39-prod', kind: 'sql.query', attributes: { class: 'ddl', tables: ['public.users'], statementCount: 1 } }, expected: 'deny' },
  { action: { protocol: 'postgres', target: 'svc-5-prod', kind: 'sql.query', attributes: { class: 'unknown', tables: [], statementCount: 1 } }, expected: 'review' },
  { action: { protocol: 'postgres', target: 'analytics', kind: 'sql.query', attributes: { class: 'read', tables: ['events.clicks'], statementCount: 1 } }, expected: 'review' },
  { action: { protocol: 'ssh', target: 'host-12-a', kind: 'ssh.exec', attributes: { class: 'privileged', command: 'sudo systemctl restart nginx' } }, expected: 'review' },
  { action: { protocol: 'ssh', target: 'host-12-a', kind: 'ssh.exec', attributes: { class: 'read', command: 'ls -la /var/log/app' } }, expected: 'review' },
  { action: { protocol: 'kubernetes', target: 'k8s-3', kind: 'k8s.request', attributes: { class: 'write', verb: 'delete', resource: 'pods', namespace: 'team-3-prod' } }, expected: 'deny' },
  { action: { protocol: 'kubernetes', target: 'k8s-3', kind: 'k8s.request', attributes: { class: 'read', verb: 'get', resource: 'pods', namespace: 'team-3-prod' } }, expected: 'review' },
  { action: { protocol: 'http', target: 'api-gw', kind: 'http.request', attributes: { class: 'write', method: 'POST', path: '/api/v1/svc-9/items/42' } }, expected: 'review' },
];

let sink = 0;

/** Microseconds per evaluation, one figure per batch of BATCH evaluations. */
function sampleMicros(policy: CompiledPolicy, actions: readonly PolicySubject[], samples: number): number[] {
  const out: number[] = [];
  let next = 0;
  for (let s = 0; s < samples; s++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) {
      sink += policy.evaluate(actions[next] as PolicySubject).ruleId.length;
      next = next + 1 === actions.length ? 0 : next + 1;
    }
    out.push(Number(process.hrtime.bigint() - start) / 1_000 / BATCH);
  }
  return out.sort((a, b) => a - b);
}

function warmUp(policy: CompiledPolicy, actions: readonly PolicySubject[]): void {
  for (let i = 0; i < WARMUP_EVALUATIONS; i++) sink += policy.evaluate(actions[i % actions.length] as PolicySubject).reason.length;
}

export async function benchPolicy(): Promise<BenchSection> {
  const policy = realisticPolicy();
  const compileStart = process.hrtime.bigint();
  const compiled = compilePolicy(policy, OPTIONS);
  const compileMs = Number(process.hrtime.bigint() - compileStart) / 1e6;
  const baseline = compilePolicy(oneRulePolicy(), OPTIONS);

  // Measure the intended work: each action must get the decision the mix was written for.
  for (const { action, expected } of MIX) {
    const got = compiled.evaluate(action);
    if (got.decision !== expected) throw new Error(`bench policy: expected ${expected} for ${action.kind} on ${action.target}, got ${got.decision} (${got.reason})`);
  }

  const actions = MIX.map((m) => m.action);
  warmUp(compiled, actions);
  warmUp(baseline, actions);
  const full = sampleMicros(compiled, actions, SAMPLES);
  const single = sampleMicros(baseline, actions, SAMPLES);

  // Every evaluation with a target never seen before, so the per-target rule selection is redone.
  const fresh = Array.from({ length: BATCH * 20 }, (_, i) => {
    const base = actions[i % actions.length] as PolicySubject;
    return { ...base, target: `${base.target}-n${i}` };
  });
  const missCompiled = compilePolicy(policy, OPTIONS);
  const misses = sampleMicros(missCompiled, fresh, 20);

  if (sink === -1) console.log('unreachable');
  return {
    title: 'Policy evaluation',
    figures: [
      {
        name: `evaluate p50, ${policy.rules.length} rules`,
        value: percentile(full, 50),
        unit: 'µs',
        baseline: { name: '1-rule policy p50', value: percentile(single, 50) },
        target: { op: '<=', value: 5 },
      },
      { name: `evaluate p99, ${policy.rules.length} rules`, value: percentile(full, 99), unit: 'µs', baseline: { name: '1-rule policy p99', value: percentile(single, 99) } },
      { name: `evaluate p50, ${policy.rules.length} rules, target never seen before`, value: percentile(misses, 50), unit: 'µs' },
      { name: `compile ${policy.rules.length} rules`, value: compileMs, unit: 'ms' },
    ],
    notes: [
      `${MIX.length} actions across postgres, ssh, kubernetes and http (allow, review, deny, unknown, no rule matched), evaluated in turn`,
      `each sample times ${BATCH} evaluations with process.hrtime.bigint and divides; ${SAMPLES} samples after ${WARMUP_EVALUATIONS.toLocaleString('en-US')} warm-up evaluations`,
      'the "never seen before" figure selects the rules for a new (protocol, target, kind) on every evaluation, the cost paid once per target and kind',
    ],
  };
}
