import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { Decision, Policy } from '@airlock/shared';
import type { AttributeValue, PolicyInput, Protocol } from '@airlock/shared';
import { PolicyCompileError, compilePolicy, describeRule, stricterDecision, withFloor } from '../../src/policy/engine.js';
import type { PolicySubject } from '../../src/policy/engine.js';
import { DEFAULT_POLICY, defaultPolicyYaml } from '../../src/policy/defaults.js';

const DEFAULT_TIMEOUT_MS = 300_000;
const options = { defaultReviewTimeoutMs: DEFAULT_TIMEOUT_MS };

function compile(input: PolicyInput) {
  return compilePolicy(Policy.parse(input), options);
}

function subject(protocol: Protocol, target: string, kind: string, attributes: Record<string, AttributeValue> = {}): PolicySubject {
  return { protocol, target, kind, attributes };
}

const sql = (target: string, attributes: Record<string, AttributeValue>) => subject('postgres', target, 'sql.query', attributes);

/** A policy exercising every kind of condition; default allow so that unknown handling shows. */
const FIXTURE: PolicyInput = {
  default: 'allow',
  rules: [
    { id: 'reads-allow', decision: 'allow', match: { attributes: { class: 'read' } } },
    { id: 'prod-writes-review', decision: 'review', timeout: '10m', match: { targets: 'prod-*', attributes: { class: ['write', 'ddl'] } } },
    { id: 'audit-deny', decision: 'deny', match: { kinds: 'sql.*', attributes: { tables: 'audit.*' } } },
    { id: 'big-batches-review', decision: 'review', match: { protocols: 'postgres', attributes: { statementCount: { gt: 10 } } } },
    { id: 'rm-deny', decision: 'deny', match: { protocols: 'ssh', kinds: 'ssh.exec', attributes: { command: 'rm -rf *' } } },
    { id: 'secrets-review', decision: 'review', match: { protocols: ['kubernetes'], attributes: { resource: 'secrets', verb: ['get', 'list'] } } },
    { id: 'readonly-allow', decision: 'allow', match: { attributes: { readOnly: true } } },
    { id: 'rows-review', decision: 'review', match: { attributes: { rows: { gte: 100, lt: 1000 } } } },
    { id: 'sandbox-anything', decision: 'allow', match: { targets: 'sandbox', attributes: { class: ['unknown', 'read', 'write'] } } },
    { id: 'dev-any-class', decision: 'allow', match: { targets: 'dev', attributes: { class: '*' } } },
    { id: 'admin-deny', decision: 'deny', match: { protocols: 'http', attributes: { method: '{POST,DELETE}', path: '/admin/*' } } },
    { id: 'not-prod-allow', decision: 'allow', match: { targets: '!prod-*', kinds: 'k8s.request', attributes: { verb: 'watch' } } },
  ],
};

interface Case {
  name: string;
  action: PolicySubject;
  decision: Decision['decision'];
  ruleId: string;
  timeoutMs?: number;
}

const CASES: Case[] = [
  { name: 'a read is allowed', action: sql('prod-eu', { class: 'read' }), decision: 'allow', ruleId: 'reads-allow' },
  { name: 'a write on a prod-* target is held with the rule timeout', action: sql('prod-eu', { class: 'write' }), decision: 'review', ruleId: 'prod-writes-review', timeoutMs: 600_000 },
  { name: 'a list condition on class matches ddl', action: sql('prod-us', { class: 'ddl' }), decision: 'review', ruleId: 'prod-writes-review', timeoutMs: 600_000 },
  { name: 'a write elsewhere reaches the default', action: sql('staging', { class: 'write' }), decision: 'allow', ruleId: 'default' },
  { name: 'deny beats an allow earlier in the file', action: sql('staging', { class: 'read', tables: ['public.users', 'audit.log'] }), decision: 'deny', ruleId: 'audit-deny' },
  { name: 'deny beats review', action: sql('prod-eu', { class: 'write', tables: ['audit.log'] }), decision: 'deny', ruleId: 'audit-deny' },
  { name: 'a list attribute with no matching element does not match', action: sql('staging', { class: 'read', tables: ['public.users', 'public.audit'] }), decision: 'allow', ruleId: 'reads-allow' },
  { name: 'an empty list attribute does not match', action: sql('staging', { class: 'read', tables: [] }), decision: 'allow', ruleId: 'reads-allow' },
  { name: 'a string attribute matches a glob', action: sql('staging', { class: 'write', tables: 'audit.events' }), decision: 'deny', ruleId: 'audit-deny' },
  { name: 'the first review in file order wins', action: sql('prod-eu', { class: 'write', statementCount: 50 }), decision: 'review', ruleId: 'prod-writes-review', timeoutMs: 600_000 },
  { name: 'gt is exclusive (above)', action: sql('staging', { class: 'read', statementCount: 11 }), decision: 'review', ruleId: 'big-batches-review', timeoutMs: DEFAULT_TIMEOUT_MS },
  { name: 'gt is exclusive (equal)', action: sql('staging', { class: 'read', statementCount: 10 }), decision: 'allow', ruleId: 'reads-allow' },
  { name: 'a numeric comparison needs a number', action: sql('staging', { class: 'read', statementCount: '11' }), decision: 'allow', ruleId: 'reads-allow' },
  { name: 'a protocols condition excludes other protocols', action: subject('ssh', 'staging', 'ssh.exec', { class: 'read', statementCount: 11 }), decision: 'allow', ruleId: 'reads-allow' },
  { name: 'gte and lt: lower bound included', action: sql('staging', { class: 'read', rows: 100 }), decision: 'review', ruleId: 'rows-review', timeoutMs: DEFAULT_TIMEOUT_MS },
  { name: 'gte and lt: upper bound excluded', action: sql('staging', { class: 'read', rows: 1000 }), decision: 'allow', ruleId: 'reads-allow' },
  { name: 'gte and lt: below', action: sql('staging', { class: 'read', rows: 99 }), decision: 'allow', ruleId: 'reads-allow' },
  { name: '* matches across / in a command', action: subject('ssh', 'box', 'ssh.exec', { class: 'write', command: 'rm -rf /' }), decision: 'deny', ruleId: 'rm-deny' },
  { name: '* matches a .. segment', action: subject('ssh', 'box', 'ssh.exec', { class: 'write', command: 'rm -rf /..' }), decision: 'deny', ruleId: 'rm-deny' },
  { name: 'a kinds condition excludes other kinds', action: subject('ssh', 'box', 'ssh.shell', { class: 'write', command: 'rm -rf /' }), decision: 'allow', ruleId: 'default' },
  { name: 'every attribute condition must hold', action: subject('kubernetes', 'cluster', 'k8s.request', { resource: 'secrets', verb: 'get' }), decision: 'review', ruleId: 'secrets-review', timeoutMs: DEFAULT_TIMEOUT_MS },
  { name: 'one failing attribute condition is enough to miss', action: subject('kubernetes', 'cluster', 'k8s.request', { resource: 'secrets', verb: 'delete' }), decision: 'allow', ruleId: 'default' },
  { name: 'a boolean condition is equality', action: sql('staging', { readOnly: true }), decision: 'allow', ruleId: 'readonly-allow' },
  { name: 'a boolean condition does not match a string', action: sql('staging', { class: 'write', readOnly: 'true' }), decision: 'allow', ruleId: 'default' },
  { name: 'braces and a path glob', action: subject('http', 'api', 'http.request', { method: 'DELETE', path: '/admin/users/7' }), decision: 'deny', ruleId: 'admin-deny' },
  { name: 'braces exclude other methods', action: subject('http', 'api', 'http.request', { method: 'GET', path: '/admin/users/7' }), decision: 'allow', ruleId: 'default' },
  { name: 'a negated target glob matches other targets', action: subject('kubernetes', 'staging', 'k8s.request', { verb: 'watch' }), decision: 'allow', ruleId: 'not-prod-allow' },
  { name: 'a negated target glob excludes what it names', action: subject('kubernetes', 'prod-eu', 'k8s.request', { verb: 'watch' }), decision: 'allow', ruleId: 'default' },
  { name: 'unknown with default allow is held for review', action: sql('prod-eu', { class: 'unknown' }), decision: 'review', ruleId: 'default', timeoutMs: DEFAULT_TIMEOUT_MS },
  { name: 'unknown is allowed by a rule naming it', action: sql('sandbox', { class: 'unknown' }), decision: 'allow', ruleId: 'sandbox-anything' },
  { name: 'a class glob of * does not allow unknown', action: sql('dev', { class: 'unknown' }), decision: 'review', ruleId: 'default', timeoutMs: DEFAULT_TIMEOUT_MS },
  { name: 'a class glob of * allows known classes', action: sql('dev', { class: 'write' }), decision: 'allow', ruleId: 'dev-any-class' },
  { name: 'a class list holding unknown counts as unknown', action: sql('dev', { class: ['read', 'unknown'] }), decision: 'review', ruleId: 'default', timeoutMs: DEFAULT_TIMEOUT_MS },
  { name: 'no class attribute is not unknown', action: sql('staging', {}), decision: 'allow', ruleId: 'default' },
  { name: 'review rules still apply to unknown actions', action: sql('staging', { class: 'unknown', statementCount: 12 }), decision: 'review', ruleId: 'big-batches-review', timeoutMs: DEFAULT_TIMEOUT_MS },
];

describe('policy engine: evaluation', () => {
  const compiled = compile(FIXTURE);
  for (const c of CASES) {
    test(c.name, () => {
      const decision = compiled.evaluate(c.action);
      assert.equal(decision.decision, c.decision, decision.reason);
      assert.equal(decision.ruleId, c.ruleId, decision.reason);
      assert.equal(decision.timeoutMs, c.timeoutMs);
      assert.doesNotThrow(() => Decision.parse(decision));
      assert.ok(decision.reason.length > 0 && !decision.reason.includes('\n'));
    });
  }

  test('the same action evaluated again gives the same decision (cached plans)', () => {
    for (const c of CASES) assert.deepEqual(compiled.evaluate(c.action), compiled.evaluate(c.action));
  });

  test('rules still apply after the plan cache overflows', () => {
    const policy = compile({ default: 'deny', rules: [{ id: 'prod-read', decision: 'allow', match: { targets: 'prod-*', attributes: { class: 'read' } } }] });
    for (let i = 0; i < 5000; i++) {
      const d = policy.evaluate(sql(`prod-${i}`, { class: 'read' }));
      assert.equal(d.ruleId, 'prod-read');
    }
    assert.equal(policy.evaluate(sql('other', { class: 'read' })).decision, 'deny');
  });

  test('an attribute named like an Object.prototype member must exist on the action', () => {
    const policy = compile({ default: 'deny', rules: [{ id: 'ctor', decision: 'allow', match: { attributes: { constructor: '*', toString: '*' } } }] });
    assert.equal(policy.evaluate(sql('x', {})).decision, 'deny');
    assert.equal(policy.evaluate(sql('x', { constructor: 'a', toString: 'b' })).decision, 'allow');
  });

  test('* matches an empty value and ".."', () => {
    const policy = compile({ default: 'deny', rules: [{ id: 'any', decision: 'allow', match: { attributes: { path: '*' } } }] });
    assert.equal(policy.evaluate(sql('x', { path: '' })).decision, 'allow');
    assert.equal(policy.evaluate(sql('x', { path: '..' })).decision, 'allow');
    assert.equal(policy.evaluate(sql('x', {})).decision, 'deny');
  });

  test('? and character classes, literal names, lists of targets', () => {
    const policy = compile({
      default: 'deny',
      rules: [
        { id: 'one-char', decision: 'allow', match: { targets: 'db?', attributes: { class: 'read' } } },
        { id: 'class', decision: 'allow', match: { targets: ['replica[12]', 'analytics'], attributes: { class: 'read' } } },
      ],
    });
    assert.equal(policy.evaluate(sql('db1', { class: 'read' })).ruleId, 'one-char');
    assert.equal(policy.evaluate(sql('db10', { class: 'read' })).ruleId, 'default');
    assert.equal(policy.evaluate(sql('replica2', { class: 'read' })).ruleId, 'class');
    assert.equal(policy.evaluate(sql('replica3', { class: 'read' })).ruleId, 'default');
    assert.equal(policy.evaluate(sql('analytics', { class: 'read' })).ruleId, 'class');
    assert.equal(policy.evaluate(sql('analytics2', { class: 'read' })).ruleId, 'default');
  });

  test('a glob condition on a number or boolean attribute compares its text', () => {
    const policy = compile({ default: 'deny', rules: [{ id: 'port', decision: 'allow', match: { attributes: { port: '54*', tls: 'true' } } }] });
    assert.equal(policy.evaluate(sql('x', { port: 5432, tls: true })).decision, 'allow');
    assert.equal(policy.evaluate(sql('x', { port: 6432, tls: true })).decision, 'deny');
  });

  test('a number condition is equality on numbers only', () => {
    const policy = compile({ default: 'deny', rules: [{ id: 'single', decision: 'allow', match: { attributes: { statementCount: 1 } } }] });
    assert.equal(policy.evaluate(sql('x', { statementCount: 1 })).decision, 'allow');
    assert.equal(policy.evaluate(sql('x', { statementCount: 2 })).decision, 'deny');
    assert.equal(policy.evaluate(sql('x', { statementCount: '1' })).decision, 'deny');
  });
});

describe('policy engine: defaults and unknown actions', () => {
  test('default review carries the default timeout; default deny carries none', () => {
    const review = compile({ default: 'review' }).evaluate(sql('x', { class: 'read' }));
    assert.deepEqual(
      { decision: review.decision, ruleId: review.ruleId, timeoutMs: review.timeoutMs },
      { decision: 'review', ruleId: 'default', timeoutMs: DEFAULT_TIMEOUT_MS },
    );
    const deny = compile({ default: 'deny' }).evaluate(sql('x', { class: 'read' }));
    assert.equal(deny.decision, 'deny');
    assert.equal(deny.timeoutMs, undefined);
    assert.match(deny.reason, /no rule matched sql\.query on target "x"; the policy default is deny/);
  });

  test('an unknown action under default allow says why it is held', () => {
    const d = compile({ default: 'allow' }).evaluate(sql('prod', { class: 'unknown' }));
    assert.equal(d.decision, 'review');
    assert.match(d.reason, /unknown/);
    assert.match(d.reason, /default "allow" never applies/);
  });

  test('an allow rule passed over for an unknown action is named; default deny still denies', () => {
    const policy = compile({ default: 'deny', rules: [{ id: 'everything', decision: 'allow' }] });
    const d = policy.evaluate(sql('prod', { class: 'unknown' }));
    assert.equal(d.decision, 'deny');
    assert.equal(d.ruleId, 'default');
    assert.match(d.reason, /rule "everything" would allow .* class is unknown/);
    assert.equal(policy.evaluate(sql('prod', { class: 'read' })).decision, 'allow');
  });

  test('a later allow rule naming unknown still applies after one that does not', () => {
    const policy = compile({
      default: 'review',
      rules: [
        { id: 'all-classes', decision: 'allow', match: { attributes: { class: '*' } } },
        { id: 'unknown-ok', decision: 'allow', match: { attributes: { class: 'unknown' } } },
      ],
    });
    assert.equal(policy.evaluate(sql('x', { class: 'unknown' })).ruleId, 'unknown-ok');
  });

  test('a brace glob containing unknown does not count as naming it', () => {
    const policy = compile({ default: 'allow', rules: [{ id: 'brace', decision: 'allow', match: { attributes: { class: '{read,unknown}' } } }] });
    assert.equal(policy.evaluate(sql('x', { class: 'unknown' })).decision, 'review');
    assert.equal(policy.evaluate(sql('x', { class: 'read' })).ruleId, 'brace');
  });
});

describe('policy engine: reasons', () => {
  test('a rule without description explains what it matched', () => {
    const d = compile({ rules: [{ id: 'writes-need-review', decision: 'review', match: { attributes: { class: 'write', tables: 'public.*' } } }] }).evaluate(
      sql('prod', { class: 'write', tables: ['audit.log', 'public.users'] }),
    );
    assert.equal(d.reason, 'rule "writes-need-review": sql.query with class "write", tables "public.users" on target "prod"');
  });

  test('a numeric comparison shows the value and the bound', () => {
    const d = compile({ rules: [{ id: 'batch', decision: 'deny', match: { attributes: { statementCount: { gt: 3 } } } }] }).evaluate(sql('prod', { statementCount: 7 }));
    assert.equal(d.reason, 'rule "batch": sql.query with statementCount 7 (>3) on target "prod"');
  });

  test('a description is used, on one line', () => {
    const d = compile({ rules: [{ id: 'ddl', decision: 'deny', description: 'schema changes\nare frozen', match: { attributes: { class: 'ddl' } } }] }).evaluate(sql('prod', { class: 'ddl' }));
    assert.equal(d.reason, 'rule "ddl": schema changes are frozen (sql.query on target "prod")');
  });

  test('values with newlines and long values stay on one line', () => {
    const command = `echo ${'x'.repeat(200)}\nrm -rf /`;
    const d = compile({ rules: [{ id: 'cmd', decision: 'deny', match: { attributes: { command: '*rm -rf*' } } }] }).evaluate(subject('ssh', 'box', 'ssh.exec', { command }));
    assert.equal(d.decision, 'deny');
    assert.ok(!d.reason.includes('\n'));
    assert.ok(d.reason.length < 200, d.reason);
  });
});

describe('policy engine: compile errors and helpers', () => {
  test('a zero timeout is refused with its path', () => {
    assert.throws(
      () => compile({ rules: [{ id: 'ok', decision: 'deny' }, { id: 'zero', decision: 'review', timeout: '0s' }] }),
      (err: unknown) => err instanceof PolicyCompileError && err.path === 'rules[1].timeout' && /longer than zero/.test(err.message),
    );
  });

  test('the default review timeout must be positive', () => {
    assert.throws(() => compilePolicy(Policy.parse({}), { defaultReviewTimeoutMs: 0 }), /defaultReviewTimeoutMs/);
  });

  test('stricterDecision orders deny > review > allow', () => {
    assert.equal(stricterDecision('allow', 'review'), 'review');
    assert.equal(stricterDecision('deny', 'review'), 'deny');
    assert.equal(stricterDecision('allow', 'allow'), 'allow');
  });

  test('withFloor never returns a looser decision than the floor', () => {
    const loose = compile({ default: 'allow' });
    const strict = compile({ default: 'deny', rules: [{ id: 'reads', decision: 'review', match: { attributes: { class: 'read' } } }] });
    const floored = withFloor(loose, strict);
    assert.equal(floored.evaluate(sql('x', { class: 'write' })).decision, 'deny');
    assert.equal(floored.evaluate(sql('x', { class: 'read' })).ruleId, 'reads');
    assert.equal(withFloor(strict, loose).evaluate(sql('x', { class: 'read' })).ruleId, 'reads');
  });

  test('describeRule is one line with conditions, timeout and description', () => {
    const rule = Policy.parse({
      rules: [
        {
          id: 'prod-writes',
          decision: 'review',
          timeout: '10m',
          description: 'writes wait',
          match: { targets: 'prod-*', protocols: ['postgres', 'ssh'], kinds: 'sql.*', attributes: { class: ['write', 'ddl'], statementCount: { gt: 3, lte: 10 }, readOnly: false } },
        },
      ],
    }).rules[0]!;
    assert.equal(
      describeRule(rule),
      'prod-writes: review if target=prod-* and protocol=postgres|ssh and kind=sql.* and class=write|ddl and statementCount>3 and statementCount<=10 and readOnly=false (timeout 10m) — writes wait',
    );
    assert.equal(describeRule(Policy.parse({ rules: [{ id: 'all', decision: 'deny' }] }).rules[0]!), 'all: deny always');
  });
});

describe('default policy', () => {
  const compiled = compilePolicy(DEFAULT_POLICY, options);
  const expectations: Array<[string, Decision['decision'], string]> = [
    ['read', 'allow', 'reads-allow'],
    ['write', 'review', 'writes-review'],
    ['ddl', 'review', 'ddl-review'],
    ['privileged', 'deny', 'privileged-deny'],
    ['unknown', 'review', 'unknown-review'],
  ];
  for (const protocol of ['postgres', 'ssh', 'kubernetes', 'http'] as const) {
    for (const [cls, decision, ruleId] of expectations) {
      test(`${protocol}: class ${cls} → ${decision}`, () => {
        const d = compiled.evaluate(subject(protocol, 't', `${protocol === 'postgres' ? 'sql' : protocol}.x`, { class: cls }));
        assert.equal(d.decision, decision);
        assert.equal(d.ruleId, ruleId);
      });
    }
  }

  test('an action without a class is reviewed', () => {
    assert.equal(compiled.evaluate(sql('t', {})).decision, 'review');
  });

  test('masks credential-like and ssn columns', () => {
    const globs = DEFAULT_POLICY.masking.columns.flatMap((rule) => (typeof rule.columns === 'string' ? [rule.columns] : rule.columns));
    for (const glob of ['*password*', '*passwd*', '*secret*', '*token*', '*api_key*', '*apikey*', '*ssn*']) assert.ok(globs.includes(glob), glob);
    assert.ok(DEFAULT_POLICY.masking.columns.every((rule) => rule.label === 'REDACTED'));
    assert.equal(DEFAULT_POLICY.masking.detectors, undefined);
  });

  test('the YAML text for `policy init` is the default policy', () => {
    assert.deepEqual(Policy.parse(YAML.parse(defaultPolicyYaml())), DEFAULT_POLICY);
  });

  test('is frozen', () => {
    assert.ok(Object.isFrozen(DEFAULT_POLICY) && Object.isFrozen(DEFAULT_POLICY.rules[0]));
    assert.throws(() => {
      (DEFAULT_POLICY.rules as unknown as unknown[]).push({});
    }, TypeError);
  });
});
