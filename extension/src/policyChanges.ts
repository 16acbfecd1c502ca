import * as vscode from 'vscode';
import os from 'node:os';
import type { PendingPolicyChange } from '@airlock/shared';
import type { AirlockController } from './controller.js';
import type { CommandRegistry } from './command-registry.js';
import { policyChangeTexts } from './state/view-models.js';

export const REVIEW_POLICY_CHANGE = 'airlock.reviewPolicyChange';

/** What a modal asks: the person answers with `confirm` or `cancel`. */
export interface ModalRequest {
  message: string;
  detail: string;
  confirm: string;
  cancel: string;
}

/** Shows a modal and resolves true when the person chose `confirm`. */
export type ModalPrompt = (request: ModalRequest) => Promise<boolean>;

/**
 * VS Code's modal. (While extension tests run VS Code refuses to show modal dialogs and answers them
 * as cancelled, so the host tests put their own answerer in its place; see AirlockCore.)
 */
export const vscodeModal: ModalPrompt = async (request) => {
  const confirm: vscode.MessageItem = { title: request.confirm };
  const cancel: vscode.MessageItem = { title: request.cancel, isCloseAffordance: true };
  return (await vscode.window.showWarningMessage(request.message, { modal: true, detail: request.detail }, confirm, cancel)) === confirm;
};

/**
 * A policy or config edit that loosens enforcement is staged by the daemon until a person confirms
 * it. This raises a notification when one is staged, keeps a status bar item up while one waits, and
 * confirms through a modal that shows the difference; the confirmation names the exact change shown
 * (its hash), so a file swapped while the modal was open is not what gets applied.
 */
export function registerPolicyChanges(commands: CommandRegistry, controller: AirlockController, modal: () => ModalPrompt): vscode.Disposable[] {
  const item = vscode.window.createStatusBarItem('airlock.policyChange', vscode.StatusBarAlignment.Left, 49);
  item.name = 'Airlock policy change';
  item.command = REVIEW_POLICY_CHANGE;
  item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
  const render = () => {
    const change = controller.current.connected ? controller.state.policyChange() : null;
    if (change === null) return item.hide();
    const texts = policyChangeTexts(change);
    item.text = texts.statusBar;
    item.tooltip = texts.tooltip;
    item.show();
  };
  render();
  const notified = new Set<string>();
  return [
    item,
    controller.onDidChange(render),
    controller.onPolicyChangeStaged((change) => {
      if (notified.has(change.hash)) return;
      notified.add(change.hash);
      void notify(change);
    }),
    commands.register(REVIEW_POLICY_CHANGE, () => reviewPolicyChange(controller, modal())),
  ];
}

async function notify(change: PendingPolicyChange): Promise<void> {
  const choice = await vscode.window.showWarningMessage(policyChangeTexts(change).notice, 'Review…');
  if (choice === 'Review…') await vscode.commands.executeCommand(REVIEW_POLICY_CHANGE);
}

/** The modal: what the change loosens and tightens; Apply puts exactly that change in force. */
export async function reviewPolicyChange(controller: AirlockController, modal: ModalPrompt): Promise<boolean> {
  let change: PendingPolicyChange | null;
  try {
    // the daemon's current view, not a cached one: the modal must show what Apply would apply
    change = (await controller.client().pendingPolicyChange()).pending;
  } catch (err) {
    void vscode.window.showErrorMessage(`Airlock: could not load the waiting policy change: ${(err as Error).message}`);
    return false;
  }
  if (change === null) {
    void vscode.window.showInformationMessage('Airlock: no policy change is waiting.');
    return false;
  }
  const texts = policyChangeTexts(change);
  if (!(await modal({ message: texts.question, detail: texts.detail, confirm: 'Apply', cancel: 'Keep current' }))) return false;
  try {
    await controller.client().applyPolicyChange({ hash: change.hash, by: approver(), via: 'extension' });
  } catch (err) {
    // 409: the files changed after the modal opened; the newer change is staged and must be reviewed
    void vscode.window.showErrorMessage(`Airlock: the change was not applied: ${(err as Error).message}`);
    return false;
  }
  void vscode.window.showInformationMessage('Airlock: the policy change is applied and recorded in every open session\'s log.');
  return true;
}

function approver(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'vscode';
  }
}
