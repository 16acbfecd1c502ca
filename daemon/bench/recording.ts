import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { RecordBody } from '@airlock/shared';
import { Recorder } from '../src/recording/recorder.js';
import { verifyLog } from '../src/recording/verify.js';
import { percentile } from './report.js';
import type { BenchFigure, BenchSection } from './report.js';

const ASYNC_RECORDS = 200_000;
const SYNC_APPENDERS = 64;
const SYNC_SECONDS = 2;
const SYNC_ROUNDS = 2;
/** what the writer takes per batch with the default queueLimit of 10,000 (half of it) */
const BATCH_LINES = 5_000;
/** a stand-in for the hash the baseline does not compute, so its lines are as long as the recorder's */
const FAKE_PREV = '0'.repeat(64);

/** An action record as a PostgreSQL proxy would hand it to the recorder: classified, decided. */
function actionBody(i: number): RecordBody {
  const sql = `SELECT o.id, o.total, c.email FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.created_at > now() - interval '7 days' AND o.status = 'open' LIMIT ${100 + (i % 50)}`;
  return {
    type: 'action',
    action: {
      id: `act_${i.toString(36).padStart(8, '0')}`,
      sessionId: 'ses_bench',
      target: 'prod-db',
      protocol: 'postgres',
      kind: 'sql.query',
      summary: sql,
      risk: 'low',
      attributes: { class: 'read', tables: ['orders', 'customers'], statementCount: 1, inTransaction: false },
      detail: { statements: [{ class: 'read', tables: ['orders', 'customers'], text: sql }], database: 'shop', user: 'agent' },
      at: new Date().toISOString(),
    },
    decision: { decision: 'allow', ruleId: 'reads-allowed', reason: 'reads on prod are allowed' },
  };
}

/** The line the baseline writes: what the recorder writes, minus the chain work. */
function rawLine(seq: number, body: RecordBody): string {
  return JSON.stringify({ seq, ts: new Date().toISOString(), ...body, prev: FAKE_PREV });
}

const session = { id: 'ses_bench', name: 'bench-agent' };

function newRecorder(home: string, mode: 'async' | 'sync'): Recorder {
  return new Recorder({
    dir: path.join(home, 'recordings'),
    indexFile: path.join(home, 'sessions.json'),
    mode,
    queueLimit: 10_000,
    indexLimit: 5_000,
  });
}

async function recorderAsync(home: string): Promise<{ perSecond: number; file: string; bytes: number }> {
  const recorder = newRecorder(home, 'async');
  await recorder.start();
  const bodies = Array.from({ length: 1000 }, (_, i) => actionBody(i));
  const started = performance.now();
  let recordingId = '';
  for (let i = 0; i < ASYNC_RECORDS; i++) {
    ({ recordingId } = await recorder.append(session, bodies[i % bodies.length] as RecordBody));
  }
  await recorder.close();
  const seconds = (performance.now() - started) / 1000;
  const file = recorder.logPath(recordingId);
  return { perSecond: ASYNC_RECORDS / seconds, file, bytes: (await fs.stat(file)).size };
}

async function rawAsync(home: string): Promise<number> {
  const handle = await fs.open(path.join(home, 'raw-async.jsonl'), 'a');
  const bodies = Array.from({ length: 1000 }, (_, i) => actionBody(i));
  const started = performance.now();
  let batch = '';
  let inBatch = 0;
  for (let i = 0; i < ASYNC_RECORDS; i++) {
    batch += rawLine(i + 1, bodies[i % bodies.length] as RecordBody) + '\n';
    inBatch += 1;
    if (inBatch === BATCH_LINES) {
      await handle.write(batch);
      batch = '';
      inBatch = 0;
    }
  }
  if (batch) await handle.write(batch);
  await handle.datasync();
  await handle.close();
  return ASYNC_RECORDS / ((performance.now() - started) / 1000);
}

async function recorderSync(home: string): Promise<{ perSecond: number; latencies: number[] }> {
  const recorder = newRecorder(home, 'sync');
  await recorder.start();
  const body = actionBody(1);
  const latencies: number[] = [];
  const deadline = performance.now() + SYNC_SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: SYNC_APPENDERS }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        await recorder.append(session, body);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await recorder.close();
  return { perSecond: latencies.length / seconds, latencies: latencies.sort((a, b) => a - b) };
}

/** Group commit without the recorder: appenders queue lines, one loop writes and fdatasyncs whatever queued up. */
async function rawSync(home: string, round: number): Promise<number> {
  const handle: FileHandle = await fs.open(path.join(home, `raw-sync-${round}.jsonl`), 'a');
  const body = actionBody(1);
  let queue: Array<{ line: string; done: () => void }> = [];
  let writing = false;
  let seq = 0;
  const drain = async (): Promise<void> => {
    writing = true;
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      let text = '';
      for (const entry of batch) text += entry.line + '\n';
      await handle.write(text);
      await handle.datasync();
      for (const entry of batch) entry.done();
    }
    writing = false;
  };
  const append = (line: string): Promise<void> =>
    new Promise((resolve) => {
      queue.push({ line, done: resolve });
      if (!writing) setImmediate(() => void (writing ? undefined : drain()));
    });
  let count = 0;
  const deadline = performance.now() + SYNC_SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: SYNC_APPENDERS }, async () => {
      while (performance.now() < deadline) {
        seq += 1;
        await append(rawLine(seq, body));
        count += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await handle.close();
  return count / seconds;
}

/** Recorder throughput in async and sync mode, each against plain appends of the same lines. */
export async function benchRecording(): Promise<BenchSection> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'airlock-bench-recording-'));
  try {
    const asyncHome = path.join(root, 'async');
    const syncHome = path.join(root, 'sync');
    await fs.mkdir(asyncHome);
    await fs.mkdir(syncHome);

    // Sync first, before the async runs leave hundreds of MB for the kernel to write back; rounds
    // alternate with the baseline and the best of each counts, so neither side gets the quieter disk.
    let sync = { perSecond: 0, latencies: [] as number[] };
    let syncBaseline = 0;
    for (let round = 0; round < SYNC_ROUNDS; round++) {
      const measured = await recorderSync(path.join(syncHome, `round-${round}`));
      if (measured.perSecond > sync.perSecond) sync = measured;
      syncBaseline = Math.max(syncBaseline, await rawSync(syncHome, round));
    }

    const async = await recorderAsync(asyncHome);
    const asyncBaseline = await rawAsync(asyncHome);
    const verifyStarted = performance.now();
    const verified = await verifyLog(async.file);
    const verifyPerSecond = verified.records / ((performance.now() - verifyStarted) / 1000);

    const figures: BenchFigure[] = [
      {
        name: `async mode, ${ASYNC_RECORDS.toLocaleString('en-US')} action records (append + close)`,
        value: async.perSecond,
        unit: 'records/s',
        baseline: { name: 'raw append of the same lines, no hashing', value: asyncBaseline },
        target: { op: '>=', value: 50_000 },
      },
      {
        name: `sync mode, ${SYNC_APPENDERS} concurrent appenders (group commit, fdatasync; best of ${SYNC_ROUNDS} × ${SYNC_SECONDS} s)`,
        value: sync.perSecond,
        unit: 'records/s',
        baseline: { name: 'raw group-commit write + fdatasync', value: syncBaseline },
      },
      { name: 'sync mode append latency p50', value: percentile(sync.latencies, 50), unit: 'ms' },
      { name: 'sync mode append latency p99', value: percentile(sync.latencies, 99), unit: 'ms' },
      { name: 'verify (stream, parse, schema, chain)', value: verifyPerSecond, unit: 'records/s' },
    ];
    return {
      title: 'Recording',
      figures,
      notes: [
        `average line ${Math.round(async.bytes / (ASYNC_RECORDS + 2))} bytes; logs in ${os.tmpdir()}`,
        `verify of the async log: ${verified.ok ? 'ok' : `FAILED: ${verified.error?.reason}`}, ${verified.records} records`,
        'sync mode is a closed loop (each appender waits for its batch), so the per-record serialize + hash time adds to every write + fdatasync cycle',
      ],
    };
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}
