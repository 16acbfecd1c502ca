import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BoundedText } from '@airlock/shared';
import type { SqlClassification } from '../../classify/sql/index.js';
import type { ParseReply, ParseTask } from './parse-worker.js';
import type { CopyOutStatement } from './copy-format.js';
import type { SqlReferences } from '../../classify/sql/references.js';

/** A huge statement's classification and the text its action keeps, worked out off the main thread. */
export type OffThreadParse = { kind: 'classified'; classification: SqlClassification; text: BoundedText; copyOut?: CopyOutStatement[]; refs?: SqlReferences } | { kind: 'malformed' };

export interface ParsePoolOptions {
  /** threads parsing at once */
  size: number;
  /** a parse that takes longer is abandoned (its thread is ended) and the statement refused */
  timeoutMs: number;
  /**
   * a thread's V8 heap ceiling: a statement whose parse tree outgrows it ends that thread (the
   * statement is refused), not the daemon
   */
  heapMb: number;
}

interface Pending {
  id: number;
  type: 'Q' | 'P';
  /** the message's own bytes, copied only when a thread takes the task: a queue of copies would double what waits */
  body: Buffer;
  textBytes: number;
  references: boolean;
  resolve: (result: OffThreadParse) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  running?: { id: number; pending: Pending; timer: NodeJS.Timeout };
}

/**
 * Threads that classify statements above limits.inlineParseBytes, so that parsing one agent's 16 MB
 * statement (tens to hundreds of milliseconds in libpg-query, more for a deep tree) does not stall
 * every other connection's statements behind it. Each thread parses one statement at a time; tasks
 * queue in arrival order (each connection has at most one waiting, as its pump holds until the
 * answer comes). Threads are started on first use and do not keep the process alive.
 */
export class ParsePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;

  constructor(private readonly options: ParsePoolOptions) {}

  static defaultOptions(): ParsePoolOptions {
    // the main thread keeps a core; two threads are enough for a handful of huge statements at once
    return { size: Math.max(1, Math.min(2, os.availableParallelism() - 1)), timeoutMs: 10_000, heapMb: 512 };
  }

  /**
   * Classifies a Query ('Q') or Parse ('P') message body, keeping `textBytes` of its text, and with
   * `references` the columns it reads; rejects when the thread fails or takes too long.
   */
  classify(type: 'Q' | 'P', body: Buffer, textBytes: number, references = false): Promise<OffThreadParse> {
    return new Promise<OffThreadParse>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, type, body, textBytes, references, resolve, reject });
      this.dispatch();
    });
  }

  /** Ends every thread; what is queued or running is rejected. */
  async close(): Promise<void> {
    const closing = new Error('the parse threads were closed');
    for (const pending of this.queue.splice(0)) pending.reject(closing);
    await Promise.all(this.slots.splice(0).map((slot) => this.end(slot, closing)));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.running === undefined);
      if (!slot) {
        if (this.slots.length >= this.options.size) return;
        slot = this.start();
      }
      const pending = this.queue.shift()!;
      const timer = setTimeout(() => {
        void this.end(slot, new Error(`parsing took longer than ${this.options.timeoutMs} ms`));
      }, this.options.timeoutMs);
      timer.unref();
      slot.running = { id: pending.id, pending, timer };
      slot.worker.ref();
      // one copy into a buffer of its own, which is then moved (not copied again) to the thread
      const copy = new Uint8Array(pending.body.length);
      copy.set(pending.body);
      const task: ParseTask = { id: pending.id, type: pending.type, body: copy, textBytes: pending.textBytes, references: pending.references };
      slot.worker.postMessage(task, [copy.buffer]);
    }
  }

  private start(): Slot {
    const worker = new Worker(new URL('./parse-worker.js', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: this.options.heapMb } });
    const slot: Slot = { worker };
    worker.unref();
    worker.on('message', (reply: ParseReply) => {
      const running = slot.running;
      if (!running || running.id !== reply.id) return;
      clearTimeout(running.timer);
      slot.running = undefined;
      worker.unref();
      if (reply.ok) {
        const { classification, text, copyOut, refs } = reply;
        running.pending.resolve({ kind: 'classified', classification, text, ...(copyOut ? { copyOut } : {}), ...(refs ? { refs } : {}) });
      }
      else if (reply.malformed) running.pending.resolve({ kind: 'malformed' });
      else running.pending.reject(new Error(reply.error));
      this.dispatch();
    });
    worker.on('error', (err) => void this.end(slot, err));
    worker.on('exit', (code) => void this.end(slot, new Error(`the parse thread exited (code ${code})`)));
    this.slots.push(slot);
    return slot;
  }

  /** Rejects what the slot was running, ends its thread and starts a fresh one for the queue if needed. */
  private async end(slot: Slot, reason: Error): Promise<void> {
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    const running = slot.running;
    slot.running = undefined;
    if (running) {
      clearTimeout(running.timer);
      running.pending.reject(reason);
    }
    slot.worker.removeAllListeners('exit');
    await slot.worker.terminate().catch(() => undefined);
    this.dispatch();
  }
}
