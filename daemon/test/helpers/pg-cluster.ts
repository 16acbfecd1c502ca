import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * Real PostgreSQL servers for tests (DESIGN.md, "Testing with real parts"):
 * - startPgCluster(): a throw-away server of the machine's PostgreSQL version, for what the machine's
 *   server does not offer (password auth methods, TLS with a CA the test controls);
 * - machinePg() / createTestDatabase(): the machine's server (127.0.0.1:5432, trust auth).
 */

export type PgAuthMethod = 'scram-sha-256' | 'md5' | 'password' | 'trust';

export interface PgClusterOptions {
  /** the method pg_hba.conf requires of TCP connections from 127.0.0.1 */
  auth: PgAuthMethod;
  /** TLS on, with a server cert signed by a throw-away CA; TCP connections must then use TLS (hostssl) */
  ssl?: boolean;
  /** the login role created for the test (default airlock_test) */
  user?: string;
  /** its password (default: random) */
  password?: string;
  /** a database owned by that role (default airlock_test) */
  database?: string;
  /** extra postgresql.conf settings, e.g. { max_connections: '300' }; values are written as given */
  settings?: Record<string, string>;
}

export interface PgCluster {
  host: '127.0.0.1';
  port: number;
  user: string;
  password: string;
  database: string;
  /** the CA that signed the server cert, for sslmode=verify-full (only with ssl) */
  caFile?: string;
  /** the name in the server cert: DNS SAN localhost (the cert also has IP SAN 127.0.0.1) */
  serverName: string;
  dataDir: string;
  /** the unix socket directory, where the superuser connects with trust auth */
  socketDir: string;
  /** the auth method pg_hba.conf asks of TCP connections */
  auth: PgAuthMethod;
  ssl: boolean;
  /** `postgres://user:password@127.0.0.1:port/database` (URL-encoded) */
  url: string;
  /** Runs SQL as the cluster's superuser over the unix socket (trust); returns psql's unaligned output. */
  superuserSql(sql: string, database?: string): Promise<string>;
  /** Stops the server (immediate) and removes its files. Safe to call twice. */
  stop(): Promise<void>;
}

/** The bootstrap superuser; named explicitly so it does not depend on who runs the tests. */
const SUPERUSER = 'postgres';
const SERVER_NAME = 'localhost';

let cachedBinDir: string | undefined;

/** The server binaries: `pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin. */
export function pgBinDir(): string {
  if (cachedBinDir) return cachedBinDir;
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    // pg_config is not always installed (it comes with libpq-dev or postgresql-common)
  }
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  } catch {
    // no Debian layout
  }
  // pg_config may name a client-only dir (e.g. /usr/bin); only a dir with initdb will do
  const found = candidates.find((dir) => dir && existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl')));
  if (!found) throw new Error(`no PostgreSQL server binaries found (looked in: ${candidates.join(', ') || 'nothing'}); install the postgresql package`);
  cachedBinDir = found;
  return found;
}

/** initdb and postgres refuse to run as root: as root, run them as the postgres OS user. */
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** The uid/gid server processes run as when we are root (the postgres OS user); undefined otherwise. */
export function serverOwner(): { uid: number; gid: number } | undefined {
  if (!asRoot) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const fields = line?.split(':');
  if (!fields || fields.length < 4) throw new Error('running as root, but there is no "postgres" OS user to run the server as');
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** The command line that runs `binary` as the server user: through runuser when we are root. */
export function asServerUser(binary: string, args: string[]): { file: string; args: string[] } {
  return asRoot ? { file: 'runuser', args: ['-u', 'postgres', '--', binary, ...args] } : { file: binary, args };
}

/** Gives a dir and everything below it to the server user (no-op unless we are root). */
export function chownToServerUser(dir: string): void {
  chownTree(dir, serverOwner());
}

interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a PostgreSQL binary (as the postgres OS user when we are root), in `cwd` it can enter. */
function runPg(binary: string, args: string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const { file, args: argv } = asServerUser(binary, args);
  // Keep the caller's PG* variables (PGPASSWORD, PGSSLMODE, ...) from steering the admin tools.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, LANG: 'C', LC_ALL: 'C', ...extraEnv };
  return new Promise((resolve, reject) => {
    execFile(file, argv, { cwd, env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${path.basename(binary)} ${args.join(' ')} failed: ${err.message}\n${stderr}${stdout}`));
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

function run(file: string, args: string[], cwd: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** A port that was free a moment ago; the caller retries if someone takes it meanwhile. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Clusters still running, stopped synchronously if the test process exits without stopping them. */
const live = new Map<string, { pgCtl: string; dataDir: string; root: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const { pgCtl, dataDir, root } of live.values()) stopSync(pgCtl, dataDir, root);
  });
}

function stopSync(pgCtl: string, dataDir: string, root: string): void {
  try {
    const { file, args } = asServerUser(pgCtl, ['-D', dataDir, 'stop', '-m', 'immediate', '-w', '-t', '10']);
    execFileSync(file, args, { cwd: '/', stdio: 'ignore' });
  } catch {
    // already stopped
  }
  rmSync(root, { recursive: true, force: true });
}

function chownTree(dir: string, owner: { uid: number; gid: number } | undefined): void {
  if (!owner) return;
  chownSync(dir, owner.uid, owner.gid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(full, owner);
    else chownSync(full, owner.uid, owner.gid);
  }
}

/**
 * A CA and a server cert it signed (SAN DNS:localhost, IP:127.0.0.1), made with the openssl CLI at
 * test time so no key is ever committed. EC P-256 keys: generating them takes milliseconds.
 */
async function makeCerts(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  mkdirSync(dir, { recursive: true });
  const caKey = path.join(dir, 'ca.key');
  const caFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'server.key');
  const csr = path.join(dir, 'server.csr');
  const certFile = path.join(dir, 'server.crt');
  const ext = path.join(dir, 'server.ext');
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ecKey, '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=Airlock test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  await run('openssl', ['req', ...ecKey, '-keyout', keyFile, '-out', csr, '-subj', `/CN=${SERVER_NAME}`], dir);
  writeFileSync(ext, ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth', `subjectAltName=DNS:${SERVER_NAME},IP:127.0.0.1`, ''].join('\n'));
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext], dir);
  // the server refuses a key readable by group or others
  chmodSync(keyFile, 0o600);
  rmSync(caKey);
  return { caFile, certFile, keyFile };
}

function hbaConf(auth: PgAuthMethod, ssl: boolean): string {
  return [
    '# written by daemon/test/helpers/pg-cluster.ts',
    '# the test harness administers the cluster over its private unix socket',
    'local all all trust',
    // with ssl only TLS connections are accepted, so a client that silently falls back to plaintext fails
    `${ssl ? 'hostssl' : 'host'} all all 127.0.0.1/32 ${auth}`,
    '',
  ].join('\n');
}

function serverConf(port: number, socketDir: string, auth: PgAuthMethod, certs: { certFile: string; keyFile: string } | undefined, settings: Record<string, string>): string {
  const lines = [
    '# written by daemon/test/helpers/pg-cluster.ts: a throw-away test server',
    "listen_addresses = '127.0.0.1'",
    `port = ${port}`,
    `unix_socket_directories = ${quoteLiteral(socketDir)}`,
    // speed over durability: the data dies with the test
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    'shared_buffers = 16MB',
    'max_connections = 100',
    'max_wal_senders = 0',
    'wal_level = minimal',
    "dynamic_shared_memory_type = 'posix'",
    // md5 auth only works against md5-hashed passwords; a scram hash upgrades md5 auth to scram
    `password_encryption = ${auth === 'md5' ? "'md5'" : "'scram-sha-256'"}`,
    "log_min_messages = 'warning'",
  ];
  if (certs) {
    lines.push('ssl = on', `ssl_cert_file = ${quoteLiteral(certs.certFile)}`, `ssl_key_file = ${quoteLiteral(certs.keyFile)}`);
  }
  // later lines win, so a caller's setting overrides the defaults above
  for (const [name, value] of Object.entries(settings)) lines.push(`${name} = ${value}`);
  return lines.join('\n') + '\n';
}

/**
 * Starts a throw-away PostgreSQL server on 127.0.0.1 (a free port) whose TCP connections use `auth`,
 * with a login role and a database it owns. Takes about a second (two with ssl). Stop it with
 * `stop()`; if the test process exits first, the server is stopped and its files removed on exit.
 */
export async function startPgCluster(options: PgClusterOptions): Promise<PgCluster> {
  const binDir = pgBinDir();
  const pgCtl = path.join(binDir, 'pg_ctl');
  const psql = path.join(binDir, 'psql');
  const owner = serverOwner();
  const user = options.user ?? 'airlock_test';
  const password = options.password ?? randomBytes(12).toString('base64url');
  const database = options.database ?? 'airlock_test';
  const ssl = options.ssl ?? false;

  const root = mkdtempSync(path.join(os.tmpdir(), 'airlock-pg-'));
  const dataDir = path.join(root, 'data');
  const socketDir = root;
  const logFile = path.join(root, 'server.log');
  const readLog = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const stopNow = (): void => {
    live.delete(root);
    stopSync(pgCtl, dataDir, root);
  };

  try {
    const certs = ssl ? await makeCerts(path.join(root, 'ssl')) : undefined;
    // The dir stays 0700: its unix socket lets anyone who can reach it in as superuser (trust).
    // When we are root it belongs to postgres, and we can still read the CA cert in it.
    chownTree(root, owner);

    await runPg(path.join(binDir, 'initdb'), ['-D', dataDir, '--auth=trust', `--username=${SUPERUSER}`, '--no-sync', '--encoding=UTF8', '--locale=C', '--no-instructions'], root);
    writeFileSync(path.join(dataDir, 'pg_hba.conf'), hbaConf(options.auth, ssl));

    // Another process may take the port between our probe and the server's bind: try a few.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      writeFileSync(path.join(dataDir, 'postgresql.auto.conf'), serverConf(port, socketDir, options.auth, certs, options.settings ?? {}));
      chownTree(dataDir, owner);
      try {
        installExitHook();
        live.set(root, { pgCtl, dataDir, root });
        await runPg(pgCtl, ['-D', dataDir, '-l', logFile, '-w', '-t', '30', 'start'], root);
        break;
      } catch (err) {
        const log = readLog();
        if (attempt < 5 && /could not bind|Address already in use/i.test(log)) continue;
        throw new Error(`${(err as Error).message}\nserver log:\n${log}`);
      }
    }

    const superuserSql = async (sql: string, db = 'postgres'): Promise<string> => {
      const { stdout } = await runPg(psql, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', socketDir, '-p', String(port), '-U', SUPERUSER, '-d', db, '-c', sql], root);
      return stdout.trim();
    };

    const roleSql = user === SUPERUSER ? `ALTER ROLE ${quoteIdent(user)} PASSWORD ${quoteLiteral(password)}` : `CREATE ROLE ${quoteIdent(user)} LOGIN PASSWORD ${quoteLiteral(password)}`;
    await superuserSql(roleSql);
    if (database !== 'postgres') await superuserSql(`CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(user)}`);

    let stopped: Promise<void> | undefined;
    return {
      host: '127.0.0.1',
      port,
      user,
      password,
      database,
      caFile: certs?.caFile,
      serverName: SERVER_NAME,
      dataDir,
      socketDir,
      auth: options.auth,
      ssl,
      url: `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
      superuserSql,
      stop() {
        stopped ??= (async () => {
          live.delete(root);
          await runPg(pgCtl, ['-D', dataDir, 'stop', '-m', 'immediate', '-w', '-t', '10'], '/').catch(() => undefined);
          rmSync(root, { recursive: true, force: true });
        })();
        return stopped;
      },
    };
  } catch (err) {
    stopNow();
    throw err;
  }
}

// ---- the machine's server ----

export interface PgConnectionInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/**
 * The machine's PostgreSQL: 127.0.0.1:5432 with trust auth for TCP, as the `postgres` role (it exists
 * on every Debian install; the password is ignored by trust auth).
 */
export function machinePg(database = 'postgres'): PgConnectionInfo {
  return { host: '127.0.0.1', port: 5432, user: 'postgres', password: '', database };
}

/** A postgres:// URL for connection info (no password when it is empty). */
export function pgUrl(info: PgConnectionInfo): string {
  const auth = info.password ? `${encodeURIComponent(info.user)}:${encodeURIComponent(info.password)}` : encodeURIComponent(info.user);
  return `postgres://${auth}@${info.host}:${info.port}/${encodeURIComponent(info.database)}`;
}

async function onMachineServer<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(machinePg());
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function checkDatabaseName(name: string): void {
  // names come from tests, but they end up in DDL: keep them boring
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`test database name must match [a-z_][a-z0-9_]*: ${JSON.stringify(name)}`);
}

/** (Re)creates an empty database on the machine's server; a leftover from a crashed run is dropped first. */
export async function createTestDatabase(name: string): Promise<PgConnectionInfo> {
  checkDatabaseName(name);
  await onMachineServer(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
  });
  return machinePg(name);
}

/** Drops a test database on the machine's server, disconnecting whoever is still in it. */
export async function dropTestDatabase(name: string): Promise<void> {
  checkDatabaseName(name);
  await onMachineServer((client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
}
