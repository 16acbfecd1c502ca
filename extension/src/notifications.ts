import * as vscode from 'vscode';
import type { Approval } from '@airlock/shared';
import type { AirlockController } from './controller.js';
import { approvalNotice, approvalPrompt } from './state/view-models.js';
import { approveAction, denyAction } from './commands.js';

/**
 * A new pending approval raises a notification naming what the agent wants to do (every non-read
 * statement, however much text or how many reads surround it), where, and which rule held it, with
 * the kind's approving choices (Approve; for egress "Allow for the session" first, then "Allow
 * once"), Deny and Details. Dismissing it leaves the item in the view and the status bar; a decision made
 * elsewhere (CLI, timeout, another window) makes a late click a no-op with a message.
 */
export function registerApprovalPrompts(controller: AirlockController): vscode.Disposable[] {
  const shown = new Set<string>();
  return [
    controller.onApprovalRequested((approval) => {
      if (shown.has(approval.id) || !vscode.workspace.getConfiguration('airlock').get<boolean>('notifications', true)) return;
      shown.add(approval.id);
      void prompt(controller, approval);
    }),
    controller.onApprovalResolved((approval) => shown.delete(approval.id)),
  ];
}

/** The kind's approving choices in its order (egress: for the session first), then Deny and Details. */
async function prompt(controller: AirlockController, approval: Approval): Promise<void> {
  const { notify } = approvalPrompt(approval);
  const picked = await vscode.window.showWarningMessage(approvalNotice(approval), ...notify.map((c) => c.label), 'Deny', 'Details');
  const approving = notify.find((c) => c.label === picked);
  if (approving) await approveAction(controller, approval, approving.scope);
  else if (picked === 'Deny') await denyAction(controller, approval);
  else if (picked === 'Details') await vscode.commands.executeCommand('airlock.showApproval', approval);
}
