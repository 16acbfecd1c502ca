import type { TargetStatus } from '@airlock/shared';

/**
 * The variables that route a terminal's database clients through the daemon: libpq's PG* and a
 * DATABASE_URL for drivers, pointing at the target's listener with the agent session's token as the
 * password. The design leaves room for KUBECONFIG, SSH config and HTTP proxy variables per protocol.
 */
export function postgresEnvironment(target: TargetStatus, token: string, user = 'agent'): Record<string, string> | undefined {
  if (target.target.protocol !== 'postgres' || target.state !== 'listening' || !target.address) return undefined;
  const colon = target.address.lastIndexOf(':');
  const host = target.address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = target.address.slice(colon + 1);
  const database = new URL(target.target.upstream).pathname.replace(/^\//, '') || 'postgres';
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
