import * as vscode from 'vscode';
import type { Approval, RecordingSummary } from '@airlock/shared';
import type { AirlockController } from '../controller.js';
import { activityItem, approvalItem, type TreeItemModel } from '../state/view-models.js';
import type { ActivityEntry } from '../state/airlock-state.js';
import { IntegrityMonitor } from '../integrity.js';
import { integrityLabel } from '../state/timeline.js';

function toTreeItem(model: TreeItemModel): vscode.TreeItem {
  const item = new vscode.TreeItem(model.label, vscode.TreeItemCollapsibleState.None);
  item.id = model.id;
  item.description = model.description;
  item.tooltip = model.tooltip;
  item.iconPath = new vscode.ThemeIcon(model.icon);
  item.contextValue = model.contextValue;
  return item;
}

/** Base for the three views: re-rendered when the controller says something changed. */
abstract class AirlockTree<T> implements vscode.TreeDataProvider<T>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<T | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly subscription: vscode.Disposable;

  constructor(protected readonly controller: AirlockController) {
    this.subscription = controller.onDidChange(() => this.emitter.fire(undefined));
  }

  abstract getTreeItem(element: T): vscode.TreeItem;
  abstract getChildren(): T[];

  refresh(): void {
    this.emitter.fire(undefined);
  }

  dispose(): void {
    this.subscription.dispose();
    this.emitter.dispose();
  }
}

export class PendingApprovalsTree extends AirlockTree<Approval> {
  getChildren(): Approval[] {
    return this.controller.state.pending();
  }
  getTreeItem(approval: Approval): vscode.TreeItem {
    const item = toTreeItem(approvalItem(approval, Date.now()));
    return item;
  }
}

export class ActivityTree extends AirlockTree<ActivityEntry> {
  getChildren(): ActivityEntry[] {
    return this.controller.state.activity();
  }
  getTreeItem(entry: ActivityEntry): vscode.TreeItem {
    const item = toTreeItem(activityItem(entry));
    return item;
  }
}

export class SessionsTree extends AirlockTree<RecordingSummary> {
  private readonly integritySubscription: vscode.Disposable;

  constructor(
    controller: AirlockController,
    private readonly integrity: IntegrityMonitor,
  ) {
    super(controller);
    this.integritySubscription = integrity.onDidChange(() => this.refresh());
  }

  override dispose(): void {
    this.integritySubscription.dispose();
    super.dispose();
  }

  getChildren(): RecordingSummary[] {
    return this.controller.state.recordings();
  }
  getTreeItem(recording: RecordingSummary): vscode.TreeItem {
    const item = new vscode.TreeItem(recording.agentSessionName, vscode.TreeItemCollapsibleState.None);
    const integrity = integrityLabel(this.integrity.get(recording));
    item.id = recording.id;
    item.description = `${recording.state}${recording.sealReason ? ` (${recording.sealReason})` : ''} · ${recording.records} records · ${integrity.ok === false ? 'TAMPERED' : integrity.ok ? 'verified' : 'checking…'}`;
    item.tooltip = `${recording.id}\nstarted ${recording.startedAt}${recording.endedAt ? `\nended ${recording.endedAt}` : ''}\n${integrity.text}`;
    item.iconPath =
      integrity.ok === false
        ? new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'))
        : new vscode.ThemeIcon(recording.state === 'sealed' ? 'lock' : recording.state === 'open' ? 'record' : 'warning');
    item.contextValue = 'airlock.recording';
    return item;
  }
}

/** Registers the views of the Airlock activity-bar container. */
export function registerViews(controller: AirlockController): vscode.Disposable[] {
  const pending = new PendingApprovalsTree(controller);
  const activity = new ActivityTree(controller);
  const integrity = new IntegrityMonitor(controller);
  const sessions = new SessionsTree(controller, integrity);
  // time left on pending approvals moves even when nothing else does
  const ticker = setInterval(() => {
    if (controller.state.pending().length > 0) pending.refresh();
  }, 1_000);
  return [
    pending,
    activity,
    sessions,
    integrity,
    openOnSelect('airlock.approvals', pending, 'airlock.showApproval'),
    openOnSelect('airlock.activity', activity, 'airlock.showAction'),
    openOnSelect('airlock.sessions', sessions, 'airlock.openReplay'),
    { dispose: () => clearInterval(ticker) },
  ];
}

/**
 * A view whose selected item opens its panel. Selection, not TreeItem.command: the views refresh as
 * the daemon's events arrive, and a click on an item's command while its row is re-rendered fails
 * in VS Code ("Actual command not found"); a selection always reaches us.
 */
function openOnSelect<T>(id: string, provider: vscode.TreeDataProvider<T>, command: string): vscode.Disposable {
  const view = vscode.window.createTreeView(id, { treeDataProvider: provider });
  const subscription = view.onDidChangeSelection((e) => {
    const [selected] = e.selection;
    if (selected !== undefined && e.selection.length === 1) void vscode.commands.executeCommand(command, selected);
  });
  return vscode.Disposable.from(subscription, view);
}
