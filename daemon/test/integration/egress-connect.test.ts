import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HttpConnectDetail, HttpTunnelResultDetail } from '@airlock/shared';
import { runTool } from '../helpers/daemon-harness.js';
import { basicAuth, makeTestCertificates, rawConnect, startEgressProxy, startHttpsServer, waitForApproval, waitForRecord, type EgressHarness, type TestCertificates } from '../helpers/egress-proxy.js';

/**
 * CONNECT through the real daemon with curl: listed hosts pass, other public hosts are held until a
 * person answers (a session grant covers that host and port only), refusals are 403 with the rule,
 * and missing or wrong proxy credentials get the 407 challenge curl needs. "Public" hosts are names
 * the test's resolver maps to public addresses; the daemon dials a loopback HTTPS server in their place.
 */

const PUBLIC = { registry: '192.0.2.14', other: '192.0.2.15', third: '192.0.2.16' };

describe('egress CONNECT: allow, hold, deny, time out (real daemon, curl)', () => {
  let dir: string;
  let certs: TestCertificates;
  let upstream: Awaited<ReturnType<typeof startHttpsServer>>;
  let h: EgressHarness;

  const curl = (url: string, extra: string[] = [], proxy = h.proxyUrl()) => runTool('curl', ['-sS', '--max-time', '20', '-x', proxy, '--cacert', certs.caFile, ...extra, url]);

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-egress-connect-'));
    certs = await makeTestCertificates(dir, { dns: ['registry.example', 'other.example', 'third.example', 'slow.example'], ips: ['127.0.0.1'] });
    upstream = await startHttpsServer(certs);
    const u = `127.0.0.1:${upstream.port}`;
    h = await startEgressProxy({
      allowHosts: ['registry.example:443'],
      names: { 'registry.example': [PUBLIC.registry], 'other.example': [PUBLIC.other], 'third.example': [PUBLIC.third], 'slow.example': [PUBLIC.third] },
      dial: { [`${PUBLIC.registry}:443`]: u, [`${PUBLIC.other}:443`]: u, [`${PUBLIC.third}:443`]: u, [`${PUBLIC.other}:8443`]: u },
      policy: `
version: 1
default: review
rules:
  - { id: slow-host-review, decision: review, timeout: 1s, match: { protocols: egress, attributes: { host: slow.example } } }
  - { id: egress-listed-allow, decision: allow, match: { protocols: egress, attributes: { destination: listed } } }
  - { id: egress-unlisted-review, decision: review, timeout: 60s, match: { protocols: egress, attributes: { destination: public } } }
`,
    });
  });
  after(async () => {
    await h?.stop();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a listed host is tunnelled at once: the HTTPS answer comes through, the action and its byte counts are recorded', async () => {
    const r = await curl('https://registry.example/bytes/200000', ['-o', '/dev/null', '-w', '%{http_code} %{size_download}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '200 200000');
    const action = await waitForRecord(h, (rs) => rs.find((x) => x.type === 'action' && x.action?.attributes.host === 'registry.example'));
    assert.equal(action.action!.kind, 'http.connect');
    assert.deepEqual(action.action!.attributes, { ...action.action!.attributes, host: 'registry.example', port: 443, destination: 'listed' });
    assert.equal(action.action!.grantKey, 'registry.example:443');
    const detail = HttpConnectDetail.parse(action.action!.detail);
    assert.deepEqual(detail.addresses, [PUBLIC.registry]);
    assert.equal(action.verdict?.allowed, true);
    const result = await waitForRecord(h, (rs) => rs.find((x) => x.type === 'result' && x.actionId === action.action!.id));
    const tunnel = HttpTunnelResultDetail.parse(result.detail);
    // the body and TLS framing came down; the TLS handshake and the request went up
    assert.ok(tunnel.bytesDown > 200_000, `bytesDown ${tunnel.bytesDown}`);
    assert.ok(tunnel.bytesUp > 100 && tunnel.bytesUp < 10_000, `bytesUp ${tunnel.bytesUp}`);
    assert.equal(tunnel.closedBy, 'agent');
    assert.equal(typeof result.durationMs, 'number');
  });

  test('another public host is held: nothing is connected until approved for the session; the same host:port then passes, another port or host is held again', async () => {
    const before = upstream.connections();
    const first = curl('https://other.example/first');
    const held = await waitForApproval(h.daemon, /other\.example:443/);
    assert.match(held.action.summary, /other\.example:443/);
    assert.equal(held.action.grantKey, 'other.example:443');
    assert.equal(held.action.attributes.destination, 'public');
    assert.equal(upstream.connections(), before, 'no byte flows while the CONNECT is held');
    await h.approve(held.id, 'session');
    const r1 = await first;
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /"path":"\/first"/);

    // the grant covers other.example:443: no new approval
    const r2 = await curl('https://other.example/second');
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, /"path":"\/second"/);
    const second = await waitForRecord(h, (rs) => rs.find((x) => x.type === 'action' && x.action?.summary.includes('other.example:443') && x.action.id !== held.action.id));
    const outcome = await waitForRecord(h, (rs) => rs.find((x) => x.type === 'outcome' && (x as { verdict?: { actionId?: string } }).verdict?.actionId === second.action!.id));
    assert.equal(outcome.verdict?.via, 'grant');

    // another port of the same host is not covered
    const otherPort = curl('https://other.example:8443/port');
    const heldPort = await waitForApproval(h.daemon, /other\.example:8443/);
    await h.deny(heldPort.id, 'not that port');
    const r3 = await otherPort;
    assert.notEqual(r3.code, 0);
    assert.match(r3.stderr, /CONNECT tunnel failed, response 403/);

    // nor is another host
    const third = curl('https://third.example/third');
    const heldThird = await waitForApproval(h.daemon, /third\.example:443/);
    await h.approve(heldThird.id, 'once');
    const r4 = await third;
    assert.equal(r4.code, 0, r4.stderr);
    assert.match(r4.stdout, /"path":"\/third"/);
  });

  test('denied by a person: 403 with X-Airlock-Decision, the rule and the reason in JSON; nothing was connected', async () => {
    const before = upstream.connections();
    const answer = rawConnect(h.port, 'third.example:443', { 'proxy-authorization': basicAuth(h.token) });
    const held = await waitForApproval(h.daemon, /third\.example:443/);
    await h.deny(held.id, 'no third parties today');
    const { status, head, body, socket } = await answer;
    socket.destroy();
    assert.equal(status, 403);
    assert.match(head, /x-airlock-decision: deny/i);
    const json = JSON.parse(body) as { error: string; rule: string; reason: string; action: string };
    assert.equal(json.error, 'airlock_policy');
    assert.equal(json.rule, 'egress-unlisted-review');
    assert.match(json.reason, /no third parties today/);
    assert.equal(json.action, held.action.id);
    assert.equal(upstream.connections(), before);
  });

  test('a held CONNECT nobody answers is refused when the approval times out, saying so', async () => {
    const r = await rawConnect(h.port, 'slow.example:443', { 'proxy-authorization': basicAuth(h.token) });
    r.socket.destroy();
    assert.equal(r.status, 403);
    const json = JSON.parse(r.body) as { rule: string; reason: string };
    assert.equal(json.rule, 'slow-host-review');
    assert.match(json.reason, /no decision within 1s/);
  });

  test('a held CONNECT whose agent goes away is cancelled: the approval ends and nothing is connected', async () => {
    const before = upstream.connections();
    const socket = net.connect(h.port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(`CONNECT third.example:443 HTTP/1.1\r\nHost: third.example:443\r\nProxy-Authorization: ${basicAuth(h.token)}\r\n\r\n`);
    const held = await waitForApproval(h.daemon, /third\.example:443/);
    socket.destroy();
    const deadline = Date.now() + 10_000;
    let status = 'pending';
    while (status === 'pending' && Date.now() < deadline) {
      status = ((await h.daemon.api('GET', `/v1/approvals/${held.id}`)).json as { approval: { status: string } }).approval.status;
      if (status === 'pending') await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(status, 'cancelled');
    assert.equal(upstream.connections(), before);
  });

  test('proxy credentials: none, a wrong token, a revoked session → 407 with the Basic challenge and a JSON reason; curl says 407', async () => {
    const none = await curl('https://registry.example/', [], `http://127.0.0.1:${h.port}`);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /response 407/);

    const wrong = await curl('https://registry.example/', [], h.proxyUrl('not-a-token'));
    assert.match(wrong.stderr, /response 407/);

    const raw = await rawConnect(h.port, 'registry.example:443');
    raw.socket.destroy();
    assert.equal(raw.status, 407);
    assert.match(raw.head, /proxy-authenticate: Basic realm="Airlock"/i);
    assert.match((JSON.parse(raw.body) as { reason: string }).reason, /proxy authentication required/);

    const bad = await rawConnect(h.port, 'registry.example:443', { 'proxy-authorization': basicAuth('wrong') });
    bad.socket.destroy();
    assert.equal(bad.status, 407);
    assert.match((JSON.parse(bad.body) as { reason: string }).reason, /unknown agent session token/);

    const revoked = await h.newSession('to-revoke');
    assert.equal((await h.daemon.api('DELETE', `/v1/agent-sessions/${revoked.id}`)).status, 200);
    const gone = await rawConnect(h.port, 'registry.example:443', { 'proxy-authorization': `Bearer ${revoked.token}` });
    gone.socket.destroy();
    assert.equal(gone.status, 407);
    assert.match((JSON.parse(gone.body) as { reason: string }).reason, /revoked/);

    const elsewhere = await h.daemon.api('POST', '/v1/agent-sessions', { name: 'db-only', targets: ['some-db'] });
    const limited = await rawConnect(h.port, 'registry.example:443', { 'proxy-authorization': basicAuth((elsewhere.json as { token: string }).token) });
    limited.socket.destroy();
    assert.equal(limited.status, 407);
    assert.match((JSON.parse(limited.body) as { reason: string }).reason, /may not use target "egress"/);

    // a token in Authorization (meant for an origin) is not a proxy credential
    const misplaced = await rawConnect(h.port, 'registry.example:443', { authorization: `Bearer ${h.token}` });
    misplaced.socket.destroy();
    assert.equal(misplaced.status, 407);

    const bearer = await rawConnect(h.port, 'registry.example:443', { 'proxy-authorization': `Bearer ${h.token}` });
    bearer.socket.destroy();
    assert.equal(bearer.status, 200, 'Bearer with the token is accepted too');
  });
});
