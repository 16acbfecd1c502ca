/* eslint-disable @typescript-eslint/no-explicit-any -- the cases edit parsed YAML in place, as a person edits the file; Policy.parse checks the result */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { LocalConfig, Policy } from '@airlock/shared';
import type { PolicyDifference } from '@airlock/shared';
import { compareConfigs, comparePolicies, loosens, matchRelation } from '../../src/policy/loosening.js';
import { DEFAULT_POLICY } from '../../src/policy/defaults.js';

const MINUTE = 60_000;

function policy(yaml: string): Policy {
  return Policy.parse(YAML.parse(yaml) ?? {});
}

const BASE = `
default: review
rules:
  - id: privileged-deny
    decision: deny
    match: { attributes: { class: privileged } }
  - id: writes-review
    decision: review
    match: { targets: "prod-*", attributes: { class: [write, ddl] } }
  - id: audit-review
    decision: review
    timeout: 10m
    match: { attributes: { tables: "audit.*" } }
  - id: reads-allow
    decision: allow
    match: { attributes: { class: read, statementCount: { lte: 10 } } }
masking:
  detectors: [email, payment-card, token]
  columns:
    - { columns: ["*password*"], label: REDACTED }
  custom:
    - { name: employee-id, regex: "EMP-[0-9]{6}" }
`;

/** Applies a change to the base policy's parsed form. */
function edit(change: (p: Record<string, any>) => void): Policy {
  const raw = YAML.parse(BASE) as Record<string, any>;
  change(raw);
  return Policy.parse(raw);
}

function rule(raw: Record<string, any>, id: string): Record<string, any> {
  return (raw.rules as Record<string, any>[]).find((r) => r.id === id)!;
}

function compare(next: Policy, options: { timeoutBefore?: number; timeoutAfter?: number; before?: Policy } = {}): PolicyDifference[] {
  return comparePolicies(
    { policy: options.before ?? policy(BASE), defaultReviewTimeoutMs: options.timeoutBefore ?? 5 * MINUTE },
    { policy: next, defaultReviewTimeoutMs: options.timeoutAfter ?? 5 * MINUTE },
  );
}

type Expect = 'loosening' | 'tightening' | 'none';
interface Case {
  name: string;
  next: Policy;
  expect: Expect;
  /** a difference's text or subject must match this */
  mentions?: RegExp;
  options?: Parameters<typeof compare>[1];
}

const cases: Case[] = [
  { name: 'the same policy', next: policy(BASE), expect: 'none' },
  { name: 'the review incident: everything allowed and masking off', next: policy('default: allow\nmasking: { detectors: [] }\n'), expect: 'loosening', mentions: /removed/ },
  { name: 'default review → allow', next: edit((p) => (p.default = 'allow')), expect: 'loosening', mentions: /allowed instead of held for review/ },
  { name: 'default review → deny', next: edit((p) => (p.default = 'deny')), expect: 'tightening', mentions: /default/ },
  { name: 'a deny rule removed', next: edit((p) => (p.rules = p.rules.filter((r: any) => r.id !== 'privileged-deny'))), expect: 'loosening', mentions: /privileged-deny/ },
  { name: 'a review rule removed', next: edit((p) => (p.rules = p.rules.filter((r: any) => r.id !== 'writes-review'))), expect: 'loosening', mentions: /writes-review/ },
  { name: 'an allow rule removed', next: edit((p) => (p.rules = p.rules.filter((r: any) => r.id !== 'reads-allow'))), expect: 'tightening' },
  { name: 'deny → review', next: edit((p) => (rule(p, 'privileged-deny').decision = 'review')), expect: 'loosening', mentions: /held for review instead of denied/ },
  { name: 'review → allow', next: edit((p) => { rule(p, 'writes-review').decision = 'allow'; }), expect: 'loosening', mentions: /allowed instead of held for review/ },
  { name: 'allow → deny', next: edit((p) => (rule(p, 'reads-allow').decision = 'deny')), expect: 'tightening' },
  { name: 'a rule renamed (removed + added) counts as its removal', next: edit((p) => (rule(p, 'privileged-deny').id = 'no-privileged')), expect: 'loosening' },
  { name: 'an allow rule added', next: edit((p) => p.rules.push({ id: 'writes-allow', decision: 'allow', match: { attributes: { class: 'write' } } })), expect: 'loosening', mentions: /added: allows/ },
  { name: 'a deny rule added', next: edit((p) => p.rules.push({ id: 'drop-deny', decision: 'deny', match: { kinds: 'sql.*' } })), expect: 'tightening' },
  { name: 'a review rule added under a review default', next: edit((p) => p.rules.push({ id: 'big-review', decision: 'review', match: { attributes: { statementCount: { gt: 100 } } } })), expect: 'tightening' },
  {
    name: 'a review rule added under a deny default holds what the default refused',
    next: edit((p) => { p.default = 'deny'; p.rules.push({ id: 'big-review', decision: 'review', match: {} }); }),
    expect: 'loosening',
    mentions: /default \(deny\) refused/,
    options: { before: edit((p) => (p.default = 'deny')) },
  },
  { name: 'a review rule added with a timeout longer than the default', next: edit((p) => p.rules.push({ id: 'slow', decision: 'review', timeout: '1h', match: {} })), expect: 'loosening', mentions: /1h/ },
  // match broadened for allow / narrowed for deny or review
  { name: 'allow broadened (an attribute condition dropped)', next: edit((p) => delete rule(p, 'reads-allow').match.attributes.statementCount), expect: 'loosening', mentions: /broader/ },
  { name: 'allow broadened (class list grows)', next: edit((p) => (rule(p, 'reads-allow').match.attributes.class = ['read', 'write'])), expect: 'loosening' },
  { name: 'allow broadened (a glob of *)', next: edit((p) => (rule(p, 'reads-allow').match.attributes.class = '*')), expect: 'loosening' },
  { name: 'allow broadened (range widened)', next: edit((p) => (rule(p, 'reads-allow').match.attributes.statementCount = { lte: 100 })), expect: 'loosening' },
  { name: 'allow narrowed (range tightened)', next: edit((p) => (rule(p, 'reads-allow').match.attributes.statementCount = { lt: 5 })), expect: 'tightening', mentions: /narrower/ },
  { name: 'allow narrowed (a target condition added)', next: edit((p) => (rule(p, 'reads-allow').match.targets = 'dev-*')), expect: 'tightening' },
  { name: 'deny narrowed (a target condition added)', next: edit((p) => (rule(p, 'privileged-deny').match.targets = 'prod-*')), expect: 'loosening', mentions: /narrower/ },
  { name: 'deny broadened (a condition dropped)', next: edit((p) => (rule(p, 'privileged-deny').match = {})), expect: 'tightening' },
  { name: 'review narrowed (class list shrinks)', next: edit((p) => (rule(p, 'writes-review').match.attributes.class = 'ddl')), expect: 'loosening' },
  { name: 'review broadened (targets any)', next: edit((p) => delete rule(p, 'writes-review').match.targets), expect: 'tightening' },
  { name: 'a glob rewritten into one that neither contains: fail closed', next: edit((p) => (rule(p, 'writes-review').match.targets = 'prod?*')), expect: 'loosening', mentions: /neither contains/ },
  { name: 'a glob rewritten for an allow rule: fail closed', next: edit((p) => (rule(p, 'reads-allow').match.attributes.class = 're*')), expect: 'loosening' },
  { name: 'a glob (even a negated one) added to a deny list broadens it', next: edit((p) => (rule(p, 'privileged-deny').match.attributes.class = ['privileged', '!read'])), expect: 'tightening' },
  // timeouts
  { name: 'a review timeout lengthened', next: edit((p) => (rule(p, 'audit-review').timeout = '1h')), expect: 'loosening', mentions: /1h for a human instead of 10m/ },
  { name: 'a review timeout shortened', next: edit((p) => (rule(p, 'audit-review').timeout = '1m')), expect: 'tightening' },
  { name: 'the default approval timeout lengthened', next: policy(BASE), options: { timeoutAfter: 60 * MINUTE }, expect: 'loosening', mentions: /approvals/ },
  { name: 'the default approval timeout shortened', next: policy(BASE), options: { timeoutAfter: MINUTE }, expect: 'tightening' },
  // order: deny wins over review over allow whatever the order, so an allow moved first wins nothing
  { name: 'an allow rule moved before the deny: no decision changes', next: edit((p) => p.rules.unshift(p.rules.pop())), expect: 'none' },
  { name: 'review rules with different timeouts swapped', next: edit((p) => ([p.rules[1], p.rules[2]] = [p.rules[2], p.rules[1]])), expect: 'loosening', mentions: /reordered/ },
  { name: 'a description changed', next: edit((p) => (rule(p, 'reads-allow').description = 'reads are fine')), expect: 'tightening', mentions: /no effect/ },
  // masking
  { name: 'masking switched off', next: edit((p) => (p.masking = { detectors: [], columns: [], custom: [] })), expect: 'loosening', mentions: /switched off/ },
  { name: 'a detector switched off', next: edit((p) => (p.masking.detectors = ['email', 'payment-card'])), expect: 'loosening', mentions: /token/ },
  { name: 'detectors omitted (all of them run)', next: edit((p) => delete p.masking.detectors), expect: 'tightening' },
  { name: 'a column rule removed', next: edit((p) => (p.masking.columns = [])), expect: 'loosening', mentions: /password/ },
  { name: 'a column rule narrowed to a target', next: edit((p) => (p.masking.columns[0].targets = 'prod-*')), expect: 'loosening' },
  { name: 'a column rule added', next: edit((p) => p.masking.columns.push({ columns: '*ssn*' })), expect: 'tightening' },
  { name: 'a custom detector removed', next: edit((p) => (p.masking.custom = [])), expect: 'loosening', mentions: /employee-id/ },
  { name: "a custom detector's pattern changed", next: edit((p) => (p.masking.custom[0].regex = 'EMP-1')), expect: 'loosening', mentions: /may match less/ },
  { name: "a custom detector's label changed", next: edit((p) => (p.masking.custom[0].label = 'EMPLOYEE')), expect: 'tightening' },
];

describe('loosening: policy differences', () => {
  for (const c of cases) {
    test(c.name, () => {
      const differences = compare(c.next, c.options);
      if (c.expect === 'none') assert.deepEqual(differences, []);
      else {
        assert.equal(loosens(differences), c.expect === 'loosening', JSON.stringify(differences, null, 1));
        assert.ok(differences.length > 0);
      }
      if (c.mentions) assert.ok(differences.some((d) => c.mentions!.test(d.text) || c.mentions!.test(d.subject)), JSON.stringify(differences, null, 1));
      for (const d of differences) assert.doesNotMatch(d.text, /undefined|\[object/, 'every difference reads as a sentence');
    });
  }

  test('tightening and loosening in one edit: the edit loosens, and both are listed', () => {
    const differences = compare(edit((p) => { p.default = 'deny'; rule(p, 'privileged-deny').decision = 'allow'; }));
    assert.equal(loosens(differences), true);
    assert.deepEqual(differences.map((d) => d.direction).sort(), ['loosening', 'tightening']);
  });

  test('the embedded default against an allow-everything file', () => {
    const differences = comparePolicies({ policy: DEFAULT_POLICY, defaultReviewTimeoutMs: 5 * MINUTE }, { policy: policy('default: allow\n'), defaultReviewTimeoutMs: 5 * MINUTE });
    const loose = differences.filter((d) => d.direction === 'loosening').map((d) => d.subject);
    for (const s of ['default', 'rule privileged-deny', 'rule ddl-review', 'rule writes-review', 'rule unknown-review', 'masking']) assert.ok(loose.includes(s), `${s} in ${loose.join(', ')}`);
  });
});

describe('loosening: match containment', () => {
  const table: [string, object | undefined, object | undefined, string][] = [
    ['both empty', {}, undefined, 'same'],
    ['glob list order does not matter', { targets: ['a', 'b'] }, { targets: ['b', 'a'] }, 'same'],
    ['a condition added', {}, { kinds: 'sql.*' }, 'narrower'],
    ['a condition removed', { kinds: 'sql.*' }, {}, 'broader'],
    ['protocol list shrinks', { protocols: ['postgres', 'ssh'] }, { protocols: 'postgres' }, 'narrower'],
    ['equality inside a range', { attributes: { n: { lt: 10 } } }, { attributes: { n: 3 } }, 'narrower'],
    ['equality outside a range', { attributes: { n: { lt: 10 } } }, { attributes: { n: 30 } }, 'unrelated'],
    ['open bound inside closed', { attributes: { n: { lte: 10 } } }, { attributes: { n: { lt: 10 } } }, 'narrower'],
    ['closed bound outside open', { attributes: { n: { lt: 10 } } }, { attributes: { n: { lte: 10 } } }, 'broader'],
    ['boolean changed', { attributes: { b: true } }, { attributes: { b: false } }, 'unrelated'],
    ['glob versus number', { attributes: { n: '1*' } }, { attributes: { n: 1 } }, 'unrelated'],
  ];
  for (const [name, before, after, expected] of table) {
    test(name, () => assert.equal(matchRelation(before as never, after as never), expected));
  }
});

const CONFIG = `
targets:
  - name: db
    protocol: postgres
    upstream: "postgres://app@db.internal:5432/app?sslmode=verify-full&require_auth=scram-sha-256"
    listen: { host: 127.0.0.1, port: 6432 }
    credential: { env: APP_DB_PASSWORD }
    limits: { maxConnections: 10 }
`;

function config(change?: (c: Record<string, any>) => void): LocalConfig {
  const raw = YAML.parse(CONFIG) as Record<string, any>;
  change?.(raw);
  return LocalConfig.parse(raw);
}
const target = (c: Record<string, any>) => c.targets[0] as Record<string, any>;

describe('loosening: config differences', () => {
  const table: { name: string; next: LocalConfig; expect: Expect; mentions?: RegExp }[] = [
    { name: 'the same config', next: config(), expect: 'none' },
    { name: 'the api port (not enforcement)', next: config((c) => (c.api = { port: 7000 })), expect: 'none' },
    { name: 'a target added: a new path to a system', next: config((c) => c.targets.push({ name: 'prod', protocol: 'postgres', upstream: 'postgres://admin@prod/app', listen: { port: 6500 } })), expect: 'loosening', mentions: /new path/ },
    { name: 'a target removed', next: config((c) => (c.targets = [])), expect: 'tightening' },
    { name: 'the upstream host changed', next: config((c) => (target(c).upstream = 'postgres://app@prod.internal:5432/app?sslmode=verify-full&require_auth=scram-sha-256')), expect: 'loosening', mentions: /different system/ },
    { name: 'the upstream user changed', next: config((c) => (target(c).upstream = 'postgres://postgres@db.internal:5432/app?sslmode=verify-full&require_auth=scram-sha-256')), expect: 'loosening' },
    { name: 'sslmode weakened', next: config((c) => (target(c).upstream = 'postgres://app@db.internal:5432/app?sslmode=disable&require_auth=scram-sha-256')), expect: 'loosening', mentions: /verify-full → disable/ },
    { name: 'sslmode removed (libpq default prefer)', next: config((c) => (target(c).upstream = 'postgres://app@db.internal:5432/app?require_auth=scram-sha-256')), expect: 'loosening' },
    { name: 'sslmode unknown: fail closed', next: config((c) => (target(c).upstream = 'postgres://app@db.internal:5432/app?sslmode=bogus&require_auth=scram-sha-256')), expect: 'loosening' },
    { name: 'require_auth removed', next: config((c) => (target(c).upstream = 'postgres://app@db.internal:5432/app?sslmode=verify-full')), expect: 'loosening', mentions: /require_auth/ },
    { name: 'another query parameter: fail closed', next: config((c) => (target(c).upstream += '&options=-c%20role%3Dadmin')), expect: 'loosening' },
    { name: 'the catalog switched off', next: config((c) => (target(c).catalog = false)), expect: 'loosening', mentions: /catalog/ },
    { name: 'a limit raised', next: config((c) => (target(c).limits = { maxConnections: 1000 })), expect: 'loosening', mentions: /maxConnections 10 → 1000/ },
    { name: 'a limit lowered', next: config((c) => (target(c).limits = { maxConnections: 5 })), expect: 'tightening' },
    { name: 'a daemon-wide limit raised', next: config((c) => (c.limits = { maxMessageBytes: 512 * 1024 * 1024 })), expect: 'loosening' },
    { name: 'the idle timeout spelled out as its default (0s, never)', next: config((c) => (c.limits = { idleTimeout: '0s' })), expect: 'none' },
    { name: 'idle timeout set from never', next: config((c) => (c.limits = { idleTimeout: '10m' })), expect: 'tightening' },
    { name: 'the listener moved off loopback', next: config((c) => (target(c).listen.host = '0.0.0.0')), expect: 'loosening' },
    { name: 'the listener port changed', next: config((c) => (target(c).listen.port = 6433)), expect: 'tightening' },
    { name: 'the credential moved', next: config((c) => (target(c).credential = { file: '/tmp/pw' })), expect: 'loosening' },
    { name: 'a central endpoint added', next: config((c) => (c.central = { url: 'https://central.example' })), expect: 'loosening' },
    { name: 'the default approval timeout lengthened', next: config((c) => (c.approvals = { defaultTimeout: '1h' })), expect: 'loosening', mentions: /1h for a human instead of 5m/ },
    { name: 'the default approval timeout shortened', next: config((c) => (c.approvals = { defaultTimeout: '1m' })), expect: 'tightening' },
    { name: 'the policy file moved', next: config((c) => (c.policyFile = '/tmp/other.yaml')), expect: 'loosening' },
  ];
  for (const c of table) {
    test(c.name, () => {
      const differences = compareConfigs(config(), c.next);
      if (c.expect === 'none') assert.deepEqual(differences, []);
      else assert.equal(loosens(differences), c.expect === 'loosening', JSON.stringify(differences, null, 1));
      if (c.mentions) assert.ok(differences.some((d) => c.mentions!.test(d.text)), JSON.stringify(differences, null, 1));
    });
  }
});

const SSH_CONFIG = `
targets:
  - name: box
    protocol: ssh
    upstream: "ssh://deploy@box.internal:22"
    listen: { host: 127.0.0.1, port: 2222 }
    credential: { file: /home/me/.ssh/airlock_box }
`;
const PIN_A = 'SHA256:' + 'A'.repeat(43);
const PIN_B = 'SHA256:' + 'B'.repeat(43);

function sshConfig(change?: (t: Record<string, any>) => void): LocalConfig {
  const raw = YAML.parse(SSH_CONFIG) as Record<string, any>;
  change?.(raw.targets[0]);
  return LocalConfig.parse(raw);
}

describe('loosening: SSH host key pins and credentials', () => {
  const pinnedA = (t: Record<string, any>) => (t.hostKey = PIN_A);
  const table: { name: string; before: LocalConfig; next: LocalConfig; expect: Expect; mentions?: RegExp }[] = [
    { name: 'pinning a host key where none was', before: sshConfig(), next: sshConfig(pinnedA), expect: 'tightening', mentions: /pinned .*where none was/ },
    { name: 'pinning by known_hosts where nothing was', before: sshConfig(), next: sshConfig((t) => (t.knownHosts = '/etc/ssh/ssh_known_hosts')), expect: 'tightening' },
    { name: 'the same pin', before: sshConfig(pinnedA), next: sshConfig(pinnedA), expect: 'none' },
    { name: 'the pin changed to another key', before: sshConfig(pinnedA), next: sshConfig((t) => (t.hostKey = PIN_B)), expect: 'loosening', mentions: /a different upstream key/ },
    { name: 'the pin removed', before: sshConfig(pinnedA), next: sshConfig(), expect: 'loosening', mentions: /removed/ },
    { name: 'the pin replaced by a known_hosts file', before: sshConfig(pinnedA), next: sshConfig((t) => (t.knownHosts = '/tmp/kh')), expect: 'loosening' },
    { name: 'a known_hosts file added beside the pin', before: sshConfig(pinnedA), next: sshConfig((t) => ((t.hostKey = PIN_A), (t.knownHosts = '/tmp/kh'))), expect: 'loosening' },
    { name: 'the known_hosts file changed', before: sshConfig((t) => (t.knownHosts = '/a/kh')), next: sshConfig((t) => (t.knownHosts = '/b/kh')), expect: 'loosening', mentions: /known_hosts file changed/ },
    { name: 'a key pinned where a known_hosts file was', before: sshConfig((t) => (t.knownHosts = '/a/kh')), next: sshConfig(pinnedA), expect: 'loosening' },
    { name: 'the credential moved to an ssh-agent', before: sshConfig(pinnedA), next: sshConfig((t) => ((t.hostKey = PIN_A), (t.credential = { agentSocket: '/tmp/agent.sock' }))), expect: 'loosening', mentions: /ssh-agent/ },
  ];
  for (const c of table) {
    test(c.name, () => {
      const differences = compareConfigs(c.before, c.next);
      if (c.expect === 'none') assert.deepEqual(differences, []);
      else {
        assert.ok(differences.length > 0);
        assert.equal(loosens(differences), c.expect === 'loosening', JSON.stringify(differences, null, 1));
      }
      if (c.mentions) assert.ok(differences.some((d) => c.mentions!.test(d.text)), JSON.stringify(differences, null, 1));
    });
  }

  test('a target field no comparison knows is loosening when it changes (fail closed)', () => {
    const before = sshConfig(pinnedA);
    const next = sshConfig(pinnedA);
    (next.targets[0] as any).futureSetting = 'on';
    const differences = compareConfigs(before, next);
    assert.equal(loosens(differences), true);
    assert.match(differences[0]!.text, /^futureSetting changed/);
  });
});

const HTTP_CONFIG = `
targets:
  - name: gh
    protocol: http
    upstream: "https://api.github.com"
    listen: { host: 127.0.0.1, port: 8081 }
    credential: { env: GH_TOKEN }
    auth: bearer
  - name: egress
    protocol: egress
    listen: { host: 127.0.0.1, port: 3128 }
    allowHosts: ["registry.npmjs.org", "github.com:443"]
`;

function httpConfig(change?: (http: Record<string, any>, egress: Record<string, any>) => void): LocalConfig {
  const raw = YAML.parse(HTTP_CONFIG) as Record<string, any>;
  change?.(raw.targets[0], raw.targets[1]);
  return LocalConfig.parse(raw);
}

describe('loosening: HTTP and egress target settings', () => {
  const table: { name: string; next: LocalConfig; expect: Expect; mentions?: RegExp }[] = [
    { name: 'an egress host listed', next: httpConfig((_h, e) => e.allowHosts.push('*.pypi.org')), expect: 'loosening', mentions: /\*\.pypi\.org without asking/ },
    { name: 'an egress host unlisted', next: httpConfig((_h, e) => e.allowHosts.pop()), expect: 'tightening', mentions: /github\.com:443 is asked for again/ },
    { name: 'a CA file trusted', next: httpConfig((h) => (h.caFile = '/etc/corp-ca.pem')), expect: 'loosening', mentions: /corp-ca\.pem trusted/ },
    { name: 'the credential presented as a header instead of bearer', next: httpConfig((h) => (h.auth = 'header:X-Api-Key')), expect: 'loosening' },
    { name: 'GraphQL paths changed', next: httpConfig((h) => (h.graphqlPaths = ['/api/graphql'])), expect: 'loosening', mentions: /GraphQL paths/ },
    { name: 'nothing changed', next: httpConfig(), expect: 'none' },
  ];
  for (const c of table) {
    test(c.name, () => {
      const differences = compareConfigs(httpConfig(), c.next);
      if (c.expect === 'none') assert.deepEqual(differences, []);
      else {
        assert.ok(differences.length > 0);
        assert.equal(loosens(differences), c.expect === 'loosening', JSON.stringify(differences, null, 1));
      }
      if (c.mentions) assert.ok(differences.some((d) => c.mentions!.test(d.text)), JSON.stringify(differences, null, 1));
    });
  }

  test('a plaintext upstream accepted is loosening, refused again is tightening', () => {
    const plain = (h: Record<string, any>) => ((h.upstream = 'http://127.0.0.1:9000'), (h.plaintext = true));
    const https = (h: Record<string, any>) => (h.upstream = 'http://127.0.0.1:9000');
    const before = httpConfig((h) => (h.upstream = 'https://127.0.0.1:9000'));
    assert.equal(loosens(compareConfigs(before, httpConfig(plain))), true);
    assert.throws(() => httpConfig(https), /plain http:\/\/ upstream/);
  });
});
