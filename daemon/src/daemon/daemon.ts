import path from 'node:path';
import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  agentSessionState,
  EnforcedState,
  type EnforcedConfig,
  parseDuration,
  type AgentSession,
  type Approval,
  type Grant,
  type ApprovalsResponse,
  type LocalConfig,
  type PendingPolicyChange,
  type PolicyChangeApplied,
  type PolicyDifference,
  type RecordBody,
  type StatusResponse,
  type Target,
  type TargetStatus,
  type SshConfigResponse,
  type KubeconfigResponse,
  type AddSessionTokenResponse,
} from '@airlock/shared';
import { homePaths, type HomePaths } from '../config/paths.js';
import { addTarget, loadLocalConfig, removeTarget, resolvePolicyFile } from '../config/local-config.js';
import { PolicyStore } from '../policy/store.js';
import { compareConfigs, comparePolicies, loosens } from '../policy/loosening.js';
import { StagedChanges } from '../policy/staging.js';
import { checkDataDirPermissions } from '../config/permissions.js';
import { fileExists, loadStructuredFile, writeFileAtomic } from '../config/files.js';
import { Recorder } from '../recording/recorder.js';
import { ApprovalBroker } from '../approvals/broker.js';
import { PendingApprovalsFile, loadPendingApprovals } from '../approvals/pending-file.js';
import { AgentSessionStore } from '../sessions/store.js';
import { loadOrCreateHostKey, type HostKey } from '../sessions/ssh-identity.js';
import { loadOrCreateLocalCa, type LocalCa } from '../config/local-ca.js';
import { listenerServer, renderKubeconfig } from '../sessions/kubeconfig.js';
import { writeSshConfig } from '../sessions/ssh-config.js';
import { EventBus } from '../events/bus.js';
import { ActionPipeline } from '../pipeline/pipeline.js';
import { ListenerManager, type ProxyFactory } from '../proxies/listeners.js';
import { compileMasking, type Masker } from '../masking/index.js';
import { startApiServer } from '../api/server.js';
import type { ControlPlane } from '../api/control-plane.js';
import { HttpError } from '../api/errors.js';
import { watchFile } from '../util/watch-file.js';
import { VERSION } from '../version.js';
import { lineLogger, type Logger } from '../util/logger.js';
import { systemClock } from '../util/time.js';
import { readDaemonInfo, processAlive, writeDaemonInfo } from './daemon-info.js';
import type { Policy as LocalPolicy, Protocol, SubmitActionRequest } from '@airlock/shared';
import { createHash } from 'node:crypto';
import { canonicalJson } from '../policy/hash.js';
import type { z } from 'zod';

export interface DaemonOptions {
  home: string;
  /** protocol adapters in this build */
  proxies?: Partial<Record<Protocol, ProxyFactory>>;
  /** enables POST /v1/test/actions (AIRLOCK_TEST_ACTION_SOURCE=1); never on in normal use */
  testActionSource?: boolean;
  sseHeartbeatMs?: number;
  log?: (line: string) => void;
}

/** Thrown when another daemon already serves this data dir. */
export class AlreadyRunningError extends Error {}

/**
 * airlockd: wires config, policy, sessions, approvals, recording, listeners and the control API
 * together, and owns their lifecycle.
 */
export class Daemon implements ControlPlane {
  readonly bus = new EventBus();
  private readonly paths: HomePaths;
  private readonly log: (line: string) => void;
  private readonly logger: Logger;
  private config!: LocalConfig;
  private policy!: PolicyStore;
  private recorder!: Recorder;
  private broker!: ApprovalBroker;
  private pendingFile!: PendingApprovalsFile;
  private sessions!: AgentSessionStore;
  private sshHostKey!: HostKey;
  private localCa!: LocalCa;
  private pipeline!: ActionPipeline;
  private listeners!: ListenerManager;
  private api?: { port: number; close(): Promise<void> };
  private readonly token = randomBytes(32).toString('base64url');
  private readonly startedAt = new Date().toISOString();
  private readonly disposables: { close(): void }[] = [];
  private readonly inflightRecords = new Set<Promise<unknown>>();
  private stopping?: Promise<void>;
  /** a change that loosens enforcement, read from the files, waiting for a person */
  private readonly staging = new StagedChanges();
  private defaultReviewTimeoutMs = 0;

  private constructor(private readonly options: DaemonOptions) {
    this.paths = homePaths(options.home);
    this.log = options.log ?? ((line) => console.error(line));
    this.logger = lineLogger(this.log);
  }

  static async start(options: DaemonOptions): Promise<Daemon> {
    const daemon = new Daemon(options);
    try {
      await daemon.boot();
    } catch (err) {
      await daemon.teardown().catch(() => undefined);
      throw err;
    }
    return daemon;
  }

  get apiPort(): number {
    return this.api?.port ?? 0;
  }

  /** The ports this daemon listens on: its control API and each target's listener (bound, or configured while not yet bound). */
  private ownPorts(): number[] {
    const ports = new Set<number>();
    if (this.apiPort > 0) ports.add(this.apiPort);
    for (const status of this.listeners.statuses()) {
      const bound = status.address === undefined ? NaN : Number(status.address.slice(status.address.lastIndexOf(':') + 1));
      const port = Number.isInteger(bound) && bound > 0 ? bound : status.target.listen.port;
      if (port > 0) ports.add(port);
    }
    return [...ports];
  }

  private async boot(): Promise<void> {
    const { paths } = this;
    await fs.mkdir(paths.home, { recursive: true, mode: 0o700 });
    const existing = await readDaemonInfo(paths.daemonInfo);
    if (existing && existing.pid !== process.pid && processAlive(existing.pid)) {
      throw new AlreadyRunningError(`airlockd is already running for ${paths.home} (pid ${existing.pid}, API ${existing.host}:${existing.port}); stop it with "airlock stop"`);
    }

    // personal mode: the files decide what is enforced, so nobody but the daemon's user may write them
    await checkDataDirPermissions([paths.home, paths.config, paths.daemonInfo, paths.recordings, paths.sessionIndex, paths.agentSessions, paths.pendingApprovals, paths.centralPolicyCache, paths.enforced, paths.sshDir, paths.sshSessionKeys]);
    this.config = await loadLocalConfig(paths.config);
    // what was in force when the daemon last ran: files that loosen it are staged, not applied, at start too
    const enforced = await loadEnforcedState(paths.enforced, this.log);
    let heldConfig: { config: LocalConfig; differences: PolicyDifference[] } | null = null;
    this.enforcedConfig = enforcedView(this.config);
    if (enforced !== null) {
      const differences = compareConfigs(enforced.config, this.config);
      if (loosens(differences)) {
        heldConfig = { config: this.config, differences };
        this.config = { ...this.config, ...enforced.config };
        this.enforcedConfig = enforced.config;
      }
    }
    const policyFile = resolvePolicyFile(this.config, paths.home);
    await checkDataDirPermissions([policyFile]);
    const defaultTimeoutMs = parseDuration(this.config.approvals.defaultTimeout);
    this.defaultReviewTimeoutMs = defaultTimeoutMs;
    this.policy = new PolicyStore({
      localFile: policyFile,
      centralCacheFile: paths.centralPolicyCache,
      defaultReviewTimeoutMs: defaultTimeoutMs,
      // a hot reload may only tighten; anything that loosens waits for a person
      gate: (current, next) => !loosens(this.policyDifferences(current, next)),
    });
    await this.policy.load();
    let heldPolicy = false;
    if (enforced !== null) {
      try {
        heldPolicy = this.policy.holdBack(enforced.policy);
      } catch (err) {
        this.log(`airlockd: ${paths.enforced}: the policy last in force cannot be compiled (${(err as Error).message}); the policy files are taken as they are`);
      }
    }

    this.sessions = new AgentSessionStore(paths.agentSessions, Date.now, { sshKeyDir: paths.sshSessionKeys });
    await this.sessions.load();
    // made once and kept: agents' ssh configs pin it
    this.sshHostKey = await loadOrCreateHostKey(paths);
    // made once and kept: agents' kubeconfigs trust it (certificate-authority-data)
    this.localCa = await loadOrCreateLocalCa(paths);

    this.recorder = new Recorder({
      dir: paths.recordings,
      indexFile: paths.sessionIndex,
      ledgerFile: paths.recordingLedger,
      mode: this.config.recording.mode,
      queueLimit: this.config.recording.queueLimit,
      queueBytes: this.config.recording.queueBytes,
      indexLimit: this.config.recording.indexLimit,
    });
    const { interrupted, ledgerStarted } = await this.recorder.start();
    if (ledgerStarted) {
      this.log(`airlockd: started the recordings ledger ${paths.recordingLedger}; recordings made before it are checked by their own chains and the index only`);
    }
    for (const recording of interrupted) {
      this.log(`airlockd: recording ${recording.id} (agent session "${recording.agentSessionName}") was left open by a crash; marked interrupted`);
    }
    this.recorder.on('opened', (recording) => this.bus.publish({ type: 'recording.opened', data: { recording } }));
    this.recorder.on('sealed', (recording) => this.bus.publish({ type: 'recording.sealed', data: { recording } }));
    this.recorder.on('failed', ({ recordingId, error }) => {
      this.log(`airlockd: recording ${recordingId} failed: ${error}`);
      this.bus.publish({ type: 'recording.failed', data: { recordingId, error } });
    });

    this.broker = new ApprovalBroker();
    this.pendingFile = new PendingApprovalsFile(paths.pendingApprovals);
    this.broker.on('requested', (approval) => {
      this.recordFor(approval.action.sessionId, { type: 'approval.requested', approvalId: approval.id, actionId: approval.action.id, ruleId: approval.ruleId, expiresAt: approval.expiresAt });
      this.bus.publish({ type: 'approval.requested', data: { approval } });
    });
    this.broker.on('resolved', (approval, grant) => {
      this.onApprovalResolved(approval);
      if (grant) queueMicrotask(() => this.releaseCoveredByGrant(grant));
    });
    this.broker.on('changed', (pending) => this.pendingFile.save(pending));
    await this.recoverPendingApprovals();

    this.pipeline = new ActionPipeline({ policy: this.policy, broker: this.broker, recorder: this.recorder, bus: this.bus });
    this.listeners = new ListenerManager(
      this.options.proxies ?? {},
      {
        pipeline: this.pipeline,
        sessions: this.sessions,
        masking: (target) => this.maskerFor(target),
        logger: this.logger,
        clock: systemClock,
        sshHostKey: () => this.sshHostKey,
        daemonPorts: () => this.ownPorts(),
        localCa: () => this.localCa,
      },
      { limits: this.config.limits, recording: { resultRows: this.config.recording.resultRows, resultBytes: this.config.recording.resultBytes } },
    );
    await this.listeners.reconcile(this.config.targets);

    this.policy.on('changed', (effective, previous) => {
      this.log(`airlockd: policy reloaded (${effective.policy.rules.length} rules, ${effective.hash.slice(0, 12)})`);
      this.bus.publish({ type: 'policy.changed', data: { hash: effective.hash, rules: effective.policy.rules.length, sources: effective.sources } });
      // a confirmed change is recorded by applyPolicyChange, with who confirmed it
      if (!this.confirming) this.recordPolicyChange({ stage: 'tightened', changeHash: effective.hash, differences: this.policyDifferences(previous, effective) });
      this.saveEnforced();
    });
    this.policy.on('staged', (staged, current) => {
      this.staging.setPolicy({ effective: staged, current, differences: this.policyDifferences(current, staged) });
      this.announceStaged();
    });
    this.policy.on('unstaged', (_withdrawn, reason) => {
      const before = this.pendingPolicyChange();
      this.staging.setPolicy(null);
      this.announceUnstaged(before, reason);
    });
    this.policy.on('rejected', ({ file, error }) => {
      this.log(`airlockd: policy change refused, the previous policy stays in force: ${error}`);
      this.bus.publish({ type: 'policy.rejected', data: { file, error } });
    });
    this.policy.watch();
    const stagedAtStart = this.policy.staged();
    if (stagedAtStart !== null) {
      const current = this.policy.current().effective;
      this.staging.setPolicy({ effective: stagedAtStart.effective, current, differences: this.policyDifferences(current, stagedAtStart.effective) });
    }
    if (heldConfig !== null) this.staging.setConfig({ ...heldConfig, file: paths.config });
    if (heldPolicy || heldConfig !== null) this.announceStaged();
    this.saveEnforced();
    this.disposables.push(watchFile(paths.config, () => void this.reloadConfig()));
    const expiryTimer = setInterval(() => void this.sealExpiredSessions(), 30_000);
    expiryTimer.unref();
    this.disposables.push({ close: () => clearInterval(expiryTimer) });

    this.api = await startApiServer(this, {
      host: this.config.api.host,
      port: this.config.api.port,
      token: this.token,
      version: VERSION,
      heartbeatMs: this.options.sseHeartbeatMs,
    });
    await writeDaemonInfo(paths.daemonInfo, { pid: process.pid, host: this.config.api.host, port: this.api.port, token: this.token, version: VERSION, startedAt: this.startedAt });
    this.log(`airlockd ${VERSION}: control API on http://${this.config.api.host}:${this.api.port}, data dir ${paths.home}`);
  }

  /** SIGTERM: stop accepting, cancel held requests, finish writes, seal open logs. */
  stop(): Promise<void> {
    this.stopping ??= this.teardown();
    return this.stopping;
  }

  private async teardown(): Promise<void> {
    for (const d of this.disposables.splice(0)) d.close();
    this.policy?.close();
    await this.api?.close();
    await this.listeners?.closeAll();
    this.broker?.close('the daemon is stopping');
    await Promise.allSettled([...this.inflightRecords]);
    await this.pendingFile?.flush();
    await this.recorder?.close();
    if (this.api) {
      const info = await readDaemonInfo(this.paths.daemonInfo);
      if (info?.pid === process.pid) await fs.rm(this.paths.daemonInfo, { force: true });
    }
  }

  // ---- ControlPlane ----

  status(): StatusResponse {
    const effective = this.policy.current().effective;
    return {
      version: VERSION,
      pid: process.pid,
      startedAt: this.startedAt,
      home: this.paths.home,
      api: `http://${this.config.api.host}:${this.apiPort}`,
      recordingMode: this.config.recording.mode,
      policy: { hash: effective.hash, rules: effective.policy.rules.length, sources: effective.sources },
      pendingPolicyChange: this.pendingPolicyChange(),
      targets: this.listeners.statuses(),
      pendingApprovals: this.broker.pending().length,
      activeSessions: this.sessions.list().filter((s) => s.state === 'active').length,
    };
  }

  targets(): TargetStatus[] {
    return this.listeners.statuses();
  }

  /** A new target is a new path to a system: it is written to the config and staged like an edit of the file. */
  async addTarget(target: Target): Promise<TargetStatus[]> {
    try {
      await addTarget(this.paths.config, target);
    } catch (err) {
      throw new HttpError(409, (err as Error).message);
    }
    await this.reloadConfig();
    return this.listeners.statuses();
  }

  async removeTarget(name: string): Promise<TargetStatus[]> {
    if (!this.config.targets.some((t) => t.name === name)) throw new HttpError(404, `no target named "${name}"`);
    await removeTarget(this.paths.config, name);
    // through the same path as an edit of the file, so what is in force is remembered
    await this.reloadConfig();
    return this.listeners.statuses();
  }

  async createSession(request: { name: string; targets?: string[]; ttl: string }) {
    const created = await this.sessions.create({ name: request.name, targets: request.targets ?? null, ttlMs: parseDuration(request.ttl) });
    this.bus.publish({ type: 'session.created', data: { session: created.session } });
    return created;
  }

  /** Another token for an active agent session (see AddSessionTokenRequest). */
  async addSessionToken(idOrName: string): Promise<AddSessionTokenResponse> {
    const session = this.sessions.get(idOrName);
    if (!session) throw new HttpError(404, `no agent session "${idOrName}" (give its id, or the name of one active session)`);
    const added = await this.sessions.addToken(session.id);
    if (!added.ok) throw new HttpError(added.reason === 'unknown' ? 404 : 409, added.reason === 'full' ? added.message : `${added.message}: create a new one with "airlock session new"`);
    return { session: added.session, token: added.token };
  }

  /** Writes the ssh client config for one agent session (see SshConfigRequest). */
  async sshConfig(request: { sessionId: string }): Promise<SshConfigResponse> {
    const session = this.sessions.get(request.sessionId);
    if (!session) throw new HttpError(404, `no agent session "${request.sessionId}" (give its id, or the name of one active session)`);
    const state = this.sessions.check(session.id);
    if (!state.ok) throw new HttpError(409, `${state.message}: create a new one with "airlock session new"`);
    const identityFile = this.sessions.sshIdentity(session.id);
    if (identityFile === undefined || !(await fileExists(identityFile))) {
      throw new HttpError(409, `agent session "${session.name}" (${session.id}) has no SSH key (it was made before agent sessions had them): create a new one with "airlock session new"`);
    }
    return writeSshConfig({ paths: this.paths, session, identityFile, hostKey: this.sshHostKey, targets: this.listeners.statuses() });
  }

  /** Writes the kubeconfig of one agent session (see KubeconfigRequest): its token must be that session's. */
  async kubeconfig(request: { sessionId: string; token: string }): Promise<KubeconfigResponse> {
    const session = this.sessions.get(request.sessionId);
    if (!session) throw new HttpError(404, `no agent session "${request.sessionId}" (give its id, or the name of one active session)`);
    const state = this.sessions.check(session.id);
    if (!state.ok) throw new HttpError(409, `${state.message}: create a new one with "airlock session new"`);
    const login = this.sessions.authenticate(request.token);
    if (!login.ok || login.session.id !== session.id) throw new HttpError(403, `the token given is not agent session "${session.name}"'s`);
    const clusters = this.listeners
      .statuses()
      .filter((s) => s.target.protocol === 'kubernetes' && s.state === 'listening')
      .flatMap((s) => {
        const server = listenerServer(s);
        return server ? [{ name: s.target.name, server }] : [];
      });
    const config = renderKubeconfig({ session, token: request.token, caPem: this.localCa.certPem, clusters });
    const file = path.join(this.paths.home, 'kube', `${session.id}.kubeconfig`);
    await writeFileAtomic(file, config, 0o600);
    return { path: file, contexts: clusters.map((c) => c.name), config };
  }

  listSessions() {
    return this.sessions.list();
  }

  async revokeSession(id: string): Promise<AgentSession | undefined> {
    const session = await this.sessions.revoke(id);
    if (!session) return undefined;
    this.broker.cancelSession(id, `agent session "${session.name}" was revoked`);
    await Promise.allSettled([...this.inflightRecords]);
    await this.recorder.seal(id, 'revoked');
    this.bus.publish({ type: 'session.revoked', data: { session } });
    return session;
  }

  recordings() {
    return this.recorder.list();
  }

  recording(id: string) {
    return this.recorder.get(id);
  }

  records(id: string, after: number, limit: number) {
    return this.recorder.readRecords(id, after, limit);
  }

  verify(id: string) {
    return this.recorder.verify(id);
  }

  approvals(): ApprovalsResponse {
    return { approvals: this.broker.pending(), grants: this.broker.grants() };
  }

  approval(id: string): Approval | undefined {
    return this.broker.get(id);
  }

  approve(id: string, request: { scope: 'once' | 'session'; by?: string; via: 'extension' | 'cli' | 'central' | 'api'; grantTtl?: string }): Approval {
    return this.broker.approve(id, {
      by: request.by ?? 'unknown',
      via: request.via,
      scope: request.scope,
      grantTtlMs: request.grantTtl ? parseDuration(request.grantTtl) : undefined,
    }).approval;
  }

  deny(id: string, request: { reason: string; by?: string; via: 'extension' | 'cli' | 'central' | 'api' }): Approval {
    return this.broker.deny(id, { by: request.by ?? 'unknown', via: request.via, reason: request.reason });
  }

  effectivePolicy() {
    return this.policy.current().effective;
  }

  pendingPolicyChange(): PendingPolicyChange | null {
    return this.staging.pending(this.policy.current().effective);
  }

  /**
   * A person confirmed the staged change they were shown (`hash`): it is put in force, and the
   * confirmation with the differences is recorded in every open session's log.
   */
  async applyPolicyChange(request: { hash: string; by?: string; via: 'extension' | 'cli' | 'central' | 'api' }): Promise<PolicyChangeApplied> {
    const change = this.pendingPolicyChange();
    if (change === null) throw new HttpError(404, 'no policy change is waiting for confirmation');
    if (change.hash !== request.hash) {
      throw new HttpError(409, `the staged change is now ${change.hash.slice(0, 12)}, not the ${request.hash.slice(0, 12)} that was confirmed: the files changed after it was shown, so review it again`);
    }
    const { policy: stagedPolicy, config: stagedConfig } = this.staging;
    this.staging.clear();
    if (stagedPolicy !== null) {
      this.confirming = true;
      try {
        this.policy.applyStaged(stagedPolicy.effective.hash);
      } finally {
        this.confirming = false;
      }
    }
    if (stagedConfig !== null) await this.applyConfig(stagedConfig.config);
    const applied: PolicyChangeApplied = { change, by: request.by ?? 'unknown', via: request.via, appliedAt: new Date().toISOString() };
    this.log(`airlockd: policy change ${change.hash.slice(0, 12)} confirmed by ${applied.by} (${applied.via}) and applied: ${change.differences.length} difference(s)`);
    this.recordPolicyChange({ stage: 'confirmed', changeHash: change.hash, differences: change.differences, by: applied.by, via: applied.via });
    this.bus.publish({ type: 'policy.applied', data: applied });
    return applied;
  }

  get submitTestAction() {
    if (!this.options.testActionSource) return undefined;
    return async ({ token, result, ...request }: z.output<typeof SubmitActionRequest>, signal: AbortSignal) => {
      const auth = this.sessions.authenticate(token, request.target);
      if (!auth.ok) throw new HttpError(401, auth.message);
      const outcome = await this.pipeline.submit(auth.session, request, { signal });
      if (result && outcome.verdict.allowed) await this.pipeline.recordResult(auth.session, outcome.action, result);
      return outcome;
    };
  }

  // ---- internals ----

  private async applyTargets(): Promise<TargetStatus[]> {
    const statuses = await this.listeners.reconcile(this.config.targets);
    this.bus.publish({ type: 'targets.changed', data: { targets: statuses } });
    return statuses;
  }

  private async reloadConfig(): Promise<void> {
    try {
      const next = await loadLocalConfig(this.paths.config);
      const staged = this.staging.config;
      // the watcher and the API may both report one write: the same staged content is not staged twice
      if (staged !== null && JSON.stringify(staged.config) === JSON.stringify(next)) return;
      // measured against the config last accepted, not the running one (whose daemon-wide limits wait for a restart)
      const differences = compareConfigs(this.enforcedConfig, next);
      if (loosens(differences)) {
        this.staging.setConfig({ config: next, file: this.paths.config, differences });
        this.announceStaged();
        return;
      }
      if (staged !== null) {
        const before = this.pendingPolicyChange();
        this.staging.setConfig(null);
        this.announceUnstaged(before, differences.length === 0 ? 'the config file is back to the config in force' : 'a newer edit of the config that does not loosen enforcement replaced it');
      }
      if (JSON.stringify(next) === JSON.stringify(this.config)) return;
      await this.applyConfig(next);
      if (differences.length > 0) this.recordPolicyChange({ stage: 'tightened', changeHash: configHash(next), differences });
    } catch (err) {
      const error = (err as Error).message;
      this.log(`airlockd: config change refused, the previous config stays in force: ${error}`);
      this.bus.publish({ type: 'config.rejected', data: { file: this.paths.config, error } });
    }
  }

  /** The config last accepted (not the running one, whose daemon-wide limits wait for a restart). */
  private enforcedConfig!: EnforcedConfig;
  private enforcedWrites: Promise<void> = Promise.resolve();

  /** Remembers what is in force, in order, so the next start does not apply an unconfirmed loosening. */
  private saveEnforced(): void {
    const state: EnforcedState = { version: 1, savedAt: new Date().toISOString(), policy: this.policy.inputsInForce(), config: this.enforcedConfig };
    const write = this.enforcedWrites.then(() => writeFileAtomic(this.paths.enforced, `${JSON.stringify(state, null, 2)}\n`, 0o600));
    const settled = write.catch((err: Error) => this.log(`airlockd: could not save ${this.paths.enforced}: ${err.message}; a restart would take the files as they are`));
    this.enforcedWrites = settled;
    // stop() waits for it like for a record
    this.inflightRecords.add(settled);
    void settled.finally(() => this.inflightRecords.delete(settled));
  }

  private async applyConfig(next: LocalConfig): Promise<void> {
    const restartNeeded = (['api', 'recording', 'limits'] as const).some((key) => JSON.stringify(next[key]) !== JSON.stringify(this.config[key]));
    if (restartNeeded) this.log('airlockd: api, recording and daemon-wide limits settings take effect at the next start (airlock stop && airlock up)');
    this.config = { ...next, api: this.config.api, recording: this.config.recording, limits: this.config.limits };
    this.enforcedConfig = enforcedView(next);
    this.saveEnforced();
    await this.applyTargets();
  }

  private confirming = false;

  private policyDifferences(current: { policy: LocalPolicy }, next: { policy: LocalPolicy }): PolicyDifference[] {
    return comparePolicies(
      { policy: current.policy, defaultReviewTimeoutMs: this.defaultReviewTimeoutMs },
      { policy: next.policy, defaultReviewTimeoutMs: this.defaultReviewTimeoutMs },
    );
  }

  /** Loud: the daemon's log, an event for the extension, and a record in every open session's log. */
  private announceStaged(): void {
    const change = this.pendingPolicyChange();
    if (change === null) return;
    const loosening = change.differences.filter((d) => d.direction === 'loosening');
    this.log(
      `airlockd: a change to ${change.files.join(', ')} loosens enforcement, so it is staged and the previous policy stays in force until a person confirms it ` +
        `("airlock policy apply" at a terminal, or in VS Code): ${loosening.map((d) => `${d.subject}: ${d.text}`).join('; ')}`,
    );
    this.bus.publish({ type: 'policy.staged', data: { change } });
    this.recordPolicyChange({ stage: 'staged', changeHash: change.hash, differences: change.differences });
  }

  private announceUnstaged(before: PendingPolicyChange | null, reason: string): void {
    if (before === null) return;
    const after = this.pendingPolicyChange();
    if (after !== null) return this.announceStaged();
    this.log(`airlockd: the staged policy change ${before.hash.slice(0, 12)} was withdrawn: ${reason}`);
    this.bus.publish({ type: 'policy.unstaged', data: { hash: before.hash, reason } });
    this.recordPolicyChange({ stage: 'withdrawn', changeHash: before.hash, differences: before.differences });
  }

  /** A change to what is enforced concerns every agent session: it goes into each open log. */
  private recordPolicyChange(change: Omit<Extract<RecordBody, { type: 'policy.change' }>, 'type'>): void {
    for (const session of this.recorder.openSessions()) this.recordFor(session.id, { type: 'policy.change', ...change });
  }

  private async recoverPendingApprovals(): Promise<void> {
    const { approvals, warning } = await loadPendingApprovals(this.paths.pendingApprovals);
    if (warning) this.log(`airlockd: ${warning}`);
    if (approvals.length === 0) return;
    const cancelled = this.broker.recoverInterrupted(approvals);
    for (const approval of cancelled) this.onApprovalResolved(approval);
    this.pendingFile.save(this.broker.pending());
    this.log(`airlockd: ${cancelled.length} approval(s) pending when the previous daemon stopped were recorded as cancelled`);
  }

  /** A session grant also covers what the same session is already waiting on under the same rule. */
  private releaseCoveredByGrant(grant: Grant): void {
    for (const pending of this.broker.pending()) {
      if (pending.action.sessionId !== grant.sessionId || pending.ruleId !== grant.ruleId) continue;
      try {
        this.broker.approve(pending.id, { by: grant.by, via: grant.via, scope: 'once' });
      } catch {
        // decided meanwhile (timeout, another approver): nothing to release
      }
    }
  }

  private onApprovalResolved(approval: Approval): void {
    if (approval.resolution) {
      this.recordFor(approval.action.sessionId, {
        type: 'approval.resolved',
        approvalId: approval.id,
        actionId: approval.action.id,
        status: approval.status,
        resolution: approval.resolution,
      });
    }
    this.bus.publish({ type: 'approval.resolved', data: { approval } });
  }

  /** Records outside an action's own path (approval events); tracked so stop() waits for them. */
  private recordFor(sessionId: string, body: RecordBody): void {
    const session = this.sessions.get(sessionId);
    const write = this.recorder.append({ id: sessionId, name: session?.name ?? sessionId }, body).catch((err: Error) => {
      this.log(`airlockd: could not record ${body.type} for agent session ${sessionId}: ${err.message}`);
    });
    this.inflightRecords.add(write);
    void write.finally(() => this.inflightRecords.delete(write));
  }

  private readonly maskers = new Map<string, Masker>();
  /** Compiled once per policy version and target; a policy change starts a new cache. */
  private maskerFor(target: string): Masker {
    const effective = this.policy.current().effective;
    const key = `${effective.hash}:${target}`;
    let masker = this.maskers.get(key);
    if (!masker) {
      if (this.maskers.size > 1000) this.maskers.clear();
      masker = compileMasking(effective.policy.masking, target);
      this.maskers.set(key, masker);
    }
    return masker;
  }

  private lastExpiryCheck = Date.now();
  private async sealExpiredSessions(): Promise<void> {
    const since = this.lastExpiryCheck;
    this.lastExpiryCheck = Date.now();
    for (const session of this.sessions.expiredSince(since)) {
      if (agentSessionState(session) !== 'expired') continue;
      this.broker.cancelSession(session.id, `agent session "${session.name}" expired`);
      await this.recorder.seal(session.id, 'expired').catch(() => undefined);
    }
  }
}

function enforcedView(config: LocalConfig): EnforcedConfig {
  return { targets: config.targets, limits: config.limits, policyFile: config.policyFile, approvals: config.approvals, ...(config.central ? { central: config.central } : {}) };
}

/** null when there is none (first start) or it cannot be read, which is said in the log. */
async function loadEnforcedState(file: string, log: (line: string) => void): Promise<EnforcedState | null> {
  if (!(await fileExists(file))) return null;
  try {
    return await loadStructuredFile(EnforcedState, file);
  } catch (err) {
    log(`airlockd: ${(err as Error).message}; without a record of what was last in force, the policy and config files are taken as they are`);
    return null;
  }
}

function configHash(config: LocalConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
}
