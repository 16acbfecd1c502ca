import * as vscode from 'vscode';
import type { AirlockController } from './controller.js';
import { defaultPostgresTarget, postgresEnvironment } from './state/terminal-env.js';

const SECRET_KEY = 'airlock.agentSession';

interface StoredSession {
  daemonPid: number;
  sessionId: string;
  token: string;
}

/**
 * Routes the agents in this workspace's integrated terminals through the daemon: one agent session
 * per workspace (its token kept in SecretStorage), and environment variables for new terminals.
 */
export class TerminalRouting implements vscode.Disposable {
  private readonly subscription: vscode.Disposable;
  private applying?: Promise<void>;
  /** what was applied, for the host test and for "copy connection string" */
  environment: Record<string, string> = {};

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly controller: AirlockController,
  ) {
    this.subscription = controller.onDidChange(() => {
      this.applying ??= this.apply().finally(() => (this.applying = undefined));
    });
  }

  dispose(): void {
    this.subscription.dispose();
  }

  async revokeSession(): Promise<void> {
    const stored = await this.stored();
    const current = this.controller.current;
    if (stored && current.connected) await current.client.revokeAgentSession(stored.sessionId).catch(() => undefined);
    await this.context.secrets.delete(SECRET_KEY);
    this.context.environmentVariableCollection.clear();
    this.environment = {};
  }

  /**
   * A separate agent session for another agent or tool (its own name in recordings and approvals,
   * revocable on its own). The token is shown once: its connection string for the default database
   * target (or the bare token) goes to the clipboard.
   */
  async createSession(given?: string): Promise<{ sessionId: string; name: string } | undefined> {
    const current = this.controller.current;
    if (!current.connected) {
      void vscode.window.showErrorMessage(`Airlock: cannot create an agent session: the daemon is not running (${current.reason}).`);
      return undefined;
    }
    const name =
      given ??
      (await vscode.window.showInputBox({
        title: 'New agent session',
        prompt: 'A name for the agent or tool that will use it (shown in approvals and recordings)',
        value: `vscode: ${vscode.workspace.name ?? 'workspace'} (extra)`,
        validateInput: (text) => (text.trim() === '' ? 'A name is required' : undefined),
      }));
    if (!name) return undefined;
    try {
      const created = await current.client.createAgentSession({ name: name.trim(), ttl: '7d' });
      const { targets } = await current.client.targets();
      const target = defaultPostgresTarget(targets, vscode.workspace.getConfiguration('airlock').get<string>('defaultTarget') || undefined);
      const url = target ? postgresEnvironment(target, created.token)?.DATABASE_URL : undefined;
      await vscode.env.clipboard.writeText(url ?? created.token);
      void vscode.window.showInformationMessage(`Airlock: agent session "${created.session.name}" created (7 days); its ${url ? 'connection string' : 'token'} is on the clipboard and will not be shown again.`);
      return { sessionId: created.session.id, name: created.session.name };
    } catch (err) {
      void vscode.window.showErrorMessage(`Airlock: could not create the agent session "${name}": ${(err as Error).message}`);
      return undefined;
    }
  }

  private async apply(): Promise<void> {
    const current = this.controller.current;
    const collection = this.context.environmentVariableCollection;
    if (!current.connected) return;
    const { targets } = await current.client.targets();
    const target = defaultPostgresTarget(targets, vscode.workspace.getConfiguration('airlock').get<string>('defaultTarget') || undefined);
    if (!target) return;
    const session = await this.session(current.client.info.pid);
    const env = postgresEnvironment(target, session.token);
    if (!env || JSON.stringify(env) === JSON.stringify(this.environment)) return;
    collection.clear();
    collection.description = new vscode.MarkdownString(`Airlock routes database clients in this terminal through target **${target.target.name}** (agent session ${session.sessionId}).`);
    for (const [name, value] of Object.entries(env)) collection.replace(name, value);
    this.environment = env;
  }

  /** The workspace's agent session, created once per daemon data dir; recreated if it stopped working. */
  private async session(daemonPid: number): Promise<StoredSession> {
    const current = this.controller.current;
    if (!current.connected) throw new Error('not connected');
    const stored = await this.stored();
    if (stored) {
      const { sessions } = await current.client.agentSessions();
      if (sessions.some((s) => s.id === stored.sessionId && s.state === 'active')) return stored;
    }
    const name = `vscode: ${vscode.workspace.name ?? 'workspace'}`;
    const created = await current.client.createAgentSession({ name, ttl: '7d' });
    const session = { daemonPid, sessionId: created.session.id, token: created.token };
    await this.context.secrets.store(SECRET_KEY, JSON.stringify(session));
    return session;
  }

  private async stored(): Promise<StoredSession | undefined> {
    const text = await this.context.secrets.get(SECRET_KEY);
    if (!text) return undefined;
    try {
      return JSON.parse(text) as StoredSession;
    } catch {
      return undefined;
    }
  }
}
