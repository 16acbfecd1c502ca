import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DEFAULT_GRAPHQL_PATHS, describeRequest, isMalformed } from '../../src/classify/http/index.js';
import { classifyExchange } from '../../src/proxies/http/classification.js';
import { agentCredential } from '../../src/proxies/http/agent-auth.js';
import { CookieJar } from '../../src/proxies/http/cookies.js';
import { forwardHeaders, responseHeaders } from '../../src/proxies/http/headers.js';
import { authRefusal, gitPushRefusalAnswer, policyRefusal, rawAnswer } from '../../src/proxies/http/refusal.js';
import { credentialOf } from '../../src/proxies/http/upstream.js';
import { TargetConfigError } from '../../src/proxies/target-config-error.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('agentCredential: the session token from Authorization', () => {
  const cases: [string, [string, string][], ReturnType<typeof agentCredential>][] = [
    ['Bearer', [['authorization', 'Bearer tok123']], { kind: 'token', token: 'tok123' }],
    ['bearer, any case', [['authorization', 'bEaReR tok123']], { kind: 'token', token: 'tok123' }],
    ['Basic with the token as password, any user', [['authorization', `Basic ${b64('agent:tok123')}`]], { kind: 'token', token: 'tok123' }],
    ['Basic password containing a colon', [['authorization', `Basic ${b64('u:a:b')}`]], { kind: 'token', token: 'a:b' }],
    ['missing', [], { kind: 'missing' }],
    ['empty Bearer', [['authorization', 'Bearer ']], { kind: 'malformed', reason: 'the Bearer credential is empty' }],
    ['Basic without a colon', [['authorization', `Basic ${b64('tok123')}`]], { kind: 'malformed', reason: 'the Basic credential has no password (use the session token as the password)' }],
    ['Basic not base64', [['authorization', 'Basic %%%']], { kind: 'malformed', reason: 'the Basic credential is not base64' }],
    ['another scheme', [['authorization', 'Digest x']], { kind: 'malformed', reason: 'the authorization scheme must be Bearer (the session token) or Basic (the token as the password)' }],
  ];
  for (const [name, headers, expected] of cases) test(name, () => assert.deepEqual(agentCredential(headers), expected));
  test('two Authorization headers are refused (which would the upstream take?)', () => {
    assert.equal(agentCredential([['authorization', 'Bearer a'], ['authorization', 'Bearer b']]).kind, 'malformed');
  });
  test('egress reads Proxy-Authorization, not Authorization', () => {
    assert.deepEqual(agentCredential([['authorization', 'Bearer a']], 'proxy-authorization'), { kind: 'missing' });
    assert.deepEqual(agentCredential([['proxy-authorization', `Basic ${b64('x:t')}`]], 'proxy-authorization'), { kind: 'token', token: 't' });
  });
});

describe('forwardHeaders: what of the agent goes upstream', () => {
  test('hop-by-hop, credentials, cookies, proxy headers and Host are dropped; identity is asked for', () => {
    const out = forwardHeaders(
      [
        ['host', 'evil.example'],
        ['connection', 'keep-alive, x-named'],
        ['x-named', '1'],
        ['keep-alive', 'timeout=5'],
        ['te', 'trailers'],
        ['trailer', 'x'],
        ['transfer-encoding', 'chunked'],
        ['upgrade', 'h2c'],
        ['proxy-authorization', 'Basic x'],
        ['proxy-connection', 'keep-alive'],
        ['authorization', 'Bearer session-token'],
        ['cookie', 'a=b'],
        ['accept-encoding', 'gzip, br'],
        ['forwarded', 'for=1.2.3.4'],
        ['x-forwarded-for', '1.2.3.4'],
        ['x-real-ip', '1.2.3.4'],
        ['x-api-key', 'agent-supplied'],
        ['accept', 'application/json'],
        ['x-multi', 'a'],
        ['x-multi', 'b'],
      ],
      { websocket: false, contentLength: undefined, credentialHeader: 'x-api-key' },
    );
    assert.deepEqual(out, { accept: 'application/json', 'x-multi': ['a', 'b'], 'accept-encoding': 'identity' });
  });
  test('the declared length is set from the description; a WebSocket keeps its handshake headers', () => {
    assert.equal(forwardHeaders([['content-length', '999']], { websocket: false, contentLength: 12 })['content-length'], '12');
    const ws = forwardHeaders(
      [
        ['connection', 'Upgrade'],
        ['upgrade', 'websocket'],
        ['sec-websocket-key', 'k'],
        ['sec-websocket-version', '13'],
      ],
      { websocket: true, contentLength: undefined },
    );
    assert.deepEqual(ws, { 'sec-websocket-key': 'k', 'sec-websocket-version': '13', connection: 'upgrade', upgrade: 'websocket' });
  });
  test('response headers: Set-Cookie and hop-by-hop never reach the agent; body-bound ones go when the body is rewritten', () => {
    const upstream = { 'content-type': 'application/json', 'content-length': '10', etag: '"x"', 'set-cookie': ['s=1'], connection: 'x-hop', 'x-hop': '1', digest: 'sha-256=x', 'x-ok': 'y' };
    assert.deepEqual(responseHeaders(upstream, true), { 'content-type': 'application/json', 'x-ok': 'y' });
    assert.deepEqual(responseHeaders(upstream, false), { 'content-type': 'application/json', 'content-length': '10', etag: '"x"', digest: 'sha-256=x', 'x-ok': 'y' });
  });
});

describe('CookieJar: the upstream cookies kept by the daemon', () => {
  test('stores, scopes by path, replaces and expires', () => {
    const jar = new CookieJar();
    jar.store('api', '/v1/login', ['sid=abc; Path=/; HttpOnly', 'pref=1; Path=/v1/settings', 'short=x; Max-Age=1'], 1000);
    assert.equal(jar.header('api', '/v1/items', 1500), 'sid=abc; short=x');
    assert.equal(jar.header('api', '/v1/settings/a', 1500), 'sid=abc; pref=1; short=x');
    assert.equal(jar.header('api', '/v1/items', 2500), 'sid=abc', 'Max-Age passed');
    jar.store('api', '/', ['sid=def; Path=/'], 3000);
    assert.equal(jar.header('api', '/', 3000), 'sid=def');
    jar.store('api', '/', ['sid=gone; Path=/; Max-Age=0'], 3000);
    assert.equal(jar.header('api', '/', 3000), undefined);
    assert.equal(jar.header('other', '/', 3000), undefined, 'another host gets nothing');
  });
  test('a path prefix that is not a segment boundary does not match', () => {
    const jar = new CookieJar();
    jar.store('api', '/', ['a=1; Path=/v1'], 0);
    assert.equal(jar.header('api', '/v10', 0), undefined);
    assert.equal(jar.header('api', '/v1/x', 0), 'a=1');
  });
});

describe('refusals rendered in one place', () => {
  const verdict = { actionId: 'act_1', allowed: false, via: 'policy' as const, ruleId: 'no-admin', reason: 'admin paths are refused' };
  test('policy refusal: 403 JSON with the decision header', () => {
    const a = policyRefusal(verdict, []);
    assert.equal(a.status, 403);
    assert.equal(a.headers['x-airlock-decision'], 'deny');
    assert.deepEqual(JSON.parse(a.body as string), { error: 'airlock_policy', rule: 'no-admin', reason: 'admin paths are refused', action: 'act_1' });
  });
  test('git clients get the same sentence as text/plain (git prints it as remote: lines)', () => {
    const a = policyRefusal(verdict, [['user-agent', 'git/2.39.5']]);
    assert.match(a.headers['content-type']!, /^text\/plain/);
    assert.match(a.body as string, /^airlock: admin paths are refused\nairlock: rule no-admin, action act_1\n$/);
  });
  test('401 carries the Basic challenge git needs', () => {
    assert.equal(authRefusal('no token', []).headers['www-authenticate'], 'Basic realm="Airlock"');
  });
  test('a git push refusal is a receive-pack result rejecting every ref', () => {
    const pkt = (s: string): string => (Buffer.byteLength(s) + 4).toString(16).padStart(4, '0') + s;
    const body = Buffer.from(pkt(`${'1'.repeat(40)} ${'2'.repeat(40)} refs/heads/main\0report-status side-band-64k\n`) + '0000');
    const a = gitPushRefusalAnswer(verdict, { bytes: body, complete: true }, ['refs/heads/main'], []);
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-type'], 'application/x-git-receive-pack-result');
    const text = Buffer.from(a.body as Uint8Array).toString('latin1');
    assert.match(text, /ng refs\/heads\/main airlock: no-admin\n/);
    assert.ok(text.includes(`${String.fromCharCode(2)}airlock: admin paths are refused`), 'the reason on side band 2 (git prints it as remote: …)');
    const plain = Buffer.from(pkt(`${'1'.repeat(40)} ${'2'.repeat(40)} refs/heads/main\0agent=x\n`) + '0000');
    assert.equal(gitPushRefusalAnswer(verdict, { bytes: plain, complete: true }, ['refs/heads/main'], []).status, 403, 'a client that asked for no report gets the 403');
  });
  test('a raw answer frames its own length and closes', () => {
    const raw = rawAnswer(policyRefusal(verdict, [])).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(raw, /\r\nconnection: close\r\n\r\n\{/);
    const length = Number(/content-length: (\d+)/.exec(raw)![1]);
    assert.equal(Buffer.byteLength(raw.slice(raw.indexOf('\r\n\r\n') + 4)), length);
  });
});

describe('credentialOf: the header the upstream gets and the forms redacted', () => {
  const url = (s: string): URL => new URL(s);
  test('bearer', () => assert.deepEqual(credentialOf({ name: 't', auth: 'bearer' }, url('https://h'), 'S3'), { header: ['authorization', 'Bearer S3'], secrets: ['Bearer S3', 'S3'] }));
  test('basic with the user in the URL', () => {
    const c = credentialOf({ name: 't', auth: 'basic' }, url('https://bot@h'), 'pw');
    assert.deepEqual(c.header, ['authorization', `Basic ${b64('bot:pw')}`]);
    assert.ok(c.secrets.includes('pw') && c.secrets.includes(b64('bot:pw')));
  });
  test('basic with USER:PASSWORD stored', () => assert.deepEqual(credentialOf({ name: 't', auth: 'basic' }, url('https://h'), 'bot:pw').header, ['authorization', `Basic ${b64('bot:pw')}`]));
  test('basic without any user is a config error naming the target', () => assert.throws(() => credentialOf({ name: 't', auth: 'basic' }, url('https://h'), 'pw'), TargetConfigError));
  test('header:NAME', () => assert.deepEqual(credentialOf({ name: 't', auth: 'header:X-Api-Key' }, url('https://h'), 'k'), { header: ['x-api-key', 'k'], secrets: ['k'] }));
});

describe('classifyExchange: compressed bodies decoded for the classifier, git pushes', () => {
  const base = { scheme: 'https', host: 'api', port: 443 } as const;
  const options = { graphqlPaths: DEFAULT_GRAPHQL_PATHS, documentBytes: 4096 };
  const describe_ = (method: string, target: string, headers: [string, string][]) => {
    const d = describeRequest({ method, target, headers }, base, { maxTargetBytes: 4096 });
    if (isMalformed(d)) throw new Error(d.reason);
    return d;
  };
  test('a gzip GraphQL mutation is read as the mutation it is', () => {
    const body = gzipSync(JSON.stringify({ query: 'mutation { deleteRepo(name: "a") }' }));
    const d = describe_('POST', '/graphql', [['content-type', 'application/json'], ['content-encoding', 'gzip'], ['content-length', String(body.length)]]);
    const c = classifyExchange(d, { bytes: body, complete: true }, options, 1 << 20);
    assert.equal(c.class, 'write');
    assert.deepEqual(c.attributes.graphqlFields, ['deleteRepo']);
  });
  test('a gzip body that decodes past the bound stays unread: not a read', () => {
    const body = gzipSync(JSON.stringify({ query: `{ viewer ${' '.repeat(4096)}}` }));
    const d = describe_('POST', '/graphql', [['content-type', 'application/json'], ['content-encoding', 'gzip'], ['content-length', String(body.length)]]);
    assert.notEqual(classifyExchange(d, { bytes: body, complete: true }, options, 100).class, 'read');
  });
  test('a push with a command is a write; an empty command list read whole (git\'s login probe) changes nothing: a read', () => {
    const d = describe_('POST', '/r.git/git-receive-pack', [['content-type', 'application/x-git-receive-pack-request'], ['content-length', '4']]);
    assert.equal(classifyExchange(d, { bytes: Buffer.from('0000'), complete: true }, options, 1 << 20).class, 'read');
    const cmd = `${'1'.repeat(40)} ${'0'.repeat(40)} refs/heads/main\0report-status\n`;
    const push = Buffer.from((cmd.length + 4).toString(16).padStart(4, '0') + cmd + '0000');
    const c = classifyExchange(d, { bytes: push, complete: true }, options, 1 << 20);
    assert.equal(c.class, 'write');
    assert.deepEqual(c.attributes.gitRefs, ['refs/heads/main']);
});
});
