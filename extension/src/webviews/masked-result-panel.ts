import * as vscode from 'vscode';
import type { Action } from '@airlock/shared';
import type { AirlockController } from '../controller.js';
import type { MaskedResultState, WebviewMessage } from '../protocol/webview-messages.js';
import { maskedResultFromRecords } from '../state/panel-models.js';
import { actionHeadline, decisionLabel } from '../state/view-models.js';
import { AirlockPanel } from './panel.js';

/**
 * The result of one query as the agent saw it: masked cells highlighted with the rule or detector
 * that changed them, per-detector counts. Built from the recording, which holds masked rows only,
 * so this view cannot reveal an original value. One panel, reused like a preview.
 */
export class MaskedResultPanel extends AirlockPanel {
  private static current?: MaskedResultPanel;

  /** Shows `state` when the caller has it (the replay does), else loads the action's records. */
  static show(extensionUri: vscode.Uri, controller: AirlockController, output: vscode.LogOutputChannel, action: Action, state?: MaskedResultState): void {
    let panel = MaskedResultPanel.current;
    if (!panel || panel.isDisposed) panel = MaskedResultPanel.current = new MaskedResultPanel(extensionUri, controller, output);
    else panel.reveal();
    panel.load(action, state);
  }

  private action?: Action;
  private waitingForResult = false;
  private readonly changes: vscode.Disposable;

  private constructor(
    extensionUri: vscode.Uri,
    private readonly controller: AirlockController,
    output: vscode.LogOutputChannel,
  ) {
    super(extensionUri, output, 'airlock.maskedResult', 'Masked result', 'masked', vscode.ViewColumn.Beside);
    // a result recorded after the panel opened (a held query approved later) shows up by itself
    this.changes = controller.onDidChange(() => {
      if (this.waitingForResult && this.action && controller.state.activityEntry(this.action.id)?.result) this.load(this.action);
    });
  }

  private load(action: Action, given?: MaskedResultState): void {
    this.action = action;
    this.panel.title = `Result: ${actionHeadline(action, 40)}`;
    if (given) {
      this.waitingForResult = !given.result;
      this.post({ type: 'masked.state', state: given });
      return;
    }
    const entry = this.controller.state.activityEntry(action.id);
    const fallback = entry ? decisionLabel(entry) : 'unknown';
    void this.controller.loadActionRecords(action).then(
      (records) => {
        if (this.action?.id !== action.id) return;
        const state = maskedResultFromRecords(action, records, fallback);
        this.waitingForResult = !state.result;
        this.post({ type: 'masked.state', state });
      },
      (err: Error) => this.post({ type: 'error', message: `Could not load the result of "${actionHeadline(action, 60)}": ${err.message}` }),
    );
  }

  protected onMessage(message: Exclude<WebviewMessage, { type: 'ready' }>): void {
    if (message.type === 'reload' && this.action) this.load(this.action);
  }

  protected override onDisposed(): void {
    this.changes.dispose();
    if (MaskedResultPanel.current === this) MaskedResultPanel.current = undefined;
  }
}
