import type * as vscode from 'vscode';
import type { RecordingRecord, RecordingSummary, VerifyResult } from '@airlock/shared';
import type { AirlockController } from '../controller.js';
import type { Timeline, WebviewMessage } from '../protocol/webview-messages.js';
import { buildTimeline } from '../state/timeline.js';
import { maskedResultFromEntry, timelineOutcome } from '../state/panel-models.js';
import { AirlockPanel } from './panel.js';
import { MaskedResultPanel } from './masked-result-panel.js';

/** Reloads of a live (open) recording, at most this often. */
const LIVE_RELOAD_MS = 2_000;
/** A growing log is verified again at most this often. */
const VERIFY_LIVE_MS = 10_000;
/** Records one replay loads at most; a longer log shows its beginning and says so. */
const MAX_RECORDS = 50_000;

/**
 * Replays one recorded agent session: a timeline with a lane per protocol and one for approvals,
 * play/pause/seek/speed in the webview, each action's decision, rule, approver, timing and masked
 * rows, and the log's integrity as `airlock verify` sees it. An open recording follows new records.
 */
export class ReplayPanel extends AirlockPanel {
  private static readonly open = new Map<string, ReplayPanel>();

  static show(extensionUri: vscode.Uri, controller: AirlockController, output: vscode.LogOutputChannel, recording: RecordingSummary): void {
    const existing = ReplayPanel.open.get(recording.id);
    if (existing && !existing.isDisposed) return existing.reveal();
    ReplayPanel.open.set(recording.id, new ReplayPanel(extensionUri, controller, output, recording));
  }

  private timeline?: Timeline;
  /** what is loaded so far: a live recording is followed by fetching only what came after */
  private records: RecordingRecord[] = [];
  private truncated = false;
  private verify?: VerifyResult;
  private verifiedAt = 0;
  private loading = false;
  private reloadTimer?: NodeJS.Timeout;
  private readonly changes: vscode.Disposable;

  private constructor(
    extensionUri: vscode.Uri,
    private readonly controller: AirlockController,
    output: vscode.LogOutputChannel,
    private recording: RecordingSummary,
  ) {
    super(extensionUri, output, 'airlock.replay', `Replay: ${recording.agentSessionName}`, 'replay');
    this.changes = controller.onDidChange(() => {
      const now = controller.state.recordings().find((r) => r.id === this.recording.id);
      if (now && (now.records !== this.records.length || now.state !== this.recording.state)) {
        this.recording = now;
        this.scheduleReload();
      }
    });
    void this.load(true);
  }

  private scheduleReload(): void {
    if (this.reloadTimer) return;
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = undefined;
      void this.load(false);
    }, LIVE_RELOAD_MS);
  }

  /** `fresh`: everything again (first load, the Reload button); else only the records since the last load. */
  private async load(fresh: boolean): Promise<void> {
    if (this.loading) return this.scheduleReload();
    this.loading = true;
    try {
      if (fresh) {
        this.records = [];
        this.truncated = false;
      }
      if (!this.truncated) {
        const after = this.records.at(-1)?.seq ?? -1;
        const page = await this.controller.loadRecords(this.recording.id, MAX_RECORDS - this.records.length, after);
        this.records.push(...page.records);
        this.truncated = page.truncated;
      }
      // verifying reads the whole log: again on request, once sealed, and at most every few seconds while it grows
      if (fresh || this.recording.state !== 'open' || Date.now() - this.verifiedAt > VERIFY_LIVE_MS) {
        this.verify = await this.controller.client().verify(this.recording.id).catch((): VerifyResult | undefined => undefined);
        this.verifiedAt = Date.now();
      }
      this.timeline = buildTimeline(this.records);
      this.post({ type: 'replay.state', state: { timeline: this.timeline, verify: this.verify, truncated: this.truncated } });
    } catch (err) {
      this.post({ type: 'error', message: `Could not load the recording of "${this.recording.agentSessionName}": ${(err as Error).message}` });
    } finally {
      this.loading = false;
    }
  }

  protected onMessage(message: Exclude<WebviewMessage, { type: 'ready' }>): void {
    if (message.type === 'reload') void this.load(true);
    else if (message.type === 'openResult') {
      const entry = this.timeline?.entries.find((e) => e.actionId === message.actionId);
      if (!entry) throw new Error(`action ${message.actionId} is not in this recording`);
      const action = {
        id: entry.actionId,
        sessionId: this.recording.agentSessionId,
        target: entry.target,
        protocol: entry.protocol,
        kind: entry.kind,
        summary: entry.summary,
        risk: entry.risk,
        attributes: entry.attributes,
        detail: {},
        at: entry.at,
      };
      MaskedResultPanel.show(this.extensionUri, this.controller, this.output, action, maskedResultFromEntry(action, entry, timelineOutcome(entry)));
    }
  }

  protected override onDisposed(): void {
    clearTimeout(this.reloadTimer);
    this.changes.dispose();
    ReplayPanel.open.delete(this.recording.id);
  }
}
