import * as vscode from 'vscode';
import path from 'node:path';
import type { AirlockCore, startCore } from './core.js';

interface CoreModule {
  startCore: typeof startCore;
}

/**
 * Activation is kept to registrations that cost nothing: every contributed command is registered
 * here and forwards to the core, which is a separate bundle (out/core.cjs) loaded just after
 * activation returns, so the extension host is not held up by it.
 */

/** What activate returns: read by the extension-host tests. */
export interface AirlockExtensionApi {
  /** the loaded core, once it is */
  ready(): Promise<AirlockCore>;
  /** how long activate() itself ran, in ms (the host test prints it) */
  activationMs: number;
}

export function activate(context: vscode.ExtensionContext): AirlockExtensionApi {
  const started = performance.now();
  let core: Promise<AirlockCore> | undefined;
  const load = (): Promise<AirlockCore> =>
    (core ??= new Promise<AirlockCore>((resolve, reject) => {
      setImmediate(() => {
        try {
          // a runtime require of the second bundle, on purpose: bundling it here would load it during activation
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const { startCore } = require(path.join(__dirname, 'core.cjs')) as CoreModule;
          resolve(startCore(context));
        } catch (err) {
          reject(err as Error);
        }
      });
    }));
  const contributed = (context.extension.packageJSON as { contributes?: { commands?: { command: string }[] } }).contributes?.commands ?? [];
  for (const { command } of contributed) {
    context.subscriptions.push(vscode.commands.registerCommand(command, async (...args: unknown[]) => (await load()).execute(command, args)));
  }
  load().catch((err: Error) => void vscode.window.showErrorMessage(`Airlock could not start: ${err.message}`));
  return { ready: load, activationMs: performance.now() - started };
}

export function deactivate(): void {
  // everything is in context.subscriptions
}
