import { isCredentialName } from '../../http/body/index.js';
import type { JsonKeyAction, JsonReplacement, JsonStructureHook } from '../../http/body/index.js';
import {
  ENV_REPLACEMENT,
  LAST_APPLIED_ANNOTATION,
  LAST_APPLIED_REPLACEMENT,
  NOT_SECRET,
  SECRET,
  SECRET_DATA_REPLACEMENT,
  SECRET_STRING_REPLACEMENT,
  TOKEN_REPLACEMENT,
  UNKNOWN,
  isBase64Value,
  isSecretKind,
  isSecretMapKey,
  isSecretType,
  itemRoleOfListKind,
  type Role,
} from './rules.js';

/** What the structure needs to know of the request the response answers. */
export interface K8sStructureSettings {
  /** the role of every top-level value: Secret for a request about secrets, NotSecret for discovery and other non-resource URLs */
  topRole: Role;
  /** the role an embedded object starts with (a watch event's or a Table row's `object`): Secret for a secrets request, else Unknown */
  embeddedRole: Role;
  /** each top-level value is a watch event (`{"type":…,"object":…}`) */
  watch: boolean;
  /** a TokenRequest answer (serviceaccounts/token): every `token` value is replaced */
  tokenRequest: boolean;
  /** top-level keys are fields of a built-in schema (a built-in group's resource, discovery, OpenAPI), not data */
  topSchema: boolean;
  /**
   * The last-applied annotation's JSON, masked as an object of the given role would be; undefined
   * when nothing in it changed. Given by the response masker (it runs a masker of its own on it).
   */
  maskLastApplied(text: string, role: Role): string | undefined;
}

/** How the members of a Secret map are masked. */
type MapMode =
  /** a Secret's: every value replaced */
  | { replace: JsonReplacement }
  /** an object whose kind is not known yet: base64 values (what a Secret's data is on the wire) replaced; all of stringData */
  | { base64: JsonReplacement };

interface Frame {
  isArray: boolean;
  role: Role;
  /** the last key read (objects) */
  key: string | undefined;
  /** objects: a `kind` was read */
  kindSeen: boolean;
  /** objects: the role of `items` elements, from an `XList` kind */
  itemRole: Role | undefined;
  /** objects: a top-level watch event (its `type` is the event's, its `object` the resource) */
  event: boolean;
  /** objects: the Secret map being read */
  map: MapMode | undefined;
  /** objects: the map mode decided for the value of the key just read, taken by open() */
  pendingMap: MapMode | undefined;
  /** arrays: the role of elements, when it is not the array's own */
  elementRole: Role | undefined;
  /** arrays: elements are container env entries; objects: this is one */
  env: boolean;
  /** objects (env entries): the entry's name names a credential */
  envCredential: boolean;
  /** the keys here are field names of a built-in schema: the built-in credential names do not apply to them */
  schema: boolean;
}

function newFrame(): Frame {
  return {
    isArray: false,
    role: UNKNOWN,
    key: undefined,
    kindSeen: false,
    itemRole: undefined,
    event: false,
    map: undefined,
    pendingMap: undefined,
    elementRole: undefined,
    env: false,
    envCredential: false,
    schema: true,
  };
}

const OBSERVE: JsonKeyAction = { observe: true };
const FIELD: JsonKeyAction = { field: true };
/** Keys whose values say what an object is (lower-cased: Go's decoders match field names without case). */
const OBSERVED_KEYS = new Set(['kind', 'type', 'apiversion']);

/** Maps whose keys are anyone's words, not a schema's: the key rules apply to their values. */
const USER_MAPS = new Set(['data', 'binaryData', 'stringData', 'annotations', 'labels']);

/** A group of Kubernetes' own (its types are fixed): the core group, `apps`, `batch`, `*.k8s.io`. */
export function isBuiltInGroup(group: string): boolean {
  return !group.includes('.') || group.endsWith('.k8s.io') || group === 'k8s.io';
}

/**
 * The Kubernetes response masker's view of the JSON structure (a JsonStructureHook): which
 * objects are Secrets, decided by the content AND the request, whichever says Secret:
 *
 * - an object whose `kind` is Secret (at any depth, any group), or whose `type` is a Secret type
 *   (Opaque, kubernetes.io/…) read before its data; every object of a response to a secrets
 *   request; the items of a SecretList (items carry no kind on the wire); a watch event's or Table
 *   row's `object` (and `oldObject`) starts over from the request's word and its own kind.
 * - a Secret's `data` and `stringData` keep their keys; every value is replaced by a fixed marker
 *   (`data`: `[REDACTED]` in base64, so typed clients still decode it; `stringData`: `[REDACTED]`).
 * - an object whose kind is not known yet when its `data` arrives (JSON may put `data` before
 *   `kind`: the API server sorts the keys of custom resources and kubectl those of the
 *   last-applied annotation) is not trusted: its base64 `data` values and all its `stringData`
 *   values are replaced, unless its apiVersion (sorted first) names a group other than the core
 *   one, which has no Secrets. The API server writes `kind` first for built-in objects, so a ConfigMap
 *   is not touched; list items inherit their list's kind; nested objects inherit their parent's
 *   role (a CRD's schema has `data` properties, and is no Secret), except list
 *   items and embedded objects, which start over.
 * - the last-applied annotation (a JSON string) on any object: masked the same way as a document
 *   of its own, or replaced whole when it cannot be read or is longer than bufferBytes.
 * - Key names: in built-in objects they are schema fields, so the built-in credential names (which
 *   would replace a Pod's `automountServiceAccountToken` or `secret` volume and break typed
 *   clients) do not apply there; they do in user maps (data, annotations, labels) and custom
 *   resources; the policy's own rules apply everywhere.
 * - TokenRequest answers: `token` replaced. Container env entries: the `value` of an entry whose
 *   `name` names a credential (`DB_PASSWORD`) replaced.
 * Everything else goes through the content detectors and key rules, as in any JSON body.
 */
export class K8sStructure implements JsonStructureHook {
  /** The open containers' frames are stack[0, depth); those above are kept for reuse (a list of 1,000 pods opens 10,000 containers). */
  private readonly stack: Frame[] = [];
  private depth = 0;

  constructor(private readonly settings: K8sStructureSettings) {}

  open(isArray: boolean): void {
    const parent = this.depth > 0 ? this.stack[this.depth - 1] : undefined;
    let frame = this.stack[this.depth];
    if (frame === undefined) {
      frame = newFrame();
      this.stack.push(frame);
    }
    this.depth++;
    frame.isArray = isArray;
    frame.role = UNKNOWN;
    frame.key = undefined;
    frame.kindSeen = false;
    frame.itemRole = undefined;
    frame.event = false;
    frame.map = undefined;
    frame.pendingMap = undefined;
    frame.elementRole = undefined;
    frame.env = false;
    frame.envCredential = false;
    frame.schema = true;
    if (parent === undefined) {
      frame.role = this.settings.topRole;
      frame.schema = this.settings.topSchema;
      frame.event = this.settings.watch && !isArray;
    } else if (parent.isArray) {
      frame.role = parent.elementRole ?? parent.role;
      frame.env = parent.env && !isArray;
      frame.schema = parent.schema;
    } else {
      const key = parent.key;
      frame.role = parent.role;
      frame.schema = parent.schema && !(key !== undefined && USER_MAPS.has(key));
      if (parent.pendingMap !== undefined) {
        if (!isArray) frame.map = parent.pendingMap;
        parent.pendingMap = undefined;
      } else if (parent.event ? key === 'object' : key === 'object' || key === 'oldObject') {
        // an embedded object (watch event, Table row, admission review): its own kind decides again
        frame.role = parent.role === SECRET ? SECRET : this.settings.embeddedRole;
      } else if (isArray && key === 'items') {
        frame.elementRole = this.itemRole(parent);
      } else if (isArray && key === 'env') {
        frame.env = true;
      }
    }
  }

  close(): void {
    if (this.depth > 0) this.depth--;
  }

  key(name: string): JsonKeyAction | undefined {
    const frame = this.depth > 0 ? this.stack[this.depth - 1] : undefined;
    if (frame === undefined || frame.isArray) return undefined;
    frame.key = name;
    frame.pendingMap = undefined;
    const map = frame.map;
    if (map !== undefined) {
      if ('replace' in map) return { replace: map.replace };
      return { rewrite: (text) => (isBase64Value(text) ? map.base64.text : undefined), tooLong: map.base64 };
    }
    // the keys matched without case all have 4 or 10 letters: other names are not lower-cased (one string less per key)
    const lower = name.length === 4 || name.length === 10 ? name.toLowerCase() : '';
    if (isSecretMapKey(lower) && frame.role !== NOT_SECRET) {
      const replacement = lower === 'data' ? SECRET_DATA_REPLACEMENT : SECRET_STRING_REPLACEMENT;
      // stringData is a Secret's alone: all of it goes whatever its values look like
      frame.pendingMap = frame.role === SECRET || replacement === SECRET_STRING_REPLACEMENT ? { replace: replacement } : { base64: replacement };
      return { members: replacement };
    }
    if (frame.event) return FIELD;
    if (OBSERVED_KEYS.has(lower)) return OBSERVE;
    if (name === LAST_APPLIED_ANNOTATION) {
      const role = frame.role;
      return { rewrite: (text) => this.settings.maskLastApplied(text, role), tooLong: LAST_APPLIED_REPLACEMENT };
    }
    if (frame.env) {
      if (name === 'name') return OBSERVE;
      if (name === 'value' && frame.envCredential) return { replace: ENV_REPLACEMENT };
    }
    if (this.settings.tokenRequest && name === 'token') return { replace: TOKEN_REPLACEMENT };
    return frame.schema ? FIELD : undefined;
  }

  value(text: string): void {
    const frame = this.depth > 0 ? this.stack[this.depth - 1] : undefined;
    if (frame === undefined || frame.isArray) return;
    switch (frame.key?.toLowerCase()) {
      case 'kind':
        this.sawKind(frame, text);
        break;
      case 'type':
        if (isSecretType(text)) frame.role = SECRET;
        break;
      case 'apiversion': {
        // a custom resource's fields are its author's words: the key rules apply in it
        const slash = text.indexOf('/');
        const group = slash < 0 ? '' : text.slice(0, slash);
        frame.schema = isBuiltInGroup(group);
        // Secrets are the core group's alone: an object of another group whose kind comes after
        // its data (the API server sorts custom resources' keys; apiVersion sorts first) is not one
        if (group !== '' && frame.role === UNKNOWN) frame.role = NOT_SECRET;
        break;
      }
      case 'name':
        if (frame.env) frame.envCredential = isCredentialName(text);
        break;
    }
  }

  private sawKind(frame: Frame, kind: string): void {
    const first = !frame.kindSeen;
    frame.kindSeen = true;
    if (isSecretKind(kind)) {
      frame.role = SECRET;
      return;
    }
    const itemRole = itemRoleOfListKind(kind);
    if (itemRole !== undefined) frame.itemRole = frame.itemRole === SECRET ? SECRET : itemRole;
    // a kind that is not Secret settles an undecided object; a second kind never undoes a first
    if (first && frame.role === UNKNOWN) frame.role = NOT_SECRET;
  }

  /**
   * The role of the elements of `items` in this object: an `XList`'s says what they are; else
   * (`List`, whose items name their own kinds, a list whose kind comes after its items, items of
   * anything else) they start over as embedded objects.
   */
  private itemRole(frame: Frame): Role {
    if (frame.role === SECRET) return SECRET;
    return frame.itemRole ?? this.settings.embeddedRole;
  }
}
