import * as vscode from 'vscode';
import type { Approval, RecordingSummary } from '@airlock/shared';
import type { AirlockController } from '../controller.js';
import type { CommandRegistry } from '../command-registry.js';
import type { ActivityEntry } from '../state/airlock-state.js';
import { ApprovalPanel } from './approval-panel.js';
import { MaskedResultPanel } from './masked-result-panel.js';
import { ReplayPanel } from './replay-panel.js';

/** The webview commands: approval details, an action's masked result, a session's replay. */
export function registerWebviews(commands: CommandRegistry, context: vscode.ExtensionContext, controller: AirlockController, output: vscode.LogOutputChannel): vscode.Disposable[] {
  const uri = context.extensionUri;
  const showApproval = (approval: Approval) => ApprovalPanel.show(uri, controller, output, controller.state.approval(approval.id) ?? approval);
  return [
    commands.register('airlock.showApproval', (approval: Approval) => showApproval(approval)),
    commands.register('airlock.showAction', (entry: ActivityEntry) => {
      const approval = entry.approval ? controller.state.approval(entry.approval.id) : undefined;
      if (approval?.status === 'pending') showApproval(approval);
      else MaskedResultPanel.show(uri, controller, output, entry.action);
    }),
    commands.register('airlock.openReplay', async (recording?: RecordingSummary) => {
      const chosen = recording ?? (await pickRecording(controller));
      if (chosen) ReplayPanel.show(uri, controller, output, chosen);
    }),
    { dispose: () => ApprovalPanel.disposeAll() },
  ];
}

async function pickRecording(controller: AirlockController): Promise<RecordingSummary | undefined> {
  const recordings = controller.state.recordings();
  if (recordings.length === 0) {
    void vscode.window.showInformationMessage('Airlock: no recorded agent sessions yet.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    recordings.map((r) => ({ label: r.agentSessionName, description: `${r.state} · ${r.actions} actions · ${new Date(r.startedAt).toLocaleString()}`, recording: r })),
    { title: 'Replay an agent session', placeHolder: 'Recorded agent sessions, newest first' },
  );
  return picked?.recording;
}
