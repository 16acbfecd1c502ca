import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCertificateAuthority, issueServerCertificate, type CertificateAuthority, type ServerCertificate } from '../../src/config/certificate-issuer.js';

/**
 * Throw-away certificate authorities and server certificates for tests, made with the code the
 * daemon's local CA uses (certificate-issuer.ts). Upstreams started by a test serve a leaf from one of
 * these; the proxy under test is given the CA (in memory, or as a file for a `caFile` setting). For
 * "upstream TLS mismatch" tests there is a leaf for another host and a leaf from another CA.
 */

const day = 24 * 60 * 60 * 1000;

export interface TestCa {
  ca: CertificateAuthority;
  /** the CA certificate, PEM: what a client trusts */
  certPem: string;
  /** a leaf for 127.0.0.1, ::1, localhost and `hosts` */
  leaf(hosts?: readonly string[]): Promise<ServerCertificate>;
  /** a leaf signed by this CA that names only `host` (not loopback): a client connecting to 127.0.0.1 must refuse it */
  leafForOtherHost(host?: string): Promise<ServerCertificate>;
  /** a leaf that expired yesterday */
  expiredLeaf(): Promise<ServerCertificate>;
}

/** A new CA held in memory, valid for a day. */
export async function makeTestCa(name = 'Airlock test CA'): Promise<TestCa> {
  const now = Date.now();
  const ca = await createCertificateAuthority({ commonName: name, notAfter: new Date(now + day) });
  return {
    ca,
    certPem: ca.certPem,
    leaf: (hosts = []) => issueServerCertificate(ca, { hosts, notAfter: new Date(now + day) }),
    leafForOtherHost: (host = 'other.invalid') => issueServerCertificate(ca, { hosts: [host], loopback: false, notAfter: new Date(now + day) }),
    expiredLeaf: () => issueServerCertificate(ca, { hosts: [], notBefore: new Date(now - 2 * day), notAfter: new Date(now - day) }),
  };
}

/** A server certificate for loopback from a CA nobody trusts: what an impostor upstream would serve. */
export async function leafFromAnotherCa(hosts: readonly string[] = []): Promise<ServerCertificate> {
  return (await makeTestCa('Airlock impostor CA')).leaf(hosts);
}

/** PEM files of a CA and a leaf in a fresh temp dir, for settings and clients that take file names. */
export interface TestCaFiles {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  remove(): void;
}

export function writeTestCaFiles(caPem: string, leaf: ServerCertificate): TestCaFiles {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-test-ca-'));
  const files = { caFile: path.join(dir, 'ca.crt'), certFile: path.join(dir, 'server.crt'), keyFile: path.join(dir, 'server.key') };
  writeFileSync(files.caFile, caPem, { mode: 0o644 });
  writeFileSync(files.certFile, leaf.certPem, { mode: 0o644 });
  writeFileSync(files.keyFile, leaf.keyPem, { mode: 0o600 });
  return { dir, ...files, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
