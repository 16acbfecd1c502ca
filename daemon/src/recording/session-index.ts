import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { HeaderRecord, IsoTime, RecordingSummary, SealRecord } from '@airlock/shared';
import { hashLine } from './chain.js';
import { readFirstLine, readLastLines } from './lines.js';

export const LOG_EXTENSION = '.jsonl';

const IndexData = z.object({ version: z.literal(1), recordings: z.array(RecordingSummary) });
type IndexData = z.infer<typeof IndexData>;

export interface SessionIndexOptions {
  /** sessions.json */
  file: string;
  /** the recordings dir, scanned when the index has to be rebuilt */
  dir: string;
  /** entries kept; the oldest ended ones go first, their logs stay on disk */
  limit: number;
  /** called before every write, to bring entries of open recordings up to what their writers wrote */
  refresh: () => void;
  /** a write that nobody awaits (the throttled ones) failed */
  onWriteError: (error: Error) => void;
  /** least time between two throttled writes */
  throttleMs?: number;
}

export type IndexLoad =
  | { rebuilt: false }
  | { rebuilt: true; reason: 'missing' | 'corrupt'; detail?: string; corruptCopy?: string };

/**
 * The session index: one RecordingSummary per recording, in lowdb. It is a cache of what the logs say,
 * kept close to them but never written per record: writes are throttled, so after a crash it may lag
 * the logs (never run ahead of them). Rebuilt from the logs when missing or unreadable.
 */
export class SessionIndex {
  readonly file: string;
  readonly #options: SessionIndexOptions;
  readonly #adapter: JSONFile<IndexData>;
  readonly #db: Low<IndexData>;
  /** insertion order is age order: oldest first */
  readonly #entries = new Map<string, RecordingSummary>();
  readonly #throttleMs: number;
  #timer: NodeJS.Timeout | null = null;
  #lastWriteAt = 0;
  #dirty = false;
  #writing: Promise<void> | null = null;

  constructor(options: SessionIndexOptions) {
    this.file = options.file;
    this.#options = options;
    this.#throttleMs = options.throttleMs ?? 250;
    this.#adapter = new JSONFile<IndexData>(options.file);
    this.#db = new Low<IndexData>(this.#adapter, { version: 1, recordings: [] });
  }

  /** Reads the index, or rebuilds it from the logs when it is missing, not JSON, or fails the schema. */
  async load(): Promise<IndexLoad> {
    await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    let raw: unknown;
    try {
      raw = await this.#adapter.read();
    } catch (err) {
      if (err instanceof SyntaxError) return this.#rebuild('corrupt', `not JSON: ${err.message}`);
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new Error(`session index ${this.file}: cannot read: ${reason}`, { cause: err });
    }
    if (raw === null) return this.#rebuild('missing');
    const parsed = IndexData.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.#rebuild('corrupt', issue ? `${issue.path.join('.') || '(top level)'}: ${issue.message}` : 'schema mismatch');
    }
    const sorted = [...parsed.data.recordings].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
    this.#entries.clear();
    for (const entry of sorted) this.#entries.set(entry.id, entry);
    this.evict();
    return { rebuilt: false };
  }

  get size(): number {
    return this.#entries.size;
  }

  get(id: string): RecordingSummary | undefined {
    return this.#entries.get(id);
  }

  /** oldest first */
  values(): RecordingSummary[] {
    return [...this.#entries.values()];
  }

  add(summary: RecordingSummary): void {
    this.#entries.set(summary.id, summary);
    this.evict();
  }

  /** Drops the oldest ended (sealed or interrupted) entries beyond the limit; open ones are never dropped. */
  evict(): void {
    let excess = this.#entries.size - this.#options.limit;
    if (excess <= 0) return;
    for (const [id, entry] of this.#entries) {
      if (excess <= 0) break;
      if (entry.state === 'open') continue;
      this.#entries.delete(id);
      excess -= 1;
    }
  }

  /** Asks for a write within the throttle interval; many calls make one write. */
  markDirty(): void {
    if (this.#timer) return;
    const wait = Math.max(0, this.#lastWriteAt + this.#throttleMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.write().catch((err: Error) => this.#options.onWriteError(err));
    }, wait);
    // A pending index write must not keep the process alive: the logs are what count.
    this.#timer.unref();
  }

  /** Writes the current state now (or right after a write in progress); concurrent calls share writes. */
  write(): Promise<void> {
    this.#dirty = true;
    this.#writing ??= this.#writeWhileDirty().finally(() => {
      this.#writing = null;
    });
    return this.#writing;
  }

  /** Cancels a pending throttled write; call write() after to persist. */
  stopTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  async #writeWhileDirty(): Promise<void> {
    while (this.#dirty) {
      this.#dirty = false;
      this.#lastWriteAt = Date.now();
      this.#options.refresh();
      this.#db.data = { version: 1, recordings: this.values() };
      try {
        await this.#db.write();
      } catch (err) {
        const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new Error(`session index ${this.file}: cannot write: ${reason}`, { cause: err });
      }
    }
  }

  async #rebuild(reason: 'missing' | 'corrupt', detail?: string): Promise<IndexLoad> {
    let corruptCopy: string | undefined;
    if (reason === 'corrupt') {
      // Kept rather than overwritten: a damaged index may be evidence of tampering.
      corruptCopy = `${this.file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await fs.rename(this.file, corruptCopy);
    }
    const summaries = await summarizeLogs(this.#options.dir, this.#options.limit);
    this.#entries.clear();
    for (const summary of summaries) this.#entries.set(summary.id, summary);
    await this.write();
    const load: IndexLoad = { rebuilt: true, reason };
    if (detail !== undefined) load.detail = detail;
    if (corruptCopy !== undefined) load.corruptCopy = corruptCopy;
    return load;
  }
}

/**
 * Index entries for the newest `limit` logs in `dir` (by modification time), oldest first, from each log's
 * header and tail only. A sealed log's head is its seal line's hash; an unsealed one's head stays null (its
 * tail is not vouched for by anything else) and it counts as interrupted.
 */
export async function summarizeLogs(dir: string, limit: number): Promise<RecordingSummary[]> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((name) => name.endsWith(LOG_EXTENSION) && !name.startsWith('.'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`recordings dir ${dir}: cannot list: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  const dated: Array<{ name: string; mtimeMs: number }> = [];
  for (let i = 0; i < names.length; i += 64) {
    const stats = await Promise.all(
      names.slice(i, i + 64).map(async (name) => {
        try {
          const stat = await fs.stat(path.join(dir, name));
          return stat.isFile() ? { name, mtimeMs: stat.mtimeMs } : null;
        } catch {
          return null;
        }
      }),
    );
    for (const stat of stats) if (stat) dated.push(stat);
  }
  // File times are coarse (a few ms), so ties are common; recording ids sort by start time, so they break them.
  dated.sort((a, b) => b.mtimeMs - a.mtimeMs || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
  const summaries: RecordingSummary[] = [];
  for (const { name } of dated) {
    if (summaries.length >= limit) break;
    const summary = await summarizeLog(dir, name);
    if (summary) summaries.push(summary);
  }
  return summaries.sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
}

/** One log's entry from its header and last lines; null when it has no valid header (nothing to index it by). */
export async function summarizeLog(dir: string, name: string): Promise<RecordingSummary | null> {
  const file = path.join(dir, name);
  try {
    const first = await readFirstLine(file);
    if (!first || !first.complete) return null;
    const header = HeaderRecord.safeParse(parseJson(first.bytes));
    if (!header.success) return null;
    const tail = await readLastLines(file, 2);
    // The last complete line may itself be crash debris (not JSON); then the one before it is the last record.
    let last: { bytes: Buffer; value: unknown } | null = null;
    for (let i = tail.lines.length - 1; i >= 0 && !last; i--) {
      const bytes = tail.lines[i] as Buffer;
      const value = parseJson(bytes);
      if (value !== undefined) last = { bytes, value };
    }
    const summary: RecordingSummary = {
      id: name.slice(0, -LOG_EXTENSION.length),
      agentSessionId: header.data.agentSessionId,
      agentSessionName: header.data.agentSessionName,
      file: name,
      startedAt: header.data.ts,
      endedAt: null,
      records: 1,
      head: null,
      state: 'interrupted',
      actions: 0,
    };
    const seal = SealRecord.safeParse(last?.value);
    if (last && seal.success) {
      summary.state = 'sealed';
      summary.sealReason = seal.data.reason;
      summary.endedAt = seal.data.ts;
      summary.records = seal.data.seq + 1;
      summary.head = hashLine(last.bytes);
    } else if (last) {
      const lastRecord = last.value as { seq?: unknown; ts?: unknown };
      if (typeof lastRecord.seq === 'number' && Number.isInteger(lastRecord.seq) && lastRecord.seq >= 0) summary.records = lastRecord.seq + 1;
      summary.endedAt = IsoTime.safeParse(lastRecord.ts).success ? (lastRecord.ts as string) : header.data.ts;
    }
    return summary;
  } catch {
    // Unreadable logs are left out of the index; `airlock verify` on the file reports why.
    return null;
  }
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}
