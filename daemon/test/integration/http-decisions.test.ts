import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HttpResponseResultDetail, HttpRequestDetail } from '@airlock/shared';
import { actionsAndResults, request, startHttpProxy, startUpstream, type HttpProxyHarness, type TestUpstream } from '../helpers/http-proxy.js';
import { pendingApproval } from '../helpers/daemon-harness.js';
import { createCertificateAuthority } from '../helpers/tls-certs.js';

const POLICY = `version: 1
default: review
rules:
  - id: no-admin
    decision: deny
    match:
      kinds: http.request
      attributes:
        path: /admin/**
  - id: quick-timeout
    decision: review
    timeout: 1s
    match:
      attributes:
        path: /slow-approval
  - id: items-write-review
    decision: review
    match:
      attributes:
        class: write
        path: /items/**
  - id: reads-allow
    decision: allow
    match:
      attributes:
        class: read
`;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('http target: decisions through real clients (curl, Node fetch, Python urllib)', () => {
  let upstream: TestUpstream;
  let h: HttpProxyHarness;
  before(async () => {
    const ca = await createCertificateAuthority();
    upstream = await startUpstream(
      (req, res, body) => {
        res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ method: req.method, url: req.url, got: body.toString('utf8'), user: { email: 'jane.doe@example.com', password: 'hunter2-Very-Secret' } }));
      },
      { ca },
    );
    h = await startHttpProxy({ upstream: upstream.url, caPem: ca.cert, policy: POLICY });
  });
  after(async () => {
    await h?.stop();
    await upstream?.close();
  });

  test('curl GET with Bearer and with -u agent:TOKEN; the response body is masked', async () => {
    const r = await run('curl', ['-sS', '-H', `Authorization: Bearer ${h.token}`, `${h.url}/items/1`]);
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout) as { method: string; user: { password: string } };
    assert.equal(body.method, 'GET');
    assert.notEqual(body.user.password, 'hunter2-Very-Secret', 'the password value is masked');
    const basic = await run('curl', ['-sS', '-u', `agent:${h.token}`, `${h.url}/items/2`]);
    assert.equal(JSON.parse(basic.stdout).url, '/items/2');
  });

  test('Node fetch (undici) and Python urllib reach the upstream', async () => {
    const res = await fetch(`${h.url}/items?limit=2`, { headers: { authorization: `Bearer ${h.token}` } });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { url: string }).url, '/items?limit=2');
    const script = path.join(h.home, 'client.py');
    writeFileSync(script, `import json, sys, urllib.request\nreq = urllib.request.Request(sys.argv[1], headers={'Authorization': 'Bearer ' + sys.argv[2]})\nprint(json.loads(urllib.request.urlopen(req).read())['url'])\n`);
    const py = await run('python3', [script, `${h.url}/items/py`, h.token]);
    assert.equal(py.code, 0, py.stderr);
    assert.equal(py.stdout.trim(), '/items/py');
  });

  test('a denied request is a 403 with X-Airlock-Decision and the rule; the upstream never sees it', async () => {
    const before = upstream.seen.length;
    const r = await run('curl', ['-sS', '-i', '-H', `Authorization: Bearer ${h.token}`, `${h.url}/admin/users`]);
    assert.match(r.stdout, /^HTTP\/1\.1 403/);
    assert.match(r.stdout, /x-airlock-decision: deny/i);
    const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { error: string; rule: string; reason: string; action: string };
    assert.equal(json.error, 'airlock_policy');
    assert.equal(json.rule, 'no-admin');
    assert.ok(json.action);
    assert.equal(upstream.seen.length, before);
  });

  test('a held POST (curl --json) waits, its body unread, then goes upstream once approved', async () => {
    const before = upstream.seen.length;
    const running = run('curl', ['-sS', '-H', `Authorization: Bearer ${h.token}`, '-H', 'content-type: application/json', '--data', '{"name":"widget","token":"tok_abcdefghijklmnop1234"}', `${h.url}/items/new`]);
    const approval = await pendingApproval(h.daemon);
    assert.equal(upstream.seen.length, before, 'nothing went upstream while held');
    const detail = HttpRequestDetail.parse((approval as unknown as { action: { detail: unknown } }).action.detail);
    assert.equal(detail.method, 'POST');
    assert.equal(detail.path, '/items/new');
    assert.ok(detail.body?.text?.includes('widget'), 'the approval shows the body');
    assert.ok(!detail.body?.text?.includes('tok_abcdefghijklmnop1234'), 'masked in the approval');
    assert.equal((await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, { by: 'alice', via: 'api' })).status, 200);
    const r = await running;
    assert.equal(upstream.seen.at(-1)!.body.toString(), '{"name":"widget","token":"tok_abcdefghijklmnop1234"}', 'the upstream got the body as sent');
    assert.ok(!r.stdout.includes('tok_abcdefghijklmnop1234'), 'its echo back is masked');
  });

  test('a held request that is denied is a 403; one that times out is a 403 saying so', async () => {
    const running = request(`${h.url}/items/x`, { token: h.token, method: 'DELETE' });
    const approval = await pendingApproval(h.daemon);
    await h.daemon.api('POST', `/v1/approvals/${approval.id}/deny`, { by: 'alice', via: 'api', reason: 'not today' });
    const denied = await running;
    assert.equal(denied.status, 403);
    assert.equal(JSON.parse(denied.body).error, 'airlock_policy');
    const timedOut = await request(`${h.url}/slow-approval`, { token: h.token, method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(timedOut.status, 403);
    const json = JSON.parse(timedOut.body) as { rule: string; reason: string };
    assert.equal(json.rule, 'quick-timeout');
    assert.match(json.reason, /no decision within 1s/);
  });

  test('each request is recorded with its typed detail and result', async () => {
    const pairs = actionsAndResults(await h.records());
    const allowed = pairs.filter((p) => p.result && p.action.kind === 'http.request');
    assert.ok(allowed.length >= 4);
    for (const p of allowed) {
      HttpRequestDetail.parse(p.action.detail);
      const result = HttpResponseResultDetail.parse(p.result!.detail);
      assert.ok(result.status);
    }
    const post = allowed.find((p) => (p.action.detail as { path: string }).path === '/items/new')!;
    const result = HttpResponseResultDetail.parse(post.result!.detail);
    assert.equal(result.status, 201);
    assert.ok(result.requestBytes > 0);
    assert.ok(!JSON.stringify(result).includes('hunter2-Very-Secret'), 'the recorded response body is masked');
  });
});
