import type { Action, AirlockEvent, Approval, MaskReport, PendingPolicyChange, RecordingSummary, Verdict } from '@airlock/shared';

/** One line of the live activity view. */
export interface ActivityEntry {
  action: Action;
  /** held: waiting for a human; the rest once decided */
  status: 'held' | 'allowed' | 'denied';
  verdict?: Verdict;
  approval?: Approval;
  result?: { summary: string; durationMs?: number; error?: string; rowCount?: number; maskReport?: MaskReport };
}

export interface AirlockSnapshot {
  pending: Approval[];
  recordings: RecordingSummary[];
  /** a change that loosens enforcement, waiting for the user */
  policyChange?: PendingPolicyChange | null;
}

/**
 * What the extension knows of the daemon, kept from a snapshot plus the event stream. Pure: the
 * views render it, the daemon client feeds it.
 */
export class AirlockState {
  private readonly pendingById = new Map<string, Approval>();
  private readonly activityById = new Map<string, ActivityEntry>();
  /** newest last; trimmed to `activityLimit` */
  private activityOrder: string[] = [];
  private recordingsById = new Map<string, RecordingSummary>();
  private pendingPolicyChange: PendingPolicyChange | null = null;

  constructor(private readonly activityLimit = 500) {}

  /** Replaces what is known with a fresh snapshot (first connection, or after a resync). */
  reset(snapshot: AirlockSnapshot): void {
    this.pendingById.clear();
    for (const a of snapshot.pending) {
      this.pendingById.set(a.id, a);
      // held while we were away: the activity view shows it too
      const entry = this.entry(a.action);
      entry.status = 'held';
      entry.approval = a;
    }
    this.recordingsById = new Map(snapshot.recordings.map((r) => [r.id, r]));
    this.pendingPolicyChange = snapshot.policyChange ?? null;
    for (const entry of this.activityById.values()) {
      if (entry.status === 'held' && !this.pendingById.has(entry.approval?.id ?? '')) entry.status = 'denied';
    }
  }

  apply(event: AirlockEvent): void {
    switch (event.type) {
      case 'action.decided': {
        const entry = this.entry(event.data.action);
        entry.status = event.data.decision.decision === 'review' ? 'held' : event.data.decision.decision === 'allow' ? 'allowed' : 'denied';
        break;
      }
      case 'action.completed': {
        const entry = this.entry(event.data.action);
        entry.verdict = event.data.verdict;
        entry.status = event.data.verdict.allowed ? 'allowed' : 'denied';
        break;
      }
      case 'action.result': {
        const entry = this.activityById.get(event.data.actionId);
        if (entry) entry.result = { summary: event.data.summary, durationMs: event.data.durationMs, error: event.data.error, rowCount: event.data.rowCount, maskReport: event.data.maskReport };
        break;
      }
      case 'approval.requested':
        this.pendingById.set(event.data.approval.id, event.data.approval);
        this.entry(event.data.approval.action).approval = event.data.approval;
        break;
      case 'approval.resolved':
        this.pendingById.delete(event.data.approval.id);
        this.entry(event.data.approval.action).approval = event.data.approval;
        break;
      case 'policy.staged':
        this.pendingPolicyChange = event.data.change;
        break;
      case 'policy.unstaged':
      case 'policy.applied':
        this.pendingPolicyChange = null;
        break;
      case 'recording.opened':
      case 'recording.sealed':
        this.recordingsById.set(event.data.recording.id, event.data.recording);
        break;
      default:
        break;
    }
  }

  /** The change to policy or config that waits for the user's confirmation, if any. */
  policyChange(): PendingPolicyChange | null {
    return this.pendingPolicyChange;
  }

  setRecordings(recordings: RecordingSummary[]): void {
    this.recordingsById = new Map(recordings.map((r) => [r.id, r]));
  }

  /** Pending approvals, oldest first (the one closest to timing out on top). */
  pending(): Approval[] {
    return [...this.pendingById.values()].sort((a, b) => a.expiresAt.localeCompare(b.expiresAt));
  }

  /** An approval pending now, or a decided one still in the activity list. */
  approval(id: string): Approval | undefined {
    const pending = this.pendingById.get(id);
    if (pending) return pending;
    for (const entry of this.activityById.values()) if (entry.approval?.id === id) return entry.approval;
    return undefined;
  }

  activityEntry(actionId: string): ActivityEntry | undefined {
    return this.activityById.get(actionId);
  }

  /** The latest actions of one agent session, newest first. */
  sessionActivity(sessionId: string, limit: number): ActivityEntry[] {
    const out: ActivityEntry[] = [];
    for (let i = this.activityOrder.length - 1; i >= 0 && out.length < limit; i--) {
      const entry = this.activityById.get(this.activityOrder[i]!)!;
      if (entry.action.sessionId === sessionId) out.push(entry);
    }
    return out;
  }

  /** Newest first. */
  activity(): ActivityEntry[] {
    return this.activityOrder.map((id) => this.activityById.get(id)!).reverse();
  }

  recordings(): RecordingSummary[] {
    return [...this.recordingsById.values()].sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }

  private entry(action: Action): ActivityEntry {
    let entry = this.activityById.get(action.id);
    if (!entry) {
      entry = { action, status: 'allowed' };
      this.activityById.set(action.id, entry);
      this.activityOrder.push(action.id);
      while (this.activityOrder.length > this.activityLimit) this.activityById.delete(this.activityOrder.shift()!);
    }
    return entry;
  }
}
