import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { createTestDatabase, dropTestDatabase, machinePg, startPgCluster, type PgCluster } from '../helpers/pg-cluster.js';

/** psql as a real client over TCP; PG* variables from the environment are left out on purpose. */
function psql(conninfo: string, sql: string, password: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', conninfo, '-c', sql], { env: { PATH: process.env.PATH, PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' }, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: stdout.trim(), stderr });
    });
  });
}

function conninfo(cluster: PgCluster, extra: string): string {
  return `host=${cluster.host} port=${cluster.port} user=${cluster.user} dbname=${cluster.database} ${extra}`;
}

test('scram-sha-256 + TLS cluster: psql verifies the server cert (IP and DNS name) and logs in with the password', async () => {
  const cluster = await startPgCluster({ auth: 'scram-sha-256', ssl: true, user: 'agent_user', database: 'app' });
  try {
    assert.ok(cluster.caFile && existsSync(cluster.caFile));
    const verify = `sslmode=verify-full sslrootcert=${cluster.caFile}`;

    const viaIp = await psql(conninfo(cluster, verify), 'select current_user', cluster.password);
    assert.equal(viaIp.code, 0, viaIp.stderr);
    assert.equal(viaIp.stdout, 'agent_user');

    const ssl = await psql(conninfo(cluster, verify), 'select ssl from pg_stat_ssl where pid = pg_backend_pid()', cluster.password);
    assert.equal(ssl.stdout, 't', ssl.stderr);

    // the DNS SAN: connect by name, to the same address
    const viaName = await psql(`host=${cluster.serverName} hostaddr=127.0.0.1 port=${cluster.port} user=${cluster.user} dbname=${cluster.database} ${verify}`, 'select current_database()', cluster.password);
    assert.equal(viaName.stdout, 'app', viaName.stderr);

    const wrong = await psql(conninfo(cluster, verify), 'select 1', 'not-the-password');
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /password authentication failed/);

    // hostssl only: a plaintext client is refused rather than served
    const plain = await psql(conninfo(cluster, 'sslmode=disable'), 'select 1', cluster.password);
    assert.notEqual(plain.code, 0);
    assert.match(plain.stderr, /no encryption/);

    assert.match(await cluster.superuserSql(`select rolpassword from pg_authid where rolname = 'agent_user'`), /^SCRAM-SHA-256\$/);

    // node-postgres verifies the same chain (what a proxy's upstream connection will do)
    const client = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password, database: cluster.database, ssl: { ca: readFileSync(cluster.caFile), servername: cluster.serverName } });
    await client.connect();
    try {
      const { rows } = await client.query<{ ssl: boolean }>('select ssl from pg_stat_ssl where pid = pg_backend_pid()');
      assert.equal(rows[0]?.ssl, true);
    } finally {
      await client.end();
    }
  } finally {
    await cluster.stop();
    await cluster.stop();
  }
  assert.equal(existsSync(cluster.dataDir), false);
});

test('md5 cluster without TLS: the password is stored as md5 and node-postgres and psql log in', async () => {
  const cluster = await startPgCluster({ auth: 'md5', password: "it's a secret" });
  try {
    const result = await psql(conninfo(cluster, 'sslmode=disable'), 'select current_user', cluster.password);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'airlock_test');
    assert.match(await cluster.superuserSql(`select rolpassword from pg_authid where rolname = 'airlock_test'`), /^md5[0-9a-f]{32}$/);

    const client = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password, database: cluster.database });
    await client.connect();
    try {
      const { rows } = await client.query<{ user: string }>('select current_user as user');
      assert.equal(rows[0]?.user, 'airlock_test');
    } finally {
      await client.end();
    }
    const client2 = new pg.Client({ connectionString: cluster.url });
    await client2.connect();
    await client2.end();
  } finally {
    await cluster.stop();
  }
});

test('the machine server: a test database is created, used and dropped', async () => {
  const info = await createTestDatabase('airlock_helper_test');
  try {
    const client = new pg.Client(info);
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string }>('select current_database() as db');
      assert.equal(rows[0]?.db, 'airlock_helper_test');
    } finally {
      await client.end();
    }
  } finally {
    await dropTestDatabase('airlock_helper_test');
  }
  const admin = new pg.Client(machinePg());
  await admin.connect();
  try {
    const { rowCount } = await admin.query(`select 1 from pg_database where datname = 'airlock_helper_test'`);
    assert.equal(rowCount, 0);
  } finally {
    await admin.end();
  }
});
