import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, startHttpProxy, startUpstream, type HttpProxyHarness, type TestUpstream } from '../helpers/http-proxy.js';
import { rawConnect, type RawConnection } from '../helpers/raw-http.js';
import { createCertificateAuthority } from '../helpers/tls-certs.js';

const POLICY = `version: 1
default: deny
rules:
  - id: uploads-allow
    decision: allow
    match:
      attributes:
        path: /upload
  - id: reads-allow
    decision: allow
    match:
      attributes:
        class: read
`;

const GiB = 1024 * 1024 * 1024;

/** Sends `total` bytes as a chunked body on a raw socket, with backpressure; resolves with the bytes the socket took (it stops when the socket closes). */
function sendChunked(conn: RawConnection, total: number, chunk: Buffer): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve(sent);
    };
    conn.socket.once('close', finish);
    const pump = (): void => {
      while (!done && sent < total && !conn.socket.destroyed) {
        const n = Math.min(chunk.length, total - sent);
        conn.socket.write(`${n.toString(16)}\r\n`);
        conn.socket.write(n === chunk.length ? chunk : chunk.subarray(0, n));
        const ok = conn.socket.write('\r\n');
        sent += n;
        if (!ok) {
          conn.socket.once('drain', pump);
          return;
        }
      }
      if (!done && sent >= total) conn.socket.write('0\r\n\r\n', () => finish());
    };
    pump();
  });
}

describe('http target: bad input (raw sockets), while other clients are served', () => {
  let upstream: TestUpstream;
  let h: HttpProxyHarness;
  let uploaded = 0;
  before(async () => {
    const ca = await createCertificateAuthority();
    upstream = await startUpstream(
      (req, res) => {
        if (req.url === '/upload') {
          let n = 0;
          req.on('data', (d: Buffer) => (n += d.length));
          req.on('end', () => {
            uploaded = n;
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ received: n }));
          });
          return;
        }
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"ok":true}');
        });
      },
      { ca, streaming: true },
    );
    h = await startHttpProxy({ upstream: upstream.url, caPem: ca.cert, policy: POLICY, limits: { authTimeout: '1s' } });
  });
  after(async () => {
    await h?.stop();
    await upstream?.close();
  });

  test('malformed request lines are answered 400 and closed', async () => {
    for (const bad of ['BLAH\r\n\r\n', 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 'GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n', 'GET / HTTP/9.9\r\nHost: a\r\n\r\n', 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n']) {
      const c = await rawConnect(h.port);
      c.socket.write(bad);
      await c.closed;
      assert.match(c.received(), /^HTTP\/1\.1 400 /, `${JSON.stringify(bad)} → ${c.received().slice(0, 80)}`);
      assert.match(c.received(), /"error":"airlock_bad_request"/);
    }
  });

  test('a request the model refuses (a dot segment) is a 400 JSON and the connection stays usable', async () => {
    const c = await rawConnect(h.port);
    c.socket.write(`GET /a/%2e%2e/admin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.token}\r\n\r\n`);
    await c.waitFor(/\r\n\r\n\{[^\n]*\}\n/);
    assert.match(c.received(), /^HTTP\/1\.1 400 /);
    c.socket.write(`GET /fine HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.token}\r\n\r\n`);
    await c.waitFor(/\{"ok":true\}/);
    c.socket.destroy();
  });

  test('a header flood: headers too large, or too many, is a 431', async () => {
    const large = await rawConnect(h.port);
    large.socket.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(200 * 1024)}\r\n\r\n`);
    await large.closed;
    assert.match(large.received(), /^HTTP\/1\.1 431 /);
    const many = await rawConnect(h.port);
    many.socket.write(`GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.token}\r\n${Array.from({ length: 1000 }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`);
    await many.closed;
    assert.match(many.received(), /^HTTP\/1\.1 431 /);
  });

  test('slowloris: a head dribbled byte by byte is closed after limits.authTimeout, while another client is served', async () => {
    const slow = await rawConnect(h.port);
    slow.socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const dribble = setInterval(() => {
      if (!slow.socket.destroyed) slow.socket.write('X');
    }, 100);
    try {
      const other = await request(`${h.url}/meanwhile`, { token: h.token });
      assert.equal(other.status, 200);
      await slow.closed;
    } finally {
      clearInterval(dribble);
    }
  });

  test('Expect: 100-continue: a refused upload is never invited; an allowed one is, then streams', async () => {
    const denied = await rawConnect(h.port);
    denied.socket.write(`POST /denied-upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.token}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
    await denied.waitFor(/^HTTP\/1\.1 \d{3}/);
    assert.match(denied.received(), /^HTTP\/1\.1 403 /, 'the refusal comes first, with no 100 Continue');
    denied.socket.destroy();
    const allowed = await rawConnect(h.port);
    allowed.socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.token}\r\nContent-Length: 5\r\nContent-Type: application/octet-stream\r\nExpect: 100-continue\r\n\r\n`);
    await allowed.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    allowed.socket.write('hello');
    await allowed.waitFor(/\{"received":5\}/);
    allowed.socket.destroy();
  });

  test('a 10 GB chunked upload to a denied path: 403 before the body is read, and closed', async () => {
    const c = await rawConnect(h.port);
    c.socket.write(`POST /denied-upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.token}\r\nTransfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n`);
    const sent = await sendChunked(c, 10 * GiB, Buffer.alloc(1024 * 1024, 0x61));
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 403 /);
    assert.ok(sent < 256 * 1024 * 1024, `only socket buffers were taken before the close (${sent} bytes)`);
  });

  test('a 10 GB chunked upload to an allowed path streams through with bounded daemon memory', async () => {
    const baseline = h.rss();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, h.rss())), 100);
    try {
      const c = await rawConnect(h.port);
      c.socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.token}\r\nTransfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n`);
      const sent = await sendChunked(c, 10 * GiB, Buffer.alloc(4 * 1024 * 1024, 0x62));
      assert.equal(sent, 10 * GiB, `the upload stopped: ${c.received().slice(0, 300)} ${h.daemon.output().slice(-1500)}`);
      await c.waitFor(/\{"received":\d+\}/);
      c.socket.destroy();
    } finally {
      clearInterval(sampler);
    }
    assert.equal(uploaded, 10 * GiB, 'the upstream received every byte');
    assert.ok(peak - baseline < 256 * 1024 * 1024, `daemon RSS grew by ${Math.round((peak - baseline) / 1048576)} MiB`);
  });
});
