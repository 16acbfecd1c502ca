import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { certificateHashName, tlsServerEndPoint } from '../../src/proxies/postgres/channel-binding.js';

/**
 * tls-server-end-point (RFC 5929 4.1) on certificates made by openssl at test time, one per
 * signature algorithm: the hash follows the signature, with MD5 and SHA-1 raised to SHA-256.
 */
describe('channel binding: the certificate hash', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-cb-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function cert(name: string, keyArgs: string[], signArgs: string[]): Buffer {
    const file = path.join(dir, `${name}.crt`);
    execFileSync('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-keyout', path.join(dir, `${name}.key`), '-out', file, '-days', '1', '-subj', `/CN=${name}`, ...signArgs], { stdio: 'ignore' });
    return new X509Certificate(readFileSync(file)).raw;
  }
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  const rsa = ['-newkey', 'rsa:2048'];

  test('the signature hash, SHA-256 for SHA-1', () => {
    const cases: [string, Buffer, string][] = [
      ['ecdsa-with-SHA256', cert('ec256', ec, ['-sha256']), 'sha256'],
      ['ecdsa-with-SHA384', cert('ec384', ec, ['-sha384']), 'sha384'],
      ['sha512WithRSAEncryption', cert('rsa512', rsa, ['-sha512']), 'sha512'],
      ['sha1WithRSAEncryption', cert('rsa1', rsa, ['-sha1']), 'sha256'],
      ['RSASSA-PSS over SHA-384', cert('pss', rsa, ['-sha384', '-sigopt', 'rsa_padding_mode:pss']), 'sha384'],
    ];
    for (const [what, der, hash] of cases) {
      assert.equal(certificateHashName(der), hash, what);
      assert.deepEqual(tlsServerEndPoint(der), createHash(hash).update(der).digest(), what);
    }
  });

  test('an algorithm without a hash (Ed25519) is an error, not a guess', () => {
    const der = cert('ed', ['-newkey', 'ed25519'], []);
    assert.throws(() => tlsServerEndPoint(der), /signature algorithm \(OID 1\.3\.101\.112\) has no hash/);
  });

  test('a truncated certificate is an error', () => {
    const der = cert('ec-trunc', ec, ['-sha256']);
    assert.throws(() => tlsServerEndPoint(der.subarray(0, 40)), /truncated/);
  });
});
