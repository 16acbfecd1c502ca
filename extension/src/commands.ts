import * as vscode from 'vscode';
import os from 'node:os';
import { spawn } from 'node:child_process';
import type { Approval, ApprovalScope } from '@airlock/shared';
import type { AirlockController } from './controller.js';
import type { CommandRegistry } from './command-registry.js';
import { actionHeadline, approvalOutcome } from './state/view-models.js';

/** Messages name the action by its statements, never by a head of text that could hide one. */
const MESSAGE_ACTION_CHARS = 160;

function approver(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'vscode';
  }
}

async function report<T>(what: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (err) {
    // 409: someone decided first; say so in one sentence rather than as a failure
    void vscode.window.showErrorMessage(`Airlock: ${what}: ${(err as Error).message}`);
    return undefined;
  }
}

/** A prompt clicked after the action was decided elsewhere (CLI, timeout, another window): say how it went. */
function alreadyDecided(controller: AirlockController, approval: Approval): boolean {
  const current = controller.state.approval(approval.id);
  if (!current || current.status === 'pending') return false;
  void vscode.window.showInformationMessage(`Airlock: "${actionHeadline(approval.action, MESSAGE_ACTION_CHARS)}" was already ${approvalOutcome(current)}.`);
  return true;
}

export async function approveAction(controller: AirlockController, approval: Approval, scope: ApprovalScope): Promise<void> {
  if (alreadyDecided(controller, approval)) return;
  await report(`approving "${actionHeadline(approval.action, MESSAGE_ACTION_CHARS)}"`, () => controller.client().approve(approval.id, { scope, by: approver(), via: 'extension' }));
}

/** Denies with `reason`, or asks for one. */
export async function denyAction(controller: AirlockController, approval: Approval, given?: string): Promise<void> {
  if (alreadyDecided(controller, approval)) return;
  const reason = given ?? await vscode.window.showInputBox({
    title: 'Deny the agent\'s action',
    prompt: `Why? The agent sees this reason. (${actionHeadline(approval.action, MESSAGE_ACTION_CHARS)})`,
    validateInput: (text) => (text.trim() === '' ? 'A reason is required' : undefined),
    ignoreFocusOut: true,
  });
  if (reason === undefined) return;
  await report(`denying "${actionHeadline(approval.action, MESSAGE_ACTION_CHARS)}"`, () => controller.client().deny(approval.id, { reason, by: approver(), via: 'extension' }));
}

/** Commands of the extension; each is listed in package.json's contributes.commands. */
export function registerCommands(commands: CommandRegistry, controller: AirlockController): vscode.Disposable[] {
  return [
    commands.register('airlock.approve', (approval: Approval) => approveAction(controller, approval, 'once')),
    commands.register('airlock.approveForSession', (approval: Approval) => approveAction(controller, approval, 'session')),
    commands.register('airlock.deny', (approval: Approval) => denyAction(controller, approval)),
    commands.register('airlock.refresh', () => controller.start()),
    commands.register('airlock.startDaemon', () => startDaemon(controller)),
    commands.register('airlock.openPolicy', async () => {
      const policy = await report('loading the effective policy', () => controller.client().policy());
      if (!policy) return;
      const doc = await vscode.workspace.openTextDocument({ language: 'json', content: JSON.stringify(policy, null, 2) });
      await vscode.window.showTextDocument(doc, { preview: true });
    }),
  ];
}

/** Runs `airlock up --detach` (the command from the `airlock.command` setting) and reconnects. */
async function startDaemon(controller: AirlockController): Promise<void> {
  const command = vscode.workspace.getConfiguration('airlock').get<string>('command', 'airlock');
  const [bin, ...args] = command.split(/\s+/).filter(Boolean);
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Starting the Airlock daemon…' }, async () => {
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(bin!, [...args, '--home', controller.home, 'up', '--detach'], { env: process.env });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.on('error', (err) => resolve({ code: -1, output: err.message }));
      child.on('close', (code) => resolve({ code, output }));
    });
    if (result.code !== 0) {
      void vscode.window.showErrorMessage(`Airlock: could not start the daemon with "${command}": ${result.output.trim().split('\n').pop() ?? 'no output'}`);
      return;
    }
    await controller.start();
  });
}
