import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { homePaths } from '../../src/config/paths.js';
import { loadOrCreateLocalCa, type LocalCa } from '../../src/config/local-ca.js';
import type { ServerCertificate } from '../../src/config/certificate-issuer.js';
import { leafFromAnotherCa, makeTestCa, writeTestCaFiles } from '../helpers/test-ca.js';

/** Runs a tool to the end: exit code and output. */
function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

const day = 24 * 60 * 60 * 1000;

/** An HTTPS server on 127.0.0.1 serving `leaf`; resolves to its port and a way to stop it. */
async function serveHttps(leaf: ServerCertificate): Promise<{ port: number; close(): Promise<void> }> {
  const server = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => res.end('hello over tls'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** GET https://HOST:PORT/ trusting only `caPem`: the body, or the TLS error's code. */
function getTrusting(caPem: string, host: string, port: number): Promise<{ body?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = https.get({ host, port, path: '/', ca: caPem, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ body }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

describe('the daemon local CA: made once under the data dir, issuing listener certificates', () => {
  let dir: string;
  before(() => {
    dir = path.join(os.tmpdir(), `airlock-localca-${process.pid}-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('made once with key 0600, certificate 0644 in a 0700 dir, and the same CA on the next start', async () => {
    const paths = homePaths(path.join(dir, 'once'));
    const first = await loadOrCreateLocalCa(paths, { hostname: 'devbox' });
    assert.equal(statSync(paths.caDir).mode & 0o777, 0o700);
    assert.equal(statSync(paths.caKey).mode & 0o777, 0o600);
    assert.equal(statSync(paths.caCert).mode & 0o777, 0o644);
    assert.equal(readFileSync(paths.caCert, 'utf8'), first.certPem);
    assert.match(readFileSync(paths.caKey, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    const keyBefore = readFileSync(paths.caKey, 'utf8');
    const second = await loadOrCreateLocalCa(paths, { hostname: 'devbox' });
    assert.equal(second.fingerprint, first.fingerprint);
    assert.equal(second.certPem, first.certPem);
    assert.equal(readFileSync(paths.caKey, 'utf8'), keyBefore, 'the key file is not rewritten');
  });

  test('two daemons starting at once end with one CA', async () => {
    const paths = homePaths(path.join(dir, 'race'));
    const both = await Promise.all([loadOrCreateLocalCa(paths), loadOrCreateLocalCa(paths)]);
    const onDisk = readFileSync(paths.caCert, 'utf8');
    assert.equal(both[0].certPem, onDisk);
    assert.equal(both[1].certPem, onDisk);
  });

  test('the CA certificate: its name, a P-256 key, CA with pathLen 0, keyCertSign and cRLSign, long-lived', async () => {
    const ca = await loadOrCreateLocalCa(homePaths(path.join(dir, 'shape')), { hostname: 'devbox' });
    const cert = new X509Certificate(ca.certPem);
    assert.equal(cert.subject, 'CN=Airlock local CA (devbox)');
    assert.equal(cert.issuer, cert.subject);
    assert.equal(cert.ca, true);
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
    assert.ok(new Date(cert.validTo).getTime() - Date.now() > 5 * 365 * day);
    assert.equal(ca.fingerprint, cert.fingerprint256);
    // Node's X509Certificate does not show extensions; read them with the library that wrote them
    const { X509Certificate: Parsed, BasicConstraintsExtension, KeyUsagesExtension, KeyUsageFlags } = await import('@peculiar/x509');
    const parsed = new Parsed(ca.certPem);
    const basic = parsed.getExtension(BasicConstraintsExtension);
    assert.equal(basic?.ca, true);
    assert.equal(basic?.pathLength, 0);
    assert.equal(basic?.critical, true);
    const usages = parsed.getExtension(KeyUsagesExtension);
    assert.equal(usages?.usages, KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign);
  });

  test('a leaf verifies against the CA, names the loopback addresses and the given hosts, and is for servers only', async () => {
    const ca = await loadOrCreateLocalCa(homePaths(path.join(dir, 'leaf')));
    const leaf = await ca.leafFor(['kube.airlock.test', '10.1.2.3']);
    const cert = new X509Certificate(leaf.certPem);
    assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey));
    assert.ok(cert.checkIssued(new X509Certificate(ca.certPem)));
    assert.equal(cert.ca, false);
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.ok(cert.checkIP('::1'));
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkHost('kube.airlock.test'), 'kube.airlock.test');
    assert.equal(cert.checkIP('10.1.2.3'), '10.1.2.3');
    assert.equal(cert.checkIP('10.1.2.4'), undefined, 'an address not asked for is not in the certificate');
    assert.equal(cert.checkHost('evil.test'), undefined);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'serverAuth only');
    assert.ok(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(leaf.keyPem)));
    const lifetime = new Date(cert.validTo).getTime() - Date.now();
    assert.ok(lifetime > 30 * day && lifetime < 365 * day, `a leaf lives shorter than the CA (${lifetime / day} days)`);
    // another CA's key did not sign it
    const other = await makeTestCa();
    assert.equal(cert.verify(new X509Certificate(other.certPem).publicKey), false);
  });

  test('a leaf is reused for the same hosts, and re-issued when it nears expiry', async () => {
    let now = new Date();
    const ca = await loadOrCreateLocalCa(homePaths(path.join(dir, 'renew')), { now: () => now });
    const first = await ca.leafFor(['a.test', 'b.test']);
    assert.equal((await ca.leafFor(['b.test', 'A.test'])).certPem, first.certPem, 'same host set, same leaf');
    assert.notEqual((await ca.leafFor(['c.test'])).certPem, first.certPem, 'other hosts, another leaf');
    now = new Date(first.notAfter.getTime() - 40 * day);
    assert.equal((await ca.leafFor(['a.test', 'b.test'])).certPem, first.certPem, 'plenty of life left: kept');
    now = new Date(first.notAfter.getTime() - 10 * day);
    const renewed = await ca.leafFor(['a.test', 'b.test']);
    assert.notEqual(renewed.certPem, first.certPem, 'near expiry: re-issued');
    assert.ok(renewed.notAfter.getTime() > first.notAfter.getTime());
  });

  test('a new CA (the directory moved away) issues leaves that the old CA does not verify', async () => {
    const paths = homePaths(path.join(dir, 'moved'));
    const old = await loadOrCreateLocalCa(paths);
    const oldLeaf = await old.leafFor();
    rmSync(paths.caDir, { recursive: true });
    const fresh = await loadOrCreateLocalCa(paths);
    assert.notEqual(fresh.fingerprint, old.fingerprint);
    const freshLeaf = new X509Certificate((await fresh.leafFor()).certPem);
    assert.equal(freshLeaf.verify(new X509Certificate(old.certPem).publicKey), false);
    assert.notEqual(freshLeaf.fingerprint256, new X509Certificate(oldLeaf.certPem).fingerprint256);
  });

  test('a TLS handshake: a client trusting only the CA gets through to 127.0.0.1, one trusting another CA does not', async () => {
    const ca: LocalCa = await loadOrCreateLocalCa(homePaths(path.join(dir, 'tls')));
    const server = await serveHttps(await ca.leafFor());
    try {
      assert.deepEqual(await getTrusting(ca.certPem, '127.0.0.1', server.port), { body: 'hello over tls' });
      assert.deepEqual(await getTrusting(ca.certPem, 'localhost', server.port), { body: 'hello over tls' });
      const other = await makeTestCa();
      assert.deepEqual(await getTrusting(other.certPem, '127.0.0.1', server.port), { error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    } finally {
      await server.close();
    }
  });

  test('openssl and curl, trusting only the CA file, accept the leaf for 127.0.0.1 and refuse an impostor', async () => {
    const ca = await loadOrCreateLocalCa(homePaths(path.join(dir, 'tools')));
    const leaf = await ca.leafFor();
    const files = writeTestCaFiles(ca.certPem, leaf);
    const impostorLeaf = await leafFromAnotherCa();
    const impostorFiles = writeTestCaFiles(ca.certPem, impostorLeaf);
    const server = await serveHttps(leaf);
    const impostor = await serveHttps(impostorLeaf);
    try {
      const verified = await run('openssl', ['verify', '-purpose', 'sslserver', '-CAfile', ca.certFile, files.certFile]);
      assert.equal(verified.stdout.trim(), `${files.certFile}: OK`);
      const refused = await run('openssl', ['verify', '-purpose', 'sslserver', '-CAfile', ca.certFile, impostorFiles.certFile]);
      assert.notEqual(refused.code, 0);
      const curled = await run('curl', ['-sS', '--cacert', ca.certFile, `https://127.0.0.1:${server.port}/`]);
      assert.equal(curled.stdout, 'hello over tls');
      const curledLocalhost = await run('curl', ['-sS', '--cacert', ca.certFile, `https://localhost:${server.port}/`]);
      assert.equal(curledLocalhost.stdout, 'hello over tls');
      const curledImpostor = await run('curl', ['-sS', '--cacert', ca.certFile, `https://127.0.0.1:${impostor.port}/`]);
      assert.equal(curledImpostor.stdout, '');
      assert.match(curledImpostor.stderr, /certificate/i);
    } finally {
      await server.close();
      await impostor.close();
      files.remove();
      impostorFiles.remove();
    }
  });

  test('adversarial: an impostor leaf from another CA, and a leaf of this CA for another host, are both refused by a client trusting the CA', async () => {
    const ca = await loadOrCreateLocalCa(homePaths(path.join(dir, 'impostor')));
    const impostor = await serveHttps(await leafFromAnotherCa());
    try {
      assert.deepEqual(await getTrusting(ca.certPem, '127.0.0.1', impostor.port), { error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    } finally {
      await impostor.close();
    }
    const testCa = await makeTestCa();
    const wrongHost = await serveHttps(await testCa.leafForOtherHost('other.invalid'));
    try {
      assert.deepEqual(await getTrusting(testCa.certPem, '127.0.0.1', wrongHost.port), { error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    } finally {
      await wrongHost.close();
    }
    const expired = await serveHttps(await testCa.expiredLeaf());
    try {
      assert.deepEqual(await getTrusting(testCa.certPem, '127.0.0.1', expired.port), { error: 'CERT_HAS_EXPIRED' });
    } finally {
      await expired.close();
    }
  });

  test('a key file others can read is refused with the fix, and used again once it is 0600', async () => {
    const paths = homePaths(path.join(dir, 'mode'));
    await loadOrCreateLocalCa(paths);
    for (const mode of [0o640, 0o604, 0o666]) {
      chmodSync(paths.caKey, mode);
      await assert.rejects(loadOrCreateLocalCa(paths), {
        message: `airlockd will not use its local CA: ${paths.caKey} can be read or changed by other users (mode 0${mode.toString(8)}); run chmod 600 ${paths.caKey}`,
      });
    }
    assert.equal(statSync(paths.caKey).mode & 0o777, 0o666, 'the refusal changes nothing on disk');
    chmodSync(paths.caKey, 0o600);
    await loadOrCreateLocalCa(paths);
  });

  test('a key file of another user is refused', async () => {
    const uid = process.getuid!();
    const paths = homePaths(path.join(dir, 'owner'));
    await loadOrCreateLocalCa(paths);
    // as root, the key given to nobody; otherwise the key path pointed at /etc/hostname, which belongs to root
    const owner = uid === 0 ? 65534 : 0;
    if (uid === 0) chownSync(paths.caKey, owner, owner);
    else {
      rmSync(paths.caKey);
      symlinkSync('/etc/hostname', paths.caKey);
    }
    await assert.rejects(loadOrCreateLocalCa(paths), (err: Error) => {
      assert.match(err.message, new RegExp(`^airlockd will not use its local CA: ${paths.caKey} belongs to uid ${owner}, not to airlockd's user \\(uid ${uid}\\); chown it`));
      return true;
    });
  });

  test('bad input: half a CA, a key of another CA, and garbage are refused rather than replaced', async () => {
    const half = homePaths(path.join(dir, 'half'));
    await loadOrCreateLocalCa(half);
    const certBefore = readFileSync(half.caCert, 'utf8');
    rmSync(half.caKey);
    await assert.rejects(loadOrCreateLocalCa(half), { message: new RegExp(`^airlockd will not use its local CA: ${half.caCert} is there but its key ${half.caKey} is missing; move ${half.caDir} away`) });
    assert.equal(readFileSync(half.caCert, 'utf8'), certBefore, 'the certificate kubeconfigs trust is left alone');

    const noCert = homePaths(path.join(dir, 'nocert'));
    await loadOrCreateLocalCa(noCert);
    rmSync(noCert.caCert);
    await assert.rejects(loadOrCreateLocalCa(noCert), /its certificate .* is missing/);

    const mixed = homePaths(path.join(dir, 'mixed'));
    await loadOrCreateLocalCa(mixed);
    const other = await makeTestCa();
    writeFileSync(mixed.caKey, other.ca.keyPem, { mode: 0o600 });
    await assert.rejects(loadOrCreateLocalCa(mixed), { message: `airlockd will not use its local CA in ${mixed.caDir}: its private key does not belong to its certificate; move ${mixed.caDir} away to have a new CA made (kubeconfigs then need "airlock kubeconfig" again)` });

    const garbage = homePaths(path.join(dir, 'garbage'));
    await loadOrCreateLocalCa(garbage);
    writeFileSync(garbage.caCert, 'not a certificate\n');
    await assert.rejects(loadOrCreateLocalCa(garbage), new RegExp(`^Error: airlockd will not use its local CA in ${garbage.caDir}: .*; move`));
  });

  test('an expired CA issues nothing and says so', async () => {
    let now = new Date();
    const ca = await loadOrCreateLocalCa(homePaths(path.join(dir, 'expired')), { now: () => now });
    now = new Date(Date.now() + 11 * 365 * day);
    await assert.rejects(ca.leafFor(), /^Error: airlockd's local CA .*ca\.crt expired on /);
  });
});
