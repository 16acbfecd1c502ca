import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { RecordingMode } from '@airlock/shared';
import { hashLine, serializeChained } from './chain.js';
import { isoNow } from '../util/time.js';
import type { ChainBody, SealReason } from './chain.js';

/** One write() gathers at most this much, so a long queue does not become one giant string. */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

export interface RecordingWriterOptions {
  recordingId: string;
  /** the log; created by the writer, never reopened: a recording lasts one daemon run */
  file: string;
  /**
   * sync: append() resolves once its record is written and fdatasync'd, and rejects if it could not be.
   * async: append() resolves once the record is queued.
   */
  mode: RecordingMode;
  /** records queued but not yet written; further appends wait for room (in order) rather than drop */
  queueLimit: number;
  /** bytes of records queued but not yet written, the same way (one record may pass it, so it is never stuck) */
  queueBytes?: number;
  now?: () => Date;
  /** runs before the log is created (the recorder makes the index name the recording first); failure fails the writer */
  beforeOpen?: () => Promise<void>;
  /** opens the log for appending; replaceable so tests can hand in a handle that fails */
  openLog?: (file: string) => Promise<FileHandle>;
  /** after each batch reached the file */
  onWritten?: () => void;
  /** once, when the writer fails; the log keeps what was written before */
  onFailed?: (error: RecordingWriteError) => void;
}

/** A record could not be written; the message names the recording and the file. */
/** How long async mode lets records gather before writing them: a crash loses at most this much of the queue. */
const ASYNC_BATCH_DELAY_MS = 5;

export class RecordingWriteError extends Error {
  constructor(
    readonly recordingId: string,
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RecordingWriteError';
  }
}

interface QueuedLine {
  /** the line's UTF-8 bytes with the newline: encoded once, for the hash and the write */
  bytes: Buffer;
  hash: string;
  isAction: boolean;
  /** sync mode: settles when the line is on disk */
  settle?: { resolve: (seq: number) => void; reject: (err: Error) => void; seq: number };
}

interface WaitingBody {
  body: ChainBody;
  resolve: (seq: number) => void;
  reject: (err: Error) => void;
}

/** What has reached the file: the index is kept to this, never ahead of it. */
export interface WrittenState {
  records: number;
  head: string | null;
  actions: number;
}

/**
 * Appends hash-chained records to one log through one file handle (append mode). Records get their seq,
 * ts and prev when admitted to the queue, so their order is the order of admission; a single drain loop
 * writes whatever has queued up as one batch, which in sync mode is also one fdatasync shared by every
 * append waiting on it (group commit). After a failed write nothing more is written to the log.
 */
export class RecordingWriter {
  readonly recordingId: string;
  readonly file: string;
  readonly mode: RecordingMode;
  readonly #queueLimit: number;
  readonly #queueBytes: number;
  /** bytes of the lines queued and in flight */
  #pendingBytes = 0;
  /** the record's ts: isoNow unless a clock was given (tests) */
  readonly #timestamp: () => string;
  readonly #options: RecordingWriterOptions;

  #nextSeq = 0;
  #lastHash: string | null = null;
  #lastTs: string | null = null;
  #queue: QueuedLine[] = [];
  /** the batch being written: taken off the queue, not yet on disk */
  #inFlight: QueuedLine[] = [];
  #waiting: WaitingBody[] = [];
  #drainScheduled = false;
  #draining = false;
  #handle: FileHandle | null = null;
  #failure: RecordingWriteError | null = null;
  #closing = false;
  #idle: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  #written: WrittenState = { records: 0, head: null, actions: 0 };

  constructor(options: RecordingWriterOptions) {
    if (!Number.isInteger(options.queueLimit) || options.queueLimit < 1) {
      throw new RangeError(`recording ${options.recordingId}: queueLimit must be a positive integer, got ${options.queueLimit}`);
    }
    this.recordingId = options.recordingId;
    this.file = options.file;
    this.mode = options.mode;
    this.#queueLimit = options.queueLimit;
    if (options.queueBytes !== undefined && (!Number.isInteger(options.queueBytes) || options.queueBytes < 1)) {
      throw new RangeError(`recording ${options.recordingId}: queueBytes must be a positive integer, got ${options.queueBytes}`);
    }
    this.#queueBytes = options.queueBytes ?? Number.POSITIVE_INFINITY;
    const now = options.now;
    this.#timestamp = now ? () => now().toISOString() : isoNow;
    this.#options = options;
  }

  get written(): Readonly<WrittenState> {
    return this.#written;
  }

  get failure(): RecordingWriteError | null {
    return this.#failure;
  }

  /** SHA-256 of the last admitted line (written or not): right after the header is admitted, the header's */
  get admittedHead(): string | null {
    return this.#lastHash;
  }

  /** seq the next admitted record gets: the number of records admitted so far */
  get admitted(): number {
    return this.#nextSeq;
  }

  /**
   * Queues a record and resolves with its seq: in async mode once queued, in sync mode once written and
   * fdatasync'd. Rejects when the writer failed or is sealing.
   */
  append(body: ChainBody): Promise<number> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closing) {
      return Promise.reject(new RecordingWriteError(this.recordingId, this.file, `recording ${this.recordingId} is sealed: no more records can be added`));
    }
    if (this.#waiting.length === 0 && this.#hasRoom()) {
      return this.#admitNow(body);
    }
    return new Promise<number>((resolve, reject) => this.#waiting.push({ body, resolve, reject }));
  }

  /**
   * Async mode's append without a promise: admits the record at once and returns its seq, or returns
   * null when it cannot be admitted right now (sync mode, a full queue or records waiting, a failed or
   * sealing writer), in which case the caller uses append(), which waits, or rejects with the reason.
   */
  tryAppendNow(body: ChainBody): number | null {
    if (this.mode !== 'async' || this.#failure || this.#closing || this.#waiting.length > 0 || !this.#hasRoom()) return null;
    try {
      return this.#admit(body, undefined);
    } catch {
      // append() reports it
      return null;
    }
  }

  /**
   * Appends the seal after everything already appended or waiting, writes it, fdatasyncs and closes the
   * log. Appends made after this call are rejected. Resolves with the seal's seq.
   */
  async seal(reason: SealReason): Promise<{ seq: number; ts: string }> {
    if (this.#failure) throw this.#failure;
    if (this.#closing) throw new RecordingWriteError(this.recordingId, this.file, `recording ${this.recordingId} is already sealed`);
    // `records` is filled in at admission: only then is the number of lines before the seal known.
    const sealed = this.append({ type: 'seal', records: 0, reason });
    this.#closing = true;
    const seq = await sealed;
    const ts = this.#lastTs as string;
    await this.flush();
    await this.#closeHandle(true);
    return { seq, ts };
  }

  /** Resolves when everything admitted or waiting has been written; rejects if the writer failed. */
  flush(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#isIdle()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.#idle.push({ resolve, reject }));
  }

  /** Stops without a seal (after a failure, or when sealing is impossible): releases the handle. */
  async abort(reason: string): Promise<void> {
    if (!this.#failure) this.#fail(new RecordingWriteError(this.recordingId, this.file, `recording ${this.recordingId}: ${reason}`));
    await this.#closeHandle(false);
  }

  /** bytes of the records admitted and not yet on disk */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** The bounds cover records being written too: they are not on disk yet. */
  #hasRoom(): boolean {
    return this.#queue.length + this.#inFlight.length < this.#queueLimit && this.#pendingBytes < this.#queueBytes;
  }

  #isIdle(): boolean {
    return this.#queue.length === 0 && this.#waiting.length === 0 && !this.#draining;
  }

  #admitNow(body: ChainBody): Promise<number> {
    if (this.mode === 'async') {
      try {
        return Promise.resolve(this.#admit(body, undefined));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    return new Promise<number>((resolve, reject) => {
      try {
        this.#admit(body, { resolve, reject });
      } catch (err) {
        reject(err as Error);
      }
    });
  }

  /** Gives the record its place in the chain and queues its line; throws (admitting nothing) if it cannot be serialized. */
  #admit(body: ChainBody, settle: { resolve: (seq: number) => void; reject: (err: Error) => void } | undefined): number {
    const seq = this.#nextSeq;
    const chainBody = body.type === 'seal' ? { ...body, records: seq } : body;
    const ts = this.#timestamp();
    let line: string;
    try {
      line = serializeChained(chainBody, seq, ts, this.#lastHash);
    } catch (err) {
      throw new RecordingWriteError(this.recordingId, this.file, `recording ${this.recordingId}: cannot serialize a ${body.type} record: ${(err as Error).message}`, { cause: err });
    }
    // encoded straight into a buffer with room for the newline: no concatenated copy of the line
    const length = Buffer.byteLength(line, 'utf8');
    const bytes = Buffer.allocUnsafe(length + 1);
    bytes.write(line, 0, length, 'utf8');
    bytes[length] = 0x0a;
    const hash = hashLine(bytes.subarray(0, length));
    this.#nextSeq = seq + 1;
    this.#lastHash = hash;
    this.#lastTs = ts;
    this.#pendingBytes += bytes.length;
    this.#queue.push({ bytes, hash, isAction: body.type === 'action', settle: settle ? { resolve: settle.resolve, reject: settle.reject, seq } : undefined });
    this.#scheduleDrain();
    return seq;
  }

  #admitWaiting(): void {
    let taken = 0;
    while (taken < this.#waiting.length && this.#hasRoom()) {
      const next = this.#waiting[taken] as WaitingBody;
      taken += 1;
      try {
        if (this.mode === 'async') next.resolve(this.#admit(next.body, undefined));
        else this.#admit(next.body, { resolve: next.resolve, reject: next.reject });
      } catch (err) {
        next.reject(err as Error);
      }
    }
    // One splice per batch rather than a shift per record: the waiting list can be long.
    if (taken > 0) this.#waiting.splice(0, taken);
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled || this.#draining) return;
    this.#drainScheduled = true;
    // Deferred so everything appended in the current turn of the event loop lands in the first batch. In
    // async mode a little longer: a proxy appends a few records per statement, and one write per
    // statement (a thread-pool round trip each) would cost more than the statement itself.
    const run = () => {
      this.#drainScheduled = false;
      void this.#drain();
    };
    if (this.mode === 'async') setTimeout(run, ASYNC_BATCH_DELAY_MS);
    else setImmediate(run);
  }

  async #drain(): Promise<void> {
    if (this.#draining || this.#failure) return;
    this.#draining = true;
    try {
      if (!this.#handle) this.#handle = await this.#open();
      while (this.#queue.length > 0) {
        const batch = this.#takeBatch();
        this.#inFlight = batch;
        await writeAll(this.#handle, batch.length === 1 ? (batch[0] as QueuedLine).bytes : Buffer.concat(batch.map((entry) => entry.bytes)));
        if (this.mode === 'sync') await this.#handle.datasync();
        let actions = 0;
        for (const entry of batch) {
          if (entry.isAction) actions += 1;
          this.#pendingBytes -= entry.bytes.length;
        }
        this.#written = {
          records: this.#written.records + batch.length,
          head: (batch[batch.length - 1] as QueuedLine).hash,
          actions: this.#written.actions + actions,
        };
        this.#inFlight = [];
        for (const entry of batch) entry.settle?.resolve(entry.settle.seq);
        this.#admitWaiting();
        this.#options.onWritten?.();
        // Async mode: what was appended while this batch was written gathers for ASYNC_BATCH_DELAY_MS too,
        // rather than going out at once in a write (a thread-pool round trip) per statement or two. Not
        // when appends wait for room, or a flush or the seal waits for the queue to empty.
        if (this.mode === 'async' && this.#waiting.length === 0 && this.#idle.length === 0 && !this.#closing) break;
      }
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      const failure =
        err instanceof RecordingWriteError
          ? err
          : new RecordingWriteError(this.recordingId, this.file, `recording ${this.recordingId}: cannot write ${this.file}: ${reason}`, { cause: err });
      this.#fail(failure);
    } finally {
      this.#draining = false;
    }
    if (this.#failure) return;
    if (this.#queue.length > 0) this.#scheduleDrain();
    else if (this.#isIdle()) for (const waiter of this.#idle.splice(0)) waiter.resolve();
  }

  /**
   * At most half the queue limit per batch, so appends can fill the other half while a batch is written
   * instead of stalling behind it.
   */
  #takeBatch(): QueuedLine[] {
    const maxCount = Math.max(1, Math.ceil(this.#queueLimit / 2));
    let bytes = 0;
    let count = 0;
    while (count < this.#queue.length && count < maxCount && (count === 0 || bytes < MAX_BATCH_BYTES)) {
      bytes += (this.#queue[count] as QueuedLine).bytes.length;
      count += 1;
    }
    if (count === this.#queue.length) {
      const batch = this.#queue;
      this.#queue = [];
      return batch;
    }
    return this.#queue.splice(0, count);
  }

  async #open(): Promise<FileHandle> {
    try {
      await this.#options.beforeOpen?.();
    } catch (err) {
      throw new RecordingWriteError(this.recordingId, this.file, `recording ${this.recordingId}: cannot register it in the session index before creating ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    try {
      if (this.#options.openLog) return await this.#options.openLog(this.file);
      // 'ax': append-only, and never onto an existing log.
      const handle = await fs.open(this.file, 'ax', 0o600);
      if (this.mode === 'sync') await syncDirectory(path.dirname(this.file));
      return handle;
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new RecordingWriteError(this.recordingId, this.file, `recording ${this.recordingId}: cannot create ${this.file}: ${reason}`, { cause: err });
    }
  }

  #fail(failure: RecordingWriteError): void {
    if (this.#failure) return;
    this.#failure = failure;
    for (const entry of this.#inFlight) entry.settle?.reject(failure);
    for (const entry of this.#queue) entry.settle?.reject(failure);
    this.#inFlight = [];
    for (const waiter of this.#waiting) waiter.reject(failure);
    for (const waiter of this.#idle) waiter.reject(failure);
    this.#queue = [];
    this.#pendingBytes = 0;
    this.#waiting = [];
    this.#idle = [];
    this.#options.onFailed?.(failure);
  }

  async #closeHandle(syncFirst: boolean): Promise<void> {
    const handle = this.#handle;
    if (!handle) return;
    this.#handle = null;
    try {
      // async mode never synced; a sealed log should survive a power cut.
      if (syncFirst && this.mode === 'async') await handle.datasync();
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      const failure = new RecordingWriteError(this.recordingId, this.file, `recording ${this.recordingId}: cannot sync ${this.file}: ${reason}`, { cause: err });
      this.#fail(failure);
      await handle.close().catch(() => undefined);
      throw failure;
    }
    try {
      await handle.close();
    } catch (err) {
      // Closing a handle that failed underneath fails again; what matters is already reported.
      if (!this.#failure) throw new RecordingWriteError(this.recordingId, this.file, `recording ${this.recordingId}: cannot close ${this.file}: ${(err as Error).message}`, { cause: err });
    }
  }
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    if (bytesWritten <= 0) throw new Error(`write made no progress at byte ${offset} of ${data.length}`);
    offset += bytesWritten;
  }
}

/** Makes a new log's directory entry durable, so a synced record cannot vanish with its file after a power cut. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
