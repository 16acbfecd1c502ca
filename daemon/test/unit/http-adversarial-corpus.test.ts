import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttributeValue, Decision } from '@airlock/shared';
import {
  bodyNeeded,
  classifyConnect,
  classifyDestination,
  classifyHttpRequest,
  describeRequest,
  isMalformed,
  withDestination,
  type HttpClass,
  type HttpClassification,
  type RequestBase,
} from '../../src/classify/http/index.js';
import { compilePolicy } from '../../src/policy/engine.js';
import { DEFAULT_POLICY } from '../../src/policy/defaults.js';

/**
 * What an agent that wants through would send to an API target or the egress proxy, and what must
 * come of it: a 400/414 before policy, or the class and attributes the decision rests on, and the
 * decision the default policy makes on them. Every request goes through describeRequest,
 * bodyNeeded and classifyHttpRequest as the proxy runs them.
 */

const policy = compilePolicy(DEFAULT_POLICY, { defaultReviewTimeoutMs: 300_000 });
const GITHUB: RequestBase = { scheme: 'https', host: 'api.github.com', port: 443 };
const LIMITS = { maxTargetBytes: 2048 };
const OPTIONS = { graphqlPaths: ['**/graphql'], documentBytes: 4096 };
const ZERO = '0'.repeat(40);
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

interface Request {
  method: string;
  target: string;
  headers?: Array<[string, string]>;
  body?: string | Uint8Array;
  /** the body was cut at the limit */
  cut?: boolean;
  base?: RequestBase;
}

interface Refused {
  status: 400 | 414;
  reason: RegExp;
}

interface Classified {
  class: HttpClass;
  decision: Decision['decision'];
  attributes?: Record<string, AttributeValue>;
  /** the forwarded origin-form target */
  forward?: string;
  summary?: RegExp;
}

type Case = { name: string; request: Request } & ({ refused: Refused } | { expect: Classified });

function json(value: unknown): string {
  return JSON.stringify(value);
}

function pkt(text: string): string {
  return (text.length + 4).toString(16).padStart(4, '0') + text;
}

/** A receive-pack body with these commands and no pack (a delete needs none; an update without one is not shown to be a fast-forward). */
function push(...commands: string[]): string {
  return commands.map((command, i) => pkt(i === 0 ? `${command}\0report-status side-band-64k\n` : `${command}\n`)).join('') + '0000';
}

const graphqlPost = (body: string, contentType = 'application/json'): Request => ({
  method: 'POST',
  target: '/graphql',
  headers: [
    ['content-type', contentType],
    ['content-length', String(Buffer.byteLength(body))],
  ],
  body,
});
const get = (target: string, headers: Array<[string, string]> = []): Request => ({ method: 'GET', target, headers });
const enc = encodeURIComponent;

const CASES: Case[] = [
  // --- GraphQL: what runs, not what is named
  { name: 'GraphQL mutation hidden in a GET query string', request: get(`/graphql?query=${enc('mutation { deleteRepository(id: 1) { id } }')}`), expect: { class: 'write', decision: 'review', attributes: { graphqlOperation: ['mutation'], graphqlFields: ['deleteRepository'] } } },
  { name: 'GraphQL mutation in a GET query string with form-style + spaces', request: get('/graphql?query=mutation+%7B+addStar%28id%3A1%29+%7B+id+%7D+%7D'), expect: { class: 'write', decision: 'review', attributes: { graphqlFields: ['addStar'] } } },
  { name: 'GraphQL query-string key spelled with an escape (%71uery)', request: get(`/graphql?%71uery=${enc('mutation{x}')}`), expect: { class: 'write', decision: 'review' } },
  { name: 'two query parameters, a harmless one first', request: get(`/graphql?query=${enc('{viewer{login}}')}&query=${enc('mutation{deleteX}')}`), expect: { class: 'write', decision: 'review', attributes: { graphqlOperation: ['query', 'mutation'] } } },
  { name: 'GraphQL mutation in a query parameter on a path the target did not list', request: get(`/api/v2/gql?query=${enc('mutation { removeUser(id: 3) }')}`), expect: { class: 'write', decision: 'review', attributes: { graphqlFields: ['removeUser'] } } },
  { name: 'a search for the word "mutation" elsewhere stays a read', request: get('/search/issues?query=mutation+testing'), expect: { class: 'read', decision: 'allow' } },
  { name: 'GraphQL path in another case (/GraphQL/)', request: get(`/GraphQL/?query=${enc('mutation{x}')}`), expect: { class: 'write', decision: 'review' } },
  { name: 'GraphQL query over POST is a read', request: graphqlPost(json({ query: '{ viewer { login } }' })), expect: { class: 'read', decision: 'allow', attributes: { method: 'POST', graphqlOperation: ['query'], graphqlFields: ['viewer'] } } },
  { name: 'operationName points at a query while a mutation is in the same document', request: graphqlPost(json({ query: 'query A { viewer { login } } mutation B { deleteRepository(id: 1) { id } }', operationName: 'A' })), expect: { class: 'write', decision: 'review', attributes: { graphqlOperation: ['query', 'mutation'] } } },
  { name: 'batched request mixing a query and a mutation', request: graphqlPost(json([{ query: '{ viewer { login } }' }, { query: 'mutation { addStar(id: 1) { id } }' }])), expect: { class: 'write', decision: 'review', summary: /^GraphQL mutation addStar; query viewer$/ } },
  { name: 'batch of queries only', request: graphqlPost(json([{ query: '{ a }' }, { query: 'query { b }' }])), expect: { class: 'read', decision: 'allow' } },
  { name: 'alias dressing a mutation field as a harmless name', request: graphqlPost(json({ query: 'mutation { viewer: deleteRepository(id: 1) { id } }' })), expect: { class: 'write', decision: 'review', attributes: { graphqlFields: ['deleteRepository'] } } },
  { name: 'mutation fields reached through a fragment spread at top level', request: graphqlPost(json({ query: 'mutation M { ...F } fragment F on Mutation { removeStar(id: 1) { id } }' })), expect: { class: 'write', decision: 'review', attributes: { graphqlFields: ['removeStar'] } } },
  { name: 'inline fragment and @skip do not hide a field', request: graphqlPost(json({ query: 'mutation { ... on Mutation { deleteIssue(id: 2) @skip(if: true) } }' })), expect: { class: 'write', decision: 'review', attributes: { graphqlFields: ['deleteIssue'] } } },
  { name: 'a comment and odd whitespace before "mutation"', request: graphqlPost(json({ query: '# just a query\n\t ,, mutation\n{ addStar(id:1) }' })), expect: { class: 'write', decision: 'review' } },
  { name: 'subscription is a write', request: graphqlPost(json({ query: 'subscription { events }' })), expect: { class: 'write', decision: 'review', attributes: { graphqlOperation: ['subscription'] } } },
  { name: 'introspection is a read', request: graphqlPost(json({ query: '{ __schema { types { name } } }' })), expect: { class: 'read', decision: 'allow', attributes: { graphqlFields: ['__schema'] } } },
  { name: 'application/graphql body with a mutation', request: graphqlPost('mutation { addStar(id: 1) }', 'application/graphql'), expect: { class: 'write', decision: 'review' } },
  { name: 'form-encoded GraphQL body', request: graphqlPost(`query=${enc('mutation{x}')}`, 'application/x-www-form-urlencoded'), expect: { class: 'write', decision: 'review' } },
  { name: 'persisted query (only a hash) cannot be inspected', request: graphqlPost(json({ extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } } })), expect: { class: 'unknown', decision: 'review' } },
  { name: 'persisted query over GET', request: get(`/graphql?extensions=${enc(json({ persistedQuery: { version: 1, sha256Hash: 'cd'.repeat(32) } }))}`), expect: { class: 'unknown', decision: 'review' } },
  { name: 'GraphQL parse error is unknown', request: graphqlPost(json({ query: 'mutation { ' })), expect: { class: 'unknown', decision: 'review' } },
  { name: 'GraphQL body cut at the limit is unknown', request: { ...graphqlPost(json({ query: '{ viewer { login } }' })), cut: true }, expect: { class: 'unknown', decision: 'review' } },
  { name: 'JSON with "query" twice (servers differ on which wins)', request: graphqlPost('{"query":"{ viewer { login } }","query":"mutation { x }"}'), expect: { class: 'unknown', decision: 'review' } },
  { name: 'repeated key spelled with a JSON escape', request: graphqlPost('{"query":"mutation { x }","\\u0071uery":"{ a }"}'), expect: { class: 'unknown', decision: 'review' } },
  { name: 'gzip-encoded GraphQL body is not inspected', request: { ...graphqlPost(json({ query: '{ a }' })), headers: [['content-type', 'application/json'], ['content-encoding', 'gzip'], ['content-length', '20']] }, expect: { class: 'unknown', decision: 'review' } },
  { name: 'mutation in the body of a GET on the GraphQL path', request: { method: 'GET', target: '/graphql', headers: [['content-type', 'application/json'], ['content-length', '40']], body: json({ query: 'mutation { x }' }) }, expect: { class: 'write', decision: 'review' } },

  // --- method tricks
  { name: 'X-HTTP-Method-Override: DELETE on a GET', request: get('/repos/a/b', [['x-http-method-override', 'DELETE']]), expect: { class: 'write', decision: 'review', attributes: { destructive: true, methodOverride: 'DELETE' } } },
  { name: '_method=delete in the query (lower case)', request: get('/repos/a/b?_method=delete'), expect: { class: 'write', decision: 'review', attributes: { destructive: true, methodOverride: 'DELETE' } } },
  { name: '_method behind a ";" separator', request: get('/repos/a/b?x=1;_method=DELETE'), expect: { class: 'write', decision: 'review', attributes: { destructive: true } } },
  { name: '_method spelled %5Fmethod', request: get('/repos/a/b?%5Fmethod=PUT'), expect: { class: 'write', decision: 'review', attributes: { methodOverride: 'PUT' } } },
  { name: 'X-HTTP-Method and X-Method-Override that disagree', request: get('/repos/a/b', [['x-http-method', 'PUT'], ['x-method-override', 'DELETE']]), expect: { class: 'unknown', decision: 'review' } },
  { name: '_method=DELETE in a form body (Rails, Laravel)', request: { method: 'POST', target: '/repos/a/b/issues', headers: [['content-type', 'application/x-www-form-urlencoded']], body: 'title=x&_method=delete' }, expect: { class: 'write', decision: 'review', attributes: { destructive: true, methodOverride: 'DELETE' } } },
  { name: 'a form body _method that disagrees with the header', request: { method: 'POST', target: '/repos/a/b/issues', headers: [['content-type', 'application/x-www-form-urlencoded'], ['x-http-method-override', 'PUT']], body: '%5Fmethod=DELETE' }, expect: { class: 'unknown', decision: 'review' } },
  { name: 'an override naming an extension method', request: get('/dav/x', [['x-http-method-override', 'PROPPATCH']]), expect: { class: 'unknown', decision: 'review' } },
  { name: 'an override of GET on a POST stays a write', request: { method: 'POST', target: '/repos/a/b/issues', headers: [['x-http-method-override', 'GET']] }, expect: { class: 'write', decision: 'review' } },
  { name: 'lower-case method "get" is not GET', request: { method: 'get', target: '/user' }, expect: { class: 'unknown', decision: 'review' } },
  { name: 'mixed-case method "Delete"', request: { method: 'Delete', target: '/repos/a/b' }, expect: { class: 'unknown', decision: 'review' } },
  { name: 'PROPFIND is unknown', request: { method: 'PROPFIND', target: '/files' }, expect: { class: 'unknown', decision: 'review' } },
  { name: 'TRACE is unknown', request: { method: 'TRACE', target: '/' }, expect: { class: 'unknown', decision: 'review' } },
  { name: 'DELETE is a destructive write', request: { method: 'DELETE', target: '/repos/a/b' }, expect: { class: 'write', decision: 'review', attributes: { destructive: true } } },
  { name: 'a WebSocket upgrade is not a plain read', request: get('/socket', [['upgrade', 'websocket'], ['connection', 'Upgrade']]), expect: { class: 'websocket', decision: 'review' } },

  // --- paths that servers read differently
  { name: 'encoded dot segments %2e%2e/', request: get('/repos/a/b/%2e%2e/%2e%2e/admin'), refused: { status: 400, reason: /dot segment/ } },
  { name: 'mixed-case encoded dots %2E.', request: get('/repos/%2E./admin'), refused: { status: 400, reason: /dot segment/ } },
  { name: 'half-encoded dots .%2e', request: get('/repos/.%2e/admin'), refused: { status: 400, reason: /dot segment/ } },
  { name: 'plain .. segment', request: get('/repos/a/../../admin'), refused: { status: 400, reason: /dot segment/ } },
  { name: '..%2f behind an encoded slash', request: get('/static/..%2f..%2fadmin'), refused: { status: 400, reason: /encoded slash/ } },
  { name: 'double-encoded dots %252e%252e', request: get('/static/%252e%252e/admin'), refused: { status: 400, reason: /double-encoded/ } },
  { name: 'double-encoded slash %252f', request: get('/repos/a%252f..%252fadmin'), refused: { status: 400, reason: /double-encoded/ } },
  { name: 'triple-encoded slash %25252f', request: get('/files/a%25252fb'), refused: { status: 400, reason: /double-encoded/ } },
  { name: 'encoded backslash %5c', request: get('/repos/..%5cadmin'), refused: { status: 400, reason: /backslash/ } },
  { name: 'raw backslash', request: get('/repos\\..\\admin'), refused: { status: 400, reason: /backslash/ } },
  { name: 'overlong UTF-8 dot %c0%ae', request: get('/static/%c0%ae%c0%ae/admin'), refused: { status: 400, reason: /UTF-8/ } },
  { name: 'fullwidth full stops (Unicode dots)', request: get('/static/%EF%BC%8E%EF%BC%8E/admin'), refused: { status: 400, reason: /Unicode/ } },
  { name: 'two-dot leader U+2025', request: get('/static/%E2%80%A5/admin'), refused: { status: 400, reason: /Unicode/ } },
  { name: 'fullwidth solidus U+FF0F', request: get('/static/a%EF%BC%8Fb'), refused: { status: 400, reason: /Unicode/ } },
  { name: 'encoded NUL', request: get('/files/a%00.json'), refused: { status: 400, reason: /control/ } },
  { name: 'invalid percent-escape', request: get('/files/%zz'), refused: { status: 400, reason: /invalid percent-escape/ } },
  { name: 'non-ASCII byte in the request line', request: get('/files/caf\u00e9'), refused: { status: 400, reason: /non-ASCII/ } },
  { name: 'empty segment //', request: get('/repos//a/b'), refused: { status: 400, reason: /empty segment/ } },
  { name: 'matrix parameter ..;/ (Tomcat reads it as ..)', request: get('/public/..;/admin'), refused: { status: 400, reason: /;/ } },
  { name: 'matrix parameter on a segment', request: get('/admin;jsessionid=1/users'), refused: { status: 400, reason: /;/ } },
  { name: 'encoded ; %3B', request: get('/admin%3bx/users'), refused: { status: 400, reason: /%3B/ } },
  { name: 'fragment in the request target', request: get('/repos/a/b#/../admin'), refused: { status: 400, reason: /fragment/ } },
  { name: 'over-long target', request: get('/a/' + 'x'.repeat(4096)), refused: { status: 414, reason: /above the limit of 2048/ } },
  { name: 'asterisk-form to an API target', request: { method: 'OPTIONS', target: '*' }, refused: { status: 400, reason: /origin-form/ } },
  { name: 'absolute-form to an API target', request: get('http://evil.example/repos'), refused: { status: 400, reason: /origin-form/ } },
  { name: 'unreserved escapes decode: %61dmin is admin to policy and upstream', request: get('/%61dmin/%7Eusers'), expect: { class: 'read', decision: 'allow', attributes: { path: '/admin/~users' }, forward: '/admin/~users' } },
  { name: 'an encoded slash stays encoded and goes up as sent', request: get('/repos/a%2fb/contents'), expect: { class: 'read', decision: 'allow', attributes: { path: '/repos/a%2Fb/contents' }, forward: '/repos/a%2Fb/contents' } },
  { name: '"?" in the path starts the query: the path is only what precedes it', request: get('/repos/a?/../../admin'), expect: { class: 'read', decision: 'allow', attributes: { path: '/repos/a', query: ['/../../admin'] } } },
  { name: 'an encoded ? stays in the path', request: get('/files/a%3fb'), expect: { class: 'read', decision: 'allow', attributes: { path: '/files/a%3Fb' } } },

  // --- headers
  { name: 'two different Content-Type headers', request: { method: 'POST', target: '/graphql', headers: [['content-type', 'application/json'], ['content-type', 'application/graphql'], ['content-length', '4']], body: '{ }' }, refused: { status: 400, reason: /content-type/ } },
  { name: 'Transfer-Encoding and Content-Length together', request: { method: 'POST', target: '/x', headers: [['transfer-encoding', 'chunked'], ['content-length', '5']] }, refused: { status: 400, reason: /both/ } },

  // --- git smart HTTP
  { name: 'git push deleting a branch', request: { method: 'POST', target: '/org/repo.git/git-receive-pack', headers: [['content-type', 'application/x-git-receive-pack-request']], body: push(`${A} ${ZERO} refs/heads/main`) }, expect: { class: 'write', decision: 'review', attributes: { gitService: 'git-receive-pack', deletesRef: true, gitRefs: ['refs/heads/main'], forcePush: false } } },
  { name: 'git push rewriting a branch it cannot show is a fast-forward', request: { method: 'POST', target: '/org/repo.git/git-receive-pack', body: push(`${A} ${B} refs/heads/main`) }, expect: { class: 'write', decision: 'deny', attributes: { forcePush: true } } },
  { name: 'git push with the service name in another case', request: { method: 'POST', target: '/org/repo.git/GIT-RECEIVE-PACK', body: push(`${A} ${B} refs/heads/main`) }, expect: { class: 'write', decision: 'deny', attributes: { forcePush: true } } },
  { name: 'git fetch is a read though it is a POST', request: { method: 'POST', target: '/org/repo.git/git-upload-pack', headers: [['content-length', '4']], body: '0000' }, expect: { class: 'read', decision: 'allow', attributes: { gitService: 'git-upload-pack' } } },
  { name: 'git push whose body is garbage', request: { method: 'POST', target: '/org/repo.git/git-receive-pack', body: 'zzzz not pkt-lines' }, expect: { class: 'unknown', decision: 'review' } },
];

interface EgressCase {
  name: string;
  request: Request;
  /** what the host resolved to (the shell's DNS answer) */
  addresses: string[];
  allowHosts?: string[];
  refused?: Refused;
  expect?: { class: HttpClass; decision: Decision['decision']; destination: 'listed' | 'public' | 'internal'; host?: string; absent?: string };
}

const DAEMON_PORTS = [7777, 8443];

const EGRESS: EgressCase[] = [
  { name: 'userinfo in an absolute URL is stripped and noted', request: get('http://user:hunter2@example.org/a'), addresses: ['93.184.215.14'], expect: { class: 'read', decision: 'review', destination: 'public', host: 'example.org', absent: 'hunter2' } },
  { name: 'userinfo with an @ in the password: the host is after the last @', request: get('http://a:b@evil.example@example.org/'), addresses: ['93.184.215.14'], expect: { class: 'read', decision: 'review', destination: 'public', host: 'example.org', absent: 'evil.example' } },
  { name: 'decimal IPv4 (2130706433) is 127.0.0.1', request: get('http://2130706433/'), addresses: [], expect: { class: 'privileged', decision: 'deny', destination: 'internal', host: '127.0.0.1' } },
  { name: 'hex IPv4 (0x7f.1) is 127.0.0.1', request: get('http://0x7f.1/'), addresses: [], expect: { class: 'privileged', decision: 'deny', destination: 'internal', host: '127.0.0.1' } },
  { name: 'octal IPv4 (017700000001) is 127.0.0.1', request: get('http://017700000001/'), addresses: [], expect: { class: 'privileged', decision: 'deny', destination: 'internal', host: '127.0.0.1' } },
  { name: 'IPv6 loopback literal', request: get('http://[::1]:8080/'), addresses: [], expect: { class: 'privileged', decision: 'deny', destination: 'internal', host: '::1' } },
  { name: 'IPv4-mapped metadata address', request: get('http://[::ffff:169.254.169.254]/latest/meta-data/'), addresses: [], expect: { class: 'privileged', decision: 'deny', destination: 'internal' } },
  { name: 'metadata host name', request: get('http://metadata.google.internal/computeMetadata/v1/'), addresses: ['169.254.169.254'], allowHosts: ['metadata.google.internal'], expect: { class: 'privileged', decision: 'deny', destination: 'internal' } },
  { name: 'a listed name resolving to the metadata address stays refused', request: get('http://api.partner.example/'), addresses: ['169.254.169.254'], allowHosts: ['api.partner.example'], expect: { class: 'privileged', decision: 'deny', destination: 'internal' } },
  { name: 'a glob entry never opens a private address', request: get('http://db.corp.example/'), addresses: ['10.1.2.3'], allowHosts: ['*.corp.example'], expect: { class: 'privileged', decision: 'deny', destination: 'internal' } },
  { name: 'an exact entry opens a private address', request: get('http://db.corp.example/'), addresses: ['10.1.2.3'], allowHosts: ['db.corp.example'], expect: { class: 'read', decision: 'allow', destination: 'listed' } },
  { name: 'one internal address among public ones', request: get('http://rebind.example/'), addresses: ['93.184.215.14', '127.0.0.1'], expect: { class: 'privileged', decision: 'deny', destination: 'internal' } },
  { name: 'the daemon\'s own port on localhost, listed by name', request: get('http://localhost:7777/v1/approvals'), addresses: ['127.0.0.1'], allowHosts: ['localhost'], expect: { class: 'privileged', decision: 'deny', destination: 'internal' } },
  { name: 'https:// in the request line is refused (CONNECT is the way)', request: get('https://example.org/'), addresses: [], refused: { status: 400, reason: /CONNECT/ } },
  { name: 'a backslash before @ (WHATWG and others split it differently)', request: get('http://evil.example\\@example.org/'), addresses: [], refused: { status: 400, reason: /backslash/ } },
  { name: 'a listed host with a trailing dot and capitals', request: get('http://Registry.NPMJS.org./pkg'), addresses: ['104.16.1.35'], allowHosts: ['*.npmjs.org'], expect: { class: 'read', decision: 'allow', destination: 'listed', host: 'registry.npmjs.org' } },
];

/** The headers as a client sends them: a body without a declared length gets its Content-Length. */
function headersOf(request: Request): Array<[string, string]> {
  const headers = request.headers ?? [];
  if (request.body === undefined || headers.some(([name]) => name === 'content-length' || name === 'transfer-encoding')) return headers;
  return [...headers, ['content-length', String(typeof request.body === 'string' ? Buffer.byteLength(request.body) : request.body.length)]];
}

function classify(request: Request): HttpClassification | { status: number; reason: string; forward?: undefined } | { classification: HttpClassification; forward: string; description: unknown } {
  const description = describeRequest({ method: request.method, target: request.target, headers: headersOf(request) }, request.base ?? GITHUB, LIMITS);
  if (isMalformed(description)) return description;
  const need = bodyNeeded(description, OPTIONS);
  const bytes = typeof request.body === 'string' ? new TextEncoder().encode(request.body) : request.body;
  // the API shell reads a small body of known length whatever bodyNeeded says (to show it in the approval); so does this
  const body = bytes === undefined || (need.kind === 'none' && description.contentLength === undefined) ? undefined : { bytes, complete: request.cut !== true };
  return { classification: classifyHttpRequest(description, body, OPTIONS), forward: description.forwardTarget, description };
}

function decide(protocol: 'http' | 'egress', kind: string, classification: HttpClassification): Decision['decision'] {
  return policy.evaluate({ protocol, target: protocol === 'http' ? 'gh' : 'egress', kind, attributes: classification.attributes }).decision;
}

describe('HTTP adversarial corpus (API target)', () => {
  test('the corpus is at least 45 requests', () => {
    assert.ok(CASES.length + EGRESS.length >= 45, `${CASES.length + EGRESS.length} cases`);
  });
  for (const c of CASES) {
    test(c.name, () => {
      const result = classify(c.request);
      if ('refused' in c) {
        assert.ok('status' in result, `expected a refusal, got ${JSON.stringify(result)}`);
        assert.equal(result.status, c.refused.status);
        assert.match(result.reason, c.refused.reason);
        return;
      }
      assert.ok('classification' in result, `expected a classification, got ${JSON.stringify(result)}`);
      const { classification, forward } = result;
      assert.equal(classification.class, c.expect.class, JSON.stringify(classification.reasons));
      assert.equal(classification.attributes.class, c.expect.class);
      for (const [name, value] of Object.entries(c.expect.attributes ?? {})) assert.deepEqual(classification.attributes[name], value, name);
      if (c.expect.forward !== undefined) assert.equal(forward, c.expect.forward);
      if (c.expect.summary !== undefined) assert.match(classification.summary, c.expect.summary);
      assert.equal(decide('http', 'http.request', classification), c.expect.decision);
    });
  }
});

describe('HTTP adversarial corpus (egress)', () => {
  for (const c of EGRESS) {
    test(c.name, () => {
      const description = describeRequest({ method: c.request.method, target: c.request.target, headers: c.request.headers ?? [] }, 'absolute', LIMITS);
      if (c.refused !== undefined) {
        assert.ok(isMalformed(description), `expected a refusal, got ${JSON.stringify(description)}`);
        assert.equal(description.status, c.refused.status);
        assert.match(description.reason, c.refused.reason);
        return;
      }
      assert.ok(!isMalformed(description), JSON.stringify(description));
      const expected = c.expect!;
      if (expected.host !== undefined) assert.equal(description.host, expected.host);
      const verdict = classifyDestination({ host: description.host, port: description.port, addresses: c.addresses, allowHosts: c.allowHosts ?? [], daemonPorts: DAEMON_PORTS });
      assert.equal(verdict.destination, expected.destination, JSON.stringify(verdict));
      assert.equal(verdict.refuse !== undefined, expected.destination === 'internal', 'an internal destination is refused by the adapter whatever policy says');
      const classification = withDestination(classifyHttpRequest(description, undefined, OPTIONS), verdict);
      assert.equal(classification.class, expected.class);
      assert.equal(decide('egress', 'http.request', classification), expected.decision);
      if (expected.absent !== undefined) {
        assert.ok(!JSON.stringify(description).includes(expected.absent), 'the description carries no credential');
        assert.ok(!JSON.stringify(classification).includes(expected.absent), 'the classification carries no credential');
        assert.equal(description.credentialsStripped, true);
      }
      // the same destination as a CONNECT tunnel is decided the same way
      const tunnel = classifyConnect(description.host, description.port, verdict);
      assert.equal(decide('egress', 'http.connect', tunnel), expected.destination === 'internal' ? 'deny' : expected.destination === 'listed' ? 'allow' : 'review');
    });
  }
});
