import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { actionsAndResults, request, startHttpProxy, startUpstream, type HttpProxyHarness, type TestUpstream } from '../helpers/http-proxy.js';
import { createCertificateAuthority } from '../helpers/tls-certs.js';

const POLICY = `version: 1
default: allow
rules:
  - id: writes-allow
    decision: allow
    match:
      attributes:
        class: write
`;

/** Echoes what it got: the headers (with the credential), and a body carrying the secret. */
function echo(secret: () => string) {
  return (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    if (req.url === '/error') {
      res.writeHead(500, { 'content-type': 'application/json', 'x-debug-auth': req.headers.authorization ?? '' });
      res.end(JSON.stringify({ error: `bad credential ${secret()}`, sent: req.headers.authorization }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'upstream_session=s3cr3tcookie; Path=/' });
    res.end(JSON.stringify({ headers: req.headers, body: body.toString('utf8'), token: secret(), note: `your key is ${secret()}` }));
  };
}

for (const mode of [
  { auth: 'bearer', seen: (s: string) => ({ authorization: `Bearer ${s}` }) },
  { auth: 'header:X-Api-Key', seen: (s: string) => ({ 'x-api-key': s }) },
  { auth: 'basic', seen: (s: string) => ({ authorization: `Basic ${Buffer.from(s).toString('base64')}` }), secret: 'svc-user:pw-Hq72kLw9Xz' },
]) {
  describe(`http target credential injection (${mode.auth})`, () => {
    let upstream: TestUpstream;
    let h: HttpProxyHarness;
    const secret = mode.secret ?? 'sk-live-upstream-Zq8Vt3kLm2Np9Rw4';
    before(async () => {
      const ca = await createCertificateAuthority();
      upstream = await startUpstream(echo(() => secret), { ca });
      h = await startHttpProxy({ upstream: upstream.url, caPem: ca.cert, auth: mode.auth, secret, policy: POLICY });
    });
    after(async () => {
      await h?.stop();
      await upstream?.close();
    });

    test('the upstream sees the real credential; the agent sees neither it nor its token upstream', async () => {
      const res = await request(`${h.url}/v1/echo?x=1`, { token: h.token, headers: { 'x-custom': 'kept', cookie: 'agent=forged', 'x-forwarded-for': '6.6.6.6' } });
      assert.equal(res.status, 200);
      const last = upstream.seen.at(-1)!;
      for (const [k, v] of Object.entries(mode.seen(secret))) assert.equal(last.headers[k], v, `upstream got ${k}`);
      assert.equal(last.headers['x-custom'], 'kept');
      assert.equal(last.headers.cookie, undefined, "the agent's cookie is not forwarded");
      assert.equal(last.headers['x-forwarded-for'], undefined);
      assert.equal(last.headers['accept-encoding'], 'identity');
      assert.ok(!JSON.stringify(last.headers).includes(h.token), 'the session token never goes upstream');
      assert.equal(last.url, '/v1/echo?x=1');
      for (const form of [secret, ...secret.split(':').slice(1), Buffer.from(secret).toString('base64')]) assert.ok(!res.body.includes(form), `the response does not carry ${form}`);
      assert.equal(res.headers['set-cookie'], undefined, 'Set-Cookie is kept by the daemon');
      assert.ok(!res.body.includes('s3cr3tcookie'));
    });

    test('the daemon sends the upstream cookie back itself', async () => {
      await request(`${h.url}/v1/echo`, { token: h.token });
      await request(`${h.url}/v1/echo`, { token: h.token });
      assert.equal(upstream.seen.at(-1)!.headers.cookie, 'upstream_session=s3cr3tcookie');
    });

    test('an error body and headers echoing the credential are masked', async () => {
      const res = await request(`${h.url}/error`, { token: h.token });
      assert.equal(res.status, 500);
      assert.ok(!res.body.includes(secret.split(':').at(-1)!), res.body);
      assert.ok(!String(res.headers['x-debug-auth']).includes(secret.split(':').at(-1)!));
    });

    test('no record under the daemon home holds the credential', async () => {
      await request(`${h.url}/v1/echo`, { token: h.token, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hello: 'world' }) });
      const records = await h.records();
      const pairs = actionsAndResults(records);
      assert.ok(pairs.length >= 3);
      assert.ok(pairs.every((p) => p.result), 'every action has its result');
      for (const form of [secret.split(':').at(-1)!, Buffer.from(secret).toString('base64')]) assert.deepEqual(h.filesContaining(form), [], `no file holds ${form}`);
      assert.deepEqual(h.filesContaining(h.token), [], 'no file holds the session token');
    });

    test('a missing or wrong token is a 401 with a JSON reason and a Basic challenge; nothing reaches upstream', async () => {
      const before = upstream.seen.length;
      const missing = await request(`${h.url}/v1/echo`);
      assert.equal(missing.status, 401);
      assert.equal(missing.headers['www-authenticate'], 'Basic realm="Airlock"');
      assert.equal(JSON.parse(missing.body).error, 'airlock_auth');
      const wrong = await request(`${h.url}/v1/echo`, { token: 'not-a-token' });
      assert.equal(wrong.status, 401);
      assert.match(JSON.parse(wrong.body).reason, /unknown agent session token/);
      const basic = await request(`${h.url}/v1/echo`, { headers: { authorization: `Basic ${Buffer.from(`agent:${h.token}`).toString('base64')}` } });
      assert.equal(basic.status, 200, 'Basic with the token as password logs in');
      assert.equal(upstream.seen.length, before + 1);
    });
  });
}
