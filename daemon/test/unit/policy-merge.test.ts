import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EffectivePolicy, NAME_PATTERN, Policy } from '@airlock/shared';
import type { AttributeValue, PolicyInput } from '@airlock/shared';
import { DEFAULT_POLICY } from '../../src/policy/defaults.js';
import { compilePolicy } from '../../src/policy/engine.js';
import type { PolicySubject } from '../../src/policy/engine.js';
import { canonicalJson, policyHash } from '../../src/policy/hash.js';
import { compileEffectivePolicy, effectivePolicy } from '../../src/policy/merge.js';

const options = { defaultReviewTimeoutMs: 60_000 };

function loaded(input: PolicyInput) {
  const policy = Policy.parse(input);
  return { policy, hash: policyHash(policy) };
}

function localFrom(input: PolicyInput) {
  return { ...loaded(input), file: '/home/dev/.airlock/policy.yaml' };
}

const sql = (target: string, attributes: Record<string, AttributeValue>): PolicySubject => ({ protocol: 'postgres', target, kind: 'sql.query', attributes });

const CENTRAL: PolicyInput = {
  default: 'allow',
  rules: [
    { id: 'reads', decision: 'allow', match: { attributes: { class: 'read' } } },
    { id: 'ddl', decision: 'review', timeout: '2m', match: { attributes: { class: 'ddl' } } },
    { id: 'shared-id', decision: 'deny', match: { attributes: { class: 'privileged' } } },
  ],
  masking: { detectors: ['email', 'iban'], columns: [{ columns: '*password*' }], custom: [{ name: 'employee-id', regex: 'E\\d{6}' }] },
};

const LOCAL: PolicyInput = {
  default: 'review',
  rules: [
    { id: 'loosen-everything', decision: 'allow' },
    { id: 'prod-writes', decision: 'deny', match: { targets: 'prod', attributes: { class: 'write' } } },
    { id: 'shared-id', decision: 'review', match: { attributes: { tables: 'hr.*' } } },
  ],
  masking: { detectors: ['iban', 'jwt'], columns: [{ columns: '*password*' }, { columns: '*salary*' }], custom: [{ name: 'employee-id', regex: 'EMP-\\d+' }] },
};

describe('effective policy: without central', () => {
  test('nothing known → the embedded default', () => {
    const effective = effectivePolicy({});
    assert.equal(effective.policy, DEFAULT_POLICY);
    assert.equal(effective.hash, policyHash(DEFAULT_POLICY));
    assert.deepEqual(effective.sources, [{ kind: 'default', hash: policyHash(DEFAULT_POLICY) }]);
    assert.deepEqual(effective.ignoredLocalRules, []);
  });

  test('a local policy alone is in force as written, allow rules included', () => {
    const local = localFrom(LOCAL);
    const effective = effectivePolicy({ local });
    assert.deepEqual(effective.policy, local.policy);
    assert.equal(effective.hash, local.hash);
    assert.deepEqual(effective.sources, [{ kind: 'local', file: local.file, hash: local.hash }]);
    assert.deepEqual(effective.ignoredLocalRules, []);
  });

  test('a central policy alone is in force as written', () => {
    const central = loaded(CENTRAL);
    const effective = effectivePolicy({ central });
    assert.deepEqual(effective.policy, central.policy);
    assert.deepEqual(effective.sources, [{ kind: 'central', hash: central.hash }]);
  });
});

describe('effective policy: central and local (tighten only)', () => {
  const central = loaded(CENTRAL);
  const local = localFrom(LOCAL);
  const effective = effectivePolicy({ central, local });
  const compiled = compilePolicy(effective.policy, options);

  test('is valid against the shared schemas', () => {
    assert.doesNotThrow(() => EffectivePolicy.parse(effective));
    assert.doesNotThrow(() => Policy.parse(effective.policy));
  });

  test('names both sources', () => {
    assert.deepEqual(effective.sources, [
      { kind: 'central', hash: central.hash },
      { kind: 'local', file: local.file, hash: local.hash },
    ]);
    assert.equal(effective.hash, policyHash(effective.policy));
  });

  test('local allow rules are dropped and listed', () => {
    assert.deepEqual(effective.ignoredLocalRules, ['loosen-everything']);
    assert.ok(!effective.policy.rules.some((rule) => rule.id === 'loosen-everything'));
  });

  test('central rules come first, then the local deny and review rules', () => {
    assert.deepEqual(
      effective.policy.rules.map((rule) => rule.id),
      ['reads', 'ddl', 'shared-id', 'prod-writes', 'local.shared-id'],
    );
  });

  test('a local deny wins over a central allow', () => {
    // central default allows writes; the local rule denies them on prod
    const d = compiled.evaluate(sql('prod', { class: 'write' }));
    assert.equal(d.decision, 'deny');
    assert.equal(d.ruleId, 'prod-writes');
  });

  test('a local review tightens a central allow rule', () => {
    const d = compiled.evaluate(sql('staging', { class: 'read', tables: ['hr.salaries'] }));
    assert.equal(d.decision, 'review');
    assert.equal(d.ruleId, 'local.shared-id');
  });

  test('the stricter default applies', () => {
    assert.equal(effective.policy.default, 'review');
    assert.equal(compiled.evaluate(sql('staging', { class: 'write' })).decision, 'review');
    const denyLocal = effectivePolicy({ central, local: localFrom({ default: 'deny' }) });
    assert.equal(denyLocal.policy.default, 'deny');
    const allowLocal = effectivePolicy({ central: loaded({ default: 'review' }), local: localFrom({ default: 'allow' }) });
    assert.equal(allowLocal.policy.default, 'review');
  });

  test('a central review keeps its own timeout when a local review also matches', () => {
    const merged = effectivePolicy({ central, local: localFrom({ rules: [{ id: 'slow-ddl', decision: 'review', timeout: '8h', match: { attributes: { class: 'ddl' } } }] }) });
    const d = compilePolicy(merged.policy, options).evaluate(sql('x', { class: 'ddl' }));
    assert.equal(d.ruleId, 'ddl');
    assert.equal(d.timeoutMs, 120_000);
  });

  test('masking is the union: detectors, columns (deduplicated), custom detectors (renamed on clash)', () => {
    assert.deepEqual(effective.policy.masking.detectors, ['email', 'iban', 'jwt']);
    assert.deepEqual(
      effective.policy.masking.columns.map((rule) => rule.columns),
      ['*password*', '*salary*'],
    );
    assert.deepEqual(
      effective.policy.masking.custom.map((detector) => [detector.name, detector.regex]),
      [
        ['employee-id', 'E\\d{6}'],
        ['local.employee-id', 'EMP-\\d+'],
      ],
    );
  });

  test('a side that lists no detectors runs all of them, so the union is all', () => {
    const merged = effectivePolicy({ central, local: localFrom({}) });
    assert.equal(merged.policy.masking.detectors, undefined);
  });

  test('an identical custom detector on both sides appears once', () => {
    const same = { name: 'employee-id', regex: 'E\\d{6}' };
    const merged = effectivePolicy({ central: loaded({ masking: { custom: [same] } }), local: localFrom({ masking: { custom: [same] } }) });
    assert.deepEqual(merged.policy.masking.custom, [same]);
  });

  test('a renamed id never clashes and stays a valid name', () => {
    const long = `r${'x'.repeat(62)}`;
    const merged = effectivePolicy({
      central: loaded({ rules: [{ id: long, decision: 'deny' }, { id: `local.${long}`.slice(0, 63), decision: 'deny' }] }),
      local: localFrom({ rules: [{ id: long, decision: 'deny' }] }),
    });
    const ids = merged.policy.rules.map((rule) => rule.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, NAME_PATTERN);
    assert.doesNotThrow(() => Policy.parse(merged.policy));
  });
});

describe('effective policy: central default deny', () => {
  const central = loaded({ default: 'deny', rules: [{ id: 'reads', decision: 'allow', match: { attributes: { class: 'read' } } }] });
  const local = localFrom({ rules: [{ id: 'review-writes', decision: 'review', match: { attributes: { class: ['read', 'write'] } } }] });
  const { compiled } = compileEffectivePolicy({ central, local }, options);

  test('a local review rule cannot turn a central default deny into a review', () => {
    const d = compiled.evaluate(sql('x', { class: 'write' }));
    assert.equal(d.decision, 'deny');
    assert.equal(d.ruleId, 'default');
  });

  test('a local review rule still tightens what central allows', () => {
    const d = compiled.evaluate(sql('x', { class: 'read' }));
    assert.equal(d.decision, 'review');
    assert.equal(d.ruleId, 'review-writes');
  });

  test('without the floor the flat rule list alone would have loosened it', () => {
    // guards the test above: if this ever reads deny, the floor is no longer what is tested
    const flat = compilePolicy(effectivePolicy({ central, local }).policy, options);
    assert.equal(flat.evaluate(sql('x', { class: 'write' })).decision, 'review');
  });
});

describe('policy hash', () => {
  test('does not depend on key order', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
    const a = Policy.parse({ default: 'deny', rules: [{ id: 'r', decision: 'deny', match: { targets: 'x' } }] });
    const b = Policy.parse({ rules: [{ match: { targets: 'x' }, decision: 'deny', id: 'r' }], default: 'deny' });
    assert.equal(policyHash(a), policyHash(b));
  });

  test('changes when the policy changes', () => {
    assert.notEqual(policyHash(Policy.parse({ default: 'deny' })), policyHash(Policy.parse({ default: 'review' })));
    assert.match(policyHash(Policy.parse({})), /^[0-9a-f]{64}$/);
  });

  test('spelled-out defaults do not change it', () => {
    assert.equal(policyHash(Policy.parse({})), policyHash(Policy.parse({ version: 1, default: 'review', rules: [], masking: { columns: [], custom: [] } })));
  });
});
