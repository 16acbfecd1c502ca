import type { AttributeValue, Risk } from '@airlock/shared';

/**
 * The pure Kubernetes request model: a request as the API server's RequestInfoFactory derives it
 * (staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go), and what Airlock's policy
 * matches on. Nothing here does I/O.
 */

/** A request as the adapter received it: the path as sent (percent-encoded), the query decoded. */
export interface K8sRequestInput {
  /** as sent: HTTP methods are case-sensitive, and so is the API server's verb mapping */
  method: string;
  /** the path as sent, still percent-encoded, without the query */
  path: string;
  /** the query as name/value pairs, decoded, in the order sent (repeats kept) */
  query: ReadonlyArray<readonly [string, string]>;
  /**
   * The query string as sent, still percent-encoded. Go's query parser drops a pair holding a raw
   * ";" (an encoded %3B is data, as in `kubectl exec -- sh -c 'a; b'`); without it the decoded
   * pairs are checked, which refuses a decoded ";" too.
   */
  rawQuery?: string;
}

/** The connect operations policy rules match on (`connect` attribute). */
export type K8sConnect = 'exec' | 'attach' | 'portforward' | 'proxy';

export interface K8sRequestInfo {
  /** the HTTP method as sent */
  method: string;
  /** the query as sent (decoded pairs, repeats kept in order) */
  query: Array<[string, string]>;
  /** false for discovery and other non-resource URLs (/version, /api, /apis/{g}/{v}, /healthz ...) */
  isResourceRequest: boolean;
  /**
   * The canonical path: percent-decoded, one trailing slash dropped, re-encoded where needed. The
   * adapter forwards this path, so the upstream routes exactly what policy matched.
   */
  path: string;
  /**
   * The Kubernetes verb as the API server's authorizer sees it: get, list, watch, create, update,
   * patch, delete, deletecollection, proxy (the legacy `/proxy/` prefix); for a non-resource URL the
   * lowercased HTTP method. Connect requests keep the verb of their method, as the API server does
   * (exec over WebSocket is `get`, over SPDY `create`); `connect` names what they do. Empty when the
   * method maps to no verb (OPTIONS, a lowercase `get`, PROPFIND ...): such requests are unknown.
   */
  verb: string;
  /** "api" or "apis" for resource requests */
  apiPrefix: string;
  /** "" for the core group (/api/v1) */
  apiGroup: string;
  apiVersion: string;
  /** "" for cluster-scoped and all-namespace requests */
  namespace: string;
  resource: string;
  subresource: string;
  /** from the path, or from a list/watch `fieldSelector=metadata.name=NAME` as the API server narrows it */
  name: string;
  /** the path parts from the resource on: resource, name, subresource, then anything after (proxy subpaths) */
  parts: string[];
  /** exec, attach, portforward or proxy when the request opens a stream into a pod, service or node */
  connect?: K8sConnect;
  /** list, watch, deletecollection: the first `fieldSelector` sent (not for the legacy path-prefix forms) */
  fieldSelector?: string;
  /** list, watch, deletecollection: the first `labelSelector` sent (not for the legacy path-prefix forms) */
  labelSelector?: string;
  /** the verb came from the legacy `/watch/` or `/proxy/` path prefix */
  verbViaPathPrefix: boolean;
}

/** Why a request is refused before policy sees it: one sentence, and the HTTP status to send. */
export interface K8sRequestError {
  error: string;
  status: 400 | 404;
}

/** The part of the request body read before the decision. */
export interface K8sBodyPrefix {
  bytes: Uint8Array;
  /** the whole body is in `bytes` */
  complete: boolean;
}

/** What the classifier reads besides the request line. */
export interface K8sRequestExtras {
  /** the request headers, names in any case, repeats kept */
  headers: ReadonlyArray<readonly [string, string]>;
  body?: K8sBodyPrefix;
}

/** Classes of a Kubernetes action: SQL's words where they apply, and `exec` for streams into workloads. */
export type K8sClass = 'read' | 'write' | 'exec' | 'privileged' | 'unknown';

/** What a request asks to impersonate (Impersonate-* headers), as `user:alice`, `group:system:masters` ... */
export type K8sImpersonation = string[];

/** The request detail pieces the classifier knows; the adapter adds the connection, headers and masked body. */
export interface K8sRequestDetailPieces {
  verb: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  path: string;
  /** the first `listMaxItems` query pairs */
  query: Array<[string, string]>;
  /** how many pairs `query` leaves out */
  queryOmitted?: number;
  dryRun: boolean;
  connect?: K8sConnect;
  patchType?: K8sPatchType;
  impersonate: string[];
  /** the object's kind as the body names it */
  bodyKind?: string;
}

/** The exec/attach detail pieces: what runs where. */
export interface K8sExecDetailPieces {
  pod: string;
  namespace: string;
  container?: string;
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export type K8sPatchType = 'json' | 'merge' | 'strategic' | 'apply';

export interface K8sClassification {
  class: K8sClass;
  risk: Risk;
  /** what a person reads in an approval prompt: `delete deployment/api -n prod` */
  summary: string;
  /**
   * What policy matches on: class, verb, resource, subresource, apiGroup, apiVersion, namespace,
   * name, dryRun, connect, command, container, stdin, tty, ports, impersonate, patchType,
   * fieldManager, force, rolloutRestart, replicas, nonResourcePath. An attribute the request does
   * not have is absent (not ""), so a negated glob such as `namespace: "!prod"` does not match a
   * cluster-scoped request.
   */
  attributes: Record<string, AttributeValue>;
  reasons: string[];
  request: K8sRequestDetailPieces;
  exec?: K8sExecDetailPieces;
  /** portforward: the ports asked for */
  ports?: string[];
}

export interface K8sClassifyOptions {
  /** characters of the summary kept (the rest cut with an ellipsis) */
  summaryMaxChars: number;
  /** elements kept of a list attribute (command words, ports, impersonations) */
  listMaxItems: number;
}
