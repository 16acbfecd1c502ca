import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster.js';
import { run, startPgProxy, type PgProxyHarness } from '../helpers/pg-proxy.js';

/** A self-signed certificate for Airlock's own listener, made at test time. */
function listenerCert(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'listener.crt');
  const key = path.join(dir, 'listener.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

describe('PostgreSQL proxy: upstream SCRAM over verify-full TLS, md5, TLS listener', () => {
  let scramTls: PgCluster;
  let md5: PgCluster;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-tls-'));
    [scramTls, md5] = await Promise.all([startPgCluster({ auth: 'scram-sha-256', ssl: true }), startPgCluster({ auth: 'md5' })]);
  });
  after(async () => {
    await Promise.all([scramTls?.stop(), md5?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('SCRAM to the upstream over verify-full TLS; the agent connects to a TLS listener with its token', async () => {
    const tls = listenerCert(dir);
    const h: PgProxyHarness = await startPgProxy({
      database: scramTls.database,
      upstream: `postgres://${scramTls.user}@localhost:${scramTls.port}/${scramTls.database}?sslmode=verify-full&sslrootcert=${scramTls.caFile}`,
      listenTls: tls,
      credential: { env: 'UPSTREAM_PASSWORD' },
      policy: 'version: 1\nrules:\n  - { id: reads, decision: allow, match: { attributes: { class: read } } }\n',
      env: { UPSTREAM_PASSWORD: scramTls.password },
    });
    try {
      const overTls = await run('psql', ['-X', '-At', '-c', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'], { ...h.env, PGSSLMODE: 'verify-full', PGSSLROOTCERT: tls.cert, PGHOST: 'localhost' });
      assert.equal(overTls.code, 0, overTls.stderr);
      assert.equal(overTls.stdout.trim(), 't', 'the upstream connection is TLS');
      const user = await run('psql', ['-X', '-At', '-c', 'SELECT current_user'], { ...h.env, PGSSLMODE: 'require' });
      assert.equal(user.stdout.trim(), scramTls.user, 'logged in upstream as the real role');
      const plain = await run('psql', ['-X', '-At', '-c', 'SELECT 1'], { ...h.env, PGSSLMODE: 'disable' });
      assert.equal(plain.code, 0, 'SCRAM still works without TLS to the listener');
    } finally {
      await h.stop();
    }
  });

  test('verify-full against the wrong CA: a FATAL naming the target and the TLS failure', async () => {
    const tls = listenerCert(dir);
    const h = await startPgProxy({
      database: scramTls.database,
      upstream: `postgres://${scramTls.user}@localhost:${scramTls.port}/${scramTls.database}?sslmode=verify-full&sslrootcert=${tls.cert}`,
      credential: { env: 'UPSTREAM_PASSWORD' },
      env: { UPSTREAM_PASSWORD: scramTls.password },
    });
    try {
      const r = await run('psql', ['-X', '-At', '-c', 'SELECT 1'], h.env);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /target "db": TLS with localhost:\d+ failed \(sslmode=verify-full\)/);
    } finally {
      await h.stop();
    }
  });

  test('md5 upstream with the password in a file; a wrong password is the server\'s refusal, named', async () => {
    const pwFile = path.join(dir, 'pw');
    writeFileSync(pwFile, md5.password + '\n', { mode: 0o600 });
    const h = await startPgProxy({
      database: md5.database,
      // md5 over plain TCP reveals a crackable hash to whoever answers: only with the explicit opt-in
      upstream: `postgres://${md5.user}@127.0.0.1:${md5.port}/${md5.database}?sslmode=disable&require_auth=md5`,
      credential: { file: pwFile },
      policy: 'version: 1\nrules:\n  - { id: reads, decision: allow, match: { attributes: { class: read } } }\n',
    });
    try {
      const ok = await run('psql', ['-X', '-At', '-c', 'SELECT current_user'], h.env);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout.trim(), md5.user);
      writeFileSync(pwFile, 'wrong-password\n');
      const bad = await run('psql', ['-X', '-At', '-c', 'SELECT 1'], h.env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /target "db": the server refused the connection: password authentication failed/);
    } finally {
      await h.stop();
    }
  });
});
