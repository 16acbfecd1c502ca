import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import http from 'node:http';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { startHttpProxy } from '../test/helpers/http-proxy.js';
import { percentile, type BenchSection } from './report.js';

/**
 * The HTTP API target against the same requests straight to the upstream and through a plain Node
 * pass-through proxy, on this machine; the upstream and the pass-through run in a process of their
 * own (http-servers.ts), airlockd in its own, the load here:
 * - a small JSON GET at 1 and 32 concurrent clients (autocannon), requests/s; Airlock with policy,
 *   recording and masking on; both proxies reach the upstream over verified TLS;
 * - p50 latency at 1 client, from LATENCY_RUNS sequential keep-alive requests timed one by one;
 * - a 100 MB JSON response full of PII (emails, passwords, card numbers) masked end to end, MB/s.
 */

interface AutocannonResult {
  requests: { average: number };
  errors: number;
  non2xx: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const DURATION_S = 5;
const LATENCY_RUNS = 2000;
const BIG_BYTES = 100e6;
const MB = 1e6;

const POLICY = `version: 1
default: deny
rules:
  - { id: reads-allow, decision: allow, match: { attributes: { class: read } } }
`;

async function load(url: string, connections: number, headers: Record<string, string> = {}): Promise<number> {
  const result = await autocannon({ url, connections, duration: DURATION_S, headers, pipelining: 1 });
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${url}: ${result.errors} errors, ${result.non2xx} non-2xx responses`);
  return result.requests.average;
}

/** p50 of LATENCY_RUNS sequential GETs on one keep-alive connection, in ms. */
async function latency(url: string, headers: Record<string, string>, ca?: string): Promise<number> {
  const secure = url.startsWith('https:');
  const agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 1, ca }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = secure ? https.get : http.get;
  const times: number[] = [];
  try {
    for (let i = 0; i < LATENCY_RUNS; i++) {
      const started = performance.now();
      await new Promise<void>((resolve, reject) => {
        get(url, { headers, agent }, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve());
          res.on('error', reject);
        }).on('error', reject);
      });
      times.push(performance.now() - started);
    }
  } finally {
    agent.destroy();
  }
  return percentile(times.sort((a, b) => a - b), 50);
}

/** Fetches a URL, counting the body's bytes; resolves with MB/s. */
function download(url: string, headers: Record<string, string>, ca?: string): Promise<{ mbps: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const get = url.startsWith('https:') ? https.get : http.get;
    get(url, { headers, agent: false, ...(ca ? { ca } : {}) }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ mbps: bytes / MB / ((performance.now() - started) / 1000), bytes }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

export async function benchHttp(): Promise<BenchSection> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./http-servers.js', import.meta.url)), String(BIG_BYTES)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const servers = await new Promise<{ upstreamPort: number; passThroughPort: number; caPem: string }>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))) as { upstreamPort: number; passThroughPort: number; caPem: string });
    });
    child.once('exit', (code) => reject(new Error(`the benchmark servers exited (${code})`)));
  });
  const upstream = `https://127.0.0.1:${servers.upstreamPort}`;
  const passThrough = `http://127.0.0.1:${servers.passThroughPort}`;
  const h = await startHttpProxy({ upstream, caPem: servers.caPem, policy: POLICY, limits: { maxConnections: 200, maxConnectionsPerSession: 200 } });
  const auth = { authorization: `Bearer ${h.token}` };
  const figures: BenchSection['figures'] = [];
  const notes: string[] = [];
  try {
    for (const connections of [1, 32]) {
      const direct = await load(`${upstream}/item`, connections);
      const passed = await load(`${passThrough}/item`, connections);
      const via = await load(`${h.url}/item`, connections, auth);
      const clients = `${connections} client${connections > 1 ? 's' : ''}`;
      figures.push({ name: `small JSON GET, ${clients}, via Airlock`, value: via, unit: 'req/s', baseline: { name: 'pass-through proxy', value: passed }, target: { op: '>=', value: 0.7 * passed } });
      notes.push(`small JSON GET, ${clients}: direct to the upstream ${Math.round(direct)} req/s`);
    }
    const directP50 = await latency(`${upstream}/item`, {}, servers.caPem);
    const passedP50 = await latency(`${passThrough}/item`, {});
    const viaP50 = await latency(`${h.url}/item`, auth);
    figures.push({ name: 'p50 latency, 1 client, via Airlock', value: viaP50, unit: 'ms', baseline: { name: 'pass-through proxy', value: passedP50 }, target: { op: '<=', value: passedP50 + 1 } });
    notes.push(`p50 latency direct to the upstream: ${directP50.toFixed(3)} ms; added by Airlock over the pass-through: ${(viaP50 - passedP50).toFixed(3)} ms`);
    const directBig = await download(`${upstream}/big`, {}, servers.caPem);
    const viaBig = await download(`${h.url}/big`, auth);
    figures.push({ name: `${BIG_BYTES / MB} MB JSON response with PII, masked, via Airlock`, value: viaBig.mbps, unit: 'MB/s', baseline: { name: 'direct', value: directBig.mbps }, target: { op: '>=', value: 50 } });
    notes.push(`the masked body was ${(viaBig.bytes / MB).toFixed(1)} MB (the upstream sent ${(directBig.bytes / MB).toFixed(1)} MB)`);
  } finally {
    await h.stop();
    child.stdin!.end();
  }
  return { title: 'HTTP API target (reverse proxy, TLS upstream)', figures, notes };
}
