import type { Action, ApprovalChannel, ApprovalResolution, ApprovalStatus, Approval, Decision, Grant } from '@airlock/shared';
import { newId as randomId } from '../util/ids.js';
import { formatDuration } from '../util/time.js';

/** The timeout when a review rule names none (DESIGN.md: "Timeout (per rule, default 5 minutes)"). */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_APPROVAL_HISTORY_LIMIT = 1000;

/** Who resolves what the humans did not: timeouts, cancellations, restarts. */
const SYSTEM_ACTOR = 'airlock';
export const AGENT_DISCONNECTED_REASON = 'agent disconnected';
export const DAEMON_RESTARTED_REASON = 'the daemon restarted; the held request was lost';

/** setTimeout fires at once for delays above 2^31-1 ms, so longer timeouts are waited out in chunks. */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** No approval with this id is pending or remembered (HTTP 404). */
export class ApprovalNotFoundError extends Error {
  constructor(readonly approvalId: string) {
    super(`no approval "${approvalId}": it is unknown, or was resolved too long ago to be remembered`);
    this.name = 'ApprovalNotFoundError';
  }
}

/** The approval was already approved, denied, expired or cancelled (HTTP 409). */
export class ApprovalAlreadyDecidedError extends Error {
  constructor(readonly approval: Approval) {
    super(`approval ${approval.id} (${describeAction(approval.action)}) ${describeResolution(approval)}`);
    this.name = 'ApprovalAlreadyDecidedError';
  }
}

/** How a held action finally went. `grant` is set when it was approved for the rest of the session. */
export interface ApprovalOutcome {
  approval: Approval;
  grant?: Grant;
}

export interface BrokerOptions {
  /** Wall clock in epoch ms; injected by tests. Timers still wait real time. */
  now?: () => number;
  newId?: (prefix: 'apr' | 'grt') => string;
  /** How many resolved approvals are remembered, so a late decision gets 409 rather than 404. */
  historyLimit?: number;
  /** A listener threw. The broker's state is already updated; defaults to a process warning. */
  onListenerError?: (error: unknown, event: keyof ApprovalBrokerEvents) => void;
}

export interface ApproveInput {
  by: string;
  via: ApprovalChannel;
  scope: 'once' | 'session';
  /** session scope only: how long the grant lasts; until the agent session ends when omitted */
  grantTtlMs?: number;
}

export interface DenyInput {
  by: string;
  via: ApprovalChannel;
  reason: string;
}

export interface ApprovalBrokerEvents {
  requested: [approval: Approval];
  resolved: [approval: Approval, grant: Grant | undefined];
  /** the pending list after any change to it, oldest first */
  changed: [pending: Approval[]];
}

export type ApprovalBrokerListener<E extends keyof ApprovalBrokerEvents> = (...args: ApprovalBrokerEvents[E]) => void;

export interface Disposable {
  dispose(): void;
}

interface HeldApproval {
  /** the pending state; resolved states are new objects, so handed-out snapshots never change */
  approval: Approval;
  timeoutMs: number;
  expiresAtMs: number;
  settle: (outcome: ApprovalOutcome) => void;
  timer: NodeJS.Timeout | undefined;
  detachSignal: (() => void) | undefined;
}

/**
 * Holds actions that policy sent to review until a human approves or denies them, they time out
 * (= deny) or the agent goes away. Keeps session grants and a bounded memory of resolved approvals.
 * In memory only: persistence is the caller's (see PendingApprovalsFile).
 */
export class ApprovalBroker {
  private readonly now: () => number;
  private readonly makeId: (prefix: 'apr' | 'grt') => string;
  private readonly historyLimit: number;
  private readonly onListenerError: (error: unknown, event: keyof ApprovalBrokerEvents) => void;
  /** insertion order is request order, so iteration is oldest first */
  private readonly held = new Map<string, HeldApproval>();
  /** resolved approvals, oldest first; trimmed to historyLimit */
  private readonly history = new Map<string, Approval>();
  private readonly grantsById = new Map<string, Grant>();
  private readonly listeners: { [E in keyof ApprovalBrokerEvents]: Set<ApprovalBrokerListener<E>> } = {
    requested: new Set(),
    resolved: new Set(),
    changed: new Set(),
  };
  private closedReason: string | undefined;

  constructor(options: BrokerOptions = {}) {
    this.now = options.now ?? (() => Date.now());
    this.makeId = options.newId ?? randomId;
    const historyLimit = options.historyLimit ?? DEFAULT_APPROVAL_HISTORY_LIMIT;
    if (!Number.isInteger(historyLimit) || historyLimit < 0) {
      throw new RangeError(`approval historyLimit must be a non-negative integer, got ${historyLimit}`);
    }
    this.historyLimit = historyLimit;
    this.onListenerError =
      options.onListenerError ??
      ((error, event) => process.emitWarning(`an approval "${event}" listener failed: ${errorText(error)}`, 'AirlockWarning'));
  }

  /**
   * Holds an action that policy sent to review. Returns the pending approval at once and a promise
   * of its final state, which never rejects. Aborting `signal` (the agent disconnected) cancels it.
   */
  request(action: Action, decision: Decision, signal?: AbortSignal): { approval: Approval; outcome: Promise<ApprovalOutcome> } {
    if (this.closedReason !== undefined) {
      throw new Error(`cannot hold ${describeAction(action)} for approval: the approval broker is closed (${this.closedReason})`);
    }
    if (decision.decision !== 'review') {
      throw new Error(
        `cannot hold ${describeAction(action)} for approval: rule "${decision.ruleId}" decided "${decision.decision}", only "review" is held`,
      );
    }
    const timeoutMs = decision.timeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError(`cannot hold ${describeAction(action)} for approval: timeout must be positive, got ${timeoutMs} ms`);
    }
    const requestedAtMs = this.now();
    const expiresAtMs = requestedAtMs + timeoutMs;
    const approval: Approval = {
      id: this.makeId('apr'),
      action,
      ruleId: decision.ruleId,
      reason: decision.reason,
      requestedAt: new Date(requestedAtMs).toISOString(),
      expiresAt: new Date(expiresAtMs).toISOString(),
      status: 'pending',
    };
    let settle!: (outcome: ApprovalOutcome) => void;
    const outcome = new Promise<ApprovalOutcome>((resolve) => {
      settle = resolve;
    });
    const held: HeldApproval = { approval, timeoutMs, expiresAtMs, settle, timer: undefined, detachSignal: undefined };
    this.held.set(approval.id, held);
    this.armTimer(held, timeoutMs);

    this.emit('requested', approval);
    this.emit('changed', this.pending());

    // a listener may already have resolved it; then there is nothing left to cancel
    if (signal && this.held.get(approval.id) === held) {
      const onAbort = (): void => {
        if (this.held.get(approval.id) === held) this.settle(held, 'cancelled', this.systemResolution(AGENT_DISCONNECTED_REASON));
      };
      if (signal.aborted) {
        onAbort();
      } else {
        signal.addEventListener('abort', onAbort, { once: true });
        held.detachSignal = () => signal.removeEventListener('abort', onAbort);
      }
    }
    return { approval, outcome };
  }

  /** A live grant for this agent session and rule, if any. Expired grants are dropped on the way. */
  findGrant(sessionId: string, ruleId: string, key?: string): Grant | undefined {
    this.pruneExpiredGrants();
    let best: Grant | undefined;
    for (const grant of this.grantsById.values()) {
      if (grant.sessionId !== sessionId || grant.ruleId !== ruleId || grant.key !== key) continue;
      // prefer the grant that lasts longest, so the one recorded is the one that still holds later
      if (!best || grant.expiresAt === null || (best.expiresAt !== null && grant.expiresAt > best.expiresAt)) best = grant;
    }
    return best;
  }

  approve(id: string, input: ApproveInput): ApprovalOutcome {
    const held = this.takeHeld(id);
    if (input.scope !== 'session') {
      return this.settle(held, 'approved', { at: this.isoNow(), by: input.by, via: input.via, scope: 'once' });
    }
    if (input.grantTtlMs !== undefined && (!Number.isFinite(input.grantTtlMs) || input.grantTtlMs <= 0)) {
      throw new RangeError(
        `cannot approve ${id} (${describeAction(held.approval.action)}) for the session: grant ttl must be positive, got ${input.grantTtlMs} ms`,
      );
    }
    const nowMs = this.now();
    const grant: Grant = {
      id: this.makeId('grt'),
      sessionId: held.approval.action.sessionId,
      ruleId: held.approval.ruleId,
      approvalId: held.approval.id,
      ...(held.approval.action.grantKey !== undefined ? { key: held.approval.action.grantKey } : {}),
      createdAt: new Date(nowMs).toISOString(),
      expiresAt: input.grantTtlMs === undefined ? null : new Date(nowMs + input.grantTtlMs).toISOString(),
      by: input.by,
      via: input.via,
    };
    const resolution: ApprovalResolution = {
      at: grant.createdAt,
      by: input.by,
      via: input.via,
      scope: 'session',
      grantId: grant.id,
    };
    return this.settle(held, 'approved', resolution, grant);
  }

  deny(id: string, input: DenyInput): Approval {
    const reason = input.reason.trim();
    const held = this.takeHeld(id);
    if (reason === '') throw new Error(`cannot deny ${id} (${describeAction(held.approval.action)}): a reason is required`);
    return this.settle(held, 'denied', { at: this.isoNow(), by: input.by, via: input.via, reason }).approval;
  }

  /** Cancels one pending approval on Airlock's own account (not a human decision). */
  cancel(id: string, reason: string): Approval {
    return this.settle(this.takeHeld(id), 'cancelled', this.systemResolution(reason)).approval;
  }

  /** The agent session ended: cancels its pending approvals and drops its grants. */
  cancelSession(sessionId: string, reason: string): Approval[] {
    this.revokeGrantsForSession(sessionId);
    const sessionHeld = [...this.held.values()].filter((held) => held.approval.action.sessionId === sessionId);
    return this.cancelAll(sessionHeld, reason);
  }

  revokeGrantsForSession(sessionId: string): Grant[] {
    const revoked: Grant[] = [];
    for (const grant of this.grantsById.values()) {
      if (grant.sessionId === sessionId) revoked.push(grant);
    }
    for (const grant of revoked) this.grantsById.delete(grant.id);
    return revoked;
  }

  /** Pending approvals, oldest first. */
  pending(): Approval[] {
    return [...this.held.values()].map((held) => held.approval);
  }

  /** A pending approval, or a resolved one still remembered. */
  get(id: string): Approval | undefined {
    return this.held.get(id)?.approval ?? this.history.get(id);
  }

  /** Live grants, oldest first. */
  grants(): Grant[] {
    this.pruneExpiredGrants();
    return [...this.grantsById.values()];
  }

  /** The daemon is stopping: cancels everything pending and refuses new requests. */
  close(reason: string): Approval[] {
    this.closedReason ??= reason;
    return this.cancelAll([...this.held.values()], reason);
  }

  /**
   * Approvals that were pending when an earlier daemon run died: their requests are gone, so they are
   * returned cancelled and remembered (a late decision then gets 409). No events fire; the caller
   * records the returned approvals. Entries that are not pending, or whose id is known, are skipped.
   */
  recoverInterrupted(previouslyPending: Approval[]): Approval[] {
    const recovered: Approval[] = [];
    for (const approval of previouslyPending) {
      if (approval.status !== 'pending' || this.get(approval.id) !== undefined) continue;
      const cancelled: Approval = {
        ...approval,
        status: 'cancelled',
        resolution: this.systemResolution(DAEMON_RESTARTED_REASON),
      };
      this.remember(cancelled);
      recovered.push(cancelled);
    }
    return recovered;
  }

  on<E extends keyof ApprovalBrokerEvents>(event: E, listener: ApprovalBrokerListener<E>): Disposable {
    const set = this.listeners[event] as Set<ApprovalBrokerListener<E>>;
    set.add(listener);
    return { dispose: () => void set.delete(listener) };
  }

  /**
   * The pending approval to decide, or why it cannot be decided. A deadline that has passed wins
   * over a decision that arrives before its timer ran: the approval expires and the caller gets 409.
   */
  private takeHeld(id: string): HeldApproval {
    const held = this.held.get(id);
    if (!held) {
      const resolved = this.history.get(id);
      if (resolved) throw new ApprovalAlreadyDecidedError(resolved);
      throw new ApprovalNotFoundError(id);
    }
    if (this.now() >= held.expiresAtMs) {
      throw new ApprovalAlreadyDecidedError(this.expire(held).approval);
    }
    return held;
  }

  private armTimer(held: HeldApproval, remainingMs: number): void {
    const delay = Math.min(remainingMs, MAX_TIMER_DELAY_MS);
    held.timer = setTimeout(() => {
      if (this.held.get(held.approval.id) !== held) return;
      if (remainingMs > delay) this.armTimer(held, remainingMs - delay);
      else this.expire(held);
    }, delay);
    // a held request must not keep the process alive by itself; the connection that waits does
    held.timer.unref();
  }

  private expire(held: HeldApproval): ApprovalOutcome {
    return this.settle(held, 'expired', this.systemResolution(`no decision within ${formatDuration(held.timeoutMs)}`));
  }

  private cancelAll(toCancel: HeldApproval[], reason: string): Approval[] {
    const cancelled: Approval[] = [];
    for (const held of toCancel) {
      if (this.held.get(held.approval.id) !== held) continue; // a listener resolved it meanwhile
      const overdue = this.now() >= held.expiresAtMs;
      const outcome = overdue
        ? this.settle(held, 'expired', this.systemResolution(`no decision within ${formatDuration(held.timeoutMs)}`), undefined, false)
        : this.settle(held, 'cancelled', this.systemResolution(reason), undefined, false);
      cancelled.push(outcome.approval);
    }
    if (cancelled.length > 0) this.emit('changed', this.pending());
    return cancelled;
  }

  /** The one place a pending approval leaves the pending state. */
  private settle(
    held: HeldApproval,
    status: Exclude<ApprovalStatus, 'pending'>,
    resolution: ApprovalResolution,
    grant?: Grant,
    emitChanged = true,
  ): ApprovalOutcome {
    this.held.delete(held.approval.id);
    clearTimeout(held.timer);
    held.detachSignal?.();
    const approval: Approval = { ...held.approval, status, resolution };
    this.remember(approval);
    if (grant) this.grantsById.set(grant.id, grant);
    const outcome: ApprovalOutcome = grant ? { approval, grant } : { approval };
    held.settle(outcome);
    this.emit('resolved', approval, grant);
    if (emitChanged) this.emit('changed', this.pending());
    return outcome;
  }

  private remember(approval: Approval): void {
    this.history.delete(approval.id);
    this.history.set(approval.id, approval);
    for (const oldest of this.history.keys()) {
      if (this.history.size <= this.historyLimit) break;
      this.history.delete(oldest);
    }
  }

  private pruneExpiredGrants(): void {
    const nowMs = this.now();
    for (const [id, grant] of this.grantsById) {
      if (grant.expiresAt !== null && Date.parse(grant.expiresAt) <= nowMs) this.grantsById.delete(id);
    }
  }

  private systemResolution(reason: string): ApprovalResolution {
    return { at: this.isoNow(), by: SYSTEM_ACTOR, via: 'system', reason };
  }

  private isoNow(): string {
    return new Date(this.now()).toISOString();
  }

  private emit<E extends keyof ApprovalBrokerEvents>(event: E, ...args: ApprovalBrokerEvents[E]): void {
    // a snapshot, so listeners that subscribe or dispose while being called do not disturb this round
    for (const listener of [...(this.listeners[event] as Set<ApprovalBrokerListener<E>>)]) {
      try {
        listener(...args);
      } catch (error) {
        this.onListenerError(error, event);
      }
    }
  }
}

/**
 * Above the SQL summary's own bound (classify/sql/summary.ts, 500), so that a statement list is
 * never cut here: a cut list could hide the statement the message is about.
 */
const SUMMARY_MAX_CHARS = 600;

/** `sql.query on "prod-db": "DELETE FROM users"`, for error messages. */
export function describeAction(action: Action): string {
  const summary = action.summary.length > SUMMARY_MAX_CHARS ? `${action.summary.slice(0, SUMMARY_MAX_CHARS - 1)}…` : action.summary;
  return `${action.kind} on "${action.target}": ${JSON.stringify(summary)}`;
}

/** "was already denied by alice via extension at …: too risky" */
function describeResolution(approval: Approval): string {
  const resolution = approval.resolution;
  if (approval.status === 'pending' || !resolution) return `is in state "${approval.status}"`;
  const reason = resolution.reason ? `: ${resolution.reason}` : '';
  switch (approval.status) {
    case 'approved': {
      const scope = resolution.scope === 'session' ? ` for the rest of the session (grant ${resolution.grantId ?? 'unknown'})` : ' once';
      return `was already approved${scope} by ${resolution.by} via ${resolution.via} at ${resolution.at}`;
    }
    case 'denied':
      return `was already denied by ${resolution.by} via ${resolution.via} at ${resolution.at}${reason}`;
    case 'expired':
      return `already expired at ${resolution.at}${reason}`;
    case 'cancelled':
      return `was already cancelled at ${resolution.at}${reason}`;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
