import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalConfig, Policy, Target, ValidationError, parseDuration, parseWith, describeIssues, formatPath } from '../src/index.js';

describe('validation messages name the source, the path inside it and what was expected', () => {
  test('config: a port out of range', () => {
    assert.throws(
      () => parseWith(LocalConfig, { targets: [{ name: 'db', protocol: 'postgres', upstream: 'postgres://u@h/db', listen: { port: 70000 } }] }, '/home/dev/.airlock/config.yaml'),
      (err: unknown) => err instanceof ValidationError && /^\/home\/dev\/\.airlock\/config\.yaml: targets\[0\]\.listen\.port: .*65535/.test(err.message),
    );
  });

  test('config: unknown field, duplicate target, inline password', () => {
    const unknown = LocalConfig.safeParse({ targetz: [] });
    assert.equal(unknown.success, false);
    assert.match(describeIssues('config.yaml', unknown.error!), /config\.yaml: \(top level\): .*targetz/);

    const t = { protocol: 'postgres', upstream: 'postgres://u@h/db', listen: { port: 1 } };
    const dup = LocalConfig.safeParse({ targets: [{ name: 'a', ...t }, { name: 'a', ...t }] });
    assert.match(describeIssues('config.yaml', dup.error!), /targets\[1\]\.name: duplicate target name "a"/);

    const secret = Target.safeParse({ name: 'a', ...t, upstream: 'postgres://u:pw@h/db' });
    assert.match(describeIssues('t', secret.error!), /upstream: the upstream URL must not contain a password/);
  });

  test('policy: wrong decision, bad duration, timeout on an allow rule, duplicate ids, bad regex', () => {
    const msg = (value: unknown) => {
      const r = Policy.safeParse(value);
      assert.equal(r.success, false, 'must be rejected');
      return describeIssues('policy.yaml', r.error!);
    };
    assert.match(msg({ rules: [{ id: 'a', decision: 'maybe' }] }), /policy\.yaml: rules\[0\]\.decision: .*"allow"/);
    assert.match(msg({ rules: [{ id: 'a', decision: 'review', timeout: 'soon' }] }), /rules\[0\]\.timeout: expected a duration/);
    assert.match(msg({ rules: [{ id: 'a', decision: 'allow', timeout: '5m' }] }), /rules\[0\]\.timeout: a timeout only applies to rules whose decision is review/);
    assert.match(msg({ rules: [{ id: 'a', decision: 'deny' }, { id: 'a', decision: 'allow' }] }), /rules\[1\]\.id: duplicate rule id "a"/);
    assert.match(msg({ masking: { custom: [{ name: 'x', regex: '([' }] } }), /masking\.custom\[0\]\.regex: expected a valid JavaScript regular expression/);
    assert.match(msg({ rules: [{ id: 'a', decision: 'deny', match: { attributes: { n: {} } } }] }), /rules\[0\]\.match\.attributes\.n/);
  });

  test('defaults fill in an empty policy and config', () => {
    const p = Policy.parse({});
    assert.equal(p.default, 'review');
    assert.deepEqual(p.rules, []);
    const c = LocalConfig.parse({});
    assert.equal(c.recording.mode, 'async');
    assert.equal(c.api.host, '127.0.0.1');
    assert.equal(c.approvals.defaultTimeout, '5m');
  });

  test('durations and paths', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('8h'), 28_800_000);
    assert.throws(() => parseDuration('5 minutes'), /not a duration/);
    assert.equal(formatPath(['targets', 0, 'listen', 'port']), 'targets[0].listen.port');
    assert.equal(formatPath([]), '(top level)');
  });
});

describe('HTTP and egress targets: what the schema accepts and refuses', () => {
  const listen = { host: '127.0.0.1', port: 8081 };
  const http = (extra: Record<string, unknown>) => ({ name: 'api', protocol: 'http', upstream: 'https://api.example.com', listen, ...extra });
  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ['a plain http:// upstream without plaintext', http({ upstream: 'http://127.0.0.1:9000' }), /unencrypted.*plaintext/],
    ['plaintext to a host off this machine', http({ upstream: 'http://api.example.com', plaintext: true }), /loopback upstreams only/],
    ['auth without a credential', http({ auth: 'bearer' }), /has none/],
    ['a header auth with a bad header name', http({ auth: 'header:X Api', credential: { env: 'T' } }), /header:NAME/],
    ['allowHosts on an http target', http({ allowHosts: ['github.com'] }), /allowHosts applies to egress/],
    ['an egress target with an upstream', { name: 'out', protocol: 'egress', upstream: 'https://x.example', listen }, /egress target has no upstream/],
    ['an egress target with a credential', { name: 'out', protocol: 'egress', listen, credential: { env: 'T' } }, /injects no credential/],
    ['an allowHosts entry that is not a host', { name: 'out', protocol: 'egress', listen, allowHosts: ['https://github.com/'] }, /host or host:port/],
    ['an http target without an upstream', { name: 'api', protocol: 'http', listen }, /needs an upstream/],
  ];
  for (const [name, candidate, message] of refusals) {
    test(`refused: ${name}`, () => assert.throws(() => parseWith(Target, candidate, 'target'), message));
  }
  test('accepted: https with a header credential and a CA file; plaintext on loopback; egress with hosts', () => {
    assert.equal(parseWith(Target, http({ auth: 'header:X-Api-Key', credential: { env: 'API_KEY' }, caFile: '/etc/ca.pem' }), 't').auth, 'header:X-Api-Key');
    assert.equal(parseWith(Target, http({ upstream: 'http://[::1]:9000', plaintext: true }), 't').plaintext, true);
    const egress = parseWith(Target, { name: 'out', protocol: 'egress', listen, allowHosts: ['*.npmjs.org', 'github.com:443', '[::1]:8080'] }, 't');
    assert.equal(egress.upstream, undefined);
    assert.deepEqual(egress.allowHosts, ['*.npmjs.org', 'github.com:443', '[::1]:8080']);
  });
});
