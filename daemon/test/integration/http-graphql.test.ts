import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { buildSchema, graphql } from 'graphql';
import { HttpRequestDetail } from '@airlock/shared';
import { request, startHttpProxy, startUpstream, type HttpProxyHarness, type TestUpstream } from '../helpers/http-proxy.js';
import { pendingApproval } from '../helpers/daemon-harness.js';
import { createCertificateAuthority } from '../helpers/tls-certs.js';

const POLICY = `version: 1
default: review
rules:
  - id: reads-allow
    decision: allow
    match:
      attributes:
        class: read
  - id: writes-review
    decision: review
    match:
      attributes:
        class: write
`;

const schema = buildSchema(`
  type Repo { name: String, stars: Int }
  type Query { repo(name: String!): Repo, viewer: String }
  type Mutation { addStar(name: String!): Repo, deleteRepo(name: String!): Boolean }
`);

describe('http target: GraphQL read with the graphql parser (a real graphql() server upstream)', () => {
  let upstream: TestUpstream;
  let h: HttpProxyHarness;
  let stars = 0;
  const root = {
    repo: ({ name }: { name: string }) => ({ name, stars }),
    viewer: () => 'agent',
    addStar: ({ name }: { name: string }) => ({ name, stars: ++stars }),
    deleteRepo: () => true,
  };
  before(async () => {
    const ca = await createCertificateAuthority();
    upstream = await startUpstream(
      async (req, res, body) => {
        const url = new URL(req.url ?? '/', 'http://x');
        const run = (q: { query: string; variables?: Record<string, unknown> }) => graphql({ schema, source: q.query, rootValue: root, variableValues: q.variables });
        let payload: unknown;
        if (req.method === 'GET') payload = await run({ query: url.searchParams.get('query') ?? '' });
        else {
          const parsed = JSON.parse(body.toString('utf8')) as unknown;
          payload = Array.isArray(parsed) ? await Promise.all(parsed.map(run)) : await run(parsed as { query: string });
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      },
      { ca },
    );
    h = await startHttpProxy({ upstream: upstream.url, caPem: ca.cert, policy: POLICY });
  });
  after(async () => {
    await h?.stop();
    await upstream?.close();
  });

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    request(`${h.url}/graphql`, { token: h.token, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) });

  test('a query is allowed', async () => {
    const res = await post({ query: '{ repo(name: "a") { name stars } }' });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { data: { repo: { name: 'a', stars: 0 } } });
  });

  test('a mutation is held; the approval names the operation; approved, it runs', async () => {
    const before = upstream.seen.length;
    const running = post({ query: 'mutation Star { addStar(name: "a") { stars } }' });
    const approval = await pendingApproval(h.daemon);
    assert.equal(upstream.seen.length, before, 'held: nothing upstream');
    const detail = HttpRequestDetail.parse((approval as unknown as { action: { detail: unknown } }).action.detail);
    assert.equal(detail.graphql?.operations[0]?.type, 'mutation');
    assert.deepEqual(detail.graphql?.operations[0]?.fields, ['addStar']);
    await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, { by: 'alice', via: 'api' });
    const res = await running;
    assert.deepEqual(JSON.parse(res.body), { data: { addStar: { stars: 1 } } });
  });

  for (const [name, send] of [
    ['a mutation hidden in GET ?query=', (hh: HttpProxyHarness) => request(`${hh.url}/graphql?query=${encodeURIComponent('mutation { deleteRepo(name: "a") }')}`, { token: hh.token })],
    ['a batch with a query and a mutation', () => post([{ query: '{ viewer }' }, { query: 'mutation { deleteRepo(name: "a") }' }])],
    ['a gzip-compressed mutation body', () => post(gzipSync(JSON.stringify({ query: 'mutation { deleteRepo(name: "a") }' })), { 'content-encoding': 'gzip' })],
    ['a mutation after a query in one document, operationName picking it', () => post({ query: 'query Q { viewer } mutation M { deleteRepo(name: "a") }', operationName: 'M' })],
  ] as const) {
    test(`${name} is held, and refused when denied; the upstream never runs it`, async () => {
      const before = upstream.seen.length;
      const running = send(h);
      const approval = await pendingApproval(h.daemon);
      await h.daemon.api('POST', `/v1/approvals/${approval.id}/deny`, { by: 'alice', via: 'api', reason: 'not this one' });
      const res = await running;
      assert.equal(res.status, 403);
      assert.equal(upstream.seen.length, before);
    });
  }

  test('unparseable GraphQL is not allowed as a read', async () => {
    const running = post({ query: '{ repo(name: ' });
    const approval = await pendingApproval(h.daemon);
    await h.daemon.api('POST', `/v1/approvals/${approval.id}/deny`, { by: 'alice', via: 'api', reason: 'not this one' });
    assert.equal((await running).status, 403);
  });
});
