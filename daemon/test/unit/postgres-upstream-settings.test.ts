import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackHost, methodAllowed, parseRequireAuth, resolveUpstreamSecurity, verifiesCertificate, weakerThanDefault } from '../../src/proxies/postgres/upstream-settings.js';

describe('upstream settings: the URL query, resolved with Airlock defaults', () => {
  test('sslmode defaults to verify-full outside loopback and to prefer on loopback', () => {
    const cases: [string, string][] = [
      ['postgres://app@db.internal:5432/app', 'verify-full'],
      ['postgres://app@10.0.0.5/app', 'verify-full'],
      ['postgres://app@[2001:db8::1]:5432/app', 'verify-full'],
      // a name that merely starts like loopback is not loopback
      ['postgres://app@127.0.0.1.nip.io/app', 'verify-full'],
      ['postgres://app@localhost/app', 'prefer'],
      ['postgres://app@127.0.0.1:5433/app', 'prefer'],
      ['postgres://app@127.8.9.10/app', 'prefer'],
      ['postgres://app@[::1]:5432/app', 'prefer'],
    ];
    for (const [url, expected] of cases) {
      const s = resolveUpstreamSecurity('app', url);
      assert.equal(s.sslmode, expected, url);
      assert.equal(s.sslmodeSet, false, url);
    }
  });

  test('explicit settings are kept, whatever the host', () => {
    const s = resolveUpstreamSecurity('app', 'postgres://app@db.internal/app?sslmode=require&channel_binding=require&require_auth=scram-sha-256&sslrootcert=/etc/ca.pem');
    assert.deepEqual(
      { sslmode: s.sslmode, set: s.sslmodeSet, cb: s.channelBinding, auth: s.requireAuth, root: s.sslrootcert },
      { sslmode: 'require', set: true, cb: 'require', auth: { kind: 'only', methods: ['scram-sha-256'] }, root: '/etc/ca.pem' },
    );
    assert.equal(resolveUpstreamSecurity('app', 'postgres://app@127.0.0.1/app?sslmode=verify-ca').sslmode, 'verify-ca');
    assert.equal(resolveUpstreamSecurity('app', 'postgres://app@db/app').channelBinding, 'prefer');
  });

  test('values libpq does not know, or combinations that cannot work, are refused naming the target', () => {
    assert.throws(() => resolveUpstreamSecurity('app', 'postgres://h/db?sslmode=verify'), /^TargetConfigError: target "app": sslmode "verify" is not one of disable, allow, prefer, require, verify-ca, verify-full$/);
    assert.throws(() => resolveUpstreamSecurity('app', 'postgres://h/db?channel_binding=yes'), /channel_binding "yes" is not one of disable, prefer, require/);
    assert.throws(() => resolveUpstreamSecurity('app', 'postgres://h/db?require_auth=plaintext'), /require_auth method "plaintext" is not one of/);
    assert.throws(() => resolveUpstreamSecurity('app', 'postgres://h/db?require_auth=password,!md5'), /mixes negated \(!\) and plain methods/);
    assert.throws(() => resolveUpstreamSecurity('app', 'postgres://h/db?sslmode=disable&channel_binding=require'), /channel_binding=require needs TLS/);
    assert.throws(() => resolveUpstreamSecurity('app', 'postgres://h/db?sslmode=require&sslrootcert=system'), /sslrootcert=system requires sslmode=verify-full/);
  });

  test('require_auth: a plain list is exactly what is allowed; negation narrows the default', () => {
    assert.deepEqual(parseRequireAuth('t', null), { kind: 'default', denied: [] });
    assert.deepEqual(parseRequireAuth('t', 'password, scram-sha-256'), { kind: 'only', methods: ['password', 'scram-sha-256'] });
    assert.deepEqual(parseRequireAuth('t', '!none,!md5'), { kind: 'default', denied: ['none', 'md5'] });

    const def = parseRequireAuth('t', null);
    // the default: SCRAM and no authentication anywhere; password and md5 only over verified TLS
    assert.deepEqual(
      (['scram-sha-256', 'none', 'password', 'md5', 'gss'] as const).map((m) => [m, methodAllowed(def, m, false), methodAllowed(def, m, true)]),
      [['scram-sha-256', true, true], ['none', true, true], ['password', false, true], ['md5', false, true], ['gss', false, false]],
    );
    const optIn = parseRequireAuth('t', 'password');
    assert.equal(methodAllowed(optIn, 'password', false), true, 'an explicit list is the opt-in to cleartext without verified TLS');
    assert.equal(methodAllowed(optIn, 'scram-sha-256', true), false, 'and, as in libpq, allows nothing else');
    assert.equal(methodAllowed(optIn, 'none', true), false);
    const negated = parseRequireAuth('t', '!none');
    assert.equal(methodAllowed(negated, 'none', true), false);
    assert.equal(methodAllowed(negated, 'password', false), false, 'a negation never opens what the default keeps closed');
    assert.equal(methodAllowed(negated, 'password', true), true);
  });

  test('verified TLS: verify-ca, verify-full, and require with a CA (as libpq)', () => {
    assert.equal(verifiesCertificate({ sslmode: 'verify-full' }), true);
    assert.equal(verifiesCertificate({ sslmode: 'verify-ca' }), true);
    assert.equal(verifiesCertificate({ sslmode: 'require', sslrootcert: '/ca.pem' }), true);
    assert.equal(verifiesCertificate({ sslmode: 'require' }), false);
    assert.equal(verifiesCertificate({ sslmode: 'prefer', sslrootcert: '/ca.pem' }), false);
  });

  test('loopback hosts', () => {
    for (const h of ['localhost', 'LOCALHOST', 'db.localhost', '127.0.0.1', '127.255.0.1', '::1', '[::1]']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['db.internal', '10.0.0.1', '128.0.0.1', '::2', 'localhost.example.com']) assert.equal(isLoopbackHost(h), false, h);
  });

  test('weaker than the default: one sentence per weakening, none for the defaults', () => {
    assert.deepEqual(weakerThanDefault('app', 'postgres://app@db.internal/app'), []);
    assert.deepEqual(weakerThanDefault('app', 'postgres://app@127.0.0.1/app?sslmode=disable'), [], 'loopback keeps its old default; SCRAM still protects the password');
    assert.deepEqual(weakerThanDefault('app', 'postgres://app@db.internal/app?sslmode=verify-ca&require_auth=password'), [], 'cleartext over verified TLS is what the default allows');

    const [ssl, ...rest] = weakerThanDefault('app', 'postgres://app@db.internal/app?sslmode=require');
    assert.equal(ssl, `target "app": sslmode=require does not verify the certificate of db.internal, so whoever answers at that address gets the agents' queries and results (the default for a host outside loopback is verify-full)`);
    assert.deepEqual(rest, []);
    for (const mode of ['disable', 'allow', 'prefer']) assert.match(weakerThanDefault('app', `postgres://app@db.internal/app?sslmode=${mode}`)[0] ?? '', new RegExp(`sslmode=${mode} does not verify`));

    assert.deepEqual(weakerThanDefault('app', 'postgres://app@127.0.0.1/app?require_auth=password'), [
      `target "app": require_auth=password lets the server ask for the password in cleartext without a verified TLS connection, so whoever answers at 127.0.0.1 can capture it (set sslmode=verify-full, or use scram-sha-256)`,
    ]);
    assert.match(weakerThanDefault('app', 'postgres://app@localhost/app?require_auth=md5')[0] ?? '', /as an MD5 hash without a verified TLS connection/);
    assert.deepEqual(weakerThanDefault('app', 'postgres://app@localhost/app?require_auth=!password'), []);
    assert.deepEqual(weakerThanDefault('app', 'postgres://app@localhost/app?channel_binding=disable'), [
      `target "app": channel_binding=disable turns off SCRAM's proof that the TLS connection ends at the server that knows the password (the default is prefer)`,
    ]);
    assert.equal(weakerThanDefault('app', 'postgres://app@db.internal/app?sslmode=prefer&require_auth=password&channel_binding=disable').length, 3);
  });
});
