import { promises as fs } from 'node:fs';
import { Approval, describeIssues } from '@airlock/shared';
import { writeFileAtomic } from '../config/files.js';

/**
 * The approvals pending right now, kept on disk only so that after a crash the next daemon run can
 * close them (ApprovalBroker.recoverInterrupted) instead of leaving them pending forever.
 */
const PENDING_FILE_VERSION = 1;

interface PendingApprovalsDocument {
  version: typeof PENDING_FILE_VERSION;
  savedAt: string;
  approvals: Approval[];
}

export interface LoadedPendingApprovals {
  approvals: Approval[];
  /** set when the file, or part of it, could not be used; the daemon goes on either way */
  warning?: string;
}

/**
 * Reads the pending approvals file. A missing file is no approvals; an unreadable or corrupt one is
 * no approvals plus a warning, and invalid entries are skipped with a warning: losing this file only
 * loses the "cancelled by restart" records, which must not keep the daemon from starting.
 */
export async function loadPendingApprovals(file: string): Promise<LoadedPendingApprovals> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { approvals: [] };
    return { approvals: [], warning: `${file}: cannot read pending approvals (${code ?? (err as Error).message}); ignoring it` };
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    return { approvals: [], warning: `${file}: pending approvals are not valid JSON (${(err as Error).message}); ignoring them` };
  }
  const entries = (document as { approvals?: unknown } | null)?.approvals;
  if (typeof document !== 'object' || !Array.isArray(entries)) {
    return { approvals: [], warning: `${file}: expected an object with an "approvals" list; ignoring it` };
  }
  const approvals: Approval[] = [];
  const problems: string[] = [];
  entries.forEach((entry, index) => {
    const parsed = Approval.safeParse(entry);
    if (parsed.success) approvals.push(parsed.data);
    else problems.push(describeIssues(`approvals[${index}]`, parsed.error, 1));
  });
  if (problems.length === 0) return { approvals };
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  return {
    approvals,
    warning: `${file}: skipped ${problems.length} invalid pending approval(s): ${problems[0]}${more}`,
  };
}

/** Replaces the file with these approvals, atomically, readable by the owner only. */
export async function savePendingApprovals(file: string, approvals: readonly Approval[]): Promise<void> {
  await writeFileAtomic(file, serialize(approvals), 0o600);
}

function serialize(approvals: readonly Approval[]): string {
  const document: PendingApprovalsDocument = {
    version: PENDING_FILE_VERSION,
    savedAt: new Date().toISOString(),
    approvals: [...approvals],
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

export interface PendingApprovalsFileOptions {
  /** a background write failed; defaults to a process warning. flush() also rejects with it. */
  onError?: (error: Error) => void;
  /** how the content reaches the disk; tests substitute it to observe the writes */
  writeFile?: (file: string, content: string) => Promise<void>;
}

/**
 * Saves the pending list as it changes. The list can change many times a second, so saves are
 * coalesced: at most one write is in flight, and the next write takes whatever state is newest then.
 */
export class PendingApprovalsFile {
  private readonly onError: (error: Error) => void;
  private readonly writeFile: (file: string, content: string) => Promise<void>;
  /** the newest state not yet handed to a write */
  private queued: readonly Approval[] | undefined;
  private writing: Promise<void> | undefined;
  /** the failure of the most recent write, cleared by a later successful one */
  private lastError: Error | undefined;

  constructor(
    readonly file: string,
    options: PendingApprovalsFileOptions = {},
  ) {
    this.onError = options.onError ?? ((error) => process.emitWarning(error.message, 'AirlockWarning'));
    this.writeFile = options.writeFile ?? ((file, content) => writeFileAtomic(file, content, 0o600));
  }

  load(): Promise<LoadedPendingApprovals> {
    return loadPendingApprovals(this.file);
  }

  /** Schedules a write of this state; returns at once. */
  save(approvals: readonly Approval[]): void {
    this.queued = [...approvals];
    this.writing ??= this.drain();
  }

  /** Resolves once every state saved so far is on disk; rejects if the last write failed. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.lastError) throw this.lastError;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queued) {
        const approvals = this.queued;
        this.queued = undefined;
        try {
          await this.writeFile(this.file, serialize(approvals));
          this.lastError = undefined;
        } catch (err) {
          this.lastError = new Error(`${this.file}: cannot save ${approvals.length} pending approval(s): ${(err as Error).message}`, {
            cause: err,
          });
          try {
            this.onError(this.lastError);
          } catch {
            // a failing error handler must not stop later states from being written
          }
        }
      }
    } finally {
      this.writing = undefined;
    }
  }
}
