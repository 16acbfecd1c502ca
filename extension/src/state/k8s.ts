import YAML from 'yaml';
import { describeCut, oneLineText, printable, quoteWord, singularOf, type AttributeValue, type HttpBodyExcerpt, type K8sExecDetail, type K8sPortForwardDetail, type K8sRequestDetail } from '@airlock/shared';

/**
 * How a Kubernetes action reads to a person, in kubectl's words, from its typed detail: `delete
 * deployment/api -n prod`, `get secrets -n kube-system`, `exec pod/web-1 -n default: sh -c "…"`.
 * Pure; the tree views, the approval panel and the replay render through these.
 */

/** `deployment/api`, `secrets`, `deployment/api/scale`. */
function objectPhrase(d: Pick<K8sRequestDetail, 'resource' | 'subresource' | 'name'>): string {
  const resource = oneLineText(d.resource);
  const subresource = d.subresource === '' ? '' : `/${oneLineText(d.subresource)}`;
  if (d.name === '') return `${resource}${subresource}`;
  return `${singularOf(resource)}/${oneLineText(d.name)}${subresource}`;
}

function namespacePhrase(namespace: string): string {
  return namespace === '' ? '' : ` -n ${oneLineText(namespace)}`;
}

/** The verb as kubectl users say it: a list is a `get`, a watch a `get -w`. */
function verbWord(verb: string, method: string): string {
  if (verb === 'list') return 'get';
  if (verb === '') return oneLineText(method);
  return oneLineText(verb);
}

/**
 * One request as kubectl would have been asked for it. Scale and rollout restart read as such when
 * the classifier said so (attributes `replicas`, `rolloutRestart`); a non-resource URL reads as its
 * method and path; dry run and impersonation are always said.
 */
export function k8sRequestLine(d: K8sRequestDetail, attributes: Record<string, AttributeValue> = {}): string {
  let phrase: string;
  if (d.resource === '') phrase = `${oneLineText(d.method)} ${oneLineText(d.path)}`;
  else if (d.subresource === 'scale' && (d.verb === 'update' || d.verb === 'patch')) {
    const replicas = attributes['replicas'];
    phrase = `scale ${objectPhrase({ ...d, subresource: '' })}${namespacePhrase(d.namespace)}${typeof replicas === 'number' ? ` to ${replicas} replicas` : ''}`;
  } else if (attributes['rolloutRestart'] === true) phrase = `rollout restart ${objectPhrase(d)}${namespacePhrase(d.namespace)}`;
  else if (d.verb === 'watch') phrase = `get ${objectPhrase(d)}${namespacePhrase(d.namespace)} -w`;
  else phrase = `${verbWord(d.verb, d.method)} ${objectPhrase(d)}${namespacePhrase(d.namespace)}`;
  if (d.dryRun) phrase += ' (dry run)';
  if (d.impersonate.length > 0) phrase += ` as ${d.impersonate.map(oneLineText).join(', ')}`;
  return phrase;
}

/** `exec pod/web-1 -n default -c app: sh -c "ls /"`, `attach pod/web-1 -n default`. */
export function k8sExecLine(d: K8sExecDetail): string {
  const target = `pod/${oneLineText(d.pod)}${namespacePhrase(d.namespace)}${d.container !== undefined ? ` -c ${oneLineText(d.container)}` : ''}`;
  if (d.operation === 'attach') return `attach ${target}`;
  const more = d.commandCut ? ' …' : '';
  return `exec ${target}${d.command.length > 0 ? `: ${d.command.map(quoteWord).join(' ')}${more}` : ''}`;
}

/** `port-forward pod/db-0 -n data 5432,8080`. */
export function k8sPortForwardLine(d: K8sPortForwardDetail): string {
  return `port-forward pod/${oneLineText(d.pod)}${namespacePhrase(d.namespace)} ${d.ports.map(oneLineText).join(',')}`.trimEnd();
}

/** What the approval panel shows of a held request. */
export interface K8sRequestView {
  line: string;
  verb: string;
  method: string;
  /** `apps/v1 deployments`, `v1 pods/log` */
  resource: string;
  /** `prod/api`, `prod`, `(cluster)` */
  object: string;
  path: string;
  query: string[];
  dryRun: boolean;
  /** one sentence per thing the agent asked to be (the headers were removed before forwarding) */
  impersonation: string[];
  patchType?: string;
  bodyKind?: string;
  class?: string;
}

export function k8sRequestView(d: K8sRequestDetail, attributes: Record<string, AttributeValue> = {}): K8sRequestView {
  const group = d.apiGroup === '' ? d.apiVersion : `${d.apiGroup}/${d.apiVersion}`;
  const cls = attributes['class'];
  const ns = d.namespace === '' ? '' : oneLineText(d.namespace);
  const name = d.name === '' ? '' : oneLineText(d.name);
  return {
    line: k8sRequestLine(d, attributes),
    verb: oneLineText(d.verb === '' ? '(none)' : d.verb),
    method: oneLineText(d.method),
    resource: d.resource === '' ? 'non-resource URL' : oneLineText(`${group} ${d.resource}${d.subresource === '' ? '' : `/${d.subresource}`}`),
    object: ns !== '' && name !== '' ? `${ns}/${name}` : ns !== '' ? `${ns} (all ${oneLineText(d.resource)})` : name !== '' ? `${name} (cluster-scoped)` : '(cluster-wide)',
    path: printable(d.path),
    query: d.query.map(([k, v]) => `${oneLineText(k)}=${oneLineText(v)}`).concat(d.queryOmitted ? [`… and ${d.queryOmitted} more`] : []),
    dryRun: d.dryRun,
    impersonation: d.impersonate.map((who) => `The agent asked to act as ${oneLineText(who)}: the Impersonate headers were removed, and asking is itself privileged.`),
    ...(d.patchType !== undefined ? { patchType: d.patchType } : {}),
    ...(d.bodyKind !== undefined ? { bodyKind: oneLineText(d.bodyKind) } : {}),
    ...(typeof cls === 'string' ? { class: cls } : {}),
  };
}

export interface K8sExecView {
  line: string;
  operation: 'exec' | 'attach';
  pod: string;
  namespace: string;
  container: string;
  /** the argv, one word per entry, unprintable characters escaped */
  argv: string[];
  cutNotice?: string;
  stdin: boolean;
  tty: boolean;
  /** what the recording keeps */
  recording: string;
  protocol?: string;
}

export function k8sExecView(d: K8sExecDetail): K8sExecView {
  return {
    line: k8sExecLine(d),
    operation: d.operation,
    pod: oneLineText(d.pod),
    namespace: oneLineText(d.namespace),
    container: d.container !== undefined ? oneLineText(d.container) : '(the pod’s default container)',
    argv: d.command.map(printable),
    ...(d.commandCut ? { cutNotice: describeCut(d.commandCut, 'command') } : {}),
    stdin: d.stdin,
    tty: d.tty,
    recording: d.stdin
      ? 'Output (masked) and input are recorded as a terminal clip; it plays in the replay’s terminal lane.'
      : 'Output (masked) is recorded as a terminal clip; it plays in the replay’s terminal lane.',
    ...(d.protocol !== undefined ? { protocol: d.protocol } : {}),
  };
}

/** A request or response body as a person reads a Kubernetes object: YAML, as `kubectl get -o yaml` shows it. */
export interface K8sBodyView {
  /** YAML when the recorded text is a whole JSON document; else the text as recorded */
  text: string;
  format: 'yaml' | 'as-recorded';
  /** why the body is not YAML, or that it is only its head */
  note?: string;
}

/**
 * The recorded body excerpt as YAML. The text was masked by the daemon before it was recorded, so
 * converting it shows nothing the JSON did not; a body cut to its first bytes is not a whole
 * document and is shown as recorded, with the cut said.
 */
export function k8sBodyView(body: HttpBodyExcerpt | undefined): K8sBodyView | undefined {
  if (body?.text === undefined) return undefined;
  const cutNote = body.cut ? `${describeCut(body.cut, 'body')}: the head is shown as recorded` : undefined;
  if (body.cut === undefined) {
    try {
      const value: unknown = JSON.parse(body.text);
      if (value !== null && typeof value === 'object') return { text: printable(YAML.stringify(value, { lineWidth: 0 })), format: 'yaml' };
    } catch {
      // not JSON (a YAML apply body, a text patch): shown as it came
    }
  }
  return { text: printable(body.text), format: 'as-recorded', ...(cutNote ? { note: cutNote } : {}) };
}

/** What the daemon puts in place of a Secret's value (`[REDACTED]`; base64 of it in `data`), and the content detectors' `[LABEL]` marks. */
const MARK = /^\[[A-Z0-9_-]{1,40}\]$/;

function markOf(value: string, base64: boolean): string | undefined {
  if (!base64) return MARK.test(value) ? value : undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length > 80) return undefined;
  try {
    const decoded = atob(value);
    return MARK.test(decoded) ? decoded : undefined;
  } catch {
    return undefined;
  }
}

export interface MaskedSecretEntry {
  map: 'data' | 'stringData';
  key: string;
  /** the marker the agent got in place of the value, decoded from base64 for `data` */
  shown: string;
  /** false would mean a value reached the agent unmasked: shown as such, never hidden */
  masked: boolean;
}

export interface MaskedSecretView {
  name: string;
  namespace: string;
  type?: string;
  entries: MaskedSecretEntry[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function secretView(value: Record<string, unknown>, maxKeys: number): MaskedSecretView {
  const meta = isRecord(value['metadata']) ? value['metadata'] : {};
  const entries: MaskedSecretEntry[] = [];
  for (const map of ['data', 'stringData'] as const) {
    const values = value[map];
    if (!isRecord(values)) continue;
    for (const [key, v] of Object.entries(values)) {
      if (entries.length >= maxKeys) break;
      const text = typeof v === 'string' ? v : JSON.stringify(v) ?? '';
      const mark = typeof v === 'string' ? markOf(v, map === 'data') : undefined;
      entries.push({ map, key: oneLineText(key), shown: mark ?? oneLineText(text.length > 80 ? `${text.slice(0, 79)}…` : text), masked: mark !== undefined });
    }
  }
  const type = value['type'];
  return {
    name: oneLineText(typeof meta['name'] === 'string' ? meta['name'] : '(no name)'),
    namespace: oneLineText(typeof meta['namespace'] === 'string' ? meta['namespace'] : ''),
    ...(typeof type === 'string' ? { type: oneLineText(type) } : {}),
    entries,
  };
}

/** The Secrets in a parsed response: an object, a SecretList (items carry no kind), a List, a watch event's object. */
function collectSecrets(value: unknown, out: MaskedSecretView[], max: number, maxKeys: number, listOfSecrets = false): void {
  if (!isRecord(value) || out.length >= max) return;
  const kind = value['kind'];
  if (kind === 'Secret' || (listOfSecrets && kind === undefined)) {
    out.push(secretView(value, maxKeys));
    return;
  }
  if (Array.isArray(value['items'])) for (const item of value['items']) collectSecrets(item, out, max, maxKeys, kind === 'SecretList');
  else if (typeof value['type'] === 'string' && isRecord(value['object'])) collectSecrets(value['object'], out, max, maxKeys);
}

/**
 * The Secrets a recorded response body holds, key by key with the marker the agent got instead of
 * each value: the masked-data view shows which keys exist and that no value reached the agent. A
 * body cut to its head is not parsed (its YAML/text view shows what was kept).
 */
export function maskedSecretsOf(body: HttpBodyExcerpt | undefined, max = 20, maxKeys = 100): MaskedSecretView[] {
  if (body?.text === undefined || body.cut !== undefined) return [];
  const out: MaskedSecretView[] = [];
  let whole: unknown;
  try {
    whole = JSON.parse(body.text);
  } catch {
    // a watch stream: one JSON event per line
    for (const line of body.text.split('\n')) {
      if (line.trim() === '' || out.length >= max) continue;
      try {
        collectSecrets(JSON.parse(line), out, max, maxKeys);
      } catch {
        return out;
      }
    }
    return out;
  }
  collectSecrets(whole, out, max, maxKeys);
  return out;
}

/** "200 SecretList, 3 items", "403 Forbidden: …", "no response". */
export function k8sResponseLine(r: { status?: number | undefined; kind?: string | undefined; itemCount?: number | undefined; eventCount?: number | undefined; reason?: string | undefined; message?: string | undefined }): string {
  const parts: string[] = [r.status === undefined ? 'no response' : String(r.status)];
  if (r.kind) parts.push(oneLineText(r.kind));
  let line = parts.join(' ');
  if (r.itemCount !== undefined) line += `, ${r.itemCount} ${r.itemCount === 1 ? 'item' : 'items'}`;
  if (r.eventCount !== undefined) line += `, ${r.eventCount} watch ${r.eventCount === 1 ? 'event' : 'events'}`;
  if (r.reason) line += ` · ${oneLineText(r.reason)}`;
  if (r.message) line += `: ${oneLineText(r.message)}`;
  return line;
}
