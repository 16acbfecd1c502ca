import * as vscode from 'vscode';
import type { Approval } from '@airlock/shared';
import type { AirlockController } from './controller.js';
import { approvalNotice } from './state/view-models.js';
import { approveAction, denyAction } from './commands.js';

/**
 * A new pending approval raises a notification naming what the agent wants to do (every non-read
 * statement, however much text or how many reads surround it), where, and which rule held it, with
 * Approve / Deny / Details. Dismissing it leaves the item in the view and the status bar; a decision made
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

async function prompt(controller: AirlockController, approval: Approval): Promise<void> {
  const choice = await vscode.window.showWarningMessage(
    approvalNotice(approval),
    'Approve',
    'Deny',
    'Details',
  );
  if (choice === 'Approve') await approveAction(controller, approval, 'once');
  else if (choice === 'Deny') await denyAction(controller, approval);
  else if (choice === 'Details') await vscode.commands.executeCommand('airlock.showApproval', approval);
}
