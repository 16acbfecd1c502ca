import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { request, startHttpProxy, startUpstream, type HttpProxyHarness, type TestUpstream } from '../helpers/http-proxy.js';
import { rawConnect } from '../helpers/raw-http.js';
import { pendingApproval } from '../helpers/daemon-harness.js';
import { createCertificateAuthority } from '../helpers/tls-certs.js';

const POLICY = `version: 1
default: review
rules:
  - id: reads-allow
    decision: allow
    match:
      attributes:
        class: read
`;

describe('http target: connection caps, failed-login floods, cancelled holds, one session per connection', () => {
  let upstream: TestUpstream;
  let h: HttpProxyHarness;
  before(async () => {
    const ca = await createCertificateAuthority();
    upstream = await startUpstream(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      },
      { ca },
    );
    h = await startHttpProxy({ upstream: upstream.url, caPem: ca.cert, policy: POLICY, limits: { maxConnections: 3, maxConnectionsPerSession: 3 } });
  });
  after(async () => {
    await h?.stop();
    await upstream?.close();
  });

  test('failed logins on one connection: each is a 401, then the connection is closed', async () => {
    const c = await rawConnect(h.port);
    for (let i = 0; i < 10 && !c.socket.destroyed; i++) {
      c.socket.write(`GET /x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong-${i}\r\n\r\n`);
      await c.waitFor(new RegExp(`(HTTP/1\\.1 401[^]*){${i + 1}}`)).catch(() => undefined);
    }
    await c.closed;
    const answers = c.received().match(/HTTP\/1\.1 401 /g) ?? [];
    assert.ok(answers.length >= 1 && answers.length < 10, `closed after ${answers.length} failures`);
    assert.equal(upstream.seen.filter((r) => r.url === '/x').length, 0);
  });

  test('a connection logged in as one session refuses another session token', async () => {
    const other = await h.newSession('second');
    const c = await rawConnect(h.port);
    c.socket.write(`GET /a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.token}\r\n\r\n`);
    await c.waitFor(/\{"ok":true\}/);
    c.socket.write(`GET /b HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${other.token}\r\n\r\n`);
    await c.closed;
    assert.match(c.received(), /HTTP\/1\.1 401 [^]*carries agent session/);
    assert.equal(upstream.seen.filter((r) => r.url === '/b').length, 0);
  });

  test('an agent that disconnects while its request is held cancels the approval, and nothing goes upstream', async () => {
    const before = upstream.seen.length;
    const req = http.request(`${h.url}/items`, { method: 'POST', headers: { authorization: `Bearer ${h.token}`, 'content-type': 'application/json' }, agent: false });
    req.on('error', () => undefined);
    req.end('{"a":1}');
    const approval = await pendingApproval(h.daemon);
    req.destroy();
    let status = 'pending';
    for (let i = 0; i < 200 && status === 'pending'; i++) {
      const found = ((await h.daemon.api('GET', `/v1/approvals/${approval.id}`)).json as { approval?: { status: string } }).approval;
      status = found?.status ?? 'gone';
      if (status === 'pending') await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 'cancelled');
    assert.equal(upstream.seen.length, before);
    assert.equal((await request(`${h.url}/after`, { token: h.token })).status, 200, 'the listener keeps serving');
  });
  test('over limits.maxConnections a connection is answered 503 and closed; the open ones keep working', async () => {
    const open = await Promise.all([rawConnect(h.port), rawConnect(h.port), rawConnect(h.port)]);
    const extra = await rawConnect(h.port);
    await extra.closed;
    assert.match(extra.received(), /^HTTP\/1\.1 503 /);
    assert.match(extra.received(), /limits\.maxConnections/);
    open[0]!.socket.write(`GET /ok HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.token}\r\n\r\n`);
    await open[0]!.waitFor(/\{"ok":true\}/);
    for (const c of open) c.socket.destroy();
    await Promise.all(open.map((c) => c.closed));
  });
});
