import * as vscode from 'vscode';
import { AirlockController } from './controller.js';
import { registerViews } from './views/trees.js';
import { registerStatusBar } from './statusBar.js';
import { registerCommands } from './commands.js';
import { registerApprovalPrompts } from './notifications.js';
import { registerPolicyChanges, vscodeModal, type ModalPrompt } from './policyChanges.js';
import { TerminalRouting } from './terminalRouting.js';
import { registerWebviews } from './webviews/register.js';
import { CommandRegistry } from './command-registry.js';

/** The loaded extension: what the activation bundle forwards commands to, and what the host tests read. */
export interface AirlockCore {
  execute(command: string, args: unknown[]): unknown;
  terminalEnvironment(): Record<string, string>;
  /**
   * For the extension-host tests only: VS Code refuses to show modal dialogs while extension tests
   * run, so a test answers them (and sees exactly what a person would be asked) through this.
   */
  answerModalsWith(prompt: ModalPrompt): void;
}

/**
 * Everything but activation itself: the daemon link, views, status bar, prompts, webviews and
 * terminal routing. Loaded as its own bundle right after activation returns (it carries the zod
 * schemas, most of the extension's load time).
 */
export function startCore(context: vscode.ExtensionContext): AirlockCore {
  const output = vscode.window.createOutputChannel('Airlock', { log: true });
  const commands = new CommandRegistry();
  const controller = new AirlockController(output);
  const routing = new TerminalRouting(context, controller);
  let modal: ModalPrompt = vscodeModal;
  context.subscriptions.push(
    output,
    controller,
    ...registerViews(controller),
    ...registerStatusBar(controller),
    ...registerCommands(commands, controller),
    ...registerApprovalPrompts(controller),
    ...registerPolicyChanges(commands, controller, () => modal),
    ...registerWebviews(commands, context, controller, output),
    routing,
    commands.register('airlock.revokeAgentSession', () => routing.revokeSession()),
    commands.register('airlock.createAgentSession', (name?: string) => routing.createSession(name)),
    commands.register('airlock.openSshTerminal', (target?: string) => routing.openSshTerminal(target)),
    commands.register('airlock.copyConnectionString', async () => {
      const url = routing.environment.DATABASE_URL;
      if (!url) return void vscode.window.showWarningMessage('Airlock: no database target is listening yet.');
      await vscode.env.clipboard.writeText(url);
      void vscode.window.showInformationMessage('Airlock: connection string copied (it holds this workspace\'s agent token).');
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('airlock.home')) void controller.start();
    }),
  );
  void controller.start();
  return {
    execute: (command, args) => commands.execute(command, args),
    terminalEnvironment: () => ({ ...routing.environment }),
    answerModalsWith: (prompt) => {
      modal = prompt;
    },
  };
}
