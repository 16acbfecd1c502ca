import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HttpRequestDetail } from '@airlock/shared';
import { actionsAndResults, startHttpProxy, startUpstream, type HttpProxyHarness, type TestUpstream } from '../helpers/http-proxy.js';
import { rawConnect } from '../helpers/raw-http.js';
import { createCertificateAuthority } from '../helpers/tls-certs.js';

const POLICY = `version: 1
default: deny
rules:
  - id: admin-deny
    decision: deny
    match:
      attributes:
        path: /admin/**
  - id: reads-allow
    decision: allow
    match:
      attributes:
        class: read
`;

/**
 * Requests an agent that wants through might send, as raw bytes. Each one is either refused (400,
 * 401, 403, 414, 431) with nothing reaching the upstream, or reaches it exactly as policy saw it:
 * the request line the upstream logged is the one the recorded action describes.
 */
const CASES: { name: string; raw: (token: string) => string; expect: 'refused' | 'consistent' | 'denied' }[] = [
  { name: 'traversal %2e%2e', raw: (t) => `GET /public/%2e%2e/admin/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'refused' },
  { name: 'plain ..', raw: (t) => `GET /public/../admin/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'refused' },
  { name: 'double-encoded %252e%252e', raw: (t) => `GET /public/%252e%252e/admin/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'refused' },
  { name: 'encoded letter /%61dmin', raw: (t) => `GET /%61dmin/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'denied' },
  { name: 'double slash //admin', raw: (t) => `GET //admin/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'refused' },
  { name: 'backslash', raw: (t) => `GET /public\\..\\admin/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'refused' },
  { name: 'case trick /ADMIN', raw: (t) => `GET /ADMIN/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'consistent' },
  { name: 'X-HTTP-Method-Override on a GET', raw: (t) => `GET /items/1 HTTP/1.1\r\nHost: x\r\nX-HTTP-Method-Override: DELETE\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'denied' },
  { name: '_method=DELETE in the query', raw: (t) => `GET /items/1?_method=DELETE HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'denied' },
  { name: 'lower-case method get', raw: (t) => `get /items/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'refused' },
  { name: 'Transfer-Encoding chunked and Content-Length', raw: (t) => `POST /items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\nGET /admin/users HTTP/1.1\r\nHost: x\r\n\r\n`, expect: 'refused' },
  { name: 'Transfer-Encoding xchunked', raw: (t) => `POST /items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, expect: 'refused' },
  { name: 'two different Content-Length', raw: (t) => `POST /items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nContent-Length: 0\r\nContent-Length: 30\r\n\r\nGET /admin/users HTTP/1.1\r\n\r\n`, expect: 'refused' },
  { name: 'absolute-form target on an API listener', raw: (t) => `GET http://evil.example/admin/users HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'refused' },
  { name: 'Host pointing elsewhere', raw: (t) => `GET /items/host HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'consistent' },
  { name: 'CR inside a header value', raw: (t) => `GET /items/cr HTTP/1.1\r\nHost: x\r\nX-A: a\rGET /admin\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'refused' },
  { name: 'obsolete line folding', raw: (t) => `GET /items/fold HTTP/1.1\r\nHost: x\r\nX-A: a\r\n Authorization: Bearer other\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'refused' },
  { name: 'two Authorization headers (a smuggled credential)', raw: (t) => `GET /items/2 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nAuthorization: Basic Zm9vOmJhcg==\r\n\r\n`, expect: 'refused' },
  { name: 'Proxy-Authorization and X-Forwarded-Host passed along', raw: (t) => `GET /items/3 HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nX-Forwarded-Host: evil.example\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'consistent' },
  { name: 'a Connection header naming the credential header', raw: (t) => `GET /items/4 HTTP/1.1\r\nHost: x\r\nConnection: authorization, x-keep\r\nX-Keep: 1\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'consistent' },
  { name: 'query with an encoded ampersand and a plus', raw: (t) => `GET /items?q=a%26admin%3D1&r=a+b HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'consistent' },
  { name: 'a NUL in the path', raw: (t) => `GET /items/%00/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`, expect: 'refused' },
];

describe('http target: adversarial requests — refused, or the upstream executes what policy saw', () => {
  let upstream: TestUpstream;
  let h: HttpProxyHarness;
  before(async () => {
    const ca = await createCertificateAuthority();
    upstream = await startUpstream(
      (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ url: req.url }));
      },
      { ca },
    );
    h = await startHttpProxy({ upstream: upstream.url, caPem: ca.cert, policy: POLICY });
  });
  after(async () => {
    await h?.stop();
    await upstream?.close();
  });

  for (const c of CASES) {
    test(c.name, async () => {
      const before = upstream.seen.length;
      const conn = await rawConnect(h.port);
      conn.socket.write(c.raw(h.token));
      const text = await conn.waitFor(/^HTTP\/1\.1 \d{3}[^]*?\r\n\r\n/);
      // let any smuggled second request arrive, if the framing let one through
      await new Promise((r) => setTimeout(r, 100));
      conn.socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)![1]);
      const reached = upstream.seen.slice(before);
      if (c.expect === 'refused') {
        assert.ok([400, 401, 403, 414, 431].includes(status), `refused, got ${status}: ${text.slice(0, 300)}`);
        assert.equal(reached.length, 0, `nothing reached the upstream: ${reached.map((r) => r.url).join(', ')}`);
        return;
      }
      if (c.expect === 'denied') {
        assert.equal(status, 403, text.slice(0, 300));
        assert.equal(reached.length, 0);
        return;
      }
      assert.equal(status, 200, text.slice(0, 300));
      assert.equal(reached.length, 1, 'exactly one request reached the upstream');
      const seen = reached[0]!;
      const action = actionsAndResults(await h.records()).at(-1)!.action;
      const detail = HttpRequestDetail.parse(action.detail);
      assert.equal(`${upstream.url}${seen.url}`, detail.url, 'the upstream executed the URL policy saw');
      assert.equal(seen.url.split('?')[0], detail.path.replace(/[^A-Za-z0-9/._~!$&'()*+,;=:@%-]/g, (ch) => encodeURIComponent(ch)), 'path as matched');
      assert.equal(seen.headers.host, `127.0.0.1:${upstream.port}`, "the upstream's own Host");
      assert.equal(seen.headers.authorization, `Bearer ${h.secret}`, 'only the real credential');
      assert.equal(seen.headers['proxy-authorization'], undefined);
      assert.equal(seen.headers['x-forwarded-host'], undefined);
      for (const [k, v] of Object.entries(detail.headers)) if (k !== 'host') assert.deepEqual(seen.headers[k], Array.isArray(v) ? v.join(', ') : v, `header ${k} as recorded`);
    });
  }
});
