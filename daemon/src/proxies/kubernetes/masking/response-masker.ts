import { JsonMasker, createBodyMasker } from '../../http/body/index.js';
import type { BodyMasker, BodyMaskerOptions, BodyPlan, BodyStage, JsonMaskerOptions } from '../../http/body/index.js';
import { K8sStructure, isBuiltInGroup, type K8sStructureSettings } from './structure.js';
import { LAST_APPLIED_REPLACEMENT, NOT_SECRET, SECRET, UNKNOWN, isSecretKind, isSecretType, itemRoleOfListKind, type Role } from './rules.js';

/** What the response masker needs of the request (a K8sRequestInfo has all of it). */
export interface K8sResponseRequest {
  resource: string;
  subresource: string;
  verb: string;
  apiGroup: string;
  /** a watch stream (defaults to verb === 'watch') */
  watch?: boolean;
  /** exec, attach, portforward, proxy: the answer is a workload's, not the API server's */
  connect?: string;
  /** false for discovery, /openapi, /version and other non-resource URLs (defaults to resource !== '') */
  isResourceRequest?: boolean;
}

/** Media types the API server can answer in that Airlock cannot mask by structure (the adapter asks for JSON). */
const UNMASKABLE = /^application\/(?:vnd\.kubernetes\.protobuf|(?:[a-z.+-]*\+)?ya?ml|x-yaml|cbor|[a-z.+-]*\+cbor)$/;
/** Kubernetes' own binary encodings: withheld from a proxied answer too (it may be the API server's own, reached through a service). */
const KUBERNETES_BINARY = /^application\/(?:vnd\.kubernetes\.protobuf|cbor|[a-z.+-]*\+cbor)$/;

/** Whether the request is about Secrets (the core resource, or any group's `secrets`). */
export function isSecretsRequest(request: K8sResponseRequest): boolean {
  return request.resource === 'secrets';
}

function isResourceRequest(request: K8sResponseRequest): boolean {
  return request.isResourceRequest ?? request.resource !== '';
}

function isApiServerAnswer(request: K8sResponseRequest): boolean {
  return request.connect === undefined && isResourceRequest(request) && request.subresource !== 'log';
}

/**
 * The body plan for a Kubernetes answer: planBody's, and withheld where Airlock could not find a
 * Secret in it. An API-server answer about resources (not logs, not a stream into a workload) in
 * protobuf, YAML or CBOR (the adapter rewrites Accept to JSON; an answer in another form anyway is
 * not masked as text, which would let a Secret's values through); any answer to a secrets request
 * that is not JSON.
 */
export function planK8sResponse(request: K8sResponseRequest, plan: BodyPlan): BodyPlan {
  if (plan.withhold !== undefined || plan.treatment === 'json' || plan.treatment === 'ndjson') return plan;
  const media = plan.mediaType;
  if (request.connect === 'proxy' && media !== undefined && KUBERNETES_BINARY.test(media)) {
    return { ...plan, withhold: `The proxied answer is in ${media}, Kubernetes' binary encoding, which Airlock cannot mask, so the body was withheld.` };
  }
  if (!isApiServerAnswer(request)) return plan;
  if ((media !== undefined && UNMASKABLE.test(media)) || isSecretsRequest(request)) {
    const form = media ?? 'a body with no Content-Type';
    return { ...plan, withhold: `The Kubernetes API answered in ${form}, which Airlock cannot mask by structure (it asks for JSON), so the body was withheld.` };
  }
  return plan;
}

/**
 * The masker of one Kubernetes API answer, the same BodyMasker as any HTTP body (so the HTTP core
 * relays it unchanged): the credential redactor, the excerpt and the report as createBodyMasker
 * makes them, and for JSON the path-aware masker of K8sStructure in place of the plain JsonMasker
 * (one tokenizer: the JSON masker with a structure hook). Streaming, bounded memory: a list of
 * 10,000 Secrets or one huge value goes through without being held (a string value past
 * bufferBytes is masked as a stream, or replaced when it is one to rewrite); a watch stream's
 * events go out as each completes. JSON that stops being JSON has its rest withheld, not masked
 * as text. Logs (`pods/log`, follow included) go through the text masker line by line; a proxied
 * answer (pods/proxy, services/proxy) is a workload's: its JSON gets the same structure rules
 * (a Secret found by its content: a service may front the API server itself) with the key rules on
 * every key; exec, attach and portforward streams are masked as any HTTP body by their type.
 *
 * Request bodies have the same structure: the excerpt of a create, update, patch or apply kept for
 * the record (and shown for approval) is masked with this too, so a Secret being written is not
 * recorded with its values; an apply patch in YAML is withheld from the excerpt.
 */
export function createK8sResponseMasker(request: K8sResponseRequest, plan: BodyPlan, options: BodyMaskerOptions): BodyMasker {
  const k8sPlan = planK8sResponse(request, plan);
  if (request.connect === 'proxy') {
    // a service's or pod's answer: its JSON may be anything, the API server's own included (a
    // service in front of it): Secrets found by what they say (kind Secret, SecretList items, a
    // Secret type), not by a `data` key that half the JSON APIs have; key rules on every key
    const proxied = { topRole: NOT_SECRET as Role, embeddedRole: NOT_SECRET as Role, tokenRequest: false, topSchema: false };
    return createBodyMasker(k8sPlan, options, (jsonOptions, treatment): BodyStage => k8sJsonMasker(jsonOptions, { ...proxied, watch: false }, treatment === 'ndjson'));
  }
  if (request.connect !== undefined) return createBodyMasker(k8sPlan, options);
  const secrets = isSecretsRequest(request);
  const base = {
    topRole: (secrets ? SECRET : isResourceRequest(request) ? UNKNOWN : NOT_SECRET) as Role,
    embeddedRole: (secrets ? SECRET : UNKNOWN) as Role,
    tokenRequest: request.resource === 'serviceaccounts' && request.subresource === 'token',
    topSchema: !isResourceRequest(request) || isBuiltInGroup(request.apiGroup),
  };
  const watch = request.watch ?? request.verb === 'watch';
  return createBodyMasker(k8sPlan, options, (jsonOptions, treatment): BodyStage => k8sJsonMasker(jsonOptions, { ...base, watch }, treatment === 'ndjson' || watch));
}

type BaseSettings = Omit<K8sStructureSettings, 'maskLastApplied'>;

function k8sJsonMasker(options: JsonMaskerOptions, settings: BaseSettings, multiValue: boolean): JsonMasker {
  const structure = new K8sStructure({ ...settings, maskLastApplied: (text, role) => maskLastApplied(text, role, options, settings) });
  return new JsonMasker({ ...options, multiValue, onMalformed: 'withhold', hook: structure });
}

/**
 * The last-applied annotation's JSON masked as a document of its own, its role seeded from the
 * object it sits on and from what it says of itself (kubectl writes its keys sorted, so `data`
 * comes before `kind`: the whole text is at hand, so its kind and type are read first). Undefined
 * when nothing changed; the marker when it is not JSON (the annotation is replaced whole).
 */
function maskLastApplied(text: string, role: Role, options: JsonMaskerOptions, settings: BaseSettings): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    options.report.add(LAST_APPLIED_REPLACEMENT.label, 1);
    return LAST_APPLIED_REPLACEMENT.text;
  }
  const seed = role === SECRET ? SECRET : roleOfDocument(parsed);
  const bytes = Buffer.from(text, 'utf8');
  const inner = k8sJsonMasker({ ...options, bufferBytes: Math.max(options.bufferBytes, bytes.length) }, { ...settings, topRole: seed, watch: false }, false);
  const out = Buffer.concat([inner.push(bytes), inner.end()]);
  if (inner.withheldRest) {
    options.report.add(LAST_APPLIED_REPLACEMENT.label, 1);
    return LAST_APPLIED_REPLACEMENT.text;
  }
  const masked = out.toString('utf8');
  return masked === text ? undefined : masked;
}

/** What a parsed document says of itself: Secret by its kind or type, NotSecret by another (non-list) kind, else Unknown. */
function roleOfDocument(doc: unknown): Role {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return UNKNOWN;
  const { kind, type } = doc as { kind?: unknown; type?: unknown };
  if ((typeof kind === 'string' && isSecretKind(kind)) || (typeof type === 'string' && isSecretType(type))) return SECRET;
  if (typeof kind === 'string' && kind !== '' && kind !== 'List' && itemRoleOfListKind(kind) === undefined) return NOT_SECRET;
  return UNKNOWN;
}
