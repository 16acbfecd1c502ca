import * as vscode from 'vscode';
import { AirlockController } from './controller.js';
import { registerViews } from './views/trees.js';
import { registerStatusBar } from './statusBar.js';
import { registerCommands } from './commands.js';
import { registerApprovalPrompts } from './notifications.js';
import { TerminalRouting } from './terminalRouting.js';
import { registerWebviews } from './webviews/register.js';

/** Activation stays cheap: registrations only; finding the daemon happens after activation returns. */
/** What activate returns: read by the extension-host tests. */
export interface AirlockExtensionApi {
  terminalEnvironment(): Record<string, string>;
}

export function activate(context: vscode.ExtensionContext): AirlockExtensionApi {
  const output = vscode.window.createOutputChannel('Airlock', { log: true });
  const controller = new AirlockController(output);
  const routing = new TerminalRouting(context, controller);
  context.subscriptions.push(
    output,
    controller,
    ...registerViews(controller),
    ...registerStatusBar(controller),
    ...registerCommands(controller),
    ...registerApprovalPrompts(controller),
    ...registerWebviews(context, controller, output),
    routing,
    vscode.commands.registerCommand('airlock.revokeAgentSession', () => routing.revokeSession()),
    vscode.commands.registerCommand('airlock.copyConnectionString', async () => {
      const url = routing.environment.DATABASE_URL;
      if (!url) return void vscode.window.showWarningMessage('Airlock: no database target is listening yet.');
      await vscode.env.clipboard.writeText(url);
      void vscode.window.showInformationMessage('Airlock: connection string copied (it holds this workspace\'s agent token).');
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('airlock.home')) void controller.start();
    }),
  );
  setImmediate(() => void controller.start());
  return { terminalEnvironment: () => ({ ...routing.environment }) };
}

export function deactivate(): void {
  // everything is in context.subscriptions
}
