/**
 * The Kubernetes request classifier (pure: no sockets, no files). Two steps, as the API server
 * takes them:
 *
 * 1. `parseRequestInfo({ method, path, query })` derives the request info the API server's
 *    authorizer sees (verb, API group and version, namespace, resource, subresource, name; see
 *    request-info.ts), after making the path canonical (path.ts refuses `..`, `//`, encoded
 *    slashes and other forms layers could read differently). A refusal is `{ error, status }`.
 * 2. `classifyK8sRequest(info, { headers, body })` gives the class, risk, summary, attributes and
 *    detail pieces; `needsK8sBody(info)` says whether the body must be read before it (writes).
 * `describeK8sRequest` does both.
 *
 * Classes:
 * - read: get, list, watch (pods/log included), discovery and health URLs, the review creates
 *   that store nothing (`kubectl auth can-i`), and any write that is a server-side dry run: the
 *   query's `dryRun=All`, or for a DELETE with a body the DeleteOptions' `dryRun: ["All"]` (the API
 *   server reads a DELETE's options from its body when it has one, and then ignores the query).
 * - write: create, update, patch, delete, deletecollection (scale and `kubectl rollout restart`
 *   included; their summaries say so).
 * - exec: exec, attach, portforward, proxy into pods and services (default policy: review).
 * - privileged: writes of RBAC objects (rbac.authorization.k8s.io roles, clusterroles,
 *   rolebindings, clusterrolebindings, any version), Secrets, serviceaccounts/token, CSR approval
 *   and status, pods/ephemeralcontainers, admission webhooks and policies, CRDs, APIServices;
 *   deleting namespaces; nodes/proxy (the kubelet's API); any `Impersonate-*` header; front-proxy
 *   `X-Remote-*` headers; a pod or workload write whose pod spec reaches the node (host PID, IPC,
 *   network or user namespace, hostPath volumes, privileged containers, node-level capabilities:
 *   what `kubectl debug node/…` creates). A dry run of a privileged write stays privileged.
 * - unknown: a method with no verb, a verb Airlock does not know, a resource that is not lowercase,
 *   a non-resource path that is not discovery or health, a dryRun value other than "All" (the
 *   server refuses it; with a DELETE body it would ignore it), a create whose object name cannot
 *   be read (body not read whole, not JSON/YAML), a body namespace or name that differs from the
 *   URL's, an update or patch of a pod or workload whose pod spec cannot be read, an upgrade
 *   (WebSocket, SPDY) on a request that is not exec/attach/portforward/proxy, a command or port
 *   list longer than Airlock keeps.
 * Combined over what a request does: privileged > unknown > exec > write > read.
 *
 * Attributes (absent when the request has none): class, verb, path (canonical), resource, subresource, apiGroup,
 * apiVersion, namespace (for the core `namespaces` resource, the namespace's own name), name
 * (create: from the body), dryRun, connect (exec | attach | portforward | proxy), command,
 * container, stdin, tty (exec/attach), ports (portforward), impersonate (`user:alice`,
 * `group:system:masters`, `uid:...`, `extra.KEY:value`), patchType (json | merge | strategic |
 * apply), fieldManager, force (apply), replicas (scale), rolloutRestart, podEscalation (what a
 * pod spec asks of the node), fieldSelector and labelSelector (list, watch, deletecollection, as the
 * API server's AuthorizeWithSelectors reads them), namespaceMismatch, nameMismatch, nonResourcePath.
 *
 * `name` is the API server's: a list or watch has one only when a `metadata.name` field selector
 * pins it. A plain list returns every object, so a rule that denies one name does not stop a list
 * of all of them; name rules narrow allows, resource rules guard kinds.
 *
 * `verb` is the API server's (exec over WebSocket is `get`, over SPDY `create`); rules about what a
 * request does match `connect`.
 */
export type {
  K8sBodyPrefix,
  K8sClass,
  K8sClassification,
  K8sClassifyOptions,
  K8sConnect,
  K8sExecDetailPieces,
  K8sPatchType,
  K8sRequestDetailPieces,
  K8sRequestError,
  K8sRequestExtras,
  K8sRequestInfo,
  K8sRequestInput,
} from './types.js';
export { parseRequestInfo, isK8sRequestError } from './request-info.js';
export { canonicalK8sPath } from './path.js';
export { impersonationOf } from './headers.js';
export { classifyK8sRequest, describeK8sRequest, needsK8sBody, combineK8sClasses, DEFAULT_K8S_CLASSIFY_OPTIONS, K8S_LIST_MAX_ITEMS, K8S_SUMMARY_MAX_CHARS } from './classify.js';
