import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { LocalConfig, Target } from '@airlock/shared';
import { compareConfigs } from '../../src/policy/loosening.js';
import { listenerServer, renderKubeconfig } from '../../src/sessions/kubeconfig.js';
import { upstreamAccept } from '../../src/proxies/kubernetes/exchange.js';
import { asK8sStatus, k8sPolicyRefusal, k8sStatus } from '../../src/proxies/kubernetes/status.js';
import { parseRequestInfo, type K8sRequestInfo } from '../../src/classify/k8s/index.js';

/** The Kubernetes target's settings, its staging judgment, the kubeconfig it writes and its Status answers (pure parts). */

const listen = { host: '127.0.0.1', port: 16443 };

describe('kubernetes target config', () => {
  const cases: Array<{ name: string; target: Record<string, unknown>; error?: RegExp }> = [
    { name: 'a kubeconfig', target: { kubeconfig: '/etc/airlock/cluster.kubeconfig' } },
    { name: 'a kubeconfig and a context', target: { kubeconfig: '/k', context: 'prod' } },
    { name: 'an upstream with a token variable and a CA file', target: { upstream: 'https://k8s.internal:6443', credential: { env: 'TOKEN' }, caFile: '/ca.crt' } },
    { name: 'both a kubeconfig and an upstream', target: { kubeconfig: '/k', upstream: 'https://k8s.internal:6443', credential: { env: 'T' } }, error: /either a kubeconfig .* or an upstream URL/ },
    { name: 'a kubeconfig and a credential', target: { kubeconfig: '/k', credential: { file: '/t' } }, error: /not both/ },
    { name: 'a context without a kubeconfig', target: { upstream: 'https://k:6443', credential: { env: 'T' }, context: 'x' }, error: /set kubeconfig/ },
    { name: 'an upstream without a token', target: { upstream: 'https://k:6443' }, error: /needs a token/ },
    { name: 'neither', target: {}, error: /needs a kubeconfig/ },
    { name: 'a plain http:// upstream', target: { upstream: 'http://127.0.0.1:8080', credential: { env: 'T' } }, error: /https:\/\// },
    { name: 'an ssh agent socket as credential', target: { upstream: 'https://k:6443', credential: { agentSocket: '/s' } }, error: /bearer token|agentSocket/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const parsed = Target.safeParse({ name: 'staging', protocol: 'kubernetes', listen, ...c.target });
      if (!c.error) return assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
      assert.ok(!parsed.success, 'refused');
      assert.match(parsed.error.issues.map((i) => i.message).join(' | '), c.error);
    });
  }
  test('kubeconfig and context belong to kubernetes targets only', () => {
    const parsed = Target.safeParse({ name: 'db', protocol: 'postgres', upstream: 'postgres://a@db/app', listen, kubeconfig: '/k' });
    assert.ok(!parsed.success);
    assert.match(parsed.error.issues[0]!.message, /kubernetes targets only/);
  });
});

describe('kubernetes target staging', () => {
  const config = (target: Record<string, unknown>): LocalConfig => LocalConfig.parse(YAML.parse(`targets: [${JSON.stringify({ name: 'staging', protocol: 'kubernetes', listen, ...target })}]`));
  test('another kubeconfig or context is loosening: another cluster or identity', () => {
    const before = config({ kubeconfig: '/a', context: 'dev' });
    for (const next of [config({ kubeconfig: '/b', context: 'dev' }), config({ kubeconfig: '/a', context: 'prod' }), config({ kubeconfig: '/a' })]) {
      const diffs = compareConfigs(before, next);
      assert.ok(diffs.length > 0 && diffs.every((d) => d.direction === 'loosening'), JSON.stringify(diffs));
      assert.match(diffs.map((d) => d.text).join(' '), /kubeconfig/);
    }
    assert.deepEqual(compareConfigs(before, config({ kubeconfig: '/a', context: 'dev' })), []);
  });
  test('from a kubeconfig to an upstream URL is loosening', () => {
    const diffs = compareConfigs(config({ kubeconfig: '/a' }), config({ upstream: 'https://k:6443', credential: { env: 'T' } }));
    assert.ok(diffs.some((d) => d.direction === 'loosening' && /upstream changed from kubeconfig \/a/.test(d.text)), JSON.stringify(diffs));
  });
});

describe('airlock kubeconfig rendering', () => {
  test('one cluster and context per target, the CA as data, the session token as the user', () => {
    const text = renderKubeconfig({ session: { id: 'ses_1', name: 'agent\nname' }, token: 'agt_secret', caPem: '-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n', clusters: [{ name: 'staging', server: 'https://127.0.0.1:16443' }, { name: 'prod', server: 'https://[::1]:16444' }] });
    assert.match(text.split('\n')[0]!, /^# Written by "airlock kubeconfig" for agent session ses_1 "agent name"\.$/);
    const doc = YAML.parse(text) as { clusters: Array<{ name: string; cluster: Record<string, string> }>; contexts: Array<{ name: string; context: { cluster: string; user: string } }>; users: Array<{ user: { token: string } }>; 'current-context': string };
    assert.deepEqual(doc.clusters.map((c) => c.name), ['staging', 'prod']);
    assert.equal(Buffer.from(doc.clusters[0]!.cluster['certificate-authority-data']!, 'base64').toString(), '-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n');
    assert.equal(doc.clusters[0]!.cluster['insecure-skip-tls-verify'], undefined);
    assert.deepEqual(doc.contexts.map((c) => c.context.cluster), ['staging', 'prod']);
    assert.equal(doc.users[0]!.user.token, 'agt_secret');
    assert.equal(doc['current-context'], 'staging');
  });
  test('the listener address an agent dials', () => {
    const t = { name: 's', protocol: 'kubernetes', listen } as never;
    assert.equal(listenerServer({ target: t, address: '127.0.0.1:16443' }), 'https://127.0.0.1:16443');
    assert.equal(listenerServer({ target: t, address: '0.0.0.0:16443' }), 'https://127.0.0.1:16443');
    assert.equal(listenerServer({ target: t, address: '[::]:16443' }), 'https://[::1]:16443');
    assert.equal(listenerServer({ target: t }), undefined);
  });
});

describe('kubernetes answers and headers', () => {
  const info = (path: string): K8sRequestInfo => parseRequestInfo({ method: 'GET', path, query: [] }) as K8sRequestInfo;
  test('Accept: JSON kept (Table form too), protobuf dropped, JSON when nothing is left; logs as text', () => {
    const pods = info('/api/v1/namespaces/default/pods');
    assert.equal(upstreamAccept('application/vnd.kubernetes.protobuf, application/json', pods), 'application/json');
    assert.equal(upstreamAccept('application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json', pods), 'application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json');
    assert.equal(upstreamAccept('application/vnd.kubernetes.protobuf;as=Table', pods), 'application/json');
    assert.equal(upstreamAccept('application/cbor', pods), 'application/json');
    assert.equal(upstreamAccept(undefined, pods), 'application/json');
    assert.equal(upstreamAccept('application/json-seq', pods), 'application/json');
    assert.equal(upstreamAccept('application/vnd.kubernetes.protobuf', info('/api/v1/namespaces/default/pods/web/log')), 'text/plain, */*');
  });
  test('refusals are Status objects kubectl prints as "Error from server (Forbidden)"', () => {
    const refusal = k8sPolicyRefusal({ allowed: false, decision: 'deny', ruleId: 'privileged-deny', reason: 'rule "privileged-deny": no', actionId: 'act_1' } as never);
    assert.equal(refusal.status, 403);
    const body = JSON.parse(refusal.body as string) as Record<string, unknown>;
    assert.deepEqual([body.kind, body.apiVersion, body.status, body.reason, body.code], ['Status', 'v1', 'Failure', 'Forbidden', 403]);
    assert.match(String(body.message), /^airlock: rule "privileged-deny": no \(action act_1\)$/);
    const unauthorized = asK8sStatus({ status: 401, headers: { 'www-authenticate': 'Basic' }, body: JSON.stringify({ error: 'airlock_auth', reason: 'no token' }) });
    assert.equal(unauthorized.headers['www-authenticate'], undefined, 'no Basic challenge: kubectl would prompt');
    assert.deepEqual(JSON.parse(unauthorized.body as string), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'airlock: no token', reason: 'Unauthorized', code: 401 });
    const upstream = asK8sStatus({ status: 502, headers: {}, body: JSON.stringify({ reason: 'down' }) });
    assert.equal(upstream.status, 503);
    assert.equal((JSON.parse(upstream.body as string) as { reason: string }).reason, 'ServiceUnavailable');
    assert.equal(k8sStatus(413, 'RequestEntityTooLarge', 'x').status, 413);
  });
});
