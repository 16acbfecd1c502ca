import type * as vscode from 'vscode';

type Handler = (...args: never[]) => unknown;

/**
 * The commands' handlers. The small activation bundle registers every contributed command with VS
 * Code at once and forwards to this table, which the core fills when it has loaded: a command run
 * in between waits for the core instead of failing as unknown.
 */
export class CommandRegistry {
  private readonly handlers = new Map<string, Handler>();

  register(id: string, handler: Handler): vscode.Disposable {
    if (this.handlers.has(id)) throw new Error(`command ${id} is registered twice`);
    this.handlers.set(id, handler);
    return { dispose: () => this.handlers.delete(id) };
  }

  execute(id: string, args: unknown[]): unknown {
    const handler = this.handlers.get(id);
    if (!handler) throw new Error(`Airlock has no command ${id}`);
    return (handler as (...a: unknown[]) => unknown)(...args);
  }
}
