import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pendingApproval } from '../helpers/ssh-proxy.js';
import { startK8sProxy, type K8sProxyHarness } from '../helpers/k8s-proxy.js';

/**
 * The Kubernetes proxy end to end: Debian's kubectl (1.32) and @kubernetes/client-node through a real
 * daemon process to the in-test fake API server (no real API server can run here; see
 * fake-kube-apiserver.ts), the daemon reading the cluster from a kubeconfig.
 */

const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } });

describe('kubernetes proxy with kubectl', () => {
  let h: K8sProxyHarness;
  before(async () => {
    h = await startK8sProxy();
    h.fake.create('pods', 'default', pod('web-1'));
    h.fake.create('pods', 'default', pod('web-2'));
  });
  after(async () => h?.stop());

  test('kubectl get pods is allowed and reaches the fake with the daemon token, never the agent token', async () => {
    const r = await h.kubectl.run(['--context', 'staging', 'get', 'pods']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /web-1/);
    assert.match(r.stdout, /web-2/);
    const seen = h.fake.requests.filter((q) => q.path === '/api/v1/namespaces/default/pods');
    assert.ok(seen.length > 0, 'the list reached the fake');
    for (const q of h.fake.requests) {
      assert.equal(q.authorization, `Bearer ${h.fake.token}`);
      assert.ok(!JSON.stringify(q.headers).includes(h.token), 'the agent token never reaches the upstream');
    }
  });
});
