import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { startK8sProxy, type K8sProxyHarness } from '../test/helpers/k8s-proxy.js';
import { freePort } from '../test/helpers/pg-cluster.js';
import type { BenchSection } from './report.js';

/**
 * port-forward throughput: 100 MB from a TCP server behind a pod port of the in-test fake API server
 * (no real API server runs on these machines; the fake connects `pods/bench/portforward` to the
 * server over v4.channel.k8s.io), read three ways: a v4 WebSocket client straight from the fake
 * (the baseline: what the upstream hop alone costs), and Debian's kubectl 1.32 `port-forward`
 * through airlockd, which terminates kubectl's SPDY (in a WebSocket, and plain) and relays to one
 * v4 WebSocket per connection. Best of ROUNDS each, interleaved.
 */

const BYTES = 100 * 1024 * 1024;
const ROUNDS = 3;
const CHUNK = Buffer.alloc(64 * 1024, 0x78);

const POLICY = `version: 1
default: deny
rules:
  - { id: reads-allow, decision: allow, match: { attributes: { class: read } } }
  - { id: forward-allow, decision: allow, match: { kinds: k8s.portforward } }
`;

/** A server that writes BYTES to each connection, then ends it. */
async function source(): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    let left = BYTES;
    const pump = (): void => {
      while (left > 0) {
        left -= CHUNK.length;
        if (!socket.write(CHUNK)) return void socket.once('drain', pump);
      }
      socket.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function rate(bytes: number, seconds: number): number {
  return bytes / seconds / 1024 / 1024;
}

/** MB/s reading the pod port over v4 straight from the fake. */
function direct(h: K8sProxyHarness): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let bytes = -2; // the port prefix
    const ws = new WebSocket(`${h.fake.url.replace(/^https/, 'wss')}/api/v1/namespaces/default/pods/bench/portforward?ports=8080`, ['v4.channel.k8s.io'], {
      ca: h.ca.certPem,
      headers: { Authorization: `Bearer ${h.fake.token}` },
      perMessageDeflate: false,
    });
    ws.on('message', (data: Buffer) => {
      if (data[0] === 0) bytes += data.length - 1;
    });
    ws.once('close', () => (bytes === BYTES ? resolve(rate(bytes, (performance.now() - started) / 1000)) : reject(new Error(`port-forward bench: ${bytes} bytes direct, ${BYTES} expected`))));
    ws.once('error', reject);
  });
}

/** MB/s through `kubectl port-forward` via the daemon (`env` picks the transport). */
async function viaKubectl(h: K8sProxyHarness, env: Record<string, string>): Promise<number> {
  const port = await freePort();
  const kubectl = h.kubectl.stream(['--context', 'staging', 'port-forward', '--address', '127.0.0.1', 'pod/bench', `${port}:8080`], { env });
  try {
    await kubectl.waitFor(/Forwarding from/);
    return await new Promise<number>((resolve, reject) => {
      const started = performance.now();
      let bytes = 0;
      const socket = net.connect(port, '127.0.0.1');
      socket.on('data', (d: Buffer) => (bytes += d.length));
      socket.on('error', reject);
      socket.on('close', () => (bytes === BYTES ? resolve(rate(bytes, (performance.now() - started) / 1000)) : reject(new Error(`port-forward bench: ${bytes} bytes via kubectl, ${BYTES} expected`))));
    });
  } finally {
    kubectl.child.kill('SIGINT');
  }
}

export async function benchKubernetesPortForward(): Promise<BenchSection> {
  const server = await source();
  const h = await startK8sProxy({ policy: POLICY, fake: { recordRequests: false } });
  try {
    h.fake.create('pods', 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bench' }, spec: { containers: [{ name: 'app', image: 'busybox' }] }, status: { phase: 'Running' } });
    h.fake.setPortTarget('default', 'bench', 8080, { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
    let best = { direct: 0, tunnel: 0, plain: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const d = await direct(h);
      const t = await viaKubectl(h, {});
      const p = await viaKubectl(h, { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' });
      best = { direct: Math.max(best.direct, d), tunnel: Math.max(best.tunnel, t), plain: Math.max(best.plain, p) };
    }
    return {
      title: 'kubernetes port-forward: 100 MB from a pod port (a TCP server behind the fake API server)',
      figures: [
        { name: 'kubectl port-forward via Airlock (SPDY in a WebSocket)', value: best.tunnel, unit: 'MB/s', baseline: { name: 'v4 WebSocket direct to the fake', value: best.direct }, target: { op: '>=', value: best.direct * 0.5 } },
        { name: 'kubectl port-forward via Airlock (plain SPDY)', value: best.plain, unit: 'MB/s', baseline: { name: 'v4 WebSocket direct to the fake', value: best.direct } },
      ],
      notes: [
        `best of ${ROUNDS} runs each; the content is counted, not kept or masked`,
        'kubectl cannot reach the fake directly (it serves no SPDY), so the baseline is the upstream hop alone; the Airlock figures include kubectl itself and the extra TLS hop',
      ],
    };
  } finally {
    await h.stop();
    server.close();
  }
}
