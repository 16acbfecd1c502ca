import type { TargetStatus } from '@airlock/shared';
import { upstreamUrlOf } from '@airlock/shared';

/**
 * The variables that route a terminal's database clients through the daemon: libpq's PG* and a
 * DATABASE_URL for drivers, pointing at the target's listener with the agent session's token as the
 * password. SSH and Kubernetes routing follow below; HTTP proxy variables are left to the user.
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
