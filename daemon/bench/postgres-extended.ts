import net from 'node:net';
import { serialize } from 'pg-protocol';
import { MessageFramer } from '../src/proxies/postgres/protocol.js';
import { ScramClientExchange } from '../src/proxies/postgres/scram.js';

/**
 * One client's round trips of a prepared statement in the extended protocol, at the wire: Bind,
 * (Describe,) Execute, Sync, waiting for ReadyForQuery each time. A client that does not Describe
 * the portal (pgjdbc with a known statement) makes Airlock send its own Describe, so the two runs
 * through Airlock show what knowing every result's columns before its rows costs.
 */

export interface WireEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** Latencies in µs of `count` Bind/(Describe)/Execute/Sync round trips of `sql` with one integer parameter. */
export async function extendedRoundTrips(ep: WireEndpoint, sql: string, describe: boolean, count: number, param: (i: number) => string): Promise<number[]> {
  const socket = net.connect(ep.port, ep.host);
  socket.setNoDelay(true);
  const framer = new MessageFramer(1 << 30, false);
  // messages wait here until a reader takes them: several arrive in one chunk, before the next reader is set
  const inbox: { type: string; body: Buffer }[] = [];
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    framer.push(chunk);
    for (let m = framer.next(); m; m = framer.next()) inbox.push({ type: m.type, body: m.body });
    wake?.();
  });
  const until = async (wanted: (type: string, body: Buffer) => boolean): Promise<Buffer> => {
    for (;;) {
      const m = inbox.shift();
      if (m) {
        if (m.type === 'E') throw new Error(`server error: ${m.body.toString('utf8').replace(/\0/g, ' ')}`);
        if (wanted(m.type, m.body)) return m.body;
        continue;
      }
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reply within 10 s')), 10_000);
        wake = () => {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        };
      });
    }
  };
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  try {
    let auth = until((t) => t === 'R' || t === 'Z');
    socket.write(serialize.startup({ user: ep.user, database: ep.database }));
    for (;;) {
      const body = await auth;
      if (body.length === 1) break; // ReadyForQuery
      const code = body.readInt32BE(0);
      if (code === 0) {
        auth = until((t) => t === 'Z');
        continue;
      }
      if (code !== 10) throw new Error(`authentication ${code} is not SCRAM`);
      const scram = new ScramClientExchange(ep.password);
      const cont = until((t, b) => t === 'R' && b.readInt32BE(0) === 11);
      socket.write(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', scram.clientFirst()));
      const data = (await cont).subarray(4).toString('utf8');
      auth = until((t) => t === 'Z');
      socket.write(serialize.sendSCRAMClientFinalMessage(scram.clientFinal(data)));
    }
    let ready = until((t) => t === 'Z');
    socket.write(Buffer.concat([serialize.parse({ name: 'bench_s', text: sql, types: [] }), serialize.sync()]));
    await ready;
    const latencies: number[] = [];
    for (let i = 0; i < count; i++) {
      const parts = [serialize.bind({ statement: 'bench_s', portal: '', values: [param(i)] })];
      if (describe) parts.push(serialize.describe({ type: 'P', name: '' }));
      parts.push(serialize.execute({ portal: '' }), serialize.sync());
      ready = until((t) => t === 'Z');
      const started = process.hrtime.bigint();
      socket.write(Buffer.concat(parts));
      await ready;
      latencies.push(Number(process.hrtime.bigint() - started) / 1000);
    }
    return latencies;
  } finally {
    socket.destroy();
  }
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
