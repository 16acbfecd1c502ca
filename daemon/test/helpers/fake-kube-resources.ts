/**
 * What the fake Kubernetes API server (fake-kube-apiserver.ts) knows about its resources: the
 * discovery documents a real API server serves (APIVersions, APIGroupList, APIResourceList), the
 * `as=Table` form kubectl get prints, and the Status objects errors are made of — each shaped as the
 * real server's JSON, since kubectl and client-node parse exactly that.
 */

export type KubeObject = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: KubeMetadata;
};

export interface KubeMetadata {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** One resource (or subresource) of a group version, as an APIResourceList entry names it. */
export interface ResourceInfo {
  group: string;
  version: string;
  /** plural, or `plural/subresource` */
  name: string;
  singularName: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  /** `all` for what `kubectl get all` lists */
  categories?: string[];
  /** a subresource's request and response kind may be of another group (serviceaccounts/token → authentication.k8s.io) */
  subresourceGroup?: string;
  subresourceVersion?: string;
}

const crud = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export const resources: readonly ResourceInfo[] = [
  { group: '', version: 'v1', name: 'namespaces', singularName: 'namespace', kind: 'Namespace', namespaced: false, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ns'] },
  { group: '', version: 'v1', name: 'pods', singularName: 'pod', kind: 'Pod', namespaced: true, verbs: crud, shortNames: ['po'], categories: ['all'] },
  { group: '', version: 'v1', name: 'pods/attach', singularName: '', kind: 'PodAttachOptions', namespaced: true, verbs: ['create', 'get'] },
  { group: '', version: 'v1', name: 'pods/exec', singularName: '', kind: 'PodExecOptions', namespaced: true, verbs: ['create', 'get'] },
  { group: '', version: 'v1', name: 'pods/log', singularName: '', kind: 'Pod', namespaced: true, verbs: ['get'] },
  { group: '', version: 'v1', name: 'pods/portforward', singularName: '', kind: 'PodPortForwardOptions', namespaced: true, verbs: ['create', 'get'] },
  { group: '', version: 'v1', name: 'pods/status', singularName: '', kind: 'Pod', namespaced: true, verbs: ['get', 'patch', 'update'] },
  { group: '', version: 'v1', name: 'secrets', singularName: 'secret', kind: 'Secret', namespaced: true, verbs: crud },
  { group: '', version: 'v1', name: 'configmaps', singularName: 'configmap', kind: 'ConfigMap', namespaced: true, verbs: crud, shortNames: ['cm'] },
  { group: '', version: 'v1', name: 'serviceaccounts', singularName: 'serviceaccount', kind: 'ServiceAccount', namespaced: true, verbs: crud, shortNames: ['sa'] },
  { group: '', version: 'v1', name: 'serviceaccounts/token', singularName: '', kind: 'TokenRequest', namespaced: true, verbs: ['create'], subresourceGroup: 'authentication.k8s.io', subresourceVersion: 'v1' },
  { group: 'apps', version: 'v1', name: 'deployments', singularName: 'deployment', kind: 'Deployment', namespaced: true, verbs: crud, shortNames: ['deploy'], categories: ['all'] },
  { group: 'apps', version: 'v1', name: 'deployments/scale', singularName: '', kind: 'Scale', namespaced: true, verbs: ['get', 'patch', 'update'], subresourceGroup: 'autoscaling', subresourceVersion: 'v1' },
  { group: 'apps', version: 'v1', name: 'deployments/status', singularName: '', kind: 'Deployment', namespaced: true, verbs: ['get', 'patch', 'update'] },
  { group: 'rbac.authorization.k8s.io', version: 'v1', name: 'clusterrolebindings', singularName: 'clusterrolebinding', kind: 'ClusterRoleBinding', namespaced: false, verbs: crud },
  { group: 'rbac.authorization.k8s.io', version: 'v1', name: 'clusterroles', singularName: 'clusterrole', kind: 'ClusterRole', namespaced: false, verbs: crud },
  { group: 'rbac.authorization.k8s.io', version: 'v1', name: 'rolebindings', singularName: 'rolebinding', kind: 'RoleBinding', namespaced: true, verbs: crud },
  { group: 'rbac.authorization.k8s.io', version: 'v1', name: 'roles', singularName: 'role', kind: 'Role', namespaced: true, verbs: crud },
];

/** The group versions served, in discovery order (the core group first, as a real server lists it). */
const groupVersions: readonly { group: string; version: string }[] = [
  { group: 'apps', version: 'v1' },
  { group: 'rbac.authorization.k8s.io', version: 'v1' },
];

export function apiVersionOf(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

/** The top-level resource of a group version by plural name (no subresource). */
export function findResource(group: string, version: string, plural: string): ResourceInfo | undefined {
  return resources.find((r) => r.group === group && r.version === version && r.name === plural);
}

export function hasGroupVersion(group: string, version: string): boolean {
  return resources.some((r) => r.group === group && r.version === version);
}

export function versionDocument(): Record<string, unknown> {
  return {
    major: '1',
    minor: '32',
    gitVersion: 'v1.32.0-airlock-fake',
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'go1.23.0',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

export function apiVersionsDocument(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

export function apiGroupListDocument(): Record<string, unknown> {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groupVersions.map(({ group, version }) => {
      const groupVersion = { groupVersion: `${group}/${version}`, version };
      return { name: group, versions: [groupVersion], preferredVersion: groupVersion };
    }),
  };
}

export function apiGroupDocument(group: string): Record<string, unknown> | undefined {
  const served = groupVersions.filter((gv) => gv.group === group);
  if (served.length === 0) return undefined;
  const versions = served.map(({ version }) => ({ groupVersion: `${group}/${version}`, version }));
  return { kind: 'APIGroup', apiVersion: 'v1', name: group, versions, preferredVersion: versions[0] };
}

export function apiResourceListDocument(group: string, version: string): Record<string, unknown> {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf(group, version),
    resources: resources
      .filter((r) => r.group === group && r.version === version)
      .map((r) => ({
        name: r.name,
        singularName: r.singularName,
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: r.verbs,
        ...(r.shortNames ? { shortNames: r.shortNames } : {}),
        ...(r.categories ? { categories: r.categories } : {}),
        ...(r.subresourceGroup ? { group: r.subresourceGroup, version: r.subresourceVersion } : {}),
        ...(r.name.includes('/') ? {} : { storageVersionHash: Buffer.from(`${r.group}/${r.name}`).toString('base64').slice(0, 11) }),
      })),
  };
}

/** A metav1.Status with status Failure, as the real server sends with every error response. */
export function failureStatus(code: number, reason: string, message: string, details?: Record<string, unknown>): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

export function successStatus(details?: Record<string, unknown>): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', ...(details ? { details } : {}) };
}

/** `pods "x"` in a message; `deployments.apps "x"` for a named group, as the real server writes it. */
export function qualifiedName(resource: ResourceInfo, name: string): string {
  return `${resource.group === '' ? resource.name : `${resource.name}.${resource.group}`} "${name}"`;
}

export function notFound(resource: ResourceInfo, name: string): Record<string, unknown> {
  return failureStatus(404, 'NotFound', `${qualifiedName(resource, name)} not found`, { name, ...(resource.group ? { group: resource.group } : {}), kind: resource.name });
}

export function alreadyExists(resource: ResourceInfo, name: string): Record<string, unknown> {
  return failureStatus(409, 'AlreadyExists', `${qualifiedName(resource, name)} already exists`, { name, ...(resource.group ? { group: resource.group } : {}), kind: resource.name });
}

export function conflict(resource: ResourceInfo, name: string): Record<string, unknown> {
  return failureStatus(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedName(resource, name)}: the object has been modified; please apply your changes to the latest version and try again`, {
    name,
    ...(resource.group ? { group: resource.group } : {}),
    kind: resource.name,
  });
}

export interface InvalidCause {
  reason: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueNotSupported';
  field: string;
  message: string;
}

export function invalid(resource: ResourceInfo, name: string, causes: InvalidCause[]): Record<string, unknown> {
  const summary = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  const message = causes.length === 1 ? `${resource.kind} "${name}" is invalid: ${summary}` : `${resource.kind} "${name}" is invalid: [${summary}]`;
  return failureStatus(422, 'Invalid', message, { name, ...(resource.group ? { group: resource.group } : {}), kind: resource.kind, causes });
}

export function resourceNotFound(): Record<string, unknown> {
  return failureStatus(404, 'NotFound', 'the server could not find the requested resource', {});
}

// ---- as=Table ------------------------------------------------------------------------------------

interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

function column(name: string, type: string, description: string, priority = 0, format = ''): ColumnDefinition {
  return { name, type, format, description, priority };
}

/** `5m`, `3h`, `2d` as kubectl's AGE column shows a duration. */
function age(creationTimestamp: string | undefined, now: number): string {
  if (!creationTimestamp) return '<unknown>';
  const seconds = Math.max(0, Math.floor((now - Date.parse(creationTimestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function columnsAndCells(resource: ResourceInfo, now: number): { columns: ColumnDefinition[]; cells: (obj: KubeObject) => unknown[] } {
  const nameColumn = column('Name', 'string', 'Name must be unique within a namespace.', 0, 'name');
  const ageColumn = column('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created.');
  const created = (obj: KubeObject) => age(obj.metadata?.creationTimestamp, now);
  switch (resource.name) {
    case 'pods':
      return {
        columns: [nameColumn, column('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'), column('Status', 'string', 'The aggregate status of the containers in this pod.'), column('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'), ageColumn, column('IP', 'string', 'IP address allocated to the pod.', 1), column('Node', 'string', 'Name of the node.', 1)],
        cells: (obj) => {
          const containers = Array.isArray(record(obj.spec).containers) ? (record(obj.spec).containers as unknown[]).length : 0;
          const status = record(obj.status);
          return [obj.metadata?.name, `${containers}/${containers}`, obj.metadata?.deletionTimestamp ? 'Terminating' : (status.phase ?? 'Pending'), 0, created(obj), status.podIP ?? '<none>', record(obj.spec).nodeName ?? '<none>'];
        },
      };
    case 'secrets':
      return {
        columns: [nameColumn, column('Type', 'string', 'Used to facilitate programmatic handling of secret data.'), column('Data', 'string', 'Data contains the secret data.'), ageColumn],
        cells: (obj) => [obj.metadata?.name, obj.type ?? 'Opaque', Object.keys(record(obj.data)).length, created(obj)],
      };
    case 'configmaps':
      return {
        columns: [nameColumn, column('Data', 'string', 'Data contains the configuration data.'), ageColumn],
        cells: (obj) => [obj.metadata?.name, Object.keys(record(obj.data)).length + Object.keys(record(obj.binaryData)).length, created(obj)],
      };
    case 'deployments':
      return {
        columns: [nameColumn, column('Ready', 'string', 'Number of the pod with ready state'), column('Up-to-date', 'string', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'), column('Available', 'string', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'), ageColumn],
        cells: (obj) => {
          const replicas = Number(record(obj.spec).replicas ?? 1);
          return [obj.metadata?.name, `${replicas}/${replicas}`, replicas, replicas, created(obj)];
        },
      };
    case 'namespaces':
      return {
        columns: [nameColumn, column('Status', 'string', 'The status of the namespace'), ageColumn],
        cells: (obj) => [obj.metadata?.name, record(obj.status).phase ?? 'Active', created(obj)],
      };
    default:
      return {
        columns: [nameColumn, column('Created At', 'date', 'CreationTimestamp is a timestamp representing the server time when this object was created.')],
        cells: (obj) => [obj.metadata?.name, obj.metadata?.creationTimestamp],
      };
  }
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** The object a row carries: all of it, its metadata as PartialObjectMetadata (the default), or nothing. */
function rowObject(obj: KubeObject, includeObject: IncludeObject): Record<string, unknown> | undefined {
  if (includeObject === 'None') return undefined;
  if (includeObject === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

/** The meta.k8s.io/v1 Table of `objects`, as the real server answers `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. */
export function toTable(resource: ResourceInfo, objects: KubeObject[], listMeta: Record<string, unknown>, includeObject: IncludeObject, now = Date.now()): Record<string, unknown> {
  const { columns, cells } = columnsAndCells(resource, now);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: columns,
    rows: objects.map((obj) => {
      const object = rowObject(obj, includeObject);
      return { cells: cells(obj), ...(object ? { object } : {}) };
    }),
  };
}

// ---- OpenAPI v3 ----------------------------------------------------------------------------------

/** The group-version path of an OpenAPI v3 document: `api/v1`, `apis/apps/v1`. */
function openApiPathOf(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

/** `/openapi/v3`: where each group version's document is, as kubectl's OpenAPI v3 client reads it. */
export function openApiV3Root(): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const { group, version } of [{ group: '', version: 'v1' }, ...groupVersions]) {
    const path = openApiPathOf(group, version);
    paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=FAKE${Buffer.from(path).toString('hex').slice(0, 16).toUpperCase()}` };
  }
  return { paths };
}

/**
 * A group version's OpenAPI v3 document, cut down to what kubectl reads from it: for each resource, the
 * PATCH operation with its x-kubernetes-group-version-kind and its query parameters, so kubectl sees
 * the server supports `fieldValidation` and leaves validation to the server (--validate=strict, the
 * default). There are no schemas, so kubectl computes strategic merge patches from its built-in types.
 */
export function openApiV3Document(path: string): Record<string, unknown> | undefined {
  const served = [{ group: '', version: 'v1' }, ...groupVersions].find((gv) => openApiPathOf(gv.group, gv.version) === path);
  if (!served) return undefined;
  const parameter = (name: string) => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } });
  const paths: Record<string, unknown> = {};
  for (const r of resources.filter((x) => x.group === served.group && x.version === served.version && !x.name.includes('/'))) {
    const prefix = `/${path}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.name}/{name}`;
    paths[prefix] = {
      patch: {
        operationId: `patch${r.namespaced ? 'Namespaced' : ''}${r.kind}`,
        parameters: ['dryRun', 'fieldManager', 'fieldValidation', 'force'].map(parameter),
        responses: { '200': { description: 'OK' } },
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0-airlock-fake' }, paths };
}
