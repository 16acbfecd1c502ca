import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { KubeConfig, PortForward } from '@kubernetes/client-node';
import { K8sPortForwardDetail, K8sPortForwardResultDetail } from '@airlock/shared';
import { startK8sProxy, type K8sProxyHarness } from '../helpers/k8s-proxy.js';
import { kubectlFor, type Kubectl, type KubectlStream } from '../helpers/kubectl.js';
import { freePort } from '../helpers/pg-cluster.js';
import { pendingApproval } from '../helpers/daemon-harness.js';
import { SpdyFrameReader, SpdyFrameWriter, type SpdyFrame } from '../../src/proxies/kubernetes/streams/spdy/frames.js';

/**
 * kubectl port-forward through the real daemon: Debian's kubectl 1.32 speaks SPDY/3.1 (inside a
 * WebSocket as SPDY/3.1+portforward.k8s.io, or plain with KUBECTL_PORT_FORWARD_WEBSOCKETS=false) to
 * the Kubernetes listener, which terminates it and opens one v4.channel.k8s.io WebSocket per
 * forwarded connection to the in-test fake API server (no real API server can run here;
 * fake-kube-portforward.ts connects the pod's port to an echo server this test runs).
 */

const POLICY = JSON.stringify({
  rules: [
    { id: 'held-pod', decision: 'review', timeout: '30s', match: { kinds: 'k8s.portforward', attributes: { name: 'held-pod' } } },
    { id: 'no-ssh-forward', decision: 'deny', match: { kinds: 'k8s.portforward', attributes: { ports: '22' } } },
    { id: 'forward-allowed', decision: 'allow', match: { kinds: 'k8s.portforward' } },
    { id: 'reads', decision: 'allow', match: { kinds: 'k8s.request', attributes: { class: 'read' } } },
  ],
});

const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image: 'nginx:1.27', ports: [{ containerPort: 8080 }] }] }, status: { phase: 'Running' } });

interface Paired {
  action: { id: string; summary: string; detail: unknown; attributes?: Record<string, unknown> };
  result?: { detail: unknown; error?: string };
}

async function forwardRecords(h: K8sProxyHarness): Promise<Paired[]> {
  const bodies = (await h.records()).map((r) => (r.body ?? r) as Record<string, unknown>);
  return bodies
    .filter((b) => b.type === 'action' && (b.action as { kind?: string }).kind === 'k8s.portforward')
    .map((b) => {
      const action = b.action as Paired['action'];
      const result = bodies.find((r) => r.type === 'result' && r.actionId === action.id) as Paired['result'] | undefined;
      return { action, ...(result ? { result } : {}) };
    });
}

async function until<T>(probe: () => Promise<T | undefined>, what: string | (() => string), timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends `text` on a new connection to the forwarded port and reads until as many bytes came back. */
function echoOnce(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      got += d;
      if (got.length >= text.length) {
        socket.end();
        resolve(got);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      if (got.length < text.length) reject(new Error(`the connection closed after ${JSON.stringify(got)}`));
    });
    socket.write(text);
  });
}

/** Connects, sends a line, and resolves with what came back before the connection closed. */
function sendAndCollect(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (got += d));
    socket.on('error', () => resolve(got));
    socket.on('close', () => resolve(got));
    socket.write(text);
  });
}

async function startForward(kubectl: Kubectl, args: string[], env?: Record<string, string>): Promise<{ stream: KubectlStream; port: number }> {
  const port = await freePort();
  const stream = kubectl.stream(['--context', 'staging', 'port-forward', '--address', '127.0.0.1', ...args.map((a) => a.replace('LOCAL', String(port)))], env ? { env } : {});
  await stream.waitFor(new RegExp(`Forwarding from 127\\.0\\.0\\.1:${port}`));
  return { stream, port };
}

function stop(stream: KubectlStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.child.exitCode !== null || stream.child.signalCode !== null) return resolve();
    stream.child.once('close', () => resolve());
    stream.child.kill('SIGINT');
  });
}

describe('kubectl port-forward through the daemon (SPDY terminated, v4 upstream)', () => {
  let h: K8sProxyHarness;
  let kubectl: Kubectl;
  let echo: net.Server;
  before(async () => {
    h = await startK8sProxy({ policy: POLICY });
    kubectl = kubectlFor(h.agentKubeconfig, h.home, 60_000);
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const address = { host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port };
    for (const name of ['web', 'held-pod', 'plain-pod', 'lib-pod']) {
      h.fake.create('pods', 'default', pod(name));
      h.fake.setPortTarget('default', name, 8080, address);
      h.fake.setPortTarget('default', name, 22, address);
    }
  });
  after(async () => {
    await h?.stop();
    echo?.close();
  });

  test('kubectl port-forward pod/web (SPDY in a WebSocket): echo round trips on several connections, bytes recorded per port', { timeout: 60_000 }, async () => {
    const { stream, port } = await startForward(kubectl, ['pod/web', 'LOCAL:8080']);
    try {
      assert.equal(await echoOnce(port, 'hello through airlock\n'), 'hello through airlock\n');
      assert.equal(await echoOnce(port, 'second\n'), 'second\n');
      const together = await Promise.all([echoOnce(port, 'a'.repeat(100_000)), echoOnce(port, 'b'.repeat(5_000)), echoOnce(port, 'third\n')]);
      assert.deepEqual(together.map((t) => t.length), [100_000, 5_000, 6]);
      assert.equal(together[0], 'a'.repeat(100_000));
    } finally {
      await stop(stream);
    }
    const upgrade = h.fake.requests.filter((q) => q.path.endsWith('/pods/web/portforward'));
    assert.equal(upgrade.length, 5, 'one upstream WebSocket per forwarded connection');
    for (const q of upgrade) {
      assert.deepEqual(q.query.ports, ['8080']);
      assert.equal(q.authorization, `Bearer ${h.fake.token}`);
    }
    const paired = await until(async () => (await forwardRecords(h)).find((p) => p.action.summary.includes('web') && !p.action.summary.includes('held') && p.result), 'the port-forward result');
    const detail = K8sPortForwardDetail.parse(paired.action.detail);
    assert.deepEqual(detail.ports, ['8080']);
    assert.equal(detail.protocol, 'portforward.k8s.io');
    const result = K8sPortForwardResultDetail.parse(paired.result!.detail);
    const sent = 'hello through airlock\n'.length + 'second\n'.length + 100_000 + 5_000 + 'third\n'.length;
    assert.deepEqual(result.ports, [{ port: '8080', bytesUp: sent, bytesDown: sent }]);
  });

  test('a port-forward to a pod under review is held on the first connection, then approved and forwarded', { timeout: 60_000 }, async () => {
    const { stream, port } = await startForward(kubectl, ['pod/held-pod', 'LOCAL:8080']);
    try {
      const reply = echoOnce(port, 'after approval\n');
      const approval = await pendingApproval(h.daemon);
      assert.match(approval.action.summary, /held-pod/);
      assert.ok(!h.fake.portForwards.some((p) => p.pod === 'held-pod'), 'nothing forwarded while held');
      assert.equal((await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, { by: 'alice', via: 'api' })).status, 200);
      assert.equal(await reply, 'after approval\n');
      // decided once for this port: the next connection is not held again
      assert.equal(await echoOnce(port, 'again\n'), 'again\n');
    } finally {
      await stop(stream);
    }
    assert.equal((await forwardRecords(h)).filter((p) => p.action.summary.includes('held-pod')).length, 1, 'one action for the port, not one per connection');
  });

  test('a denied port: nothing is forwarded, the connection closes and kubectl prints Airlock\'s refusal', { timeout: 60_000 }, async () => {
    const { stream, port } = await startForward(kubectl, ['pod/web', 'LOCAL:22']);
    try {
      assert.equal(await sendAndCollect(port, 'SSH-2.0-probe\r\n'), '');
      await until(async () => (/Airlock refused this request on target \\?"staging\\?" \(action \S+, rule no-ssh-forward\)/.test(stream.errors()) ? true : undefined), 'kubectl to print the refusal');
    } finally {
      await stop(stream);
    }
    assert.ok(!h.fake.requests.some((q) => q.path.endsWith('/portforward') && q.query.ports?.includes('22')), 'port 22 never went upstream');
    const denied = (await forwardRecords(h)).find((p) => (p.action.attributes?.ports as string[] | undefined)?.includes('22'));
    assert.ok(denied, 'the refused port-forward is recorded as an action');
  });

  test('plain SPDY (KUBECTL_PORT_FORWARD_WEBSOCKETS=false): the 101 SPDY/3.1 upgrade and an echo round trip', { timeout: 60_000 }, async () => {
    const { stream, port } = await startForward(kubectl, ['pod/plain-pod', 'LOCAL:8080'], { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' });
    try {
      assert.equal(await echoOnce(port, 'plain spdy\n'), 'plain spdy\n');
    } finally {
      await stop(stream);
    }
    const paired = await until(async () => (await forwardRecords(h)).find((p) => p.action.summary.includes('plain-pod') && p.result), 'the port-forward result');
    assert.deepEqual(K8sPortForwardResultDetail.parse(paired.result!.detail).ports, [{ port: '8080', bytesUp: 11, bytesDown: 11 }]);
  });

  test('@kubernetes/client-node PortForward (v4.channel.k8s.io) through the daemon', { timeout: 60_000 }, async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(h.agentKubeconfig);
    const forward = new PortForward(kc);
    const output = new PassThrough();
    const errors = new PassThrough();
    const input = new PassThrough();
    let received = '';
    output.on('data', (d: Buffer) => (received += d.toString('utf8')));
    const ws = (await forward.portForward('default', 'lib-pod', [8080], output, errors, input)) as { close(): void };
    input.write('from client-node\n');
    await until(async () => (received === 'from client-node\n' ? true : undefined), 'the echo through client-node');
    ws.close();
    const paired = await until(async () => (await forwardRecords(h)).find((p) => p.action.summary.includes('lib-pod') && p.result), 'the port-forward result');
    assert.deepEqual(K8sPortForwardResultDetail.parse(paired.result!.detail).ports, [{ port: '8080', bytesUp: 17, bytesDown: 17 }]);
  });
});

describe('kubectl port-forward through the daemon: limits and upstream failures', () => {
  let h: K8sProxyHarness;
  let kubectl: Kubectl;
  let echo: net.Server;
  before(async () => {
    h = await startK8sProxy({ policy: POLICY, limits: { idleTimeout: '2s' } });
    kubectl = kubectlFor(h.agentKubeconfig, h.home, 60_000);
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    for (const name of ['idle-pod', 'gone-pod', 'empty-pod']) h.fake.create('pods', 'default', pod(name));
    h.fake.setPortTarget('default', 'idle-pod', 8080, { host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port });
  });
  after(async () => {
    await h?.stop();
    echo?.close();
  });

  test('limits.idleTimeout: a port-forward that moved nothing for that long is closed with a message kubectl prints, recorded as closed by a limit', { timeout: 60_000 }, async () => {
    const { stream, port } = await startForward(kubectl, ['pod/idle-pod', 'LOCAL:8080']);
    const socket = net.connect(port, '127.0.0.1');
    let echoed = '';
    socket.on('data', (d: Buffer) => (echoed += d.toString()));
    socket.on('error', () => undefined);
    socket.write('ping\n');
    try {
      await until(async () => (/closed the port-forward stream: no traffic for 2s \(limits\.idleTimeout\)/.test(stream.errors()) ? true : undefined), () => `kubectl to print the idle timeout; it printed ${JSON.stringify(stream.errors())}`, 30_000);
    } finally {
      socket.destroy();
      await stop(stream);
    }
    assert.equal(echoed, 'ping\n');
    const paired = await until(async () => (await forwardRecords(h)).find((p) => p.action.summary.includes('idle-pod') && p.result), 'the port-forward result');
    const result = K8sPortForwardResultDetail.parse(paired.result!.detail);
    assert.equal(result.closedBy, 'limit');
    assert.deepEqual(result.ports, [{ port: '8080', bytesUp: 5, bytesDown: 5 }]);
  });

  test('the pod gone once kubectl started: the API server\'s 404 reaches kubectl on the error stream', { timeout: 60_000 }, async () => {
    const { stream, port } = await startForward(kubectl, ['pod/gone-pod', 'LOCAL:8080']);
    try {
      h.fake.store.delete(h.fake.store.resource('', 'pods'), 'default', 'gone-pod', { dryRun: false });
      assert.equal(await sendAndCollect(port, 'hello?\n'), '');
      await until(async () => (/refused the port-forward with HTTP 404: pods \\?"gone-pod\\?" not found/.test(stream.errors()) ? true : undefined), 'kubectl to print the 404');
    } finally {
      await stop(stream);
    }
  });

  test('nothing listening on the pod port: the kubelet-style error text from the upstream reaches kubectl', { timeout: 60_000 }, async () => {
    const { stream, port } = await startForward(kubectl, ['pod/empty-pod', 'LOCAL:9999']);
    try {
      assert.equal(await sendAndCollect(port, 'hello?\n'), '');
      await until(async () => (/error forwarding port 9999 to pod empty-pod, uid \S+: failed to connect to localhost:9999/.test(stream.errors()) ? true : undefined), 'kubectl to print the upstream error');
    } finally {
      await stop(stream);
    }
  });
});

/**
 * A minimal SPDY/3.1 port-forward client over TLS (plain `Upgrade: SPDY/3.1`), built on Airlock's own
 * codec, for what kubectl never sends: `?ports=` on the URL, and garbage after the upgrade.
 */
async function spdyClient(h: K8sProxyHarness, pathAndQuery: string): Promise<{ status: string; send(frame: SpdyFrame): void; sendRaw(bytes: Buffer): void; frames: SpdyFrame[]; closed: Promise<void> }> {
  const socket = tls.connect({ host: '127.0.0.1', port: h.port, ca: h.daemonCaPem, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
  });
  socket.write(`POST ${pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${h.token}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n`);
  const reader = new SpdyFrameReader({ maxFrameBytes: 1 << 20, maxBlockBytes: 1 << 16, maxPairs: 64 });
  const writer = new SpdyFrameWriter();
  const frames: SpdyFrame[] = [];
  let head = Buffer.alloc(0);
  let status = '';
  let chain = Promise.resolve();
  const statusKnown = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      if (!status) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        status = head.subarray(0, end).toString('latin1');
        chunk = head.subarray(end + 4);
        resolve();
      }
      const raw = reader.push(chunk);
      if ('error' in raw) return;
      for (const r of raw) chain = chain.then(async () => {
        const frame = await reader.decodeHeaders(r);
        if (!('error' in frame)) frames.push(frame);
      });
    });
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await Promise.race([statusKnown, closed]);
  return { status, send: (frame) => socket.write(writer.encode(frame)), sendRaw: (bytes) => socket.write(bytes), frames, closed };
}

describe('SPDY port-forward requests kubectl does not make', () => {
  let h: K8sProxyHarness;
  let echo: net.Server;
  before(async () => {
    h = await startK8sProxy({ policy: POLICY });
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    h.fake.create('pods', 'default', pod('web'));
    h.fake.setPortTarget('default', 'web', 8080, { host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port });
  });
  after(async () => {
    await h?.stop();
    echo?.close();
  });

  const streamHeaders = (type: string, port: number, requestId: string) => new Map([['streamtype', [type]], ['port', [String(port)]], ['requestid', [requestId]]]);
  const syn = (streamId: number, type: string, port: number, requestId: string): SpdyFrame => ({ type: 'syn_stream', streamId, associatedTo: 0, priority: 0, fin: false, unidirectional: false, headers: streamHeaders(type, port, requestId) });
  const textOn = (frames: SpdyFrame[], streamId: number) => Buffer.concat(frames.filter((f): f is Extract<SpdyFrame, { type: 'data' }> => f.type === 'data' && f.streamId === streamId).map((f) => f.data)).toString();

  test('?ports=8080 on the URL is decided at the upgrade: 8080 is forwarded, 9090 refused on its error stream and never dialled', { timeout: 60_000 }, async () => {
    const c = await spdyClient(h, '/api/v1/namespaces/default/pods/web/portforward?ports=8080');
    assert.match(c.status, /^HTTP\/1\.1 101/);
    assert.match(c.status, /X-Stream-Protocol-Version: portforward\.k8s\.io/i);
    c.send(syn(1, 'error', 8080, '0'));
    c.send(syn(3, 'data', 8080, '0'));
    c.send({ type: 'data', streamId: 3, fin: false, data: Buffer.from('over spdy\n') });
    await until(async () => (textOn(c.frames, 3) === 'over spdy\n' ? true : undefined), () => `the echo; frames ${JSON.stringify(c.frames.map((f) => f.type))}`);
    c.send(syn(5, 'error', 9090, '1'));
    c.send(syn(7, 'data', 9090, '1'));
    await until(async () => (/did not open port 9090/.test(textOn(c.frames, 5)) ? true : undefined), 'the refusal of 9090');
    assert.ok(c.frames.some((f) => f.type === 'data' && f.streamId === 7 && f.fin), 'the refused data stream is ended');
    assert.ok(!h.fake.requests.some((q) => q.query.ports?.includes('9090')));
    c.send({ type: 'data', streamId: 3, fin: true, data: Buffer.alloc(0) });
    await until(async () => (c.frames.some((f) => f.type === 'data' && f.streamId === 3 && f.fin) ? true : undefined), 'the end of the data stream');
  });

  test('garbage after the upgrade: GOAWAY and the connection closed; nothing dialled upstream', { timeout: 60_000 }, async () => {
    const before = h.fake.requests.length;
    const c = await spdyClient(h, '/api/v1/namespaces/default/pods/web/portforward');
    assert.match(c.status, /^HTTP\/1\.1 101/);
    c.sendRaw(Buffer.from([0x80, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 1, 2, 3, 4]));
    await c.closed;
    assert.ok(c.frames.some((f) => f.type === 'goaway' && f.status === 1), 'GOAWAY with PROTOCOL_ERROR');
    assert.equal(h.fake.requests.slice(before).filter((q) => q.path.endsWith('/portforward')).length, 0);
  });
});
