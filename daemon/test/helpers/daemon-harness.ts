import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RunningDaemon } from './daemon-process.js';

/**
 * The steps every protocol's test harness takes around the real daemon process: write its config
 * with one target (and a policy), make agent sessions, read a session's records, wait for an
 * approval, run a client tool.
 */

/** Writes `config.yaml` with the one target and, when given, `policy.yaml` (none: the built-in default policy). */
export function writeDaemonConfig(home: string, target: Record<string, unknown>, policy?: string): void {
  writeFileSync(path.join(home, 'config.yaml'), `targets:\n  - ${JSON.stringify(target)}\n`);
  if (policy !== undefined) writeFileSync(path.join(home, 'policy.yaml'), policy);
}

/** Makes an agent session through the daemon's API; its token and id. */
export async function newAgentSession(daemon: RunningDaemon, name: string): Promise<{ token: string; id: string }> {
  const res = await daemon.api('POST', '/v1/agent-sessions', { name });
  if (res.status !== 201) throw new Error(`cannot create an agent session: ${JSON.stringify(res.json)}`);
  const json = res.json as { token: string; session: { id: string } };
  return { token: json.token, id: json.session.id };
}

export interface TargetStatusView {
  target: { name: string };
  state: string;
  error?: string;
}

/** The daemon's status of one target (listening, failed ...), undefined when it has none by that name. */
export async function targetStatus(daemon: RunningDaemon, name: string): Promise<TargetStatusView | undefined> {
  const statuses = (await daemon.api('GET', '/v1/targets')).json as { targets: TargetStatusView[] };
  return statuses.targets.find((t) => t.target.name === name);
}

/** Every record of the agent session's recordings, in the order they were written. */
export async function sessionRecords<R = Record<string, unknown>>(daemon: RunningDaemon, sessionId: string): Promise<R[]> {
  const listed = (await daemon.api('GET', '/v1/sessions')).json as { recordings: { id: string; agentSessionId: string }[] };
  const out: R[] = [];
  for (const recording of listed.recordings.filter((r) => r.agentSessionId === sessionId)) {
    const page = (await daemon.api('GET', `/v1/sessions/${recording.id}/records?limit=1000`)).json as { records: R[] };
    out.push(...page.records);
  }
  return out;
}

/** Waits for the first pending approval and returns its id. */
export async function pendingApproval(daemon: RunningDaemon, timeoutMs = 10_000): Promise<{ id: string; action: { summary: string } }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const approvals = ((await daemon.api('GET', '/v1/approvals')).json as { approvals: { id: string; status?: string; action: { summary: string } }[] }).approvals;
    const pending = approvals.find((a) => a.status === undefined || a.status === 'pending');
    if (pending) return pending;
    if (Date.now() > deadline) throw new Error('no approval became pending in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a client tool to completion, capturing its output. Never throws: a timeout kills it (the
 * code is then null). `env` is added to this process's environment; `input` goes to its stdin.
 */
export function runTool(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => (stderr += `${err.message}\n`));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input);
  });
}
