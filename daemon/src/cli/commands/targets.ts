import type { Command } from 'commander';
import { PROTOCOLS, PendingPolicyChangeResponse, describeCredential, Target, TargetsResponse, parseWith } from '@airlock/shared';
import type { CredentialRef, LimitOverrides, Protocol, TargetStatus } from '@airlock/shared';
import { homePaths } from '../../config/paths.js';
import { addTarget, loadLocalConfig, removeTarget } from '../../config/local-config.js';
import { runningDaemon } from '../../daemon/daemon-info.js';
import { DaemonClient } from '../daemon-client.js';
import { CliError } from '../errors.js';
import { weakerThanDefault } from '../../proxies/postgres/upstream-settings.js';
import { checkCredentialFile } from '../../config/credential-file.js';
import { printJson, printTable } from '../output.js';
import type { CliContext } from '../context.js';

export function registerTargets(program: Command, ctx: CliContext): void {
  const target = program.command('target').description('manage targets: the systems agents reach through airlockd');

  target
    .command('add <name>')
    .description('add a target to the local config; a running daemon starts its listener')
    .requiredOption('--protocol <protocol>', `one of ${PROTOCOLS.join(', ')}`)
    .requiredOption('--upstream <url>', 'the real system, e.g. postgres://app@db.internal:5432/app (no password in it)')
    .requiredOption('--listen <host:port>', 'where agents connect, e.g. 127.0.0.1:6432')
    .option('--password-env <VAR>', 'the real password is in this environment variable of the daemon')
    .option('--password-file <file>', 'the real password is in this file')
    .option('--max-connections <n>', 'agent connections this target allows at once, over all agent sessions (limits.maxConnections; default: the daemon-wide limit)')
    .option('--max-connections-per-session <n>', 'connections one agent session may have open to this target (limits.maxConnectionsPerSession)')
    .action(async (name: string, opts: { protocol: string; upstream: string; listen: string; passwordEnv?: string; passwordFile?: string; maxConnections?: string; maxConnectionsPerSession?: string }) => {
      if (opts.passwordEnv && opts.passwordFile) throw new CliError('give --password-env or --password-file, not both');
      const credential: CredentialRef | undefined = opts.passwordEnv ? { env: opts.passwordEnv } : opts.passwordFile ? { file: opts.passwordFile } : undefined;
      const limits: LimitOverrides = {};
      if (opts.maxConnections !== undefined) limits.maxConnections = parseCount('--max-connections', opts.maxConnections);
      if (opts.maxConnectionsPerSession !== undefined) limits.maxConnectionsPerSession = parseCount('--max-connections-per-session', opts.maxConnectionsPerSession);
      if (limits.maxConnections !== undefined && limits.maxConnectionsPerSession !== undefined && limits.maxConnectionsPerSession > limits.maxConnections) {
        throw new CliError(`--max-connections-per-session ${limits.maxConnectionsPerSession} is above --max-connections ${limits.maxConnections}: one agent session cannot have more than the target allows`);
      }
      const candidate = {
        name,
        protocol: opts.protocol as Protocol,
        upstream: opts.upstream,
        listen: parseListen(opts.listen),
        ...(credential ? { credential } : {}),
        ...(Object.keys(limits).length > 0 ? { limits } : {}),
      };
      const valid = parseWith(Target, candidate, `target "${name}"`);
      for (const warning of securityWarnings(valid)) console.error(`warning: ${warning}`);
      const paths = homePaths(ctx.home());
      await addTarget(paths.config, valid);
      console.log(`added target "${name}" (${valid.protocol}) listening on ${valid.listen.host}:${valid.listen.port} -> ${valid.upstream}`);
      await reportDaemonPickup(ctx.home(), name);
    });

  target
    .command('list')
    .description('list targets (with listener state when the daemon runs)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const statuses = await targetStatuses(ctx.home());
      if (opts.json) return printJson({ targets: statuses });
      if (statuses.length === 0) return console.log('no targets; add one with "airlock target add NAME --protocol postgres --upstream URL --listen HOST:PORT"');
      printTable(
        ['NAME', 'PROTOCOL', 'LISTEN', 'UPSTREAM', 'CREDENTIAL', 'STATE'],
        statuses.map((s) => [
          s.target.name,
          s.target.protocol,
          s.address ?? `${s.target.listen.host}:${s.target.listen.port}`,
          s.target.upstream,
          s.target.credential ? describeCredential(s.target.credential) : '-',
          s.error ? `${s.state}: ${s.error}` : s.state,
        ]),
      );
    });

  target
    .command('remove <name>')
    .description('remove a target; a running daemon closes its listener')
    .action(async (name: string) => {
      await removeTarget(homePaths(ctx.home()).config, name);
      console.log(`removed target "${name}"`);
    });
}

/**
 * Settings weaker than Airlock's defaults, and a credential file the daemon will refuse: said when
 * the target is added, so a weaker setting is a choice made knowingly. A setting that cannot be
 * used at all is an error here, as it would be when the daemon loads the target.
 */
function securityWarnings(target: Target): string[] {
  const out: string[] = [];
  if (target.protocol === 'postgres') {
    try {
      out.push(...weakerThanDefault(target.name, target.upstream));
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  }
  if (target.credential && 'file' in target.credential) {
    try {
      checkCredentialFile(target.name, target.credential.file);
    } catch (err) {
      out.push(`${(err as Error).message}; airlockd refuses the target until then`);
    }
  }
  return out;
}

function parseCount(flag: string, text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) throw new CliError(`${flag} "${text}": expected a whole number above zero`);
  return Number(text);
}

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) throw new CliError(`--listen "${text}": expected HOST:PORT, such as 127.0.0.1:6432`);
  const port = Number(m[3]);
  if (port > 65535) throw new CliError(`--listen "${text}": port ${port} is above 65535`);
  return { host: (m[1] ?? m[2]) as string, port };
}

async function targetStatuses(home: string): Promise<TargetStatus[]> {
  const paths = homePaths(home);
  if (await runningDaemon(paths.daemonInfo)) {
    const client = await DaemonClient.connect(home);
    return (await client.get('/v1/targets', TargetsResponse)).targets;
  }
  const config = await loadLocalConfig(paths.config);
  return config.targets.map((t) => ({ target: t, state: 'stopped' as const }));
}

/** The daemon reloads config.yaml on its own; wait briefly so the user sees the listener's state. */
async function reportDaemonPickup(home: string, name: string): Promise<void> {
  if (!(await runningDaemon(homePaths(home).daemonInfo))) return;
  const client = await DaemonClient.connect(home);
  const deadline = Date.now() + 3_000;
  while (Date.now() < deadline) {
    const status = (await client.get('/v1/targets', TargetsResponse)).targets.find((t) => t.target.name === name);
    if (status) {
      console.log(`airlockd: target "${name}" ${status.state}${status.address ? ` on ${status.address}` : ''}${status.error ? `: ${status.error}` : ''}`);
      return;
    }
    const { pending } = await client.get('/v1/policy/pending', PendingPolicyChangeResponse);
    if (pending?.differences.some((d) => d.subject === `target ${name}`)) {
      console.log(`airlockd: a new target is a new path to a system, so it waits for confirmation: run "airlock policy apply" at a terminal, or confirm in VS Code`);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
