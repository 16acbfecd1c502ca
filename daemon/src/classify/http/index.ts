/**
 * The HTTP request model and classifier, shared by API targets, the egress proxy and (next)
 * Kubernetes. Pure: no sockets, no DNS, no files.
 *
 * - describeRequest: the request line and headers → the request policy sees and the upstream gets
 *   (normalised path, query pairs, method overrides), or a 400/414 with one sentence.
 * - bodyNeeded: what of the body the decision needs (GraphQL documents, a push's ref updates).
 * - classifyHttpRequest: class, risk, summary and attributes. Classes (strictest wins):
 *   read (GET, HEAD, OPTIONS; GraphQL queries), write (POST, PUT, PATCH, DELETE with destructive;
 *   GraphQL mutations and subscriptions), websocket (an Upgrade), unknown (other methods, mixed-case
 *   methods, several method overrides, GraphQL that cannot be read: a parse error, a persisted
 *   query, a cut or compressed body), privileged (egress to an internal address).
 * - classifyDestination / classifyConnect / withDestination: egress destinations (listed, public,
 *   internal) decided on the resolved addresses.
 */
export * from './types.js';
export { describeRequest, isMalformed } from './describe.js';
export { TargetRefusal, canonicalPath, canonicalQuery, queryPairs } from './path.js';
export { METHOD_OVERRIDE_HEADERS, METHOD_OVERRIDE_PARAMETER, methodClass, riskOf, stricterClass } from './method.js';
export type { MethodClass } from './method.js';
export { DEFAULT_GRAPHQL_PATHS, bodyNeeded, hasBody, isGraphqlPath } from './body-need.js';
export { MAX_GRAPHQL_FIELDS, readGraphqlBody, readGraphqlDocument, readGraphqlQueryString } from './graphql.js';
export type { GraphqlReading } from './graphql.js';
export { SUMMARY_MAX_CHARS, classifyHttpRequest } from './classify.js';
export { canonicalHost, classifyConnect, classifyDestination, egressAttributes, withDestination } from './destination.js';
export { canonicalAddress, internalAddress, internalName } from './addresses.js';
export type { InternalAddress } from './addresses.js';
export { classifyGitPush, gitPushPrefixSufficient, gitServiceOf, isGitReceivePack } from './git.js';
export type { GitPushClassification, GitService, GitServiceName, GitServiceRequest } from './git.js';
