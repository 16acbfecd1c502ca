import * as vscode from 'vscode';
import type { AirlockController } from './controller.js';
import { statusBarText } from './state/view-models.js';

/** Connected / N pending / disconnected; clicking it starts the daemon or shows the approvals. */
export function registerStatusBar(controller: AirlockController): vscode.Disposable[] {
  const item = vscode.window.createStatusBarItem('airlock.status', vscode.StatusBarAlignment.Left, 50);
  item.name = 'Airlock';
  const render = () => {
    const connected = controller.current.connected;
    const pending = controller.state.pending().length;
    const { text, tooltip } = statusBarText(connected, pending);
    item.text = text;
    item.tooltip = tooltip;
    item.command = connected ? 'airlock.approvals.focus' : 'airlock.startDaemon';
    item.backgroundColor = pending > 0 ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    item.show();
  };
  render();
  return [item, controller.onDidChange(render)];
}
