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

  /** run when an item is clicked (set by the view's registration) */
  itemCommand?: vscode.Command;

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
    item.command = this.itemCommand;
    return item;
  }
}

export class ActivityTree extends AirlockTree<ActivityEntry> {
  getChildren(): ActivityEntry[] {
    return this.controller.state.activity();
  }
  getTreeItem(entry: ActivityEntry): vscode.TreeItem {
    const item = toTreeItem(activityItem(entry));
    item.command = this.itemCommand;
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
    item.command = this.itemCommand;
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
    openOnClick('airlock.approvals', pending, 'airlock.showApproval'),
    openOnClick('airlock.activity', activity, 'airlock.showAction'),
    openOnClick('airlock.sessions', sessions, 'airlock.openReplay'),
    { dispose: () => clearInterval(ticker) },
  ];
}

/**
 * A view whose items open their panel when clicked (again and again, unlike a selection change).
 * The items' command carries no arguments and reads the view's selection: VS Code keeps a command
 * with arguments in a cache that a refresh clears, and the views refresh as the daemon's events
 * arrive, so a click during one failed with "Actual command not found".
 */
function openOnClick<T>(id: string, provider: AirlockTree<T>, command: string): vscode.Disposable {
  const view = vscode.window.createTreeView(id, { treeDataProvider: provider });
  const open = `${id}.openSelected`;
  provider.itemCommand = { command: open, title: 'Open' };
  const registration = vscode.commands.registerCommand(open, () => {
    const [selected] = view.selection;
    if (selected !== undefined) void vscode.commands.executeCommand(command, selected);
  });
  return vscode.Disposable.from(registration, view);
}
