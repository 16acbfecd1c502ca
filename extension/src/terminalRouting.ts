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
