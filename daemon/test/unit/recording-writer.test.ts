import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RecordBody } from '@airlock/shared';
import { hashLine } from '../../src/recording/chain.js';
import type { ChainBody } from '../../src/recording/chain.js';
import { verifyLog } from '../../src/recording/verify.js';
import { RecordingWriteError, RecordingWriter } from '../../src/recording/writer.js';

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'airlock-recording-writer-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

let counter = 0;
function newLogPath(): { id: string; file: string } {
  counter += 1;
  const id = `rec-writer-${counter}`;
  return { id, file: path.join(dir, `${id}.jsonl`) };
}

function headerBody(recordingId: string): ChainBody {
  return { type: 'header', version: 1, recordingId, agentSessionId: 'ses_a', agentSessionName: 'claude', nonce: 'cd'.repeat(16) };
}

function note(i: number): RecordBody {
  return { type: 'note', message: `note ${i}` };
}

function readLogLines(file: string): Array<Record<string, unknown>> {
  const text = readFileSync(file, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('RecordingWriter, sync mode', () => {
  test('concurrent appends share writes and fdatasyncs (group commit), each resolving only once on disk', async () => {
    const { id, file } = newLogPath();
    let datasyncs = 0;
    let writes = 0;
    const writer = new RecordingWriter({
      recordingId: id,
      file,
      mode: 'sync',
      queueLimit: 1000,
      // counts the calls the writer makes on the real handle
      openLog: async (logFile) =>
        watchedHandle(await fs.open(logFile, 'ax'), (prop) => {
          if (prop === 'datasync') datasyncs += 1;
          if (prop === 'write') writes += 1;
        }),
    });
    const onDiskWhenResolved: boolean[] = [];
    const appends = [writer.append(headerBody(id))];
    for (let i = 0; i < 64; i++) {
      appends.push(
        writer.append(note(i)).then((seq) => {
          onDiskWhenResolved.push(readLogLines(file).some((record) => record.seq === seq));
          return seq;
        }),
      );
    }
    const seqs = await Promise.all(appends);
    assert.deepEqual(seqs, Array.from({ length: 65 }, (_, i) => i));
    assert.equal(onDiskWhenResolved.length, 64);
    assert.ok(onDiskWhenResolved.every(Boolean), 'every append resolved after its record was in the file');
    assert.ok(datasyncs >= 1 && datasyncs < 10, `65 appends made ${datasyncs} fdatasyncs; group commit should need very few`);
    assert.ok(writes < 10, `65 appends made ${writes} writes`);
    await writer.seal('closed');
    const result = await verifyLog(file);
    assert.equal(result.ok, true);
    assert.equal(result.records, 66);
  });

  test('a write failure rejects the append and every later one, naming the recording', async () => {
    const { id, file } = newLogPath();
    let handle: FileHandle | undefined;
    const failures: RecordingWriteError[] = [];
    const writer = new RecordingWriter({
      recordingId: id,
      file,
      mode: 'sync',
      queueLimit: 100,
      openLog: async (logFile) => {
        handle = await fs.open(logFile, 'ax');
        return handle;
      },
      onFailed: (err) => failures.push(err),
    });
    await writer.append(headerBody(id));
    assert.equal(await writer.append(note(1)), 1);
    assert.ok(handle);
    // Closed underneath the writer: its next write fails (EBADF), as a real I/O error would.
    await handle.close();
    await assert.rejects(writer.append(note(2)), (err: Error) => {
      assert.ok(err instanceof RecordingWriteError);
      assert.match(err.message, new RegExp(`recording ${id}: cannot write .*${path.basename(file)}`));
      return true;
    });
    await assert.rejects(writer.append(note(3)), new RegExp(`recording ${id}`));
    await assert.rejects(writer.seal('closed'), new RegExp(`recording ${id}`));
    assert.equal(failures.length, 1, 'onFailed fires once');
    assert.ok(writer.failure);
    assert.deepEqual({ records: writer.written.records, head: writer.written.head }, { records: 2, head: hashLine(readFileSync(file, 'utf8').split('\n')[1] as string) });
    assert.equal(readLogLines(file).length, 2, 'nothing after the failure reached the log');
  });

  test('a log that cannot be created fails the first append', async () => {
    const blocker = path.join(dir, 'not-a-dir');
    await fs.writeFile(blocker, 'x');
    const file = path.join(blocker, 'rec.jsonl');
    const writer = new RecordingWriter({ recordingId: 'rec-blocked', file, mode: 'sync', queueLimit: 10 });
    const header = writer.append(headerBody('rec-blocked'));
    await assert.rejects(header, /recording rec-blocked: cannot create .*not-a-dir\/rec\.jsonl: ENOTDIR/);
    await assert.rejects(writer.append(note(1)), /recording rec-blocked: cannot create/);
  });

  test('a body that cannot be serialized is rejected without taking a seq', async () => {
    const { id, file } = newLogPath();
    const writer = new RecordingWriter({ recordingId: id, file, mode: 'sync', queueLimit: 10 });
    await writer.append(headerBody(id));
    const bad = { type: 'note', message: 'x', extra: 10n } as unknown as RecordBody;
    await assert.rejects(writer.append(bad), /cannot serialize a note record/);
    assert.equal(await writer.append(note(1)), 1);
    await writer.seal('closed');
    assert.equal((await verifyLog(file)).ok, true);
  });
});

describe('RecordingWriter, async mode', () => {
  test('appends resolve when queued; a full queue makes appends wait in order, never dropping', async () => {
    const { id, file } = newLogPath();
    const writer = new RecordingWriter({ recordingId: id, file, mode: 'async', queueLimit: 4 });
    const admittedOrder: number[] = [];
    const appends = [writer.append(headerBody(id))];
    for (let i = 1; i <= 200; i++) appends.push(writer.append(note(i)).then((seq) => (admittedOrder.push(seq), seq)));
    // Before any write happens only the queue's worth can have been accepted.
    await Promise.resolve();
    await Promise.resolve();
    assert.ok(admittedOrder.length <= 4, `${admittedOrder.length} appends resolved with a queue of 4`);
    assert.ok(admittedOrder.length >= 1);
    const seqs = await Promise.all(appends);
    assert.deepEqual(seqs, Array.from({ length: 201 }, (_, i) => i));
    assert.deepEqual(admittedOrder, Array.from({ length: 200 }, (_, i) => i + 1));
    await writer.seal('shutdown');
    const records = readLogLines(file);
    assert.equal(records.length, 202);
    records.slice(1, 201).forEach((record, i) => assert.equal(record.message, `note ${i + 1}`));
    assert.deepEqual(records[201], { ...records[201], type: 'seal', records: 201, reason: 'shutdown' });
  });

  test('the queue is bounded in bytes too: large records wait for room by bytes, in order, and none is dropped', async () => {
    const { id, file } = newLogPath();
    const writer = new RecordingWriter({ recordingId: id, file, mode: 'async', queueLimit: 10_000, queueBytes: 64 * 1024 });
    const big = (i: number): RecordBody => ({ type: 'note', message: `${i} ${'x'.repeat(20 * 1024)}` });
    let peak = 0;
    const appends = [writer.append(headerBody(id))];
    for (let i = 1; i <= 40; i++) {
      appends.push(
        writer.append(big(i)).then((seq) => {
          peak = Math.max(peak, writer.pendingBytes);
          return seq;
        }),
      );
    }
    await Promise.resolve();
    await Promise.resolve();
    // 64 KiB holds three records of 20 KiB; the fourth may pass the bound (one record always fits), not the fifth
    assert.ok(writer.pendingBytes <= 64 * 1024 + 21 * 1024, `${writer.pendingBytes} bytes queued with a bound of 64 KiB`);
    assert.equal(writer.tryAppendNow(note(0)), null, 'a full queue by bytes admits nothing at once');
    const seqs = await Promise.all(appends);
    assert.deepEqual(seqs, Array.from({ length: 41 }, (_, i) => i));
    assert.ok(peak <= 64 * 1024 + 21 * 1024, `peak ${peak} bytes`);
    await writer.seal('shutdown');
    assert.equal(writer.pendingBytes, 0);
    const records = readLogLines(file);
    assert.equal(records.length, 42);
    records.slice(1, 41).forEach((record, i) => assert.match(String(record.message), new RegExp(`^${i + 1} x`)));
    assert.throws(() => new RecordingWriter({ recordingId: 'r', file, mode: 'async', queueLimit: 4, queueBytes: 0 }), /queueBytes must be a positive integer, got 0/);
  });

  test('records appended while a batch is being written gather for the batch delay, not a write each', async () => {
    const { id, file } = newLogPath();
    let writes = 0;
    const writer = new RecordingWriter({
      recordingId: id,
      file,
      mode: 'async',
      queueLimit: 1000,
      // every write takes a millisecond more, so records keep arriving while one is in flight
      openLog: async (logFile) =>
        watchedHandle(await fs.open(logFile, 'ax'), async (prop) => {
          if (prop === 'write') {
            writes += 1;
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
        }),
    });
    assert.equal(writer.tryAppendNow(headerBody(id)), 0);
    // a statement's record about every millisecond: writing whatever queued as soon as a write ends
    // would make about one write per record
    for (let i = 1; i <= 40; i++) {
      assert.notEqual(writer.tryAppendNow(note(i)), null);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await writer.flush();
    assert.ok(writes <= 20, `41 records spread over ~40 ms took ${writes} writes`);
    await writer.seal('closed');
    const result = await verifyLog(file);
    assert.equal(result.ok, true);
    assert.equal(result.records, 42);
  });

  test('tryAppendNow admits at once while there is room and nothing waits, in chain order with append()', async () => {
    const { id, file } = newLogPath();
    const writer = new RecordingWriter({ recordingId: id, file, mode: 'async', queueLimit: 4 });
    assert.equal(writer.tryAppendNow(headerBody(id)), 0);
    assert.equal(await writer.append(note(1)), 1);
    assert.equal(writer.tryAppendNow(note(2)), 2);
    assert.equal(writer.tryAppendNow(note(3)), 3);
    assert.equal(writer.tryAppendNow(note(4)), null, 'the queue is full: the caller waits in append()');
    const waiting = writer.append(note(4));
    assert.equal(writer.tryAppendNow(note(5)), null, 'an append is waiting: admitting now would jump the queue');
    assert.equal(await waiting, 4);
    await writer.seal('closed');
    assert.equal(writer.tryAppendNow(note(6)), null, 'sealed');
    const records = readLogLines(file);
    assert.deepEqual(records.map((r) => r.message ?? r.type), ['header', 'note 1', 'note 2', 'note 3', 'note 4', 'seal']);
    assert.equal((await verifyLog(file)).ok, true);
  });

  test('tryAppendNow is never taken in sync mode or after a failure', async () => {
    const sync = newLogPath();
    const syncWriter = new RecordingWriter({ recordingId: sync.id, file: sync.file, mode: 'sync', queueLimit: 4 });
    assert.equal(syncWriter.tryAppendNow(headerBody(sync.id)), null);
    await syncWriter.abort('test over');
    const failing = newLogPath();
    const writer = new RecordingWriter({
      recordingId: failing.id,
      file: failing.file,
      mode: 'async',
      queueLimit: 4,
      openLog: () => Promise.reject(new Error('EACCES')),
    });
    assert.equal(writer.tryAppendNow(headerBody(failing.id)), 0);
    await assert.rejects(writer.flush(), /EACCES/);
    assert.equal(writer.tryAppendNow(note(1)), null);
    await assert.rejects(writer.append(note(1)), /EACCES/);
  });

  test('appends after the seal are refused', async () => {
    const { id, file } = newLogPath();
    const writer = new RecordingWriter({ recordingId: id, file, mode: 'async', queueLimit: 4 });
    void writer.append(headerBody(id));
    const sealing = writer.seal('revoked');
    await assert.rejects(writer.append(note(1)), new RegExp(`recording ${id} is sealed`));
    assert.deepEqual((await sealing).seq, 1);
    assert.equal((await verifyLog(file)).sealed, true);
  });
});

/** The real file handle, with `before` run (and awaited) ahead of each method call the writer makes. */
function watchedHandle(handle: FileHandle, before: (method: string | symbol) => void | Promise<void>): FileHandle {
  return new Proxy(handle, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const waited = before(prop);
        const call = () => (value as (...a: unknown[]) => unknown).apply(target, args);
        return waited instanceof Promise ? waited.then(call) : call();
      };
    },
  });
}
