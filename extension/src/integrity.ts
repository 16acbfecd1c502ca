import * as vscode from 'vscode';
import type { RecordingSummary, VerifyResult } from '@airlock/shared';
import type { AirlockController } from './controller.js';

/** A growing (open) log is checked again at most this often. */
const OPEN_RECHECK_MS = 10_000;

/**
 * The integrity of each recorded session, as `airlock verify` sees it, for the Sessions view. Checked
 * by the daemon one log at a time, again when a log has grown (an open one at most every 10 s).
 */
export class IntegrityMonitor implements vscode.Disposable {
  private readonly results = new Map<string, { records: number; at: number; result?: VerifyResult }>();
  private readonly queue: RecordingSummary[] = [];
  private running = false;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly controller: AirlockController) {}

  /** What is known now; asks for a check when it is missing or stale. */
  get(recording: RecordingSummary): VerifyResult | undefined {
    const known = this.results.get(recording.id);
    const stale = !known || (known.records !== recording.records && (recording.state !== 'open' || Date.now() - known.at > OPEN_RECHECK_MS));
    if (stale && !this.queue.some((r) => r.id === recording.id)) {
      this.queue.push(recording);
      void this.drain();
    }
    return known?.result;
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        const current = this.controller.current;
        if (!current.connected) break;
        const result = await current.client.verify(next.id).catch(() => undefined);
        this.results.set(next.id, { records: next.records, at: Date.now(), result });
        this.changed.fire();
      }
    } finally {
      this.running = false;
      this.queue.length = 0;
    }
  }

  dispose(): void {
    this.changed.dispose();
  }
}
