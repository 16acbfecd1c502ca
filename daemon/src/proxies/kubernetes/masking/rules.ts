import type { JsonReplacement } from '../../http/body/index.js';

/**
 * What the Kubernetes masker knows of an object while it streams by: whether its `data` and
 * `stringData` are a Secret's. Secret beats Unknown beats NotSecret: a Secret is never downgraded
 * (a second `kind` key does not undo the first), and what is not known yet is treated nearly as a
 * Secret (see K8sStructure).
 */
export type Role = typeof NOT_SECRET | typeof UNKNOWN | typeof SECRET;
export const NOT_SECRET = 0;
export const UNKNOWN = 1;
export const SECRET = 2;

/** What every value in a Secret's `stringData` (and other replaced values) becomes. */
export const REDACTED = '[REDACTED]';

/**
 * What every value in a Secret's `data` becomes: `[REDACTED]` in base64, because `data` values
 * are base64 on the wire and typed clients (client-go, `kubectl describe secret`) decode them; a
 * fixed text, so a diff of two reads stays quiet, and no digest of the value (a digest of a short
 * password gives the password back to whoever tries candidates).
 */
export const REDACTED_BASE64 = Buffer.from(REDACTED, 'utf8').toString('base64');

/** Report labels. */
export const SECRET_LABEL = 'k8s-secret';
export const TOKEN_LABEL = 'k8s-token';
export const LAST_APPLIED_LABEL = 'k8s-last-applied';
export const ENV_LABEL = 'k8s-env-credential';

export const SECRET_DATA_REPLACEMENT: JsonReplacement = { text: REDACTED_BASE64, label: SECRET_LABEL };
export const SECRET_STRING_REPLACEMENT: JsonReplacement = { text: REDACTED, label: SECRET_LABEL };
export const TOKEN_REPLACEMENT: JsonReplacement = { text: REDACTED, label: TOKEN_LABEL };
export const LAST_APPLIED_REPLACEMENT: JsonReplacement = { text: REDACTED, label: LAST_APPLIED_LABEL };
export const ENV_REPLACEMENT: JsonReplacement = { text: REDACTED, label: ENV_LABEL };

/** The annotation `kubectl apply` keeps the whole applied object in, as a JSON string. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * A Secret's maps of values, case aside (Go's encoding/json matches field names without case: a
 * client may read `Data` as `data`).
 */
export function isSecretMapKey(key: string): boolean {
  const lower = key.toLowerCase();
  return lower === 'data' || lower === 'stringdata';
}

/** `kind: Secret` (case aside: a decoder that folds case must not see a Secret Airlock did not). */
export function isSecretKind(kind: string): boolean {
  return kind.toLowerCase() === 'secret';
}

/**
 * The `type` values of Secrets: Opaque, the kubernetes.io/ types (service-account-token, tls,
 * dockerconfigjson, basic-auth, ssh-auth ...), bootstrap tokens, Helm's release records.
 */
export function isSecretType(type: string): boolean {
  return type === 'Opaque' || type.startsWith('kubernetes.io/') || type === 'bootstrap.kubernetes.io/token' || /^helm\.sh\/release\.v\d+$/.test(type);
}

/**
 * The role of the items of a list whose kind is `kind`: `SecretList` → Secret, another `XList` →
 * NotSecret (its items carry no kind on the wire), `List` (mixed kinds, each item names its own)
 * → undefined: the items decide. Undefined too when `kind` does not name a list.
 */
export function itemRoleOfListKind(kind: string): Role | undefined {
  if (kind.length <= 4 || !kind.endsWith('List')) return undefined;
  return isSecretKind(kind.slice(0, -4)) ? SECRET : NOT_SECRET;
}

/** Standard base64 with its padding: what every value of a Secret's `data` is on the wire. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isBase64Value(text: string): boolean {
  return text.length > 0 && BASE64.test(text);
}
