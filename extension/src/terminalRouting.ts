import * as vscode from 'vscode';
import type { AirlockController } from './controller.js';
import type { KubeconfigResponse, SshConfigResponse, TargetStatus } from '@airlock/shared';
import { DaemonRequestError, type DaemonClient } from './daemon/client.js';
import { defaultPostgresTarget, httpEnvironment, httpTargets, kubernetesEnvironment, kubernetesTargets, postgresEnvironment, sshEnvironment, sshTargets } from './state/terminal-env.js';

const SECRET_KEY = 'airlock.agentSession';

interface StoredSession {
  daemonPid: number;
  sessionId: string;
  token: string;
}

/**
 * Routes the agents in this workspace's integrated terminals through the daemon: one agent session
 * per workspace (its token kept in SecretStorage), and environment variables for new terminals:
 * PG* and DATABASE_URL for the database target, AIRLOCK_SSH_CONFIG and GIT_SSH_COMMAND when the
 * daemon has SSH targets, HTTPS_PROXY / HTTP_PROXY / NO_PROXY when it has an egress target, and
 * AIRLOCK_<TARGET>_URL with AIRLOCK_TOKEN for its HTTP API targets, KUBECONFIG when it has
 * Kubernetes targets.
 */
export class TerminalRouting implements vscode.Disposable {
  private readonly subscription: vscode.Disposable;
  private applying?: Promise<void>;
  /** what was applied, for the host test and for "copy connection string" */
  environment: Record<string, string> = {};
  /** the ssh config last written for the workspace's session */
  sshConfig?: SshConfigResponse;
  /** a session without an SSH key is replaced once per window, not on every change */
  private remadeForSsh = false;
  private sshConfigKey?: string;
  private sshProblem?: string;
  /** the kubeconfig last written for the workspace's session */
  kubeconfig?: KubeconfigResponse;
  private kubeconfigKey?: string;
  private kubeProblem?: string;

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
    this.sshConfig = undefined;
    this.sshConfigKey = undefined;
    this.kubeconfig = undefined;
    this.kubeconfigKey = undefined;
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
    const database = defaultPostgresTarget(targets, vscode.workspace.getConfiguration('airlock').get<string>('defaultTarget') || undefined);
    const ssh = sshTargets(targets);
    const routesHttp = httpTargets(targets).length > 0;
    const kube = kubernetesTargets(targets);
    if (!database && ssh.length === 0 && !routesHttp && kube.length === 0) return;
    let session = await this.session();
    const env: Record<string, string> = {};
    const routes: string[] = [];
    if (database) {
      Object.assign(env, postgresEnvironment(database, session.token));
      routes.push(`database clients through target **${database.target.name}**`);
    }
    if (ssh.length > 0) {
      const written = await this.writeSshConfig(current.client, session, ssh);
      session = written.session;
      if (written.config) {
        // a session remade for its SSH key has a new token: the database variables follow it
        if (database) Object.assign(env, postgresEnvironment(database, session.token));
        Object.assign(env, sshEnvironment(written.config.path));
        routes.push(`ssh and git through ${written.config.hosts.length === 1 ? 'target' : 'targets'} ${written.config.hosts.map((h) => `**${h}**`).join(', ')} (\`ssh -F "$AIRLOCK_SSH_CONFIG" TARGET\`)`);
      }
    }
    if (routesHttp) {
      // after SSH: a session remade for its SSH key has a new token
      const http = httpEnvironment(targets, session.token);
      Object.assign(env, http);
      if (http.HTTPS_PROXY) routes.push('HTTP(S) clients through the egress proxy (`HTTPS_PROXY`; loopback is not proxied)');
      const apis = Object.keys(http).filter((k) => k.endsWith('_URL'));
      if (apis.length > 0) routes.push(`HTTP API targets at ${apis.map((k) => `\`$${k}\``).join(', ')} (\`Authorization: Bearer $AIRLOCK_TOKEN\`)`);
    }
    if (kube.length > 0) {
      // after SSH: a session remade for its SSH key has a new token, which the kubeconfig carries
      const kubeconfig = await this.writeKubeconfig(current.client, session, kube);
      if (kubeconfig) {
        Object.assign(env, kubernetesEnvironment(kubeconfig.path));
        routes.push(`kubectl through ${kubeconfig.contexts.length === 1 ? 'context' : 'contexts'} ${kubeconfig.contexts.map((c) => `**${c}**`).join(', ')} (\`kubectl --context TARGET\`)`);
      }
    }
    if (Object.keys(env).length === 0 || JSON.stringify(env) === JSON.stringify(this.environment)) return;
    collection.clear();
    collection.description = new vscode.MarkdownString(`Airlock routes ${routes.join(', and ')} in this terminal (agent session ${session.sessionId}).`);
    for (const [name, value] of Object.entries(env)) collection.replace(name, value);
    this.environment = env;
  }

  /**
   * The ssh config the daemon writes for the workspace's session. A session made before sessions had
   * SSH keys cannot have one (the daemon answers 409): the workspace gets a new session, once; its
   * old token keeps working in terminals already open until it expires or is revoked.
   */
  private async writeSshConfig(client: DaemonClient, session: StoredSession, targets: readonly TargetStatus[], fresh = false): Promise<{ session: StoredSession; config?: SshConfigResponse }> {
    // routing is re-applied on every daemon event: the file is rewritten only when what it says would change
    const key = JSON.stringify([session.sessionId, targets.map((t) => [t.target.name, t.address])]);
    if (!fresh && this.sshConfig && this.sshConfigKey === key) return { session, config: this.sshConfig };
    try {
      const config = await client.sshConfig({ sessionId: session.sessionId });
      this.sshConfig = config;
      this.sshConfigKey = key;
      this.sshProblem = undefined;
      return { session, config };
    } catch (err) {
      if (err instanceof DaemonRequestError && err.status === 409 && !this.remadeForSsh) {
        this.remadeForSsh = true;
        return this.writeSshConfig(client, await this.createWorkspaceSession(client), targets, fresh);
      }
      this.sshConfig = undefined;
      this.sshConfigKey = undefined;
      const message = `Airlock: SSH routing for this workspace's terminals is off: ${(err as Error).message}`;
      // said once per reason, not on every event that re-applies routing
      if (message !== this.sshProblem) void vscode.window.showWarningMessage(message);
      this.sshProblem = message;
      return { session };
    }
  }

  /**
   * The kubeconfig the daemon writes for the workspace's session (one context per Kubernetes
   * target, the session's token, the daemon's CA). Written again only when the session or the
   * targets change; a daemon that cannot write one (an older daemon, no listening target) turns
   * Kubernetes routing off with one warning, and the other routes stay.
   */
  private async writeKubeconfig(client: DaemonClient, session: StoredSession, targets: readonly TargetStatus[]): Promise<KubeconfigResponse | undefined> {
    const key = JSON.stringify([session.sessionId, targets.map((t) => [t.target.name, t.address])]);
    if (this.kubeconfig && this.kubeconfigKey === key) return this.kubeconfig;
    try {
      this.kubeconfig = await client.kubeconfig({ sessionId: session.sessionId, token: session.token });
      this.kubeconfigKey = key;
      this.kubeProblem = undefined;
      return this.kubeconfig;
    } catch (err) {
      this.kubeconfig = undefined;
      this.kubeconfigKey = undefined;
      const message = `Airlock: Kubernetes routing for this workspace's terminals is off: ${(err as Error).message}`;
      if (message !== this.kubeProblem) void vscode.window.showWarningMessage(message);
      this.kubeProblem = message;
      return undefined;
    }
  }

  /**
   * "Airlock: Open SSH terminal to target…": a quick pick of the daemon's SSH targets, then a
   * terminal running `ssh -F <the session's config> <target>`, so the whole session goes through
   * Airlock as this workspace's agent session.
   */
  async openSshTerminal(given?: string): Promise<vscode.Terminal | undefined> {
    const current = this.controller.current;
    if (!current.connected) {
      void vscode.window.showErrorMessage(`Airlock: cannot open an SSH terminal: the daemon is not running (${current.reason}).`);
      return undefined;
    }
    const ssh = sshTargets((await current.client.targets()).targets);
    if (ssh.length === 0) {
      void vscode.window.showWarningMessage('Airlock: the daemon has no SSH target listening. Add one (protocol: ssh) to its config.yaml.');
      return undefined;
    }
    const session = await this.session();
    // written again now: the terminal must find the file even if it was removed since
    const { config } = await this.writeSshConfig(current.client, session, ssh, true);
    if (!config) return undefined;
    const offered = ssh.filter((t) => config.hosts.includes(t.target.name));
    const picked = given !== undefined ? offered.find((t) => t.target.name === given) : await this.pickSshTarget(offered);
    if (!picked) {
      if (given !== undefined) void vscode.window.showErrorMessage(`Airlock: no SSH target "${given}" in this session's ssh config (it has ${config.hosts.join(', ') || 'none'}).`);
      return undefined;
    }
    const terminal = vscode.window.createTerminal({ name: `Airlock SSH: ${picked.target.name}`, shellPath: 'ssh', shellArgs: ['-F', config.path, picked.target.name], iconPath: new vscode.ThemeIcon('terminal') });
    terminal.show();
    return terminal;
  }

  private async pickSshTarget(targets: TargetStatus[]): Promise<TargetStatus | undefined> {
    if (targets.length === 0) {
      void vscode.window.showWarningMessage("Airlock: this workspace's agent session may use none of the SSH targets.");
      return undefined;
    }
    const items = targets.map((t) => ({ label: t.target.name, description: t.target.upstream, detail: `through ${t.address ?? 'the daemon'}`, target: t }));
    return (await vscode.window.showQuickPick(items, { title: 'Open an SSH terminal through Airlock', placeHolder: 'SSH target' }))?.target;
  }

  /** The workspace's agent session, created once per daemon data dir; recreated if it stopped working. */
  private async session(): Promise<StoredSession> {
    const current = this.controller.current;
    if (!current.connected) throw new Error('not connected');
    const stored = await this.stored();
    if (stored) {
      const { sessions } = await current.client.agentSessions();
      if (sessions.some((s) => s.id === stored.sessionId && s.state === 'active')) return stored;
    }
    return this.createWorkspaceSession(current.client);
  }

  private async createWorkspaceSession(client: DaemonClient): Promise<StoredSession> {
    const name = `vscode: ${vscode.workspace.name ?? 'workspace'}`;
    const created = await client.createAgentSession({ name, ttl: '7d' });
    const session = { daemonPid: client.info.pid, sessionId: created.session.id, token: created.token };
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
