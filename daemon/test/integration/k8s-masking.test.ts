import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startK8sProxy, type K8sProxyHarness } from '../helpers/k8s-proxy.js';

/**
 * Secret masking end to end: Debian's kubectl (1.32) through a real daemon process to the in-test
 * fake API server (no real API server can run here; see fake-kube-apiserver.ts). kubectl renders
 * YAML and tables itself from the JSON the proxy masked: the keys of a Secret show, its values
 * never do, and typed decoding (kubectl describe) still works.
 */

const PASSWORD = 'hunter2-correct-horse';
const API_KEY = 'sk-live-0123456789abcdefXYZ';
const b64 = (text: string) => Buffer.from(text).toString('base64');
const MARKER_B64 = Buffer.from('[REDACTED]').toString('base64');

function assertNoSecret(text: string, what: string): void {
  for (const form of [PASSWORD, b64(PASSWORD), API_KEY, b64(API_KEY)]) assert.ok(!text.includes(form), `${what}: ${form} leaked`);
}

const secret = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: {
    name,
    annotations: {
      'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ apiVersion: 'v1', data: { password: b64(PASSWORD) }, kind: 'Secret', metadata: { name, namespace: 'default' }, type: 'Opaque' }) + '\n',
    },
  },
  data: { password: b64(PASSWORD), 'api-key': b64(API_KEY) },
  type: 'Opaque',
});

describe('kubernetes proxy: Secrets masked for kubectl', () => {
  let h: K8sProxyHarness;
  before(async () => {
    h = await startK8sProxy();
    h.fake.create('secrets', 'default', secret('db'));
    h.fake.create('configmaps', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { mode: 'fast', contact: 'alice.smith@example.com' } });
  });
  after(async () => h?.stop());

  test('kubectl get secret -o yaml: the keys show, the values are the marker, the last-applied annotation too', async () => {
    const r = await h.kubectl.run(['--context', 'staging', 'get', 'secret', 'db', '-o', 'yaml']);
    assert.equal(r.code, 0, r.stderr);
    assertNoSecret(r.stdout, 'get -o yaml');
    assert.match(r.stdout, new RegExp(`password: ${MARKER_B64}`));
    assert.match(r.stdout, new RegExp(`api-key: ${MARKER_B64}`));
    assert.match(r.stdout, /last-applied-configuration/);
    assert.match(r.stdout, /name: db/);
  });

  test('jsonpath on a value decodes to the marker', async () => {
    const r = await h.kubectl.run(['--context', 'staging', 'get', 'secret', 'db', '-o', 'jsonpath={.data.password}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(Buffer.from(r.stdout.trim(), 'base64').toString(), '[REDACTED]');
  });

  test('kubectl get secrets (a Table) and -o json (a SecretList)', async () => {
    const table = await h.kubectl.run(['--context', 'staging', 'get', 'secrets']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /db\s+Opaque\s+2/);
    const list = await h.kubectl.run(['--context', 'staging', 'get', 'secrets', '-o', 'json']);
    assert.equal(list.code, 0, list.stderr);
    assertNoSecret(list.stdout, 'get -o json');
    const parsed = JSON.parse(list.stdout) as { items: Array<{ data: Record<string, string> }> };
    assert.deepEqual(Object.keys(parsed.items[0]!.data).sort(), ['api-key', 'password']);
  });

  test('kubectl describe secret decodes the masked values (typed client): sizes of the marker, no values', async () => {
    const r = await h.kubectl.run(['--context', 'staging', 'describe', 'secret', 'db']);
    assert.equal(r.code, 0, r.stderr);
    assertNoSecret(r.stdout, 'describe');
    assert.match(r.stdout, /password:\s+10 bytes/);
  });

  test('kubectl get secrets --watch -o json: a Secret created later arrives masked', async () => {
    const stream = h.kubectl.stream(['--context', 'staging', 'get', 'secrets', '--watch', '-o', 'json']);
    await stream.waitFor(/"db"/);
    h.fake.create('secrets', 'default', secret('late'));
    const out = await stream.waitFor(/"late"[\s\S]*"type": "Opaque"/);
    stream.child.kill('SIGTERM');
    assertNoSecret(out, 'watch');
  });

  test('a ConfigMap: values kept, an email masked by the detectors', async () => {
    const r = await h.kubectl.run(['--context', 'staging', 'get', 'configmap', 'settings', '-o', 'yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /mode: fast/);
    assert.ok(!r.stdout.includes('alice.smith@example.com'));
  });

  test('nothing of the values reaches the records, the denied dry-run create of a Secret included', async () => {
    const r = await h.kubectl.run(['--context', 'staging', 'create', 'secret', 'generic', 'new', `--from-literal=password=${PASSWORD}`, '--dry-run=server', '-o', 'yaml']);
    assert.notEqual(r.code, 0, 'a Secret write is privileged: denied by the default policy');
    const records = JSON.stringify(await h.records());
    assert.match(records, /secrets/);
    assertNoSecret(records, 'records');
  });
});
