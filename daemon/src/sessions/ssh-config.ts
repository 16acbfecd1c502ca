import type { AgentSession, SshConfigResponse, TargetStatus } from '@airlock/shared';
import { upstreamUrlOf } from '@airlock/shared';
import type { HomePaths } from '../config/paths.js';
import { writeFileAtomic } from '../config/files.js';
import { sessionKeyPath, type HostKey } from './ssh-identity.js';

/**
 * The OpenSSH client config `airlock ssh-config` writes for an agent session: one `Host` block per
 * SSH target, so `ssh -F FILE TARGET` reaches the target's listener, logs in with the session's key
 * and accepts no host key but the daemon's. Rendering is pure; writeSshConfig puts the files in place.
 */

/** One SSH listener as the agent's ssh client reaches it. */
export interface SshConfigHost {
  /** the Host alias: the target's name */
  alias: string;
  /** where to connect: a loopback address, never a wildcard */
  hostName: string;
  port: number;
  /** the upstream's user, when the target names one */
  user?: string;
}

/** Why a target has no block (not listening on a known port): said in the file as a comment. */
export interface SkippedHost {
  alias: string;
  reason: string;
}

/**
 * `[127.0.0.1]:2222`, as ssh looks a host up in known_hosts: bracketed with the port unless it is 22.
 */
export function knownHostsName(hostName: string, port: number): string {
  return port === 22 ? hostName : `[${hostName}]:${port}`;
}

/** One known_hosts line per listener, all pinning the daemon's host key. */
export function renderKnownHosts(hosts: readonly SshConfigHost[], hostKey: Pick<HostKey, 'publicKeyOpenSsh'>): string {
  const names = [...new Set(hosts.map((h) => knownHostsName(h.hostName, h.port)))];
  return names.map((name) => `${name} ${hostKey.publicKeyOpenSsh}\n`).join('');
}

/**
 * A path as an ssh_config argument: quoted (paths may hold spaces) with `%` doubled, since ssh expands
 * %-tokens in IdentityFile and UserKnownHostsFile. A double quote cannot be written in ssh_config.
 */
export function configPath(file: string): string {
  if (/["\r\n]/.test(file)) throw new Error(`the path ${JSON.stringify(file)} cannot be written in an ssh config: it holds a double quote or a line break`);
  return `"${file.replace(/%/g, '%%')}"`;
}

export function renderSshConfig(input: {
  session: Pick<AgentSession, 'id' | 'name'>;
  hosts: readonly SshConfigHost[];
  skipped?: readonly SkippedHost[];
  identityFile: string;
  knownHostsFile: string;
  hostKeyFingerprint: string;
}): string {
  const comment = (text: string) => `# ${text.replace(/[\r\n]+/g, ' ')}\n`;
  let out = '';
  out += comment(`Written by "airlock ssh-config" for agent session ${input.session.id} "${input.session.name}".`);
  // no path of its own: the CLI may write the same text elsewhere (--out)
  out += comment('Use: ssh -F THIS_FILE TARGET (git: GIT_SSH_COMMAND="ssh -F THIS_FILE").');
  out += comment(`Logs in with the session's key and trusts only airlockd's host key ${input.hostKeyFingerprint}.`);
  for (const skipped of input.skipped ?? []) out += comment(`target ${skipped.alias}: no Host block: ${skipped.reason}`);
  // OpenSSH before 8.5 does not know PubkeyAcceptedAlgorithms and would refuse the whole file
  out += 'IgnoreUnknown PubkeyAcceptedAlgorithms\n';
  for (const host of input.hosts) {
    out += '\n';
    out += `Host ${host.alias}\n`;
    const set = (key: string, value: string) => {
      out += `  ${key} ${value}\n`;
    };
    set('HostName', host.hostName);
    set('Port', String(host.port));
    if (host.user !== undefined) set('User', host.user);
    set('IdentityFile', configPath(input.identityFile));
    // only the session's key: never the user's own keys or an ssh-agent's
    set('IdentitiesOnly', 'yes');
    set('IdentityAgent', 'none');
    set('PubkeyAuthentication', 'yes');
    set('PubkeyAcceptedAlgorithms', 'ssh-ed25519');
    set('PasswordAuthentication', 'no');
    set('KbdInteractiveAuthentication', 'no');
    // the daemon's key and nothing else; ssh must not learn or rotate keys into the file
    set('UserKnownHostsFile', configPath(input.knownHostsFile));
    set('GlobalKnownHostsFile', '/dev/null');
    set('StrictHostKeyChecking', 'yes');
    set('HostKeyAlgorithms', 'ssh-ed25519');
    set('UpdateHostKeys', 'no');
    set('CheckHostIP', 'no');
    // the user's agent and display stay with the user
    set('ForwardAgent', 'no');
    set('ForwardX11', 'no');
  }
  return out;
}

/** Where the agent's ssh client reaches a listener bound to `address` (host:port, IPv6 bracketed). */
export function clientAddress(address: string): { hostName: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  if (!m) return undefined;
  let hostName = (m[1] ?? m[2]) as string;
  // a wildcard bind is reached through loopback
  if (hostName === '0.0.0.0') hostName = '127.0.0.1';
  else if (hostName === '::' || hostName === '::0') hostName = '::1';
  return { hostName, port: Number(m[3]) };
}

/** A user name ssh_config can carry as it is; anything else is left to the agent's `ssh USER@TARGET`. */
const PLAIN_USER = /^[A-Za-z0-9._][A-Za-z0-9._@-]*$/;

/** The SSH targets the session may use, as hosts, and those without a known port. */
export function sshHostsFor(session: Pick<AgentSession, 'targets'>, statuses: readonly TargetStatus[]): { hosts: SshConfigHost[]; skipped: SkippedHost[] } {
  const hosts: SshConfigHost[] = [];
  const skipped: SkippedHost[] = [];
  for (const status of statuses) {
    const target = status.target;
    if (target.protocol !== 'ssh') continue;
    if (session.targets !== null && !session.targets.includes(target.name)) continue;
    const where = status.state === 'listening' && status.address ? clientAddress(status.address) : target.listen.port !== 0 ? clientAddress(`${target.listen.host.includes(':') ? `[${target.listen.host}]` : target.listen.host}:${target.listen.port}`) : undefined;
    if (where === undefined) {
      skipped.push({ alias: target.name, reason: `it is ${status.state}${status.error ? ` (${status.error})` : ''} and its port is chosen at start` });
      continue;
    }
    const user = decodeURIComponent(upstreamUrlOf(target).username);
    hosts.push({ alias: target.name, ...where, ...(user !== '' && PLAIN_USER.test(user) ? { user } : {}) });
  }
  return { hosts, skipped };
}

/**
 * Writes the session's config (<data dir>/ssh/sessions/<id>.config) and the shared known_hosts file
 * (every SSH listener, pinned to the daemon's host key), both 0600.
 */
export async function writeSshConfig(input: {
  paths: Pick<HomePaths, 'sshSessionKeys' | 'sshKnownHosts'>;
  session: AgentSession;
  identityFile: string;
  hostKey: HostKey;
  targets: readonly TargetStatus[];
}): Promise<SshConfigResponse> {
  const { hosts, skipped } = sshHostsFor(input.session, input.targets);
  // known_hosts names every SSH listener, so configs of other sessions keep working when it is rewritten
  const everyHost = sshHostsFor({ targets: null }, input.targets).hosts;
  const knownHosts = renderKnownHosts(everyHost, input.hostKey);
  const configFile = `${sessionKeyPath(input.paths.sshSessionKeys, input.session.id)}.config`;
  const config = renderSshConfig({
    session: input.session,
    hosts,
    skipped,
    identityFile: input.identityFile,
    knownHostsFile: input.paths.sshKnownHosts,
    hostKeyFingerprint: input.hostKey.fingerprint,
  });
  await writeFileAtomic(input.paths.sshKnownHosts, knownHosts, 0o600);
  await writeFileAtomic(configFile, config, 0o600);
  return {
    path: configFile,
    knownHostsPath: input.paths.sshKnownHosts,
    identityFile: input.identityFile,
    hosts: hosts.map((h) => h.alias),
    config,
    knownHosts,
    hostKeyFingerprint: input.hostKey.fingerprint,
  };
}
