import * as vscode from 'vscode';
import { AirlockController } from './controller.js';
import { registerViews } from './views/trees.js';
import { registerStatusBar } from './statusBar.js';
import { registerCommands } from './commands.js';
import { registerApprovalPrompts } from './notifications.js';

/** Activation stays cheap: registrations only; finding the daemon happens after activation returns. */
export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('Airlock', { log: true });
  const controller = new AirlockController(output);
  context.subscriptions.push(
    output,
    controller,
    ...registerViews(controller),
    ...registerStatusBar(controller),
    ...registerCommands(controller),
    ...registerApprovalPrompts(controller),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('airlock.home')) void controller.start();
    }),
  );
  setImmediate(() => void controller.start());
}

export function deactivate(): void {
  // everything is in context.subscriptions
}
