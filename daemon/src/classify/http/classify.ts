import type { AttributeValue } from '@airlock/shared';
import { bodyNeeded, isGraphqlPath } from './body-need.js';
import { classifyGitPush, gitServiceOf, type GitService } from './git.js';
import { readGraphqlBody, readGraphqlQueryString, type GraphqlReading } from './graphql.js';
import { methodClass, methodOverridesOf, riskOf, stricterClass } from './method.js';
import { queryPairsAnySeparator } from './path.js';
import type { BodyPrefix, HttpClass, HttpClassification, HttpClassifyOptions, HttpRequestDescription } from './types.js';

/** An approval prompt's one line: longer summaries are cut with an ellipsis. */
export const SUMMARY_MAX_CHARS = 200;

/** GraphQL servers take their requests on these methods; on them the GraphQL operations decide the class. */
const GRAPHQL_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST']);

/**
 * Classifies a described request (see describeRequest) with the part of its body bodyNeeded asked
 * for. The class is the strictest of what the method, a method override and the body's protocol
 * (GraphQL operations, git ref updates) say; what cannot be seen is unknown.
 */
export function classifyHttpRequest(req: HttpRequestDescription, body: BodyPrefix | undefined, options: HttpClassifyOptions): HttpClassification {
  const reasons: string[] = [];
  const byMethod = methodClass(req.method);
  let cls: HttpClass = byMethod.class;
  let destructive = byMethod.destructive;
  if (cls === 'unknown') reasons.push(`${req.method} is not a method Airlock knows the effect of (methods are case-sensitive)`);
  if (destructive) reasons.push(`${req.method} removes a resource`);

  const graphql = isGraphqlPath(req.path, options.graphqlPaths) ? readGraphql(req, body, options) : hiddenGraphql(req);
  if (graphql !== undefined) {
    const byGraphql = graphqlClass(graphql.reading, reasons);
    cls = graphql.onEndpoint && GRAPHQL_METHODS.has(req.method) ? byGraphql : stricterClass(cls, byGraphql);
  }

  const git = gitServiceOf(req);
  let push: GitPush | undefined;
  if (git !== undefined) {
    push = readPush(git, body, reasons);
    // a fetch (upload-pack) is a read though it is a POST; a push is a write, or unknown when its commands cannot be read
    cls = push?.error !== undefined ? 'unknown' : graphql !== undefined ? stricterClass(cls, git.class) : git.class;
    if (push !== undefined && push.error === undefined && push.refs.length === 0 && body?.complete === true && graphql === undefined) {
      // git's probe before a large push ("0000": no commands) checks the login only; receive-pack
      // changes nothing for it, and holding it would ask the human twice for one push
      cls = 'read';
      reasons.push('a receive-pack request with no commands (git\'s login probe) changes nothing');
    }
    if (push !== undefined && push.error === undefined) destructive ||= push.forcePush || push.deletesRef;
  }

  const overrides = methodOverridesWithBody(req, body);
  if (overrides.length > 1) {
    cls = stricterClass(cls, 'unknown');
    reasons.push(`the request names several method overrides (${overrides.join(', ')}); which one the server acts on is unknown`);
  } else if (overrides.length === 1) {
    const override = overrides[0]!;
    const byOverride = methodClass(override);
    cls = stricterClass(cls, byOverride.class);
    destructive ||= byOverride.destructive;
    reasons.push(`a method override asks the server to act as ${override}`);
  }
  if (req.websocket) {
    cls = stricterClass(cls, 'websocket');
    reasons.push('the request asks for a WebSocket upgrade (frames are not inspected)');
  }

  const attributes: Record<string, AttributeValue> = {
    class: cls,
    method: req.method,
    path: req.path,
    host: req.host,
    query: [...new Set(req.query.map(([name]) => name))].sort(),
    destructive,
  };
  if (req.contentType !== undefined) attributes.contentType = req.contentType;
  if (overrides.length > 0) attributes.methodOverride = overrides.join(', ');

  const classification: HttpClassification = { class: cls, risk: riskOf(cls, destructive), summary: '', attributes, reasons };
  if (graphql !== undefined) {
    const { operations, documents, parseError } = graphql.reading;
    attributes.graphqlOperation = [...new Set(operations.map((operation) => operation.type))];
    attributes.graphqlFields = [...new Set(operations.flatMap((operation) => operation.fields))];
    classification.graphql = { operations };
    if (documents.length > 0) classification.graphql.document = cutToBytes(documents.join('\n\n'), options.documentBytes);
    if (parseError !== undefined) classification.graphql.parseError = parseError;
  }
  if (git !== undefined) {
    attributes.gitService = git.service;
    classification.git = { service: git.service, refs: push?.refs ?? [] };
    if (push !== undefined && push.error === undefined) {
      attributes.gitRefs = push.refs.map((ref) => ref.ref);
      attributes.forcePush = push.forcePush;
      attributes.deletesRef = push.deletesRef;
    }
  }
  classification.summary = cut(git !== undefined ? gitSummary(req, git, push) : graphql !== undefined ? graphqlSummary(req, graphql.reading) : requestSummary(req, overrides));
  return classification;
}

/**
 * The overrides of the head, and a `_method` field of a form body when the body was read whole
 * (Rails' Rack::MethodOverride and Laravel act on it for a POST). A form body that was not read is
 * not looked into: the POST is a write either way, only `destructive` may be missed.
 */
function methodOverridesWithBody(req: HttpRequestDescription, body: BodyPrefix | undefined): string[] {
  if (req.method !== 'POST' || req.contentType !== 'application/x-www-form-urlencoded' || body === undefined || !body.complete || req.contentEncoding !== undefined) {
    return req.methodOverrides;
  }
  const text = Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength).toString('latin1');
  if (!/_method|%5Fmethod/i.test(text)) return req.methodOverrides;
  const overrides = [...req.methodOverrides];
  for (const value of methodOverridesOf([], queryPairsAnySeparator(text))) if (!overrides.includes(value)) overrides.push(value);
  return overrides;
}

type GitPush = ReturnType<typeof classifyGitPush>;

/** A push's ref updates (from the git helper's reading of the pkt-lines and pack); undefined for other git requests. */
function readPush(git: GitService, body: BodyPrefix | undefined, reasons: string[]): GitPush | undefined {
  if (git.service !== 'git-receive-pack' || git.request !== 'rpc') {
    reasons.push(git.service === 'git-upload-pack' ? 'a git fetch or clone only reads' : 'a git ref advertisement only lists refs');
    return undefined;
  }
  const push: GitPush =
    body === undefined
      ? { refs: [], forcePush: false, deletesRef: false, reasons: [], error: 'the push body was not read before the decision' }
      : classifyGitPush(body);
  if (push.error !== undefined) {
    reasons.push(`the push cannot be read: ${push.error}`);
    return push;
  }
  reasons.push('a git push writes refs', ...push.reasons);
  if (push.deletesRef) reasons.push('the push deletes a ref');
  return push;
}

/** "git push refs/heads/main (force) to github.com/org/repo.git", "git fetch github.com/org/repo.git" */
function gitSummary(req: HttpRequestDescription, git: GitService, push: GitPush | undefined): string {
  const repository = `${hostAndPort(req)}${req.path.replace(/\/(info\/refs|git-upload-pack|git-receive-pack)$/i, '')}`;
  if (git.service === 'git-upload-pack') return `git fetch ${repository}`;
  if (push === undefined) return `git push (ref advertisement) ${repository}`;
  if (push.error !== undefined) return `git push that cannot be read to ${repository}`;
  const refs = push.refs.map((ref) => (ref.change === 'fast-forward' || ref.change === 'create' ? ref.ref : `${ref.ref} (${ref.change})`));
  return `git push ${refs.join(', ')} to ${repository}`;
}

interface GraphqlFinding {
  reading: GraphqlReading;
  /** found on a configured GraphQL path (not a `query` parameter elsewhere that happened to parse) */
  onEndpoint: boolean;
}

/** A GraphQL path: the query string and the body (when there is one) both count. */
function readGraphql(req: HttpRequestDescription, body: BodyPrefix | undefined, options: HttpClassifyOptions): GraphqlFinding | undefined {
  const fromQuery = readGraphqlQueryString(req.query);
  let fromBody: GraphqlReading | undefined;
  if (bodyNeeded(req, options).kind === 'graphql') {
    fromBody =
      body === undefined
        ? { operations: [], documents: [], uninspectable: 'the GraphQL request body was not read before the decision' }
        : readGraphqlBody(body.bytes, body.complete, req.contentType, req.contentEncoding);
  }
  if (fromQuery === undefined && fromBody === undefined) return undefined;
  const readings = [fromQuery, fromBody].filter((reading): reading is GraphqlReading => reading !== undefined);
  const reading: GraphqlReading = { operations: readings.flatMap((r) => r.operations), documents: readings.flatMap((r) => r.documents) };
  const uninspectable = readings.find((r) => r.uninspectable !== undefined)?.uninspectable;
  const parseError = readings.find((r) => r.parseError !== undefined)?.parseError;
  if (uninspectable !== undefined) reading.uninspectable = uninspectable;
  if (parseError !== undefined) reading.parseError = parseError;
  return { reading, onEndpoint: true };
}

/**
 * Off the configured GraphQL paths: a `query` parameter that parses as a GraphQL mutation or
 * subscription is taken as one (a GraphQL endpoint the target did not list). Anything else there
 * (a search for "mutation", a parse error) is an ordinary parameter.
 */
function hiddenGraphql(req: HttpRequestDescription): GraphqlFinding | undefined {
  if (!req.query.some(([name]) => name === 'query')) return undefined;
  const reading = readGraphqlQueryString(req.query);
  if (reading === undefined || reading.parseError !== undefined || reading.uninspectable !== undefined) return undefined;
  if (!reading.operations.some((operation) => operation.type !== 'query')) return undefined;
  return { reading, onEndpoint: false };
}

function graphqlClass(reading: GraphqlReading, reasons: string[]): HttpClass {
  if (reading.uninspectable !== undefined) {
    reasons.push(reading.uninspectable);
    return 'unknown';
  }
  if (reading.parseError !== undefined) {
    reasons.push(`the GraphQL document does not parse: ${reading.parseError}`);
    return 'unknown';
  }
  if (reading.operations.length === 0) {
    reasons.push('the GraphQL document has no operation');
    return 'unknown';
  }
  const writes = reading.operations.filter((operation) => operation.type !== 'query');
  if (writes.length === 0) {
    reasons.push('every GraphQL operation is a query');
    return 'read';
  }
  reasons.push(`the GraphQL request contains ${[...new Set(writes.map((operation) => operation.type))].join(' and ')} operations (every operation counts, whatever operationName selects)`);
  return 'write';
}

function hostAndPort(req: HttpRequestDescription): string {
  const host = req.host.includes(':') ? `[${req.host}]` : req.host;
  const defaultPort = req.scheme === 'https' ? 443 : 80;
  return req.port === defaultPort ? host : `${host}:${req.port}`;
}

/** "POST api.github.com/repos/a/b/pulls", "GET api.example/items (as DELETE)" */
function requestSummary(req: HttpRequestDescription, overrides: readonly string[] = req.methodOverrides): string {
  const override = overrides.length > 0 ? ` (as ${overrides.join(', ')})` : '';
  return `${req.method} ${hostAndPort(req)}${req.path}${override}`;
}

/** "GraphQL mutation addStar, removeStar", "GraphQL query viewer; mutation deleteRepository" */
function graphqlSummary(req: HttpRequestDescription, reading: GraphqlReading): string {
  if (reading.uninspectable !== undefined || reading.parseError !== undefined || reading.operations.length === 0) {
    return `GraphQL request that cannot be read: ${requestSummary(req)}`;
  }
  const byType = new Map<string, Set<string>>();
  for (const operation of reading.operations) {
    const fields = byType.get(operation.type) ?? new Set<string>();
    for (const field of operation.fields) fields.add(field);
    byType.set(operation.type, fields);
  }
  const order = ['mutation', 'subscription', 'query'];
  const parts = order.filter((type) => byType.has(type)).map((type) => `${type} ${[...byType.get(type)!].join(', ')}`.trimEnd());
  return `GraphQL ${parts.join('; ')}`;
}

/** The longest start of `text` that is at most `max` bytes of UTF-8, never ending in half a character. */
function cutToBytes(text: string, max: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return text;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

function cut(text: string): string {
  return text.length <= SUMMARY_MAX_CHARS ? text : text.slice(0, SUMMARY_MAX_CHARS - 1) + '…';
}
