import type { TargetStatus } from '@airlock/shared';
import { isLoopbackHostName, upstreamUrlOf } from '@airlock/shared';

/**
 * The variables that route a terminal's database clients through the daemon: libpq's PG* and a
 * DATABASE_URL for drivers, pointing at the target's listener with the agent session's token as the
 * password. SSH, HTTP (API targets and the egress proxy) and Kubernetes routing follow below.
 */
export function postgresEnvironment(target: TargetStatus, token: string, user = 'agent'): Record<string, string> | undefined {
  if (target.target.protocol !== 'postgres' || target.state !== 'listening' || !target.address) return undefined;
  const colon = target.address.lastIndexOf(':');
  const host = target.address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = target.address.slice(colon + 1);
  const database = upstreamUrlOf(target.target).pathname.replace(/^\//, '') || 'postgres';
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  return {
    PGHOST: host,
    PGPORT: port,
    PGUSER: user,
    PGPASSWORD: token,
    PGDATABASE: database,
    // the listener serves TLS only when configured; clients must not insist on it otherwise
    PGSSLMODE: target.target.listen.tls ? 'require' : 'prefer',
    DATABASE_URL: `postgres://${encodeURIComponent(user)}:${encodeURIComponent(token)}@${hostInUrl}:${port}/${encodeURIComponent(database)}`,
  };
}

/** The target terminals are routed to: the one the setting names, else the first listening postgres target. */
export function defaultPostgresTarget(targets: TargetStatus[], preferred: string | undefined): TargetStatus | undefined {
  const listening = targets.filter((t) => t.target.protocol === 'postgres' && t.state === 'listening');
  return (preferred ? listening.find((t) => t.target.name === preferred) : undefined) ?? listening[0];
}

/** SSH targets the daemon is listening for: what "Open SSH terminal to target…" offers and what turns SSH routing on. */
export function sshTargets(targets: readonly TargetStatus[]): TargetStatus[] {
  return targets.filter((t) => t.target.protocol === 'ssh' && t.state === 'listening');
}

/** A word for a POSIX shell: single-quoted unless it is plainly safe. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The variables that route a terminal's ssh and git through the daemon: the path of the ssh config
 * the daemon wrote for the workspace's agent session (a Host block per SSH target, its key, the
 * daemon's host key pinned), and GIT_SSH_COMMAND using it. git runs GIT_SSH_COMMAND through a
 * shell, so the path is quoted for one. Plain `ssh` is not redirected (the user's own ssh keeps
 * working); `ssh -F "$AIRLOCK_SSH_CONFIG" TARGET` goes through Airlock.
 */
export function sshEnvironment(configPath: string): Record<string, string> {
  return { AIRLOCK_SSH_CONFIG: configPath, GIT_SSH_COMMAND: `ssh -F ${shellWord(configPath)}` };
}

/** host and port of a listener address as the daemon reports it ("127.0.0.1:8080", "[::1]:8080"). */
function splitAddress(address: string): { host: string; port: string } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: address.slice(colon + 1) };
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** `AIRLOCK_<TARGET>_URL`: the target's name upper-cased, every character outside A-Z and 0-9 as `_`. */
export function targetUrlVariable(name: string): string {
  return `AIRLOCK_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_URL`;
}

/** Listening HTTP API and egress targets: what turns HTTP routing on. */
export function httpTargets(targets: readonly TargetStatus[]): TargetStatus[] {
  return targets.filter((t) => (t.target.protocol === 'http' || t.target.protocol === 'egress') && t.state === 'listening' && t.address);
}

/** Loopback, which NO_PROXY always names: the daemon's listeners there (and the agent's own servers) are never proxied. */
export const LOOPBACK_NO_PROXY = ['127.0.0.1', 'localhost', '::1'];

/**
 * The variables that route a terminal's HTTP clients through the daemon.
 *
 * Egress (the first listening egress target): HTTPS_PROXY / HTTP_PROXY and their lowercase forms
 * (curl reads only `http_proxy` in lowercase; git, pip, npm and Python read either) pointing at the
 * listener with the agent session's token as the Basic password; NO_PROXY / no_proxy naming
 * loopback and every other listener of the daemon (by host:port when it is not on loopback), so
 * the agent's database, SSH and API-target traffic goes to its own listener, not through egress.
 *
 * API targets: `AIRLOCK_<TARGET>_URL=http://HOST:PORT` per listening http target (a second target
 * whose name maps to the same variable is left out rather than overwrite the first), and
 * AIRLOCK_TOKEN, the session token, for `Authorization: Bearer $AIRLOCK_TOKEN` (or Basic with it as
 * the password, as git does). Nothing when there is neither.
 */
export function httpEnvironment(targets: readonly TargetStatus[], token: string, user = 'agent'): Record<string, string> {
  const listening = targets.filter((t) => t.state === 'listening' && t.address);
  const env: Record<string, string> = {};
  // by name in code-unit order, the same whatever the locale: which of two clashing names wins does not move
  const api = listening.filter((t) => t.target.protocol === 'http').sort((a, b) => (a.target.name < b.target.name ? -1 : a.target.name > b.target.name ? 1 : 0));
  for (const t of api) {
    const variable = targetUrlVariable(t.target.name);
    if (variable in env) continue;
    const { host, port } = splitAddress(t.address!);
    env[variable] = `${t.target.listen.tls ? 'https' : 'http'}://${urlHost(host)}:${port}`;
  }
  const egress = listening.find((t) => t.target.protocol === 'egress');
  if (egress) {
    const { host, port } = splitAddress(egress.address!);
    const proxy = `http://${encodeURIComponent(user)}:${encodeURIComponent(token)}@${urlHost(host)}:${port}`;
    const others = listening
      .filter((t) => t !== egress)
      .map((t) => splitAddress(t.address!))
      .filter((a) => !isLoopbackHostName(a.host))
      .map((a) => `${urlHost(a.host)}:${a.port}`);
    const noProxy = [...new Set([...LOOPBACK_NO_PROXY, ...others])].join(',');
    Object.assign(env, { HTTPS_PROXY: proxy, HTTP_PROXY: proxy, https_proxy: proxy, http_proxy: proxy, NO_PROXY: noProxy, no_proxy: noProxy });
  }
  if (api.length > 0 || egress) env.AIRLOCK_TOKEN = token;
  return env;
}

/** Kubernetes targets the daemon is listening for: what turns KUBECONFIG routing on. */
export function kubernetesTargets(targets: readonly TargetStatus[]): TargetStatus[] {
  return targets.filter((t) => t.target.protocol === 'kubernetes' && t.state === 'listening');
}

/**
 * The variable that routes a terminal's kubectl (and client libraries, which read the same file)
 * through the daemon: the kubeconfig the daemon wrote for the workspace's agent session, one
 * context per Kubernetes target, its current context the first. The user's own kubeconfig is not
 * touched: a terminal opened before routing, or with KUBECONFIG unset, still reaches the clusters
 * directly with the user's credentials.
 */
export function kubernetesEnvironment(kubeconfigPath: string): Record<string, string> {
  return { KUBECONFIG: kubeconfigPath };
}
