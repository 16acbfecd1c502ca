import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ProtocolError } from './protocol.js';

/** PostgreSQL's scram_iterations defaults to 4096; a hundred times that is about 0.2 s of work here. */
export const MAX_SCRAM_ITERATIONS = 409_600;

/**
 * SCRAM-SHA-256 (RFC 5802 / 7677) as PostgreSQL speaks it, both ways: the server side checks an
 * agent's session token without the token ever being stored (only its verifier), the client side
 * logs in to the upstream with the real password.
 */

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';
/** SCRAM bound to the TLS channel (RFC 5802 section 6, tls-server-end-point per RFC 5929) */
export const SCRAM_PLUS_MECHANISM = 'SCRAM-SHA-256-PLUS';

export type { ScramVerifier } from '../../sessions/scram-verifier.js';
import type { ScramVerifier } from '../../sessions/scram-verifier.js';

const hmac = (key: Buffer, data: string | Buffer): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

/**
 * The server side of one exchange. Every agent session's verifier shares the daemon's salt and
 * iteration count (the server must send them before it knows who is logging in); the proof then
 * says which session's token the client holds.
 */
export class ScramServerExchange {
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';

  constructor(
    private readonly salt: Buffer,
    private readonly iterations: number,
  ) {}

  /** SASLInitialResponse: returns the server-first-message. */
  start(mechanism: string, clientFirst: string): string {
    if (mechanism !== SCRAM_MECHANISM) throw new ProtocolError(`SASL mechanism ${mechanism} is not supported; use ${SCRAM_MECHANISM}`, '28000');
    const gs2 = clientFirst.slice(0, 2);
    if (gs2 === 'p=') throw new ProtocolError('SCRAM channel binding is not supported by Airlock', '28000');
    if (gs2 !== 'n,' && gs2 !== 'y,') throw new ProtocolError('malformed SCRAM client-first-message', '08P01');
    const bareStart = clientFirst.indexOf(',', 2) + 1;
    this.clientFirstBare = clientFirst.slice(bareStart);
    const clientNonce = attributes(this.clientFirstBare).get('r');
    if (!clientNonce) throw new ProtocolError('SCRAM client-first-message without a nonce', '08P01');
    this.nonce = clientNonce + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${this.salt.toString('base64')},i=${this.iterations}`;
    return this.serverFirst;
  }

  /**
   * SASLResponse: finds the verifier whose key the proof was made with. Returns its index and the
   * server-final-message, or null when no candidate matches (wrong token).
   */
  finish(clientFinal: string, candidates: readonly ScramVerifier[]): { index: number; serverFinal: string } | null {
    const proofAt = clientFinal.lastIndexOf(',p=');
    if (proofAt < 0) throw new ProtocolError('SCRAM client-final-message without a proof', '08P01');
    const withoutProof = clientFinal.slice(0, proofAt);
    const attrs = attributes(clientFinal);
    if (attrs.get('r') !== this.nonce) throw new ProtocolError('SCRAM nonce mismatch', '08P01');
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), 'base64');
    if (proof.length !== 32) throw new ProtocolError('malformed SCRAM proof', '08P01');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    for (let i = 0; i < candidates.length; i++) {
      const { storedKey, serverKey } = candidates[i]!;
      const clientKey = xor(proof, hmac(storedKey, authMessage));
      if (timingSafeEqual(sha256(clientKey), storedKey)) {
        return { index: i, serverFinal: `v=${hmac(serverKey, authMessage).toString('base64')}` };
      }
    }
    return null;
  }
}

/**
 * How the client side binds the exchange to the channel (the GS2 header, RFC 5802 section 7):
 * `bind` with tls-server-end-point data for SCRAM-SHA-256-PLUS; `supported` when the client could
 * bind but the server did not offer it (the server refuses this if it did offer -PLUS, which stops a
 * man in the middle from stripping it); `none` without TLS or with channel_binding=disable.
 */
export type ScramChannelBinding = { kind: 'bind'; data: Buffer } | { kind: 'supported' } | { kind: 'none' };

/** The client side, for logging in to the upstream. */
export class ScramClientExchange {
  private readonly clientNonce = randomBytes(18).toString('base64');
  private clientFirstBare = '';
  private expectedServerSignature?: Buffer;
  private readonly gs2Header: string;
  /** the server proved it knows the password (server-final-message checked) */
  verified = false;

  constructor(
    private readonly password: string,
    private readonly binding: ScramChannelBinding = { kind: 'none' },
  ) {
    this.gs2Header = binding.kind === 'bind' ? 'p=tls-server-end-point,,' : binding.kind === 'supported' ? 'y,,' : 'n,,';
  }

  get mechanism(): string {
    return this.binding.kind === 'bind' ? SCRAM_PLUS_MECHANISM : SCRAM_MECHANISM;
  }

  clientFirst(): string {
    this.clientFirstBare = `n=*,r=${this.clientNonce}`;
    return `${this.gs2Header}${this.clientFirstBare}`;
  }

  clientFinal(serverFirst: string): string {
    const attrs = attributes(serverFirst);
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!nonce || !nonce.startsWith(this.clientNonce) || !salt || !Number.isInteger(iterations) || iterations < 1) {
      throw new Error('the upstream sent a malformed SCRAM server-first-message');
    }
    // the key derivation runs on the daemon's event loop: a server (or whatever answers at its
    // address) asking for billions of rounds would stall every session
    if (iterations > MAX_SCRAM_ITERATIONS) {
      throw new Error(`the upstream asked for ${iterations} SCRAM iterations; Airlock computes at most ${MAX_SCRAM_ITERATIONS} (PostgreSQL's default is 4096)`);
    }
    const salted = pbkdf2Sync(this.password, Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const cbindInput = Buffer.concat([Buffer.from(this.gs2Header), this.binding.kind === 'bind' ? this.binding.data : Buffer.alloc(0)]);
    const withoutProof = `c=${cbindInput.toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const proof = xor(clientKey, hmac(sha256(clientKey), authMessage));
    this.expectedServerSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** The upstream must prove it knows the password too. */
  verifyServerFinal(serverFinal: string): void {
    const v = Buffer.from(attributes(serverFinal).get('v') ?? '', 'base64');
    const expected = this.expectedServerSignature;
    if (!expected || v.length !== expected.length || !timingSafeEqual(v, expected)) {
      throw new Error('the upstream server could not prove it knows the password (SCRAM server signature mismatch)');
    }
    this.verified = true;
  }
}

export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password + user).digest('hex');
  return 'md5' + createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex');
}
