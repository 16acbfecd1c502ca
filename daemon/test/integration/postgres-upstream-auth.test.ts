import { systemClock } from '../../src/util/time.js';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { run, startPgProxy, freePort } from '../helpers/pg-proxy.js';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster.js';
import { connectUpstream, upstreamSettings } from '../../src/proxies/postgres/upstream.js';

/**
 * The real password never goes where it can be captured. The hostile upstream here is a small fake
 * server written in this test, speaking the real PostgreSQL wire format: it answers SSLRequest (with
 * TLS when given a certificate), reads the StartupMessage, asks for the password in cleartext or as
 * MD5, and keeps every byte it receives (decrypted, when TLS is on) so the test can show what the
 * password getter would have revealed. Channel binding is tested against real clusters.
 */

const SECRET = 'the-real-upstream-password-4711';

interface Received {
  /** message kinds in order: SSLRequest, StartupMessage, then the type byte of each regular message */
  kinds: string[];
  /** every byte received, after TLS */
  bytes: Buffer;
  /** the text of each PasswordMessage */
  passwords: string[];
}

interface FakeUpstream {
  port: number;
  connections: Received[];
  close(): Promise<void>;
}

/** A server that asks every client for the password (cleartext or MD5) and records what it gets. */
async function fakeUpstream(options: { ask: 'cleartext' | 'md5'; tls?: { cert: string; key: string } }): Promise<FakeUpstream> {
  const connections: Received[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((plain) => {
    sockets.add(plain);
    const received: Received = { kinds: [], bytes: Buffer.alloc(0), passwords: [] };
    connections.push(received);
    let socket: net.Socket = plain;
    let buffer = Buffer.alloc(0);
    let started = false;
    const onData = (chunk: Buffer) => {
      received.bytes = Buffer.concat([received.bytes, chunk]);
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          buffer = buffer.subarray(length);
          if (code === 80877103) {
            received.kinds.push('SSLRequest');
            if (options.tls) {
              socket.off('data', onData);
              socket.write('S');
              const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: tls.createSecureContext(options.tls) });
              secure.on('data', onData);
              secure.on('error', () => secure.destroy());
              socket = secure;
              return;
            }
            socket.write('N');
            continue;
          }
          received.kinds.push('StartupMessage');
          started = true;
          const ask = options.ask === 'cleartext' ? Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]) : Buffer.from([0x52, 0, 0, 0, 12, 0, 0, 0, 5, 0x11, 0x22, 0x33, 0x44]);
          socket.write(ask);
          continue;
        }
        if (buffer.length < 5) return;
        const length = buffer.readInt32BE(1);
        if (buffer.length < length + 1) return;
        const type = String.fromCharCode(buffer[0]!);
        received.kinds.push(type);
        if (type === 'p') {
          received.passwords.push(buffer.toString('utf8', 5, length));
          const fields = Buffer.from('SFATAL\0C28P01\0Mfake server: password received\0\0');
          const error = Buffer.alloc(5);
          error.write('E');
          error.writeInt32BE(4 + fields.length, 1);
          socket.end(Buffer.concat([error, fields]));
        }
        buffer = buffer.subarray(length + 1);
      }
    };
    plain.on('data', onData);
    plain.on('error', () => plain.destroy());
    plain.on('close', () => sockets.delete(plain));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A CA and a server certificate for localhost / 127.0.0.1 it signed, made now. */
function makeCa(dir: string): { ca: string; cert: string; key: string } {
  const ca = path.join(dir, 'ca.crt');
  const caKey = path.join(dir, 'ca.key');
  const key = path.join(dir, 'server.key');
  const csr = path.join(dir, 'server.csr');
  const cert = path.join(dir, 'server.crt');
  const ext = path.join(dir, 'server.ext');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', caKey, '-out', ca, '-days', '1', '-subj', '/CN=fake upstream CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'], { stdio: 'ignore' });
  execFileSync('openssl', ['req', ...ec, '-keyout', key, '-out', csr, '-subj', '/CN=localhost'], { stdio: 'ignore' });
  writeFileSync(ext, 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '1', '-extfile', ext], { stdio: 'ignore' });
  return { ca, cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

/** The daemon with one target `db` in front of `upstream`, its credential in an environment variable; psql logs in as the agent. */
async function loginThroughProxy(upstream: string): Promise<{ stderr: string; log: string }> {
  const h = await startPgProxy({ database: 'app', upstream, credential: { env: 'UPSTREAM_PASSWORD' }, env: { UPSTREAM_PASSWORD: SECRET } });
  try {
    const r = await run('psql', ['-X', '-At', '-c', 'SELECT 1'], h.env);
    assert.notEqual(r.code, 0, 'the fake server cannot complete a login');
    return { stderr: r.stderr, log: h.daemon.output() };
  } finally {
    await h.stop();
  }
}

function assertNothingOfThePassword(received: Received[]): void {
  assert.ok(received.length > 0, 'the daemon did connect to the fake server');
  for (const r of received) {
    assert.ok(!r.kinds.includes('p'), `no PasswordMessage was sent (received ${r.kinds.join(', ')})`);
    assert.equal(r.bytes.includes(SECRET), false, 'the password bytes never arrived');
  }
}

describe('PostgreSQL upstream: the password goes only by SCRAM or over verified TLS', () => {
  let dir: string;
  let certs: { ca: string; cert: string; key: string };
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-upauth-'));
    certs = makeCa(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a cleartext request over plain TCP is refused: the agent and the log get the reason, the fake server gets no password', async () => {
    const fake = await fakeUpstream({ ask: 'cleartext' });
    try {
      const { stderr, log } = await loginThroughProxy(`postgres://app@127.0.0.1:${fake.port}/app`);
      const reason = `target "db": the server at 127.0.0.1:${fake.port} asked for the password in cleartext over an unverified connection (plain TCP); Airlock sends it only by SCRAM or over TLS it verified (set sslmode=verify-full, or require_auth=password on the target to allow it)`;
      assert.ok(stderr.includes(`FATAL:  ${reason}`), stderr);
      assert.ok(log.includes(`warn: ${reason}`), log);
      assertNothingOfThePassword(fake.connections);
      // loopback default sslmode=prefer: the daemon asked for TLS, the fake said no
      assert.deepEqual(fake.connections[0]!.kinds, ['SSLRequest', 'StartupMessage']);
    } finally {
      await fake.close();
    }
  });

  test('an MD5 request over plain TCP is refused the same way', async () => {
    const fake = await fakeUpstream({ ask: 'md5' });
    try {
      const { stderr } = await loginThroughProxy(`postgres://app@127.0.0.1:${fake.port}/app?sslmode=disable`);
      assert.match(stderr, /FATAL: {2}target "db": the server at 127\.0\.0\.1:\d+ asked for the password as an MD5 hash over an unverified connection \(plain TCP\).*require_auth=md5 on the target to allow it/);
      assertNothingOfThePassword(fake.connections);
      assert.deepEqual(fake.connections[0]!.kinds, ['StartupMessage']);
    } finally {
      await fake.close();
    }
  });

  test('over TLS the daemon verified (test CA, verify-full) a cleartext request is answered', async () => {
    const fake = await fakeUpstream({ ask: 'cleartext', tls: certs });
    try {
      const { stderr } = await loginThroughProxy(`postgres://app@localhost:${fake.port}/app?sslmode=verify-full&sslrootcert=${certs.ca}`);
      assert.match(stderr, /the server refused the connection: fake server: password received/);
      assert.deepEqual(fake.connections[0]!.kinds, ['SSLRequest', 'StartupMessage', 'p']);
      assert.deepEqual(fake.connections[0]!.passwords, [SECRET]);
    } finally {
      await fake.close();
    }
  });

  test('over TLS the daemon did not verify (sslmode=require) the same request is refused', async () => {
    const fake = await fakeUpstream({ ask: 'cleartext', tls: certs });
    try {
      const { stderr } = await loginThroughProxy(`postgres://app@localhost:${fake.port}/app?sslmode=require`);
      assert.match(stderr, /asked for the password in cleartext over an unverified connection \(TLS whose certificate was not verified \(sslmode=require\)\)/);
      assertNothingOfThePassword(fake.connections);
      assert.deepEqual(fake.connections[0]!.kinds, ['SSLRequest', 'StartupMessage'], 'the TLS session itself worked');
    } finally {
      await fake.close();
    }
  });

  test('require_auth=password on the target is the explicit opt-in to cleartext over plain TCP', async () => {
    const fake = await fakeUpstream({ ask: 'cleartext' });
    try {
      const { stderr } = await loginThroughProxy(`postgres://app@127.0.0.1:${fake.port}/app?sslmode=disable&require_auth=password`);
      assert.match(stderr, /fake server: password received/);
      assert.deepEqual(fake.connections[0]!.passwords, [SECRET]);
    } finally {
      await fake.close();
    }
  });

  test('a credential file others can read stops the target at load, with the fix; chmod 600 lets it start', async () => {
    const file = path.join(dir, 'pw');
    writeFileSync(file, SECRET + '\n', { mode: 0o644 });
    const h = await startPgProxy({ database: 'postgres', credential: { file } });
    try {
      const { json } = await h.daemon.api('GET', '/v1/targets');
      const status = (json as { targets: { state: string; error?: string }[] }).targets[0];
      assert.equal(status?.state, 'error');
      assert.equal(status?.error, `target "db": the credential file ${file} can be read or changed by other users (mode 0644); Airlock uses it only if no one but its own user can, as ssh does for private keys (run chmod 600 ${file}), then airlock stop && airlock up to start the target`);
    } finally {
      await h.stop();
    }
    chmodSync(file, 0o600);
    const fixed = await startPgProxy({ database: 'postgres', credential: { file }, policy: 'version: 1\nrules:\n  - { id: reads, decision: allow, match: { attributes: { class: read } } }\n' });
    try {
      const { json } = await fixed.daemon.api('GET', '/v1/targets');
      assert.equal((json as { targets: { state: string }[] }).targets[0]?.state, 'listening');
      // the machine's server is trust: the login asks for no password, and the file's mode is fine anyway
      const r = await run('psql', ['-X', '-At', '-c', 'SELECT 1'], { ...fixed.env, PGDATABASE: 'postgres' });
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await fixed.stop();
    }
  });
});

describe('PostgreSQL upstream: SCRAM channel binding against real clusters', () => {
  let tlsCluster: PgCluster;
  let plainCluster: PgCluster;
  before(async () => {
    [tlsCluster, plainCluster] = await Promise.all([startPgCluster({ auth: 'scram-sha-256', ssl: true }), startPgCluster({ auth: 'scram-sha-256' })]);
  });
  after(async () => {
    await Promise.all([tlsCluster?.stop(), plainCluster?.stop()]);
  });

  /** Logs in the way the proxy and the catalog do, and reports how. */
  async function login(cluster: PgCluster, host: string, query: string): Promise<{ auth: string; tls: boolean }> {
    const settings = upstreamSettings(
      { name: 'app', protocol: 'postgres', upstream: `postgres://${cluster.user}@${host}:${cluster.port}/${cluster.database}?${query}`, listen: { host: '127.0.0.1', port: 0 }, credential: { env: 'PW' } },
      { limits: { connectTimeoutMs: 10_000 }, clock: systemClock },
      { PW: cluster.password },
    );
    const up = await connectUpstream(settings, {}, 1 << 20);
    up.socket.destroy();
    return { auth: up.auth, tls: up.tls };
  }

  test('over TLS the login is SCRAM-SHA-256-PLUS (the server checked the certificate hash), verified or not', async () => {
    // PostgreSQL compares the binding data with its own certificate's hash: a login that succeeds proves they matched
    assert.deepEqual(await login(tlsCluster, 'localhost', `sslmode=verify-full&sslrootcert=${tlsCluster.caFile}`), { auth: 'SCRAM-SHA-256-PLUS', tls: true });
    assert.deepEqual(await login(tlsCluster, '127.0.0.1', 'sslmode=require&channel_binding=require'), { auth: 'SCRAM-SHA-256-PLUS', tls: true });
    assert.deepEqual(await login(tlsCluster, '127.0.0.1', 'sslmode=require&channel_binding=disable'), { auth: 'SCRAM-SHA-256', tls: true });
    assert.deepEqual(await login(plainCluster, '127.0.0.1', ''), { auth: 'SCRAM-SHA-256', tls: false });
  });

  test('channel_binding=require against a server without TLS fails with a clear error', async () => {
    await assert.rejects(login(plainCluster, '127.0.0.1', 'channel_binding=require'), {
      message: 'target "app": channel_binding=require needs SCRAM-SHA-256-PLUS, but the connection does not use TLS (set channel_binding=prefer to log in without it)',
    });
  });

  test('through the proxy: psql reaches the TLS cluster, and channel_binding=require on a plain one is the agent\'s FATAL', async () => {
    const ok = await startPgProxy({
      database: tlsCluster.database,
      upstream: `postgres://${tlsCluster.user}@localhost:${tlsCluster.port}/${tlsCluster.database}?sslmode=verify-full&sslrootcert=${tlsCluster.caFile}&channel_binding=require`,
      credential: { env: 'UPSTREAM_PASSWORD' },
      policy: 'version: 1\nrules:\n  - { id: reads, decision: allow, match: { attributes: { class: read } } }\n',
      env: { UPSTREAM_PASSWORD: tlsCluster.password },
    });
    try {
      const r = await run('psql', ['-X', '-At', '-c', 'SELECT current_user'], ok.env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), tlsCluster.user);
    } finally {
      await ok.stop();
    }
    const refused = await startPgProxy({
      database: plainCluster.database,
      upstream: `postgres://${plainCluster.user}@127.0.0.1:${plainCluster.port}/${plainCluster.database}?channel_binding=require`,
      credential: { env: 'UPSTREAM_PASSWORD' },
      env: { UPSTREAM_PASSWORD: plainCluster.password },
    });
    try {
      const r = await run('psql', ['-X', '-At', '-c', 'SELECT 1'], refused.env);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /FATAL: {2}target "db": channel_binding=require needs SCRAM-SHA-256-PLUS, but the connection does not use TLS/);
    } finally {
      await refused.stop();
    }
  });
});
