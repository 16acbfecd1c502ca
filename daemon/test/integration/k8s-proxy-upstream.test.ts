import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import YAML from 'yaml';
import { runCli } from '../helpers/daemon-process.js';
import { kubeconfigText, kubectlFor } from '../helpers/kubectl.js';
import { startK8sProxy, type K8sProxyHarness } from '../helpers/k8s-proxy.js';
import { makeTestCa } from '../helpers/test-ca.js';

/**
 * The Kubernetes proxy's upstream side and its adversarial corpus, through a real daemon process to
 * the in-test fake API server (no real API server can run here; see fake-kube-apiserver.ts): the
 * credential sources (kubeconfig token, exec plugin, upstream URL + token variable), verified TLS,
 * an upstream that is down, `airlock kubeconfig`, and requests where what the fake received must be
 * what policy saw, or nothing.
 */

interface Status {
  kind: string;
  reason: string;
  code: number;
  message: string;
}

const pod = (name: string, spec: Record<string, unknown> = {}) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }], ...spec } });

const CORPUS_POLICY = `version: 1
default: deny
rules:
  - id: privileged-deny
    decision: deny
    match:
      attributes:
        class: privileged
  - id: prod-deny
    decision: deny
    match:
      attributes:
        namespace: prod
  - id: writes-allow
    decision: allow
    match:
      attributes:
        class: write
  - id: reads-allow
    decision: allow
    match:
      attributes:
        class: read
`;

interface Case {
  what: string;
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  expect: 'forwarded' | 'refused' | 'either';
}

const corpus: Case[] = [
  { what: 'a list', method: 'GET', path: '/api/v1/namespaces/default/pods', expect: 'forwarded' },
  { what: 'a trailing slash', method: 'GET', path: '/api/v1/namespaces/default/pods/', expect: 'forwarded' },
  { what: 'a label selector', method: 'GET', path: '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&limit=5', expect: 'forwarded' },
  { what: 'a get in a denied namespace', method: 'GET', path: '/api/v1/namespaces/prod/pods', expect: 'refused' },
  { what: 'the denied namespace percent-encoded', method: 'GET', path: '/api/v1/namespaces/%70rod/pods', expect: 'refused' },
  { what: 'a delete in the denied namespace', method: 'DELETE', path: '/api/v1/namespaces/prod/pods/x', expect: 'refused' },
  { what: 'a dry-run delete in the denied namespace', method: 'DELETE', path: '/api/v1/namespaces/prod/pods/x?dryRun=All', expect: 'refused' },
  { what: 'a body naming another namespace than the URL', method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sneak', namespace: 'prod' } }, expect: 'refused' },
  { what: 'an RBAC role create', method: 'POST', path: '/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles', body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'r' }, rules: [] }, expect: 'refused' },
  { what: 'a Secret create', method: 'POST', path: '/api/v1/namespaces/default/secrets', body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: {} }, expect: 'refused' },
  { what: 'a service account token request', method: 'POST', path: '/api/v1/namespaces/default/serviceaccounts/default/token', body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} }, expect: 'refused' },
  { what: 'Impersonate-Group on a read', method: 'GET', path: '/api/v1/namespaces/default/pods', headers: { 'Impersonate-Group': 'system:masters' }, expect: 'refused' },
  { what: 'Impersonate_User spelled with an underscore', method: 'GET', path: '/api/v1/namespaces/default/pods', headers: { Impersonate_User: 'admin' }, expect: 'refused' },
  { what: 'a front-proxy identity header', method: 'GET', path: '/api/v1/namespaces/default/pods', headers: { 'X-Remote-User': 'admin' }, expect: 'refused' },
  { what: 'deleting a namespace', method: 'DELETE', path: '/api/v1/namespaces/default', expect: 'refused' },
  { what: 'a merge patch of a ConfigMap', method: 'PATCH', path: '/api/v1/namespaces/default/configmaps/cm1', body: { data: { k: 'v2' } }, headers: { 'content-type': 'application/merge-patch+json' }, expect: 'forwarded' },
  { what: 'a pod reaching the node (hostPID)', method: 'POST', path: '/api/v1/namespaces/default/pods', body: pod('escape', { hostPID: true }), expect: 'refused' },
  { what: 'a plain pod create', method: 'POST', path: '/api/v1/namespaces/default/pods', body: pod('plain-1'), expect: 'forwarded' },
  { what: 'a deployments list in apps/v1', method: 'GET', path: '/apis/apps/v1/namespaces/default/deployments', expect: 'forwarded' },
  { what: 'an unknown method', method: 'PROPFIND', path: '/api/v1/pods', expect: 'refused' },
  { what: 'an unknown non-resource path', method: 'GET', path: '/debug/pprof/', expect: 'refused' },
  { what: 'a protobuf Accept', method: 'GET', path: '/api/v1/namespaces/default/configmaps', headers: { accept: 'application/vnd.kubernetes.protobuf' }, expect: 'forwarded' },
];

describe('kubernetes proxy: corpus (what the fake received is what policy saw, or nothing)', () => {
  let h: K8sProxyHarness;
  before(async () => {
    h = await startK8sProxy({ policy: CORPUS_POLICY });
    h.fake.create('configmaps', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm1' }, data: { k: 'v1' } });
  });
  after(async () => h?.stop());

  test(`${corpus.length} requests`, async () => {
    let forwarded = 0;
    let refused = 0;
    for (const c of corpus) {
      const seenBefore = h.fake.requests.length;
      const body = c.body === undefined ? undefined : JSON.stringify(c.body);
      const r = await h.request(c.method, c.path, { ...(body !== undefined ? { body } : {}), headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(c.headers ?? {}) } });
      const newly = h.fake.requests.slice(seenBefore);
      const records = await h.records();
      const actions = records.filter((x) => x.type === 'action') as Array<{ action: { attributes: Record<string, unknown>; detail: { path: string; query: Array<[string, string]>; method: string } } }>;
      if (r.status === 403 || r.status === 400 || r.status === 404) {
        assert.equal(newly.length, 0, `${c.what}: refused (${r.status}) and nothing reached the fake`);
        assert.equal((JSON.parse(r.body) as Status).kind, 'Status', `${c.what}: the refusal is a Status`);
        assert.notEqual(c.expect, 'forwarded', `${c.what}: expected to be forwarded, got ${r.status} ${r.body}`);
        refused++;
        continue;
      }
      assert.notEqual(c.expect, 'refused', `${c.what}: expected a refusal, got ${r.status} ${r.body}`);
      assert.equal(newly.length, 1, `${c.what}: exactly one request reached the fake`);
      const got = newly[0]!;
      const saw = actions[actions.length - 1]!.action;
      assert.equal(got.method, saw.detail.method, `${c.what}: method`);
      assert.equal(got.path, saw.detail.path, `${c.what}: the path the fake routed is the one policy judged`);
      const gotQuery = Object.entries(got.query).flatMap(([k, vs]) => vs.map((v) => [k, v] as [string, string])).sort();
      assert.deepEqual(gotQuery, [...saw.detail.query].sort(), `${c.what}: the query`);
      if (body !== undefined) assert.equal(got.body, body, `${c.what}: the body judged is the body sent`);
      assert.deepEqual(got.impersonation, {}, `${c.what}: no impersonation reached the fake`);
      assert.ok(!Object.keys(got.headers).some((k) => k.startsWith('x-remote-')), `${c.what}: no front-proxy header reached the fake`);
      assert.doesNotMatch(String(got.headers.accept), /protobuf/, `${c.what}: JSON was asked for`);
      assert.equal(got.authorization, `Bearer ${h.fake.token}`);
      forwarded++;
    }
    assert.ok(forwarded >= 5 && refused >= 10, `forwarded ${forwarded}, refused ${refused}`);
  });
});

describe('kubernetes proxy: upstream trouble', () => {
  test('an upstream whose certificate comes from another CA is refused before any byte is sent', async () => {
    const other = await makeTestCa('someone else');
    const h = await startK8sProxy({ daemonKubeconfig: (fake) => kubeconfigText({ server: fake.url, caPem: other.certPem, token: fake.token, context: 'cluster' }) });
    try {
      const r = await h.request('GET', '/api/v1/namespaces/default/pods');
      assert.equal(r.status, 503);
      const status = JSON.parse(r.body) as Status;
      assert.equal(status.kind, 'Status');
      assert.match(status.message, /certificate could not be verified.*nothing was sent/);
      assert.equal(h.fake.requests.length, 0, 'no request (and so no credential) reached the impostor');
    } finally {
      await h.stop();
    }
  });

  test('an upstream that is down: a 503 Status naming the target; kubectl shows it', async () => {
    const h = await startK8sProxy();
    try {
      await h.fake.close();
      const r = await h.request('GET', '/api/v1/namespaces/default/pods');
      assert.equal(r.status, 503);
      const status = JSON.parse(r.body) as Status;
      assert.deepEqual([status.kind, status.reason], ['Status', 'ServiceUnavailable']);
      assert.match(status.message, /target "staging": the upstream refused the connection/);
      const k = await h.kubectl.run(['--context', 'staging', 'get', 'pods', '--request-timeout=5s']);
      assert.notEqual(k.code, 0);
    } finally {
      await h.daemon.stop();
    }
  });

  test('a kubeconfig cluster with insecure-skip-tls-verify is refused with a sentence saying why', async () => {
    const h = await startK8sProxy({
      daemonKubeconfig: (fake) => {
        const doc = YAML.parse(kubeconfigText({ server: fake.url, caPem: '', token: fake.token, context: 'cluster' })) as { clusters: Array<{ cluster: Record<string, unknown> }> };
        doc.clusters[0]!.cluster = { server: fake.url, 'insecure-skip-tls-verify': true };
        return YAML.stringify(doc);
      },
    });
    try {
      const targets = (await h.daemon.api('GET', '/v1/targets')).json as { targets: Array<{ state: string; error?: string }> };
      assert.equal(targets.targets[0]!.state, 'error');
      assert.match(targets.targets[0]!.error ?? '', /insecure-skip-tls-verify/);
      assert.equal(h.fake.requests.length, 0);
    } finally {
      await h.stop();
    }
  });

  test('a kubeconfig user with an exec credential plugin: the token it prints goes upstream', async () => {
    let script = '';
    const h = await startK8sProxy({
      daemonKubeconfig: (fake, ca) => {
        script = path.join(os.tmpdir(), `airlock-exec-plugin-${process.pid}.sh`);
        const expires = new Date(Date.now() + 3600_000).toISOString();
        writeFileSync(script, `#!/bin/sh\necho run >> "${script}.runs"\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${fake.token}","expirationTimestamp":"${expires}"}}'\n`);
        chmodSync(script, 0o700);
        const doc = YAML.parse(kubeconfigText({ server: fake.url, caPem: '', token: 'x', context: 'cluster' })) as Record<string, unknown> & { clusters: Array<{ cluster: Record<string, unknown> }>; users: Array<{ user: Record<string, unknown> }> };
        doc.clusters[0]!.cluster['certificate-authority-data'] = Buffer.from(ca.certPem).toString('base64');
        doc.users[0]!.user = { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: script, interactiveMode: 'Never' } };
        return YAML.stringify(doc);
      },
    });
    try {
      const r = await h.kubectl.run(['--context', 'staging', 'get', 'pods']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(h.fake.requests.length > 0);
      for (const q of h.fake.requests) assert.equal(q.authorization, `Bearer ${h.fake.token}`);
      // the library keeps the plugin's token until its expiry: one run for start and every request
      assert.equal(readFileSync(`${script}.runs`, 'utf8').trim().split('\n').length, 1);
    } finally {
      await h.stop();
      rmSync(script, { force: true });
      rmSync(`${script}.runs`, { force: true });
    }
  });

  test('a kubeconfig user with a client certificate: the daemon presents it on the upstream TLS connection', async () => {
    // a TLS front that asks for a client certificate and notes its fingerprint, then relays to the fake
    // (the fake itself authenticates by bearer token only)
    let front: tls.Server | undefined = undefined;
    const seen: string[] = [];
    const client = { certPem: '', keyPem: '', fingerprint: '' };
    const ca = await makeTestCa('client-cert test CA');
    const clientLeaf = await ca.leaf();
    Object.assign(client, { certPem: clientLeaf.certPem, keyPem: clientLeaf.keyPem, fingerprint: new X509Certificate(clientLeaf.certPem).fingerprint256 });
    const frontLeaf = await ca.leaf();
    let relayTo = 0;
    let fakeCa = '';
    front = tls.createServer({ cert: frontLeaf.certPem, key: frontLeaf.keyPem, requestCert: true, rejectUnauthorized: false }, (socket) => {
      const peer = socket.getPeerCertificate();
      if (peer && peer.fingerprint256) seen.push(peer.fingerprint256);
      const upstream = tls.connect({ host: '127.0.0.1', port: relayTo, ca: fakeCa, servername: 'localhost' });
      socket.pipe(upstream).pipe(socket);
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => front!.listen(0, '127.0.0.1', resolve));
    const frontPort = (front.address() as AddressInfo).port;
    const h2 = await startK8sProxy({
      daemonKubeconfig: (fake) => {
        relayTo = fake.port;
        const doc = YAML.parse(kubeconfigText({ server: `https://127.0.0.1:${frontPort}`, caPem: ca.certPem, token: fake.token, context: 'cluster' })) as { users: Array<{ user: Record<string, unknown> }> };
        doc.users[0]!.user['client-certificate-data'] = Buffer.from(client.certPem).toString('base64');
        doc.users[0]!.user['client-key-data'] = Buffer.from(client.keyPem).toString('base64');
        return YAML.stringify(doc);
      },
    });
    fakeCa = h2.ca.certPem;
    try {
      const r = await h2.kubectl.run(['--context', 'staging', 'get', 'pods']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(seen.length > 0, 'the front saw TLS connections from the daemon');
      for (const fingerprint of seen) assert.equal(fingerprint, client.fingerprint, 'each carried the kubeconfig\'s client certificate');
    } finally {
      await h2.stop();
      await new Promise<void>((resolve) => front!.close(() => resolve()));
    }
  });

  test('an upstream URL with the token in a variable and a CA file (--upstream --token-env --ca-file)', async () => {
    // the CLI writes the target (no daemon running in this home: adding to a running one waits for a person)
    const cliHome = mkdtempSync(path.join(os.tmpdir(), 'airlock-k8s-cli-'));
    try {
      const caFile = path.join(cliHome, 'cluster-ca.crt');
      writeFileSync(caFile, 'placeholder');
      const cli = await runCli(cliHome, ['target', 'add', 'direct', '--protocol', 'kubernetes', '--upstream', 'https://127.0.0.1:6443', '--token-env', 'K8S_TEST_TOKEN', '--ca-file', caFile, '--listen', '127.0.0.1:16443']);
      assert.equal(cli.code, 0, cli.stderr);
      const config = YAML.parse(readFileSync(path.join(cliHome, 'config.yaml'), 'utf8')) as { targets: Array<Record<string, unknown>> };
      assert.deepEqual(config.targets[0], { name: 'direct', protocol: 'kubernetes', upstream: 'https://127.0.0.1:6443', listen: { host: '127.0.0.1', port: 16443 }, credential: { env: 'K8S_TEST_TOKEN' }, caFile });
      const both = await runCli(cliHome, ['target', 'add', 'both', '--protocol', 'kubernetes', '--kubeconfig', caFile, '--token-env', 'X', '--listen', '127.0.0.1:16444']);
      assert.notEqual(both.code, 0);
      assert.match(both.stderr, /--kubeconfig names the server/);
      const plain = await runCli(cliHome, ['target', 'add', 'plain', '--protocol', 'kubernetes', '--upstream', 'http://127.0.0.1:8080', '--token-env', 'X', '--listen', '127.0.0.1:16445']);
      assert.notEqual(plain.code, 0);
      assert.match(plain.stderr, /https:\/\//);
    } finally {
      rmSync(cliHome, { recursive: true, force: true });
    }

    const token = `fake-env-token-${process.pid}`;
    const h = await startK8sProxy({
      fake: { tokens: [token] },
      env: { K8S_TEST_TOKEN: token },
      target: (fake, ca, home) => {
        const caFile = path.join(home, 'cluster-ca.crt');
        writeFileSync(caFile, ca.certPem);
        return { kubeconfig: undefined, upstream: fake.url, credential: { env: 'K8S_TEST_TOKEN' }, caFile };
      },
    });
    try {
      const r = await h.kubectl.run(['--context', 'staging', 'get', 'pods']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(h.fake.requests.length > 0);
      for (const q of h.fake.requests) assert.equal(q.authorization, `Bearer ${token}`);
    } finally {
      await h.stop();
    }
  });
});

describe('airlock kubeconfig', () => {
  let h: K8sProxyHarness;
  before(async () => {
    h = await startK8sProxy();
    h.fake.create('pods', 'default', pod('web-1'));
  });
  after(async () => h?.stop());

  test('writes a 0600 kubeconfig that kubectl uses with no TLS flag, with a new session', async () => {
    const r = await runCli(h.home, ['kubeconfig']);
    assert.equal(r.code, 0, r.stderr);
    const file = r.stdout.trim();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const doc = YAML.parse(await import('node:fs').then((fs) => fs.readFileSync(file, 'utf8'))) as { clusters: Array<{ name: string; cluster: { server: string; 'certificate-authority-data': string } }> };
    assert.equal(doc.clusters[0]!.name, 'staging');
    assert.equal(doc.clusters[0]!.cluster.server, h.server);
    assert.equal(Buffer.from(doc.clusters[0]!.cluster['certificate-authority-data'], 'base64').toString('utf8'), h.daemonCaPem);
    const k = await kubectlFor(file, h.home).run(['--context', 'staging', 'get', 'pods']);
    assert.equal(k.code, 0, k.stderr);
    assert.match(k.stdout, /web-1/);
  });

  test('--session with the token in AIRLOCK_SESSION_TOKEN; another session\'s token is refused', async () => {
    const out = path.join(h.home, 'mine.kubeconfig');
    const other = await h.newSession('someone-else');
    const forged = await runCli(h.home, ['kubeconfig', '--session', h.sessionId, '--out', out], { AIRLOCK_SESSION_TOKEN: other.token });
    assert.notEqual(forged.code, 0, 'another session\'s token does not make this session\'s kubeconfig');
    assert.match(forged.stderr, /not agent session/);
    const r = await runCli(h.home, ['kubeconfig', '--session', h.sessionId, '--out', out], { AIRLOCK_SESSION_TOKEN: h.token });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), out);
    const k = await kubectlFor(out, h.home).run(['--context', 'staging', 'get', 'pods']);
    assert.equal(k.code, 0, k.stderr);
  });

  // a listener connection carries one agent session: each request here on a connection of its own
  const ONE_SHOT = { connection: 'close' };
  const userTokenOf = (file: string): string => (YAML.parse(readFileSync(file, 'utf8')) as { users: Array<{ user: { token: string } }> }).users[0]!.user.token;

  test('--session without AIRLOCK_SESSION_TOKEN: a token minted for the same session; both work, both go with a revoke', async () => {
    const session = await h.newSession('minted');
    const out = path.join(h.home, 'minted.kubeconfig');
    const r = await runCli(h.home, ['kubeconfig', '--session', session.id, '--out', out], { AIRLOCK_SESSION_TOKEN: '' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`minted another token for agent session ${session.id}`));
    const minted = userTokenOf(out);
    assert.notEqual(minted, session.token);
    const k = await kubectlFor(out, h.home).run(['--context', 'staging', 'get', 'pods']);
    assert.equal(k.code, 0, k.stderr);
    assert.match(k.stdout, /web-1/);
    // the same session: its original token still works, and the records name that session
    assert.equal((await h.request('GET', '/api/v1/namespaces/default/pods', { token: session.token, headers: ONE_SHOT })).status, 200);
    assert.equal((await h.request('GET', '/api/v1/namespaces/default/pods', { token: minted, headers: ONE_SHOT })).status, 200);
    // the recording is written asynchronously: wait for the kubectl get's and the two requests' actions
    const actionsOf = async () => (await h.records(session.id)).filter((b) => (b as { type?: string }).type === 'action').length;
    while ((await actionsOf()) < 3) await new Promise((r) => setTimeout(r, 50));

    assert.equal((await h.daemon.api('DELETE', `/v1/agent-sessions/${session.id}`)).status, 200);
    assert.equal((await h.request('GET', '/api/v1/namespaces/default/pods', { token: minted, headers: ONE_SHOT })).status, 401);
    const again = await runCli(h.home, ['kubeconfig', '--session', session.id, '--out', out], { AIRLOCK_SESSION_TOKEN: '' });
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /was revoked: it gets no new token/);
  });

  test('POST /v1/agent-sessions/:id/tokens: the API token is required, 201 with a token once, 404 unknown, 400 for a body with fields', async () => {
    const session = await h.newSession('route');
    assert.equal((await h.daemon.api('POST', `/v1/agent-sessions/${session.id}/tokens`, {}, null)).status, 401);
    assert.equal((await h.daemon.api('POST', `/v1/agent-sessions/${session.id}/tokens`, {}, 'not-the-api-token')).status, 401);
    // an agent holding its own session's token cannot mint itself more
    assert.equal((await h.daemon.api('POST', `/v1/agent-sessions/${session.id}/tokens`, {}, session.token)).status, 401);
    assert.equal((await h.daemon.api('POST', '/v1/agent-sessions/ses_nosuch/tokens', {})).status, 404);
    assert.equal((await h.daemon.api('POST', `/v1/agent-sessions/${session.id}/tokens`, { ttl: '100d' })).status, 400, 'no field may change the session');
    const added = await h.daemon.api('POST', `/v1/agent-sessions/${session.id}/tokens`, {});
    assert.equal(added.status, 201);
    const body = added.json as { session: { id: string; expiresAt: string }; token: string };
    assert.equal(body.session.id, session.id);
    assert.match(body.token, /^alk_/);
    const listed = (await h.daemon.api('GET', '/v1/agent-sessions')).json as { sessions: Array<{ id: string; expiresAt: string }> };
    assert.equal(listed.sessions.find((s) => s.id === session.id)?.expiresAt, body.session.expiresAt, 'same expiry');
    assert.equal(JSON.stringify(listed).includes(body.token), false);
    assert.equal(readFileSync(path.join(h.home, 'agent-sessions.json'), 'utf8').includes(body.token), false, 'only its hash is kept');
    assert.equal((await h.request('GET', '/api/v1/namespaces/default/pods', { token: body.token, headers: ONE_SHOT })).status, 200);
  });
});
