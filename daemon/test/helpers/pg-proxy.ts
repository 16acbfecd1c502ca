import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import pg from 'pg';
import { startDaemon, tempHome, type RunningDaemon } from './daemon-process.js';
import { freePort } from './pg-cluster.js';

/** The machine's PostgreSQL (trust auth on 127.0.0.1:5432), the real server behind the proxy in tests. */
export const MACHINE_PG = { host: '127.0.0.1', port: 5432, user: 'postgres' };

export function psqlDirect(database: string, sql: string): string {
  const r = spawnSync('psql', ['-h', MACHINE_PG.host, '-p', String(MACHINE_PG.port), '-U', MACHINE_PG.user, '-d', database, '-v', 'ON_ERROR_STOP=1', '-Atc', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql on the machine's server failed: ${r.stderr}`);
  return r.stdout.trim();
}

export function createDatabase(name: string, setupSql: string): void {
  psqlDirect('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  psqlDirect('postgres', `CREATE DATABASE ${name}`);
  if (setupSql) psqlDirect(name, setupSql);
}

export function dropDatabase(name: string): void {
  psqlDirect('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

export { freePort };

export interface PgProxyHarness {
  daemon: RunningDaemon;
  home: string;
  port: number;
  token: string;
  /** libpq-style environment for psql / pgbench through Airlock */
  env: NodeJS.ProcessEnv;
  /** a connection string for node-postgres */
  connectionString: string;
  newToken(name: string, targets?: string[]): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The real daemon process with one postgres target `db` in front of `database` on the machine's
 * server, an agent session, and the policy given (YAML).
 */
export async function startPgProxy(options: { database: string; policy?: string; upstream?: string; extraTarget?: string; listenTls?: { cert: string; key: string }; credential?: { env: string } | { file: string }; env?: NodeJS.ProcessEnv }): Promise<PgProxyHarness> {
  const home = tempHome('airlock-pg-');
  const port = await freePort();
  const upstream = options.upstream ?? `postgres://${MACHINE_PG.user}@${MACHINE_PG.host}:${MACHINE_PG.port}/${options.database}?sslmode=disable`;
  writeFileSync(
    path.join(home.dir, 'config.yaml'),
    [`targets:`, `  - name: db`, `    protocol: postgres`, `    upstream: "${upstream}"`, `    listen: ${JSON.stringify({ host: '127.0.0.1', port, ...(options.listenTls ? { tls: options.listenTls } : {}) })}`,
      options.credential ? `    credential: ${JSON.stringify(options.credential)}` : '',
      options.extraTarget ?? '', `recording: { resultRows: 20 }`].join('\n'),
  );
  if (options.policy) writeFileSync(path.join(home.dir, 'policy.yaml'), options.policy);
  const daemon = await startDaemon(home.dir, options.env);
  const newToken = async (name: string, targets?: string[]) => {
    const res = await daemon.api('POST', '/v1/agent-sessions', { name, ...(targets ? { targets } : {}) });
    if (res.status !== 201) throw new Error(`cannot create an agent session: ${JSON.stringify(res.json)}`);
    return (res.json as { token: string }).token;
  };
  const token = await newToken('pg-agent');
  const env = { ...process.env, PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'agent', PGPASSWORD: token, PGDATABASE: options.database, PGSSLMODE: 'disable', PGCONNECT_TIMEOUT: '10' };
  return {
    daemon,
    home: home.dir,
    port,
    token,
    env,
    connectionString: `postgres://agent:${encodeURIComponent(token)}@127.0.0.1:${port}/${options.database}?sslmode=disable`,
    newToken,
    async stop() {
      await daemon.stop();
      home.cleanup();
    },
  };
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a real client (psql, pgbench) with the given environment and optional stdin. */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv, input?: string, timeoutMs = 60_000): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

/** Waits for the daemon to hold an approval whose action summary contains `text`. */
export async function waitForApproval(daemon: RunningDaemon, text: string, timeoutMs = 10_000): Promise<{ id: string; ruleId: string }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { json } = await daemon.api('GET', '/v1/approvals');
    const found = (json as { approvals: { id: string; ruleId: string; action: { summary: string } }[] }).approvals.find((a) => a.action.summary.includes(text));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no approval for "${text}" within ${timeoutMs}ms`);
}

/**
 * For a suite: a scratch database with `setupSql`, the daemon in front of it under `policy`, and a
 * node-postgres client connected through it as the agent; dropped after the suite.
 */
export function useProxiedAgent(database: string, setupSql: string, policy: string): { harness(): PgProxyHarness; agent(): pg.Client } {
  let h: PgProxyHarness | undefined;
  let client: pg.Client | undefined;
  before(async () => {
    createDatabase(database, setupSql);
    h = await startPgProxy({ database, policy });
    client = new pg.Client({ connectionString: h.connectionString });
    await client.connect();
  });
  after(async () => {
    await client?.end().catch(() => undefined);
    await h?.stop();
    dropDatabase(database);
  });
  return { harness: () => h!, agent: () => client! };
}
