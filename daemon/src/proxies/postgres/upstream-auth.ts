import { serialize } from 'pg-protocol';
import { ProtocolError } from './protocol.js';
import { ScramClientExchange, md5Password, SCRAM_MECHANISM, SCRAM_PLUS_MECHANISM, type ScramChannelBinding } from './scram.js';
import { methodAllowed, requireAuthText, type ChannelBinding, type RequireAuth, type SslMode } from './upstream-settings.js';

/**
 * The daemon's side of the upstream login, as a pure state machine: it takes the server's
 * Authentication messages and returns what to send, or refuses. Every request for the password is
 * judged here before a byte of it is produced (see upstream-settings.ts for the rules), and the
 * end of the exchange is checked too: AuthenticationOk is accepted only after the chosen method
 * has finished (a SCRAM server must first prove it knows the password), so a server cannot skip
 * the part that authenticates it.
 */

export type UpstreamAuthMethod = 'SCRAM-SHA-256-PLUS' | 'SCRAM-SHA-256' | 'password' | 'md5' | 'none';

/** A request for the password the daemon will not answer: the connection fails without sending it. */
export class CredentialRefused extends ProtocolError {
  constructor(message: string) {
    super(message, '28000');
    this.name = 'CredentialRefused';
  }
}

export interface UpstreamAuthOptions {
  target: string;
  /** host:port, for messages */
  address: string;
  user: string;
  sslmode: SslMode;
  requireAuth: RequireAuth;
  channelBinding: ChannelBinding;
  /** plain TCP, TLS whose certificate was not checked, or TLS verified against a CA */
  transport: 'plain' | 'tls-unverified' | 'tls-verified';
  /** the server certificate's tls-server-end-point hash (TLS only); may throw for an unknown signature algorithm */
  certificateHash?: () => Buffer;
  /** the real password; undefined when the target has no credential */
  password: () => string | undefined;
}

const AUTH_OK = 0;
const AUTH_CLEARTEXT = 3;
const AUTH_MD5 = 5;
const AUTH_SASL = 10;
const AUTH_SASL_CONTINUE = 11;
const AUTH_SASL_FINAL = 12;

/** Requests Airlock does not answer at all, named for the message. */
const UNSPOKEN: Record<number, string> = { 2: 'Kerberos V5', 6: 'SCM credentials', 7: 'GSSAPI', 8: 'GSSAPI', 9: 'SSPI' };

export class UpstreamAuthenticator {
  /** the method the login used, once AuthenticationOk arrived */
  method: UpstreamAuthMethod | undefined;
  private chosen: 'password' | 'md5' | 'scram' | undefined;
  private scram: ScramClientExchange | undefined;

  constructor(private readonly options: UpstreamAuthOptions) {}

  /**
   * One Authentication ('R') message, whole. Returns the bytes to send (undefined: nothing), or
   * throws a CredentialRefused / ProtocolError; after AuthenticationOk, `method` is set.
   */
  onRequest(raw: Buffer): Buffer | undefined {
    const o = this.options;
    if (raw.length < 9 || raw[0] !== 0x52) throw this.protocol('sent a malformed authentication request');
    const code = raw.readInt32BE(5);
    const body = raw.subarray(9);
    switch (code) {
      case AUTH_OK:
        if (body.length !== 0) throw this.protocol('sent a malformed AuthenticationOk');
        this.method = this.finish();
        return undefined;
      case AUTH_CLEARTEXT:
        if (body.length !== 0) throw this.protocol('sent a malformed cleartext password request');
        this.begin('password');
        this.allow('password');
        return serialize.password(this.password());
      case AUTH_MD5:
        if (body.length !== 4) throw this.protocol('sent a malformed MD5 password request');
        this.begin('md5');
        this.allow('md5');
        return serialize.password(md5Password(o.user, this.password(), Buffer.from(body)));
      case AUTH_SASL:
        this.begin('scram');
        return this.startScram(parseMechanisms(body));
      case AUTH_SASL_CONTINUE:
        if (this.scram === undefined || this.scram.verified) throw this.protocol('sent a SCRAM challenge out of turn');
        return serialize.sendSCRAMClientFinalMessage(this.scram.clientFinal(body.toString('utf8')));
      case AUTH_SASL_FINAL:
        if (this.scram === undefined) throw this.protocol('sent a SCRAM final message out of turn');
        this.scram.verifyServerFinal(body.toString('utf8'));
        return undefined;
      default: {
        const name = UNSPOKEN[code];
        throw new CredentialRefused(`target "${o.target}": the server at ${o.address} asked for ${name ? `${name} authentication` : `authentication of an unknown kind (${code})`}, which Airlock does not speak; it logs in with SCRAM-SHA-256, or with a password over verified TLS`);
      }
    }
  }

  private begin(method: 'password' | 'md5' | 'scram'): void {
    if (this.chosen !== undefined) throw this.protocol(`asked for ${method} authentication after it had asked for ${this.chosen}`);
    this.chosen = method;
  }

  /** Cleartext and md5 reveal the password (md5: a hash that can be cracked offline) to whoever asks. */
  private allow(method: 'password' | 'md5'): void {
    const o = this.options;
    const how = method === 'password' ? 'in cleartext' : 'as an MD5 hash';
    if (o.channelBinding === 'require') {
      throw new CredentialRefused(`target "${o.target}": the server at ${o.address} asked for the password ${how}, but channel_binding=require accepts only SCRAM-SHA-256-PLUS (set channel_binding=prefer to allow other methods)`);
    }
    if (methodAllowed(o.requireAuth, method, o.transport === 'tls-verified')) return;
    if (o.requireAuth.kind === 'only' || o.requireAuth.denied.includes(method)) {
      throw new CredentialRefused(`target "${o.target}": the server at ${o.address} asked for the password ${how}, which the target's require_auth=${requireAuthText(o.requireAuth)} does not allow`);
    }
    const over = o.transport === 'plain' ? 'plain TCP' : `TLS whose certificate was not verified (sslmode=${o.sslmode})`;
    throw new CredentialRefused(
      `target "${o.target}": the server at ${o.address} asked for the password ${how} over an unverified connection (${over}); Airlock sends it only by SCRAM or over TLS it verified (set sslmode=verify-full, or require_auth=${method} on the target to allow it)`,
    );
  }

  private startScram(mechanisms: string[]): Buffer {
    const o = this.options;
    if (!methodAllowed(o.requireAuth, 'scram-sha-256', o.transport === 'tls-verified')) {
      throw new CredentialRefused(`target "${o.target}": the server at ${o.address} asked for SCRAM-SHA-256, which the target's require_auth=${requireAuthText(o.requireAuth)} does not allow`);
    }
    const tls = o.transport !== 'plain';
    let binding: ScramChannelBinding;
    if (tls && o.channelBinding !== 'disable' && mechanisms.includes(SCRAM_PLUS_MECHANISM)) {
      binding = { kind: 'bind', data: this.certificateHash() };
    } else if (o.channelBinding === 'require') {
      const why = tls ? `the server offers only ${mechanisms.join(', ')}` : 'the connection does not use TLS';
      throw new CredentialRefused(`target "${o.target}": channel_binding=require needs SCRAM-SHA-256-PLUS, but ${why} (set channel_binding=prefer to log in without it)`);
    } else if (mechanisms.includes(SCRAM_MECHANISM)) {
      binding = tls && o.channelBinding !== 'disable' ? { kind: 'supported' } : { kind: 'none' };
    } else {
      throw new CredentialRefused(`target "${o.target}": the server at ${o.address} offers only ${mechanisms.join(', ') || 'no SASL mechanism'}; Airlock speaks ${SCRAM_MECHANISM} and ${SCRAM_PLUS_MECHANISM}`);
    }
    this.scram = new ScramClientExchange(this.password(), binding);
    return serialize.sendSASLInitialResponseMessage(this.scram.mechanism, this.scram.clientFirst());
  }

  private certificateHash(): Buffer {
    const o = this.options;
    try {
      if (!o.certificateHash) throw new Error('no server certificate');
      return o.certificateHash();
    } catch (err) {
      throw new CredentialRefused(`target "${o.target}": cannot bind SCRAM to the TLS connection with ${o.address}: ${(err as Error).message} (set channel_binding=disable to log in without channel binding)`);
    }
  }

  /** AuthenticationOk: only once the chosen method has run to its end, and only if it may be used. */
  private finish(): UpstreamAuthMethod {
    const o = this.options;
    if (this.chosen === undefined) {
      if (o.channelBinding === 'require') throw new CredentialRefused(`target "${o.target}": the server at ${o.address} let Airlock in without authentication, but channel_binding=require needs SCRAM-SHA-256-PLUS to prove the server knows the password`);
      if (!methodAllowed(o.requireAuth, 'none', o.transport === 'tls-verified')) {
        throw new CredentialRefused(`target "${o.target}": the server at ${o.address} let Airlock in without authentication, which the target's require_auth=${requireAuthText(o.requireAuth)} does not allow`);
      }
      return 'none';
    }
    if (this.chosen === 'scram') {
      if (!this.scram?.verified) throw this.protocol('ended SCRAM authentication without proving it knows the password');
      return this.scram.mechanism as UpstreamAuthMethod;
    }
    return this.chosen;
  }

  private password(): string {
    const password = this.options.password();
    if (password === undefined) throw new ProtocolError(`target "${this.options.target}": the server asks for a password but the target has no credential (add --password-env or --password-file)`, '28P01');
    return password;
  }

  private protocol(what: string): ProtocolError {
    return new ProtocolError(`target "${this.options.target}": the server at ${this.options.address} ${what}`, '08P01');
  }
}

function parseMechanisms(body: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < body.length) {
    const end = body.indexOf(0, at);
    if (end < 0 || end === at) break;
    out.push(body.toString('utf8', at, end));
    at = end + 1;
  }
  return out;
}

