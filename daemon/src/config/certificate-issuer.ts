// @peculiar/x509 decorates its ASN.1 classes and needs Reflect.metadata before it loads
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { isIP } from 'node:net';
import { randomBytes, webcrypto } from 'node:crypto';

/**
 * Making certificates: a certificate authority and the server certificates it signs, EC P-256 keys
 * through WebCrypto. The daemon's local CA (local-ca.ts) keeps one on disk; tests make throw-away ones
 * with the same code, so what they trust is what the daemon serves.
 */

x509.cryptoProvider.set(webcrypto);

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A certificate authority held in memory: its certificate, and its key as WebCrypto and as PEM. */
export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
  /** the parsed certificate, for issuing (issuer name, key identifier) */
  certificate: x509.X509Certificate;
  signingKey: webcrypto.CryptoKey;
  notAfter: Date;
}

/** A server certificate and its private key, both PEM, as `tls.createServer` takes them. */
export interface ServerCertificate {
  certPem: string;
  keyPem: string;
  notAfter: Date;
  /** the names and addresses in its subjectAltName, loopback ones included */
  hosts: string[];
}

export interface AuthorityOptions {
  commonName: string;
  notBefore?: Date;
  notAfter: Date;
}

export interface ServerCertificateOptions {
  /** DNS names or IP addresses, besides the loopback ones */
  hosts: readonly string[];
  notBefore?: Date;
  notAfter: Date;
  commonName?: string;
  /** 127.0.0.1, ::1 and localhost, which every local listener answers on; off only for tests of a wrong name */
  loopback?: boolean;
}

/** Loopback names a listener certificate always carries: the agent reaches a listener on one of them. */
export const loopbackHosts: readonly string[] = ['127.0.0.1', '::1', 'localhost'];

/** A random positive serial number (RFC 5280: at most 20 octets, non-negative), hex. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

/** A minute back, so a clock a little behind the daemon's does not see a certificate from the future. */
function defaultNotBefore(): Date {
  return new Date(Date.now() - 60_000);
}

async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
}

/** A new self-signed CA that may sign server certificates but no further CA (pathLen 0). */
export async function createCertificateAuthority(options: AuthorityOptions): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [options.commonName] }],
    notBefore: options.notBefore ?? defaultNotBefore(),
    notAfter: options.notAfter,
    signingAlgorithm: ecdsa,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: certificate.toString('pem'), keyPem: await exportKeyPem(keys.privateKey), certificate, signingKey: keys.privateKey, notAfter: certificate.notAfter };
}

/** Reads a CA from its PEM certificate and PKCS#8 key; throws when either does not parse or they do not belong together. */
export async function authorityFromPem(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  const certificate = new x509.X509Certificate(certPem);
  const signingKey = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(keyPem), ecdsa, true, ['sign']);
  // a CA whose key is not the certificate's would sign leaves no client can verify
  const probe = new Uint8Array(randomBytes(32));
  const signature = await webcrypto.subtle.sign(ecdsa, signingKey, probe);
  const publicKey = await certificate.publicKey.export(ecdsa, ['verify']);
  if (!(await webcrypto.subtle.verify(ecdsa, publicKey, signature, probe))) {
    throw new Error('its private key does not belong to its certificate');
  }
  return { certPem: certificate.toString('pem'), keyPem, certificate, signingKey, notAfter: certificate.notAfter };
}

function generalName(host: string): x509.JsonGeneralName {
  return isIP(host) ? { type: 'ip', value: host } : { type: 'dns', value: host };
}

/** A server certificate signed by `ca` for the given hosts (and the loopback names unless told not to). */
export async function issueServerCertificate(ca: CertificateAuthority, options: ServerCertificateOptions): Promise<ServerCertificate> {
  const hosts = [...new Set([...(options.loopback === false ? [] : loopbackHosts), ...options.hosts])];
  if (hosts.length === 0) throw new Error('a server certificate needs at least one host name or address');
  // a leaf that outlives its CA would fail verification from the day the CA expires
  const notAfter = new Date(Math.min(options.notAfter.getTime(), ca.notAfter.getTime()));
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [options.commonName ?? hosts[0]!] }],
    issuer: ca.certificate.subjectName,
    notBefore: options.notBefore ?? defaultNotBefore(),
    notAfter,
    signingAlgorithm: ecdsa,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(hosts.map(generalName), false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate, false),
    ],
  });
  return { certPem: certificate.toString('pem'), keyPem: await exportKeyPem(keys.privateKey), notAfter: certificate.notAfter, hosts };
}
