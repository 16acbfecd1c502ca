import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { LedgerEntry } from '@airlock/shared';
import type { LedgerRef } from '@airlock/shared';
import { hashLine } from './chain.js';
import { checkLedger, serializeLedgerEntry } from './ledger-chain.js';
import type { LedgerBody, LedgerCheck, LedgerLine } from './ledger-chain.js';
import { readLastLines, scanLines } from './lines.js';
import { isoNow } from '../util/time.js';
import { syncDirectory } from './writer.js';

/**
 * The recordings ledger's writer (see shared/src/ledger.ts). Entries are admitted synchronously — each gets
 * its seq and prev at once, so a log's header can name the ledger head and its `created` entry is the very
 * next one — and written in that order by one drain loop, each batch fdatasync'd before its promises resolve.
 * The ledger is written only when a log is created or ends, never per record.
 */
export class RecordingLedger {
  readonly file: string;
  readonly #now: () => string;
  #handle: FileHandle | null = null;
  #nextSeq = 0;
  #head: string | null = null;
  /** admitted lines not yet written; written together, with one fdatasync (logs sealed together at shutdown) */
  #pending: PendingLine[] = [];
  /** the drain loop while it runs: lines reach the file in seq order, from this loop only */
  #draining: Promise<void> | null = null;
  #failure: Error | null = null;

  constructor(file: string, now?: () => Date) {
    this.file = file;
    this.#now = now ? () => now().toISOString() : isoNow;
  }

  /**
   * Opens the ledger for appending, starting it (a `start` entry, synced with its directory) when there is
   * none. A last line cut short by a crash is cut off: its append never completed, so the log it announced
   * was never used. Returns whether the ledger was started now.
   */
  async open(): Promise<{ started: boolean }> {
    await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    let started = false;
    try {
      this.#handle = await fs.open(this.file, 'ax', 0o600);
      started = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw this.#error('cannot create', err);
    }
    if (started) {
      await syncDirectory(path.dirname(this.file));
      await this.#enqueue(serializeLedgerEntry({ type: 'start', version: 1, nonce: randomBytes(16).toString('hex') }, 0, this.#now(), null));
      return { started };
    }
    try {
      await this.#resumeTail();
      this.#handle = await fs.open(this.file, 'a', 0o600);
    } catch (err) {
      throw this.#error('cannot open', err);
    }
    return { started };
  }

  /** The ledger's last entry, for a new log's header. */
  get ref(): LedgerRef {
    if (this.#head === null) throw new Error(`recordings ledger ${this.file}: not open`);
    return { seq: this.#nextSeq - 1, head: this.#head };
  }

  /** Admits an entry now (its seq is ref.seq + 1) and resolves once it is on disk; rejects if it could not be written. */
  append(body: LedgerBody): Promise<void> {
    if (this.#head === null) return Promise.reject(new Error(`recordings ledger ${this.file}: not open`));
    return this.#enqueue(serializeLedgerEntry(body, this.#nextSeq, this.#now(), this.#head));
  }

  /**
   * Admits an entry now but writes it (and everything admitted after it) only once released: its place in the
   * chain is fixed at once, its write waits until the caller has done what must come first (the recorder
   * writes the session index). Release is idempotent; the caller must release on every path.
   */
  appendHeld(body: LedgerBody): { written: Promise<void>; release: () => void } {
    if (this.#head === null) return { written: Promise.reject(new Error(`recordings ledger ${this.file}: not open`)), release: () => undefined };
    const written = this.#enqueue(serializeLedgerEntry(body, this.#nextSeq, this.#now(), this.#head), true);
    const pending = this.#pending[this.#pending.length - 1] as PendingLine;
    return {
      written,
      release: () => {
        if (!pending.held) return;
        pending.held = false;
        this.#kick();
      },
    };
  }

  /** Writes every admitted line, held or not, and closes the file. */
  async close(): Promise<void> {
    // Nothing comes after close: a line still held would otherwise hold back every line after it for good.
    for (const pending of this.#pending) pending.held = false;
    if (this.#pending.length > 0) this.#kick();
    while (this.#draining) await this.#draining.catch(() => undefined);
    const handle = this.#handle;
    this.#handle = null;
    await handle?.close();
  }

  #enqueue(line: string, held = false): Promise<void> {
    this.#nextSeq += 1;
    this.#head = hashLine(line);
    const written = new Promise<void>((resolve, reject) => this.#pending.push({ bytes: Buffer.from(`${line}\n`, 'utf8'), resolve, reject, held }));
    this.#kick();
    return written;
  }

  #kick(): void {
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = null;
      // released while the last batch was being written
      if (this.#pending.length > 0 && !(this.#pending[0] as PendingLine).held) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    for (;;) {
      // Lines go out in seq order: a held line holds back everything admitted after it.
      const firstHeld = this.#pending.findIndex((p) => p.held);
      const batch = this.#pending.splice(0, firstHeld === -1 ? this.#pending.length : firstHeld);
      if (batch.length === 0) return;
      try {
        // After a failed write the file may hold part of a line: writing more would bury it mid-ledger.
        if (this.#failure) throw this.#failure;
        const handle = this.#handle;
        if (!handle) throw new Error(`recordings ledger ${this.file}: closed`);
        const bytes = batch.length === 1 ? (batch[0] as PendingLine).bytes : Buffer.concat(batch.map((p) => p.bytes));
        try {
          let offset = 0;
          while (offset < bytes.length) {
            const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
            if (bytesWritten <= 0) throw new Error(`write made no progress at byte ${offset} of ${bytes.length}`);
            offset += bytesWritten;
          }
          await handle.datasync();
        } catch (err) {
          this.#failure = this.#error('cannot write', err);
          throw this.#failure;
        }
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err as Error);
      }
    }
  }

  /** Learns the last entry's seq and hash, dropping a torn last line. */
  async #resumeTail(): Promise<void> {
    const { lines, torn, size } = await readLastLines(this.file, 1);
    let last = lines[lines.length - 1];
    let cut = torn?.length ?? 0;
    // A last line that is not JSON at all is crash debris too (the newline reached the disk, the text did not).
    if (last && parseJson(last) === undefined) {
      cut += last.length + 1;
      last = (await readLastLines(this.file, 2)).lines.slice(-2, -1)[0];
    }
    if (cut > 0) await fs.truncate(this.file, size - cut);
    if (!last) {
      // Empty (a crash right after creating it): start it now.
      this.#handle = await fs.open(this.file, 'a', 0o600);
      await this.#enqueue(serializeLedgerEntry({ type: 'start', version: 1, nonce: randomBytes(16).toString('hex') }, 0, this.#now(), null));
      await this.#handle.close();
      this.#handle = null;
      return;
    }
    this.#head = hashLine(last);
    const parsed = LedgerEntry.safeParse(parseJson(last));
    if (parsed.success) {
      this.#nextSeq = parsed.data.seq + 1;
      return;
    }
    // The last line is not an entry (damage verify will name): number the next one by its line.
    let count = 0;
    await scanLines(this.file, ({ complete }) => {
      if (complete) count += 1;
    });
    this.#nextSeq = count;
  }

  #error(what: string, err: unknown): Error {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return new Error(`recordings ledger ${this.file}: ${what}: ${reason}; new recordings cannot be registered`, { cause: err });
  }
}

/** Reads and checks the whole ledger without writing; null when there is no ledger file. */
export async function readLedger(file: string): Promise<LedgerCheck | null> {
  const lines: LedgerLine[] = [];
  try {
    await scanLines(file, ({ bytes, complete }) => {
      lines.push({ bytes: Buffer.from(bytes), complete });
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`recordings ledger ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  return checkLedger(lines);
}

interface PendingLine {
  bytes: Buffer;
  /** not to be written until released (see appendHeld) */
  held: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

