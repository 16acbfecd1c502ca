import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';

/** SCRAM-SHA-256 keys of a secret (RFC 5802): what a server keeps instead of the secret itself. */
export interface ScramVerifier {
  storedKey: Buffer;
  serverKey: Buffer;
}

export function scramVerifier(secret: string, salt: Buffer, iterations: number): ScramVerifier {
  const salted = pbkdf2Sync(secret, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return { storedKey: createHash('sha256').update(clientKey).digest(), serverKey: createHmac('sha256', salted).update('Server Key').digest() };
}
