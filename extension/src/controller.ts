import * as vscode from 'vscode';
import type { AirlockEvent, Approval } from '@airlock/shared';
import { discoverDaemon, resolveAirlockHome } from './daemon/discovery.js';
import { DaemonClient } from './daemon/client.js';
import { EventStream } from './daemon/event-stream.js';
import { AirlockState } from './state/airlock-state.js';

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
        this.changed.fire();
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

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.poll);
    clearTimeout(this.recordingsRefresh);
    this.stream?.dispose();
    this.changed.dispose();
    this.approvalRequested.dispose();
    this.approvalResolved.dispose();
  }

  private async resync(client: DaemonClient): Promise<void> {
    try {
      const [approvals, recordings] = await Promise.all([client.approvals(), client.recordings()]);
      this.state.reset({ pending: approvals.approvals, recordings: recordings.recordings });
      for (const approval of approvals.approvals) this.approvalRequested.fire(approval);
      this.changed.fire();
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
    this.changed.fire();
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
          this.changed.fire();
        },
        (err: Error) => this.output.warn(`Airlock: could not refresh the sessions: ${err.message}`),
      );
    }, 1_000);
  }

  private setDisconnected(reason: string): void {
    const was = this.connection.connected;
    this.connection = { connected: false, reason };
    if (was) this.output.info(`Airlock: disconnected: ${reason}`);
    this.changed.fire();
  }
}
