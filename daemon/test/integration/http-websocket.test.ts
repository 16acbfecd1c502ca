import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { HttpTunnelResultDetail, HttpWebsocketDetail } from '@airlock/shared';
import { actionsAndResults, startHttpProxy, startUpstream, type HttpProxyHarness, type TestUpstream } from '../helpers/http-proxy.js';
import { pendingApproval } from '../helpers/daemon-harness.js';
import { createCertificateAuthority, type CertificateAuthority } from '../helpers/tls-certs.js';

const ALLOW_WS = `version: 1
default: review
rules:
  - id: ws-allow
    decision: allow
    match:
      kinds: http.websocket
      attributes:
        path: /ws
`;

/** Opens a WebSocket through the proxy; resolves with the socket, or with the refusal's status and body. */
function connect(url: string, token: string): Promise<{ ws?: WebSocket; status?: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res: http.IncomingMessage) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    ws.once('error', reject);
  });
}

describe('http target: WebSocket upgrades (ws client and server)', () => {
  let ca: CertificateAuthority;
  let upstream: TestUpstream;
  const upgrades: http.IncomingHttpHeaders[] = [];
  before(async () => {
    ca = await createCertificateAuthority();
    upstream = await startUpstream((_req, res) => void res.end('{}'), { ca });
    const wss = new WebSocketServer({ noServer: true });
    upstream.server.on('upgrade', (req: http.IncomingMessage, socket, head) => {
      upgrades.push(req.headers);
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data: Buffer) => ws.send(`echo:${data.toString()}`)));
    });
  });
  after(async () => {
    await upstream?.close();
  });

  describe('under the default policy', () => {
    let h: HttpProxyHarness;
    before(async () => {
      h = await startHttpProxy({ upstream: upstream.url, caPem: ca.cert });
    });
    after(async () => h?.stop());

    test('an upgrade is refused with 403 by websocket-deny; nothing reaches the upstream', async () => {
      const before = upgrades.length;
      const r = await connect(`ws://127.0.0.1:${h.port}/ws`, h.token);
      assert.equal(r.status, 403);
      assert.equal(JSON.parse(r.body!).rule, 'websocket-deny');
      assert.equal(upgrades.length, before);
    });
  });

  describe('with a rule allowing it', () => {
    let h: HttpProxyHarness;
    before(async () => {
      h = await startHttpProxy({ upstream: upstream.url, caPem: ca.cert, policy: ALLOW_WS });
    });
    after(async () => h?.stop());

    test('frames pass both ways, the upstream gets the credential, bytes are recorded', async () => {
      const { ws } = await connect(`ws://127.0.0.1:${h.port}/ws`, h.token);
      assert.ok(ws);
      assert.equal(upgrades.at(-1)!.authorization, `Bearer ${h.secret}`);
      const replies: string[] = [];
      for (const m of ['one', 'two']) {
        const reply = new Promise<string>((r) => ws.once('message', (d: Buffer) => r(d.toString())));
        ws.send(m);
        replies.push(await reply);
      }
      assert.deepEqual(replies, ['echo:one', 'echo:two']);
      await new Promise<void>((r) => {
        ws.once('close', () => r());
        ws.close();
      });
      let pair: ReturnType<typeof actionsAndResults>[number] | undefined;
      for (let i = 0; i < 100 && !pair; i++) {
        pair = actionsAndResults(await h.records()).find((p) => p.action.kind === 'http.websocket' && p.result);
        if (!pair) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(pair);
      HttpWebsocketDetail.parse(pair.action.detail);
      const result = HttpTunnelResultDetail.parse(pair.result!.detail);
      assert.equal(result.status, 101);
      assert.ok(result.bytesUp > 6 && result.bytesDown > 16, JSON.stringify(result));
    });

    test('an upgrade on a path no rule allows is held, not passed', async () => {
      const before = upgrades.length;
      const pending = connect(`ws://127.0.0.1:${h.port}/other`, h.token);
      const approval = await pendingApproval(h.daemon);
      await h.daemon.api('POST', `/v1/approvals/${approval.id}/deny`, { by: 'alice', via: 'api', reason: 'no' });
      assert.equal((await pending).status, 403);
      assert.equal(upgrades.length, before);
    });
  });
});
