import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import { pendingApproval } from '../helpers/daemon-harness.js';
import { startK8sProxy, type K8sProxyHarness } from '../helpers/k8s-proxy.js';

/**
 * The Kubernetes proxy end to end: Debian's kubectl (1.32) through a real daemon process to the
 * in-test fake API server (no real API server can run here; see fake-kube-apiserver.ts), the daemon
 * reading the cluster from a kubeconfig, the default policy (reads allowed, writes held, privileged
 * denied).
 */

const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } });

interface Status {
  kind: string;
  apiVersion: string;
  status: string;
  reason: string;
  code: number;
  message: string;
}

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

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
      assert.doesNotMatch(String(q.headers.accept ?? ''), /protobuf/, 'protobuf is never asked of the upstream');
    }
  });

  test('kubectl apply is held, then approved: the pod is created', async () => {
    const run = h.kubectl.run(['--context', 'staging', 'apply', '-f', '-'], { stdin: JSON.stringify(pod('api-1')) });
    const approval = await pendingApproval(h.daemon);
    assert.match(approval.action.summary, /create pod\/api-1 -n default/);
    assert.ok(!h.fake.requests.some((q) => q.method === 'POST' && q.path === '/api/v1/namespaces/default/pods'), 'nothing was created while held');
    const res = await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, { by: 'alice', via: 'api' });
    assert.equal(res.status, 200);
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pod\/api-1 created/);
    assert.ok(h.fake.requests.some((q) => q.method === 'POST' && q.path === '/api/v1/namespaces/default/pods'));
  });

  test('kubectl delete is held, then denied: kubectl prints the Forbidden sentence and the pod stays', async () => {
    const run = h.kubectl.run(['--context', 'staging', 'delete', 'pod', 'web-1']);
    const approval = await pendingApproval(h.daemon);
    assert.match(approval.action.summary, /delete pod\/web-1 -n default/);
    const res = await h.daemon.api('POST', `/v1/approvals/${approval.id}/deny`, { by: 'alice', reason: 'not today' });
    assert.equal(res.status, 200);
    const r = await run;
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Error from server \(Forbidden\): .*airlock/);
    assert.ok(!h.fake.requests.some((q) => q.method === 'DELETE'), 'the DELETE never reached the fake');
    const get = await h.kubectl.run(['--context', 'staging', 'get', 'pod', 'web-1']);
    assert.equal(get.code, 0, get.stderr);
  });

  test('an RBAC write is denied at once and never reaches the fake', async () => {
    const r = await h.kubectl.run(['--context', 'staging', 'create', 'clusterrolebinding', 'me-admin', '--clusterrole=cluster-admin', '--user=agent']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /airlock: rule "privileged-deny"/);
    assert.ok(!h.fake.requests.some((q) => q.path.includes('clusterrolebindings') && q.method === 'POST'));
  });

  test('impersonation (kubectl --as=admin) is denied and the fake never sees an Impersonate-* header', async () => {
    const r = await h.kubectl.run(['--context', 'staging', '--as=admin', '--as-group=system:masters', 'get', 'pods']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Forbidden/);
    const raw = await h.request('GET', '/api/v1/namespaces/default/pods', { headers: { 'Impersonate-User': 'admin' } });
    assert.equal(raw.status, 403);
    for (const q of h.fake.requests) assert.deepEqual(q.impersonation, {}, `${q.method} ${q.path} carried no impersonation`);
  });

  test('a server-side dry run delete is allowed (a read) and deletes nothing', async () => {
    const r = await h.kubectl.run(['--context', 'staging', 'delete', 'pod', 'web-2', '--dry-run=server']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /deleted \(server dry run\)/);
    const dry = h.fake.requests.filter((q) => q.method === 'DELETE');
    assert.equal(dry.length, 1);
    assert.match(dry[0]!.body, /"dryRun":\["All"\]/);
    const get = await h.kubectl.run(['--context', 'staging', 'get', 'pod', 'web-2']);
    assert.equal(get.code, 0, get.stderr);
  });

  test('no token, or a wrong one: 401 as a Kubernetes Status; kubectl says Unauthorized', async () => {
    const none = await h.request('GET', '/api/v1/pods', { token: null });
    assert.equal(none.status, 401);
    const status = JSON.parse(none.body) as Status;
    assert.deepEqual([status.kind, status.apiVersion, status.status, status.reason, status.code], ['Status', 'v1', 'Failure', 'Unauthorized', 401]);
    const wrong = await h.request('GET', '/api/v1/pods', { token: 'not-a-session-token' });
    assert.equal(wrong.status, 401);
    const before = h.fake.requests.length;
    const r = await h.kubectl.run(['--context', 'staging', '--token', 'agt_forged', 'get', 'pods']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Unauthorized|must be logged in/);
    assert.equal(h.fake.requests.length, before, 'nothing reached the fake');
  });

  test('kubectl get --watch streams events as they happen', async () => {
    const stream = h.kubectl.stream(['--context', 'staging', 'get', 'pods', '--watch', '--output-watch-events']);
    await stream.waitFor(/web-2/);
    h.fake.create('pods', 'default', pod('late-1'));
    await stream.waitFor(/ADDED\s+late-1/);
    stream.child.kill('SIGTERM');
  });

  test('kubectl exec through the daemon: held, approved, output relayed; the SPDY fallback is refused with a message', async () => {
    const run = h.kubectl.run(['--context', 'staging', 'exec', 'web-2', '--', 'echo', 'through-airlock']);
    const approval = await pendingApproval(h.daemon);
    assert.match(approval.action.summary, /exec pod\/web-2/);
    assert.equal(h.fake.execs.length, 0, 'nothing ran while held');
    assert.equal((await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, { by: 'alice', via: 'api' })).status, 200);
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /through-airlock/);
    assert.deepEqual(h.fake.execs[0]?.command, ['echo', 'through-airlock']);
    const spdy = await h.kubectl.run(['--context', 'staging', 'exec', 'web-2', '--', 'echo', 'old'], { env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' } });
    assert.notEqual(spdy.code, 0);
    assert.match(spdy.stderr, /SPDY/i);
    assert.ok(!h.fake.requests.some((q) => q.upgrade !== undefined && /spdy/i.test(q.upgrade)), 'no SPDY upgrade reached the fake');
  });

  test('kubectl logs -f streams lines as they are written', async () => {
    h.fake.setLog('default', 'web-2', ['first line']);
    const stream = h.kubectl.stream(['--context', 'staging', 'logs', '-f', 'web-2']);
    await stream.waitFor(/first line/);
    h.fake.appendLog('default', 'web-2', 'second line');
    await stream.waitFor(/second line/);
    stream.child.kill('SIGTERM');
  });
});

describe('kubernetes proxy: bad input', () => {
  let h: K8sProxyHarness;
  before(async () => {
    h = await startK8sProxy({ limits: { maxConnections: 1000, maxConnectionsPerSession: 1000 } });
    h.fake.create('pods', 'default', pod('web-1'));
  });
  after(async () => h?.stop());

  test('paths the API server could read differently are refused with a Status before policy', async () => {
    for (const bad of ['/api/v1/namespaces/default/pods/../secrets', '/api/v1//namespaces/default/pods', '/api/v1/namespaces/default%2Fpods', '/api/v1/namespaces/default/pods/%2e%2e/x']) {
      const before = h.fake.requests.length;
      const r = await h.request('GET', bad);
      assert.ok(r.status === 400 || r.status === 404, `${bad}: ${r.status}`);
      assert.equal((JSON.parse(r.body) as Status).kind, 'Status');
      assert.equal(h.fake.requests.length, before, `${bad} never reached the fake`);
    }
  });

  test('a 100 MB apply body is refused 413 without being read', async () => {
    const declared = 100 * 1024 * 1024;
    const result = await new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
      let sent = 0;
      const req = https.request(
        { host: '127.0.0.1', port: h.port, method: 'POST', path: '/api/v1/namespaces/default/configmaps', ca: h.daemonCaPem, headers: { authorization: `Bearer ${h.token}`, 'content-type': 'application/json', 'content-length': String(declared) } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sent }));
        },
      );
      req.on('error', () => undefined);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (sent < declared) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
      setTimeout(() => reject(new Error('no answer')), 20_000).unref();
    });
    assert.equal(result.status, 413);
    const status = JSON.parse(result.body) as Status;
    assert.equal(status.reason, 'RequestEntityTooLarge');
    assert.match(status.message, /limits\.maxMessageBytes/);
    assert.ok(result.sent < declared, `the daemon answered before reading it all (${result.sent} of ${declared} bytes written)`);
    assert.ok(!h.fake.requests.some((q) => q.path.endsWith('/configmaps') && q.method === 'POST'));
  });

  test('a watch client that never reads does not grow the daemon, and 500 concurrent watches leave another client served', async () => {
    const agents: https.Agent[] = [];
    const requests: ReturnType<typeof https.request>[] = [];
    const open = (): Promise<void> =>
      new Promise((resolve, reject) => {
        const agent = new https.Agent({ keepAlive: false, maxSockets: 1 });
        agents.push(agent);
        const req = https.request({ host: '127.0.0.1', port: h.port, path: '/api/v1/namespaces/default/pods?watch=true', ca: h.daemonCaPem, agent, headers: { authorization: `Bearer ${h.token}` } }, (res) => {
          res.pause(); // never read
          resolve();
        });
        req.on('error', reject);
        requests.push(req);
        req.end();
      });
    for (let i = 0; i < 500; i += 50) await Promise.all(Array.from({ length: 50 }, open));
    await until(() => (h.fake.openStreams() >= 500 ? true : undefined), '500 watches upstream');
    // a burst of events every watch gets, none of them read
    for (let i = 0; i < 200; i++) h.fake.create('configmaps', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `burst-${i}` }, data: { v: 'x'.repeat(2000) } });
    for (let i = 0; i < 50; i++) h.fake.create('pods', 'default', pod(`burst-pod-${i}`));
    const other = await h.newSession('other');
    const r = await h.request('GET', '/api/v1/namespaces/default/pods', { token: other.token });
    assert.equal(r.status, 200);
    assert.match(r.body, /burst-pod-49/);
    for (const req of requests) req.destroy();
    for (const agent of agents) agent.destroy();
    await until(() => (h.fake.openStreams() === 0 ? true : undefined), 'the upstream watches to close once the agents went');
  });
});
