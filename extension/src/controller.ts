import * as vscode from 'vscode';
import type { Action, AirlockEvent, Approval, PendingPolicyChange, RecordingRecord } from '@airlock/shared';
import { discoverDaemon, resolveAirlockHome } from './daemon/discovery.js';
import { DaemonClient, DaemonRequestError } from './daemon/client.js';
import { recordActionId } from './state/timeline.js';
import { EventStream } from './daemon/event-stream.js';
import { AirlockState } from './state/airlock-state.js';

const CHANGE_COALESCE_MS = 50;
/** How far from a log's end an opened action is looked for first. */
const RECENT_RECORDS = 2_000;

export type ConnectionState = { connected: false; reason: string } | { connected: true; client: DaemonClient };

/**
 * Owns the link to the local daemon: finds it through daemon.json (polling while there is none),
 * follows its event stream, refetches state after a reconnect that could not resume, and tells the
 * views when anything changed. Only the extension host talks to the daemon.
 */
export class AirlockController implements vscode.Disposable {
  readonly state = new AirlockState();
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly approvalRequested = new vscode.EventEmitter<Approval>();
  private readonly approvalResolved = new vscode.EventEmitter<Approval>();
  readonly onDidChange = this.changed.event;
  readonly onApprovalRequested = this.approvalRequested.event;
  readonly onApprovalResolved = this.approvalResolved.event;
  private readonly policyChangeStaged = new vscode.EventEmitter<PendingPolicyChange>();
  /** a change that loosens enforcement was staged (or replaced by a newer one) */
  readonly onPolicyChangeStaged = this.policyChangeStaged.event;
  private connection: ConnectionState = { connected: false, reason: 'not looked for yet' };
  private stream?: EventStream;
  private poll?: NodeJS.Timeout;
  private disposed = false;

  constructor(private readonly output: vscode.LogOutputChannel) {}

  get home(): string {
    return resolveAirlockHome(vscode.workspace.getConfiguration('airlock').get<string>('home'));
  }

  get current(): ConnectionState {
    return this.connection;
  }

  /** Looks for the daemon now, then every few seconds until one answers. */
  async start(): Promise<void> {
    clearTimeout(this.poll);
    if (this.disposed) return;
    const found = await discoverDaemon(this.home);
    if (found.state === 'absent') {
      this.setDisconnected(found.reason);
      this.poll = setTimeout(() => void this.start(), 3_000);
      return;
    }
    const client = new DaemonClient(found.info);
    this.stream?.dispose();
    this.stream = new EventStream(found.info, {
      onEvent: (event) => this.onEvent(event),
      onConnected: (resumed) => {
        this.connection = { connected: true, client };
        if (!resumed) void this.resync(client);
        this.notifyChanged();
      },
      onDisconnected: (reason) => {
        this.output.info(`Airlock: event stream interrupted: ${reason}`);
        // the daemon may have stopped for good: look for daemon.json again
        void discoverDaemon(this.home).then((again) => {
          if (again.state === 'absent' || again.info.pid !== found.info.pid) {
            this.stream?.dispose();
            this.stream = undefined;
            this.setDisconnected(again.state === 'absent' ? again.reason : 'the daemon restarted');
            void this.start();
          }
        });
      },
      onInvalid: (reason) => this.output.warn(`Airlock: ignored an event: ${reason}`),
    });
    this.stream.start();
  }

  /** The connected daemon's client, or an error saying in one sentence why there is none. */
  client(): DaemonClient {
    const current = this.connection;
    if (!current.connected) throw new DaemonRequestError(`Airlock daemon is not running (${current.reason}).`);
    return current.client;
  }

  /**
   * A recording's records in log order after seq `after`, page by page, at most `max` (the replay
   * of a very long session shows its beginning and says so).
   */
  async loadRecords(recordingId: string, max = 20_000, after = -1): Promise<{ records: RecordingRecord[]; truncated: boolean }> {
    const client = this.client();
    const records: RecordingRecord[] = [];
    for (;;) {
      const page = await client.records(recordingId, after, 1000);
      records.push(...page.records);
      if (page.nextAfter === null) return { records, truncated: false };
      if (records.length >= max) return { records: records.slice(0, max), truncated: true };
      after = page.nextAfter;
    }
  }

  /**
   * The recorded records of one action (its action, approval, outcome and result lines), newest
   * recording first. The actions people open are recent, so the tail of a log is read first and the
   * whole log only when the action is not there.
   */
  async loadActionRecords(action: Pick<Action, 'id' | 'sessionId'>): Promise<RecordingRecord[]> {
    const recordings = this.state.recordings().filter((r) => r.agentSessionId === action.sessionId);
    const mineIn = (records: RecordingRecord[]) => records.filter((r) => recordActionId(r) === action.id);
    for (const recording of recordings) {
      const tailStart = recording.records - RECENT_RECORDS;
      if (tailStart > 0) {
        const tail = mineIn((await this.loadRecords(recording.id, RECENT_RECORDS * 2, tailStart)).records);
        // the action line itself must be in the tail, not only its later lines
        if (tail.some((r) => r.type === 'action')) return tail;
      }
      const mine = mineIn((await this.loadRecords(recording.id, 200_000)).records);
      if (mine.length > 0) return mine;
    }
    return [];
  }

  private changeTimer?: NodeJS.Timeout;

  /**
   * Views, panels and routing re-render on this; an agent running thousands of statements a second
   * must not re-render the workbench as often, so changes are coalesced (at most one per 50 ms).
   * Approval requests and resolutions have their own events, fired at once.
   */
  private notifyChanged(): void {
    this.changeTimer ??= setTimeout(() => {
      this.changeTimer = undefined;
      if (!this.disposed) this.changed.fire();
    }, CHANGE_COALESCE_MS);
  }

  dispose(): void {
    clearTimeout(this.changeTimer);
    this.disposed = true;
    clearTimeout(this.poll);
    clearTimeout(this.recordingsRefresh);
    this.stream?.dispose();
    this.changed.dispose();
    this.approvalRequested.dispose();
    this.approvalResolved.dispose();
    this.policyChangeStaged.dispose();
  }

  private async resync(client: DaemonClient): Promise<void> {
    try {
      const [approvals, recordings, policyChange] = await Promise.all([client.approvals(), client.recordings(), client.pendingPolicyChange()]);
      this.state.reset({ pending: approvals.approvals, recordings: recordings.recordings, policyChange: policyChange.pending });
      for (const approval of approvals.approvals) this.approvalRequested.fire(approval);
      if (policyChange.pending) this.policyChangeStaged.fire(policyChange.pending);
      this.notifyChanged();
    } catch (err) {
      this.output.error(`Airlock: could not load the daemon's state: ${(err as Error).message}`);
    }
  }

  private recordingsRefresh?: NodeJS.Timeout;

  private onEvent(event: AirlockEvent): void {
    this.state.apply(event);
    // record counts grow with every action; the stream only announces opening and sealing
    if (event.type === 'action.completed' || event.type === 'action.result') this.scheduleRecordingsRefresh();
    if (event.type === 'approval.requested') this.approvalRequested.fire(event.data.approval);
    if (event.type === 'approval.resolved') this.approvalResolved.fire(event.data.approval);
    if (event.type === 'policy.staged') this.policyChangeStaged.fire(event.data.change);
    this.notifyChanged();
  }

  private scheduleRecordingsRefresh(): void {
    if (this.recordingsRefresh) return;
    this.recordingsRefresh = setTimeout(() => {
      this.recordingsRefresh = undefined;
      const current = this.connection;
      if (!current.connected) return;
      void current.client.recordings().then(
        ({ recordings }) => {
          this.state.setRecordings(recordings);
          this.notifyChanged();
        },
        (err: Error) => this.output.warn(`Airlock: could not refresh the sessions: ${err.message}`),
      );
    }, 1_000);
  }

  private setDisconnected(reason: string): void {
    const was = this.connection.connected;
    this.connection = { connected: false, reason };
    if (was) this.output.info(`Airlock: disconnected: ${reason}`);
    this.notifyChanged();
  }
}
