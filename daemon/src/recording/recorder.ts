import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { RecordingRecord } from '@airlock/shared';
import type { RecordBody, RecordingMode, RecordingSummary, VerifyResult } from '@airlock/shared';
import { RECORDING_FORMAT_VERSION } from './chain.js';
import type { SealReason } from './chain.js';
import { scanLines } from './lines.js';
import type { LineCursor } from './lines.js';
import { LOG_EXTENSION, SessionIndex } from './session-index.js';
import type { IndexLoad } from './session-index.js';
import { RecordingLedger } from './ledger.js';
import { verifyOne } from './verify-all.js';
import { scanLog, verifyLog } from './verify.js';
import { RecordingWriter } from './writer.js';
import type { RecordingWriteError } from './writer.js';

export interface RecorderOptions {
  /** recordings dir: one `<recordingId>.jsonl` per recording */
  dir: string;
  /** the session index (lowdb), `<home>/sessions.json` */
  indexFile: string;
  /** the recordings ledger; default `ledger.jsonl` beside the index */
  ledgerFile?: string;
  mode: RecordingMode;
  /** records queued per recording before appends wait */
  queueLimit: number;
  /** bytes queued per recording before appends wait (default: no bound but the count) */
  queueBytes?: number;
  /** entries kept in the session index */
  indexLimit: number;
  now?: () => Date;
  /** least time between index writes while recording (default 250 ms) */
  indexThrottleMs?: number;
}

export interface RecorderEventMap {
  opened: [RecordingSummary];
  sealed: [RecordingSummary];
  failed: [{ recordingId: string; error: string }];
  /** the session index could not be written in the background; the logs are unaffected */
  indexFailed: [{ file: string; error: string }];
}

export interface RecorderStart {
  /** recordings a previous run left open (crashed), now marked interrupted; after a rebuild, every unsealed log */
  interrupted: RecordingSummary[];
  index: IndexLoad;
  /** the recordings ledger did not exist and was started now */
  ledgerStarted: boolean;
}

/** No recording by that id: not in the index, and no log of that name. */
export class UnknownRecordingError extends Error {
  constructor(
    readonly recordingId: string,
    message: string,
  ) {
    super(message);
    this.name = 'UnknownRecordingError';
  }
}

interface OpenRecording {
  agentSessionId: string;
  /** lets the ledger write this recording's `created` entry (and those after it) if beforeOpen never ran */
  releaseLedger?: () => void;
  summary: RecordingSummary;
  writer: RecordingWriter;
}

/** Ids become file names; anything else cannot name a log. */
const RECORDING_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const CHECKPOINT_EVERY_LINES = 1024;
const CHECKPOINT_CACHE_RECORDINGS = 64;

/**
 * Records every agent session in its own hash-chained log (see writer.ts and verify.ts) and keeps the
 * session index. A recording is opened on its agent session's first record and sealed when the session
 * ends or the daemon stops; a recording never spans two daemon runs.
 */
export class Recorder extends EventEmitter<RecorderEventMap> {
  readonly dir: string;
  readonly mode: RecordingMode;
  readonly #options: RecorderOptions;
  readonly #now: () => Date;
  readonly #index: SessionIndex;
  readonly #ledger: RecordingLedger;
  readonly #indexFile: string;
  readonly #ledgerFile: string;
  /** by agent session id: the recording new records of that session go to */
  readonly #open = new Map<string, OpenRecording>();
  /** by recording id: recordings whose writer this run owns, to refresh their index entries */
  readonly #live = new Map<string, OpenRecording>();
  /** byte offsets of every CHECKPOINT_EVERY_LINES-th line, so paging a long log does not rescan it from the top */
  readonly #checkpoints = new Map<string, number[]>();
  #state: 'new' | 'starting' | 'running' | 'closed' = 'new';

  constructor(options: RecorderOptions) {
    super();
    this.dir = options.dir;
    this.mode = options.mode;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    const indexOptions = {
      file: options.indexFile,
      dir: options.dir,
      limit: options.indexLimit,
      refresh: () => this.#refreshLive(),
      onWriteError: (err: Error) => this.emit('indexFailed', { file: options.indexFile, error: err.message }),
    };
    this.#indexFile = options.indexFile;
    this.#ledgerFile = options.ledgerFile ?? path.join(path.dirname(options.indexFile), 'ledger.jsonl');
    this.#ledger = new RecordingLedger(this.#ledgerFile, options.now);
    this.#index = new SessionIndex(options.indexThrottleMs === undefined ? indexOptions : { ...indexOptions, throttleMs: options.indexThrottleMs });
  }

  /**
   * Loads the session index (rebuilding it from the logs if missing or corrupt) and settles recordings a
   * crashed run left open: each is verified and marked interrupted with what its log holds. A log that
   * fails verification keeps the index's counts, which are the evidence of what was removed.
   */
  async start(): Promise<RecorderStart> {
    if (this.#state !== 'new') throw new Error(`recorder (${this.dir}): start() may be called once`);
    this.#state = 'starting';
    try {
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
      const { started: ledgerStarted } = await this.#ledger.open();
      const index = await this.#index.load();
      const interrupted: RecordingSummary[] = [];
      for (const entry of this.#index.values()) {
        if (entry.state === 'open') {
          if ((await this.#settleCrashed(entry)) === 'interrupted') interrupted.push({ ...entry });
        } else if (index.rebuilt && entry.state === 'interrupted') {
          interrupted.push({ ...entry });
        }
      }
      this.#index.evict();
      await this.#index.write();
      this.#state = 'running';
      return { interrupted, index, ledgerStarted };
    } catch (err) {
      this.#state = 'new';
      await this.#ledger.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Appends a record to the agent session's recording, opening one if the session has none open in this
   * run. Sync mode: resolves once the record is on disk, rejects if it could not be written (the caller
   * must then refuse the action). Async mode: resolves once queued, waiting while the queue is full.
   */
  append(agentSession: { id: string; name: string }, body: RecordBody): Promise<{ recordingId: string; seq: number }> {
    if (this.#state !== 'running') {
      const state = this.#state === 'closed' ? 'closed' : 'not started';
      return Promise.reject(new Error(`recorder (${this.dir}): cannot record for agent session ${agentSession.id}: the recorder is ${state}`));
    }
    const recording = this.#open.get(agentSession.id) ?? this.#openRecording(agentSession);
    const recordingId = recording.summary.id;
    // Not an async function: this is the per-record hot path, and each await costs.
    return recording.writer.append(body).then((seq) => ({ recordingId, seq }));
  }

  /** The agent sessions with a recording open in this run: where a daemon-wide record (a policy change) goes. */
  openSessions(): { id: string; name: string }[] {
    return [...this.#open.values()].map((r) => ({ id: r.agentSessionId, name: r.summary.agentSessionName }));
  }

  /**
   * Async mode's append without a promise, for the proxies' per-statement records: true when the record
   * was queued at once; false when it was not (sync mode, a full queue, a failed recording, a recorder
   * not running) and the caller must use append(), which waits for room or rejects with the reason.
   */
  tryAppendNow(agentSession: { id: string; name: string }, body: RecordBody): boolean {
    if (this.#state !== 'running' || this.mode !== 'async') return false;
    const recording = this.#open.get(agentSession.id) ?? this.#openRecording(agentSession);
    return recording.writer.tryAppendNow(body) !== null;
  }

  /**
   * Seals the agent session's open recording (if any): appends the seal, syncs and closes the log and
   * updates the index. A recording whose writer already failed is just closed (it stays interrupted).
   */
  async seal(agentSessionId: string, reason: SealReason): Promise<RecordingSummary | undefined> {
    const recording = this.#open.get(agentSessionId);
    if (!recording) return undefined;
    this.#open.delete(agentSessionId);
    const { summary, writer } = recording;
    if (writer.failure) {
      await writer.abort('closed after a failure');
      this.#live.delete(summary.id);
      return { ...summary };
    }
    let ledgerError: Error | null = null;
    try {
      const seal = await writer.seal(reason);
      this.#refreshEntry(recording);
      summary.state = 'sealed';
      summary.sealReason = reason;
      summary.endedAt = seal.ts;
      // The ledger before the index: a crash between the two leaves the index saying open, so the next start
      // finds the seal in the log and records it in the ledger then.
      await this.#ledger.append({ type: 'sealed', recordingId: summary.id, lastSeq: seal.seq, head: writer.written.head as string }).catch((err: Error) => {
        ledgerError = err;
      });
    } catch (err) {
      await writer.abort('sealing failed');
      throw err;
    } finally {
      this.#live.delete(summary.id);
      await this.#index.write().catch((err: Error) => this.emit('indexFailed', { file: this.#index.file, error: err.message }));
    }
    if (ledgerError) {
      const reason = (ledgerError as Error).message;
      throw new Error(`recording ${summary.id} is sealed, but the ledger could not record its final head (${reason}); verify will report it as interrupted`, { cause: ledgerError });
    }
    const sealed = { ...summary };
    this.emit('sealed', sealed);
    return { ...sealed };
  }

  /**
   * Seals every open recording (reason "shutdown") and writes the index; further appends are refused.
   * Rejects after doing all of it if a recording could not be sealed or the index not written.
   */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasRunning = this.#state === 'running';
    this.#state = 'closed';
    if (!wasRunning) return;
    const results = await Promise.allSettled([...this.#open.keys()].map((id) => this.seal(id, 'shutdown')));
    this.#index.stopTimer();
    await this.#index.write();
    await this.#ledger.close();
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (errors.length > 0) {
      throw new AggregateError(errors, `recorder (${this.dir}): ${errors.length} recording(s) could not be sealed: ${errors.map((e) => e.message).join('; ')}`);
    }
  }

  /** Index entries, newest first. */
  list(): RecordingSummary[] {
    this.#refreshLive();
    return this.#index
      .values()
      .reverse()
      .map((entry) => ({ ...entry }));
  }

  get(id: string): RecordingSummary | undefined {
    const live = this.#live.get(id);
    if (live) this.#refreshEntry(live);
    const entry = this.#index.get(id);
    return entry ? { ...entry } : undefined;
  }

  /**
   * Up to `limit` records with seq > `after` (-1: from the header), streaming the log from the nearest
   * known line offset. `nextAfter` is the last seq returned when more complete records follow, else null.
   * A torn last line is skipped; any other unreadable line is an error (verify says more).
   * A recording still being written is flushed first, so what was appended before the call is read
   * (in async mode records wait in the queue for a batch write).
   */
  async readRecords(id: string, after: number, limit: number): Promise<{ records: RecordingRecord[]; nextAfter: number | null }> {
    if (!Number.isInteger(after) || after < -1) throw new RangeError(`recording ${id}: after must be an integer >= -1, got ${after}`);
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`recording ${id}: limit must be a positive integer, got ${limit}`);
    // a failed writer rejects: what reached the file is still read
    await this.#live.get(id)?.writer.flush().catch(() => undefined);
    const file = await this.#logFile(id);
    const firstWanted = after + 1;
    const checkpoints = this.#checkpointsFor(id);
    const start = this.#cursorBefore(checkpoints, firstWanted);
    const records: RecordingRecord[] = [];
    let more = false;
    let unparsedLine: number | null = null;
    let failure: Error | null = null;
    await scanLines(
      file,
      ({ bytes, index, offset, complete }) => {
        if (complete && index % CHECKPOINT_EVERY_LINES === 0 && index / CHECKPOINT_EVERY_LINES === checkpoints.length) checkpoints.push(offset);
        if (!complete) return false;
        if (unparsedLine !== null) {
          failure = new Error(`recording ${id}: line ${unparsedLine} of ${file} is not valid JSON and more lines follow; run verify`);
          return false;
        }
        if (index < firstWanted) return true;
        if (records.length >= limit) {
          more = true;
          return false;
        }
        let value: unknown;
        try {
          value = JSON.parse(bytes.toString('utf8'));
        } catch {
          unparsedLine = index + 1;
          return true;
        }
        const parsed = RecordingRecord.safeParse(value);
        if (!parsed.success) {
          failure = new Error(`recording ${id}: line ${index + 1} of ${file} is not a valid record (${parsed.error.issues[0]?.message ?? 'schema mismatch'}); run verify`);
          return false;
        }
        // The parsed line itself, not zod's copy: key order and content stay as written, so
        // serializeRecord(record) reproduces the line and an export can be re-chained elsewhere.
        if (parsed.data.seq > after) records.push(value as RecordingRecord);
        return true;
      },
      start,
    );
    if (failure) throw failure;
    const last = records[records.length - 1];
    return { records, nextAfter: more && last ? last.seq : null };
  }

  /**
   * Verifies a log against its chain, against what the index knows of it (catches truncation) and
   * against the ledger's record of its creation and end (catches a log rewritten with a new chain).
   */
  async verify(id: string): Promise<VerifyResult> {
    // A recording of this run whose writer has not written its header yet: the index and the ledger name
    // it before its log exists (see #openRecording), so its missing log is not a deleted one. Nothing is
    // written, so nothing can have been changed; once a line is written the log is verified as any other.
    const live = this.#live.get(id);
    if (live && live.writer.written.records === 0 && live.summary.state === 'open') return { recordingId: id, ok: true, records: 0, sealed: false, torn: false };
    const file = await this.#logFile(id);
    const entry = this.get(id);
    if (!entry) return verifyLog(file, { records: 0, head: null, recordingId: id });
    const { result, findings } = await verifyOne({ recordings: this.dir, sessionIndex: this.#indexFile, ledger: this.#ledgerFile }, entry);
    const problems = findings.filter((f) => f.severity === 'error').map((f) => f.message);
    return problems.length === 0 ? result : { ...result, ok: false, ledgerProblems: problems };
  }

  /** Absolute path of a recording's log (the file may not exist). */
  logPath(id: string): string {
    const entry = this.#index.get(id);
    return path.join(this.dir, entry ? path.basename(entry.file) : `${id}${LOG_EXTENSION}`);
  }

  #openRecording(agentSession: { id: string; name: string }): OpenRecording {
    const startedAt = this.#now();
    const id = newRecordingId(startedAt);
    const file = path.join(this.dir, `${id}${LOG_EXTENSION}`);
    const summary: RecordingSummary = {
      id,
      agentSessionId: agentSession.id,
      agentSessionName: agentSession.name,
      file: path.basename(file),
      startedAt: startedAt.toISOString(),
      endedAt: null,
      records: 0,
      head: null,
      state: 'open',
      actions: 0,
    };
    let created: { written: Promise<void>; release: () => void } = { written: Promise.resolve(), release: () => undefined };
    const recording: OpenRecording = {
      agentSessionId: agentSession.id,
      summary,
      writer: new RecordingWriter({
        recordingId: id,
        file,
        mode: this.mode,
        queueLimit: this.#options.queueLimit,
        ...(this.#options.queueBytes !== undefined ? { queueBytes: this.#options.queueBytes } : {}),
        // the writer stamps records with isoNow unless a clock was given
        ...(this.#options.now ? { now: this.#options.now } : {}),
        // The index and the ledger name the recording before its log exists, so a crash can never leave a log
        // they do not know; the ledger's entry is on disk (fsync'd) before the log is used. A crash after they
        // name it and before the file exists leaves an index entry that is open with no records: verify calls
        // that interrupted, and the next start records it in the ledger as interrupted before any line.
        beforeOpen: async () => {
          try {
            await this.#index.write();
          } finally {
            // after the index, so the ledger never names a recording the index has not heard of
            created.release();
          }
          await created.written;
        },
        onWritten: () => this.#index.markDirty(),
        onFailed: (err) => this.#recordingFailed(recording, err),
      }),
    };
    this.#open.set(agentSession.id, recording);
    this.#live.set(id, recording);
    this.#index.add(summary);
    // All synchronous, so no other log is created in between: the header names the ledger's head, and the
    // `created` entry carrying the header's hash is the ledger's very next entry.
    recording.writer
      .append({
        type: 'header',
        version: RECORDING_FORMAT_VERSION,
        recordingId: id,
        agentSessionId: agentSession.id,
        agentSessionName: agentSession.name,
        nonce: randomBytes(16).toString('hex'),
        ledger: this.#ledger.ref,
      })
      // A header that cannot be written fails the writer: reported through onFailed and every later append.
      .catch(() => undefined);
    created = this.#ledger.appendHeld({ type: 'created', recordingId: id, file: summary.file, headerHash: recording.writer.admittedHead as string });
    // awaited by beforeOpen; a failure there fails the writer
    created.written.catch(() => undefined);
    recording.releaseLedger = created.release;
    this.emit('opened', { ...summary });
    return recording;
  }

  #recordingFailed(recording: OpenRecording, error: RecordingWriteError): void {
    this.#refreshEntry(recording);
    recording.summary.state = 'interrupted';
    recording.summary.endedAt = this.#now().toISOString();
    this.#index.markDirty();
    // The recording stays the session's current one, so its later appends are refused too (fail closed).
    void recording.writer.abort('failed').catch(() => undefined);
    recording.releaseLedger?.();
    // Where it ended, so verify tells an interrupted log from a cut one. A ledger that failed is reported already.
    const written = recording.writer.written;
    void this.#ledger
      .append({ type: 'interrupted', recordingId: recording.summary.id, lastSeq: written.records > 0 ? written.records - 1 : null, head: written.records > 0 ? written.head : null })
      .catch(() => undefined);
    this.emit('failed', { recordingId: recording.summary.id, error: error.message });
  }

  /** Marks a recording a crashed run left open as interrupted (or sealed, if its seal made it to disk). */
  async #settleCrashed(entry: RecordingSummary): Promise<RecordingSummary['state']> {
    const scan = await scanLog(path.join(this.dir, path.basename(entry.file)), {
      records: entry.records,
      head: entry.head,
      recordingId: entry.id,
    });
    entry.state = 'interrupted';
    entry.endedAt = scan.lastTs ?? entry.startedAt;
    if (!scan.result.ok || scan.result.records === 0) {
      // Nothing of it can be vouched for: the ledger says so rather than naming a head.
      await this.#ledger.append({ type: 'interrupted', recordingId: entry.id, lastSeq: null, head: null });
      return entry.state;
    }
    entry.records = scan.result.records;
    entry.head = scan.head;
    entry.actions = scan.actions;
    if (scan.seal) {
      // Sealed just before the crash, with only the index and ledger writes lost.
      entry.state = 'sealed';
      entry.sealReason = scan.seal.reason;
      entry.endedAt = scan.seal.ts;
      await this.#ledger.append({ type: 'sealed', recordingId: entry.id, lastSeq: scan.seal.seq, head: scan.head as string });
    } else {
      await this.#ledger.append({ type: 'interrupted', recordingId: entry.id, lastSeq: scan.result.records - 1, head: scan.head as string });
    }
    return entry.state;
  }

  #refreshLive(): void {
    for (const recording of this.#live.values()) this.#refreshEntry(recording);
  }

  #refreshEntry(recording: OpenRecording): void {
    const written = recording.writer.written;
    recording.summary.records = written.records;
    recording.summary.head = written.head;
    recording.summary.actions = written.actions;
  }

  async #logFile(id: string): Promise<string> {
    const entry = this.#index.get(id);
    if (entry) return path.join(this.dir, path.basename(entry.file));
    if (!RECORDING_ID_PATTERN.test(id)) throw new UnknownRecordingError(id, `unknown recording "${id}"`);
    const file = path.join(this.dir, `${id}${LOG_EXTENSION}`);
    try {
      await fs.access(file);
    } catch {
      throw new UnknownRecordingError(id, `unknown recording "${id}": not in the session index and no log ${file}`);
    }
    return file;
  }

  #checkpointsFor(id: string): number[] {
    let checkpoints = this.#checkpoints.get(id);
    if (!checkpoints) {
      checkpoints = [];
      this.#checkpoints.set(id, checkpoints);
      if (this.#checkpoints.size > CHECKPOINT_CACHE_RECORDINGS) {
        const oldest = this.#checkpoints.keys().next().value as string;
        this.#checkpoints.delete(oldest);
      }
    }
    return checkpoints;
  }

  #cursorBefore(checkpoints: number[], line: number): LineCursor {
    const k = Math.min(Math.floor(line / CHECKPOINT_EVERY_LINES), checkpoints.length - 1);
    if (k <= 0) return { offset: 0, index: 0 };
    return { offset: checkpoints[k] as number, index: k * CHECKPOINT_EVERY_LINES };
  }
}

/** Sortable by time, unique by its random part: `rec-20250101T120000123Z-1a2b3c4d`. */
function newRecordingId(at: Date): string {
  return `rec-${at.toISOString().replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}`;
}
