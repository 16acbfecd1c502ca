import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import type { Target } from '@airlock/shared';
import { addTarget, loadLocalConfig, removeTarget } from '../config/local-config.js';
import { homePaths } from '../config/paths.js';

export const DEMO_DATABASE = 'airlock_demo';
export const DEMO_TARGET = 'demo';
const DEMO_PORT = 6543;

/** Synthetic people: every value is made up; card numbers are the networks' published test numbers. */
const DEMO_SCHEMA = `
CREATE TABLE customers (
  id int PRIMARY KEY,
  name text NOT NULL,
  email text,
  phone text,
  card_number text,
  iban text,
  ssn text,
  password_hash text,
  notes text
);
INSERT INTO customers VALUES
 (1, 'Ada Lovelace',  'ada@example.com',         '+44 20 7946 0958',  '4111 1111 1111 1111', 'GB82 WEST 1234 5698 7654 32',  '123-45-6789', '$2b$12$Q9x1demo', 'prefers email'),
 (2, 'Alan Turing',   'alan.turing@example.org', '+1 (415) 555-0132', '5500 0055 5555 5559', 'DE89 3704 0044 0532 0130 00',  '219-09-9999', '$2b$12$Z7k2demo', 'api key AKIAIOSFODNN7EXAMPLE in ticket 42'),
 (3, 'Grace Hopper',  'grace@navy.example',      '+49 30 901820',     '4012 8888 8888 1881', 'FR14 2004 1010 0505 0001 3M02 606', '078-05-1120', '$2b$12$M3p4demo', 'call after 5pm'),
 (4, 'Katherine Johnson', 'kj@nasa.example',     '+1 757 555 0199',   '3782 822463 10005',   'NL91 ABNA 0417 1643 00',       '536-22-1234', '$2b$12$R5t6demo', 'vip');
CREATE TABLE orders (
  id serial PRIMARY KEY,
  customer_id int REFERENCES customers(id),
  amount numeric(10,2) NOT NULL,
  status text NOT NULL DEFAULT 'open',
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO orders (customer_id, amount, status) SELECT 1 + (g % 4), (g * 7.5)::numeric(10,2), CASE WHEN g % 3 = 0 THEN 'shipped' ELSE 'open' END FROM generate_series(1, 20) g;
`;

export interface DemoSetup {
  target: Target;
  notes: string[];
  /** the embedded server, when no PostgreSQL was reachable; it lives as long as this process */
  embedded?: { close(): Promise<void> };
}

/**
 * Prepares the demo: a database with synthetic PII and a `demo` target in front of it. Uses the
 * local PostgreSQL when one answers on 127.0.0.1:5432 (or $PGHOST/$PGPORT) as $PGUSER (default
 * postgres, with $PGPASSWORD if asked); otherwise an embedded PostgreSQL (PGlite, served over the
 * wire protocol on a loopback port by this process) whose data lives in <data dir>/demo-pglite.
 */
export async function prepareDemo(home: string, env: NodeJS.ProcessEnv = process.env): Promise<DemoSetup> {
  const host = env.PGHOST && !env.PGHOST.startsWith('/') ? env.PGHOST : '127.0.0.1';
  const port = Number(env.PGPORT ?? 5432);
  const user = env.PGUSER ?? 'postgres';
  const notes: string[] = [];
  let upstream: string;
  let credential: Target['credential'];
  let embedded: DemoSetup['embedded'];
  const local = await loadIntoLocalPostgres({ host, port, user, password: env.PGPASSWORD });
  if (local.ok) {
    if (local.created) notes.push(`created database ${DEMO_DATABASE} with synthetic customers and orders on ${host}:${port}`);
    upstream = `postgres://${encodeURIComponent(user)}@${host}:${port}/${DEMO_DATABASE}?sslmode=prefer`;
    if (env.PGPASSWORD) credential = { env: 'PGPASSWORD' };
  } else {
    const server = await startEmbeddedPostgres(path.join(home, 'demo-pglite'));
    embedded = server;
    notes.push(`no PostgreSQL on ${host}:${port} (${local.error}); serving the demo database from an embedded PostgreSQL (PGlite) on 127.0.0.1:${server.port}`);
    upstream = `postgres://postgres@127.0.0.1:${server.port}/postgres?sslmode=disable`;
  }

  const configFile = homePaths(home).config;
  const config = await loadLocalConfig(configFile);
  const listenPort = (await portFree(DEMO_PORT)) ? DEMO_PORT : 0;
  const target: Target = {
    name: DEMO_TARGET,
    protocol: 'postgres',
    upstream,
    listen: { host: '127.0.0.1', port: listenPort },
    ...(credential ? { credential } : {}),
    // PGlite serves one session: a second connection for the catalog would share (and change) the agent's
    ...(embedded ? { catalog: false } : {}),
  };
  const existing = config.targets.find((t) => t.name === DEMO_TARGET);
  if (existing && JSON.stringify(existing) !== JSON.stringify(target)) await removeTarget(configFile, DEMO_TARGET);
  if (!existing || JSON.stringify(existing) !== JSON.stringify(target)) await addTarget(configFile, target);
  return { target, notes, embedded };
}

async function loadIntoLocalPostgres(server: { host: string; port: number; user: string; password?: string }): Promise<{ ok: true; created: boolean } | { ok: false; error: string }> {
  const admin = new pg.Client({ ...server, database: 'postgres', connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DEMO_DATABASE]);
    if (exists.rowCount !== 0) return { ok: true, created: false };
    await admin.query(`CREATE DATABASE ${DEMO_DATABASE}`);
    const db = new pg.Client({ ...server, database: DEMO_DATABASE });
    await db.connect();
    try {
      await db.query(DEMO_SCHEMA);
    } finally {
      await db.end();
    }
    return { ok: true, created: true };
  } finally {
    await admin.end();
  }
}

/** PGlite (PostgreSQL compiled to WebAssembly) with the demo schema, served on a free loopback port. */
async function startEmbeddedPostgres(dataDir: string): Promise<{ port: number; close(): Promise<void> }> {
  // loaded only when needed: it is large, and most machines running the demo have a PostgreSQL
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create(dataDir);
  const loaded = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'customers'");
  if ((loaded.rows[0]?.n ?? 0) === 0) await db.exec(DEMO_SCHEMA);
  const port = await freePort();
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1' });
  await server.start();
  return {
    port,
    close: async () => {
      await server.stop();
      await db.close();
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** What the user sees once the demo runs: how to connect as an agent, and what to try. */
export function demoInstructions(address: string, token: string): string {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), address.slice(address.lastIndexOf(':') + 1)];
  const env = `PGPASSWORD=${token} psql -h ${host} -p ${port} -U agent ${DEMO_DATABASE}`;
  return [
    '',
    'Airlock demo is running. Connect as an agent would (the token is the agent\'s password):',
    '',
    `  ${env} -c 'SELECT * FROM customers'`,
    '      → emails, cards, IBANs, SSNs and password hashes come back masked',
    `  ${env} -c "UPDATE orders SET status = 'cancelled' WHERE id = 1"`,
    '      → held for approval: in another terminal run `npx airlock approvals` and `npx airlock approve <ID>`',
    `  ${env} -c 'DROP TABLE orders'`,
    '      → held too (ddl); `npx airlock deny <ID> --reason "no"` and the agent sees the reason',
    '',
    'Then: `npx airlock sessions`, `npx airlock replay demo-agent`, `npx airlock verify --all`. Stop with Ctrl-C.',
    '',
  ].join('\n');
}
