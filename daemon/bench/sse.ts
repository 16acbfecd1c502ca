import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Daemon } from '../src/daemon/daemon.js';
import { SseTestClient } from '../test/helpers/sse-client.js';
import { percentile, type BenchSection } from './report.js';

/**
 * Action -> SSE client latency: from the moment a test action is sent to the daemon until its
 * `action.decided` event is parsed by a client on /v1/events (real HTTP on loopback). Baseline: a
 * GET /v1/health round trip on the same server.
 */
export async function benchSse(samples = 2_000): Promise<BenchSection> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-sse-'));
  const daemon = await Daemon.start({ home, testActionSource: true, log: () => undefined });
  const base = `http://127.0.0.1:${daemon.apiPort}`;
  const { readDaemonInfo } = await import('../src/daemon/daemon-info.js');
  const info = (await readDaemonInfo(path.join(home, 'daemon.json')))!;
  const auth = { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' };
  try {
    const created = (await (await fetch(`${base}/v1/agent-sessions`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'bench' }) })).json()) as { token: string };
    const client = new SseTestClient(`${base}/v1/events`, info.token);
    await client.open();

    const latencies: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < samples; i++) {
      const marker = `select ${i} /* bench */`;
      const sent = process.hrtime.bigint();
      const post = fetch(`${base}/v1/test/actions`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ token: created.token, target: 'db', protocol: 'postgres', kind: 'sql.query', summary: marker, attributes: { class: 'read' } }),
      });
      const event = await client.waitFor((m) => m.event === 'action.decided' && m.data.includes(marker));
      latencies.push(Number(event.receivedAt - sent) / 1e6);
      await (await post).arrayBuffer();

      const t0 = process.hrtime.bigint();
      await (await fetch(`${base}/v1/health`)).arrayBuffer();
      baseline.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (client.messages.length > 1000) client.messages.splice(0, client.messages.length);
    }
    client.close();
    latencies.sort((a, b) => a - b);
    baseline.sort((a, b) => a - b);
    return {
      title: `action -> SSE client latency (${samples} actions, real HTTP on loopback, recording async)`,
      figures: [
        { name: 'p50', value: percentile(latencies, 50), unit: 'ms', baseline: { name: 'GET /v1/health round trip p50', value: percentile(baseline, 50) } },
        { name: 'p99', value: percentile(latencies, 99), unit: 'ms', baseline: { name: 'GET /v1/health round trip p99', value: percentile(baseline, 99) }, target: { op: '<=', value: 20 } },
      ],
    };
  } finally {
    await daemon.stop();
    rmSync(home, { recursive: true, force: true });
  }
}
