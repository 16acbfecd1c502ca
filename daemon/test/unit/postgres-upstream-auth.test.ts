import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CredentialRefused, UpstreamAuthenticator, type UpstreamAuthOptions } from '../../src/proxies/postgres/upstream-auth.js';
import { parseRequireAuth } from '../../src/proxies/postgres/upstream-settings.js';
import { ScramServerExchange } from '../../src/proxies/postgres/scram.js';
import { scramVerifier } from '../../src/sessions/scram-verifier.js';

/**
 * The upstream login as message sequences: the server's Authentication requests in, the daemon's
 * answers (or refusals) out. The password getter counts its calls, so a refusal is shown to
 * happen before the password was even read.
 */

const SECRET = 'correct horse battery staple';

function request(code: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.write('R', 0);
  head.writeInt32BE(8 + body.length, 1);
  head.writeInt32BE(code, 5);
  return Buffer.concat([head, body]);
}
const ok = () => request(0);
const cleartext = () => request(3);
const md5 = () => request(5, Buffer.from([1, 2, 3, 4]));
const sasl = (...mechanisms: string[]) => request(10, Buffer.concat([...mechanisms.map((m) => Buffer.from(m + '\0')), Buffer.from([0])]));
const saslContinue = (data: string) => request(11, Buffer.from(data));
const saslFinal = (data: string) => request(12, Buffer.from(data));

function authenticator(overrides: Partial<UpstreamAuthOptions> & { requireAuthText?: string } = {}): { auth: UpstreamAuthenticator; reads: () => number } {
  let reads = 0;
  const { requireAuthText, ...rest } = overrides;
  const auth = new UpstreamAuthenticator({
    target: 'app',
    address: '127.0.0.1:5433',
    user: 'app',
    sslmode: 'prefer',
    requireAuth: parseRequireAuth('app', requireAuthText ?? null),
    channelBinding: 'prefer',
    transport: 'plain',
    certificateHash: () => Buffer.alloc(32, 7),
    password: () => {
      reads++;
      return SECRET;
    },
    ...rest,
  });
  return { auth, reads: () => reads };
}

/** A PasswordMessage's text. */
function passwordOf(message: Buffer | undefined): string {
  assert.ok(message, 'a reply was sent');
  assert.equal(String.fromCharCode(message[0]!), 'p');
  return message.subarray(5, message.length - 1).toString('utf8');
}

/** The SASLInitialResponse: mechanism and client-first-message. */
function initialResponse(message: Buffer | undefined): { mechanism: string; data: string } {
  assert.ok(message);
  const end = message.indexOf(0, 5);
  const mechanism = message.toString('utf8', 5, end);
  const length = message.readInt32BE(end + 1);
  return { mechanism, data: message.toString('utf8', end + 5, end + 5 + length) };
}

describe('upstream login: when the password may be sent', () => {
  test('cleartext over plain TCP is refused before the password is read, with the fix in the message', () => {
    const { auth, reads } = authenticator();
    assert.throws(
      () => auth.onRequest(cleartext()),
      (err: Error) => {
        assert.ok(err instanceof CredentialRefused);
        assert.equal(
          err.message,
          'target "app": the server at 127.0.0.1:5433 asked for the password in cleartext over an unverified connection (plain TCP); Airlock sends it only by SCRAM or over TLS it verified (set sslmode=verify-full, or require_auth=password on the target to allow it)',
        );
        return true;
      },
    );
    assert.equal(reads(), 0);
  });

  test('md5 over plain TCP or unverified TLS is refused too', () => {
    const plain = authenticator();
    assert.throws(() => plain.auth.onRequest(md5()), /asked for the password as an MD5 hash over an unverified connection \(plain TCP\).*require_auth=md5 on the target/);
    const tls = authenticator({ transport: 'tls-unverified', sslmode: 'require' });
    assert.throws(() => tls.auth.onRequest(md5()), /over an unverified connection \(TLS whose certificate was not verified \(sslmode=require\)\)/);
    assert.throws(() => authenticator({ transport: 'tls-unverified', sslmode: 'require' }).auth.onRequest(cleartext()), CredentialRefused);
    assert.equal(plain.reads() + tls.reads(), 0);
  });

  test('over verified TLS cleartext and md5 are answered', () => {
    const a = authenticator({ transport: 'tls-verified', sslmode: 'verify-full' });
    assert.equal(passwordOf(a.auth.onRequest(cleartext())), SECRET);
    assert.equal(a.auth.onRequest(ok()), undefined);
    assert.equal(a.auth.method, 'password');
    const b = authenticator({ transport: 'tls-verified', sslmode: 'verify-ca' });
    assert.match(passwordOf(b.auth.onRequest(md5())), /^md5[0-9a-f]{32}$/);
    b.auth.onRequest(ok());
    assert.equal(b.auth.method, 'md5');
  });

  test('require_auth=password is the explicit opt-in over plain TCP; a list without it refuses it anywhere', () => {
    const optIn = authenticator({ requireAuthText: 'password' });
    assert.equal(passwordOf(optIn.auth.onRequest(cleartext())), SECRET);
    const scramOnly = authenticator({ requireAuthText: 'scram-sha-256', transport: 'tls-verified', sslmode: 'verify-full' });
    assert.throws(() => scramOnly.auth.onRequest(cleartext()), /asked for the password in cleartext, which the target's require_auth=scram-sha-256 does not allow/);
    const negated = authenticator({ requireAuthText: '!password', transport: 'tls-verified', sslmode: 'verify-full' });
    assert.throws(() => negated.auth.onRequest(cleartext()), /require_auth=!password does not allow/);
    assert.equal(scramOnly.reads() + negated.reads(), 0);
  });

  test('channel_binding=require refuses anything but SCRAM-SHA-256-PLUS', () => {
    const a = authenticator({ channelBinding: 'require', transport: 'tls-verified', sslmode: 'verify-full' });
    assert.throws(() => a.auth.onRequest(cleartext()), /channel_binding=require accepts only SCRAM-SHA-256-PLUS/);
    assert.throws(() => authenticator({ channelBinding: 'require' }).auth.onRequest(sasl('SCRAM-SHA-256')), /channel_binding=require needs SCRAM-SHA-256-PLUS, but the connection does not use TLS/);
    assert.throws(() => authenticator({ channelBinding: 'require', transport: 'tls-unverified' }).auth.onRequest(sasl('SCRAM-SHA-256')), /but the server offers only SCRAM-SHA-256/);
    assert.throws(() => authenticator({ channelBinding: 'require', transport: 'tls-unverified' }).auth.onRequest(ok()), /let Airlock in without authentication, but channel_binding=require/);
    assert.equal(a.reads(), 0);
  });

  test('a server that asks for nothing: allowed by default (the password is not sent), refused by require_auth=!none', () => {
    const a = authenticator();
    a.auth.onRequest(ok());
    assert.equal(a.auth.method, 'none');
    assert.equal(a.reads(), 0);
    assert.throws(() => authenticator({ requireAuthText: '!none' }).auth.onRequest(ok()), /let Airlock in without authentication, which the target's require_auth=!none does not allow/);
    assert.throws(() => authenticator({ requireAuthText: 'scram-sha-256' }).auth.onRequest(ok()), /require_auth=scram-sha-256 does not allow/);
  });

  test('SCRAM over plain TCP: no channel binding (gs2 n), the server proves itself before AuthenticationOk counts', () => {
    const salt = randomBytes(16);
    const server = new ScramServerExchange(salt, 4096);
    const verifier = scramVerifier(SECRET, salt, 4096);
    const { auth } = authenticator();
    const first = initialResponse(auth.onRequest(sasl('SCRAM-SHA-256')));
    assert.equal(first.mechanism, 'SCRAM-SHA-256');
    assert.match(first.data, /^n,,n=\*,r=/);
    const serverFirst = server.start(first.mechanism, first.data);
    const final = auth.onRequest(saslContinue(serverFirst))!;
    const clientFinal = final.subarray(5).toString('utf8');
    assert.match(clientFinal, /^c=biws,/);
    const verdict = server.finish(clientFinal, [verifier]);
    assert.ok(verdict, 'the real server side accepts the proof');
    auth.onRequest(saslFinal(verdict.serverFinal));
    auth.onRequest(ok());
    assert.equal(auth.method, 'SCRAM-SHA-256');
  });

  test('AuthenticationOk before the SCRAM server proved itself, or a wrong proof, fails the login', () => {
    const skipped = authenticator();
    initialResponse(skipped.auth.onRequest(sasl('SCRAM-SHA-256')));
    assert.throws(() => skipped.auth.onRequest(ok()), /ended SCRAM authentication without proving it knows the password/);
    assert.equal(skipped.auth.method, undefined);

    const wrong = authenticator();
    const nonce = /r=([^,]+)/.exec(initialResponse(wrong.auth.onRequest(sasl('SCRAM-SHA-256'))).data)![1]!;
    wrong.auth.onRequest(saslContinue(`r=${nonce}server,s=${randomBytes(16).toString('base64')},i=4096`));
    assert.throws(() => wrong.auth.onRequest(saslFinal(`v=${randomBytes(32).toString('base64')}`)), /could not prove it knows the password/);
  });

  test('over TLS with -PLUS offered: SCRAM-SHA-256-PLUS bound to the certificate hash', () => {
    const hash = randomBytes(32);
    const { auth } = authenticator({ transport: 'tls-unverified', sslmode: 'require', certificateHash: () => hash });
    const first = initialResponse(auth.onRequest(sasl('SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256')));
    assert.equal(first.mechanism, 'SCRAM-SHA-256-PLUS');
    assert.match(first.data, /^p=tls-server-end-point,,n=\*,r=/);
    const nonce = /r=([^,]+)/.exec(first.data)![1]!;
    const clientFinal = auth.onRequest(saslContinue(`r=${nonce}server,s=${randomBytes(16).toString('base64')},i=4096`))!.subarray(5).toString('utf8');
    const c = Buffer.from(/^c=([^,]+)/.exec(clientFinal)![1]!, 'base64');
    assert.deepEqual(c, Buffer.concat([Buffer.from('p=tls-server-end-point,,'), hash]));
    // the server never proved itself: its AuthenticationOk does not end the login
    assert.throws(() => auth.onRequest(ok()), /ended SCRAM authentication without proving it knows the password/);
  });

  test('over TLS when the server does not offer -PLUS: gs2 y (so a stripped offer is caught by the real server); channel_binding=disable: n', () => {
    const y = authenticator({ transport: 'tls-verified', sslmode: 'verify-full' });
    assert.match(initialResponse(y.auth.onRequest(sasl('SCRAM-SHA-256'))).data, /^y,,/);
    const n = authenticator({ transport: 'tls-verified', sslmode: 'verify-full', channelBinding: 'disable' });
    const first = initialResponse(n.auth.onRequest(sasl('SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256')));
    assert.equal(first.mechanism, 'SCRAM-SHA-256');
    assert.match(first.data, /^n,,/);
  });

  test('a certificate whose hash cannot be computed: a clear refusal, not a login without binding', () => {
    const { auth } = authenticator({
      transport: 'tls-verified',
      sslmode: 'verify-full',
      certificateHash: () => {
        throw new Error('unknown signature algorithm');
      },
    });
    assert.throws(() => auth.onRequest(sasl('SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256')), /cannot bind SCRAM to the TLS connection with 127.0.0.1:5433: unknown signature algorithm \(set channel_binding=disable/);
  });

  test('requests Airlock does not speak, malformed ones and a change of method are refused', () => {
    assert.throws(() => authenticator().auth.onRequest(request(7)), /asked for GSSAPI authentication, which Airlock does not speak/);
    assert.throws(() => authenticator().auth.onRequest(request(42)), /authentication of an unknown kind \(42\)/);
    // pg-protocol would read this as AuthenticationOk
    assert.throws(() => authenticator({ requireAuthText: 'password' }).auth.onRequest(request(3, Buffer.from([0]))), /sent a malformed cleartext password request/);
    assert.throws(() => authenticator().auth.onRequest(request(0, Buffer.from([0]))), /malformed AuthenticationOk/);
    assert.throws(() => authenticator().auth.onRequest(sasl('SCRAM-SHA-1')), /offers only SCRAM-SHA-1; Airlock speaks SCRAM-SHA-256 and SCRAM-SHA-256-PLUS/);
    const twice = authenticator({ requireAuthText: 'password,scram-sha-256' });
    twice.auth.onRequest(sasl('SCRAM-SHA-256'));
    assert.throws(() => twice.auth.onRequest(cleartext()), /asked for password authentication after it had asked for scram/);
    assert.throws(() => authenticator().auth.onRequest(saslContinue('r=x')), /SCRAM challenge out of turn/);
  });
});
