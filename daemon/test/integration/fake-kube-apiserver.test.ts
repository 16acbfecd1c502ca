import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, Watch, setHeaderOptions, type V1ConfigMap } from '@kubernetes/client-node';
import YAML from 'yaml';
import WebSocket from 'ws';
import { startFakeKubeApiServer, fakeServiceAccountTokenPrefix, type FakeKubeApiServer } from '../helpers/fake-kube-apiserver.js';
import { fakePodEnvironment } from '../helpers/fake-kube-exec.js';
import { kubeconfigText, kubectlFor, writeKubeconfig, type Kubectl } from '../helpers/kubectl.js';
import { makeTestCa, type TestCa } from '../helpers/test-ca.js';
import { clientNodeExec } from '../helpers/client-node-exec.js';

/**
 * The fake Kubernetes API server (test/helpers/fake-kube-apiserver.ts) against real clients, with no
 * proxy in between. No Kubernetes API server can run on these machines, so the Kubernetes proxy's
 * tests use this fake, which speaks the real wire format; these tests show it is faithful enough that
 * Debian's kubectl 1.32 and @kubernetes/client-node 1.x work against it unchanged: discovery, get (as
 * a Table and as YAML), apply (client- and server-side), delete (also as a server dry run), logs -f,
 * exec over WebSocket, watch; and the exact Status objects errors are made of.
 */

const pod = (name: string, labels: Record<string, string> = { app: 'web' }) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels },
  spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] },
});

const deploymentYaml = (replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels: {app: api}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: nginx:1.27
`;

describe('the fake Kubernetes API server, driven directly by kubectl and client-node', () => {
  let ca: TestCa;
  let fake: FakeKubeApiServer;
  let dir: string;
  let kubeconfig: string;

  let kubectlTool: Kubectl;
  const kubectl: Kubectl['run'] = (args, options) => kubectlTool.run(args, options);
  const kubectlStream: Kubectl['stream'] = (args) => kubectlTool.stream(args);

  /** A raw HTTPS request to the fake (status, content type and parsed JSON body). */
  const raw = (method: string, urlPath: string, options: { body?: string; headers?: Record<string, string>; token?: string | null } = {}): Promise<{ status: number; contentType: string; body: Record<string, unknown> | string }> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token !== null) headers.Authorization = `Bearer ${options.token ?? fake.token}`;
      // Node sends a DELETE body unframed unless told its length
      if (options.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(options.body));
      const req = https.request({ host: '127.0.0.1', port: fake.port, method, path: urlPath, ca: ca.certPem, headers, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          const contentType = String(res.headers['content-type'] ?? '');
          resolve({ status: res.statusCode ?? 0, contentType, body: contentType.startsWith('application/json') && text !== '' && !text.includes('}\n{') ? (JSON.parse(text) as Record<string, unknown>) : text });
        });
      });
      req.on('error', reject);
      req.end(options.body);
    });

  const clientConfig = () => {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfig);
    return kc;
  };

  before(async () => {
    ca = await makeTestCa();
    fake = await startFakeKubeApiServer({ tls: await ca.leaf() });
    for (const name of ['web-0', 'web-1', 'doomed', 'dry-target', 'exec-target']) fake.create('pods', 'default', pod(name));
    fake.create('pods', 'kube-system', pod('coredns-1', { app: 'dns' }));
    fake.create('secrets', 'default', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { password: Buffer.from('hunter2').toString('base64'), user: Buffer.from('app').toString('base64') } });
    fake.create('configmaps', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { mode: 'fast' } });
    fake.create('serviceaccounts', 'default', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'deployer' } });
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-fake-kube-'));
    const options = { server: fake.url, caPem: ca.certPem, token: fake.token };
    kubeconfig = kubeconfigText(options);
    kubectlTool = kubectlFor(writeKubeconfig(dir, options), dir);
  });

  after(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('kubectl get pods, -o yaml, get secret -o yaml: discovery, Table and plain JSON', { timeout: 60_000 }, async () => {
    const [table, yamlList, secret, allNamespaces, everything, described] = await Promise.all([
      kubectl(['get', 'pods']),
      kubectl(['get', 'pods', '-o', 'yaml']),
      kubectl(['get', 'secret', 's', '-o', 'yaml']),
      kubectl(['get', 'pods', '-A', '-l', 'app=dns']),
      kubectl(['get', 'all']),
      kubectl(['describe', 'pod', 'web-0']),
    ]);
    assert.equal(everything.code, 0, everything.stderr);
    assert.match(everything.stdout, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n(?:.*\n)*pod\/web-0\s/, 'kubectl get all finds pods by their "all" category');
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /^Name:\s+web-0\nNamespace:\s+default\n/);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
    assert.match(table.stdout, /\nweb-0\s+1\/1\s+Running\s+0\s+\d+s\n/);
    assert.doesNotMatch(table.stdout, /coredns/, 'another namespace is not listed');

    assert.equal(yamlList.code, 0, yamlList.stderr);
    const list = YAML.parse(yamlList.stdout) as { kind: string; items: { kind: string; metadata: { name: string; uid: string; resourceVersion: string; creationTimestamp: string } }[] };
    assert.equal(list.kind, 'List');
    const web0 = list.items.find((i) => i.metadata.name === 'web-0');
    assert.equal(web0?.kind, 'Pod');
    assert.match(web0?.metadata.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.match(web0?.metadata.resourceVersion ?? '', /^\d+$/);
    assert.match(web0?.metadata.creationTimestamp ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    assert.equal(secret.code, 0, secret.stderr);
    const parsedSecret = YAML.parse(secret.stdout) as { kind: string; type: string; data: Record<string, string> };
    assert.equal(parsedSecret.kind, 'Secret');
    assert.equal(parsedSecret.type, 'Opaque');
    assert.equal(Buffer.from(parsedSecret.data.password ?? '', 'base64').toString(), 'hunter2');

    assert.equal(allNamespaces.code, 0, allNamespaces.stderr);
    assert.match(allNamespaces.stdout, /^NAMESPACE\s+NAME\s+READY/);
    assert.match(allNamespaces.stdout, /\nkube-system\s+coredns-1\s/);
    assert.doesNotMatch(allNamespaces.stdout, /web-0/, 'the label selector was applied');

    // what kubectl asked for: discovery (aggregated first, answered with the plain form), then a Table
    const api = fake.requests.find((r) => r.path === '/api');
    assert.match(String(api?.headers.accept), /g=apidiscovery\.k8s\.io;v=v2;as=APIGroupDiscoveryList/);
    for (const p of ['/apis', '/api/v1', '/apis/apps/v1']) assert.ok(fake.requests.some((r) => r.path === p), `kubectl fetched ${p}`);
    const listRequest = fake.requests.find((r) => r.path === '/api/v1/namespaces/default/pods' && r.method === 'GET' && /as=Table/.test(String(r.headers.accept)));
    assert.deepEqual(listRequest?.query.limit, ['500']);
    assert.equal(listRequest?.authorization, `Bearer ${fake.token}`);
    assert.ok(fake.requests.some((r) => r.path === '/api/v1/pods' && r.query.labelSelector?.[0] === 'app=dns'), 'kubectl get -A lists across namespaces');
  });

  test('kubectl apply -f: created, then configured by a strategic merge patch, then server-side applied', { timeout: 60_000 }, async () => {
    const file = path.join(dir, 'deployment.yaml');
    writeFileSync(file, deploymentYaml(2));
    const created = await kubectl(['apply', '-f', file]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout.trim(), 'deployment.apps/api created');
    const stored = fake.store.get(fake.store.resource('apps', 'deployments'), 'default', 'api');
    assert.equal((stored.spec as { replicas: number }).replicas, 2);
    assert.match(stored.metadata?.annotations?.['kubectl.kubernetes.io/last-applied-configuration'] ?? '', /"replicas":2/);

    writeFileSync(file, deploymentYaml(3));
    const configured = await kubectl(['apply', '-f', file]);
    assert.equal(configured.code, 0, configured.stderr);
    assert.equal(configured.stdout.trim(), 'deployment.apps/api configured');
    const patch = fake.requests.filter((r) => r.method === 'PATCH' && r.path === '/apis/apps/v1/namespaces/default/deployments/api').at(-1);
    assert.equal(patch?.headers['content-type'], 'application/strategic-merge-patch+json');
    assert.deepEqual(patch?.query.fieldValidation, ['Strict'], 'kubectl found fieldValidation in the OpenAPI v3 document and left validation to the server');
    assert.equal((fake.store.get(fake.store.resource('apps', 'deployments'), 'default', 'api').spec as { replicas: number }).replicas, 3);
    assert.equal(fake.store.get(fake.store.resource('apps', 'deployments'), 'default', 'api').metadata?.generation, 2);

    writeFileSync(file, deploymentYaml(4));
    const serverSide = await kubectl(['apply', '--server-side', '-f', file]);
    assert.equal(serverSide.code, 0, serverSide.stderr);
    assert.equal(serverSide.stdout.trim(), 'deployment.apps/api serverside-applied');
    const apply = fake.requests.find((r) => r.method === 'PATCH' && r.headers['content-type'] === 'application/apply-patch+yaml');
    assert.deepEqual(apply?.query.fieldManager, ['kubectl']);
    assert.equal((fake.store.get(fake.store.resource('apps', 'deployments'), 'default', 'api').spec as { replicas: number }).replicas, 4);

    const get = await kubectl(['get', 'deployment', 'api']);
    assert.match(get.stdout, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\napi\s+4\/4\s+4\s+4\s/);

    const [scaled, restarted] = await Promise.all([kubectl(['scale', 'deployment', 'api', '--replicas=5']), kubectl(['rollout', 'restart', 'deployment', 'api-missing'])]);
    assert.equal(scaled.code, 0, scaled.stderr);
    assert.equal(scaled.stdout.trim(), 'deployment.apps/api scaled');
    assert.ok(fake.requests.some((r) => r.method === 'PATCH' && r.path === '/apis/apps/v1/namespaces/default/deployments/api/scale'), 'kubectl scale patches the scale subresource');
    assert.equal((fake.store.get(fake.store.resource('apps', 'deployments'), 'default', 'api').spec as { replicas: number }).replicas, 5);
    assert.equal(restarted.code, 1);
    assert.match(restarted.stderr, /deployments\.apps "api-missing" not found/);
    const restart = await kubectl(['rollout', 'restart', 'deployment', 'api']);
    assert.equal(restart.code, 0, restart.stderr);
    assert.equal(restart.stdout.trim(), 'deployment.apps/api restarted');
    const template = (fake.store.get(fake.store.resource('apps', 'deployments'), 'default', 'api').spec as { template: { metadata: { annotations?: Record<string, string> } } }).template;
    assert.ok(template.metadata.annotations?.['kubectl.kubernetes.io/restartedAt'], 'a rollout restart is a patch of the pod template');
  });

  test('kubectl apply of a Secret with stringData: kept as base64 data, and the plain values in the last-applied annotation', { timeout: 30_000 }, async () => {
    const file = path.join(dir, 'secret.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: applied-secret\nstringData:\n  token: plain-s3cret-value\n');
    const applied = await kubectl(['apply', '-f', file]);
    assert.equal(applied.code, 0, applied.stderr);
    const shown = await kubectl(['get', 'secret', 'applied-secret', '-o', 'yaml']);
    const secret = YAML.parse(shown.stdout) as { data: Record<string, string>; stringData?: unknown; metadata: { annotations: Record<string, string> } };
    assert.deepEqual(secret.data, { token: Buffer.from('plain-s3cret-value').toString('base64') });
    assert.equal(secret.stringData, undefined);
    assert.match(secret.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'] ?? '', /"stringData":\{"token":"plain-s3cret-value"\}/, 'the annotation leak a proxy must mask');
  });

  test('kubectl delete pod: a server dry run changes nothing, a real delete removes it', { timeout: 60_000 }, async () => {
    const dry = await kubectl(['delete', 'pod', 'dry-target', '--dry-run=server']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dry.stdout.trim(), 'pod "dry-target" deleted (server dry run)');
    const dryRequest = fake.requests.find((r) => r.method === 'DELETE' && r.path.endsWith('/pods/dry-target'));
    assert.deepEqual((JSON.parse(dryRequest?.body ?? '{}') as { dryRun?: string[] }).dryRun, ['All'], 'kubectl 1.32 puts dryRun in the DeleteOptions body');
    assert.deepEqual(dryRequest?.query, {}, 'and not on the URL');
    assert.equal(fake.store.get(fake.store.resource('', 'pods'), 'default', 'dry-target').metadata?.name, 'dry-target');

    const real = await kubectl(['delete', 'pod', 'doomed']);
    assert.equal(real.code, 0, real.stderr);
    assert.equal(real.stdout.trim(), 'pod "doomed" deleted');
    assert.throws(() => fake.store.get(fake.store.resource('', 'pods'), 'default', 'doomed'), /pods "doomed" not found/);

    const missing = await kubectl(['delete', 'pod', 'doomed']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim(), 'Error from server (NotFound): pods "doomed" not found');
  });

  test('kubectl logs -f prints the log, then lines as they are added, until stopped', { timeout: 30_000 }, async () => {
    fake.setLog('default', 'web-1', ['booting', 'serving on :8080']);
    const logs = kubectlStream(['logs', '-f', 'web-1']);
    try {
      assert.equal(await logs.waitFor(/serving on :8080\n/), 'booting\nserving on :8080\n');
      fake.appendLog('default', 'web-1', 'GET /healthz 200');
      assert.equal(await logs.waitFor(/healthz/), 'booting\nserving on :8080\nGET /healthz 200\n');
      assert.equal(fake.openStreams() >= 1, true, 'the follow stream stays open');
    } finally {
      logs.child.kill('SIGTERM');
    }
    const request = fake.requests.find((r) => r.path === '/api/v1/namespaces/default/pods/web-1/log');
    assert.deepEqual(request?.query.follow, ['true']);
  });

  test('kubectl get pods --watch prints the list, then a pod created later', { timeout: 30_000 }, async () => {
    const watch = kubectlStream(['get', 'pods', '--watch']);
    try {
      await watch.waitFor(/\nweb-0\s+1\/1\s+Running/);
      fake.create('pods', 'default', pod('late-arrival'));
      await watch.waitFor(/\nlate-arrival\s+1\/1\s+Running/);
    } finally {
      watch.child.kill('SIGTERM');
    }
    const watchRequest = fake.requests.find((r) => r.path === '/api/v1/namespaces/default/pods' && r.query.watch?.[0] === 'true');
    assert.match(String(watchRequest?.headers.accept), /as=Table/, 'kubectl watches with Table rows');
    assert.match(watchRequest?.query.resourceVersion?.[0] ?? '', /^\d+$/, 'from the version the list returned');
  });

  test('kubectl exec over WebSocket: output, stdin, exit codes; SPDY refused and recorded', { timeout: 60_000 }, async () => {
    const [echo, exit3, cat, env, missing] = await Promise.all([
      kubectl(['exec', 'exec-target', '--', 'echo', 'hi', 'there']),
      kubectl(['exec', 'exec-target', '--', 'sh', '-c', 'exit 3']),
      kubectl(['exec', '-i', 'exec-target', '--', 'cat'], { stdin: 'line one\nline two\n' }),
      kubectl(['exec', 'exec-target', '--', 'printenv']),
      kubectl(['exec', 'exec-target', '--', 'no-such-tool']),
    ]);
    assert.equal(echo.code, 0, echo.stderr);
    assert.equal(echo.stdout, 'hi there\n');
    assert.equal(exit3.code, 3);
    assert.equal(exit3.stderr.trim(), 'command terminated with exit code 3');
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'line one\nline two\n');
    assert.equal(env.code, 0, env.stderr);
    assert.match(env.stdout, new RegExp(`AWS_SECRET_ACCESS_KEY=${fakePodEnvironment.AWS_SECRET_ACCESS_KEY!.replace(/[/+]/g, '\\$&')}\n`));
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /no-such-tool: not found/);

    const echoExec = fake.execs.find((e) => e.command.join(' ') === 'echo hi there');
    assert.equal(echoExec?.protocol, 'v5.channel.k8s.io');
    assert.equal(echoExec?.exitCode, 0);
    const catExec = fake.execs.find((e) => e.command[0] === 'cat');
    assert.equal(catExec?.stdin.toString(), 'line one\nline two\n');
    assert.equal(catExec?.stdinClosed, true, 'kubectl closed stdin with a v5 close message');
    const upgrade = fake.requests.find((r) => r.path.endsWith('/pods/exec-target/exec') && r.upgrade === 'websocket');
    assert.equal(upgrade?.method, 'GET');
    assert.match(String(upgrade?.headers['sec-websocket-protocol']), /v5\.channel\.k8s\.io/);

    const spdy = await kubectl(['exec', 'exec-target', '--', 'echo', 'old'], { env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' } });
    assert.notEqual(spdy.code, 0);
    assert.equal(spdy.stdout, '');
    const spdyRequest = fake.requests.find((r) => r.upgrade === 'spdy/3.1');
    assert.equal(spdyRequest?.method, 'POST');
    assert.equal(spdyRequest?.path, '/api/v1/namespaces/default/pods/exec-target/exec');
  });

  test('client-node: CRUD on configmaps with the real errors, list with continue, deployments', { timeout: 30_000 }, async () => {
    const core = clientConfig().makeApiClient(CoreV1Api);
    const created = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'cn', labels: { from: 'client-node' } }, data: { a: '1' } } });
    assert.match(created.metadata?.uid ?? '', /^[0-9a-f-]{36}$/);
    const read = await core.readNamespacedConfigMap({ name: 'cn', namespace: 'default' });
    assert.deepEqual(read.data, { a: '1' });

    await assert.rejects(core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'cn' } } }), (err: { code: number; body: string }) => {
      assert.equal(err.code, 409);
      assert.deepEqual(JSON.parse(err.body), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'configmaps "cn" already exists', reason: 'AlreadyExists', details: { name: 'cn', kind: 'configmaps' }, code: 409 });
      return true;
    });

    const replaced = await core.replaceNamespacedConfigMap({ name: 'cn', namespace: 'default', body: { ...read, data: { a: '2' } } as V1ConfigMap });
    assert.ok(Number(replaced.metadata?.resourceVersion) > Number(read.metadata?.resourceVersion));
    await assert.rejects(core.replaceNamespacedConfigMap({ name: 'cn', namespace: 'default', body: { ...read, data: { a: 'stale' } } as V1ConfigMap }), { code: 409 });

    const jsonPatched = await core.patchNamespacedConfigMap({ name: 'cn', namespace: 'default', body: [{ op: 'replace', path: '/data/a', value: '3' }] });
    assert.deepEqual(jsonPatched.data, { a: '3' });
    const merged = await core.patchNamespacedConfigMap({ name: 'cn', namespace: 'default', body: { data: { b: 'x' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    assert.deepEqual(merged.data, { a: '3', b: 'x' });

    const page1 = await core.listNamespacedPod({ namespace: 'default', limit: 2 });
    assert.equal(page1.items.length, 2);
    assert.ok(page1.metadata?._continue);
    const page2 = await core.listNamespacedPod({ namespace: 'default', limit: 2, _continue: page1.metadata?._continue });
    assert.notDeepEqual(page2.items.map((p) => p.metadata?.name), page1.items.map((p) => p.metadata?.name));

    const dryDeleted = await core.deleteNamespacedConfigMap({ name: 'cn', namespace: 'default', dryRun: 'All' });
    assert.ok(dryDeleted);
    assert.equal((await core.readNamespacedConfigMap({ name: 'cn', namespace: 'default' })).data?.b, 'x', 'a dry-run delete keeps the object');
    await core.deleteNamespacedConfigMap({ name: 'cn', namespace: 'default' });
    await assert.rejects(core.readNamespacedConfigMap({ name: 'cn', namespace: 'default' }), { code: 404 });

    const apps = clientConfig().makeApiClient(AppsV1Api);
    const deployments = await apps.listNamespacedDeployment({ namespace: 'default' });
    assert.ok(deployments.items.some((d) => d.metadata?.name === 'api'));

    const token = await core.createNamespacedServiceAccountToken({ name: 'deployer', namespace: 'default', body: { spec: { audiences: ['api'] } } });
    assert.ok(token.status?.token.startsWith(fakeServiceAccountTokenPrefix));
  });

  test('client-node: a watch gets ADDED, MODIFIED and DELETED events', { timeout: 30_000 }, async () => {
    const events: string[] = [];
    let notify = () => {};
    const until = (count: number) => new Promise<void>((resolve) => {
      notify = () => events.length >= count && resolve();
      notify();
    });
    const watch = new Watch(clientConfig());
    const abort = await watch.watch('/api/v1/namespaces/default/configmaps', { labelSelector: 'watched=yes' }, (type, obj: V1ConfigMap) => {
      events.push(`${type} ${obj.metadata?.name} ${obj.data?.v ?? ''}`);
      notify();
    }, () => {});
    try {
      fake.create('configmaps', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w1', labels: { watched: 'yes' } }, data: { v: '1' } });
      fake.create('configmaps', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'unwatched' }, data: { v: '0' } });
      const core = clientConfig().makeApiClient(CoreV1Api);
      await until(1);
      await core.patchNamespacedConfigMap({ name: 'w1', namespace: 'default', body: { data: { v: '2' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      await core.deleteNamespacedConfigMap({ name: 'w1', namespace: 'default' });
      await until(3);
      assert.deepEqual(events, ['ADDED w1 1', 'MODIFIED w1 2', 'DELETED w1 2']);
    } finally {
      abort.abort();
    }
  });

  test('client-node: exec over WebSocket with stdout, stderr, stdin and the exit status', { timeout: 30_000 }, async () => {
    const run = (command: string[], stdinText?: string) => clientNodeExec(clientConfig(), { namespace: 'default', name: 'exec-target', container: 'web' }, command, stdinText);
    const echo = await run(['echo', 'from', 'client-node']);
    assert.equal(echo.stdout, 'from client-node\n');
    assert.equal(echo.status.status, 'Success');
    const failing = await run(['sh', '-c', 'echo oops >&2; exit 4']);
    assert.equal(failing.stderr, 'oops\n');
    assert.equal(failing.status.status, 'Failure');
    assert.equal(failing.status.reason, 'NonZeroExitCode');
    assert.deepEqual(failing.status.details?.causes, [{ reason: 'ExitCode', message: '4' }]);
    const big = await run(['head', '-c', String(3 * 1024 * 1024 + 7), '/dev/zero']);
    assert.equal(big.stdout.length, 3 * 1024 * 1024 + 7);
    const cat = await run(['cat'], 'piped through\n');
    assert.equal(cat.stdout, 'piped through\n');
  });

  test('v4.channel.k8s.io exec and a resize message, by a raw WebSocket client', { timeout: 30_000 }, async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${fake.port}/api/v1/namespaces/default/pods/exec-target/exec?command=cat&stdin=true&stdout=true&tty=true`, ['v4.channel.k8s.io'], { ca: ca.certPem, headers: { Authorization: `Bearer ${fake.token}` } });
    const frames: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    });
    assert.equal(ws.protocol, 'v4.channel.k8s.io');
    const gotEcho = new Promise<void>((resolve) => ws.on('message', (data: Buffer) => {
      frames.push(data);
      if (Buffer.concat(frames.map((f) => f.subarray(1))).toString().includes('typed')) resolve();
    }));
    ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":120,"Height":40}')]));
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('typed\n')]));
    await gotEcho;
    assert.equal(frames[0]?.[0], 1, 'stdout is channel 1');
    ws.close();
    await new Promise((resolve) => ws.on('close', resolve));
    const record = fake.execs.find((e) => e.protocol === 'v4.channel.k8s.io');
    assert.deepEqual(record?.resizes, [{ Width: 120, Height: 40 }]);
    assert.equal(record?.tty, true);

    // a long command whose socket is cut mid-way ends without an exit status
    const sleeper = new WebSocket(`wss://127.0.0.1:${fake.port}/api/v1/namespaces/default/pods/exec-target/exec?command=sleep&command=30&stdout=true`, ['v5.channel.k8s.io'], { ca: ca.certPem, headers: { Authorization: `Bearer ${fake.token}` } });
    await new Promise((resolve, reject) => sleeper.on('open', resolve).on('error', reject));
    sleeper.terminate();
    await new Promise((resolve) => sleeper.on('close', resolve));
    const cut = fake.execs.find((e) => e.command.join(' ') === 'sleep 30');
    assert.equal(cut?.protocol, 'v5.channel.k8s.io');
    assert.equal(cut?.exitCode, undefined);
  });

  test('server-side dry run: POST, PUT, PATCH, apply and DELETE answer as if done and change nothing', { timeout: 30_000 }, async () => {
    const json = { 'Content-Type': 'application/json' };
    const before = fake.store.resourceVersion;
    const settings = fake.store.get(fake.store.resource('', 'configmaps'), 'default', 'settings');
    const created = await raw('POST', '/api/v1/namespaces/default/configmaps?dryRun=All', { body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dry-cm' }, data: { k: 'v' } }), headers: json });
    assert.equal(created.status, 201);
    assert.match(String((created.body as { metadata: { uid: string } }).metadata.uid), /^[0-9a-f-]{36}$/);
    const replaced = await raw('PUT', '/api/v1/namespaces/default/configmaps/settings?dryRun=All', { body: JSON.stringify({ ...settings, data: { mode: 'slow' } }), headers: json });
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
    assert.deepEqual((replaced.body as { data: unknown }).data, { mode: 'slow' });
    const patched = await raw('PATCH', '/api/v1/namespaces/default/configmaps/settings?dryRun=All', { body: '{"data":{"extra":"1"}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
    assert.deepEqual((patched.body as { data: unknown }).data, { mode: 'fast', extra: '1' });
    const applied = await raw('PATCH', '/api/v1/namespaces/default/configmaps/dry-applied?dryRun=All&fieldManager=test', { body: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry-applied\ndata:\n  a: b\n', headers: { 'Content-Type': 'application/apply-patch+yaml' } });
    assert.equal(applied.status, 201);
    const deleted = await raw('DELETE', '/api/v1/namespaces/default/configmaps/settings', { body: JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', dryRun: ['All'] }), headers: json });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.ok((deleted.body as { metadata: { deletionTimestamp?: string } }).metadata.deletionTimestamp);

    assert.equal(fake.store.resourceVersion, before, 'no write was made');
    assert.deepEqual(fake.store.eventsSince(before), [], 'watchers saw nothing');
    const watchFromBefore = await raw('GET', `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${before}&timeoutSeconds=1`);
    assert.equal(watchFromBefore.body, '', 'a watch resumed from before the dry runs gets no event');
    assert.deepEqual(fake.store.get(fake.store.resource('', 'configmaps'), 'default', 'settings'), settings);
    for (const name of ['dry-cm', 'dry-applied']) assert.throws(() => fake.store.get(fake.store.resource('', 'configmaps'), 'default', name), /not found/);
    // an apply without a field manager is refused, as the real server does
    const noManager = await raw('PATCH', '/api/v1/namespaces/default/configmaps/settings', { body: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n', headers: { 'Content-Type': 'application/apply-patch+yaml' } });
    assert.equal(noManager.status, 400);
  });

  test('a watch resuming from a version older than the kept history gets one ERROR event (410 Expired), as from a real server', { timeout: 30_000 }, async () => {
    const small = await startFakeKubeApiServer({ tls: await ca.leaf(), watchHistory: 2 });
    try {
      const first = small.create('configmaps', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1' } });
      for (const name of ['c2', 'c3', 'c4']) small.create('configmaps', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } });
      const watchUrl = (rv: string) => `${small.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}&timeoutSeconds=1`;
      const get = (url: string) =>
        new Promise<string>((resolve, reject) => {
          https.get(url, { ca: ca.certPem, headers: { Authorization: `Bearer ${small.token}` }, agent: false }, (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve(text));
          }).on('error', reject);
        });
      const expired = JSON.parse((await get(watchUrl(first.metadata!.resourceVersion!))).trim()) as { type: string; object: { code: number; reason: string } };
      assert.equal(expired.type, 'ERROR');
      assert.equal(expired.object.code, 410);
      assert.equal(expired.object.reason, 'Expired');
      const recent = (await get(watchUrl(String(small.store.resourceVersion - 1)))).trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: { metadata: { name: string } } });
      assert.deepEqual(recent.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED c4']);
    } finally {
      await small.close();
    }
  });

  test('errors are the real Status objects: 401, 404, 409, 422, 400, 406, 413, 415', { timeout: 30_000 }, async () => {
    const unauthenticated = await raw('GET', '/api/v1/namespaces/default/pods', { token: null });
    assert.equal(unauthenticated.status, 401);
    assert.deepEqual(unauthenticated.body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    assert.equal((await raw('GET', '/api/v1/namespaces/default/pods', { token: 'guessed' })).status, 401);
    assert.equal(fake.requests.at(-1)?.authorized, false, 'refused requests are recorded too');

    assert.deepEqual((await raw('GET', '/api/v1/namespaces/default/pods/nope')).body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'pods "nope" not found', reason: 'NotFound', details: { name: 'nope', kind: 'pods' }, code: 404 });
    assert.deepEqual((await raw('GET', '/apis/apps/v1/namespaces/default/deployments/nope')).body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'deployments.apps "nope" not found', reason: 'NotFound', details: { name: 'nope', group: 'apps', kind: 'deployments' }, code: 404 });
    for (const bad of ['/api/v1/namespaces/default/widgets', '/api/v2/pods', '/apis/nope.example.com/v1', '/api/v1/namespaces/default/pods/web-0/nosuch', '/api/v1/namespaces/default/namespaces/x', '/../etc/passwd']) {
      const answer = await raw('GET', bad);
      assert.equal(answer.status, 404, bad);
      assert.equal((answer.body as { reason: string }).reason, 'NotFound', bad);
    }

    const invalid = await raw('POST', '/api/v1/namespaces/default/pods', { body: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'Bad_Name' }, spec: {} }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(invalid.status, 422);
    const invalidBody = invalid.body as { reason: string; message: string; details: { kind: string; causes: { field: string; reason: string }[] } };
    assert.equal(invalidBody.reason, 'Invalid');
    assert.match(invalidBody.message, /^Pod "Bad_Name" is invalid: \[metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
    assert.deepEqual(invalidBody.details.causes.map((c) => [c.field, c.reason]), [['metadata.name', 'FieldValueInvalid'], ['spec.containers', 'FieldValueRequired']]);
    assert.equal(invalidBody.details.kind, 'Pod');

    const wrongNamespace = await raw('POST', '/api/v1/namespaces/default/pods', { body: JSON.stringify({ ...pod('sneaky'), metadata: { name: 'sneaky', namespace: 'kube-system' } }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(wrongNamespace.status, 400);
    assert.equal((wrongNamespace.body as { message: string }).message, 'the namespace of the provided object does not match the namespace sent on the request');
    const missingNamespace = await raw('POST', '/api/v1/namespaces/ghost/pods', { body: JSON.stringify(pod('x')), headers: { 'Content-Type': 'application/json' } });
    assert.equal((missingNamespace.body as { message: string }).message, 'namespaces "ghost" not found');
    const badDryRun = await raw('DELETE', '/api/v1/namespaces/default/pods/web-0?dryRun=Some');
    assert.equal(badDryRun.status, 400);
    assert.ok(fake.store.get(fake.store.resource('', 'pods'), 'default', 'web-0'), 'an unknown dryRun value deletes nothing');
    for (const selector of ['labelSelector=app%20in%20(a)', 'fieldSelector=spec.nodeName%3Dx']) {
      const badWatch = await raw('GET', `/api/v1/namespaces/default/pods?watch=true&${selector}`);
      assert.equal(badWatch.status, 400, `a watch with ${selector} is refused before it starts`);
    }
    const notJson = await raw('POST', '/api/v1/namespaces/default/configmaps', { body: '{"kind": ', headers: { 'Content-Type': 'application/json' } });
    assert.equal(notJson.status, 400);

    const protobufOnly = await raw('GET', '/api/v1/namespaces/default/pods', { headers: { Accept: 'application/vnd.kubernetes.protobuf' } });
    assert.equal(protobufOnly.status, 406);
    assert.equal((protobufOnly.body as { reason: string }).reason, 'NotAcceptable');
    const tooLarge = await raw('POST', '/api/v1/namespaces/default/configmaps', { body: JSON.stringify({ metadata: { name: 'big' }, data: { blob: 'x'.repeat(4 * 1024 * 1024) } }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(tooLarge.status, 413);
    assert.throws(() => fake.store.get(fake.store.resource('', 'configmaps'), 'default', 'big'));
    const oddPatch = await raw('PATCH', '/api/v1/namespaces/default/configmaps/settings', { body: '{}', headers: { 'Content-Type': 'text/plain' } });
    assert.equal(oddPatch.status, 415);
  });

  test('as=Table answers: includeObject Object, Metadata (default) and None; aggregated discovery answered plainly', { timeout: 30_000 }, async () => {
    const accept = 'application/json;as=Table;v=v1;g=meta.k8s.io';
    const withObject = await raw('GET', '/api/v1/namespaces/default/secrets?includeObject=Object', { headers: { Accept: accept } });
    assert.equal(withObject.contentType, accept);
    const table = withObject.body as { kind: string; columnDefinitions: { name: string }[]; rows: { cells: unknown[]; object: { kind: string; data: Record<string, string> } }[] };
    assert.equal(table.kind, 'Table');
    assert.deepEqual(table.columnDefinitions.map((c) => c.name), ['Name', 'Type', 'Data', 'Age']);
    const row = table.rows.find((r) => r.cells[0] === 's');
    assert.deepEqual(row?.cells.slice(0, 3), ['s', 'Opaque', 2]);
    assert.equal(row?.object.data.password, Buffer.from('hunter2').toString('base64'), 'the whole object rides in the row: a proxy must mask it there too');
    const metadataOnly = (await raw('GET', '/api/v1/namespaces/default/secrets/s', { headers: { Accept: accept } })).body as { rows: { object: { kind: string; data?: unknown } }[] };
    assert.equal(metadataOnly.rows[0]?.object.kind, 'PartialObjectMetadata');
    assert.equal(metadataOnly.rows[0]?.object.data, undefined);
    const none = (await raw('GET', '/api/v1/namespaces/default/secrets?includeObject=None', { headers: { Accept: accept } })).body as { rows: Record<string, unknown>[] };
    assert.equal('object' in (none.rows[0] ?? {}), false);

    const aggregated = await raw('GET', '/apis', { headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' } });
    assert.equal(aggregated.contentType, 'application/json');
    const groups = (aggregated.body as { kind: string; groups: { name: string }[] }).groups.map((g) => g.name);
    assert.equal((aggregated.body as { kind: string }).kind, 'APIGroupList');
    assert.deepEqual(groups, ['apps', 'rbac.authorization.k8s.io']);
    const resources = (await raw('GET', '/api/v1')).body as { resources: { name: string }[] };
    for (const name of ['pods', 'pods/log', 'pods/exec', 'secrets', 'configmaps', 'namespaces', 'serviceaccounts', 'serviceaccounts/token']) {
      assert.ok(resources.resources.some((r) => r.name === name), `/api/v1 lists ${name}`);
    }
  });

  test('Impersonate-* headers are recorded as sent, for proxy tests to check they were stripped', { timeout: 30_000 }, async () => {
    await raw('GET', '/api/v1/namespaces/default/pods', { headers: { 'Impersonate-User': 'system:admin', 'Impersonate-Group': 'system:masters', 'Impersonate-Extra-Scopes': 'all' } });
    const last = fake.requests.at(-1);
    assert.deepEqual(last?.impersonation, { 'impersonate-user': 'system:admin', 'impersonate-group': 'system:masters', 'impersonate-extra-scopes': 'all' });
    const impersonating = await kubectl(['get', 'pods', '--as', 'alice', '--as-group', 'devs']);
    assert.equal(impersonating.code, 0, impersonating.stderr);
    assert.ok(fake.requests.some((r) => r.impersonation['impersonate-user'] === 'alice' && r.impersonation['impersonate-group'] === 'devs'));
  });
});
