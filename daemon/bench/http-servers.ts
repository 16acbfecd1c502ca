import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { startUpstream } from '../test/helpers/http-proxy.js';
import { createCertificateAuthority } from '../test/helpers/tls-certs.js';

/**
 * The HTTP benchmark's servers, run in a process of their own (as airlockd runs in its own), so the
 * load generator, the upstream and the proxies do not share one event loop: an HTTPS JSON upstream
 * (a small JSON document, and /big: BIG_BYTES of JSON records full of PII) and a plain Node
 * pass-through reverse proxy to it (http.request piping; no policy, masking or recording).
 * Prints one JSON line: { upstreamPort, passThroughPort, caPem }; exits when stdin closes.
 */

const SMALL_JSON = JSON.stringify({ id: 42, name: 'widget', tags: ['a', 'b'], price: 9.5, updated: '2026-12-05T00:00:00Z' });
const BIG_BYTES = Number(process.argv[2] ?? 100e6);

function record(i: number): string {
  return JSON.stringify({ id: i, name: `user ${i}`, email: `user${i}@example.com`, password: `pw-${i}-secret`, card: '4111 1111 1111 1111', note: 'lorem ipsum dolor sit amet' });
}

/** ~1 MB of records, made once and sent as often as needed: the upstream's cost stays out of the figure. */
const BLOCK = Buffer.from(Array.from({ length: 5000 }, (_, i) => record(i)).join(',') + ',');

const ca = await createCertificateAuthority();
const upstream = await startUpstream(
  async (req, res) => {
    if (req.url !== '/big') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(SMALL_JSON);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('[');
    for (let sent = 0; sent < BIG_BYTES; sent += BLOCK.length) {
      if (!res.write(BLOCK)) await new Promise<void>((r) => res.once('drain', () => r()));
    }
    res.end(record(-1) + ']');
  },
  { ca },
);
const agent = new https.Agent({ keepAlive: true, ca: ca.cert, maxSockets: 64 });
const passThrough = http.createServer((req, res) => {
  const up = https.request({ host: '127.0.0.1', port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${upstream.port}` }, agent }, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    upRes.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
});
await new Promise<void>((r) => passThrough.listen(0, '127.0.0.1', () => r()));
process.stdout.write(JSON.stringify({ upstreamPort: upstream.port, passThroughPort: (passThrough.address() as net.AddressInfo).port, caPem: ca.cert }) + '\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
