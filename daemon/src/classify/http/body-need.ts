import picomatch from 'picomatch';
import { isGitReceivePack } from './git.js';
import type { BodyNeed, HttpClassifyOptions, HttpRequestDescription } from './types.js';

/** The path globs serving GraphQL when a target names none. */
export const DEFAULT_GRAPHQL_PATHS: readonly string[] = ['**/graphql'];

const matchers = new WeakMap<readonly string[], (path: string) => boolean>();

/**
 * Whether a path serves GraphQL. Case-insensitive and with a trailing `/` ignored, as common routers
 * match (Express by default): finding GraphQL where there is none costs a parse, missing it would
 * let a mutation pass as a plain request.
 */
export function isGraphqlPath(path: string, graphqlPaths: readonly string[]): boolean {
  let match = matchers.get(graphqlPaths);
  if (match === undefined) {
    match = graphqlPaths.length === 0 ? () => false : picomatch([...graphqlPaths], { nocase: true, dot: true });
    matchers.set(graphqlPaths, match);
  }
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return match(trimmed);
}

/** A request that may carry a body: a declared length above 0, or chunked (length unknown). */
export function hasBody(req: HttpRequestDescription): boolean {
  return req.contentLength === undefined || req.contentLength > 0;
}

/**
 * What of the body the decision needs. A GraphQL path's body is read whatever the method (some
 * servers read a body on GET too); a push's ref updates are read from its pkt-lines. Everything
 * else is decided on the head and its body streams after the decision.
 */
export function bodyNeeded(req: HttpRequestDescription, options: Pick<HttpClassifyOptions, 'graphqlPaths'>): BodyNeed {
  if (!hasBody(req)) return { kind: 'none' };
  if (isGitReceivePack(req)) return { kind: 'git-receive-pack' };
  if (isGraphqlPath(req.path, options.graphqlPaths)) return { kind: 'graphql' };
  return { kind: 'none' };
}
