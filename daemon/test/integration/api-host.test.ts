import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { runCli, startDaemon, tempHome, type RunningDaemon } from '../helpers/daemon-process.js';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request over a raw socket to the daemon's address, with whatever Host a DNS-rebinding page would send. */
function raw(daemon: RunningDaemon, options: { method?: string; path: string; host: string; headers?: Record<string, string> }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: daemon.info.host, port: daemon.info.port, method: options.method ?? 'GET', path: options.path, headers: { host: options.host, ...options.headers }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        // an event stream never ends: what arrived first is enough
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          res.once('data', (chunk: string) => {
            body += chunk;
            req.destroy();
            done();
          });
          return;
        }
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', done);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const corsHeaders = (headers: http.IncomingHttpHeaders) => Object.keys(headers).filter((h) => h.startsWith('access-control-'));

describe('control API: only requests addressed to this daemon, no CORS', () => {
  const home = tempHome();
  let daemon: RunningDaemon;
  before(async () => {
    daemon = await startDaemon(home.dir);
  });
  after(async () => {
    await daemon.stop();
    home.cleanup();
  });

  test('a forged Host is refused on every route, /v1/health and the event stream included', async () => {
    const port = daemon.info.port;
    const auth = { authorization: `Bearer ${daemon.info.token}` };
    for (const [path, headers] of [
      ['/v1/health', {}],
      ['/v1/status', auth],
      ['/v1/events', { ...auth, accept: 'text/event-stream' }],
    ] as const) {
      for (const host of ['rebind.example', `rebind.example:${port}`, `localhost:${port + 1}`, `127.0.0.1.nip.io:${port}`]) {
        const res = await raw(daemon, { path, host, headers });
        assert.equal(res.status, 421, `${path} with Host ${host}`);
        assert.match(String(res.headers['content-type']), /^application\/json/);
        const { error } = JSON.parse(res.body) as { error: string };
        assert.equal(error, `the control API answers only requests addressed to localhost, 127.0.0.1, [::1] (with its port or none), not to Host "${host}": a web page reaching it through another name is refused`);
        assert.deepEqual(corsHeaders(res.headers), []);
      }
    }
  });

  test('the loopback names, with the port or without, are answered', async () => {
    const port = daemon.info.port;
    for (const host of ['localhost', `localhost:${port}`, '127.0.0.1', `127.0.0.1:${port}`, `[::1]:${port}`]) {
      const res = await raw(daemon, { path: '/v1/health', host, headers: { origin: 'http://rebind.example' } });
      assert.equal(res.status, 200, host);
      assert.equal((JSON.parse(res.body) as { ok: boolean }).ok, true);
      assert.deepEqual(corsHeaders(res.headers), [], 'no CORS headers, even when asked from an origin');
    }
    const stream = await raw(daemon, { path: '/v1/events', host: `127.0.0.1:${port}`, headers: { authorization: `Bearer ${daemon.info.token}`, accept: 'text/event-stream' } });
    assert.equal(stream.status, 200);
    assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
  });

  test('a CORS preflight gets no allowance', async () => {
    for (const path of ['/v1/health', '/v1/approvals/x/approve', '/v1/test/actions']) {
      const res = await raw(daemon, {
        method: 'OPTIONS',
        path,
        host: `127.0.0.1:${daemon.info.port}`,
        headers: { origin: 'http://rebind.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
      assert.equal(res.status, 405, path);
      assert.deepEqual(corsHeaders(res.headers), []);
      assert.match((JSON.parse(res.body) as { error: string }).error, /answers no CORS preflight/);
    }
  });

  test("the CLI's own requests (the host from daemon.json) still pass", async () => {
    const status = await runCli(home.dir, ['status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const sessions = await runCli(home.dir, ['session', 'list', '--json']);
    assert.equal(sessions.code, 0, sessions.stderr);
  });
});
