import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import type { Protocol } from '@airlock/shared';
import { Daemon } from '../src/daemon/daemon.js';
import { readDaemonInfo } from '../src/daemon/daemon-info.js';
import { builtInProxies } from '../src/proxies/index.js';
import type { ProxyFactory } from '../src/proxies/listeners.js';
import { startDaemon } from '../test/helpers/daemon-process.js';
import { extendedRoundTrips, percentile } from './postgres-extended.js';
import { chownToServerUser, createTestDatabase, dropTestDatabase, freePort, machinePg, serverOwner, startPgCluster, type PgCluster } from '../test/helpers/pg-cluster.js';
import type { BenchFigure, BenchSection } from './report.js';

/**
 * PostgreSQL through Airlock, against the same work straight to the server, through PgBouncer
 * (session mode) and through a Node.js pass-through (a child process that only copies bytes between
 * client and server: the least any Node.js data path does, so what such a path can reach here is
 * measured rather than asserted), all on this machine:
 * - pgbench select-only (-S) at 1 and 8 clients, and TPC-B at 8 clients: TPS excluding connection time;
 * - the proxies' CPU per transaction (user and system) at a fixed 3,000 tps select-only load, for
 *   pgbouncer, the pass-through and Airlock: it decides their TPS at saturation, where the machine's cores
 *   are shared by pgbench, PostgreSQL and the proxy, yet does not depend on saturating a noisy machine;
 * - the daemon's RSS with 200 idle proxied connections;
 * - a wide result (10,000 rows x 10 text columns of synthetic PII) read with masking on, in MB/s, and a
 *   result of the same size from a typical table without PII (ids, uuids, timestamps, amounts, text).
 * Every client sends plaintext (PGSSLMODE=disable) so the paths do the same work.
 */

const DB = 'airlock_bench';
const SCALE = 10;
const IDLE_CONNECTIONS = 200;
const WIDE_ROWS = 10_000;
const WIDE_REPEATS = 10;
const MB = 1e6;
/** the fixed select-only rate of the CPU-per-transaction runs: well under every proxy's saturation here */
const CPU_RATE = 3000;
/** after pgbench exits, so work the proxy defers (Airlock's batched recording writes) is counted */
const CPU_SETTLE_MS = 500;

type Mode = 'direct' | 'pgbouncer' | 'passthrough' | 'airlock';
const LABEL: Record<Mode, string> = {
  direct: 'direct',
  pgbouncer: 'pgbouncer (session)',
  passthrough: 'Node.js pass-through (no inspection)',
  airlock: 'Airlock',
};

interface Endpoint {
  mode: Mode;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface BenchPostgresOptions {
  /** protocol adapters to run the daemon with; builtInProxies() when omitted (for trying the harness) */
  proxies?: Partial<Record<Protocol, ProxyFactory>>;
  log?: (line: string) => void;
}

/** AIRLOCK_BENCH_SECONDS: length of each pgbench select-only run (default 10). */
function benchSeconds(): number {
  const raw = process.env.AIRLOCK_BENCH_SECONDS;
  const value = raw === undefined || raw.trim() === '' ? 10 : Number(raw);
  if (!Number.isFinite(value) || value < 1) throw new Error(`AIRLOCK_BENCH_SECONDS must be a number of seconds >= 1, got ${JSON.stringify(raw)}`);
  return Math.round(value);
}

export async function benchPostgres(options: BenchPostgresOptions = {}): Promise<BenchSection> {
  const log = options.log ?? ((line: string) => console.error(`[postgres bench] ${line}`));
  const seconds = benchSeconds();
  const tpcbSeconds = Math.max(2, Math.round(seconds / 2));
  const figures: BenchFigure[] = [];
  const notes: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  try {
    log(`initializing ${DB} (pgbench -i -s ${SCALE}) on the machine's server`);
    await createTestDatabase(DB);
    cleanups.push(() => dropTestDatabase(DB));
    const direct: Endpoint = { mode: 'direct', ...machinePg(DB) };
    const initStarted = performance.now();
    await pgbenchRaw(direct, ['-i', '-s', String(SCALE), '-q'], 600_000);
    notes.push(`pgbench -i -s ${SCALE} in ${DB} took ${((performance.now() - initStarted) / 1000).toFixed(1)} s; runs: select-only ${seconds} s each (AIRLOCK_BENCH_SECONDS), simple query protocol, plaintext`);

    const endpoints: Endpoint[] = [direct];

    const bouncer = await startPgbouncer(direct).catch((err: Error) => {
      notes.push(`pgbouncer: not measured: ${err.message}`);
      return undefined;
    });
    if (bouncer) {
      cleanups.push(bouncer.stop);
      endpoints.push(bouncer.endpoint);
    }

    const passthrough = await startPassthrough(direct).catch((err: Error) => {
      notes.push(`${LABEL.passthrough}: not measured: ${err.message}`);
      return undefined;
    });
    if (passthrough) {
      cleanups.push(passthrough.stop);
      endpoints.push(passthrough.endpoint);
      notes.push(
        `${LABEL.passthrough}: net.createServer in a Node ${process.version} process of its own; per client a net.connect to the server, noDelay on both sockets, ` +
          'bytes piped both ways and nothing parsed: the least a Node.js data path does, so its TPS bounds what a proxy built on node:net can reach on this machine',
      );
    }

    const airlock = await startAirlock(direct, options.proxies ?? builtInProxies(), log).catch((err: Error) => {
      notes.push(`Airlock: could not start: ${err.message}`);
      return undefined;
    });
    if (airlock) cleanups.push(airlock.stop);
    if (airlock?.endpoint) endpoints.push(airlock.endpoint);
    if (airlock?.note) notes.push(airlock.note);

    // ---- pgbench select-only, interleaved so drift on the machine hits every mode alike ----
    const runs = new Map<string, PgbenchResult[]>();
    const failed = new Map<string, string>();
    for (let round = 1; round <= 2; round++) {
      for (const clients of [1, 8]) {
        for (const ep of endpoints) {
          const key = `${ep.mode}/${clients}`;
          if (failed.has(key)) continue;
          log(`round ${round}: select-only, ${clients} client(s), ${LABEL[ep.mode]}`);
          try {
            const result = await pgbench(ep, ['-S', '-n', '-c', String(clients), '-j', clients > 1 ? '2' : '1', '-T', String(seconds)], seconds);
            runs.set(key, [...(runs.get(key) ?? []), result]);
          } catch (err) {
            failed.set(key, (err as Error).message);
          }
        }
      }
    }
    for (const [key, message] of failed) notes.push(`select-only ${key}: failed: ${message}`);

    for (const clients of [1, 8]) {
      const mean = (mode: Mode) => summarize(runs.get(`${mode}/${clients}`));
      const d = mean('direct');
      const b = mean('pgbouncer');
      const p = mean('passthrough');
      const a = mean('airlock');
      const what = `select-only, ${clients} client${clients > 1 ? 's' : ''}`;
      if (d) figures.push({ name: `${what}: direct`, value: d.tps, unit: 'tps' });
      if (b) figures.push({ name: `${what}: pgbouncer (session)`, value: b.tps, unit: 'tps', ...(d ? { baseline: { name: 'direct', value: d.tps } } : {}) });
      if (p) figures.push({ name: `${what}: ${LABEL.passthrough}`, value: p.tps, unit: 'tps', ...(b ? { baseline: { name: 'pgbouncer (session)', value: b.tps } } : d ? { baseline: { name: 'direct', value: d.tps } } : {}) });
      if (a) {
        figures.push({
          name: `${what}: Airlock`,
          value: a.tps,
          unit: 'tps',
          ...(b ? { baseline: { name: 'pgbouncer (session)', value: b.tps }, target: { op: '>=', value: b.tps } } : {}),
        });
        if (b) figures.push({ name: `${what}: Airlock / pgbouncer TPS`, value: a.tps / b.tps, unit: 'x', target: { op: '>=', value: 1 } });
        if (p) figures.push({ name: `${what}: Airlock / pass-through TPS`, value: a.tps / p.tps, unit: 'x' });
        if (d) figures.push({ name: `${what}: Airlock / direct TPS`, value: a.tps / d.tps, unit: 'x' });
      }
      if (d) figures.push({ name: `${what}: direct latency avg`, value: d.latencyMs, unit: 'ms' });
      if (b) figures.push({ name: `${what}: pgbouncer latency avg`, value: b.latencyMs, unit: 'ms', ...(d ? { baseline: { name: 'direct', value: d.latencyMs } } : {}) });
      if (a) figures.push({ name: `${what}: Airlock latency avg`, value: a.latencyMs, unit: 'ms', ...(b ? { baseline: { name: 'pgbouncer', value: b.latencyMs } } : d ? { baseline: { name: 'direct', value: d.latencyMs } } : {}) });
      const spread = endpoints.flatMap((ep) => {
        const r = runs.get(`${ep.mode}/${clients}`);
        return r ? [`${ep.mode} ${r.map((x) => Math.round(x.tps)).join(' / ')}`] : [];
      });
      if (spread.length > 0) notes.push(`${what}, TPS per round: ${spread.join('; ')}`);
    }

    // ---- TPC-B (pgbench's default script): writes, so a transaction's statements all go through ----
    const tpcb = new Map<Mode, PgbenchResult>();
    for (const ep of endpoints) {
      log(`TPC-B, 8 clients, ${LABEL[ep.mode]}`);
      try {
        tpcb.set(ep.mode, await pgbench(ep, ['-n', '-c', '8', '-j', '2', '-T', String(tpcbSeconds)], tpcbSeconds));
      } catch (err) {
        notes.push(`TPC-B through ${LABEL[ep.mode]}: failed: ${(err as Error).message}`);
      }
    }
    const td = tpcb.get('direct');
    const tb = tpcb.get('pgbouncer');
    const tp = tpcb.get('passthrough');
    const ta = tpcb.get('airlock');
    if (td) figures.push({ name: `TPC-B, 8 clients (${tpcbSeconds} s): direct`, value: td.tps, unit: 'tps' });
    if (tb) figures.push({ name: `TPC-B, 8 clients (${tpcbSeconds} s): pgbouncer (session)`, value: tb.tps, unit: 'tps', ...(td ? { baseline: { name: 'direct', value: td.tps } } : {}) });
    if (tp) figures.push({ name: `TPC-B, 8 clients (${tpcbSeconds} s): ${LABEL.passthrough}`, value: tp.tps, unit: 'tps', ...(tb ? { baseline: { name: 'pgbouncer (session)', value: tb.tps } } : td ? { baseline: { name: 'direct', value: td.tps } } : {}) });
    if (ta) figures.push({ name: `TPC-B, 8 clients (${tpcbSeconds} s): Airlock`, value: ta.tps, unit: 'tps', ...(tb ? { baseline: { name: 'pgbouncer (session)', value: tb.tps } } : td ? { baseline: { name: 'direct', value: td.tps } } : {}) });

    // ---- extended protocol: a prepared statement run without the client describing it (Airlock describes it) ----
    if (airlock?.endpoint) {
      const sql = 'SELECT aid, abalance, filler FROM pgbench_accounts WHERE aid = $1';
      const count = 2000;
      const param = (i: number) => String(1 + ((i * 7919) % (SCALE * 100_000)));
      const rounds: Record<string, number[]> = {};
      try {
        for (let round = 0; round < 2; round++) {
          for (const [label, ep, describe] of [
            ['direct, Bind/Execute/Sync', direct, false],
            ['Airlock, Bind/Execute/Sync (Airlock adds a Describe)', airlock.endpoint, false],
            ['Airlock, Bind/Describe/Execute/Sync (the client describes)', airlock.endpoint, true],
          ] as const) {
            log(`extended protocol round ${round + 1}: ${label}`);
            rounds[label] = [...(rounds[label] ?? []), ...(await extendedRoundTrips(ep, sql, describe, count, param))];
          }
        }
        const p50 = (label: string) => percentile(rounds[label]!, 50);
        const directP50 = p50('direct, Bind/Execute/Sync');
        const clientDescribes = p50('Airlock, Bind/Describe/Execute/Sync (the client describes)');
        figures.push({ name: 'prepared statement round trip, 1 client: direct p50', value: directP50, unit: 'µs' });
        figures.push({ name: 'prepared statement round trip, 1 client: Airlock, client describes p50', value: clientDescribes, unit: 'µs', baseline: { name: 'direct', value: directP50 } });
        figures.push({ name: 'prepared statement round trip, 1 client: Airlock, no Describe from the client (Airlock adds one) p50', value: p50('Airlock, Bind/Execute/Sync (Airlock adds a Describe)'), unit: 'µs', baseline: { name: 'Airlock, client describes', value: clientDescribes } });
        notes.push(`prepared statement round trips: ${count} x 2 rounds per mode of Bind/(Describe)/Execute/Sync of "${sql}" on one connection at the wire, interleaved; the Describe Airlock adds goes in the same write as the Execute, so it costs the server's describe and a swallowed RowDescription, not a round trip`);
      } catch (err) {
        notes.push(`prepared statement round trips: failed: ${(err as Error).message}`);
      }
    }

    // ---- CPU per transaction at a fixed rate: what the proxy costs, whatever else the machine runs ----
    const meters: { ep: Endpoint; meter: CpuMeter }[] = [];
    let ticks: number | undefined;
    if (bouncer || passthrough) {
      try {
        ticks = await clockTicksPerSecond();
      } catch (err) {
        notes.push(`CPU per transaction from /proc: ${(err as Error).message}`);
      }
    }
    for (const [mode, proxy] of [['pgbouncer', bouncer], ['passthrough', passthrough]] as const) {
      if (proxy && ticks) meters.push({ ep: proxy.endpoint, meter: procCpuMeter(proxy.pid, ticks) });
      else notes.push(`CPU per transaction: ${LABEL[mode]} not measured (${proxy ? 'no clock tick length' : 'not running'})`);
    }
    // the daemon runs in this process, which only waits on pgbench meanwhile
    if (airlock?.endpoint) meters.push({ ep: airlock.endpoint, meter: selfCpuMeter });
    else notes.push('CPU per transaction: Airlock not measured (no Airlock listener)');
    const cpu = new Map<Mode, CpuPerTransaction>();
    for (const { ep, meter } of meters) {
      log(`CPU per transaction at ${CPU_RATE} tps, select-only, 8 clients, ${LABEL[ep.mode]}`);
      try {
        cpu.set(ep.mode, await cpuPerTransaction(ep, meter, seconds));
      } catch (err) {
        notes.push(`CPU per transaction through ${LABEL[ep.mode]}: failed: ${(err as Error).message}`);
      }
    }
    const cpuWhat = `CPU per transaction at ${CPU_RATE.toLocaleString('en-US')} tps (select-only, 8 clients)`;
    const cb = cpu.get('pgbouncer');
    for (const [mode, c] of cpu) {
      const vs = mode !== 'pgbouncer' ? cb : undefined;
      figures.push({ name: `${cpuWhat}: ${LABEL[mode]} user`, value: c.userUs, unit: 'µs', ...(vs ? { baseline: { name: LABEL.pgbouncer, value: vs.userUs } } : {}) });
      figures.push({ name: `${cpuWhat}: ${LABEL[mode]} system`, value: c.systemUs, unit: 'µs', ...(vs ? { baseline: { name: LABEL.pgbouncer, value: vs.systemUs } } : {}) });
    }
    if (cpu.size > 0) {
      const each = (f: (c: CpuPerTransaction) => string) => [...cpu].map(([mode, c]) => `${LABEL[mode]} ${f(c)}`).join('; ');
      notes.push(
        `CPU per transaction: pgbench -S -n -c 8 -j 2 -R ${CPU_RATE} -T ${seconds} against each proxy in turn; the proxy's user and system CPU from just before pgbench starts ` +
          `to ${CPU_SETTLE_MS} ms after it exits, divided by the transactions pgbench processed. pgbouncer and the pass-through are processes of their own, read from ` +
          `/proc/<pid>/stat (utime, stime in clock ticks of 1/${ticks ?? '?'} s). ` +
          'Airlock\'s daemon runs in this bench process and is read with process.cpuUsage(): meanwhile this process only waits on pgbench (spawning it and reading its ' +
          'summary are a one-off of milliseconds, well under 1 µs per transaction here), so the delta is the daemon\'s, its recording writes on the thread pool included',
      );
      notes.push(`CPU per transaction, user + system: ${each((c) => `${(c.userUs + c.systemUs).toFixed(1)} µs`)}; rate reached: ${each((c) => `${Math.round(c.tps)} tps`)}`);
      notes.push(
        `why CPU per transaction: at saturation the machine's ${os.cpus().length} cores are shared by pgbench, PostgreSQL and the proxy, so every µs the proxy spends on a transaction ` +
          'is taken from the other two, and the proxy\'s CPU per transaction is what decides the saturated TPS. At a fixed rate well under saturation the figure ' +
          'depends far less on what else the shared machine runs than TPS at saturation does',
      );
    }

    // ---- RSS with idle proxied connections ----
    if (airlock?.endpoint && airlock.idleUpstream) {
      log(`RSS with ${IDLE_CONNECTIONS} idle connections through Airlock`);
      try {
        const rss = await daemonProcessRss(airlock.idleUpstream, IDLE_CONNECTIONS);
        figures.push({
          name: `airlockd process RSS with ${IDLE_CONNECTIONS} idle proxied connections`,
          value: rss.after / MB,
          unit: 'MB',
          baseline: { name: 'the same process after one connection', value: rss.before / MB },
          target: { op: '<=', value: 150 },
        });
        notes.push(`RSS: a daemon process of its own (airlock up), read from /proc; the ${IDLE_CONNECTIONS} node-postgres clients run in a child process, each ran "select 1" once and stayed idle`);
      } catch (err) {
        notes.push(`RSS with ${IDLE_CONNECTIONS} idle connections: failed: ${(err as Error).message}`);
      }
    } else if (!airlock?.endpoint) {
      notes.push(`RSS with ${IDLE_CONNECTIONS} idle proxied connections: not measured (no Airlock listener)`);
    }

    // ---- wide result with PII, masking on ----
    log(`wide result: ${WIDE_ROWS} rows x 10 text columns`);
    const bytes = await createWideTable(direct);
    const mbps = (r: WideResult) => (bytes * r.seconds.length) / r.seconds.reduce((sum, x) => sum + x, 0) / MB;
    const what = `SELECT * of ${WIDE_ROWS.toLocaleString('en-US')} rows x 10 text columns (${(bytes / MB).toFixed(2)} MB of text)`;
    for (const client of ['raw', 'pg'] as const) {
      const label = client === 'raw' ? 'wire-level reader' : 'node-postgres';
      const attempt = (ep: Endpoint) =>
        wideRead(ep, client, WIDE_REPEATS).catch((err: Error) => {
          notes.push(`wide result, ${label}, ${LABEL[ep.mode]}: failed: ${err.message}`);
          return undefined;
        });
      const d = await attempt(direct);
      const a = airlock?.endpoint ? await attempt(airlock.endpoint) : undefined;
      if (d) figures.push({ name: `${what}, ${label}: direct`, value: mbps(d), unit: 'MB/s' });
      if (a) {
        const masked = !a.firstRow.some((v) => v !== null && (v.includes('4111111111111111') || v.includes('4111 1111 1111 1111') || /@example\.(com|org)\b/.test(v)));
        figures.push({
          name: `${what}, ${label}: Airlock, ${masked ? 'masking on' : 'result NOT masked'}`,
          value: mbps(a),
          unit: 'MB/s',
          ...(d ? { baseline: { name: 'direct', value: mbps(d) } } : {}),
          // the target is the proxy's; node-postgres's own decoding caps what it can show
          ...(client === 'raw' ? { target: { op: '>=' as const, value: 100 } } : {}),
        });
        if (client === 'raw') notes.push(`wide result through Airlock: first row as the client saw it${masked ? '' : ' (NOT MASKED)'}: ${JSON.stringify(a.firstRow).slice(0, 400)}`);
      }
    }

    // ---- the same size of result from a typical table: what most results look like ----
    log(`typical result: ${WIDE_ROWS} rows x 10 columns without PII`);
    const typicalBytes = await createTypicalTable(direct);
    const typicalWhat = `SELECT * of ${WIDE_ROWS.toLocaleString('en-US')} rows x 10 columns of a typical table (ids, uuids, timestamps, amounts, text; ${(typicalBytes / MB).toFixed(2)} MB as text), wire-level reader`;
    const typical = async (ep: Endpoint) =>
      wideRead(ep, 'raw', WIDE_REPEATS, 'wide_typical').catch((err: Error) => {
        notes.push(`typical result, ${LABEL[ep.mode]}: failed: ${err.message}`);
        return undefined;
      });
    const typicalMbps = (r: WideResult) => (typicalBytes * r.seconds.length) / r.seconds.reduce((sum, x) => sum + x, 0) / MB;
    const td2 = await typical(direct);
    const ta2 = airlock?.endpoint ? await typical(airlock.endpoint) : undefined;
    if (td2) figures.push({ name: `${typicalWhat}: direct`, value: typicalMbps(td2), unit: 'MB/s' });
    if (ta2) figures.push({ name: `${typicalWhat}: Airlock, masking on`, value: typicalMbps(ta2), unit: 'MB/s', ...(td2 ? { baseline: { name: 'direct', value: typicalMbps(td2) } } : {}) });

    notes.push(
      `wide result: clients in a child process, ${WIDE_REPEATS} reads each after one warm-up; MB/s counts the unmasked text bytes (sum of octet_length), the DataRow payload the server sends. ` +
        'The wire-level reader only frames messages (the proxy\'s throughput); node-postgres also builds a JS value per field and tops out near its direct figure, so the 100 MB/s target is set on the former',
    );

    return {
      title: `PostgreSQL: pgbench through Airlock vs direct and PgBouncer (scale ${SCALE}, machine's PostgreSQL on 127.0.0.1, ${os.cpus().length} CPUs)`,
      figures,
      notes,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: Error) => log(`cleanup: ${err.message}`));
  }
}

// ---- pgbench ----

export interface PgbenchResult {
  tps: number;
  latencyMs: number;
  transactions: number;
}

function clientEnv(ep: Endpoint): NodeJS.ProcessEnv {
  // only what we mean: a developer's PGHOST/PGSERVICE/PGSSLMODE must not change what is measured
  return { PATH: process.env.PATH, LANG: 'C', PGPASSWORD: ep.password, PGSSLMODE: 'disable', PGCONNECT_TIMEOUT: '10' };
}

function pgbenchRaw(ep: Endpoint, args: string[], timeoutMs: number): Promise<string> {
  const argv = ['-h', ep.host, '-p', String(ep.port), '-U', ep.user, ...args, ep.database];
  return new Promise((resolve, reject) => {
    // the timeout catches a statement held for review or a proxy that stops answering
    execFile('pgbench', argv, { env: clientEnv(ep), encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const detail = (stderr || stdout).trim().split('\n').slice(-3).join(' | ');
        reject(new Error(`pgbench ${args.join(' ')} (${LABEL[ep.mode]}): ${err.killed ? 'timed out' : `exit ${String(err.code)}`}: ${detail}`));
      } else {
        resolve(`${stdout}\n${stderr}`);
      }
    });
  });
}

/** Parses pgbench's summary (PostgreSQL 14+ prints "tps = N (without initial connection time)"). */
export function parsePgbench(output: string): PgbenchResult {
  const tps = /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(output);
  const latency = /latency average = ([\d.]+) ms/.exec(output);
  const processed = /number of transactions actually processed: (\d+)/.exec(output);
  const failedTx = /number of failed transactions: (\d+)/.exec(output);
  if (!tps || !latency || !processed) throw new Error(`unexpected pgbench output: ${output.trim().split('\n').slice(-6).join(' | ')}`);
  if (failedTx && Number(failedTx[1]) > 0) throw new Error(`${failedTx[1]} transactions failed`);
  return { tps: Number(tps[1]), latencyMs: Number(latency[1]), transactions: Number(processed[1]) };
}

async function pgbench(ep: Endpoint, args: string[], seconds: number): Promise<PgbenchResult> {
  const result = parsePgbench(await pgbenchRaw(ep, args, (seconds + 60) * 1000));
  if (result.transactions === 0) throw new Error('no transaction completed');
  return result;
}

function summarize(results: PgbenchResult[] | undefined): { tps: number; latencyMs: number } | undefined {
  if (!results || results.length === 0) return undefined;
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  return { tps: mean(results.map((r) => r.tps)), latencyMs: mean(results.map((r) => r.latencyMs)) };
}

// ---- PgBouncer ----

function findPgbouncer(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin']) {
    if (dir && existsSync(path.join(dir, 'pgbouncer'))) return path.join(dir, 'pgbouncer');
  }
  return undefined;
}

function waitForPort(port: number, child: ChildProcess, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`exited (${child.exitCode ?? child.signalCode})`));
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`not listening on 127.0.0.1:${port} after ${deadlineMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/**
 * PgBouncer 1.x from the Debian package, session mode, on a free port, with its own ini and userlist.
 * md5 auth towards the client (a password as an agent would present one); towards the machine's
 * trust-auth server it logs in as postgres.
 */
async function startPgbouncer(direct: Endpoint): Promise<ProxyProcess> {
  const binary = findPgbouncer();
  if (!binary) throw new Error('pgbouncer is not installed (apt-get install pgbouncer)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-pgbouncer-'));
  const port = await freePort();
  const password = 'bench-password';
  const ini = [
    '[databases]',
    `${DB} = host=${direct.host} port=${direct.port} dbname=${DB} user=${direct.user}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = md5',
    `auth_file = ${path.join(dir, 'userlist.txt')}`,
    'pool_mode = session',
    'max_client_conn = 300',
    'default_pool_size = 20',
    `logfile = ${path.join(dir, 'pgbouncer.log')}`,
    'log_connections = 0',
    'log_disconnections = 0',
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'pgbouncer.ini'), ini);
  writeFileSync(path.join(dir, 'userlist.txt'), `"${direct.user}" "${password}"\n`);
  // pgbouncer refuses to run as root: as root it runs as the postgres OS user, which must own its
  // files. Spawned with uid/gid rather than through runuser, so our child is pgbouncer itself and
  // stopping it leaves no orphan behind.
  chownToServerUser(dir);
  const owner = serverOwner();
  const child = spawn(binary, [path.join(dir, 'pgbouncer.ini')], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], ...(owner ?? {}) });
  const tracked = trackChild(child);
  const stop = async () => {
    // SIGTERM: immediate shutdown for pgbouncer
    await tracked.terminate();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, 10_000);
  } catch (err) {
    let logText = '';
    try {
      logText = readFileSync(path.join(dir, 'pgbouncer.log'), 'utf8');
    } catch {
      // no log yet
    }
    await stop();
    throw new Error(`pgbouncer did not start: ${(err as Error).message}: ${(tracked.stderr() + logText).trim().split('\n').slice(-3).join(' | ')}`);
  }
  // spawned directly (not through a shell or runuser), so this pid is pgbouncer's own
  if (child.pid === undefined) throw new Error('pgbouncer is listening but its process id is unknown');
  return { endpoint: { mode: 'pgbouncer', host: '127.0.0.1', port, user: direct.user, password, database: DB }, pid: child.pid, stop };
}

// ---- Node.js pass-through ----

/**
 * Copies bytes and nothing else. A process of its own, as pgbouncer is: its CPU is read from /proc,
 * and it neither shares an event loop with the daemon in the bench process nor is slowed by it.
 * It exits when its stdin closes, so a bench process that dies leaves no listener behind.
 */
const PASSTHROUGH = String.raw`
import net from 'node:net';
const cfg = JSON.parse(process.argv[1]);
const server = net.createServer((client) => {
  const upstream = net.connect(cfg.upstreamPort, cfg.upstreamHost);
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  client.pipe(upstream);
  upstream.pipe(client);
  for (const [socket, peer] of [[client, upstream], [upstream, client]]) {
    socket.on('error', () => peer.destroy());
    socket.on('close', () => peer.destroy());
  }
});
server.once('error', (err) => {
  process.stderr.write('listen on ' + cfg.host + ':' + cfg.port + ': ' + err.message + '\n');
  process.exit(1);
});
server.listen(cfg.port, cfg.host, () => process.stdout.write(server.address().port + '\n'));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

async function startPassthrough(direct: Endpoint): Promise<ProxyProcess> {
  const port = await freePort();
  const arg = JSON.stringify({ host: '127.0.0.1', port, upstreamHost: direct.host, upstreamPort: direct.port });
  const child = spawn(process.execPath, ['--input-type=module', '-e', PASSTHROUGH, arg], { stdio: ['pipe', 'pipe', 'pipe'] });
  const { stderr, exited, terminate: stop } = trackChild(child);
  const listening = new Promise<number>((resolve, reject) => {
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('\n')) resolve(Number(stdout.trim()));
    });
    void exited.then(() => reject(new Error(`exited (${child.exitCode ?? child.signalCode}): ${stderr().trim().split('\n').slice(-3).join(' | ')}`)));
  });
  try {
    const announced = await withTimeout(listening, 10_000, 'waiting for the pass-through to listen');
    if (announced !== port) throw new Error(`listening on port ${announced}, expected ${port}`);
    if (child.pid === undefined) throw new Error('listening but its process id is unknown');
    return { endpoint: { mode: 'passthrough', host: '127.0.0.1', port, user: direct.user, password: direct.password, database: DB }, pid: child.pid, stop };
  } catch (err) {
    await stop();
    throw new Error(`pass-through did not start: ${(err as Error).message}`);
  }
}

/** A spawned proxy's stderr so far, its exit, and a SIGTERM that waits for that exit. */
function trackChild(child: ChildProcess): { stderr: () => string; exited: Promise<void>; terminate: () => Promise<void> } {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const terminate = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return { stderr: () => stderr, exited, terminate };
}

// ---- CPU per transaction ----

/** A proxy in a process of its own, for its CPU time. */
interface ProxyProcess {
  endpoint: Endpoint;
  pid: number;
  stop(): Promise<void>;
}

interface CpuTime {
  userUs: number;
  systemUs: number;
}

/** Cumulative CPU time of the proxy, all its threads. */
type CpuMeter = () => CpuTime;

interface CpuPerTransaction extends CpuTime {
  /** the rate pgbench reached, to show it kept to the schedule */
  tps: number;
}

function clockTicksPerSecond(): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('getconf', ['CLK_TCK'], { encoding: 'utf8' }, (err, stdout) => {
      const ticks = Number(stdout.trim());
      if (err) reject(new Error(`getconf CLK_TCK: ${err.message}`));
      else if (!Number.isInteger(ticks) || ticks <= 0) reject(new Error(`getconf CLK_TCK printed ${JSON.stringify(stdout.trim())}`));
      else resolve(ticks);
    });
  });
}

/** utime and stime (fields 14 and 15, clock ticks) of /proc/<pid>/stat: the process's threads together. */
function procCpuMeter(pid: number, ticksPerSecond: number): CpuMeter {
  return () => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // field 2, the command name, is in parentheses and may hold spaces: fields count from the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [utime, stime] = [Number(fields[14 - 3]), Number(fields[15 - 3])];
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unexpected /proc/${pid}/stat: ${stat.slice(0, 200)}`);
    return { userUs: (utime * 1e6) / ticksPerSecond, systemUs: (stime * 1e6) / ticksPerSecond };
  };
}

/** This process: the daemon under test runs in it. */
const selfCpuMeter: CpuMeter = () => {
  const usage = process.cpuUsage();
  return { userUs: usage.user, systemUs: usage.system };
};

async function cpuPerTransaction(ep: Endpoint, meter: CpuMeter, seconds: number): Promise<CpuPerTransaction> {
  const before = meter();
  const result = await pgbench(ep, ['-S', '-n', '-c', '8', '-j', '2', '-R', String(CPU_RATE), '-T', String(seconds)], seconds);
  await new Promise((r) => setTimeout(r, CPU_SETTLE_MS));
  const after = meter();
  return {
    userUs: (after.userUs - before.userUs) / result.transactions,
    systemUs: (after.systemUs - before.systemUs) / result.transactions,
    tps: result.tps,
  };
}

// ---- Airlock ----

interface AirlockUnderTest {
  endpoint?: Endpoint;
  /** a throw-away server with room for the idle connections, for a daemon process of its own */
  idleUpstream?: { url: string; database: string };
  note?: string;
  stop(): Promise<void>;
}

/** Reads and writes go through (TPC-B writes); everything else is refused at once instead of held. */
const BENCH_POLICY = `version: 1
default: deny
rules:
  - id: privileged-deny
    decision: deny
    match: { attributes: { class: privileged } }
  - id: bench-reads-writes
    decision: allow
    match: { attributes: { class: [read, write] } }
masking:
  # every built-in detector runs (detectors omitted), plus the default column rules
  columns:
    - columns: ["*password*", "*passwd*", "*secret*", "*token*", "*api_key*", "*apikey*"]
      label: REDACTED
    - columns: ["*ssn*"]
      label: REDACTED
`;

async function startAirlock(direct: Endpoint, proxies: Partial<Record<Protocol, ProxyFactory>>, log: (line: string) => void): Promise<AirlockUnderTest> {
  if (!proxies.postgres) return { note: 'Airlock: no postgres proxy in this build', stop: async () => undefined };

  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    // the machine's server allows 100 connections; the idle test needs 200 upstream backends
    let idleCluster: PgCluster | undefined;
    let idleNote: string | undefined;
    try {
      idleCluster = await startPgCluster({ auth: 'trust', settings: { max_connections: String(IDLE_CONNECTIONS + 50) } });
      const cluster = idleCluster;
      stops.push(() => cluster.stop());
    } catch (err) {
      idleNote = `RSS with ${IDLE_CONNECTIONS} idle connections: no throw-away server for them: ${(err as Error).message.split('\n')[0]}`;
    }

    const home = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-pg-'));
    stops.push(async () => rmSync(home, { recursive: true, force: true }));
    const port = await freePort();
    const target = (name: string, upstream: string, listenPort: number) => [
      `  - name: ${name}`,
      '    protocol: postgres',
      `    upstream: ${upstream}`,
      `    listen: { host: 127.0.0.1, port: ${listenPort} }`,
    ];
    const config = [
      'version: 1',
      'targets:',
      ...target('bench', `postgres://${direct.user}@${direct.host}:${direct.port}/${DB}`, port),
      'recording: { mode: async }',
      'policyFile: policy.yaml',
      '',
    ].join('\n');
    writeFileSync(path.join(home, 'config.yaml'), config);
    writeFileSync(path.join(home, 'policy.yaml'), BENCH_POLICY);

    const daemonLog: string[] = [];
    const daemon = await Daemon.start({ home, proxies, log: (line) => daemonLog.push(line) });
    stops.push(() => daemon.stop());

    const statuses = daemon.targets();
    const bench = statuses.find((s) => s.target.name === 'bench');
    if (bench?.state !== 'listening') {
      const why = bench?.state === 'unsupported' ? 'no postgres proxy in this build' : `target "bench" is ${bench?.state ?? 'missing'}: ${bench?.error ?? ''}`;
      await stop();
      return { note: `Airlock: ${why}`, stop: async () => undefined };
    }

    const info = await readDaemonInfo(path.join(home, 'daemon.json'));
    if (!info) throw new Error('daemon.json was not written');
    const res = await fetch(`http://${info.host}:${info.port}/v1/agent-sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', ttl: '8h' }),
    });
    if (res.status !== 201 && res.status !== 200) throw new Error(`POST /v1/agent-sessions: ${res.status} ${await res.text()}`);
    const { token } = (await res.json()) as { token: string };
    log(`Airlock listening on 127.0.0.1:${port} (daemon in this process)`);
    return {
      // the agent's user name is its own business: the daemon logs in upstream with the target's
      endpoint: { mode: 'airlock', host: '127.0.0.1', port, user: 'agent', password: token, database: DB },
      idleUpstream: idleCluster ? { url: `postgres://${idleCluster.user}@127.0.0.1:${idleCluster.port}/${idleCluster.database}?sslmode=disable`, database: idleCluster.database } : undefined,
      note: idleNote,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---- node-postgres in a child process ----

/**
 * Client work runs in a child process: the daemon shares this process's event loop and its RSS is
 * what we measure, so clients living here would both slow it down and inflate the figure.
 */
const CHILD = String.raw`
const cfg = JSON.parse(process.argv[1]);
const { default: pg } = await import(cfg.pg);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const conn = { ...cfg.conn, connectionTimeoutMillis: 20000 };
try {
  if (cfg.task === 'idle') {
    const clients = [];
    for (let i = 0; i < cfg.count; i += 20) {
      await Promise.all(Array.from({ length: Math.min(20, cfg.count - i) }, async () => {
        const c = new pg.Client(conn);
        c.on('error', () => {});
        clients.push(c);
        await c.connect();
        await c.query('select 1');
      }));
    }
    out({ ready: clients.length });
    process.stdin.resume();
    process.stdin.on('end', async () => {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
      process.exit(0);
    });
  } else if (cfg.task === 'wide-pg') {
    const c = new pg.Client(conn);
    await c.connect();
    const seconds = [];
    let rows = 0;
    let firstRow = [];
    for (let i = 0; i <= cfg.repeats; i++) {
      const t0 = performance.now();
      const r = await c.query({ text: cfg.sql, rowMode: 'array' });
      const t = (performance.now() - t0) / 1000;
      if (i > 0) seconds.push(t);
      rows = r.rows.length;
      firstRow = r.rows[0];
    }
    await c.end();
    out({ seconds, rows, firstRow });
    process.exit(0);
  } else {
    out(await rawWide(conn, cfg.sql, cfg.repeats));
    process.exit(0);
  }
} catch (err) {
  out({ error: String(err && err.message || err) });
  process.exit(1);
}

// The wire protocol read with no per-value work: only DataRows are counted (the first one decoded).
async function rawWide(conn, sql, repeats) {
  const net = await import('node:net');
  const { createHash, createHmac, pbkdf2Sync, randomBytes } = await import('node:crypto');
  const socket = net.connect(conn.port, conn.host);
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  const send = (type, body) => {
    const head = Buffer.alloc(type ? 5 : 4);
    if (type) { head[0] = type.charCodeAt(0); head.writeInt32BE(4 + body.length, 1); } else head.writeInt32BE(4 + body.length, 0);
    socket.write(Buffer.concat([head, body]));
  };
  let onMessage = () => {};
  let failed;
  let buf = Buffer.alloc(0);
  socket.on('data', (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    let off = 0;
    while (buf.length - off >= 5) {
      const len = buf.readInt32BE(off + 1);
      if (buf.length - off < 1 + len) break;
      onMessage(String.fromCharCode(buf[off]), buf.subarray(off + 5, off + 1 + len));
      off += 1 + len;
    }
    buf = buf.subarray(off);
  });
  // one close listener per exchange, removed when it ends: a long run of reads must not pile them up
  const until = (handler) => new Promise((resolve, reject) => {
    const onClose = () => reject(new Error(failed ?? 'connection closed'));
    socket.once('close', onClose);
    onMessage = (type, body) => {
      if (type === 'E') failed = body.toString('utf8').split('\0').filter((f) => f.startsWith('M')).map((f) => f.slice(1)).join('; ') || 'error';
      else if (type === 'Z') { socket.off('close', onClose); if (failed) reject(new Error(failed)); else resolve(); }
      else handler(type, body);
    };
  });
  const version = Buffer.alloc(4);
  version.writeInt32BE(196608);
  const params = Buffer.from('user\0' + conn.user + '\0database\0' + conn.database + '\0\0');
  send(null, Buffer.concat([version, params]));
  let clientFirstBare = '';
  await until((type, body) => {
    if (type !== 'R') return;
    const code = body.readInt32BE(0);
    if (code === 3) send('p', Buffer.from(conn.password + '\0'));
    else if (code === 5) {
      const inner = createHash('md5').update(conn.password + conn.user).digest('hex');
      send('p', Buffer.from('md5' + createHash('md5').update(Buffer.concat([Buffer.from(inner), body.subarray(4, 8)])).digest('hex') + '\0'));
    } else if (code === 10) {
      // SCRAM-SHA-256 (RFC 7677), no channel binding
      clientFirstBare = 'n=*,r=' + randomBytes(18).toString('base64');
      const first = Buffer.from('n,,' + clientFirstBare);
      const len = Buffer.alloc(4);
      len.writeInt32BE(first.length);
      send('p', Buffer.concat([Buffer.from('SCRAM-SHA-256\0'), len, first]));
    } else if (code === 11) {
      const serverFirst = body.subarray(4).toString('utf8');
      const attrs = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
      const salted = pbkdf2Sync(conn.password, Buffer.from(attrs.s, 'base64'), Number(attrs.i), 32, 'sha256');
      const clientKey = createHmac('sha256', salted).update('Client Key').digest();
      const storedKey = createHash('sha256').update(clientKey).digest();
      const withoutProof = 'c=biws,r=' + attrs.r;
      const signature = createHmac('sha256', storedKey).update(clientFirstBare + ',' + serverFirst + ',' + withoutProof).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
      send('p', Buffer.from(withoutProof + ',p=' + proof.toString('base64')));
    } else if (code !== 0 && code !== 12) failed = 'authentication method ' + code + ' is not supported by this reader';
  });
  const seconds = [];
  let rows = 0;
  let firstRow = [];
  for (let i = 0; i <= repeats; i++) {
    rows = 0;
    const t0 = performance.now();
    const done = until((type, body) => {
      if (type !== 'D') return;
      if (rows++ === 0) {
        firstRow = [];
        let p = 2;
        for (let n = body.readInt16BE(0); n > 0; n--) {
          const l = body.readInt32BE(p);
          p += 4;
          firstRow.push(l < 0 ? null : body.toString('utf8', p, p + l));
          p += Math.max(l, 0);
        }
      }
    });
    send('Q', Buffer.from(sql + '\0'));
    await done;
    if (i > 0) seconds.push((performance.now() - t0) / 1000);
  }
  send('X', Buffer.alloc(0));
  socket.end();
  return { seconds, rows, firstRow };
}
`;

interface ChildHandle {
  first: Promise<Record<string, unknown>>;
  child: ChildProcess;
  exited: Promise<void>;
}

function runChild(task: Record<string, unknown>, ep: Endpoint): ChildHandle {
  const pgEntry = pathToFileURL(createRequire(import.meta.url).resolve('pg')).href;
  const arg = JSON.stringify({ ...task, pg: pgEntry, conn: { host: ep.host, port: ep.port, user: ep.user, password: ep.password, database: ep.database } });
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, arg], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const first = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const nl = stdout.indexOf('\n');
      if (nl >= 0) {
        const message = JSON.parse(stdout.slice(0, nl)) as Record<string, unknown>;
        if (typeof message.error === 'string') reject(new Error(message.error));
        else resolve(message);
      }
    });
    void exited.then(() => reject(new Error(`client process exited: ${stderr.trim().split('\n').slice(-3).join(' | ')}`)));
  });
  return { first, child, exited };
}

/** RSS of a real `airlock up` process while `count` proxied connections sit idle. */
async function daemonProcessRss(upstream: { url: string; database: string }, count: number): Promise<{ before: number; after: number }> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-rss-'));
  const port = await freePort();
  writeFileSync(path.join(home, 'config.yaml'), `targets:\n  - { name: idle, protocol: postgres, upstream: "${upstream.url}", listen: { host: 127.0.0.1, port: ${port} } }\n`);
  const daemon = await startDaemon(home);
  const rssOf = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${daemon.info.pid}/status`, 'utf8'))![1]) * 1024;
  try {
    const created = await daemon.api('POST', '/v1/agent-sessions', { name: 'bench-idle' });
    const token = (created.json as { token: string }).token;
    const ep: Endpoint = { mode: 'airlock', host: '127.0.0.1', port, user: 'agent', password: token, database: upstream.database };
    const warm = new pg.Client({ host: ep.host, port, user: ep.user, password: token, database: ep.database });
    await warm.connect();
    await warm.query('SELECT 1');
    await warm.end();
    await new Promise((r) => setTimeout(r, 500));
    const before = rssOf();
    const handle = runChild({ task: 'idle', count }, ep);
    try {
      const ready = await withTimeout(handle.first, 120_000, 'opening the idle connections');
      if (ready.ready !== count) throw new Error(`only ${String(ready.ready)} of ${count} connections opened`);
      await new Promise((r) => setTimeout(r, 1000));
      let after = 0;
      for (let i = 0; i < 5; i++) {
        after = Math.max(after, rssOf());
        await new Promise((r) => setTimeout(r, 200));
      }
      return { before, after };
    } finally {
      handle.child.stdin!.end();
      await withTimeout(handle.exited, 20_000, 'closing the idle connections').catch(() => handle.child.kill('SIGKILL'));
    }
  } finally {
    await daemon.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

interface WideResult {
  seconds: number[];
  rows: number;
  firstRow: (string | null)[];
}

/** node-postgres (what an agent's script would use) or the bare wire protocol (what the proxy can carry). */
type WideClient = 'pg' | 'raw';

async function wideRead(ep: Endpoint, client: WideClient, repeats: number, table = 'wide_pii'): Promise<WideResult> {
  const handle = runChild({ task: client === 'pg' ? 'wide-pg' : 'wide-raw', sql: `SELECT * FROM ${table}`, repeats }, ep);
  try {
    const result = (await withTimeout(handle.first, 300_000, 'reading the wide result')) as unknown as WideResult;
    if (result.rows !== WIDE_ROWS) throw new Error(`expected ${WIDE_ROWS} rows, got ${result.rows}`);
    return result;
  } finally {
    if (handle.child.exitCode === null) handle.child.kill('SIGKILL');
    await handle.exited;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * 10 columns of the kinds most tables have and no PII: a bigint id, a uuid, two timestamps, a status,
 * an amount, a quantity, a SKU, a sentence of text and a URL. Returns their bytes as text per read.
 */
function createTypicalTable(direct: Endpoint): Promise<number> {
  return createBenchTable(direct, 'wide_typical', `
      SELECT
        (1000000000 + i * 7919)::bigint AS id,
        md5(i::text)::uuid AS public_id,
        timestamptz '2026-01-01 00:00:00+00' + i * interval '37 seconds' AS created_at,
        timestamptz '2026-01-01 00:00:00+00' + i * interval '53 seconds' + interval '0.123456 seconds' AS updated_at,
        (ARRAY['active','pending','shipped','cancelled'])[1 + i % 4] AS status,
        round((i % 10000) * 1.37, 2) AS amount,
        i % 97 AS quantity,
        'SKU-' || lpad((i % 5000)::text, 5, '0') AS sku,
        'Widget model ' || (i % 50) || ' in blue, size ' || (i % 12) || ', restocked weekly from the north warehouse' AS description,
        'https://shop.example.com/products/' || (i % 5000) || '?ref=list' AS url
      FROM generate_series(1, ${WIDE_ROWS}) AS i`);
}

/**
 * 10 text columns of synthetic PII: names, emails, phones, Luhn-valid test card numbers, mod-97-valid
 * IBANs, addresses and free text that embeds more of the same. Returns the text bytes per read.
 */
function createWideTable(direct: Endpoint): Promise<number> {
  return createBenchTable(direct, 'wide_pii', `
      SELECT
        (ARRAY['Alice','Bruno','Chiara','Dmitri','Emma','Farid','Grace','Hiro'])[1 + i % 8] || ' ' ||
          (ARRAY['Smith','Rossi','Müller','Dubois','Tanaka','Novak','García','Okafor'])[1 + (i / 8) % 8] AS full_name,
        'user' || i || '@example.com' AS email,
        '+1 415 555 ' || lpad((i % 10000)::text, 4, '0') AS phone,
        (ARRAY['4111111111111111','5500005555555559','378282246310005','6011111111111117'])[1 + i % 4] AS card_number,
        (ARRAY['DE89370400440532013000','GB82WEST12345698765432','FR1420041010050500013M02606','NL91ABNA0417164300'])[1 + i % 4] AS iban,
        (100 + i % 900) || ' Market Street, Apt ' || (i % 40) AS street,
        (ARRAY['San Francisco','Berlin','Paris','Amsterdam','Milan','Osaka'])[1 + i % 6] AS city,
        'Company ' || (i % 97) || ' Ltd' AS company,
        'Customer ' || i || ' called from +44 20 7946 0' || lpad((i % 1000)::text, 3, '0') ||
          ' about invoice ' || (100000 + i) || '; reach them at contact' || i || '@example.org. ' ||
          'Paid with card 4111 1111 1111 1111, refund to IBAN DE89 3704 0044 0532 0130 00.' AS notes,
        md5(i::text) AS reference
      FROM generate_series(1, ${WIDE_ROWS}) AS i`);
}

/** (Re)creates `name` from the query; returns the bytes of its values as text (what a read of it carries). */
async function createBenchTable(direct: Endpoint, name: string, select: string): Promise<number> {
  const client = new pg.Client({ host: direct.host, port: direct.port, user: direct.user, password: direct.password, database: direct.database });
  await client.connect();
  try {
    await client.query(`DROP TABLE IF EXISTS ${name}`);
    await client.query(`CREATE TABLE ${name} AS ${select}`);
    const { rows: columns } = await client.query<{ name: string }>(
      'SELECT attname AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
      [name],
    );
    const lengths = columns.map((c) => `coalesce(octet_length(${pg.escapeIdentifier(c.name)}::text), 0)`).join(' + ');
    const { rows } = await client.query<{ bytes: string }>(`SELECT sum(${lengths})::text AS bytes FROM ${name}`);
    return Number(rows[0]?.bytes ?? 0);
  } finally {
    await client.end();
  }
}
