import os from 'node:os';
import type { Command } from 'commander';
import { ApprovalResponse, ApprovalsResponse, oneLineText, parseDuration, type Approval, type Grant } from '@airlock/shared';
import { DaemonClient } from '../daemon-client.js';
import { CliError } from '../errors.js';
import { printJson, relativeTime, tableLines, terminalWidth } from '../output.js';
import type { CliContext } from '../context.js';

export function registerApprovals(program: Command, ctx: CliContext): void {
  program
    .command('approvals')
    .description('list actions waiting for a human decision')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const client = await DaemonClient.connect(ctx.home());
      const { approvals, grants } = await client.get('/v1/approvals', ApprovalsResponse);
      if (opts.json) return printJson({ approvals, grants });
      for (const line of approvalsListing(approvals, grants, Date.now(), terminalWidth())) console.log(line);
    });

  program
    .command('approve <id>')
    .description('approve a held action')
    .option('--session', 'also let later actions of this agent session that match the same rule through')
    .option('--grant-ttl <duration>', 'with --session: how long the grant lasts (until the session ends when omitted)')
    .action(async (id: string, opts: { session?: boolean; grantTtl?: string }) => {
      if (opts.grantTtl && !opts.session) throw new CliError('--grant-ttl only applies with --session');
      if (opts.grantTtl) {
        try {
          parseDuration(opts.grantTtl);
        } catch (err) {
          throw new CliError(`--grant-ttl: ${(err as Error).message}`);
        }
      }
      const client = await DaemonClient.connect(ctx.home());
      const { approval } = await client.post(
        `/v1/approvals/${encodeURIComponent(id)}/approve`,
        { scope: opts.session ? 'session' : 'once', via: 'cli', by: whoami(), ...(opts.grantTtl ? { grantTtl: opts.grantTtl } : {}) },
        ApprovalResponse,
      );
      const grant = approval.resolution?.grantId ? `; grant ${approval.resolution.grantId} covers rule "${approval.ruleId}" for the rest of the session` : '';
      console.log(`approved ${approval.id}: ${actionText(approval)} on ${approval.action.target}${grant}`);
    });

  program
    .command('deny <id>')
    .description('deny a held action')
    .requiredOption('--reason <text>', 'why (the agent sees it)')
    .action(async (id: string, opts: { reason: string }) => {
      const client = await DaemonClient.connect(ctx.home());
      const { approval } = await client.post(`/v1/approvals/${encodeURIComponent(id)}/deny`, { reason: opts.reason, via: 'cli', by: whoami() }, ApprovalResponse);
      console.log(`denied ${approval.id}: ${actionText(approval)} on ${approval.action.target}`);
    });
}

/**
 * What `airlock approvals` prints: each pending approval with its whole summary (for SQL, every
 * statement with its class), wrapped under the ACTION column rather than cut, then the grants.
 * `width` is the terminal's; without one (a pipe, a file) lines are not wrapped.
 */
export function approvalsListing(approvals: readonly Approval[], grants: readonly Grant[], now: number, width?: number): string[] {
  const lines =
    approvals.length === 0
      ? ['no pending approvals']
      : tableLines(
          ['ID', 'TARGET', 'KIND', 'RULE', 'EXPIRES', 'ACTION'],
          approvals.map((a) => [a.id, a.action.target, a.action.kind, a.ruleId, relativeTime(a.expiresAt, now), oneLineText(a.action.summary)]),
          width,
        );
  if (grants.length > 0) {
    lines.push('', 'session grants');
    lines.push(
      ...tableLines(
        ['ID', 'SESSION', 'RULE', 'BY', 'EXPIRES'],
        grants.map((g) => [g.id, g.sessionId, g.ruleId, `${g.by} (${g.via})`, g.expiresAt ? relativeTime(g.expiresAt, now) : 'with the session']),
      ),
    );
  }
  return lines;
}

/** The decided action as its whole summary on one line: a message that cut it could hide the statement decided on. */
function actionText(approval: Approval): string {
  return oneLineText(approval.action.summary);
}

function whoami(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}
