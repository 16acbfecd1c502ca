import { canonicalK8sPath, isValidPathSegmentName } from './path.js';
import { fieldSelectorExactMatch, firstQueryValue, isInt64, parseFieldSelector, plausibleLabelSelector, queryBool } from './query.js';
import type { K8sConnect, K8sRequestError, K8sRequestInfo, K8sRequestInput } from './types.js';

/**
 * Kubernetes request info, derived as the API server's RequestInfoFactory derives it (the object
 * its authorizer, admission and audit see), so that the decision is made on the request the server
 * will execute:
 *
 * - fewer than three path segments, or a first segment other than `api`/`apis`, or `apis` with
 *   fewer than four: a non-resource request (`/version`, `/api`, `/api/v1`, `/apis/apps/v1`,
 *   `/healthz`, `/openapi/v3/...`), verb = the lowercased method;
 * - `/api/{version}/...` is the core group, `/apis/{group}/{version}/...` the others;
 * - a `watch` or `proxy` segment after the version is the verb (the legacy path forms), and must be
 *   followed by something;
 * - otherwise GET/HEAD → get, POST → create, PUT → update, PATCH → patch, DELETE → delete, any
 *   other method (exact, case-sensitive as Go compares it) → no verb;
 * - `namespaces/{ns}/...` sets the namespace; `namespaces/{ns}` alone and `namespaces/{ns}/status|
 *   finalize` are the namespace object itself (resource namespaces, name ns, namespace ns, whatever
 *   the method: some releases gave a PATCH of `namespaces/{ns}` no namespace, current ones do not);
 * - the parts that remain are resource, name, subresource (no subresource for the `proxy` verb);
 * - a get without a name is a list, or a watch when the first `watch` value is anything but
 *   "0"/"false"; a list or watch whose `fieldSelector` pins `metadata.name` to a valid name is
 *   narrowed to that name, unless some list option fails to decode (the server then drops them
 *   all); a delete without a name is a deletecollection;
 * - list, watch and deletecollection not named by a path prefix carry their first `fieldSelector`
 *   and `labelSelector` (the API server's AuthorizeWithSelectors).
 *
 * On top of the API server's fields, `connect` names the stream a request opens: exec, attach,
 * portforward and proxy subresources (pods, services, nodes; any group, since an aggregated API
 * could serve one) and the legacy `proxy` verb. The API server keeps the method's verb for these
 * (exec over WebSocket is a GET, so `get` there; over SPDY `create`); rules that mean "exec" match
 * `connect: exec`, and `verb` stays what Kubernetes RBAC would check.
 *
 * Paths are made canonical first (see path.ts); a query parameter with a `;` in its name or value
 * is refused, because Go's query parser drops such pairs while most others keep them.
 */

const SPECIAL_VERBS = new Set(['proxy', 'watch']);
const SPECIAL_VERBS_NO_SUBRESOURCES = new Set(['proxy']);
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);
const VERBS_WITH_SELECTORS = new Set(['list', 'watch', 'deletecollection']);
const CONNECT_SUBRESOURCES: ReadonlySet<string> = new Set<K8sConnect>(['exec', 'attach', 'portforward', 'proxy']);

const VERB_OF_METHOD: Record<string, string> = {
  GET: 'get',
  HEAD: 'get',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

/** List options the parameter codec decodes as integers: a malformed one makes it drop them all. */
const INT_LIST_OPTIONS = ['limit', 'timeoutSeconds'];

export function isK8sRequestError(value: K8sRequestInfo | K8sRequestError): value is K8sRequestError {
  return 'error' in value;
}

function listOptionsDecode(query: K8sRequestInput['query']): boolean {
  for (const name of INT_LIST_OPTIONS) {
    const value = firstQueryValue(query, name);
    if (value !== undefined && !isInt64(value)) return false;
  }
  const fieldSelector = firstQueryValue(query, 'fieldSelector');
  if (fieldSelector !== undefined && parseFieldSelector(fieldSelector) === undefined) return false;
  const labelSelector = firstQueryValue(query, 'labelSelector');
  if (labelSelector !== undefined && !plausibleLabelSelector(labelSelector)) return false;
  return true;
}

export function parseRequestInfo(input: K8sRequestInput): K8sRequestInfo | K8sRequestError {
  const canonical = canonicalK8sPath(input.path);
  if ('error' in canonical) return canonical;
  if (input.rawQuery !== undefined) {
    if (input.rawQuery.includes(';')) return { error: 'The query string has a ";", which the API server\'s query parser drops (send it as %3B).', status: 400 };
  } else {
    for (const [key, value] of input.query) {
      if (key.includes(';') || value.includes(';')) {
        return { error: `The query parameter ${JSON.stringify(key)} has a ";", which the API server's query parser drops.`, status: 400 };
      }
    }
  }

  const info: K8sRequestInfo = {
    method: input.method,
    query: input.query.map(([k, v]) => [k, v] as [string, string]),
    isResourceRequest: false,
    path: canonical.path,
    verb: input.method.toLowerCase(),
    apiPrefix: '',
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
    parts: [],
    verbViaPathPrefix: false,
  };

  let parts = canonical.segments;
  if (parts.length < 3) return info;
  const prefix = parts[0] as string;
  if (prefix !== 'api' && prefix !== 'apis') return info;
  parts = parts.slice(1);
  if (prefix === 'apis') {
    if (parts.length < 3) return info;
    info.apiGroup = parts[0] as string;
    parts = parts.slice(1);
  }
  info.apiPrefix = prefix;
  info.isResourceRequest = true;
  info.apiVersion = parts[0] as string;
  parts = parts.slice(1);

  if (SPECIAL_VERBS.has(parts[0] as string)) {
    if (parts.length < 2) return { error: `The path ${canonical.path} names no resource after "${parts[0]}".`, status: 404 };
    info.verb = parts[0] as string;
    info.verbViaPathPrefix = true;
    parts = parts.slice(1);
  } else {
    info.verb = VERB_OF_METHOD[input.method] ?? '';
  }

  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      info.namespace = parts[1] as string;
      if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2] as string)) parts = parts.slice(2);
    }
  }

  info.parts = parts;
  if (parts.length >= 3 && !SPECIAL_VERBS_NO_SUBRESOURCES.has(info.verb)) info.subresource = parts[2] as string;
  if (parts.length >= 2) info.name = parts[1] as string;
  if (parts.length >= 1) info.resource = parts[0] as string;

  if (info.name === '' && info.verb === 'get') {
    const decodes = listOptionsDecode(input.query);
    info.verb = queryBool(input.query, 'watch') ? 'watch' : 'list';
    const fieldSelector = firstQueryValue(input.query, 'fieldSelector');
    const terms = decodes && fieldSelector !== undefined ? parseFieldSelector(fieldSelector) : undefined;
    if (terms !== undefined) {
      const name = fieldSelectorExactMatch(terms, 'metadata.name');
      if (name !== undefined && isValidPathSegmentName(name)) info.name = name;
    }
  }
  if (info.name === '' && info.verb === 'delete') info.verb = 'deletecollection';
  if (!info.verbViaPathPrefix && VERBS_WITH_SELECTORS.has(info.verb)) {
    const fieldSelector = firstQueryValue(input.query, 'fieldSelector');
    const labelSelector = firstQueryValue(input.query, 'labelSelector');
    if (fieldSelector !== undefined) info.fieldSelector = fieldSelector;
    if (labelSelector !== undefined) info.labelSelector = labelSelector;
  }

  if (info.verb === 'proxy') info.connect = 'proxy';
  else if (CONNECT_SUBRESOURCES.has(info.subresource)) info.connect = info.subresource as K8sConnect;
  return info;
}
