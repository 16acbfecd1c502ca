import YAML from 'yaml';
import type { K8sBodyPrefix, K8sPatchType } from './types.js';

/**
 * What the classifier reads of a request body: the object's kind, name and namespace (create takes
 * its name from the body), a DeleteOptions' dryRun, the signs of `kubectl rollout restart` and
 * `kubectl scale`. JSON is read, and YAML for server-side apply (`application/apply-patch+yaml`);
 * protobuf and CBOR bodies are opaque. Only a body read whole is read at all: a prefix proves
 * nothing about what follows it.
 */

export type BodyReading =
  /** no body (zero bytes) */
  | { kind: 'empty' }
  /** the body was not read whole before the decision */
  | { kind: 'incomplete' }
  /** a format Airlock does not parse, or text that does not parse as its declared format */
  | { kind: 'opaque'; why: string }
  | { kind: 'parsed'; value: unknown };

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The body's media type, lowercased, without parameters ("" when the header is absent). */
export function mediaTypeOf(headers: ReadonlyArray<readonly [string, string]>): string {
  for (const [name, value] of headers) {
    if (name.toLowerCase() === 'content-type') return (value.split(';')[0] ?? '').trim().toLowerCase();
  }
  return '';
}

export function patchTypeOf(mediaType: string): K8sPatchType | undefined {
  switch (mediaType) {
    case 'application/json-patch+json':
      return 'json';
    case 'application/merge-patch+json':
      return 'merge';
    case 'application/strategic-merge-patch+json':
      return 'strategic';
    case 'application/apply-patch+yaml':
    case 'application/apply-patch+cbor':
      return 'apply';
    default:
      return undefined;
  }
}

function isJsonType(mediaType: string): boolean {
  // the API server reads a body with no content type as JSON
  return mediaType === '' || mediaType === 'application/json' || mediaType.endsWith('+json');
}

function isYamlType(mediaType: string): boolean {
  return mediaType === 'application/yaml' || mediaType === 'application/apply-patch+yaml';
}

export function readBody(body: K8sBodyPrefix | undefined, mediaType: string): BodyReading {
  if (body === undefined || (body.complete && body.bytes.length === 0)) return { kind: 'empty' };
  if (!body.complete) return { kind: 'incomplete' };
  const json = isJsonType(mediaType);
  if (!json && !isYamlType(mediaType)) return { kind: 'opaque', why: `a ${mediaType} body` };
  let text: string;
  try {
    text = UTF8.decode(body.bytes);
  } catch {
    return { kind: 'opaque', why: 'a body that is not UTF-8 text' };
  }
  try {
    if (json) return { kind: 'parsed', value: JSON.parse(text) as unknown };
    // duplicate keys are an error (uniqueKeys), aliases bounded: a body that means two things is opaque
    return { kind: 'parsed', value: YAML.parse(text, { uniqueKeys: true, maxAliasCount: 0 }) as unknown };
  } catch (e) {
    return { kind: 'opaque', why: `a body that does not parse as ${json ? 'JSON' : 'YAML'} (${(e as Error).message.split('\n')[0]})` };
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringAt(value: unknown, ...path: string[]): string | undefined {
  let at: unknown = value;
  for (const key of path) {
    if (!isRecord(at)) return undefined;
    at = at[key];
  }
  return typeof at === 'string' ? at : undefined;
}

export interface ObjectIdentity {
  kind?: string;
  apiVersion?: string;
  name?: string;
  generateName?: string;
  namespace?: string;
}

export function objectIdentity(value: unknown): ObjectIdentity {
  return {
    kind: stringAt(value, 'kind'),
    apiVersion: stringAt(value, 'apiVersion'),
    name: stringAt(value, 'metadata', 'name'),
    generateName: stringAt(value, 'metadata', 'generateName'),
    namespace: stringAt(value, 'metadata', 'namespace'),
  };
}

export type DryRunValues = { kind: 'absent' } | { kind: 'all' } | { kind: 'invalid'; values: string[] };

/** apimachinery's ValidateDryRun: every value must be exactly "All"; anything else the server refuses. */
export function dryRunOf(values: readonly string[] | undefined): DryRunValues {
  if (values === undefined || values.length === 0) return { kind: 'absent' };
  return values.every((v) => v === 'All') ? { kind: 'all' } : { kind: 'invalid', values: [...values] };
}

/**
 * The dryRun of a DeleteOptions body: undefined when the body is not a DeleteOptions (another kind,
 * not an object, dryRun not a list of strings), which the API server would refuse or not read as one.
 */
export function deleteOptionsDryRun(value: unknown): DryRunValues | undefined {
  if (!isRecord(value)) return undefined;
  const kind = value['kind'];
  if (kind !== undefined && kind !== 'DeleteOptions') return undefined;
  const dryRun = value['dryRun'];
  if (dryRun === undefined || dryRun === null) return { kind: 'absent' };
  if (!Array.isArray(dryRun) || !dryRun.every((v): v is string => typeof v === 'string')) return undefined;
  return dryRunOf(dryRun);
}

const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

/** The patch `kubectl rollout restart` sends: a restartedAt annotation on the pod template. */
export function isRolloutRestart(value: unknown): boolean {
  return stringAt(value, 'spec', 'template', 'metadata', 'annotations', RESTARTED_AT) !== undefined;
}

/** spec.replicas of a scale body (merge patch or Scale object), when it is a number. */
export function replicasOf(value: unknown): number | undefined {
  if (!isRecord(value) || !isRecord(value['spec'])) return undefined;
  const replicas = value['spec']['replicas'];
  return typeof replicas === 'number' && Number.isInteger(replicas) ? replicas : undefined;
}

/** Resources whose objects carry a pod spec (directly or as a template). */
export const POD_BEARING = new Set(['pods', 'podtemplates', 'deployments', 'daemonsets', 'statefulsets', 'replicasets', 'replicationcontrollers', 'jobs', 'cronjobs']);

/** Capabilities that amount to root on the node. */
const NODE_CAPABILITIES = new Set(['ALL', 'SYS_ADMIN', 'SYS_PTRACE', 'SYS_MODULE', 'SYS_RAWIO', 'DAC_READ_SEARCH', 'NET_ADMIN', 'BPF', 'PERFMON']);

const HOST_FLAGS = ['hostPID', 'hostIPC', 'hostNetwork', 'hostUsers'] as const;

/** How deep the walk goes: pod specs sit a few levels down (cronjob → job → template → spec → containers). */
const POD_SCAN_DEPTH = 16;

/**
 * What in a pod-bearing body reaches the node: host namespaces, hostPath volumes, privileged
 * containers, node-level capabilities (`kubectl debug node/…` asks for most of them). The walk
 * covers objects, merge and strategic merge patches (same shape) and JSON patch operations
 * (their paths and values), wherever the pod spec sits.
 */
export function podEscalations(value: unknown): string[] {
  const found = new Set<string>();
  const walk = (node: unknown, depth: number): void => {
    if (depth > POD_SCAN_DEPTH) return;
    if (Array.isArray(node)) {
      for (const item of node) walk(item, depth + 1);
      return;
    }
    if (!isRecord(node)) return;
    // a JSON patch operation: {op, path, value}
    if (typeof node['op'] === 'string' && typeof node['path'] === 'string') {
      const last = node['path'].split('/').pop() ?? '';
      if ((HOST_FLAGS as readonly string[]).includes(last) && node['value'] === (last === 'hostUsers' ? false : true)) found.add(last);
      if (last === 'privileged' && node['value'] === true) found.add('privileged');
      if (last === 'hostPath' || node['path'].includes('/hostPath')) found.add('hostPath');
    }
    for (const flag of HOST_FLAGS) {
      // hostUsers: false shares the node's user namespace; the others share when true
      if (node[flag] === (flag === 'hostUsers' ? false : true)) found.add(flag);
    }
    if (isRecord(node['hostPath'])) found.add('hostPath');
    if (node['privileged'] === true) found.add('privileged');
    const capabilities = node['capabilities'];
    if (isRecord(capabilities) && Array.isArray(capabilities['add'])) {
      for (const cap of capabilities['add']) if (typeof cap === 'string' && NODE_CAPABILITIES.has(cap.toUpperCase().replace(/^CAP_/, ''))) found.add(`capability ${cap}`);
    }
    for (const child of Object.values(node)) walk(child, depth + 1);
  };
  walk(value, 0);
  return [...found];
}
