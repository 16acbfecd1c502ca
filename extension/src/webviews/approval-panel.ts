import type * as vscode from 'vscode';
import type { Approval } from '@airlock/shared';
import type { AirlockController } from '../controller.js';
import type { WebviewMessage } from '../protocol/webview-messages.js';
import { approveAction, denyAction } from '../commands.js';
import { approvalPanelState } from '../state/panel-models.js';
import { actionHeadline } from '../state/view-models.js';
import { AirlockPanel } from './panel.js';

/**
 * The details of one held action: every statement with its command, class and tables, the whole
 * text, the rule, the agent session's latest actions, time left and the decision buttons. It
 * follows the daemon: a decision made anywhere (CLI, timeout, another window) shows here at once
 * and disables the buttons.
 */
export class ApprovalPanel extends AirlockPanel {
  private static readonly open = new Map<string, ApprovalPanel>();

  static show(extensionUri: vscode.Uri, controller: AirlockController, output: vscode.LogOutputChannel, approval: Approval): ApprovalPanel {
    const existing = ApprovalPanel.open.get(approval.id);
    if (existing && !existing.isDisposed) {
      existing.reveal();
      return existing;
    }
    const panel = new ApprovalPanel(extensionUri, controller, output, approval);
    ApprovalPanel.open.set(approval.id, panel);
    return panel;
  }

  private approval: Approval;
  private readonly changes: vscode.Disposable;

  private constructor(
    extensionUri: vscode.Uri,
    private readonly controller: AirlockController,
    output: vscode.LogOutputChannel,
    approval: Approval,
  ) {
    super(extensionUri, output, 'airlock.approval', `Approve? ${actionHeadline(approval.action, 40)}`, 'approval');
    this.approval = approval;
    this.changes = controller.onDidChange(() => this.update());
    this.update();
  }

  private update(): void {
    this.approval = this.controller.state.approval(this.approval.id) ?? this.approval;
    this.post({ type: 'approval.state', state: approvalPanelState(this.approval, this.controller.state.sessionActivity(this.approval.action.sessionId, 11)) });
  }

  protected async onMessage(message: Exclude<WebviewMessage, { type: 'ready' }>): Promise<void> {
    if ((message.type === 'approve' || message.type === 'deny') && message.approvalId !== this.approval.id) {
      throw new Error('this panel shows another approval');
    }
    try {
      if (message.type === 'approve') await approveAction(this.controller, this.approval, message.scope);
      else if (message.type === 'deny') await denyAction(this.controller, this.approval, message.reason);
    } finally {
      // the page disabled its buttons while deciding: a failed call must give them back
      this.update();
    }
  }

  protected override onDisposed(): void {
    this.changes.dispose();
    ApprovalPanel.open.delete(this.approval.id);
  }

  static disposeAll(): void {
    for (const panel of ApprovalPanel.open.values()) panel.dispose();
  }
}
