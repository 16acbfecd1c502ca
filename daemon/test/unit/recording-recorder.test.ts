import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RecordBody, RecordingSummary } from '@airlock/shared';
import { hashLine, serializeRecord } from '../../src/recording/chain.js';
import { Recorder } from '../../src/recording/recorder.js';
import type { RecorderOptions } from '../../src/recording/recorder.js';

let root: string;
before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'airlock-recorder-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

let homes = 0;
/** A fresh data dir: recordings/ and sessions.json, as homePaths lays them out. */
async function newHome(): Promise<{ dir: string; indexFile: string }> {
  homes += 1;
  const home = path.join(root, `home-${homes}`);
  await fs.mkdir(home);
  return { dir: path.join(home, 'recordings'), indexFile: path.join(home, 'sessions.json') };
}

function recorderFor(home: { dir: string; indexFile: string }, overrides: Partial<RecorderOptions> = {}): Recorder {
  return new Recorder({ ...home, mode: 'async', queueLimit: 1000, indexLimit: 100, ...overrides });
}

/** A clock that moves 1 s per call, so recordings opened one after another have distinct, ordered times. */
function steppingClock(): () => Date {
  let t = Date.parse('2025-03-01T09:00:00.000Z');
  return () => new Date((t += 1000));
}

function actionBody(i: number, sessionId = 'ses_a'): RecordBody {
  return {
    type: 'action',
    action: {
      id: `act_${i}`,
      sessionId,
      target: 'prod-db',
      protocol: 'postgres',
      kind: 'sql.query',
      summary: `UPDATE accounts SET plan = 'pro' WHERE id = ${i}`,
      risk: 'medium',
      attributes: { class: 'write', tables: ['accounts'], statementCount: 1 },
      detail: { sql: `UPDATE accounts SET plan = 'pro' WHERE id = ${i}` },
      at: '2025-03-01T09:00:00.000Z',
    },
    decision: { decision: 'allow', ruleId: 'writes-ok', reason: 'writes to accounts are allowed' },
  };
}

const alice = { id: 'ses_a', name: 'alice-claude' };
const bob = { id: 'ses_b', name: 'bob-copilot' };

function logLines(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return text.split('\n').filter((line, i, all) => !(line === '' && i === all.length - 1));
}

interface CrashPlan {
  home: { dir: string; indexFile: string };
  appends: Array<{ session: { id: string; name: string }; body: RecordBody }>;
  /** how long the child keeps running after its last append (lets a throttled index write through) */
  lingerMs: number;
}

const RECORDER_MODULE = new URL('../../src/recording/recorder.js', import.meta.url).href;

/**
 * Runs a sync-mode recorder in a child process, appends, then kills it with SIGKILL: a real crash, no
 * close(), no seal. Resolves with the recording id of each append.
 */
async function recordThenCrash(plan: CrashPlan): Promise<string[]> {
  const script = `
    import { Recorder } from ${JSON.stringify(RECORDER_MODULE)};
    let input = '';
    for await (const chunk of process.stdin) input += chunk;
    const plan = JSON.parse(input);
    const recorder = new Recorder({ ...plan.home, mode: 'sync', queueLimit: 1000, indexLimit: 100, indexThrottleMs: 10 });
    await recorder.start();
    const ids = [];
    for (const { session, body } of plan.appends) ids.push((await recorder.append(session, body)).recordingId);
    await new Promise((resolve) => setTimeout(resolve, plan.lingerMs));
    process.stdout.write(JSON.stringify(ids) + String.fromCharCode(10));
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(JSON.stringify(plan));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const ids = await new Promise<string[]>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('\n')) resolve(JSON.parse(stdout) as string[]);
    });
    void exited.then((how) => reject(new Error(`the recording child exited early (${String(how)}): ${stderr}`)));
  });
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  return ids;
}

async function readIndexFile(indexFile: string): Promise<{ version: number; recordings: RecordingSummary[] }> {
  return JSON.parse(await fs.readFile(indexFile, 'utf8')) as { version: number; recordings: RecordingSummary[] };
}

describe('Recorder: recording lifecycle', () => {
  test('opens lazily per agent session, seals on close, and keeps the index current', async () => {
    const home = await newHome();
    const recorder = recorderFor(home);
    const opened: RecordingSummary[] = [];
    const sealed: RecordingSummary[] = [];
    recorder.on('opened', (s) => opened.push(s));
    recorder.on('sealed', (s) => sealed.push(s));
    await recorder.start();
    assert.deepEqual(recorder.list(), []);

    const first = await recorder.append(alice, actionBody(1));
    const second = await recorder.append(alice, actionBody(2));
    const other = await recorder.append(bob, actionBody(3, bob.id));
    assert.equal(first.seq, 1, 'seq 0 is the header');
    assert.equal(second.seq, 2);
    assert.equal(second.recordingId, first.recordingId);
    assert.notEqual(other.recordingId, first.recordingId);
    assert.deepEqual(opened.map((s) => s.agentSessionName), ['alice-claude', 'bob-copilot']);

    await recorder.close();
    assert.deepEqual(sealed.map((s) => [s.agentSessionId, s.sealReason, s.state]).sort(), [
      ['ses_a', 'shutdown', 'sealed'],
      ['ses_b', 'shutdown', 'sealed'],
    ]);
    const summary = recorder.get(first.recordingId);
    assert.ok(summary);
    const lines = logLines(recorder.logPath(first.recordingId));
    assert.equal(lines.length, 4);
    assert.deepEqual(
      { records: summary.records, head: summary.head, actions: summary.actions, state: summary.state },
      { records: 4, head: hashLine(lines[3] as string), actions: 2, state: 'sealed' },
    );
    const onDisk = await readIndexFile(home.indexFile);
    assert.deepEqual(onDisk.recordings.find((r) => r.id === first.recordingId), summary);
    assert.equal((await recorder.verify(first.recordingId)).ok, true);
    await assert.rejects(recorder.append(alice, actionBody(4)), /recorder is closed/);
  });

  test('a recording verified the moment it opens, before its log exists, is not reported as deleted; a log deleted after its first line is', async () => {
    const home = await newHome();
    const recorder = recorderFor(home, { mode: 'sync' });
    await recorder.start();
    // append opens the recording synchronously; its log is created when the writer first writes
    const appended = recorder.append(alice, actionBody(1));
    const opened = recorder.openSessions().length === 1 ? recorder.list()[0] : undefined;
    assert.ok(opened, 'the recording is listed at once');
    const early = await recorder.verify(opened.id);
    assert.deepEqual({ ok: early.ok, records: early.records, problems: early.ledgerProblems }, { ok: true, records: 0, problems: undefined });
    await appended;
    await recorder.append(alice, actionBody(2));
    await fs.rm(recorder.logPath(opened.id));
    const deleted = await recorder.verify(opened.id);
    assert.equal(deleted.ok, false, 'a log that had lines and is gone is still caught');
    await recorder.close();
  });

  test('list() is newest first', async () => {
    const recorder = recorderFor(await newHome(), { now: steppingClock() });
    await recorder.start();
    const a = await recorder.append(alice, actionBody(1));
    const b = await recorder.append(bob, actionBody(2, bob.id));
    assert.deepEqual(
      recorder.list().map((s) => s.id),
      [b.recordingId, a.recordingId],
    );
    await recorder.close();
  });

  test('seal() ends the recording; a later record of the session opens a new one', async () => {
    const recorder = recorderFor(await newHome());
    await recorder.start();
    const first = await recorder.append(alice, actionBody(1));
    const summary = await recorder.seal(alice.id, 'revoked');
    assert.equal(summary?.state, 'sealed');
    assert.equal(summary?.sealReason, 'revoked');
    assert.equal(await recorder.seal(alice.id, 'revoked'), undefined, 'nothing left to seal');
    const later = await recorder.append(alice, actionBody(2));
    assert.notEqual(later.recordingId, first.recordingId);
    assert.equal(later.seq, 1);
    const verify = await recorder.verify(first.recordingId);
    assert.deepEqual({ ok: verify.ok, sealed: verify.sealed, records: verify.records }, { ok: true, sealed: true, records: 3 });
    await recorder.close();
  });

  test('readRecords of an open recording includes what was appended just before, still queued in async mode', async () => {
    const recorder = recorderFor(await newHome());
    await recorder.start();
    const { recordingId } = await recorder.append(alice, actionBody(1));
    assert.equal(recorder.tryAppendNow(alice, actionBody(2)), true);
    const page = await recorder.readRecords(recordingId, -1, 10);
    assert.deepEqual(
      page.records.map((r) => r.type),
      ['header', 'action', 'action'],
    );
    await recorder.close();
  });

  test('readRecords pages through a long log in order, with records that re-chain byte for byte', async () => {
    const recorder = recorderFor(await newHome());
    await recorder.start();
    let id = '';
    for (let i = 0; i < 2500; i++) id = (await recorder.append(alice, actionBody(i))).recordingId;
    await recorder.seal(alice.id, 'closed');

    const seen: number[] = [];
    let previousHash: string | null = null;
    let after = -1;
    let pages = 0;
    for (;;) {
      const page = await recorder.readRecords(id, after, 700);
      pages += 1;
      for (const record of page.records) {
        seen.push(record.seq);
        assert.equal(record.prev, previousHash, `record ${record.seq} links to the one before`);
        previousHash = hashLine(serializeRecord(record));
      }
      if (page.nextAfter === null) break;
      assert.equal(page.nextAfter, page.records[page.records.length - 1]?.seq);
      after = page.nextAfter;
    }
    assert.equal(pages, 4);
    assert.deepEqual(seen, Array.from({ length: 2502 }, (_, i) => i));
    // Again from the middle, now that line offsets are cached.
    const middle = await recorder.readRecords(id, 2047, 3);
    assert.deepEqual(
      middle.records.map((r) => r.seq),
      [2048, 2049, 2050],
    );
    assert.equal(middle.nextAfter, 2050);
    const end = await recorder.readRecords(id, 2499, 10);
    assert.deepEqual(
      end.records.map((r) => r.type),
      ['action', 'seal'],
    );
    assert.equal(end.nextAfter, null);
    await assert.rejects(recorder.readRecords('rec-does-not-exist', -1, 10), /unknown recording "rec-does-not-exist"/);
    await recorder.close();
  });

  test('the index is not written per record: it names a recording before its log exists and catches up later', async () => {
    const home = await newHome();
    const recorder = recorderFor(home, { mode: 'sync', indexThrottleMs: 60_000 });
    await recorder.start();
    const { recordingId } = await recorder.append(alice, actionBody(1));
    for (let i = 2; i <= 20; i++) await recorder.append(alice, actionBody(i));
    const during = (await readIndexFile(home.indexFile)).recordings.find((r) => r.id === recordingId);
    assert.ok(during, 'the index names the recording as soon as its log is created');
    assert.equal(during.state, 'open');
    assert.ok(during.records < 21, `index written per record (${during.records} of 21)`);
    assert.equal(recorder.get(recordingId)?.records, 21, 'in memory the summary is current');
    await recorder.close();
    const after = (await readIndexFile(home.indexFile)).recordings.find((r) => r.id === recordingId);
    assert.equal(after?.records, 22);
    assert.equal(after?.state, 'sealed');
  });
});

describe('Recorder: async queue', () => {
  test('a bounded queue never drops: many appends fired at once all land, in order', async () => {
    const home = await newHome();
    const recorder = recorderFor(home, { queueLimit: 16 });
    await recorder.start();
    let resolvedEarly = 0;
    const appends = Array.from({ length: 5000 }, (_, i) =>
      recorder.append(alice, actionBody(i)).then((r) => {
        resolvedEarly += 1;
        return r;
      }),
    );
    await Promise.resolve();
    await Promise.resolve();
    await Promise.resolve();
    assert.ok(resolvedEarly <= 16, `${resolvedEarly} appends were accepted before anything was written, with a queue of 16`);
    const results = await Promise.all(appends);
    assert.deepEqual(
      results.map((r) => r.seq),
      Array.from({ length: 5000 }, (_, i) => i + 1),
    );
    await recorder.close();
    const id = results[0]?.recordingId as string;
    const lines = logLines(recorder.logPath(id));
    assert.equal(lines.length, 5002);
    lines.slice(1, 5001).forEach((line, i) => {
      const record = JSON.parse(line) as { action: { id: string } };
      assert.equal(record.action.id, `act_${i}`);
    });
    const verify = await recorder.verify(id);
    assert.deepEqual({ ok: verify.ok, records: verify.records, sealed: verify.sealed }, { ok: true, records: 5002, sealed: true });
  });
});

describe('Recorder: failures', () => {
  test('sync mode: an append that cannot be written is rejected, and so is every later one', async () => {
    const home = await newHome();
    const recorder = recorderFor(home, { mode: 'sync' });
    await recorder.start();
    // The recordings dir replaced by a file: the log cannot be created.
    await fs.rm(home.dir, { recursive: true });
    await fs.writeFile(home.dir, 'not a directory');
    const failures: Array<{ recordingId: string; error: string }> = [];
    recorder.on('failed', (f) => failures.push(f));

    let recordingId = '';
    await assert.rejects(recorder.append(alice, actionBody(1)), (err: Error) => {
      assert.match(err.message, /recording (rec-\S+): cannot create .*ENOTDIR/);
      recordingId = /recording (rec-\S+):/.exec(err.message)?.[1] as string;
      return true;
    });
    await assert.rejects(recorder.append(alice, actionBody(2)), new RegExp(`recording ${recordingId}: cannot create`));
    assert.equal(failures.length, 1);
    assert.equal(failures[0]?.recordingId, recordingId);
    assert.equal(recorder.get(recordingId)?.state, 'interrupted');
    // Another session is unaffected by this one's failed recording, but fails the same way on this disk.
    await assert.rejects(recorder.append(bob, actionBody(3, bob.id)), /cannot create/);
    await recorder.close();
  });
});

describe('Recorder: restart after a crash', () => {
  test('recordings left open are verified and marked interrupted; a torn last line is left in place', async () => {
    const home = await newHome();
    const ids = await recordThenCrash({ home, appends: Array.from({ length: 20 }, (_, i) => ({ session: alice, body: actionBody(i) })), lingerMs: 0 });
    const id = ids[0] as string;
    // The crash also cut a record short mid-write.
    const file = path.join(home.dir, `${id}.jsonl`);
    await fs.appendFile(file, '{"seq":21,"ts":"2025-03-01T09:');
    const sizeBefore = (await fs.stat(file)).size;

    const restarted = recorderFor(home);
    const { interrupted, index } = await restarted.start();
    assert.equal(index.rebuilt, false);
    assert.deepEqual(
      interrupted.map((s) => s.id),
      [id],
    );
    const lines = logLines(file);
    const summary = restarted.get(id);
    assert.deepEqual(
      { state: summary?.state, records: summary?.records, head: summary?.head, actions: summary?.actions },
      { state: 'interrupted', records: 21, head: hashLine(lines[20] as string), actions: 20 },
    );
    assert.equal((await fs.stat(file)).size, sizeBefore, 'the log was not rewritten');
    const verify = await restarted.verify(id);
    assert.deepEqual({ ok: verify.ok, torn: verify.torn, records: verify.records, sealed: verify.sealed }, { ok: true, torn: true, records: 21, sealed: false });
    // A new run records the same agent session in a new log.
    const next = await restarted.append(alice, actionBody(99));
    assert.notEqual(next.recordingId, id);
    await restarted.close();
  });

  test('a log truncated below what the index knew keeps the index counts and fails verification', async () => {
    const home = await newHome();
    const ids = await recordThenCrash({ home, appends: Array.from({ length: 20 }, (_, i) => ({ session: alice, body: actionBody(i) })), lingerMs: 150 });
    const id = ids[0] as string;
    const known = (await readIndexFile(home.indexFile)).recordings.find((r) => r.id === id);
    assert.equal(known?.records, 21, 'the throttled index write caught up before the crash');
    const file = path.join(home.dir, `${id}.jsonl`);
    await fs.writeFile(file, logLines(file).slice(0, 15).join('\n') + '\n');

    const restarted = recorderFor(home);
    const { interrupted } = await restarted.start();
    assert.equal(interrupted[0]?.records, 21, 'the index keeps what it knew');
    const verify = await restarted.verify(id);
    assert.equal(verify.ok, false);
    assert.match(verify.error?.reason ?? '', /truncated: the index recorded 21 complete lines but the log has 15/);
    await restarted.close();
  });

  test('removing the seal of a sealed recording is caught by the next run', async () => {
    const home = await newHome();
    const first = recorderFor(home);
    await first.start();
    const { recordingId } = await first.append(alice, actionBody(1));
    await first.close();
    const file = first.logPath(recordingId);
    await fs.writeFile(file, logLines(file).slice(0, -1).join('\n') + '\n');
    const second = recorderFor(home);
    await second.start();
    const verify = await second.verify(recordingId);
    assert.equal(verify.ok, false);
    assert.match(verify.error?.reason ?? '', /truncated/);
    await second.close();
  });
});

describe('Recorder: session index', () => {
  async function populate(home: { dir: string; indexFile: string }): Promise<{ sealedId: string; crashedId: string }> {
    const first = recorderFor(home, { now: steppingClock() });
    await first.start();
    const sealedId = (await first.append(alice, actionBody(1))).recordingId;
    await first.append(alice, actionBody(2));
    await first.close();
    const [crashedId] = await recordThenCrash({
      home,
      appends: [
        { session: bob, body: actionBody(3, bob.id) },
        { session: bob, body: actionBody(4, bob.id) },
      ],
      lingerMs: 0,
    });
    return { sealedId, crashedId: crashedId as string };
  }

  async function checkRebuilt(home: { dir: string; indexFile: string }, ids: { sealedId: string; crashedId: string }, reason: string): Promise<void> {
    const recorder = recorderFor(home);
    const { index, interrupted } = await recorder.start();
    assert.deepEqual({ rebuilt: index.rebuilt, reason: index.rebuilt ? index.reason : undefined }, { rebuilt: true, reason });
    const sealedLines = logLines(path.join(home.dir, `${ids.sealedId}.jsonl`));
    const sealed = recorder.get(ids.sealedId);
    assert.deepEqual(
      { state: sealed?.state, records: sealed?.records, head: sealed?.head, agent: sealed?.agentSessionName, reason: sealed?.sealReason },
      { state: 'sealed', records: 4, head: hashLine(sealedLines[3] as string), agent: 'alice-claude', reason: 'shutdown' },
    );
    const crashed = recorder.get(ids.crashedId);
    assert.deepEqual({ state: crashed?.state, records: crashed?.records, head: crashed?.head }, { state: 'interrupted', records: 3, head: null });
    assert.deepEqual(
      interrupted.map((s) => s.id),
      [ids.crashedId],
    );
    assert.equal((await recorder.verify(ids.sealedId)).ok, true);
    assert.equal((await recorder.verify(ids.crashedId)).ok, true);
    const onDisk = await readIndexFile(home.indexFile);
    assert.deepEqual(onDisk.recordings.map((r) => r.id).sort(), [ids.sealedId, ids.crashedId].sort(), 'the rebuilt index was written');
    await recorder.close();
  }

  test('rebuilt from the logs when sessions.json is missing', async () => {
    const home = await newHome();
    const ids = await populate(home);
    await fs.rm(home.indexFile);
    await checkRebuilt(home, ids, 'missing');
  });

  test('rebuilt from the logs when sessions.json is not JSON; the damaged file is kept aside', async () => {
    const home = await newHome();
    const ids = await populate(home);
    await fs.writeFile(home.indexFile, '{"version":1,"recordings":[{"id":');
    await checkRebuilt(home, ids, 'corrupt');
    const kept = (await fs.readdir(path.dirname(home.indexFile))).filter((name) => name.startsWith('sessions.json.corrupt-'));
    assert.equal(kept.length, 1);
  });

  test('rebuilt from the logs when sessions.json fails the schema', async () => {
    const home = await newHome();
    const ids = await populate(home);
    await fs.writeFile(home.indexFile, JSON.stringify({ version: 1, recordings: [{ id: 42 }] }));
    await checkRebuilt(home, ids, 'corrupt');
  });

  test('a rebuild reads tails whose last record is longer than its first read window', async () => {
    const home = await newHome();
    const big: RecordBody = { type: 'result', actionId: 'act_1', summary: '1 row', detail: { rows: ['x'.repeat(200_000)] } };
    const [recordingId] = await recordThenCrash({
      home,
      appends: [
        { session: alice, body: actionBody(1) },
        { session: alice, body: big },
      ],
      lingerMs: 0,
    });
    await fs.rm(home.indexFile);
    const recorder = recorderFor(home);
    await recorder.start();
    const summary = recorder.get(recordingId as string);
    assert.deepEqual({ records: summary?.records, state: summary?.state }, { records: 3, state: 'interrupted' });
    await recorder.close();
  });

  test('a rebuild keeps the newest logs up to the limit', async () => {
    const home = await newHome();
    const writer = recorderFor(home, { indexLimit: 20, now: steppingClock() });
    await writer.start();
    const ids: string[] = [];
    for (let i = 0; i < 13; i++) {
      const session = { id: `ses_${i}`, name: `agent-${i}` };
      ids.push((await writer.append(session, actionBody(i, session.id))).recordingId);
      await writer.seal(session.id, 'closed');
    }
    await writer.close();
    await fs.rm(home.indexFile);
    const recorder = recorderFor(home, { indexLimit: 10 });
    const { index } = await recorder.start();
    assert.equal(index.rebuilt, true);
    assert.deepEqual(
      recorder.list().map((s) => s.id),
      ids.slice(-10).reverse(),
    );
    await recorder.close();
  });

  test('bounded: the oldest ended recordings leave the index first, open ones stay; their logs stay on disk', async () => {
    const home = await newHome();
    const recorder = recorderFor(home, { indexLimit: 10, now: steppingClock() });
    await recorder.start();
    const longRunning = (await recorder.append({ id: 'ses_long', name: 'long' }, actionBody(0, 'ses_long'))).recordingId;
    const ended: string[] = [];
    for (let i = 1; i <= 14; i++) {
      const session = { id: `ses_${i}`, name: `agent-${i}` };
      ended.push((await recorder.append(session, actionBody(i, session.id))).recordingId);
      await recorder.seal(session.id, 'closed');
    }
    const listed = recorder.list().map((s) => s.id);
    assert.equal(listed.length, 10);
    assert.ok(listed.includes(longRunning), 'the open recording is never evicted');
    assert.deepEqual(listed.slice(0, 9), ended.slice(-9).reverse(), 'the newest ended ones are kept, newest first');
    assert.equal(recorder.get(ended[0] as string), undefined);
    // An evicted recording's log is still there and still verifies by id.
    const evicted = await recorder.verify(ended[0] as string);
    assert.deepEqual({ ok: evicted.ok, sealed: evicted.sealed }, { ok: true, sealed: true });
    await recorder.close();
    assert.equal((await readIndexFile(home.indexFile)).recordings.length, 10);
  });
});
