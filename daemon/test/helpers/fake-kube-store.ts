import { randomUUID } from 'node:crypto';
import YAML from 'yaml';
import {
  alreadyExists,
  apiVersionOf,
  conflict,
  failureStatus,
  invalid,
  notFound,
  resources,
  type InvalidCause,
  type KubeObject,
  type ResourceInfo,
} from './fake-kube-resources.js';

/**
 * The fake Kubernetes API server's object store: namespaced and cluster objects with resourceVersion,
 * uid, creationTimestamp and generation; create/update/patch/delete with the real server's errors
 * (404 NotFound, 409 AlreadyExists/Conflict, 422 Invalid); server-side dry run (answered as if done,
 * nothing kept, no watch event); and the event history watches are served from.
 */

/** An error answered with a Status object and its code. */
export class KubeStatusError extends Error {
  constructor(readonly status: Record<string, unknown>) {
    super(String(status.message));
    this.name = 'KubeStatusError';
  }

  get code(): number {
    return Number(this.status.code);
  }
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  type: WatchEventType;
  resource: ResourceInfo;
  object: KubeObject;
  resourceVersion: number;
}

export type PatchType = 'merge' | 'strategic' | 'json' | 'apply';

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** RFC 7386 JSON merge patch; strategic-merge directives (`$patch`, `$setElementOrder/…`, `$retainKeys`) are dropped. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  const result: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function pointerTokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`"${pointer}" is not a JSON pointer`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** RFC 6902 JSON patch: add, remove, replace and test, which is what tests send. */
function jsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw new Error('a JSON patch is a list of operations');
  const document = clone(target) as Record<string, unknown>;
  for (const op of operations) {
    if (!isRecord(op) || typeof op.op !== 'string' || typeof op.path !== 'string') throw new Error('a JSON patch operation needs "op" and "path"');
    const tokens = pointerTokens(op.path);
    const last = tokens.pop();
    if (last === undefined) throw new Error('the whole document cannot be patched');
    let parent: unknown = document;
    for (const token of tokens) {
      parent = Array.isArray(parent) ? parent[Number(token)] : isRecord(parent) ? parent[token] : undefined;
      if (parent === undefined) throw new Error(`doc is missing path: "${op.path}"`);
    }
    const container = parent as Record<string, unknown> | unknown[];
    switch (op.op) {
      case 'add':
      case 'replace':
        if (Array.isArray(container)) {
          const index = last === '-' ? container.length : Number(last);
          if (op.op === 'add') container.splice(index, 0, op.value);
          else container[index] = op.value;
        } else {
          if (op.op === 'replace' && !(last in container)) throw new Error(`replace operation does not apply: doc is missing key: ${op.path}`);
          container[last] = op.value;
        }
        break;
      case 'remove':
        if (Array.isArray(container)) container.splice(Number(last), 1);
        else {
          if (!(last in container)) throw new Error(`remove operation does not apply: doc is missing path: "${op.path}"`);
          delete container[last];
        }
        break;
      case 'test': {
        const actual = Array.isArray(container) ? container[Number(last)] : container[last];
        if (JSON.stringify(actual) !== JSON.stringify(op.value)) throw new Error(`testing value ${op.path} failed`);
        break;
      }
      default:
        throw new Error(`Unexpected kind: ${op.op}`);
    }
  }
  return document;
}

function parsePatch(type: PatchType, body: string): unknown {
  try {
    return type === 'apply' ? YAML.parse(body) : JSON.parse(body);
  } catch (err) {
    throw new KubeStatusError(failureStatus(400, 'BadRequest', `error decoding patch: ${(err as Error).message}`));
  }
}

/**
 * `current` with a PATCH body applied: merge and strategic merge as a JSON merge patch (lists replaced
 * whole, which is all tests need), JSON patch, and server-side apply as a merge.
 */
export function applyPatch(current: unknown, type: PatchType, body: string): unknown {
  const document = parsePatch(type, body);
  try {
    return type === 'json' ? jsonPatch(current, document) : mergePatch(current, document);
  } catch (err) {
    throw new KubeStatusError(failureStatus(422, 'Invalid', (err as Error).message));
  }
}

/** The real server keeps a Secret's stringData only as base64 in data (stringData wins on a shared key). */
function foldStringData(resource: ResourceInfo, obj: KubeObject): void {
  if (resource.name !== 'secrets' || obj.stringData === undefined) return;
  const data: Record<string, unknown> = isRecord(obj.data) ? { ...obj.data } : {};
  if (isRecord(obj.stringData)) for (const [key, value] of Object.entries(obj.stringData)) data[key] = Buffer.from(String(value)).toString('base64');
  obj.data = data;
  delete obj.stringData;
}

export interface WriteOptions {
  dryRun: boolean;
}

export class FakeKubeStore {
  private readonly objects = new Map<string, KubeObject>();
  private readonly history: StoredEvent[] = [];
  private readonly listeners = new Set<(event: StoredEvent) => void>();
  private revision = 1000;

  /** `historyLimit`: events kept for watches that resume from a resourceVersion, like the real server's watch cache window. */
  constructor(private readonly historyLimit = 10_000) {
    for (const name of ['default', 'kube-system', 'kube-public']) {
      this.create(this.resource('', 'namespaces'), undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, { dryRun: false });
    }
  }

  resource(group: string, plural: string): ResourceInfo {
    const found = resources.find((r) => r.group === group && r.name === plural);
    if (!found) throw new Error(`the fake has no resource ${plural} in group "${group}"`);
    return found;
  }

  get resourceVersion(): number {
    return this.revision;
  }

  private key(resource: ResourceInfo, namespace: string | undefined, name: string): string {
    return `${resource.group}/${resource.name}/${namespace ?? ''}/${name}`;
  }

  get(resource: ResourceInfo, namespace: string | undefined, name: string): KubeObject {
    const found = this.objects.get(this.key(resource, namespace, name));
    if (!found) throw new KubeStatusError(notFound(resource, name));
    return clone(found);
  }

  /**
   * Objects of a resource, all namespaces when `namespace` is undefined, sorted as the real server lists
   * them (namespace, name). They are the stored objects themselves, not copies, so a list of thousands
   * costs no more than serving it: read them, never change them.
   */
  list(resource: ResourceInfo, namespace: string | undefined): readonly KubeObject[] {
    const prefix = `${resource.group}/${resource.name}/`;
    return [...this.objects.entries()]
      .filter(([key, obj]) => key.startsWith(prefix) && (namespace === undefined || obj.metadata?.namespace === namespace))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, obj]) => obj);
  }

  private requireNamespace(namespace: string | undefined): void {
    if (namespace === undefined) return;
    if (!this.objects.has(this.key(this.resource('', 'namespaces'), undefined, namespace))) {
      throw new KubeStatusError(notFound(this.resource('', 'namespaces'), namespace));
    }
  }

  /** What the real server's validation would refuse, as Invalid causes. */
  private validate(resource: ResourceInfo, obj: KubeObject): InvalidCause[] {
    const causes: InvalidCause[] = [];
    const name = obj.metadata?.name;
    if (!name) causes.push({ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' });
    else if (name.length > 253 || !dns1123Subdomain.test(name)) {
      causes.push({
        reason: 'FieldValueInvalid',
        field: 'metadata.name',
        message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      });
    }
    const spec = isRecord(obj.spec) ? obj.spec : undefined;
    if (resource.name === 'pods' && !(Array.isArray(spec?.containers) && spec.containers.length > 0)) {
      causes.push({ reason: 'FieldValueRequired', field: 'spec.containers', message: 'Required value' });
    }
    if (resource.name === 'deployments') {
      const template = isRecord(spec?.template) ? spec.template : undefined;
      const templateSpec = isRecord(template?.spec) ? template.spec : undefined;
      if (!(Array.isArray(templateSpec?.containers) && templateSpec.containers.length > 0)) {
        causes.push({ reason: 'FieldValueRequired', field: 'spec.template.spec.containers', message: 'Required value' });
      }
      if (!isRecord(spec?.selector)) causes.push({ reason: 'FieldValueRequired', field: 'spec.selector', message: 'Required value' });
    }
    if (resource.name === 'secrets' && isRecord(obj.data)) {
      for (const [key, value] of Object.entries(obj.data)) {
        if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
          causes.push({ reason: 'FieldValueInvalid', field: `data[${key}]`, message: 'Invalid value: illegal base64 data' });
        }
      }
    }
    return causes;
  }

  /** The body's kind and apiVersion must be the resource's; the real server answers a mismatch with 400. */
  private checkType(resource: ResourceInfo, obj: unknown, namespace: string | undefined): asserts obj is KubeObject {
    if (!isRecord(obj)) throw new KubeStatusError(failureStatus(400, 'BadRequest', 'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml'));
    const expected = apiVersionOf(resource.group, resource.version);
    if (obj.kind !== undefined && obj.kind !== resource.kind) {
      throw new KubeStatusError(failureStatus(400, 'BadRequest', `${resource.kind} in version "${resource.version}" cannot be handled as a ${resource.kind}: the kind "${String(obj.kind)}" does not match`));
    }
    if (obj.apiVersion !== undefined && obj.apiVersion !== expected) {
      throw new KubeStatusError(failureStatus(400, 'BadRequest', `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${expected})`));
    }
    const given = isRecord(obj.metadata) ? obj.metadata.namespace : undefined;
    if (resource.namespaced && given !== undefined && given !== namespace) {
      throw new KubeStatusError(failureStatus(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request'));
    }
  }

  private commit(type: WatchEventType, resource: ResourceInfo, obj: KubeObject, key: string): void {
    const resourceVersion = Number(obj.metadata!.resourceVersion);
    if (type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, obj);
    const event: StoredEvent = { type, resource, object: clone(obj), resourceVersion };
    this.history.push(event);
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit);
    for (const listener of this.listeners) listener(event);
  }

  create(resource: ResourceInfo, namespace: string | undefined, body: unknown, options: WriteOptions): KubeObject {
    this.checkType(resource, body, namespace);
    this.requireNamespace(resource.namespaced ? namespace : undefined);
    const obj = clone(body);
    obj.apiVersion = apiVersionOf(resource.group, resource.version);
    obj.kind = resource.kind;
    const metadata = { ...(isRecord(obj.metadata) ? obj.metadata : {}) };
    if (!metadata.name && metadata.generateName) metadata.name = `${metadata.generateName}${randomUUID().slice(0, 5)}`;
    obj.metadata = metadata;
    foldStringData(resource, obj);
    const causes = this.validate(resource, obj);
    if (causes.length > 0) throw new KubeStatusError(invalid(resource, metadata.name ?? '', causes));
    const key = this.key(resource, resource.namespaced ? namespace : undefined, metadata.name!);
    if (this.objects.has(key)) throw new KubeStatusError(alreadyExists(resource, metadata.name!));
    const revision = options.dryRun ? this.revision : ++this.revision;
    obj.metadata = {
      ...metadata,
      ...(resource.namespaced ? { namespace } : {}),
      uid: randomUUID(),
      resourceVersion: String(revision),
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      ...(resource.name === 'deployments' ? { generation: 1 } : {}),
    };
    this.defaultStatus(resource, obj);
    if (!options.dryRun) this.commit('ADDED', resource, clone(obj), key);
    return obj;
  }

  /** What a running object's status looks like, so kubectl's columns have something to show. */
  private defaultStatus(resource: ResourceInfo, obj: KubeObject): void {
    if (resource.name === 'pods') {
      const spec = obj.spec as Record<string, unknown>;
      spec.nodeName ??= 'fake-node-1';
      obj.status = { phase: 'Running', podIP: '10.244.0.7', hostIP: '172.18.0.2', startTime: obj.metadata!.creationTimestamp, ...(isRecord(obj.status) ? obj.status : {}) };
    } else if (resource.name === 'deployments') {
      const replicas = Number((obj.spec as Record<string, unknown>).replicas ?? 1);
      obj.status = { observedGeneration: obj.metadata!.generation, replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas };
    } else if (resource.name === 'namespaces') {
      obj.status = { phase: 'Active' };
    } else if (resource.name === 'secrets') {
      obj.type ??= 'Opaque';
    }
  }

  /** Replaces an object (PUT); a resourceVersion in the body must be the current one. */
  update(resource: ResourceInfo, namespace: string | undefined, name: string, body: unknown, options: WriteOptions): KubeObject {
    this.checkType(resource, body, namespace);
    const current = this.get(resource, resource.namespaced ? namespace : undefined, name);
    if (body.metadata?.name !== undefined && body.metadata.name !== name) {
      throw new KubeStatusError(failureStatus(400, 'BadRequest', 'the name of the object (' + body.metadata.name + ') does not match the name on the URL (' + name + ')'));
    }
    if (body.metadata?.resourceVersion !== undefined && body.metadata.resourceVersion !== current.metadata!.resourceVersion) {
      throw new KubeStatusError(conflict(resource, name));
    }
    return this.replace(resource, current, clone(body), options);
  }

  private replace(resource: ResourceInfo, current: KubeObject, next: KubeObject, options: WriteOptions): KubeObject {
    const name = current.metadata!.name!;
    next.apiVersion = apiVersionOf(resource.group, resource.version);
    next.kind = resource.kind;
    // identity and bookkeeping are the server's, whatever the body says
    next.metadata = {
      ...(isRecord(next.metadata) ? next.metadata : {}),
      name,
      ...(resource.namespaced ? { namespace: current.metadata!.namespace } : {}),
      uid: current.metadata!.uid,
      creationTimestamp: current.metadata!.creationTimestamp,
    };
    foldStringData(resource, next);
    const causes = this.validate(resource, next);
    if (causes.length > 0) throw new KubeStatusError(invalid(resource, name, causes));
    const specChanged = JSON.stringify(next.spec) !== JSON.stringify(current.spec);
    if (current.metadata!.generation !== undefined) next.metadata.generation = current.metadata!.generation + (specChanged ? 1 : 0);
    next.metadata.resourceVersion = String(options.dryRun ? this.revision : ++this.revision);
    if (next.status === undefined && current.status !== undefined) next.status = current.status;
    this.defaultStatus(resource, next);
    if (!options.dryRun) this.commit('MODIFIED', resource, clone(next), this.key(resource, next.metadata.namespace, name));
    return next;
  }

  /**
   * PATCH (see applyPatch); server-side apply creates the object when it is absent.
   */
  patch(resource: ResourceInfo, namespace: string | undefined, name: string, type: PatchType, body: string, options: WriteOptions & { fieldManager?: string }): KubeObject {
    const scopedNamespace = resource.namespaced ? namespace : undefined;
    if (type === 'apply') {
      const applied = parsePatch(type, body);
      if (!options.fieldManager) throw new KubeStatusError(failureStatus(400, 'BadRequest', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'));
      this.checkType(resource, applied, namespace);
      if (applied.metadata?.name !== name) throw new KubeStatusError(failureStatus(400, 'BadRequest', `the name of the object (${String(applied.metadata?.name)}) does not match the name on the URL (${name})`));
      if (!this.objects.has(this.key(resource, scopedNamespace, name))) return this.create(resource, namespace, applied, options);
    }
    const current = this.get(resource, scopedNamespace, name);
    const next = applyPatch(current, type, body);
    this.checkType(resource, next, namespace);
    return this.replace(resource, current, next, options);
  }

  delete(resource: ResourceInfo, namespace: string | undefined, name: string, options: WriteOptions): KubeObject {
    const scopedNamespace = resource.namespaced ? namespace : undefined;
    const current = this.get(resource, scopedNamespace, name);
    current.metadata!.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    if (options.dryRun) return current;
    current.metadata!.resourceVersion = String(++this.revision);
    // no graceful termination in the fake: the object is gone when the answer is sent
    this.commit('DELETED', resource, clone(current), this.key(resource, scopedNamespace, name));
    return current;
  }

  /** Events after `resourceVersion`, as a watch started from it replays them; undefined when they are no longer kept (410 Gone). */
  eventsSince(resourceVersion: number): StoredEvent[] | undefined {
    const oldest = this.history[0];
    if (oldest && resourceVersion < oldest.resourceVersion - 1) return undefined;
    return this.history.filter((event) => event.resourceVersion > resourceVersion);
  }

  /** Calls `listener` with every later event until the returned function is called. */
  subscribe(listener: (event: StoredEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get watcherCount(): number {
    return this.listeners.size;
  }
}
