import type { Command } from 'commander';
import { PROTOCOLS, PendingPolicyChangeResponse, describeCredential, describeUpstream, upstreamUrlOf, Target, TargetsResponse, parseWith } from '@airlock/shared';
import type { CredentialRef, LimitOverrides, Protocol, TargetStatus } from '@airlock/shared';
import { homePaths } from '../../config/paths.js';
import { addTarget, loadLocalConfig, removeTarget, updateLocalConfig } from '../../config/local-config.js';
import { runningDaemon } from '../../daemon/daemon-info.js';
import { DaemonClient } from '../daemon-client.js';
import { httpOptionsGiven, httpTargetFields, type HttpTargetOptions } from '../http-target.js';
import { CliError } from '../errors.js';
import { weakerThanDefault } from '../../proxies/postgres/upstream-settings.js';
import { checkCredentialFile } from '../../config/credential-file.js';
import { HOST_KEY_FINGERPRINT, type SshTargetOptions, sshCredentialAndPin, sshTargetWarnings } from '../ssh-target.js';
import { printJson, printTable } from '../output.js';
import { kubernetesOptionsGiven, kubernetesTargetFields, type KubernetesTargetOptions } from '../kubernetes-target.js';
import type { CliContext } from '../context.js';

export function registerTargets(program: Command, ctx: CliContext): void {
  const target = program.command('target').description('manage targets: the systems agents reach through airlockd');

  target
    .command('add <name>')
    .description('add a target to the local config; a running daemon starts its listener')
    .requiredOption('--protocol <protocol>', `one of ${PROTOCOLS.join(', ')}`)
    .option('--upstream <url>', 'the real system, e.g. postgres://app@db.internal:5432/app, ssh://deploy@build.internal:22 or https://api.github.com (no password in it); egress targets have none')
    .requiredOption('--listen <host:port>', 'where agents connect, e.g. 127.0.0.1:6432')
    .option('--password-env <VAR>', 'postgres: the real password is in this environment variable of the daemon')
    .option('--password-file <file>', 'postgres: the real password is in this file')
    .option('--key-file <file>', 'ssh: the private key airlockd logs in with (mode 0600, no passphrase)')
    .option('--key-env <VAR>', 'ssh: the private key is in this environment variable of the daemon')
    .option('--agent-socket <path>', 'ssh: sign with a key held by the ssh-agent at this socket')
    .option('--host-key <SHA256:...>', 'ssh: pin the upstream host key by its fingerprint (ssh-keygen -lf on the host\'s key)')
    .option('--known-hosts <file>', 'ssh: pin the upstream host key by a known_hosts file that names the host')
    .option('--auth <how>', 'http: present the secret upstream as bearer (Authorization: Bearer), basic (user from the upstream URL or "user:" in the secret) or header:NAME', undefined)
    .option('--secret-env <VAR>', 'http: the real API token or password is in this environment variable of the daemon')
    .option('--secret-file <file>', 'http: the real API token or password is in this file (mode 0600)')
    .option('--ca-file <file>', 'http, kubernetes: PEM certificate authorities that sign the upstream\'s certificate (it is always verified)')
    .option('--kubeconfig <file>', 'kubernetes: the kubeconfig airlockd reads the server, its CA and the credential from')
    .option('--context <name>', 'kubernetes: the kubeconfig context to use (default: its current-context)')
    .option('--token-env <VAR>', 'kubernetes (with --upstream): the bearer token is in this environment variable of the daemon')
    .option('--token-file <file>', 'kubernetes (with --upstream): the bearer token is in this file (mode 0600)')
    .option('--plaintext', 'http: accept a plain http:// upstream on a loopback address (whatever binds that port receives the credential)')
    .option('--graphql-path <glob>', 'http: a request path that serves GraphQL (repeatable; default **/graphql)', collect)
    .option('--allow-host <host[:port]>', 'egress: a host agents reach without asking (repeatable; globs such as *.npmjs.org)', collect)
    .option('--max-connections <n>', 'agent connections this target allows at once, over all agent sessions (limits.maxConnections; default: the daemon-wide limit)')
    .option('--max-connections-per-session <n>', 'connections one agent session may have open to this target (limits.maxConnectionsPerSession)')
    .action(async (name: string, opts: { protocol: string; upstream?: string; listen: string; passwordEnv?: string; passwordFile?: string; maxConnections?: string; maxConnectionsPerSession?: string } & SshTargetOptions & HttpTargetOptions & KubernetesTargetOptions) => {
      let credential: CredentialRef | undefined;
      let pin: { hostKey?: string; knownHosts?: string } = {};
      let http: Partial<Target> = {};
      if (opts.protocol !== 'kubernetes') {
        const kubernetesOnly = kubernetesOptionsGiven(opts);
        if (kubernetesOnly.length > 0) throw new CliError(`${kubernetesOnly.join(', ')} apply to kubernetes targets only`);
      }
      if (opts.protocol !== 'http' && opts.protocol !== 'egress' && opts.protocol !== 'kubernetes') {
        const httpOnly = httpOptionsGiven(opts);
        if (httpOnly.length > 0) throw new CliError(`${httpOnly.join(', ')} apply to http and egress targets only`);
      }
      if (opts.protocol === 'http' || opts.protocol === 'egress') {
        if (opts.passwordEnv || opts.passwordFile) throw new CliError(`an ${opts.protocol} target takes --secret-env / --secret-file, not --password-env / --password-file`);
        http = httpTargetFields(opts.protocol, opts);
      } else if (opts.protocol === 'kubernetes') {
        if (opts.passwordEnv || opts.passwordFile) throw new CliError('a kubernetes target takes --kubeconfig, or --token-env / --token-file with --upstream, not --password-env / --password-file');
        http = kubernetesTargetFields(opts);
      } else if (opts.protocol === 'ssh') {
        if (opts.passwordEnv || opts.passwordFile) throw new CliError('an ssh target logs in with a key: give --key-file, --key-env or --agent-socket instead of --password-env / --password-file');
        ({ credential, pin } = sshCredentialAndPin(name, opts));
      } else {
        const sshOnly = (['keyFile', 'keyEnv', 'agentSocket', 'hostKey', 'knownHosts'] as const).filter((k) => opts[k] !== undefined);
        if (sshOnly.length > 0) throw new CliError(`${sshOnly.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} apply to ssh targets only`);
        if (opts.passwordEnv && opts.passwordFile) throw new CliError('give --password-env or --password-file, not both');
        credential = opts.passwordEnv ? { env: opts.passwordEnv } : opts.passwordFile ? { file: opts.passwordFile } : undefined;
      }
      const limits: LimitOverrides = {};
      if (opts.maxConnections !== undefined) limits.maxConnections = parseCount('--max-connections', opts.maxConnections);
      if (opts.maxConnectionsPerSession !== undefined) limits.maxConnectionsPerSession = parseCount('--max-connections-per-session', opts.maxConnectionsPerSession);
      if (limits.maxConnections !== undefined && limits.maxConnectionsPerSession !== undefined && limits.maxConnectionsPerSession > limits.maxConnections) {
        throw new CliError(`--max-connections-per-session ${limits.maxConnectionsPerSession} is above --max-connections ${limits.maxConnections}: one agent session cannot have more than the target allows`);
      }
      const candidate = {
        name,
        protocol: opts.protocol as Protocol,
        ...(opts.upstream !== undefined ? { upstream: opts.upstream } : {}),
        listen: parseListen(opts.listen),
        ...(credential ? { credential } : {}),
        ...pin,
        ...http,
        ...(Object.keys(limits).length > 0 ? { limits } : {}),
      };
      const valid = parseWith(Target, candidate, `target "${name}"`);
      for (const warning of securityWarnings(valid)) console.error(`warning: ${warning}`);
      const paths = homePaths(ctx.home());
      await addTarget(paths.config, valid);
      console.log(`added target "${name}" (${valid.protocol}) listening on ${valid.listen.host}:${valid.listen.port} -> ${describeUpstream(valid)}`);
      await reportDaemonPickup(ctx.home(), name);
    });

  target
    .command('pin <name> <fingerprint>')
    .description('pin an ssh target\'s upstream host key (SHA256:…, as its first connection or ssh-keygen -lf prints it); replaces a known_hosts pin')
    .action(async (name: string, fingerprint: string) => {
      const paths = homePaths(ctx.home());
      let previous: { hostKey?: string; knownHosts?: string } = {};
      await updateLocalConfig(paths.config, (raw) => {
        const targets = Array.isArray(raw.targets) ? (raw.targets as Record<string, unknown>[]) : [];
        const found = targets.find((t) => t.name === name);
        if (!found) throw new CliError(`no target named "${name}" in ${paths.config}`);
        if (found.protocol !== 'ssh') throw new CliError(`target "${name}" is a ${String(found.protocol)} target; only ssh targets have host keys to pin`);
        if (!HOST_KEY_FINGERPRINT.test(fingerprint)) throw new CliError(`"${fingerprint}" is not a host key fingerprint: expected SHA256: and 43 base64 characters, as ssh-keygen -lf prints it`);
        previous = { ...(typeof found.hostKey === 'string' ? { hostKey: found.hostKey } : {}), ...(typeof found.knownHosts === 'string' ? { knownHosts: found.knownHosts } : {}) };
        found.hostKey = fingerprint;
        // one pin: the fingerprint a person checked, not also whatever the file lists
        delete found.knownHosts;
      });
      if (previous.hostKey === fingerprint && previous.knownHosts === undefined) return console.log(`target "${name}" was already pinned to ${fingerprint}`);
      console.log(`pinned target "${name}" to upstream host key ${fingerprint}${previous.hostKey ? ` (was ${previous.hostKey})` : previous.knownHosts ? ` (was the keys in ${previous.knownHosts})` : ''}`);
      if (previous.hostKey !== undefined || previous.knownHosts !== undefined) {
        // trusting another key may let someone in the middle in: the daemon stages it for a person
        if (await runningDaemon(paths.daemonInfo)) console.log('airlockd: a changed pin trusts a different key, so it waits for confirmation: run "airlock policy apply" at a terminal, or confirm in VS Code');
      }
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
          describeUpstream(s.target),
          [s.target.credential ? describeCredential(s.target.credential) : '-', ...(s.target.protocol === 'ssh' ? [hostKeyPinText(s.target)] : [])].join('; '),
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
      out.push(...weakerThanDefault(target.name, upstreamUrlOf(target).href));
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
  if (target.protocol === 'ssh') out.push(...sshTargetWarnings(target));
  return out;
}

/** An ssh target's pin in the list: unpinned targets connect nowhere until pinned. */
function hostKeyPinText(target: Target): string {
  if (target.hostKey !== undefined) return `host key ${target.hostKey}`;
  if (target.knownHosts !== undefined) return `host keys in ${target.knownHosts}`;
  return 'host key not pinned (airlock target pin)';
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

/** commander: a repeatable option's values, in order. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
