import { createHash } from 'node:crypto';

/**
 * tls-server-end-point channel binding data (RFC 5929 section 4.1), what SCRAM-SHA-256-PLUS binds
 * the login to: the hash of the server's certificate, with the hash function of the certificate's
 * signature algorithm, except that MD5 and SHA-1 are replaced by SHA-256. A server in the middle
 * holding another certificate cannot forward the exchange: its hash differs and the real server
 * refuses the proof. PostgreSQL computes the same on its side (be_tls_get_certificate_hash).
 */
export function tlsServerEndPoint(certificateDer: Buffer): Buffer {
  return createHash(certificateHashName(certificateDer)).update(certificateDer).digest();
}

const SHA256 = 'sha256';

/** Hash of a signature algorithm OID, as RFC 5929 uses it; undefined for an algorithm without one. */
const SIGNATURE_HASH: Record<string, string> = {
  '1.2.840.113549.1.1.4': SHA256, // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': SHA256, // sha1WithRSAEncryption
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.10040.4.3': SHA256, // dsa-with-sha1
  '2.16.840.1.101.3.4.3.2': 'sha256', // dsa-with-sha256
  '1.2.840.10045.4.1': SHA256, // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

/** Digest algorithm OIDs, for RSASSA-PSS, whose hash is a parameter. */
const DIGEST: Record<string, string> = {
  '1.3.14.3.2.26': SHA256, // sha1
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '2.16.840.1.101.3.4.2.4': 'sha224',
};

const RSASSA_PSS = '1.2.840.113549.1.1.10';

export class ChannelBindingError extends Error {}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signatureValue } */
export function certificateHashName(der: Buffer): string {
  const certificate = readTlv(der, 0);
  const tbs = readTlv(der, certificate.start);
  const algorithm = readTlv(der, tbs.end);
  const oid = readTlv(der, algorithm.start);
  const name = decodeOid(der.subarray(oid.start, oid.end));
  if (name === RSASSA_PSS) {
    // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, ... }
    if (oid.end >= algorithm.end) return SHA256;
    const params = readTlv(der, oid.end);
    if (params.start >= params.end) return SHA256;
    const first = readTlv(der, params.start);
    if (first.tag !== 0xa0) return SHA256;
    const hashAlgorithm = readTlv(der, first.start);
    const hashOid = readTlv(der, hashAlgorithm.start);
    const digest = DIGEST[decodeOid(der.subarray(hashOid.start, hashOid.end))];
    if (digest) return digest;
    throw new ChannelBindingError('the server certificate is signed with RSASSA-PSS over a hash Airlock does not know');
  }
  const hash = SIGNATURE_HASH[name];
  if (!hash) throw new ChannelBindingError(`the server certificate's signature algorithm (OID ${name}) has no hash for tls-server-end-point channel binding`);
  return hash;
}

interface Tlv {
  tag: number;
  /** first byte of the value */
  start: number;
  /** one past its last byte */
  end: number;
}

function readTlv(der: Buffer, at: number): Tlv {
  if (at + 2 > der.length) throw new ChannelBindingError('the server certificate is truncated');
  const tag = der[at]!;
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > der.length) throw new ChannelBindingError('the server certificate has a malformed length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  if (start + length > der.length) throw new ChannelBindingError('the server certificate is truncated');
  return { tag, start, end: start + length };
}

function decodeOid(bytes: Buffer): string {
  if (bytes.length === 0) throw new ChannelBindingError('the server certificate has an empty algorithm identifier');
  const parts: number[] = [Math.floor(Math.min(bytes[0]!, 80) / 40), bytes[0]! >= 80 ? bytes[0]! - 80 : bytes[0]! % 40];
  let value = 0;
  for (let i = 1; i < bytes.length; i++) {
    value = value * 128 + (bytes[i]! & 0x7f);
    if (!(bytes[i]! & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}
