import type { LimitOverrides, Protocol, Target, TargetStatus } from '@airlock/shared';
import type { ActionPipeline } from '../pipeline/pipeline.js';
import type { AgentSessionStore } from '../sessions/store.js';
import type { Masker } from '../masking/index.js';
import type { Logger } from '../util/logger.js';
import type { Clock } from '../util/time.js';
import type { HostKey } from '../sessions/ssh-identity.js';
import type { LocalCa } from '../config/local-ca.js';
import { resolveLimits, type TargetLimits } from './limits.js';
import { TargetConfigError } from './target-config-error.js';
import { ConnectionLimiter } from './connection-limits.js';

/** What the daemon core offers every adapter, whatever the target. */
export interface ProxyServices {
  pipeline: ActionPipeline;
  sessions: AgentSessionStore;
  /** the masker for a target under the policy in force (compiled once per policy and target) */
  masking(target: string): Masker;
  logger: Logger;
  clock: Clock;
  /**
   * The daemon's own SSH host key (persistent, in <data dir>/ssh), which SSH listeners serve and the
   * configs of `airlock ssh-config` pin. Absent where no daemon made one (some unit tests).
   */
  sshHostKey?: () => HostKey;
  /**
   * The ports the daemon itself listens on now (its control API and every target's listener), read
   * when asked: the egress proxy refuses to tunnel to them. Absent where no daemon runs (unit tests).
   */
  daemonPorts?: () => readonly number[];
  /**
   * The daemon's local CA (persistent, in <data dir>/ca): Kubernetes listeners serve a leaf it signs,
   * and the kubeconfigs of `airlock kubeconfig` trust it. Absent where no daemon made one.
   */
  localCa?: () => LocalCa;
}

/** What a protocol adapter gets for one target: the core's services, scoped, and the target's limits. */
export interface ProxyContext extends ProxyServices {
  /** this target's limits, resolved and checked when it was loaded */
  limits: TargetLimits;
  /** lines are prefixed with the protocol and target name */
  logger: Logger;
  /**
   * The target's connection caps (limits.maxConnections, limits.maxConnectionsPerSession): an adapter
   * admits each accepted connection, identifies it once the agent has logged in, and releases it when
   * it closes. One per started target.
   */
  connections: ConnectionLimiter;
}

/** Daemon-wide settings the limits of every target start from. */
export interface LimitSettings {
  limits: LimitOverrides;
  recording: { resultRows: number; resultBytes: number };
}

export interface ProxyListener {
  /** host:port actually bound */
  readonly address: string;
  close(): Promise<void>;
}

/** Starts a listener for one target. Each protocol's folder under proxies/ provides one. */
export type ProxyFactory = (target: Target, context: ProxyContext) => Promise<ProxyListener>;

interface Running {
  key: string;
  status: TargetStatus;
  listener?: ProxyListener;
}

/**
 * Keeps one listener per configured target, starting, restarting and stopping them as the config
 * changes, without restarting the daemon. A target whose protocol has no adapter in this build is
 * reported as unsupported: nothing listens, so nothing passes.
 */
export class ListenerManager {
  private readonly running = new Map<string, Running>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly factories: Partial<Record<Protocol, ProxyFactory>>,
    private readonly services: ProxyServices,
    private readonly settings: LimitSettings,
  ) {}

  /** Serialized: two config changes in a row apply in order. */
  reconcile(targets: Target[]): Promise<TargetStatus[]> {
    const next = this.queue.then(() => this.apply(targets));
    this.queue = next.catch(() => undefined);
    return next;
  }

  statuses(): TargetStatus[] {
    return [...this.running.values()].map((r) => r.status).sort((a, b) => a.target.name.localeCompare(b.target.name));
  }

  async closeAll(): Promise<void> {
    await this.reconcile([]);
  }

  private async apply(targets: Target[]): Promise<TargetStatus[]> {
    const wanted = new Map(targets.map((t) => [t.name, t]));
    for (const [name, running] of this.running) {
      const target = wanted.get(name);
      if (!target || keyOf(target) !== running.key) {
        await running.listener?.close().catch(() => undefined);
        this.running.delete(name);
      }
    }
    for (const target of targets) {
      if (this.running.has(target.name)) continue;
      this.running.set(target.name, await this.start(target));
    }
    return this.statuses();
  }

  private async start(target: Target): Promise<Running> {
    const key = keyOf(target);
    const factory = this.factories[target.protocol];
    if (!factory) {
      return {
        key,
        status: { target, state: 'unsupported', error: `this build of airlockd has no ${target.protocol} proxy yet; nothing listens for target "${target.name}"` },
      };
    }
    let limits: TargetLimits;
    try {
      limits = resolveLimits(target, this.settings.limits, this.settings.recording);
    } catch (err) {
      return { key, status: { target, state: 'error', error: (err as Error).message } };
    }
    const logger = this.services.logger.child(`${target.protocol} target "${target.name}"`);
    const connections = new ConnectionLimiter(target.name, limits, logger, this.services.clock);
    const context: ProxyContext = { ...this.services, limits, logger, connections };
    try {
      const listener = await factory(target, context);
      return { key, listener, status: { target, state: 'listening', address: listener.address } };
    } catch (err) {
      const reason = (err as Error).message;
      // a setting the adapter cannot use says so itself, naming the target
      if (err instanceof TargetConfigError) return { key, status: { target, state: 'error', error: reason } };
      return { key, status: { target, state: 'error', error: `target "${target.name}": cannot listen on ${target.listen.host}:${target.listen.port}: ${reason}` } };
    }
  }
}

function keyOf(target: Target): string {
  return JSON.stringify(target);
}
