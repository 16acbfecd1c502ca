import { readFileSync } from 'node:fs';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { startK8sProxy } from '../test/helpers/k8s-proxy.js';
import { percentile, type BenchSection } from './report.js';

/**
 * The Kubernetes proxy against the same requests straight to the in-test fake API server (no real
 * API server runs on these machines; fake-kube-apiserver.ts, in this process), airlockd in its own
 * process with policy, recording and masking on, both over verified TLS:
 * - `list pods` of 1,000 pods (JSON, as client libraries ask) at CONNECTIONS concurrent keep-alive
 *   clients for DURATION_S seconds, requests/s;
 * - watch event latency: one watch direct and one through Airlock open at once, WATCH_EVENTS
 *   ConfigMaps created one after another, the time until each watch delivers each event; p99 added.
 */

const DURATION_S = 5;
const CONNECTIONS = 8;
const PODS = 1000;
const WATCH_EVENTS = 500;

const POLICY = `version: 1
default: deny
rules:
  - { id: reads-allow, decision: allow, match: { attributes: { class: read } } }
`;

/** CPU seconds (user and system, all threads) a process has used so far, from /proc (Linux), or NaN. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Requests/s of GET `url` from `connections` keep-alive clients over DURATION_S seconds. */
async function load(url: string, ca: string, headers: Record<string, string>, connections: number): Promise<{ rate: number; bytes: number; requests: number }> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: connections, ca });
  const deadline = performance.now() + DURATION_S * 1000;
  let done = 0;
  let bytes = 0;
  const client = async (): Promise<void> => {
    while (performance.now() < deadline) {
      await new Promise<void>((resolve, reject) => {
        https
          .get(url, { agent, headers: { accept: 'application/json', ...headers } }, (res) => {
            if (res.statusCode !== 200) reject(new Error(`${url}: ${res.statusCode}`));
            let size = 0;
            res.on('data', (d: Buffer) => (size += d.length));
            res.on('end', () => {
              bytes = size;
              resolve();
            });
            res.on('error', reject);
          })
          .on('error', reject);
      });
      done++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, client));
  agent.destroy();
  return { rate: done / ((performance.now() - started) / 1000), bytes, requests: done };
}

/** A watch whose events are announced by name: `arrived(name)` resolves when its ADDED event came. */
function openWatch(url: string, ca: string, headers: Record<string, string>): Promise<{ arrived(name: string): Promise<number>; close(): void }> {
  return new Promise((resolve, reject) => {
    const waiting = new Map<string, (t: number) => void>();
    const seen = new Map<string, number>();
    let buffer = '';
    const req = https.get(url, { ca, headers: { accept: 'application/json', ...headers }, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`${url}: ${res.statusCode}`));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const now = performance.now();
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          const m = /"name":"(bench-watch-\d+)"/.exec(line);
          if (!m) continue;
          const wake = waiting.get(m[1]!);
          if (wake) wake(now);
          else seen.set(m[1]!, now);
        }
      });
      resolve({
        arrived: (name) => {
          const at = seen.get(name);
          if (at !== undefined) return Promise.resolve(at);
          return new Promise((r) => waiting.set(name, r));
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

export async function benchKubernetes(): Promise<BenchSection> {
  const h = await startK8sProxy({ policy: POLICY, fake: { recordRequests: false }, limits: { maxConnections: 200, maxConnectionsPerSession: 200 } });
  const figures: BenchSection['figures'] = [];
  const notes: string[] = [];
  try {
    for (let i = 0; i < PODS; i++) {
      h.fake.create('pods', 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: `pod-${i}`, labels: { app: 'bench', tier: 'web' } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27', env: [{ name: 'MODE', value: 'production' }] }] } });
    }
    const path = '/api/v1/namespaces/default/pods';
    const direct = await load(`${h.fake.url}${path}`, h.ca.certPem, { authorization: `Bearer ${h.fake.token}` }, CONNECTIONS);
    const daemonCpuBefore = cpuSeconds(h.daemon.process.pid);
    const via = await load(`${h.server}${path}`, h.daemonCaPem, { authorization: `Bearer ${h.token}` }, CONNECTIONS);
    const daemonCpuPerList = ((cpuSeconds(h.daemon.process.pid) - daemonCpuBefore) * 1000) / via.requests;
    figures.push({ name: `list pods (${PODS} pods), ${CONNECTIONS} clients, via Airlock`, value: via.rate, unit: 'req/s', baseline: { name: 'direct to the fake', value: direct.rate }, target: { op: '>=', value: 0.5 * direct.rate } });
    notes.push(`each list response is ${(direct.bytes / 1e6).toFixed(2)} MB of JSON direct, ${(via.bytes / 1e6).toFixed(2)} MB through Airlock; Airlock masks it with the Kubernetes response masker (a streaming JSON masker in JavaScript) and records an excerpt: that masking pass is what bounds the rate`);
    notes.push(`airlockd CPU per list (all its threads, from /proc; does not depend on what else the machine runs): ${daemonCpuPerList.toFixed(2)} ms`);

    const watchPath = '/api/v1/namespaces/default/configmaps?watch=true';
    const directWatch = await openWatch(`${h.fake.url}${watchPath}`, h.ca.certPem, { authorization: `Bearer ${h.fake.token}` });
    const viaWatch = await openWatch(`${h.server}${watchPath}`, h.daemonCaPem, { authorization: `Bearer ${h.token}` });
    const directTimes: number[] = [];
    const viaTimes: number[] = [];
    for (let i = 0; i < WATCH_EVENTS; i++) {
      const name = `bench-watch-${i}`;
      const created = performance.now();
      h.fake.create('configmaps', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { n: String(i) } });
      const [d, v] = await Promise.all([directWatch.arrived(name), viaWatch.arrived(name)]);
      directTimes.push(d - created);
      viaTimes.push(v - created);
    }
    directWatch.close();
    viaWatch.close();
    const directP99 = percentile(directTimes.sort((a, b) => a - b), 99);
    const viaP99 = percentile(viaTimes.sort((a, b) => a - b), 99);
    figures.push({ name: `watch event latency p99, via Airlock (${WATCH_EVENTS} events)`, value: viaP99, unit: 'ms', baseline: { name: 'direct watch', value: directP99 }, target: { op: '<=', value: directP99 + 2 } });
    notes.push(`watch latency p50: direct ${percentile(directTimes, 50).toFixed(3)} ms, via Airlock ${percentile(viaTimes, 50).toFixed(3)} ms; p99 added ${(viaP99 - directP99).toFixed(3)} ms`);
    notes.push('the fake API server and the load run in the benchmark process, airlockd in its own');
  } finally {
    await h.stop();
  }
  return { title: 'Kubernetes API proxy (fake API server, TLS both sides)', figures, notes };
}
