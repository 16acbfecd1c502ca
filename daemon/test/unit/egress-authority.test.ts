import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostPort, parseAbsoluteUrl, parseConnectAuthority } from '../../src/proxies/egress/authority.js';
import { agentCredential } from '../../src/proxies/http/agent-auth.js';

describe('CONNECT authority-form: one canonical host and port, or a sentence why not', () => {
  const accepted: Array<[string, string, number]> = [
    ['registry.example:443', 'registry.example', 443],
    ['REGISTRY.Example:443', 'registry.example', 443],
    ['registry.example.:443', 'registry.example', 443],
    ['127.0.0.1:8080', '127.0.0.1', 8080],
    ['[::1]:443', '::1', 443],
    ['[fd00:ec2::254]:80', 'fd00:ec2::254', 80],
    ['[FD00:EC2::254]:80', 'fd00:ec2::254', 80],
    ['host:1', 'host', 1],
    ['host:65535', 'host', 65535],
    // address spellings an agent could use to hide loopback become the dotted form the check sees
    ['2130706433:80', '127.0.0.1', 80],
    ['0x7f000001:80', '127.0.0.1', 80],
    ['0177.0.0.1:80', '127.0.0.1', 80],
    ['127.1:80', '127.0.0.1', 80],
    ['0x7f.0.0.1:80', '127.0.0.1', 80],
    ['[::ffff:127.0.0.1]:80', '::ffff:7f00:1', 80],
    ['169.254.169.254.:80', '169.254.169.254', 80],
    ['bücher.example:443', 'xn--bcher-kva.example', 443],
  ];
  for (const [authority, host, port] of accepted) {
    test(`${authority} → ${host} port ${port}`, () => {
      assert.deepEqual(parseConnectAuthority(authority), { ok: true, host, port });
    });
  }

  const refused: Array<[string, RegExp]> = [
    ['registry.example', /port is required/],
    ['registry.example:', /port must be a number/],
    ['registry.example:0', /1 to 65535/],
    ['registry.example:65536', /1 to 65535/],
    ['registry.example:99999', /1 to 65535/],
    ['registry.example:+443', /port must be a number/],
    ['registry.example:44 3', /no path/],
    ['registry.example:0x1bb', /port must be a number/],
    ['user:pass@registry.example:443', /credentials in the authority/],
    ['registry.example@127.0.0.1:443', /credentials in the authority/],
    ['registry.example:443/path', /no path/],
    ['registry.example:443?x', /no path/],
    ['registry.example%2f:443', /no path/],
    ['::1:443', /IPv6 address goes in brackets/],
    ['[::1]', /port is required/],
    ['[::1:443', /closing bracket/],
    ['[::1]x:443', /port is required/],
    ['[127.0.0.1]:443', /not a valid host/],
    [':443', /not a valid host/],
    ['[]:443', /not a valid host/],
    ['', /needs host:port/],
    ['exa mple:443', /no path/],
    ['a<b:443', /not a valid host/],
    ['256.256.256.256:443', /not a valid host/],
  ];
  for (const [authority, reason] of refused) {
    test(`refused: ${JSON.stringify(authority)}`, () => {
      const parsed = parseConnectAuthority(authority);
      assert.equal(parsed.ok, false);
      assert.match((parsed as { reason: string }).reason, reason);
    });
  }

  test('a very long authority is quoted bounded in the reason', () => {
    const parsed = parseConnectAuthority(`${'a'.repeat(10_000)}`);
    assert.equal(parsed.ok, false);
    assert.ok((parsed as { reason: string }).reason.length < 400);
  });

  test('hostPort brackets IPv6 addresses, as grant keys and summaries write them', () => {
    assert.equal(hostPort({ host: '::1', port: 443 }), '[::1]:443');
    assert.equal(hostPort({ host: 'registry.example', port: 443 }), 'registry.example:443');
  });
});

describe('absolute-form request-targets for plain HTTP', () => {
  test('http://host/path: host, default port 80, the URL kept', () => {
    const parsed = parseAbsoluteUrl('http://Example.COM/a?b=1');
    assert.equal(parsed.ok, true);
    assert.equal((parsed as { host: string }).host, 'example.com');
    assert.equal((parsed as { port: number }).port, 80);
  });
  test('a numeric IPv4 host is the address the check sees', () => {
    const parsed = parseAbsoluteUrl('http://2130706433:8080/');
    assert.deepEqual([(parsed as { host: string }).host, (parsed as { port: number }).port], ['127.0.0.1', 8080]);
  });
  test('an IPv6 host loses its brackets', () => {
    assert.equal((parseAbsoluteUrl('http://[fd00:ec2::254]/latest/meta-data') as { host: string }).host, 'fd00:ec2::254');
  });
  const refused: Array<[string, RegExp]> = [
    ['https://registry.example/x', /use CONNECT registry\.example:443/],
    ['/just/a/path', /absolute form/],
    ['*', /absolute form/],
    ['ftp://host/file', /not proxied/],
    ['file:///etc/passwd', /not proxied/],
    ['http://user:pw@host/', /credentials in the URL/],
    ['http://host:0/', /port 0/],
    ['http://[::1/', /not an absolute URL/],
    ['not a url', /not an absolute URL/],
  ];
  for (const [target, reason] of refused) {
    test(`refused: ${target}`, () => {
      const parsed = parseAbsoluteUrl(target);
      assert.equal(parsed.ok, false);
      assert.equal((parsed as { status: number }).status, 400);
      assert.match((parsed as { reason: string }).reason, reason);
    });
  }
});

describe('Proxy-Authorization: the agent session token (the HTTP core reads the header egress names)', () => {
  const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;
  const of = (value: string | undefined, also: Array<[string, string]> = []) => agentCredential([...(value === undefined ? [] : [['proxy-authorization', value] as [string, string]]), ...also], 'proxy-authorization');
  test('Basic with the token as the password; the user name is ignored', () => {
    assert.deepEqual(of(basic('agent:tok_123')), { kind: 'token', token: 'tok_123' });
    assert.deepEqual(of(basic('anything:tok:with:colons')), { kind: 'token', token: 'tok:with:colons' });
  });
  test('Bearer', () => {
    assert.deepEqual(of('Bearer tok_123'), { kind: 'token', token: 'tok_123' });
  });
  test('an Authorization header (meant for the origin) is not a proxy credential', () => {
    assert.deepEqual(of(undefined, [['authorization', 'Bearer tok_123']]), { kind: 'missing' });
  });
  const refused: Array<[string, RegExp]> = [
    ['Basic', /not base64/],
    ['Basic !!!', /not base64/],
    [basic('no-colon'), /no password/],
    [basic('agent:'), /password is empty/],
    ['Bearer', /empty/],
    ['Digest username="a"', /must be Bearer/],
  ];
  for (const [header, reason] of refused) {
    test(`refused: ${JSON.stringify(header)}`, () => {
      const parsed = of(header);
      assert.equal(parsed.kind, 'malformed');
      assert.match((parsed as { reason: string }).reason, reason);
    });
  }
  test('two Proxy-Authorization headers are refused (which one would count?)', () => {
    assert.equal(of('Bearer a', [['proxy-authorization', 'Bearer b']]).kind, 'malformed');
  });
});
