import assert from 'node:assert/strict';
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { HttpResponseResultDetail } from '@airlock/shared';
import { actionsAndResults, request, startHttpProxy, startUpstream, type HttpProxyHarness, type TestUpstream } from '../helpers/http-proxy.js';
import { createCertificateAuthority } from '../helpers/tls-certs.js';

const POLICY = `version: 1
default: allow
rules: []
`;

const PII_JSON = JSON.stringify({ users: [{ name: 'Jane', email: 'jane.doe@example.com', password: 'hunter2-Very-Secret', card: '4111 1111 1111 1111' }], apiKey: 'ak_live_abcdefghijklmnop' });

/** Resolved by the test when the agent got the first SSE event; the server sends the second only then. */
let firstEventSeen: () => void = () => undefined;

describe('http target: masking across chunks, gzip, and SSE streamed per event', () => {
  let upstream: TestUpstream;
  let h: HttpProxyHarness;
  before(async () => {
    const ca = await createCertificateAuthority();
    upstream = await startUpstream(
      async (req, res) => {
        if (req.url === '/split' || req.url === '/split-chunked') {
          res.writeHead(200, { 'content-type': 'application/json', etag: '"abc"', ...(req.url === '/split' ? { 'content-length': Buffer.byteLength(PII_JSON) } : {}) });
          for (const byte of Buffer.from(PII_JSON)) {
            res.write(Buffer.of(byte));
            await new Promise((r) => setImmediate(r));
          }
          res.end();
        } else if (req.url === '/gzip') {
          // ignores Accept-Encoding: identity
          const body = gzipSync(PII_JSON);
          res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length });
          res.end(body);
        } else if (req.url === '/events') {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
          const gate = new Promise<void>((r) => (firstEventSeen = r));
          res.write('event: token\ndata: {"text":"first","email":"jane.doe@example.com"}\n\n');
          await gate;
          res.write('event: token\ndata: {"text":"second"}\n\n');
          res.end();
        } else {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end('{}');
        }
      },
      { ca },
    );
    h = await startHttpProxy({ upstream: upstream.url, caPem: ca.cert, policy: POLICY });
  });
  after(async () => {
    await h?.stop();
    await upstream?.close();
  });

  for (const path of ['/split', '/split-chunked']) {
  test(`JSON written byte by byte is masked whole (${path}); the upstream's length and ETag are not passed`, async () => {
    const res = await request(`${h.url}${path}`, { token: h.token });
    assert.equal(res.status, 200);
    if (path === '/split') assert.equal(res.headers['content-length'], String(Buffer.byteLength(res.body)), 'a small body goes whole with its masked length');
    else assert.equal(res.headers['transfer-encoding'], 'chunked', 'a body of unknown length streams');
    assert.equal(res.headers.etag, undefined);
    const body = JSON.parse(res.body) as { users: { name: string; email: string; password: string; card: string }[]; apiKey: string };
    assert.equal(body.users[0]!.name, 'Jane');
    for (const leaked of ['jane.doe@example.com', 'hunter2-Very-Secret', '4111 1111 1111 1111', 'ak_live_abcdefghijklmnop']) assert.ok(!res.body.includes(leaked), `${leaked} is masked`);
  });
  }

  test('a gzip body the upstream sent anyway is decoded, masked and sent as identity', async () => {
    const res = await request(`${h.url}/gzip`, { token: h.token, headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(upstream.seen.at(-1)!.headers['accept-encoding'], 'identity');
    const body = JSON.parse(res.body) as { users: { name: string }[] };
    assert.equal(body.users[0]!.name, 'Jane');
    assert.ok(!res.body.includes('hunter2-Very-Secret'));
    const result = actionsAndResults(await h.records()).map((p) => p.result).filter(Boolean).at(-1)!;
    const detail = HttpResponseResultDetail.parse(result.detail);
    assert.equal(detail.decoded, 'gzip');
    assert.ok(!JSON.stringify(detail).includes('hunter2-Very-Secret'));
  });

  test('SSE: the agent gets event 1 before the upstream sends event 2, masked', async () => {
    const events: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${h.url}/events`, { headers: { authorization: `Bearer ${h.token}`, accept: 'text/event-stream' }, agent: false }, (res) => {
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let end: number;
          while ((end = buffered.indexOf('\n\n')) >= 0) {
            events.push(buffered.slice(0, end));
            buffered = buffered.slice(end + 2);
            if (events.length === 1) firstEventSeen();
          }
        });
        res.on('end', () => resolve());
        res.on('error', reject);
      });
      req.on('error', reject);
    });
    assert.equal(events.length, 2);
    assert.match(events[0]!, /"text":"first"/);
    assert.ok(!events[0]!.includes('jane.doe@example.com'), 'the event is masked');
    assert.match(events[1]!, /"text":"second"/);
  });
});
