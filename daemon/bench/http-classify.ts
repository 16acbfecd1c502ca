import { parse } from 'graphql';
import { bodyNeeded, classifyHttpRequest, describeRequest, isMalformed } from '../src/classify/http/index.js';
import type { BodyPrefix, HttpClassification, HttpRequestHead } from '../src/classify/http/index.js';
import { percentile } from './report.js';
import type { BenchSection } from './report.js';

const BATCH = 500;
const SAMPLES = 200;
const WARMUP_ROUNDS = 2_000;
const UPSTREAM = { scheme: 'https', host: 'api.github.com', port: 443 } as const;
const LIMITS = { maxTargetBytes: 16 * 1024 };
const OPTIONS = { graphqlPaths: ['**/graphql'], documentBytes: 64 * 1024 };

const REST_GET: HttpRequestHead = {
  method: 'GET',
  target: '/repos/octo-org/octo-repo/pulls?state=open&per_page=50&sort=updated',
  headers: [
    ['accept', 'application/vnd.github+json'],
    ['user-agent', 'agent/1.0'],
  ],
};

const GRAPHQL_DOCUMENT = `query Pulls($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) {
    pullRequests(first: 20, states: OPEN) { nodes { number title author { login } ...Checks } }
  }
  viewer { login }
}
fragment Checks on PullRequest { commits(last: 1) { nodes { commit { statusCheckRollup { state } } } } }`;
const GRAPHQL_BODY = new TextEncoder().encode(JSON.stringify({ query: GRAPHQL_DOCUMENT, variables: { owner: 'octo-org', name: 'octo-repo' }, operationName: 'Pulls' }));
const GRAPHQL_POST: HttpRequestHead = {
  method: 'POST',
  target: '/graphql',
  headers: [
    ['content-type', 'application/json'],
    ['content-length', String(GRAPHQL_BODY.length)],
  ],
};

let sink = 0;

/** The whole pure path the proxy runs on a request: describe, ask what body is needed, classify. */
function classifyOnce(head: HttpRequestHead, body: Uint8Array | undefined): HttpClassification {
  const description = describeRequest(head, UPSTREAM, LIMITS);
  if (isMalformed(description)) throw new Error(`bench http: ${description.reason}`);
  const prefix: BodyPrefix | undefined = bodyNeeded(description, OPTIONS).kind === 'none' || body === undefined ? undefined : { bytes: body, complete: true };
  return classifyHttpRequest(description, prefix, OPTIONS);
}

function perSecond(run: () => number): number[] {
  for (let i = 0; i < WARMUP_ROUNDS; i++) sink += run();
  const out: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) sink += run();
    out.push(BATCH / (Number(process.hrtime.bigint() - start) / 1e9));
  }
  return out.sort((a, b) => a - b);
}

/** Pure HTTP classifications per second: a REST GET and a GraphQL POST, against the bare parse of each. */
export async function benchHttpClassify(): Promise<BenchSection> {
  for (const [name, got] of [['REST GET', classifyOnce(REST_GET, undefined).class], ['GraphQL POST', classifyOnce(GRAPHQL_POST, GRAPHQL_BODY).class]]) {
    if (got !== 'read') throw new Error(`bench http: the ${name} classified as ${got}, expected read`);
  }
  const restRate = perSecond(() => classifyOnce(REST_GET, undefined).summary.length);
  const urlRate = perSecond(() => new URL(REST_GET.target, 'https://api.github.com').pathname.length);
  const graphqlRate = perSecond(() => classifyOnce(GRAPHQL_POST, GRAPHQL_BODY).summary.length);
  const parseRate = perSecond(() => parse(GRAPHQL_DOCUMENT, { noLocation: true }).definitions.length);
  if (sink === -1) console.log('unreachable');
  return {
    title: 'HTTP classification (pure)',
    figures: [
      { name: 'REST GET described and classified p50', value: percentile(restRate, 50), unit: 'req/s', baseline: { name: 'WHATWG URL parse alone', value: percentile(urlRate, 50) } },
      { name: 'GraphQL POST described, parsed and classified p50', value: percentile(graphqlRate, 50), unit: 'req/s', baseline: { name: 'graphql parse alone', value: percentile(parseRate, 50) } },
    ],
    notes: [`GraphQL body ${GRAPHQL_BODY.length} bytes (a query with a fragment); the classification also reads the JSON and checks it for repeated keys`],
  };
}
