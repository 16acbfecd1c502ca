import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { HttpResponseResultDetail } from '@airlock/shared';
import { actionsAndResults, request, startHttpProxy, startUpstream, type HttpProxyHarness, type TestUpstream } from '../helpers/http-proxy.js';
import { createCertificateAuthority } from '../helpers/tls-certs.js';

const ALLOW_ALL = `version: 1
default: allow
rules: []
`;

describe('http target: an upstream that is down, slow, resetting or unverified', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test('an upstream that refuses connections: 502 JSON naming the target', async () => {
    const ca = await createCertificateAuthority();
    const gone = await startUpstream(() => undefined, { ca });
    await gone.close();
    const h = await startHttpProxy({ upstream: gone.url, caPem: ca.cert, policy: ALLOW_ALL });
    cleanups.push(() => h.stop());
    const res = await request(`${h.url}/x`, { token: h.token });
    assert.equal(res.status, 502);
    const json = JSON.parse(res.body) as { error: string; reason: string };
    assert.equal(json.error, 'airlock_upstream');
    assert.match(json.reason, /target "api": the upstream refused the connection/);
    const again = await request(`${h.url}/y`, { token: h.token });
    assert.equal(again.status, 502, 'the listener keeps serving');
  });

  test('an upstream that accepts TCP but never completes TLS: 504 after limits.connectTimeout', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as net.AddressInfo).port;
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });
    const h = await startHttpProxy({ upstream: `https://127.0.0.1:${port}`, policy: ALLOW_ALL, limits: { connectTimeout: '1s' } });
    cleanups.push(() => h.stop());
    const res = await request(`${h.url}/x`, { token: h.token });
    assert.equal(res.status, 504);
    assert.match(JSON.parse(res.body).reason, /connectTimeout/);
  });

  test('an upstream that resets mid-body: the agent response is aborted, not completed, and the error is recorded', async () => {
    const ca = await createCertificateAuthority();
    const resetting = await startUpstream(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"items":[' + '{"n":1},'.repeat(2000));
        setImmediate(() => res.socket?.destroy());
      },
      { ca },
    );
    cleanups.push(() => resetting.close());
    const h = await startHttpProxy({ upstream: resetting.url, caPem: ca.cert, policy: ALLOW_ALL });
    cleanups.push(() => h.stop());
    const outcome = await new Promise<string>((resolve) => {
      const req = http.get(`${h.url}/items`, { headers: { authorization: `Bearer ${h.token}` }, agent: false }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve(res.complete ? 'complete' : 'incomplete'));
        res.on('aborted', () => resolve('aborted'));
        res.on('error', () => resolve('aborted'));
      });
      req.on('error', () => resolve('aborted'));
    });
    assert.notEqual(outcome, 'complete', 'the agent can tell the body did not end');
    let result: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !result; i++) {
      result = actionsAndResults(await h.records()).find((p) => p.result)?.result;
      if (!result) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(result, 'the result is recorded');
    assert.match(String(result.error), /broke off|closed|terminated|socket/i);
    HttpResponseResultDetail.parse(result.detail);
  });

  test('an upstream whose certificate another CA signed: 502, and it never receives the credential', async () => {
    const trusted = await createCertificateAuthority('Trusted CA');
    const other = await createCertificateAuthority('Impostor CA');
    const impostor: TestUpstream = await startUpstream((_req, res) => void res.end('{}'), { ca: other });
    cleanups.push(() => impostor.close());
    let rawBytes = 0;
    impostor.server.on('secureConnection', (s: net.Socket) => s.on('data', (d: Buffer) => (rawBytes += d.length)));
    const h: HttpProxyHarness = await startHttpProxy({ upstream: impostor.url, caPem: trusted.cert, policy: ALLOW_ALL });
    cleanups.push(() => h.stop());
    const res = await request(`${h.url}/x`, { token: h.token });
    assert.equal(res.status, 502);
    assert.match(JSON.parse(res.body).reason, /certificate could not be verified/);
    assert.equal(impostor.seen.length, 0, 'no request reached the unverified server');
    assert.equal(rawBytes, 0, 'not one application byte (no Authorization) went to it');
  });
});
