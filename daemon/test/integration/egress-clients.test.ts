import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fetch as undiciFetch, ProxyAgent } from 'undici';
import { HttpRequestDetail, HttpResponseResultDetail } from '@airlock/shared';
import { runTool } from '../helpers/daemon-harness.js';
import { makeTestCertificates, startEgressProxy, startHttpsServer, waitForApproval, waitForRecord, type EgressHarness, type TestCertificates } from '../helpers/egress-proxy.js';
import { gitTestEnv, runGit, startGitHttpServer, type GitHttpServer, type GitRepo } from '../helpers/git-http.js';

/**
 * Real clients through the egress proxy as agents configure them: git (HTTPS through CONNECT, and
 * plain HTTP governed per request), Python's urllib with a ProxyHandler, undici's ProxyAgent (Node's
 * own fetch ignores HTTPS_PROXY), curl for plain HTTP. The "public" names resolve (through the
 * test's resolver map) to TEST-NET-1 addresses the daemon dials as loopback servers.
 */

const ADDRESS = { registry: '192.0.2.10', gitTls: '192.0.2.30', gitPlain: '192.0.2.31', api: '192.0.2.32', hidden: '192.0.2.33' };

describe('egress with real clients: git, Python urllib, undici ProxyAgent, curl (real daemon)', () => {
  let dir: string;
  let certs: TestCertificates;
  let https: Awaited<ReturnType<typeof startHttpsServer>>;
  let gitServer: GitHttpServer;
  let repo: GitRepo;
  let tlsFront: tls.Server;
  let h: EgressHarness;
  let gitEnv: NodeJS.ProcessEnv;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-egress-clients-'));
    certs = await makeTestCertificates(dir, { dns: ['registry.example', 'git.example'], ips: ['127.0.0.1'] });
    https = await startHttpsServer(certs);
    gitServer = await startGitHttpServer();
    repo = await gitServer.createRepo('tools.git');
    // git.example over HTTPS: TLS in front of the git smart-HTTP server
    tlsFront = tls.createServer({ cert: certs.certPem, key: certs.keyPem }, (socket) => {
      const up = net.connect(gitServer.port, '127.0.0.1');
      socket.pipe(up).pipe(socket);
      socket.on('error', () => up.destroy());
      up.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => tlsFront.listen(0, '127.0.0.1', resolve));
    const tlsPort = (tlsFront.address() as net.AddressInfo).port;
    h = await startEgressProxy({
      allowHosts: ['registry.example:443', 'git.example', 'api.example'],
      names: { 'registry.example': [ADDRESS.registry], 'git.example': [ADDRESS.gitTls], 'git-plain.example': [ADDRESS.gitPlain], 'api.example': [ADDRESS.api], 'held.example': [ADDRESS.hidden] },
      dial: {
        [`${ADDRESS.registry}:443`]: `127.0.0.1:${https.port}`,
        [`${ADDRESS.gitTls}:443`]: `127.0.0.1:${tlsPort}`,
        [`${ADDRESS.gitTls}:80`]: `127.0.0.1:${gitServer.port}`,
        [`${ADDRESS.api}:80`]: `127.0.0.1:${gitServer.port}`,
        [`${ADDRESS.hidden}:80`]: `127.0.0.1:${gitServer.port}`,
      },
    });
    gitEnv = { ...gitTestEnv(dir), HTTPS_PROXY: h.proxyUrl(), HTTP_PROXY: h.proxyUrl(), GIT_SSL_CAINFO: certs.caFile };
  });
  after(async () => {
    await h?.stop();
    await https?.close();
    await gitServer?.close();
    await new Promise<void>((resolve) => (tlsFront ? tlsFront.close(() => resolve()) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('git ls-remote over HTTPS through CONNECT (HTTPS_PROXY): the refs come back; one http.connect per connection, TLS not intercepted', async () => {
    const r = await runGit(['-c', `http.proxy=${h.proxyUrl()}`, 'ls-remote', 'https://git.example/tools.git'], { cwd: dir, env: gitEnv });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${repo.head}\\s+refs/heads/main$`, 'm'));
    const action = await waitForRecord(h, (rs) => rs.find((x) => x.type === 'action' && x.action?.kind === 'http.connect' && x.action.attributes.host === 'git.example'));
    assert.equal(action.action!.attributes.port, 443);
    // the git requests themselves went inside the tunnel: no http.request was recorded for them
    assert.equal((await h.records()).some((x) => x.action?.kind === 'http.request' && x.action.attributes.host === 'git.example' && x.action.attributes.path === '/tools.git/info/refs'), false);
  });

  test('git ls-remote over plain HTTP through the proxy: each request an http.request with the git service and the destination', async () => {
    const r = await runGit(['-c', `http.proxy=${h.proxyUrl()}`, 'ls-remote', 'http://git.example/tools.git'], { cwd: dir, env: gitEnv });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /refs\/heads\/main/);
    const action = await waitForRecord(h, (rs) => rs.find((x) => x.type === 'action' && x.action?.kind === 'http.request' && x.action.attributes.path === '/tools.git/info/refs'));
    assert.equal(action.action!.attributes.host, 'git.example');
    assert.equal(action.action!.attributes.destination, 'listed');
    assert.equal(action.action!.attributes.gitService, 'git-upload-pack');
    assert.equal(action.action!.grantKey, 'git.example:80');
    const detail = HttpRequestDetail.parse(action.action!.detail);
    assert.equal(detail.via, 'egress');
    assert.equal(Object.keys(detail.headers).some((name) => /^proxy-/i.test(name)), false, 'Proxy-* headers are not recorded or forwarded');
    // the upstream never saw the proxy credential
    const seen = gitServer.requests.filter((q) => q.url.startsWith('/tools.git/info/refs'));
    assert.ok(seen.length > 0);
    for (const q of seen) {
      assert.equal(q.headers['proxy-authorization'], undefined);
      assert.equal(q.headers['proxy-connection'], undefined);
      assert.equal(q.headers.host, 'git.example');
    }
  });

  test("Python urllib with a ProxyHandler: HTTPS through CONNECT, the proxy credential from the proxy URL", async () => {
    const script = [
      'import sys, ssl, urllib.request',
      `ctx = ssl.create_default_context(cafile=${JSON.stringify(certs.caFile)})`,
      `opener = urllib.request.build_opener(urllib.request.ProxyHandler({"https": ${JSON.stringify(h.proxyUrl())}}), urllib.request.HTTPSHandler(context=ctx))`,
      'print(opener.open("https://registry.example/from-python", timeout=20).read().decode())',
    ].join('\n');
    const r = await runTool('python3', ['-c', script], { env: { NO_PROXY: '' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /"path":"\/from-python"/);
  });

  test('Python urllib without credentials in the proxy URL gets the 407', async () => {
    const script = [
      'import ssl, urllib.request, urllib.error',
      `ctx = ssl.create_default_context(cafile=${JSON.stringify(certs.caFile)})`,
      `opener = urllib.request.build_opener(urllib.request.ProxyHandler({"https": "http://127.0.0.1:${h.port}"}), urllib.request.HTTPSHandler(context=ctx))`,
      'try:',
      '    opener.open("https://registry.example/x", timeout=20)',
      'except Exception as e:',
      '    print("refused", e)',
    ].join('\n');
    const r = await runTool('python3', ['-c', script]);
    assert.match(r.stdout, /refused.*407/);
  });

  test("undici's ProxyAgent (what Node agents use, since Node's fetch ignores HTTPS_PROXY): HTTPS through CONNECT", async () => {
    const agent = new ProxyAgent({ uri: h.proxyUrl(), requestTls: { ca: certs.caPem } });
    try {
      const res = await undiciFetch('https://registry.example/from-undici', { dispatcher: agent });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ok: true, path: '/from-undici', host: 'registry.example' });
    } finally {
      await agent.close();
    }
  });

  test('curl plain-HTTP GET through the proxy: recorded as http.request with the destination and the response status; the response is masked', async () => {
    const r = await runTool('curl', ['-sS', '-x', h.proxyUrl(), '-o', '/dev/null', '-w', '%{http_code}', 'http://api.example/tools.git/info/refs?service=git-upload-pack']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '200');
    const action = await waitForRecord(h, (rs) => rs.find((x) => x.type === 'action' && x.action?.kind === 'http.request' && x.action.attributes.host === 'api.example'));
    assert.equal(action.action!.attributes.destination, 'listed');
    assert.equal(action.action!.attributes.method, 'GET');
    const result = await waitForRecord(h, (rs) => rs.find((x) => x.type === 'result' && x.actionId === action.action!.id));
    assert.equal(HttpResponseResultDetail.parse(result.detail).status, 200);
  });

  test('plain HTTP to an unlisted public host is held with its host and port; once approved for the session the next request passes', async () => {
    const before = gitServer.requests.length;
    const first = runTool('curl', ['-sS', '-x', h.proxyUrl(), '-o', '/dev/null', '-w', '%{http_code}', 'http://held.example/tools.git/info/refs?service=git-upload-pack']);
    const held = await waitForApproval(h.daemon, /held\.example/);
    assert.equal(held.action.kind, 'http.request');
    assert.equal(held.action.attributes.destination, 'public');
    assert.equal(held.action.grantKey, 'held.example:80');
    assert.equal(gitServer.requests.length, before, 'nothing was forwarded while held');
    await h.approve(held.id, 'session');
    assert.equal((await first).stdout, '200');
    const second = await runTool('curl', ['-sS', '-x', h.proxyUrl(), '-o', '/dev/null', '-w', '%{http_code}', 'http://held.example/tools.git/HEAD']);
    assert.equal(second.stdout, '200');
  });

  test('an https:// URL in absolute form (no CONNECT) is refused with 400 saying to use CONNECT', async () => {
    const r = await runTool('curl', ['-sS', '-x', h.proxyUrl(), '--proxytunnel', '--no-proxytunnel', '--request-target', 'https://registry.example/x', 'http://registry.example/x']);
    assert.match(r.stdout, /use CONNECT registry\.example:443/);
    const raw = await new Promise<string>((resolve, reject) => {
      const s = net.connect(h.port, '127.0.0.1');
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString()));
      s.on('end', () => resolve(got));
      s.on('error', reject);
      s.write(`GET https://registry.example/x HTTP/1.1\r\nHost: registry.example\r\nProxy-Authorization: Bearer ${h.token}\r\nConnection: close\r\n\r\n`);
    });
    assert.match(raw, /^HTTP\/1\.1 400/);
    assert.match(raw, /use CONNECT/);
  });

  test('plain HTTP to a name that resolves inside is refused 403 under egress-internal, nothing forwarded', async () => {
    const before = gitServer.requests.length;
    const r = await runTool('curl', ['-sS', '-x', h.proxyUrl(), '-w', '\n%{http_code}', `http://localhost:${gitServer.port}/tools.git/info/refs`]);
    const status = r.stdout.slice(r.stdout.lastIndexOf('\n') + 1);
    assert.equal(status, '403');
    assert.equal((JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf('\n'))) as { rule: string }).rule, 'egress-internal');
    assert.equal(gitServer.requests.length, before);
  });
});
