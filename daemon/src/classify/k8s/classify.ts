import type { AttributeValue, Risk } from '@airlock/shared';
import { POD_BEARING, deleteOptionsDryRun, dryRunOf, mediaTypeOf, objectIdentity, patchTypeOf, podEscalations, readBody, replicasOf, isRolloutRestart } from './body.js';
import type { BodyReading, DryRunValues, ObjectIdentity } from './body.js';
import { firstQueryValue, queryBool, queryValues } from './query.js';
import { quoteWord } from '@airlock/shared';
import { cutSummary, namespacePhrase, objectPhrase } from './summary.js';
import { frontProxyHeaders, impersonationOf, upgradeOf } from './headers.js';
import { parseRequestInfo } from './request-info.js';
import type { K8sClass, K8sClassification, K8sClassifyOptions, K8sConnect, K8sExecDetailPieces, K8sRequestError, K8sRequestExtras, K8sRequestInfo, K8sRequestInput } from './types.js';

export const K8S_SUMMARY_MAX_CHARS = 240;
export const K8S_LIST_MAX_ITEMS = 64;
export const DEFAULT_K8S_CLASSIFY_OPTIONS: K8sClassifyOptions = { summaryMaxChars: K8S_SUMMARY_MAX_CHARS, listMaxItems: K8S_LIST_MAX_ITEMS };

/** privileged above unknown (as SQL's and the shell's combine), unknown above exec, exec above write */
const STRICTNESS: Record<K8sClass, number> = { read: 0, write: 1, exec: 2, unknown: 3, privileged: 4 };

export function combineK8sClasses(classes: Iterable<K8sClass>): K8sClass {
  let strictest: K8sClass = 'read';
  for (const c of classes) if (STRICTNESS[c] > STRICTNESS[strictest]) strictest = c;
  return strictest;
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
const READ_VERBS = new Set(['get', 'list', 'watch']);

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const RBAC_RESOURCES = new Set(['roles', 'clusterroles', 'rolebindings', 'clusterrolebindings']);

/**
 * Writes that grant power rather than change workloads, by group and resource (`*` any resource of
 * the group), and the subresources that do so (`resource/subresource`).
 */
const PRIVILEGED_WRITES: ReadonlyArray<{ group: string; resource: string; subresource?: string; why: string }> = [
  { group: '', resource: 'secrets', why: 'a Secret write changes credentials' },
  { group: '', resource: 'serviceaccounts', subresource: 'token', why: 'a service account token request mints a credential' },
  { group: '', resource: 'pods', subresource: 'ephemeralcontainers', why: 'an ephemeral container runs a new process in a running pod' },
  { group: 'certificates.k8s.io', resource: 'certificatesigningrequests', subresource: 'approval', why: 'approving a certificate signing request issues a credential' },
  { group: 'certificates.k8s.io', resource: 'certificatesigningrequests', subresource: 'status', why: 'writing a certificate signing request status issues a certificate' },
  { group: 'admissionregistration.k8s.io', resource: '*', why: 'admission webhooks and policies see or change every request' },
  { group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', why: 'a CustomResourceDefinition write changes the API itself' },
  { group: 'apiregistration.k8s.io', resource: 'apiservices', why: 'an APIService write sends API traffic to another server' },
];

/**
 * Creates that ask the API server a question and store nothing (`kubectl auth can-i`, `kubectl auth
 * whoami`, token reviews): reads.
 */
const REVIEW_GROUPS = new Set(['authorization.k8s.io', 'authentication.k8s.io']);
const REVIEW_RESOURCES = new Set(['selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'subjectaccessreviews', 'localsubjectaccessreviews', 'tokenreviews', 'selfsubjectreviews']);

/** Workloads `kubectl rollout restart` patches. */
const RESTARTABLE = new Set(['deployments', 'daemonsets', 'statefulsets']);

/** Non-resource paths that serve discovery, health and metadata: reads. Others (`/logs`, `/debug/...`) are unknown. */
function isKnownNonResourcePath(path: string): boolean {
  if (['/', '/api', '/apis', '/version', '/healthz', '/livez', '/readyz', '/metrics', '/openapi/v2', '/openapi/v3', '/.well-known/openid-configuration', '/openid/v1/jwks'].includes(path)) return true;
  return /^\/api\/[^/]+$/.test(path) || /^\/apis\/[^/]+(?:\/[^/]+)?$/.test(path) || /^\/(?:openapi\/v3|healthz|livez|readyz)\/.+$/.test(path);
}

const RESOURCE_NAME = /^[a-z0-9][a-z0-9.-]*$/;

function riskOf(cls: K8sClass, verb: string): Risk {
  switch (cls) {
    case 'read':
      return 'low';
    case 'write':
      return verb === 'delete' || verb === 'deletecollection' ? 'high' : 'medium';
    case 'exec':
    case 'unknown':
      return 'high';
    case 'privileged':
      return 'critical';
  }
}

function bounded(list: string[], max: number): string[] {
  return list.length <= max ? list : list.slice(0, max);
}

interface Findings {
  classes: K8sClass[];
  reasons: string[];
  attributes: Record<string, AttributeValue>;
}

function add(f: Findings, cls: K8sClass, reason: string): void {
  f.classes.push(cls);
  f.reasons.push(reason);
}

/** The dry run a request asks for, where the API server reads it: DELETE's body when it has one, else the query. */
function dryRunFor(info: K8sRequestInfo, query: ReadonlyArray<readonly [string, string]>, body: BodyReading, f: Findings): boolean {
  const fromQuery = dryRunOf(queryValues(query, 'dryRun'));
  if (fromQuery.kind === 'invalid') {
    add(f, 'unknown', `dryRun=${fromQuery.values.map((v) => JSON.stringify(v)).join(',')} is not "All", the only value the API server accepts`);
    return false;
  }
  if (!WRITE_VERBS.has(info.verb) || info.connect !== undefined) return false;
  if (info.verb !== 'delete' && info.verb !== 'deletecollection') return fromQuery.kind === 'all';
  // DELETE: a body, when there is one, is the DeleteOptions and the query's options are not read
  if (body.kind === 'empty') return fromQuery.kind === 'all';
  if (body.kind !== 'parsed') {
    f.reasons.push(`the delete options are in ${body.kind === 'incomplete' ? 'a body not read whole' : body.why}, so the request is not taken as a dry run`);
    return false;
  }
  const fromBody: DryRunValues | undefined = deleteOptionsDryRun(body.value);
  if (fromBody === undefined) {
    f.reasons.push('the body is not a DeleteOptions, so the request is not taken as a dry run');
    return false;
  }
  if (fromBody.kind === 'invalid') {
    add(f, 'unknown', `the DeleteOptions dryRun ${JSON.stringify(fromBody.values)} is not ["All"], the only value the API server accepts`);
    return false;
  }
  if (fromBody.kind === 'absent' && fromQuery.kind === 'all') f.reasons.push('dryRun=All in the query is not read: a DELETE with a body takes its options from the body');
  return fromBody.kind === 'all';
}

function execPieces(info: K8sRequestInfo, query: ReadonlyArray<readonly [string, string]>, max: number): K8sExecDetailPieces {
  return {
    pod: info.name,
    namespace: info.namespace,
    container: firstQueryValue(query, 'container'),
    command: bounded(queryValues(query, 'command'), max),
    stdin: queryBool(query, 'stdin'),
    stdout: queryBool(query, 'stdout'),
    stderr: queryBool(query, 'stderr'),
    tty: queryBool(query, 'tty'),
  };
}

/**
 * Whether the decision needs the request body read first (up to the target's message limit): a
 * create takes its object's name from it, a DELETE its dry run, an update or patch its namespace,
 * name, scale and restart signs. Reads and streams are decided on the head alone.
 */
export function needsK8sBody(info: K8sRequestInfo): boolean {
  return info.isResourceRequest && info.connect === undefined && WRITE_VERBS.has(info.verb);
}

function bodyState(body: BodyReading): string {
  return body.kind === 'empty' ? 'the request has no body' : body.kind === 'incomplete' ? 'the body was not read whole' : body.kind === 'opaque' ? `the body is ${body.why}` : 'the body was read';
}

function classifyNonResource(info: K8sRequestInfo, f: Findings): string {
  const { method } = info;
  f.attributes['nonResourcePath'] = info.path;
  if ((method === 'GET' || method === 'HEAD') && isKnownNonResourcePath(info.path)) add(f, 'read', `${info.path} serves discovery, health or metadata`);
  else if (method === 'GET' || method === 'HEAD') add(f, 'unknown', `${info.path} is not a discovery or health path Airlock knows`);
  else add(f, 'unknown', `${method} of the non-resource path ${info.path}`);
  return `${method} ${info.path}`;
}

/** Names that do not look like the API server's, and the object's identity in the body: returns the name the request acts on. */
function checkNames(info: K8sRequestInfo, body: BodyReading, identity: ObjectIdentity, f: Findings): string {
  if (info.verb === '') add(f, 'unknown', `the method ${JSON.stringify(info.method)} maps to no Kubernetes verb`);
  if (!RESOURCE_NAME.test(info.resource) || (info.subresource !== '' && !RESOURCE_NAME.test(info.subresource))) {
    add(f, 'unknown', `${JSON.stringify(info.subresource === '' ? info.resource : `${info.resource}/${info.subresource}`)} is not a resource name the API server serves (resources are lowercase)`);
  }
  if (!/^[a-z0-9.-]*$/.test(info.apiGroup) || !/^v[0-9a-z]+$/.test(info.apiVersion)) {
    add(f, 'unknown', `${info.apiGroup === '' ? info.apiVersion : `${info.apiGroup}/${info.apiVersion}`} is not an API group/version the API server serves`);
  }
  let name = info.name;
  if (info.verb === 'create' && info.subresource === '' && name === '') {
    if (body.kind !== 'parsed') add(f, 'unknown', `the object's name is not known: ${bodyState(body)}`);
    else if (identity.name !== undefined && identity.name !== '') name = identity.name;
    else if (identity.generateName !== undefined) f.reasons.push(`the server generates the name (generateName ${identity.generateName})`);
  }
  if ((info.verb === 'create' || info.verb === 'update' || info.verb === 'patch') && body.kind === 'parsed' && info.subresource === '') {
    if (identity.namespace !== undefined && identity.namespace !== '' && info.namespace !== '' && identity.namespace !== info.namespace) {
      f.attributes['namespaceMismatch'] = true;
      add(f, 'unknown', `the body's namespace ${identity.namespace} differs from the URL's ${info.namespace} (the API server refuses it)`);
    }
    if (info.verb === 'update' && identity.name !== undefined && identity.name !== '' && info.name !== '' && identity.name !== info.name) {
      f.attributes['nameMismatch'] = true;
      add(f, 'unknown', `the body's name ${identity.name} differs from the URL's ${info.name} (the API server refuses it)`);
    }
  }
  return name;
}

interface ConnectFindings {
  phrase: string;
  exec?: K8sExecDetailPieces;
  ports?: string[];
}

function classifyConnect(info: K8sRequestInfo, connect: K8sConnect, max: number, f: Findings): ConnectFindings {
  const { query } = info;
  const target = `${objectPhrase({ ...info, subresource: '' }, info.name)}${namespacePhrase(info, info.verb)}`;
  f.attributes['connect'] = connect;
  let found: ConnectFindings;
  if (connect === 'exec' || connect === 'attach') {
    const exec = execPieces(info, query, max);
    f.attributes['command'] = exec.command;
    if (exec.container !== undefined) f.attributes['container'] = exec.container;
    f.attributes['stdin'] = exec.stdin;
    f.attributes['tty'] = exec.tty;
    const container = exec.container === undefined ? '' : ` -c ${exec.container}`;
    const more = queryValues(query, 'command').length > exec.command.length ? ' …' : '';
    const commandText = exec.command.length === 0 ? '' : `: ${exec.command.map(quoteWord).join(' ')}${more}`;
    found = { phrase: connect === 'exec' ? `exec ${target}${container}${commandText}` : `attach ${target}${container}`, exec };
  } else if (connect === 'portforward') {
    const ports = bounded(queryValues(query, 'ports'), max);
    f.attributes['ports'] = ports;
    found = { phrase: `port-forward ${target} ${ports.join(',')}`.trimEnd(), ports };
  } else {
    const subpath = info.parts.slice(info.verb === 'proxy' ? 2 : 3).join('/');
    found = { phrase: `proxy ${target} /${subpath}` };
  }
  for (const [what, all] of [['command', queryValues(query, 'command')], ['ports', queryValues(query, 'ports')]] as const) {
    if (all.length > max) add(f, 'unknown', `the ${what} has ${all.length} values and Airlock keeps ${max}, so rules cannot see all of it`);
  }
  if (info.resource === 'nodes' && info.apiGroup === '') add(f, 'privileged', "a node's proxy reaches the kubelet's API, which can run commands in any pod on the node");
  else add(f, 'exec', `${connect} opens a stream into ${info.resource}/${info.name}`);
  return found;
}

/** The privileged kinds of write; true when one applies. */
function privilegedWrite(info: K8sRequestInfo, body: BodyReading, max: number, f: Findings): boolean {
  let privileged = false;
  if (info.apiGroup === RBAC_GROUP && RBAC_RESOURCES.has(info.resource)) {
    add(f, 'privileged', `a ${info.resource} write changes who may do what (RBAC)`);
    privileged = true;
  }
  for (const p of PRIVILEGED_WRITES) {
    if (p.group !== info.apiGroup || (p.resource !== '*' && p.resource !== info.resource)) continue;
    if (p.subresource !== undefined && p.subresource !== info.subresource) continue;
    add(f, 'privileged', p.why);
    privileged = true;
  }
  if (info.apiGroup === '' && info.resource === 'namespaces' && info.subresource === '' && (info.verb === 'delete' || info.verb === 'deletecollection')) {
    add(f, 'privileged', 'deleting a namespace deletes everything in it');
    privileged = true;
  }
  const writesPodSpec = POD_BEARING.has(info.resource) && (info.subresource === '' || info.subresource === 'ephemeralcontainers') && (info.verb === 'create' || info.verb === 'update' || info.verb === 'patch');
  if (writesPodSpec && body.kind === 'parsed') {
    const escalations = bounded(podEscalations(body.value), max);
    if (escalations.length > 0) {
      f.attributes['podEscalation'] = escalations;
      add(f, 'privileged', `the pod spec reaches the node (${escalations.join(', ')})`);
      privileged = true;
    }
  } else if (writesPodSpec && info.verb !== 'create') {
    // a create without a readable body is unknown already (its name is not known)
    add(f, 'unknown', `the pod spec is not known: ${bodyState(body)}`);
  }
  return privileged;
}

/** A write's class and, for scale and rollout restart, the phrase kubectl users know it by. */
function classifyWrite(info: K8sRequestInfo, body: BodyReading, name: string, dryRun: boolean, max: number, f: Findings): string | undefined {
  if (info.verb === 'create' && REVIEW_GROUPS.has(info.apiGroup) && REVIEW_RESOURCES.has(info.resource)) {
    add(f, 'read', `a ${info.resource} create asks the API server a question and stores nothing`);
    return undefined;
  }
  const privileged = privilegedWrite(info, body, max, f);
  let phrase: string | undefined;
  if (info.subresource === 'scale') {
    const replicas = body.kind === 'parsed' ? replicasOf(body.value) : undefined;
    if (replicas !== undefined) f.attributes['replicas'] = replicas;
    phrase = `scale ${objectPhrase({ ...info, subresource: '' }, name)}${namespacePhrase(info, info.verb)}${replicas === undefined ? '' : ` to ${replicas} replicas`}`;
  }
  if (info.verb === 'patch' && RESTARTABLE.has(info.resource) && info.subresource === '' && body.kind === 'parsed' && isRolloutRestart(body.value)) {
    f.attributes['rolloutRestart'] = true;
    phrase = `rollout restart ${objectPhrase(info, name)}${namespacePhrase(info, info.verb)}`;
  }
  if (!dryRun) add(f, 'write', `${info.verb} changes the cluster`);
  else if (privileged) f.reasons.push('a server-side dry run, but privileged writes stay privileged (a rule can match dryRun: true)');
  else add(f, 'read', 'a server-side dry run (dryRun=All) changes nothing');
  return phrase;
}

/** What the headers ask for whatever the path: impersonation, front-proxy identities, upgrades. */
function classifyHeaders(info: K8sRequestInfo, headers: K8sRequestExtras['headers'], impersonate: string[], f: Findings): void {
  const upgrade = upgradeOf(headers);
  if (upgrade !== undefined && info.connect === undefined) add(f, 'unknown', `an upgrade to ${upgrade} on ${info.path} opens a stream Airlock does not inspect`);
  if (impersonate.length > 0) add(f, 'privileged', `the request asks to act as someone else (${impersonate.join(', ')})`);
  const frontProxy = frontProxyHeaders(headers);
  if (frontProxy.length > 0) add(f, 'privileged', `the request carries front-proxy identity headers (${frontProxy.join(', ')})`);
}

/**
 * Classify one Kubernetes request (see index.ts for the classes). `info` is parseRequestInfo's
 * answer; `extras` the headers and the body prefix read before the decision.
 */
export function classifyK8sRequest(info: K8sRequestInfo, extras: K8sRequestExtras, options: K8sClassifyOptions = DEFAULT_K8S_CLASSIFY_OPTIONS): K8sClassification {
  const f: Findings = { classes: [], reasons: [], attributes: {} };
  const { query } = info;
  const { headers } = extras;
  const max = options.listMaxItems;
  const mediaType = mediaTypeOf(headers);
  const body = readBody(extras.body, mediaType);
  const identity: ObjectIdentity = body.kind === 'parsed' ? objectIdentity(body.value) : {};
  const impersonate = bounded(impersonationOf(headers), max);
  const patchType = info.verb === 'patch' ? patchTypeOf(mediaType) : undefined;
  let name = info.name;
  let connectFindings: ConnectFindings | undefined;
  let dryRun = false;
  let phrase: string;

  if (!info.isResourceRequest) phrase = classifyNonResource(info, f);
  else {
    name = checkNames(info, body, identity, f);
    dryRun = dryRunFor(info, query, body, f);
    phrase = `${info.verb === 'list' ? 'get' : info.verb} ${objectPhrase(info, name)}${namespacePhrase(info, info.verb)}`;
    if (info.connect !== undefined) {
      connectFindings = classifyConnect(info, info.connect, max, f);
      phrase = connectFindings.phrase;
    } else if (READ_VERBS.has(info.verb)) add(f, 'read', info.subresource === 'log' ? 'reading logs' : `${info.verb} reads`);
    else if (WRITE_VERBS.has(info.verb)) phrase = classifyWrite(info, body, name, dryRun, max, f) ?? phrase;
    else if (info.verb !== '') add(f, 'unknown', `the verb ${info.verb} is not one Airlock knows`);
  }
  classifyHeaders(info, headers, impersonate, f);

  // every branch above names a class; should one not, the request is not understood
  if (f.classes.length === 0) add(f, 'unknown', 'nothing in the request was classified');
  const cls = combineK8sClasses(f.classes);

  const a = f.attributes;
  a['class'] = cls;
  a['verb'] = info.verb;
  a['path'] = info.path;
  if (info.isResourceRequest) {
    a['resource'] = info.resource;
    if (info.subresource !== '') a['subresource'] = info.subresource;
    a['apiGroup'] = info.apiGroup;
    a['apiVersion'] = info.apiVersion;
    const namespace = info.namespace !== '' ? info.namespace : info.apiGroup === '' && info.resource === 'namespaces' ? name : '';
    if (namespace !== '') a['namespace'] = namespace;
    if (name !== '') a['name'] = name;
  }
  if (info.fieldSelector !== undefined) a['fieldSelector'] = info.fieldSelector;
  if (info.labelSelector !== undefined) a['labelSelector'] = info.labelSelector;
  a['dryRun'] = dryRun;
  if (impersonate.length > 0) a['impersonate'] = impersonate;
  if (patchType !== undefined) a['patchType'] = patchType;
  const fieldManager = firstQueryValue(query, 'fieldManager');
  if (fieldManager !== undefined) a['fieldManager'] = fieldManager;
  if (patchType === 'apply') a['force'] = queryBool(query, 'force');

  let summary = phrase;
  if (dryRun) summary += ' (dry run)';
  if (impersonate.length > 0) summary += ` as ${impersonate.join(', ')}`;

  return {
    class: cls,
    risk: riskOf(cls, info.verb),
    summary: cutSummary(summary, options.summaryMaxChars),
    attributes: a,
    reasons: f.reasons,
    request: {
      verb: info.verb,
      apiGroup: info.apiGroup,
      apiVersion: info.apiVersion,
      resource: info.resource,
      subresource: info.subresource,
      namespace: info.namespace,
      name,
      path: info.path,
      query: query.slice(0, max).map(([k, v]) => [k, v] as [string, string]),
      ...(query.length > max ? { queryOmitted: query.length - max } : {}),
      dryRun,
      ...(info.connect === undefined ? {} : { connect: info.connect }),
      ...(patchType === undefined ? {} : { patchType }),
      impersonate,
      ...(identity.kind === undefined ? {} : { bodyKind: identity.kind }),
    },
    ...(connectFindings?.exec === undefined ? {} : { exec: connectFindings.exec }),
    ...(connectFindings?.ports === undefined ? {} : { ports: connectFindings.ports }),
  };
}

/** parseRequestInfo then classifyK8sRequest: the classification, or why the request is refused before policy sees it. */
export function describeK8sRequest(input: K8sRequestInput, extras: K8sRequestExtras, options: K8sClassifyOptions = DEFAULT_K8S_CLASSIFY_OPTIONS): { info: K8sRequestInfo; classification: K8sClassification } | K8sRequestError {
  const info = parseRequestInfo(input);
  if ('error' in info) return info;
  return { info, classification: classifyK8sRequest(info, extras, options) };
}
