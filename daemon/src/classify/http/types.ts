import type { AttributeValue, GitRefUpdateDetail, GraphqlOperationDetail, Risk } from '@airlock/shared';

/**
 * The pure HTTP request model shared by API targets, egress and (next) Kubernetes: what the agent
 * sent, normalised once, so policy and the upstream see the same request (STYLE.md point 3).
 * Nothing here does I/O.
 */

/** Headers as the agent sent them: names lowercased, repeats kept in order. */
export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

/** The request line and headers as received (Node's parser has already framed them). */
export interface HttpRequestHead {
  /** as sent: methods are case-sensitive (RFC 9110 §9.1) */
  method: string;
  /** the request-target as sent: origin-form (`/a?b`) for API targets, absolute-form (`http://h/a`) or authority-form (CONNECT) for egress */
  target: string;
  headers: HeaderList;
}

/**
 * A request as policy sees it and as it goes upstream. `forwardTarget` is built from the normalised
 * path and query, never copied from the raw target, so the upstream executes what policy matched.
 */
export interface HttpRequestDescription {
  method: string;
  /** normalised path policy matches on: percent-decoded where decoding cannot change the meaning (unreserved characters), `%2F` kept encoded, no empty or dot segments */
  path: string;
  /** the query as name/value pairs, decoded */
  query: Array<[string, string]>;
  /** origin-form target sent upstream: the normalised path re-encoded and the query */
  forwardTarget: string;
  /** the upstream host (API target: its URL's; egress: the absolute URL's), lowercased, no port */
  host: string;
  port: number;
  scheme: 'http' | 'https';
  /** media type of the request body, lowercased, without parameters */
  contentType?: string;
  /** declared body length; undefined with chunked transfer coding; 0 for no body */
  contentLength?: number;
  /** a method override header or `_method` query parameter the upstream may act on (uppercased) */
  methodOverride?: string;
  /** every override value found (uppercased, distinct); more than one means the request is unknown */
  methodOverrides: string[];
  /** Upgrade: websocket asked for */
  websocket: boolean;
  /** the request body's Content-Encoding (lowercased) when it is not identity: such a body is not inspected */
  contentEncoding?: string;
  /** absolute-form only: `user:pass@` was in the URL; it was removed and is in neither the description nor the record */
  credentialsStripped?: boolean;
}

/** Bounds of describeRequest, from the target's limits. */
export interface DescribeLimits {
  /** a longer request-target is refused with 414 */
  maxTargetBytes: number;
}

/** Where an origin-form request goes (the API target's upstream), or 'absolute' for egress. */
export type RequestBase = { scheme: 'http' | 'https'; host: string; port: number } | 'absolute';

/** Why a request is refused before policy sees it (400): one sentence. */
export interface MalformedRequest {
  status: 400 | 414 | 431;
  reason: string;
}

/** What the classifier needs to read of the body before the decision (the rest streams after it). */
export type BodyNeed =
  /** decided on the head alone; the body streams after the decision */
  | { kind: 'none' }
  /** a GraphQL request: the whole body (up to limits.maxMessageBytes), decoded */
  | { kind: 'graphql' }
  /** a git push: the pkt-line ref-update commands and as much of the pack as shows each update is a fast-forward */
  | { kind: 'git-receive-pack' };

/** The part of the body read before the decision. */
export interface BodyPrefix {
  bytes: Uint8Array;
  /** the whole body is in `bytes` */
  complete: boolean;
}

/** The classes an HTTP action can have (protocol-neutral words where they apply). */
export type HttpClass = 'read' | 'write' | 'privileged' | 'unknown' | 'connect' | 'websocket';

export interface HttpClassification {
  class: HttpClass;
  risk: Risk;
  /** "POST /repos/a/b/pulls", "GraphQL mutation addStar", "git push refs/heads/main" */
  summary: string;
  /** what policy matches on: class, method, path, host, query (keys), contentType, destructive, graphqlOperation, graphqlFields, gitService, gitRefs, forcePush, deletesRef, methodOverride */
  attributes: Record<string, AttributeValue>;
  reasons: string[];
  graphql?: { operations: GraphqlOperationDetail[]; document?: string; parseError?: string };
  git?: { service: 'git-upload-pack' | 'git-receive-pack'; refs: GitRefUpdateDetail[] };
}

export interface HttpClassifyOptions {
  /** path globs that serve GraphQL (Target.graphqlPaths; default ["**\/graphql"]) */
  graphqlPaths: readonly string[];
  /** of a GraphQL document, this much text is kept in the detail */
  documentBytes: number;
}

/** An egress destination's kind (see HttpConnectDetail.destination). */
export type Destination = 'listed' | 'public' | 'internal';

export interface DestinationInput {
  host: string;
  port: number;
  /** what the host resolved to (an address literal resolves to itself) */
  addresses: readonly string[];
  /** Target.allowHosts */
  allowHosts: readonly string[];
  /** ports the daemon itself listens on, on any address of this machine (its API, its listeners) */
  daemonPorts: readonly number[];
}

export interface DestinationVerdict {
  destination: Destination;
  /** set when the destination is internal and not listed: the adapter refuses whatever policy says */
  refuse?: string;
  /** why each address is internal, for the detail ("169.254.169.254 is a cloud metadata endpoint") */
  reasons: string[];
}
