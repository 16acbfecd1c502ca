import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_GRAPHQL_FIELDS,
  SUMMARY_MAX_CHARS,
  bodyNeeded,
  canonicalHost,
  classifyConnect,
  classifyDestination,
  classifyHttpRequest,
  describeRequest,
  internalAddress,
  isMalformed,
  methodClass,
  readGraphqlBody,
  readGraphqlDocument,
  riskOf,
  stricterClass,
  withDestination,
  type BodyPrefix,
  type HeaderList,
  type HttpRequestDescription,
  type RequestBase,
} from '../../src/classify/http/index.js';
import { hasRepeatedKey } from '../../src/classify/http/graphql.js';

const API: RequestBase = { scheme: 'https', host: 'API.Example.com', port: 443 };
const LIMITS = { maxTargetBytes: 1024 };
const OPTIONS = { graphqlPaths: ['**/graphql'], documentBytes: 64 };

function described(method: string, target: string, headers: HeaderList = [], base: RequestBase = API): HttpRequestDescription {
  const result = describeRequest({ method, target, headers }, base, LIMITS);
  assert.ok(!isMalformed(result), `expected a description of ${method} ${target}, got ${JSON.stringify(result)}`);
  return result;
}

function refusal(target: string, base: RequestBase = API, headers: HeaderList = [], limits = LIMITS): { status: number; reason: string } {
  const result = describeRequest({ method: 'GET', target, headers }, base, limits);
  assert.ok(isMalformed(result), `expected ${target} to be refused, got ${JSON.stringify(result)}`);
  return result;
}

function body(text: string, complete = true): BodyPrefix {
  return { bytes: new TextEncoder().encode(text), complete };
}

describe('describeRequest: canonical path and query (what policy matches is what goes upstream)', () => {
  const cases: Array<[target: string, path: string, forward: string, query: Array<[string, string]>]> = [
    ['/', '/', '/', []],
    ['/repos/a/b/pulls', '/repos/a/b/pulls', '/repos/a/b/pulls', []],
    ['/repos/a/b/', '/repos/a/b/', '/repos/a/b/', []],
    ['/%72epos/%41%2d%5f%7e', '/repos/A-_~', '/repos/A-_~', []],
    ['/a%2fb/c%2Fd', '/a%2Fb/c%2Fd', '/a%2Fb/c%2Fd', []],
    ['/a%3a%40b', '/a%3A%40b', '/a%3A%40b', []],
    ['/a:b@c!$&\'()*+,=', '/a:b@c!$&\'()*+,=', '/a:b@c!$&\'()*+,=', []],
    ['/{x}|^`"<>[]', '/%7Bx%7D%7C%5E%60%22%3C%3E%5B%5D', '/%7Bx%7D%7C%5E%60%22%3C%3E%5B%5D', []],
    ['/caf%C3%A9', '/caf%C3%A9', '/caf%C3%A9', []],
    ['/a/...', '/a/...', '/a/...', []],
    ['/a/.x/x.', '/a/.x/x.', '/a/.x/x.', []],
    ['/a%2520b', '/a%2520b', '/a%2520b', []],
    ['/s?q=a+b&x=%41%2b&flag', '/s', '/s?q=a+b&x=A%2B&flag', [['q', 'a b'], ['x', 'A+'], ['flag', '']]],
    ['/s?', '/s', '/s', []],
    ['/s?a=1&&b=2', '/s', '/s?a=1&&b=2', [['a', '1'], ['b', '2']]],
    ['/s?path=/x/../y;z?w', '/s', '/s?path=/x/../y;z?w', [['path', '/x/../y;z?w']]],
    ['/s?text=line%0Aline', '/s', '/s?text=line%0Aline', [['text', 'line\nline']]],
    ['/s?e=%E2%82%AC', '/s', '/s?e=%E2%82%AC', [['e', '€']]],
    ['/s?v={a}', '/s', '/s?v=%7Ba%7D', [['v', '{a}']]],
  ];
  for (const [target, path, forward, query] of cases) {
    test(`${target} → ${forward}`, () => {
      const d = described('GET', target);
      assert.equal(d.path, path);
      assert.equal(d.forwardTarget, forward);
      assert.deepEqual(d.query, query);
      assert.equal(d.host, 'api.example.com');
      assert.equal(d.port, 443);
      assert.equal(d.scheme, 'https');
    });
  }

  test('describing the forwarded target again gives the same request (a fixed point)', () => {
    for (const [target] of cases) {
      const once = described('GET', target);
      const twice = described('GET', once.forwardTarget);
      assert.equal(twice.forwardTarget, once.forwardTarget, target);
      assert.equal(twice.path, once.path, target);
    }
  });
});

describe('describeRequest: refusals', () => {
  const cases: Array<[target: string, status: number, reason: RegExp]> = [
    ['/a/./b', 400, /dot segment/],
    ['/a/%2E', 400, /dot segment/],
    ['/a/%2e%2E', 400, /dot segment/],
    ['/a/x%2f..', 400, /encoded slash/],
    ['/a/x%2F.%2Fy', 400, /encoded slash/],
    ['/a/%252E%252E', 400, /double-encoded/],
    ['/a/%25%32%65%25%32%65', 400, /double-encoded/],
    ['/a/%255c', 400, /double-encoded/],
    ['/a/%25000', 400, /double-encoded/],
    ['/a/%5C', 400, /backslash/],
    ['/a\\b', 400, /backslash/],
    ['/a/%7f', 400, /control/],
    ['/a/%0d%0aSet-Cookie:x', 400, /control/],
    ['/a/%C0%AE', 400, /UTF-8/],
    ['/a/%FF', 400, /UTF-8/],
    ['/a/%EF%BC%85', 400, /Unicode/],
    ['/a/%E2%80%A4', 400, /Unicode/],
    ['/a/%', 400, /invalid percent-escape/],
    ['/a/%4', 400, /invalid percent-escape/],
    ['/a?b=%g1', 400, /invalid percent-escape/],
    ['/a?b=%', 400, /invalid percent-escape/],
    ['/a b', 400, /space/],
    ['/a\tb', 400, /control/],
    ['/a?b=\u0001', 400, /control/],
    ['/\u00e9', 400, /non-ASCII/],
    ['/a?\u2028', 400, /non-ASCII/],
    ['//a', 400, /empty segment/],
    ['/a//', 400, /empty segment/],
    ['/a;b', 400, /;/],
    ['/a%3Bb', 400, /%3B/],
    ['/a#b', 400, /fragment/],
    ['/a?b#c', 400, /fragment/],
    ['a/b', 400, /origin-form/],
    ['*', 400, /origin-form/],
    ['http://api.example.com/a', 400, /origin-form/],
  ];
  for (const [target, status, reason] of cases) {
    test(JSON.stringify(target), () => {
      const result = refusal(target);
      assert.equal(result.status, status);
      assert.match(result.reason, reason);
      assert.match(result.reason, /^[A-Z].*\.$/, 'one sentence');
    });
  }

  test('the 414 bound is the parameter, not a constant', () => {
    const target = '/' + 'a'.repeat(99);
    assert.equal(refusal(target, API, [], { maxTargetBytes: 99 }).status, 414);
    const result = describeRequest({ method: 'GET', target, headers: [] }, API, { maxTargetBytes: 100 });
    assert.ok(!isMalformed(result));
  });

  test('a method that is not a token is refused', () => {
    const result = describeRequest({ method: 'GE T', target: '/', headers: [] }, API, LIMITS);
    assert.ok(isMalformed(result));
    assert.equal(result.status, 400);
  });
});

describe('describeRequest: absolute form (egress)', () => {
  const cases: Array<[target: string, host: string, port: number, forward: string, stripped: boolean]> = [
    ['http://example.org', 'example.org', 80, '/', false],
    ['http://example.org?a=1', 'example.org', 80, '/?a=1', false],
    ['HTTP://EXAMPLE.org:8080/A/b', 'example.org', 8080, '/A/b', false],
    ['http://example.org:/x', 'example.org', 80, '/x', false],
    ['http://example.org:0080/x', 'example.org', 80, '/x', false],
    ['http://u:p@example.org/x', 'example.org', 80, '/x', true],
    ['http://u@example.org/x', 'example.org', 80, '/x', true],
    ['http://example.org./x', 'example.org', 80, '/x', false],
    ['http://[::1]:81/x', '::1', 81, '/x', false],
    ['http://[0:0:0:0:0:ffff:7f00:1]/', '::ffff:7f00:1', 80, '/', false],
    ['http://127.1/', '127.0.0.1', 80, '/', false],
    ['http://0177.0.0.1/', '127.0.0.1', 80, '/', false],
    ['http://0x7f000001/', '127.0.0.1', 80, '/', false],
    ['http://%31%32%37.0.0.1/', '127.0.0.1', 80, '/', false],
    ['http://xn--caf-dma.example/', 'xn--caf-dma.example', 80, '/', false],
  ];
  for (const [target, host, port, forward, stripped] of cases) {
    test(target, () => {
      const d = described('GET', target, [['host', 'other.example']], 'absolute');
      assert.equal(d.host, host);
      assert.equal(d.port, port);
      assert.equal(d.forwardTarget, forward);
      assert.equal(d.scheme, 'http');
      assert.equal(d.credentialsStripped === true, stripped);
      assert.ok(!JSON.stringify(d).includes('u:p'));
    });
  }
  const refused: Array<[target: string, reason: RegExp]> = [
    ['/relative', /absolute http:\/\//],
    ['https://example.org/', /CONNECT/],
    ['ftp://example.org/', /CONNECT/],
    ['http:///x', /no host/],
    ['http://u:p@/x', /no host/],
    ['http://example.org:99999/', /not valid/],
    ['http://exa mple.org/', /characters a host cannot have/],
    ['http://[fe80::1%25eth0]/', /not valid/],
    ['http://example.org\\@evil/', /backslash/],
    ['http://example.org#@evil/', /fragment/],
    ['http://example.org/%2e%2e/x', /dot segment/],
  ];
  for (const [target, reason] of refused) {
    test(`refused: ${target}`, () => assert.match(refusal(target, 'absolute').reason, reason));
  }
});

describe('describeRequest: headers', () => {
  test('content type lowercased without parameters; identity coding ignored; length read', () => {
    const d = described('POST', '/x', [['Content-Type', 'Application/JSON; charset=utf-8'], ['content-encoding', 'identity'], ['content-length', '12']]);
    assert.equal(d.contentType, 'application/json');
    assert.equal(d.contentEncoding, undefined);
    assert.equal(d.contentLength, 12);
  });
  test('no length headers: no body; chunked: length unknown', () => {
    assert.equal(described('POST', '/x').contentLength, 0);
    assert.equal(described('POST', '/x', [['transfer-encoding', 'chunked']]).contentLength, undefined);
  });
  test('a repeated header with the same value is one', () => {
    assert.equal(described('POST', '/x', [['content-type', 'text/plain'], ['content-type', 'text/plain']]).contentType, 'text/plain');
  });
  test('a compressed body is noted', () => {
    assert.equal(described('POST', '/x', [['content-encoding', 'GZIP']]).contentEncoding, 'gzip');
  });
  test('WebSocket upgrade in any case, among other tokens', () => {
    assert.equal(described('GET', '/x', [['upgrade', 'h2c, WebSocket']]).websocket, true);
    assert.equal(described('GET', '/x', [['upgrade', 'h2c']]).websocket, false);
  });
  const refused: Array<[HeaderList, RegExp]> = [
    [[['content-length', '1'], ['content-length', '2']], /content-length/],
    [[['content-length', '-1']], /not a number/],
    [[['content-length', '1e3']], /not a number/],
    [[['transfer-encoding', 'gzip, chunked']], /other than chunked/],
    [[['transfer-encoding', 'chunked'], ['transfer-encoding', 'chunked']], /other than chunked/],
    [[['transfer-encoding', 'chunked'], ['content-length', '3']], /both/],
    [[['content-encoding', 'gzip'], ['content-encoding', 'br']], /content-encoding/],
  ];
  for (const [headers, reason] of refused) {
    test(`refused: ${JSON.stringify(headers)}`, () => assert.match(refusal('/x', API, headers).reason, reason));
  }
  test('method overrides from every header and _method, uppercased, distinct', () => {
    const d = described('POST', '/x?_method=patch', [['x-http-method-override', 'PATCH, patch'], ['X-HTTP-Method', 'patch']]);
    assert.deepEqual(d.methodOverrides, ['PATCH']);
    assert.equal(d.methodOverride, 'PATCH');
    assert.deepEqual(described('GET', '/x', [['x-method-override', 'PUT'], ['x-http-method', 'DELETE']]).methodOverrides, ['PUT', 'DELETE']);
    assert.deepEqual(described('GET', '/x?_METHOD=put').methodOverrides, ['PUT']);
    assert.deepEqual(described('GET', '/x?method=put').methodOverrides, []);
  });
});

describe('method classes', () => {
  const cases: Array<[method: string, cls: string, destructive: boolean]> = [
    ['GET', 'read', false],
    ['HEAD', 'read', false],
    ['OPTIONS', 'read', false],
    ['POST', 'write', false],
    ['PUT', 'write', false],
    ['PATCH', 'write', false],
    ['DELETE', 'write', true],
    ['TRACE', 'unknown', false],
    ['CONNECT', 'unknown', false],
    ['PROPFIND', 'unknown', false],
    ['MOVE', 'unknown', false],
    ['get', 'unknown', false],
    ['Post', 'unknown', false],
  ];
  for (const [method, cls, destructive] of cases) {
    test(`${method} is ${cls}${destructive ? ' (destructive)' : ''}`, () => {
      assert.deepEqual(methodClass(method), { class: cls, destructive });
      const c = classifyHttpRequest(described(method, '/items/1'), undefined, OPTIONS);
      assert.equal(c.class, cls);
      assert.equal(c.attributes.destructive, destructive);
      assert.equal(c.risk, cls === 'read' ? 'low' : cls === 'write' && !destructive ? 'medium' : 'high');
    });
  }
  test('stricter class and risk', () => {
    assert.equal(stricterClass('read', 'write'), 'write');
    assert.equal(stricterClass('unknown', 'write'), 'unknown');
    assert.equal(stricterClass('privileged', 'unknown'), 'privileged');
    assert.equal(stricterClass('websocket', 'read'), 'websocket');
    assert.equal(riskOf('privileged', false), 'critical');
    assert.equal(riskOf('read', true), 'high');
    assert.equal(riskOf('connect', false), 'medium');
  });
  test('an override makes the class the stronger of the two', () => {
    const cases: Array<[method: string, override: string, cls: string, destructive: boolean]> = [
      ['GET', 'DELETE', 'write', true],
      ['GET', 'POST', 'write', false],
      ['POST', 'GET', 'write', false],
      ['DELETE', 'GET', 'write', true],
      ['GET', 'HEAD', 'read', false],
      ['GET', 'MKCOL', 'unknown', false],
      ['GET', 'GET, DELETE', 'unknown', false],
    ];
    for (const [method, override, cls, destructive] of cases) {
      const c = classifyHttpRequest(described(method, '/x', [['x-http-method-override', override]]), undefined, OPTIONS);
      assert.equal(c.class, cls, `${method} as ${override}`);
      assert.equal(c.attributes.destructive, destructive, `${method} as ${override}`);
      assert.equal(c.attributes.methodOverride, override.toUpperCase());
    }
  });
});

describe('a _method field in a form body', () => {
  const form = (headers: HeaderList = []) => described('POST', '/items/1', [['content-type', 'application/x-www-form-urlencoded'], ['content-length', '20'], ...headers]);
  test('read whole: the override counts, and shows in the summary', () => {
    const c = classifyHttpRequest(form(), body('a=1&_method=delete'), OPTIONS);
    assert.equal(c.attributes.destructive, true);
    assert.equal(c.attributes.methodOverride, 'DELETE');
    assert.equal(c.summary, 'POST api.example.com/items/1 (as DELETE)');
  });
  test('the same value in the header and the body is one override', () => {
    const c = classifyHttpRequest(form([['x-http-method-override', 'DELETE']]), body('_method=DELETE'), OPTIONS);
    assert.equal(c.class, 'write');
    assert.equal(c.attributes.methodOverride, 'DELETE');
  });
  test('not read, cut, or not a form: not looked into (a POST stays a write)', () => {
    for (const [req, prefix] of [
      [form(), undefined],
      [form(), body('_method=DELETE', false)],
      [described('POST', '/items/1', [['content-type', 'application/json'], ['content-length', '20']]), body('_method=DELETE')],
      [described('PUT', '/items/1', [['content-type', 'application/x-www-form-urlencoded'], ['content-length', '20']]), body('_method=DELETE')],
    ] as const) {
      const c = classifyHttpRequest(req, prefix, OPTIONS);
      assert.equal(c.class, 'write');
      assert.equal(c.attributes.destructive, false);
      assert.equal(c.attributes.methodOverride, undefined);
    }
  });
});

describe('attributes and summaries', () => {
  test('REST request attributes', () => {
    const d = described('POST', '/repos/a/b/pulls?z=1&a=2&z=3', [['content-type', 'application/json'], ['content-length', '2']]);
    const c = classifyHttpRequest(d, undefined, OPTIONS);
    assert.deepEqual(c.attributes, { class: 'write', method: 'POST', path: '/repos/a/b/pulls', host: 'api.example.com', query: ['a', 'z'], destructive: false, contentType: 'application/json' });
    assert.equal(c.summary, 'POST api.example.com/repos/a/b/pulls');
    assert.equal(c.graphql, undefined);
    assert.equal(c.git, undefined);
  });
  test('summary shows a port that is not the default, IPv6 in brackets, an override', () => {
    assert.equal(classifyHttpRequest(described('GET', '/x', [], { scheme: 'http', host: 'svc.local', port: 8080 }), undefined, OPTIONS).summary, 'GET svc.local:8080/x');
    assert.equal(classifyHttpRequest(described('GET', 'http://[::1]/x', [], 'absolute'), undefined, OPTIONS).summary, 'GET [::1]/x');
    assert.equal(classifyHttpRequest(described('GET', '/x?_method=DELETE'), undefined, OPTIONS).summary, 'GET api.example.com/x (as DELETE)');
  });
  test('a summary is bounded', () => {
    const c = classifyHttpRequest(described('GET', '/' + 'a'.repeat(500)), undefined, OPTIONS);
    assert.equal(c.summary.length, SUMMARY_MAX_CHARS);
    assert.ok(c.summary.endsWith('…'));
  });
});

describe('bodyNeeded', () => {
  const post = (path: string, headers: HeaderList = [['content-length', '10']]) => described('POST', path, headers);
  const cases: Array<[name: string, req: HttpRequestDescription, graphqlPaths: string[], kind: string]> = [
    ['POST on the GraphQL path', post('/graphql'), ['**/graphql'], 'graphql'],
    ['chunked POST on a nested GraphQL path', post('/api/v4/graphql', [['transfer-encoding', 'chunked']]), ['**/graphql'], 'graphql'],
    ['POST on a GraphQL path with a trailing slash, other case', post('/GraphQL/'), ['**/graphql'], 'graphql'],
    ['a GET with a body on the GraphQL path', described('GET', '/graphql', [['content-length', '5']]), ['**/graphql'], 'graphql'],
    ['a GET without a body', described('GET', '/graphql'), ['**/graphql'], 'none'],
    ['a POST without a body', post('/graphql', []), ['**/graphql'], 'none'],
    ['a configured path', post('/api/gql'), ['/api/gql'], 'graphql'],
    ['no GraphQL paths configured', post('/graphql'), [], 'none'],
    ['another path', post('/graphql2'), ['**/graphql'], 'none'],
    ['a push', post('/org/repo.git/git-receive-pack'), ['**/graphql'], 'git-receive-pack'],
    ['a fetch', post('/org/repo.git/git-upload-pack'), ['**/graphql'], 'none'],
    ['a REST POST', post('/repos/a/b/pulls'), ['**/graphql'], 'none'],
  ];
  for (const [name, req, graphqlPaths, kind] of cases) {
    test(name, () => assert.equal(bodyNeeded(req, { graphqlPaths }).kind, kind));
  }
});

describe('GraphQL', () => {
  const graphqlRequest = (contentType?: string) => described('POST', '/graphql', contentType === undefined ? [['content-length', '1']] : [['content-type', contentType], ['content-length', '1']]);

  test('operations, names and top-level fields; fragments resolved; cycles do not loop', () => {
    const read = readGraphqlDocument('query Q { a b: c ...F } mutation M { ...G } fragment F on Query { d ...F } fragment G on Mutation { e ... on Mutation { f } }');
    assert.ok('operations' in read);
    assert.deepEqual(read.operations, [
      { type: 'query', name: 'Q', fields: ['a', 'c', 'd'] },
      { type: 'mutation', name: 'M', fields: ['e', 'f'] },
    ]);
  });
  test('fragments spreading each other twice are expanded once each (no exponential walk)', () => {
    const depth = 60;
    const fragments = Array.from({ length: depth }, (_, i) => `fragment F${i} on Mutation { f${i} ${i + 1 < depth ? `...F${i + 1} ...F${i + 1}` : ''} }`).join(' ');
    const read = readGraphqlDocument(`mutation { ...F0 } ${fragments}`);
    assert.ok('operations' in read);
    assert.equal(read.operations[0]!.fields.length, depth);
  });
  test('fields are bounded', () => {
    const fields = Array.from({ length: MAX_GRAPHQL_FIELDS + 10 }, (_, i) => `f${i}`).join(' ');
    const read = readGraphqlDocument(`{ ${fields} }`);
    assert.ok('operations' in read);
    assert.equal(read.operations[0]!.fields.length, MAX_GRAPHQL_FIELDS);
  });
  test('a document of fragments only has no operation: unknown', () => {
    const c = classifyHttpRequest(graphqlRequest('application/graphql'), body('fragment F on Query { a }'), OPTIONS);
    assert.equal(c.class, 'unknown');
    assert.match(c.reasons.join(' '), /no operation/);
  });
  test('the detail keeps the document, bounded by documentBytes, and the parse error', () => {
    const long = `{ ${'x '.repeat(100)}}`;
    const c = classifyHttpRequest(graphqlRequest('application/json'), body(JSON.stringify({ query: long })), OPTIONS);
    assert.equal(c.graphql?.document, long.slice(0, OPTIONS.documentBytes));
    const wide = classifyHttpRequest(graphqlRequest('application/json'), body(JSON.stringify({ query: `{ a(s: "${'é'.repeat(40)}") }` })), OPTIONS);
    assert.ok(Buffer.byteLength(wide.graphql?.document ?? '') <= OPTIONS.documentBytes);
    assert.ok(!(wide.graphql?.document ?? '').includes('\uFFFD'), 'no character is cut in half');
    assert.ok((wide.graphql?.document ?? '').startsWith('{ a(s: "éé'));
    const bad = classifyHttpRequest(graphqlRequest('application/json'), body(JSON.stringify({ query: '{ a' })), OPTIONS);
    assert.equal(bad.class, 'unknown');
    assert.match(bad.graphql?.parseError ?? '', /Syntax Error/);
    assert.match(bad.summary, /^GraphQL request that cannot be read: POST api\.example\.com\/graphql$/);
  });
  const bodies: Array<[name: string, contentType: string | undefined, text: string, cls: string, reason?: RegExp]> = [
    ['JSON without a content type', undefined, JSON.stringify({ query: 'mutation { a }' }), 'write'],
    ['a document as text/plain', 'text/plain', 'mutation { a }', 'write'],
    ['a document without a content type', undefined, '{ a }', 'read'],
    ['neither JSON nor GraphQL', 'application/json', 'not json', 'unknown', /not JSON/],
    ['a JSON string, not an object', 'application/json', '"{ a }"', 'unknown', /not an object/],
    ['query is not a string', 'application/json', JSON.stringify({ query: { a: 1 } }), 'unknown', /no "query" text/],
    ['no query and no persisted query', 'application/json', JSON.stringify({ variables: {} }), 'unknown', /no "query" text/],
    ['an empty batch', 'application/json', '[]', 'unknown', /empty/],
    ['a batch with a non-object', 'application/json', JSON.stringify([{ query: '{ a }' }, 5]), 'unknown', /not an object/],
    ['persisted query extensions as a string (GET style) in a form body', 'application/x-www-form-urlencoded', `extensions=${encodeURIComponent('{"persistedQuery":{"version":1}}')}`, 'unknown', /persisted/],
    ['a form body without query', 'application/x-www-form-urlencoded', 'a=1', 'unknown', /no "query" text/],
    ['multipart upload', 'multipart/form-data', '--x\r\n', 'unknown', /multipart/],
    ['a BOM before JSON is not JSON to most servers', 'application/json', '\ufeff' + JSON.stringify({ query: '{ a }' }), 'unknown', /not JSON/],
  ];
  for (const [name, contentType, text, cls, reason] of bodies) {
    test(name, () => {
      const c = classifyHttpRequest(graphqlRequest(contentType), body(text), OPTIONS);
      assert.equal(c.class, cls, c.reasons.join('; '));
      if (reason !== undefined) assert.match(c.reasons.join(' ') + ' ' + (c.graphql?.parseError ?? ''), reason);
    });
  }
  test('a body that is not UTF-8 is unknown', () => {
    const c = classifyHttpRequest(graphqlRequest('application/json'), { bytes: new Uint8Array([0x7b, 0xff, 0x7d]), complete: true }, OPTIONS);
    assert.equal(c.class, 'unknown');
  });
  test('a body the proxy did not read is unknown', () => {
    assert.equal(classifyHttpRequest(graphqlRequest('application/json'), undefined, OPTIONS).class, 'unknown');
  });
  test('readGraphqlBody reports a cut body before parsing it', () => {
    assert.match(readGraphqlBody(new TextEncoder().encode('{"query":"{a}"}'), false, 'application/json', undefined).uninspectable ?? '', /larger than the limit/);
  });
  test('attributes and summary of a GraphQL request', () => {
    const c = classifyHttpRequest(graphqlRequest('application/json'), body(JSON.stringify({ query: 'mutation { addStar(id: 1) { id } removeStar(id: 2) { id } }' })), OPTIONS);
    assert.equal(c.summary, 'GraphQL mutation addStar, removeStar');
    assert.deepEqual(c.attributes.graphqlOperation, ['mutation']);
    assert.deepEqual(c.attributes.graphqlFields, ['addStar', 'removeStar']);
    assert.equal(c.risk, 'medium');
  });
  test('a GraphQL query over POST with an override of DELETE is a destructive write', () => {
    const req = described('POST', '/graphql', [['content-type', 'application/json'], ['content-length', '1'], ['x-http-method-override', 'DELETE']]);
    const c = classifyHttpRequest(req, body(JSON.stringify({ query: '{ a }' })), OPTIONS);
    assert.equal(c.class, 'write');
    assert.equal(c.attributes.destructive, true);
  });
  test('a PUT to the GraphQL path stays at least a write', () => {
    const req = described('PUT', '/graphql', [['content-type', 'application/json'], ['content-length', '1']]);
    assert.equal(classifyHttpRequest(req, body(JSON.stringify({ query: '{ a }' })), OPTIONS).class, 'write');
  });
  const repeated: Array<[text: string, repeats: boolean]> = [
    ['{"a":1,"b":2}', false],
    ['{"a":1,"a":2}', true],
    ['{"a":{"q":1},"b":{"q":1}}', false],
    ['[{"query":"x"},{"query":"y"}]', false],
    ['{"a":"\\"a\\":","b":1}', false],
    ['{"x":[1,{"k":1,"k":2}]}', true],
    ['{"a\\u0062":1,"ab":2}', true],
    ['{"a":["a","a"]}', false],
  ];
  for (const [text, repeats] of repeated) {
    test(`repeated keys: ${text}`, () => assert.equal(hasRepeatedKey(text), repeats));
  }
});

describe('git smart HTTP', () => {
  test('info/refs advertisements are reads with their service', () => {
    for (const service of ['git-upload-pack', 'git-receive-pack']) {
      const c = classifyHttpRequest(described('GET', `/org/repo.git/info/refs?service=${service}`), undefined, OPTIONS);
      assert.equal(c.class, 'read');
      assert.equal(c.attributes.gitService, service);
      assert.equal(c.git?.service, service);
    }
  });
  test('a push whose body was not read is unknown', () => {
    const c = classifyHttpRequest(described('POST', '/org/repo.git/git-receive-pack', [['content-length', '100']]), undefined, OPTIONS);
    assert.equal(c.class, 'unknown');
    assert.equal(c.attributes.forcePush, undefined);
    assert.match(c.summary, /^git push that cannot be read to api\.example\.com\/org\/repo\.git$/);
  });
  test("git's probe before a large push (no commands, the whole body read) is a read; a cut one is not", () => {
    const probe = classifyHttpRequest(described('POST', '/org/repo.git/git-receive-pack', [['content-length', '4']]), body('0000'), OPTIONS);
    assert.equal(probe.class, 'read');
    assert.deepEqual(probe.attributes.gitRefs, []);
    const cut = classifyHttpRequest(described('POST', '/org/repo.git/git-receive-pack'), { bytes: Buffer.from('0000'), complete: false }, OPTIONS);
    assert.notEqual(cut.class, 'read');
  });
  test('a push creating a branch', () => {
    const line = `${'0'.repeat(40)} ${'c'.repeat(40)} refs/heads/topic\0report-status\n`;
    const text = (line.length + 4).toString(16).padStart(4, '0') + line + '0000';
    const c = classifyHttpRequest(described('POST', '/org/repo.git/git-receive-pack', [['content-length', String(text.length)]]), body(text), OPTIONS);
    assert.equal(c.class, 'write');
    assert.deepEqual(c.attributes.gitRefs, ['refs/heads/topic']);
    assert.equal(c.attributes.forcePush, false);
    assert.equal(c.attributes.deletesRef, false);
    assert.equal(c.summary, 'git push refs/heads/topic to api.example.com/org/repo.git');
    assert.equal(c.git?.refs[0]?.change, 'create');
  });
});

describe('egress destinations', () => {
  const internal: Array<[address: string, reason: RegExp]> = [
    ['127.0.0.1', /loopback/],
    ['127.255.1.2', /loopback/],
    ['0.0.0.0', /unspecified/],
    ['10.200.0.1', /private/],
    ['172.16.0.1', /private/],
    ['172.31.255.255', /private/],
    ['192.168.1.1', /private/],
    ['169.254.1.1', /link-local/],
    ['169.254.169.254', /metadata/],
    ['169.254.170.2', /metadata/],
    ['100.64.0.1', /carrier-grade/],
    ['100.127.255.255', /carrier-grade/],
    ['100.100.100.200', /metadata/],
    ['224.0.0.1', /multicast/],
    ['255.255.255.255', /broadcast/],
    ['::', /unspecified/],
    ['::1', /loopback/],
    ['0:0:0:0:0:0:0:1', /loopback/],
    ['::ffff:127.0.0.1', /mapped.*loopback/],
    ['::ffff:a9fe:a9fe', /mapped.*metadata/],
    ['::10.0.0.1', /compatible.*private/],
    ['64:ff9b::7f00:1', /NAT64.*loopback/],
    ['2002:a9fe:a9fe::1', /6to4.*metadata/],
    ['fc00::1', /unique local/],
    ['fd12:3456::1', /unique local/],
    ['fd00:ec2::254', /metadata/],
    ['fe80::1', /link-local/],
    ['febf::1', /link-local/],
    ['ff02::1', /multicast/],
  ];
  for (const [address, reason] of internal) {
    test(`${address} is internal`, () => {
      assert.match(internalAddress(address)?.reason ?? 'public', reason);
      const verdict = classifyDestination({ host: 'name.example', port: 443, addresses: [address], allowHosts: ['*'], daemonPorts: [] });
      assert.equal(verdict.destination, 'internal', 'a glob never opens an internal address');
      assert.ok(verdict.refuse !== undefined);
    });
  }
  const publicAddresses = ['8.8.8.8', '172.32.0.1', '172.15.255.255', '100.128.0.1', '100.63.255.255', '169.253.1.1', '11.0.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', '1.0.0.1'];
  for (const address of publicAddresses) {
    test(`${address} is public`, () => {
      assert.equal(internalAddress(address), undefined);
      assert.equal(classifyDestination({ host: 'name.example', port: 443, addresses: [address], allowHosts: [], daemonPorts: [] }).destination, 'public');
    });
  }
  test('canonical hosts', () => {
    assert.equal(canonicalHost('Example.ORG.'), 'example.org');
    assert.equal(canonicalHost('[::FFFF:127.0.0.1]'), '::ffff:7f00:1');
    assert.equal(canonicalHost('0x7f.0.0.1'), '127.0.0.1');
    assert.equal(canonicalHost('exa mple'), undefined);
    assert.equal(canonicalHost(''), undefined);
  });
  const verdicts: Array<[name: string, host: string, port: number, addresses: string[], allowHosts: string[], destination: string]> = [
    ['a public host', 'example.org', 443, ['93.184.215.14'], [], 'public'],
    ['a glob entry', 'registry.npmjs.org', 443, ['104.16.1.35'], ['*.npmjs.org'], 'listed'],
    ['a glob does not match the bare domain', 'npmjs.org', 443, ['104.16.1.35'], ['*.npmjs.org'], 'public'],
    ['an entry with the port', 'github.com', 443, ['140.82.112.3'], ['github.com:443'], 'listed'],
    ['an entry with another port', 'github.com', 22, ['140.82.112.3'], ['github.com:443'], 'public'],
    ['case and trailing dot', 'GitHub.com.', 443, ['140.82.112.3'], ['github.COM.'], 'listed'],
    ['an address literal host listed by its literal', '10.0.0.7', 5000, [], ['10.0.0.7:5000'], 'listed'],
    ['an address in another spelling names the same address', '0xa.0.0.7', 5000, [], ['10.0.0.7'], 'listed'],
    ['an IPv6 entry in brackets', '::1', 8080, ['::1'], ['[::1]:8080'], 'listed'],
    ['a private address behind an exact name', 'git.corp', 443, ['10.9.9.9'], ['git.corp'], 'listed'],
    ['a private address behind a glob', 'git.corp', 443, ['10.9.9.9'], ['*.corp', '*'], 'internal'],
    ['a private address reached by a name listed by address', 'git.corp', 443, ['10.9.9.9'], ['10.9.9.9'], 'listed'],
    ['metadata listed by its literal address', '169.254.169.254', 80, [], ['169.254.169.254'], 'listed'],
    ['metadata behind a listed name', 'meta.example', 80, ['169.254.169.254'], ['meta.example'], 'internal'],
    ['metadata behind a name, its literal listed', 'meta.example', 80, ['169.254.169.254'], ['169.254.169.254'], 'listed'],
    ['a metadata host name even when listed', 'metadata.google.internal', 80, ['169.254.169.254'], ['metadata.google.internal', '169.254.169.254'], 'internal'],
    ['localhost by name without resolution', 'localhost', 3000, ['93.184.215.14'], [], 'internal'],
    ['localhost listed by name', 'localhost', 3000, ['127.0.0.1'], ['localhost:3000'], 'listed'],
    ['the daemon port on localhost listed by name', 'localhost', 7777, ['127.0.0.1'], ['localhost'], 'internal'],
    ['the daemon port on a listed literal', '127.0.0.1', 7777, [], ['127.0.0.1:7777'], 'listed'],
    ['the daemon port on a public address is public', 'example.org', 7777, ['93.184.215.14'], [], 'public'],
    ['an address literal host is checked even when the caller resolved it elsewhere', '127.0.0.1', 80, ['93.184.215.14'], [], 'internal'],
    ['every internal address must be named', 'mixed.example', 443, ['10.0.0.1', '169.254.169.254'], ['mixed.example'], 'internal'],
  ];
  for (const [name, host, port, addresses, allowHosts, destination] of verdicts) {
    test(name, () => {
      const verdict = classifyDestination({ host, port, addresses, allowHosts, daemonPorts: [7777] });
      assert.equal(verdict.destination, destination, JSON.stringify(verdict));
      assert.equal(verdict.refuse !== undefined, destination === 'internal');
    });
  }
  test('nothing to check is refused', () => {
    assert.match(classifyDestination({ host: 'nx.example', port: 443, addresses: [], allowHosts: [], daemonPorts: [] }).refuse ?? '', /resolved to no address/);
    assert.match(classifyDestination({ host: 'x.example', port: 443, addresses: ['not-an-ip'], allowHosts: [], daemonPorts: [] }).refuse ?? '', /not an IP address/);
    assert.match(classifyDestination({ host: 'bad host', port: 443, addresses: ['1.1.1.1'], allowHosts: [], daemonPorts: [] }).refuse ?? '', /not a valid host/);
  });
  test('the refusal names the host, the port and why', () => {
    const verdict = classifyDestination({ host: 'fd00:ec2::254', port: 80, addresses: [], allowHosts: [], daemonPorts: [] });
    assert.equal(verdict.refuse, '[fd00:ec2::254]:80 is refused: fd00:ec2::254 is the AWS IPv6 metadata endpoint. Only an allowHosts entry with that very address lets the agent reach it.');
  });
  test('classifyConnect', () => {
    const listed = classifyConnect('github.com', 443, { destination: 'listed', reasons: [] });
    assert.deepEqual([listed.class, listed.risk, listed.summary], ['connect', 'low', 'CONNECT github.com:443 (listed)']);
    assert.deepEqual(listed.attributes, { class: 'connect', host: 'github.com', port: 443, destination: 'listed' });
    const open = classifyConnect('registry.example', 443, { destination: 'public', reasons: [] });
    assert.deepEqual([open.class, open.risk, open.summary], ['connect', 'medium', 'CONNECT registry.example:443']);
    assert.match(open.reasons[0]!, /not on the target's allowHosts/);
    const inner = classifyConnect('::1', 22, { destination: 'internal', refuse: 'x', reasons: ['::1 is a loopback address'] });
    assert.deepEqual([inner.class, inner.risk, inner.summary], ['privileged', 'critical', 'CONNECT [::1]:22 (internal address)']);
  });
  test('withDestination adds the destination and makes an internal one privileged', () => {
    const c = classifyHttpRequest(described('GET', 'http://example.org/x', [], 'absolute'), undefined, OPTIONS);
    const open = withDestination(c, { destination: 'public', reasons: [] });
    assert.equal(open.class, 'read');
    assert.equal(open.attributes.destination, 'public');
    const inner = withDestination(c, { destination: 'internal', refuse: 'x', reasons: ['10.0.0.1 is a private address (10/8)'] });
    assert.equal(inner.class, 'privileged');
    assert.equal(inner.attributes.class, 'privileged');
    assert.equal(inner.risk, 'critical');
    assert.ok(inner.reasons.includes('10.0.0.1 is a private address (10/8)'));
  });
});

describe('describeRequest against a real URL parser (seeded random targets)', () => {
  /** tokens an agent would combine to slip a path past a rule */
  const TOKENS = ['a', 'B', '.', '..', '/', '%2e', '%2E', '%2f', '%2F', '%25', '%252e', '%5c', '\\', ';', '%3b', '?', '#', '%', '2', 'e', 'f', '%00', '%c0%ae', '%ef%bc%8e', '%41', '~', '{', '|', '@', ':', '=', '&', '+', ' ', '%20', '%7e', 'é'];
  let seed = 0x5eed;
  const next = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const decodeFully = (text: string) => {
    let previous = text;
    for (let i = 0; i < 8; i++) {
      const decoded = previous.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
      if (decoded === previous) break;
      previous = decoded;
    }
    return previous;
  };

  test('every target is refused, or its path has no dot segment however often it is decoded, and a WHATWG parser reads the forwarded target as the same path and query', () => {
    let described = 0;
    for (let n = 0; n < 5000; n++) {
      const length = 1 + (next() % 8);
      let target = '/';
      for (let i = 0; i < length; i++) target += TOKENS[next() % TOKENS.length];
      const result = describeRequest({ method: 'GET', target, headers: [] }, API, LIMITS);
      if (isMalformed(result)) {
        assert.ok(result.status === 400 || result.status === 414, target);
        continue;
      }
      described++;
      for (const segment of decodeFully(result.path).split(/[/\\]/)) assert.ok(segment !== '.' && segment !== '..', `${target} → ${result.path}`);
      const again = describeRequest({ method: 'GET', target: result.forwardTarget, headers: [] }, API, LIMITS);
      assert.ok(!isMalformed(again) && again.forwardTarget === result.forwardTarget, `${target}: not a fixed point`);
      const url = new URL(result.forwardTarget, 'https://api.example.com');
      assert.equal(url.pathname, result.path, target);
      assert.equal(url.search.replace(/^\?/, ''), result.forwardTarget.includes('?') ? result.forwardTarget.slice(result.forwardTarget.indexOf('?') + 1) : '', target);
    }
    assert.ok(described > 1000, `only ${described} of 5000 targets were described; the generator is too hostile to test anything`);
  });
});
