import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import { startK8sProxy, type K8sProxyHarness } from '../helpers/k8s-proxy.js';

/**
 * 500 concurrent `?watch=true` streams through the real daemon process, 450 of them from clients
 * that never read their socket, while the fake API server pushes large events to every watch as
 * fast as it can. The daemon must apply backpressure per watch (stop reading that watch's upstream
 * once the agent's socket is full) instead of buffering what a stuck agent does not take: its RSS
 * stays bounded, the 50 reading watches get every event, a normal `get pods` is answered, and
 * closing the stuck clients frees their upstream watches and connection slots.
 */
const WATCHES = 500;
const STUCK = 450;
const READING = WATCHES - STUCK;
/** Each event carries this much annotation text; 96 of them are pushed to every watch (6 MiB each, 2.7 GiB in all to the stuck ones). */
const EVENT_BYTES = 64 * 1024;
const EVENTS = 96;
const MiB = 1024 * 1024;
/**
 * Daemon RSS bound while the flood runs: 160 MiB (the daemon idles near 150 MiB with its parsers
 * loaded) plus 2 MiB per watch. A stuck watch costs more than its sockets and buffers because
 * backpressure reaches the upstream late: until the agent's socket is full the daemon reads the
 * upstream as fast as it comes, and Node's TLS layer hands over whatever the kernel had received
 * in one go (the receive buffer has grown by then), so each stuck watch keeps what its last burst
 * read: 1 to 2 MiB measured (100 stuck watches, 8 MiB pushed to each: +100 MiB; 20 stuck, 50 MiB
 * each: +44 MiB; this test: 500 MiB peak). A daemon that buffered what the stuck agents do not
 * read would hold nearly all of the 2.7 GiB pushed to them.
 */
const RSS_BOUND = 160 * MiB + WATCHES * 2 * MiB;
/** The slots: every watch, kubectl's few connections, and not a second batch of watches unless the first one's were freed. */
const MAX_CONNECTIONS = 600;

/** VmRSS and VmHWM (peak) of a process, in bytes. */
function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

const until = async (check: () => boolean | Promise<boolean>, what: string, limitMs = 120_000): Promise<void> => {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('kubernetes proxy: 500 concurrent watches, most of them never read', () => {
  let h: K8sProxyHarness;
  const path = '/api/v1/namespaces/default/pods?watch=true';

  before(async () => {
    h = await startK8sProxy({ limits: { maxConnections: MAX_CONNECTIONS, maxConnectionsPerSession: MAX_CONNECTIONS }, fake: { recordRequests: false } });
    h.fake.create('pods', 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'big-0', labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } });
  });
  after(async () => h?.stop());

  /** A watch whose client writes the request and then never reads: the socket is paused from the start. */
  const stuckWatch = (): Promise<tls.TLSSocket> =>
    new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: h.port, ca: h.daemonCaPem, servername: 'localhost' }, () => {
        socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${h.port}\r\nAuthorization: Bearer ${h.token}\r\nAccept: application/json\r\n\r\n`);
        socket.pause();
        resolve(socket);
      });
      socket.once('error', reject);
    });

  /** A watch that reads: counts the MODIFIED events of big-0 it got. */
  const readingWatch = (): Promise<{ modified: () => number; close(): void }> =>
    new Promise((resolve, reject) => {
      let modified = 0;
      let partial = '';
      const req = https.get({ host: '127.0.0.1', port: h.port, path, ca: h.daemonCaPem, agent: false, headers: { authorization: `Bearer ${h.token}` } }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`watch answered ${res.statusCode}`));
        res.setEncoding('utf8');
        res.on('data', (text: string) => {
          const lines = (partial + text).split('\n');
          partial = lines.pop()!;
          for (const line of lines) if (line.startsWith('{"type":"MODIFIED"')) modified++;
        });
        res.on('error', () => undefined);
        resolve({ modified: () => modified, close: () => req.destroy() });
      });
      req.once('error', reject);
    });

  test(`${STUCK} stuck and ${READING} reading watches under ${EVENTS} events of ${EVENT_BYTES / 1024} KiB: RSS bounded, the readers and a get answered, the stuck ones freed when closed`, { timeout: 600_000 }, async (t) => {
    const pid = h.daemon.info.pid;
    const before = memoryOf(pid);
    const stuck: tls.TLSSocket[] = [];
    for (let i = 0; i < STUCK; i += 50) stuck.push(...(await Promise.all(Array.from({ length: 50 }, stuckWatch))));
    const readers = await Promise.all(Array.from({ length: READING }, readingWatch));
    await until(() => h.fake.openStreams() === WATCHES, `all ${WATCHES} watches to reach the fake API server`);

    // the fake writes every event to every watch without waiting (as fast as it can), so what a stuck
    // watch does not take piles up in the fake's socket buffers, in the test process, if the daemon stops reading
    const pods = h.fake.store.resource('', 'pods');
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, memoryOf(pid).rss)), 100);
    try {
      for (let i = 0; i < EVENTS; i++) {
        const pod = h.fake.store.get(pods, 'default', 'big-0');
        const note = `event ${i} `.padEnd(EVENT_BYTES, 'lorem ipsum dolor sit amet ');
        h.fake.store.update(pods, 'default', 'big-0', { ...pod, metadata: { ...pod.metadata, annotations: { note } } }, { dryRun: false });
        await new Promise((r) => setImmediate(r));
      }
      await until(() => readers.every((r) => r.modified() >= EVENTS), 'every reading watch to get every event');
      peak = Math.max(peak, memoryOf(pid).rss);

      const listed = await h.request('GET', '/api/v1/namespaces/default/pods', { headers: { connection: 'close' } });
      assert.equal(listed.status, 200, listed.body);
      assert.match(listed.body, /big-0/);
      const k = await h.kubectl.run(['--context', 'staging', 'get', 'pods']);
      assert.equal(k.code, 0, k.stderr);
      assert.match(k.stdout, /big-0/);
      peak = Math.max(peak, memoryOf(pid).rss);
    } finally {
      clearInterval(sample);
    }
    t.diagnostic(`daemon RSS: ${(before.rss / MiB).toFixed(0)} MiB before, peak ${(peak / MiB).toFixed(0)} MiB during (bound ${RSS_BOUND / MiB} MiB); VmHWM ${(memoryOf(pid).hwm / MiB).toFixed(0)} MiB`);
    assert.ok(peak < RSS_BOUND, `daemon RSS peaked at ${(peak / MiB).toFixed(0)} MiB, over the ${RSS_BOUND / MiB} MiB bound: it buffers what stuck watches do not read`);

    // the stuck clients go: their upstream watches are closed and their connection slots free again
    for (const socket of stuck) socket.destroy();
    await until(() => h.fake.openStreams() === READING, 'the stuck watches to be closed upstream');
    const again = [];
    for (let i = 0; i < STUCK; i += 50) again.push(...(await Promise.all(Array.from({ length: 50 }, readingWatch))));
    await until(() => h.fake.openStreams() === WATCHES, 'a second batch of watches in the freed slots');
    for (const r of [...readers, ...again]) r.close();
    await until(() => h.fake.openStreams() === 0, 'every watch to be closed upstream');
  });
});
