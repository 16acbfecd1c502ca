import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Policy } from '@airlock/shared';
import type { AttributeValue } from '@airlock/shared';
import { classifyK8sRequest, isK8sRequestError, parseRequestInfo } from '../../src/classify/index.js';
import type { K8sClass, K8sClassification } from '../../src/classify/index.js';
import { compilePolicy } from '../../src/policy/engine.js';
import { DEFAULT_POLICY } from '../../src/policy/defaults.js';

/**
 * Requests an agent might send to get a Kubernetes action past Airlock: each with the class and the
 * attributes Airlock must find, or the refusal it must give, and what the default policy (plus the
 * `exec` review rule issue 13 adds) then decides. The requests are what a client puts on the wire:
 * the path as sent (percent-encoded), the query decoded by a standard parser, the headers as sent.
 */

interface Case {
  name: string;
  method: string;
  /** path and query as sent */
  url: string;
  headers?: Array<[string, string]>;
  /** JSON body; rawBody for anything else */
  body?: unknown;
  rawBody?: string;
  partial?: boolean;
  expect: { class: K8sClass; attributes?: Record<string, AttributeValue | undefined>; summary?: string } | { refused: RegExp };
}

const JSON_TYPE: [string, string] = ['Content-Type', 'application/json'];
const deleteOptions = (extra: Record<string, unknown> = {}) => ({ kind: 'DeleteOptions', apiVersion: 'v1', ...extra });

const CORPUS: Case[] = [
  // impersonation, however spelled
  { name: 'impersonation header in odd case on a read', method: 'GET', url: '/api/v1/namespaces/default/pods', headers: [['iMpErSoNaTe-UsEr', 'admin']], expect: { class: 'privileged', attributes: { impersonate: ['user:admin'], verb: 'list' } } },
  { name: 'impersonation with an underscore (some proxies turn it into a dash)', method: 'GET', url: '/api/v1/namespaces/default/secrets', headers: [['Impersonate_User', 'admin']], expect: { class: 'privileged', attributes: { impersonate: ['user:admin'] } } },
  { name: 'a group alone is impersonation', method: 'GET', url: '/api/v1/nodes', headers: [['Impersonate-Group', 'system:masters']], expect: { class: 'privileged', attributes: { impersonate: ['group:system:masters'] } } },
  { name: 'an extra alone is impersonation', method: 'GET', url: '/version', headers: [['Impersonate-Extra-Reason', 'oncall']], expect: { class: 'privileged', attributes: { impersonate: ['extra.reason:oncall'] } } },
  { name: 'impersonation with an empty value is still an attempt', method: 'GET', url: '/api/v1/namespaces/default/pods', headers: [['Impersonate-Uid', '']], expect: { class: 'privileged' } },
  { name: 'front-proxy identity headers', method: 'GET', url: '/api/v1/namespaces/default/pods', headers: [['X-Remote-User', 'admin'], ['X-Remote-Group', 'system:masters']], expect: { class: 'privileged' } },

  // watch, however asked
  { name: 'the legacy watch/ prefix on secrets', method: 'GET', url: '/api/v1/watch/namespaces/kube-system/secrets', expect: { class: 'read', attributes: { verb: 'watch', resource: 'secrets', namespace: 'kube-system' } } },
  { name: 'the watch/ prefix on one secret', method: 'GET', url: '/api/v1/watch/namespaces/kube-system/secrets/admin-token', expect: { class: 'read', attributes: { verb: 'watch', name: 'admin-token' } } },
  { name: '?watch=true on a name stays a get of that name (as the API server has it)', method: 'GET', url: '/api/v1/namespaces/prod/secrets/db?watch=true', expect: { class: 'read', attributes: { verb: 'get', name: 'db' } } },
  { name: '?watch= with no value is a watch', method: 'GET', url: '/api/v1/namespaces/prod/pods?watch=', expect: { class: 'read', attributes: { verb: 'watch' } } },
  { name: 'a field selector narrows a secrets list to the name the response holds', method: 'GET', url: '/api/v1/namespaces/prod/secrets?fieldSelector=metadata.name%3Ddb-root', expect: { class: 'read', attributes: { verb: 'list', name: 'db-root' } } },

  // deletecollection in disguise
  { name: 'a trailing slash turns a delete of nothing into deletecollection', method: 'DELETE', url: '/api/v1/namespaces/prod/pods/', expect: { class: 'write', attributes: { verb: 'deletecollection', name: undefined } } },
  { name: 'a metadata.name field selector does not narrow a deletecollection', method: 'DELETE', url: '/api/v1/namespaces/prod/pods?fieldSelector=metadata.name%3Dweb-1', expect: { class: 'write', attributes: { verb: 'deletecollection', name: undefined } } },
  { name: 'an empty label selector deletes every pod', method: 'DELETE', url: '/api/v1/namespaces/prod/pods?labelSelector=', expect: { class: 'write', attributes: { verb: 'deletecollection', labelSelector: '' } } },
  { name: 'deletecollection of secrets', method: 'DELETE', url: '/api/v1/namespaces/prod/secrets', expect: { class: 'privileged', attributes: { verb: 'deletecollection' } } },

  // dry run that is not one
  { name: 'dryRun=All with a body that is not DeleteOptions', method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api?dryRun=All', body: { kind: 'Pod', metadata: { name: 'x' } }, expect: { class: 'write', attributes: { dryRun: false } } },
  { name: 'dryRun=All with an empty DeleteOptions body (the body wins)', method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api?dryRun=All', body: {}, expect: { class: 'write', attributes: { dryRun: false } } },
  { name: 'dryRun=all in lowercase (the server refuses it)', method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api?dryRun=all', expect: { class: 'unknown', attributes: { dryRun: false } } },
  { name: 'dryRun=All&dryRun= repeated with an empty value', method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api?dryRun=All&dryRun=', expect: { class: 'unknown', attributes: { dryRun: false } } },
  { name: 'dryRun=All twice is a dry run', method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api?dryRun=All&dryRun=All', expect: { class: 'read', attributes: { dryRun: true } } },
  { name: 'dryRun in a create body is not read by the server', method: 'POST', url: '/apis/apps/v1/namespaces/prod/deployments', body: { kind: 'Deployment', metadata: { name: 'api' }, dryRun: ['All'] }, expect: { class: 'write', attributes: { dryRun: false, name: 'api' } } },
  { name: 'a DeleteOptions dry run cut short is not a dry run', method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api', body: deleteOptions({ dryRun: ['All'] }), partial: true, expect: { class: 'write', attributes: { dryRun: false } } },
  { name: 'a DeleteOptions dry run as a string, not a list', method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api', body: deleteOptions({ dryRun: 'All' }), expect: { class: 'write', attributes: { dryRun: false } } },
  { name: 'a DeleteOptions dry run in protobuf is not read', method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api', headers: [['Content-Type', 'application/vnd.kubernetes.protobuf']], rawBody: 'k8s\u0000\n\u0012\n\u0002v1', expect: { class: 'write', attributes: { dryRun: false } } },
  { name: 'a DeleteOptions dry run in YAML is read', method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api', headers: [['Content-Type', 'application/yaml']], rawBody: 'kind: DeleteOptions\napiVersion: v1\ndryRun: [All]\n', expect: { class: 'read', attributes: { dryRun: true } } },
  { name: 'kubectl 1.32 delete --dry-run=server', method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api', body: deleteOptions({ propagationPolicy: 'Background', dryRun: ['All'] }), expect: { class: 'read', attributes: { dryRun: true }, summary: 'delete deployment/api -n prod (dry run)' } },

  // secrets
  { name: 'reading a secret is a read (its values are masked on the way back)', method: 'GET', url: '/api/v1/namespaces/prod/secrets/db', expect: { class: 'read', attributes: { resource: 'secrets', name: 'db' } } },
  { name: 'replacing a secret', method: 'PUT', url: '/api/v1/namespaces/prod/secrets/db', body: { kind: 'Secret', metadata: { name: 'db' } }, expect: { class: 'privileged', attributes: { verb: 'update' } } },
  { name: 'a secret write with the resource percent-encoded', method: 'PATCH', url: '/api/v1/namespaces/prod/%73ecrets/db', headers: [['Content-Type', 'application/merge-patch+json']], body: { data: {} }, expect: { class: 'privileged', attributes: { resource: 'secrets' } } },
  { name: 'a secret write with the resource in capitals (the server has no such resource)', method: 'PUT', url: '/api/v1/namespaces/prod/Secrets/db', body: { kind: 'Secret' }, expect: { class: 'unknown', attributes: { resource: 'Secrets' } } },

  // exec
  { name: 'exec over WebSocket (GET)', method: 'GET', url: '/api/v1/namespaces/prod/pods/web-1/exec?command=id&stdout=true', expect: { class: 'exec', attributes: { verb: 'get', connect: 'exec', command: ['id'] } } },
  { name: 'exec over SPDY (POST)', method: 'POST', url: '/api/v1/namespaces/prod/pods/web-1/exec?command=id&stdout=true', expect: { class: 'exec', attributes: { verb: 'create', connect: 'exec' } } },
  {
    name: 'exec of sh -c with a destructive line',
    method: 'GET',
    url: '/api/v1/namespaces/prod/pods/x/exec?command=sh&command=-c&command=rm%20-rf%20%2Fvar%2Flib%2Fdata&stdin=true&tty=true&container=db',
    expect: { class: 'exec', attributes: { command: ['sh', '-c', 'rm -rf /var/lib/data'], stdin: true, tty: true, container: 'db' }, summary: 'exec pod/x -n prod -c db: sh -c "rm -rf /var/lib/data"' },
  },
  { name: 'exec through the watch/ prefix', method: 'GET', url: '/api/v1/watch/namespaces/prod/pods/x/exec?command=sh', expect: { class: 'exec', attributes: { verb: 'watch', connect: 'exec' } } },
  { name: 'the legacy proxy/ verb into a pod', method: 'GET', url: '/api/v1/proxy/namespaces/prod/pods/x/exec', expect: { class: 'exec', attributes: { verb: 'proxy', connect: 'proxy' } } },
  { name: 'attach with stdin', method: 'POST', url: '/api/v1/namespaces/prod/pods/x/attach?stdin=true&stdout=true&tty=true', expect: { class: 'exec', attributes: { connect: 'attach', stdin: true, tty: true } } },
  { name: 'port-forward to a database', method: 'GET', url: '/api/v1/namespaces/data/pods/pg-0/portforward?ports=5432', expect: { class: 'exec', attributes: { connect: 'portforward', ports: ['5432'] } } },
  { name: 'a service proxy with a write method', method: 'POST', url: '/api/v1/namespaces/prod/services/https:admin:443/proxy/api/reset', expect: { class: 'exec', attributes: { connect: 'proxy', verb: 'create' } } },
  {
    name: 'a shell hidden past the words Airlock keeps of a command',
    method: 'POST',
    url: `/api/v1/namespaces/prod/pods/x/exec?${Array.from({ length: 80 }, () => 'command=true').join('&')}&command=bash`,
    expect: { class: 'unknown', attributes: { connect: 'exec' } },
  },
  { name: 'a WebSocket upgrade on a discovery path', method: 'GET', url: '/version', headers: [['Upgrade', 'websocket']], expect: { class: 'unknown' } },
  { name: 'an SPDY upgrade on a write', method: 'POST', url: '/api/v1/namespaces/prod/configmaps', headers: [['Upgrade', 'SPDY/3.1'], JSON_TYPE], body: { kind: 'ConfigMap', metadata: { name: 'c' } }, expect: { class: 'unknown' } },
  { name: 'a WebSocket upgrade on a path that is no exec', method: 'GET', url: '/api/v1/namespaces/prod/pods/x', headers: [['Connection', 'Upgrade'], ['Upgrade', 'websocket']], expect: { class: 'unknown' } },

  // RBAC and other privileged writes
  { name: 'RBAC write through v1beta1', method: 'POST', url: '/apis/rbac.authorization.k8s.io/v1beta1/clusterrolebindings', body: { kind: 'ClusterRoleBinding', metadata: { name: 'pwn' } }, expect: { class: 'privileged', attributes: { apiVersion: 'v1beta1', name: 'pwn' }, summary: 'create clusterrolebinding/pwn' } },
  { name: 'RBAC patch through v1alpha1', method: 'PATCH', url: '/apis/rbac.authorization.k8s.io/v1alpha1/clusterroles/view', body: { rules: [{ verbs: ['*'] }] }, expect: { class: 'privileged' } },
  { name: 'RBAC by server-side apply', method: 'PATCH', url: '/apis/rbac.authorization.k8s.io/v1/namespaces/prod/rolebindings/ci?fieldManager=agent&force=true', headers: [['Content-Type', 'application/apply-patch+yaml']], rawBody: 'kind: RoleBinding\nmetadata:\n  name: ci\n', expect: { class: 'privileged', attributes: { patchType: 'apply', force: true, fieldManager: 'agent' } } },
  { name: 'a look-alike group is not RBAC, and is a plain write', method: 'POST', url: '/apis/rbac.authorization.k8s.io.example.com/v1/clusterrolebindings', body: { kind: 'X', metadata: { name: 'a' } }, expect: { class: 'write' } },
  { name: 'CSR approval by PUT', method: 'PUT', url: '/apis/certificates.k8s.io/v1/certificatesigningrequests/agent-csr/approval', body: { kind: 'CertificateSigningRequest', metadata: { name: 'agent-csr' } }, expect: { class: 'privileged', attributes: { subresource: 'approval' } } },
  { name: 'CSR approval by PATCH', method: 'PATCH', url: '/apis/certificates.k8s.io/v1/certificatesigningrequests/agent-csr/approval', body: { status: { conditions: [{ type: 'Approved' }] } }, expect: { class: 'privileged' } },
  { name: 'a service account token', method: 'POST', url: '/api/v1/namespaces/kube-system/serviceaccounts/admin/token', body: { kind: 'TokenRequest', spec: { expirationSeconds: 86400 } }, expect: { class: 'privileged', attributes: { subresource: 'token', name: 'admin' } } },
  { name: "a node's proxy (the kubelet API)", method: 'GET', url: '/api/v1/nodes/node-1/proxy/run/prod/web/app', expect: { class: 'privileged', attributes: { connect: 'proxy' } } },
  { name: "a node's proxy by the legacy verb", method: 'POST', url: '/api/v1/proxy/nodes/node-1/exec/prod/web/app', expect: { class: 'privileged', attributes: { verb: 'proxy' } } },
  { name: 'deleting a namespace', method: 'DELETE', url: '/api/v1/namespaces/prod', expect: { class: 'privileged', attributes: { namespace: 'prod', name: 'prod' } } },
  { name: 'an ephemeral debug container', method: 'PATCH', url: '/api/v1/namespaces/prod/pods/web-1/ephemeralcontainers', headers: [['Content-Type', 'application/strategic-merge-patch+json']], body: { spec: { ephemeralContainers: [{ name: 'd', image: 'busybox' }] } }, expect: { class: 'privileged' } },
  { name: 'a mutating webhook', method: 'POST', url: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', body: { kind: 'MutatingWebhookConfiguration', metadata: { name: 'inject' } }, expect: { class: 'privileged' } },
  { name: 'a CRD delete', method: 'DELETE', url: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com', expect: { class: 'privileged' } },

  {
    name: 'kubectl debug node/… (host namespaces and the node root filesystem)',
    method: 'POST',
    url: '/api/v1/namespaces/default/pods',
    body: { kind: 'Pod', metadata: { name: 'node-debugger' }, spec: { hostPID: true, hostNetwork: true, volumes: [{ name: 'r', hostPath: { path: '/' } }], containers: [{ name: 'd', image: 'busybox' }] } },
    expect: { class: 'privileged', attributes: { podEscalation: ['hostPID', 'hostNetwork', 'hostPath'] } },
  },
  { name: 'a JSON patch making a container privileged', method: 'PATCH', url: '/apis/apps/v1/namespaces/x/deployments/y', headers: [['Content-Type', 'application/json-patch+json']], body: [{ op: 'replace', path: '/spec/template/spec/containers/0/securityContext/privileged', value: true }], expect: { class: 'privileged' } },

  // ordinary writes in their several forms
  { name: 'scale to zero by PATCH of the scale subresource', method: 'PATCH', url: '/apis/apps/v1/namespaces/x/deployments/y/scale', headers: [['Content-Type', 'application/merge-patch+json']], body: { spec: { replicas: 0 } }, expect: { class: 'write', attributes: { subresource: 'scale', replicas: 0 }, summary: 'scale deployment/y -n x to 0 replicas' } },
  { name: 'a strategic merge patch', method: 'PATCH', url: '/apis/apps/v1/namespaces/x/deployments/y', headers: [['Content-Type', 'application/strategic-merge-patch+json']], body: { spec: { replicas: 3 } }, expect: { class: 'write', attributes: { patchType: 'strategic' } } },
  { name: 'a JSON patch', method: 'PATCH', url: '/apis/apps/v1/namespaces/x/deployments/y', headers: [['Content-Type', 'application/json-patch+json']], body: [{ op: 'replace', path: '/spec/replicas', value: 0 }], expect: { class: 'write', attributes: { patchType: 'json' } } },
  { name: 'rollout restart', method: 'PATCH', url: '/apis/apps/v1/namespaces/x/deployments/y', headers: [['Content-Type', 'application/strategic-merge-patch+json']], body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': 'now' } } } } }, expect: { class: 'write', attributes: { rolloutRestart: true }, summary: 'rollout restart deployment/y -n x' } },
  { name: 'a create into another namespace than the URL says', method: 'POST', url: '/api/v1/namespaces/sandbox/configmaps', body: { kind: 'ConfigMap', metadata: { name: 'c', namespace: 'prod' } }, expect: { class: 'unknown', attributes: { namespaceMismatch: true, namespace: 'sandbox' } } },
  { name: 'a create whose body is too big to read whole', method: 'POST', url: '/api/v1/namespaces/sandbox/configmaps', body: { kind: 'ConfigMap', metadata: { name: 'c' } }, partial: true, expect: { class: 'unknown', attributes: { name: undefined } } },
  { name: 'a method override header the API server does not honour', method: 'GET', url: '/api/v1/namespaces/prod/pods/web-1', headers: [['X-HTTP-Method-Override', 'DELETE']], expect: { class: 'read', attributes: { verb: 'get' } } },
  { name: 'kubectl auth can-i asks and stores nothing', method: 'POST', url: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', body: { kind: 'SelfSubjectAccessReview' }, expect: { class: 'read' } },

  // paths and methods
  { name: 'a dot-dot segment', method: 'GET', url: '/api/v1/namespaces/sandbox/../../v1/namespaces/prod/secrets', expect: { refused: /"\.\." segment/ } },
  { name: 'an encoded dot-dot', method: 'DELETE', url: '/api/v1/namespaces/sandbox/pods/%2e%2e/%2e%2e/secrets/db', expect: { refused: /"\.\." segment/ } },
  { name: 'an encoded slash in a name', method: 'DELETE', url: '/api/v1/namespaces/prod/pods/web%2F..%2F..%2Fsecrets', expect: { refused: /encoded slash/ } },
  { name: 'a double slash', method: 'DELETE', url: '/api/v1/namespaces/prod//pods/web', expect: { refused: /empty segment/ } },
  { name: 'a backslash', method: 'GET', url: '/api/v1/namespaces/prod\\secrets', expect: { refused: /"\\"/ } },
  { name: 'a double-encoded slash', method: 'GET', url: '/api/v1/namespaces/prod/pods/a%252Fb', expect: { refused: /percent/ } },
  { name: 'a semicolon smuggling a second parameter past Go', method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api?dryRun=All;x=1', expect: { refused: /";"/ } },
  { name: 'a trailing slash on a get', method: 'GET', url: '/api/v1/namespaces/prod/pods/web-1/', expect: { class: 'read', attributes: { verb: 'get', name: 'web-1' } } },
  { name: 'an uppercase API prefix is no API path', method: 'DELETE', url: '/API/v1/namespaces/prod/pods/web-1', expect: { class: 'unknown', attributes: { nonResourcePath: '/API/v1/namespaces/prod/pods/web-1' } } },
  { name: 'an uppercase resource', method: 'GET', url: '/api/v1/namespaces/prod/Pods', expect: { class: 'unknown' } },
  { name: 'a lowercase method', method: 'delete', url: '/api/v1/namespaces/prod/pods/web-1', expect: { class: 'unknown', attributes: { verb: '' } } },
  { name: 'OPTIONS', method: 'OPTIONS', url: '/api/v1/namespaces/prod/pods', expect: { class: 'unknown' } },
  { name: "the API server's own log files", method: 'GET', url: '/logs/kube-apiserver.log', expect: { class: 'unknown' } },
  { name: 'an encoded question mark is part of the name, not a query', method: 'GET', url: '/api/v1/namespaces/prod/pods/a%3Fwatch=true', expect: { class: 'read', attributes: { verb: 'get', name: 'a?watch=true' } } },
];

function run(c: Case): { result: K8sClassification } | { error: string } {
  const q = c.url.indexOf('?');
  const path = q < 0 ? c.url : c.url.slice(0, q);
  const query = q < 0 ? [] : [...new URLSearchParams(c.url.slice(q + 1))].map(([k, v]) => [k, v] as [string, string]);
  const info = parseRequestInfo({ method: c.method, path, query });
  if (isK8sRequestError(info)) return { error: info.error };
  const text = c.rawBody ?? (c.body === undefined ? undefined : JSON.stringify(c.body));
  const headers = c.headers ?? (text === undefined ? [] : [JSON_TYPE]);
  const body = text === undefined ? undefined : { bytes: new TextEncoder().encode(text), complete: c.partial !== true };
  return { result: classifyK8sRequest(info, { headers, ...(body === undefined ? {} : { body }) }) };
}

/** The embedded default policy plus the rule issue 13 adds: exec waits for a human. */
const POLICY = compilePolicy(
  Policy.parse({
    ...DEFAULT_POLICY,
    // the default policy has the rule since the extension branch (i13-k8sext) landed; added here only where it does not
    rules: DEFAULT_POLICY.rules.some((r) => r.id === 'k8s-exec-review') ? DEFAULT_POLICY.rules : [...DEFAULT_POLICY.rules, { id: 'k8s-exec-review', description: 'exec, attach, port-forward and proxy wait for a human', decision: 'review', match: { protocols: 'kubernetes', attributes: { class: 'exec' } } }],
  }),
  { defaultReviewTimeoutMs: 60_000 },
);

const DECISION_OF: Record<K8sClass, { decision: string; ruleId: string }> = {
  read: { decision: 'allow', ruleId: 'reads-allow' },
  write: { decision: 'review', ruleId: 'writes-review' },
  exec: { decision: 'review', ruleId: 'k8s-exec-review' },
  unknown: { decision: 'review', ruleId: 'unknown-review' },
  privileged: { decision: 'deny', ruleId: 'privileged-deny' },
};

describe('Kubernetes adversarial corpus: what an agent might send to get through', () => {
  test('the corpus is large enough and names each case once', () => {
    assert.ok(CORPUS.length >= 45, `${CORPUS.length} cases`);
    assert.equal(new Set(CORPUS.map((c) => c.name)).size, CORPUS.length);
  });

  for (const c of CORPUS) {
    test(`${c.name}: ${c.method} ${c.url}`, () => {
      const outcome = run(c);
      if ('refused' in c.expect) {
        assert.ok('error' in outcome, `expected a refusal, got ${'result' in outcome ? outcome.result.class : ''}`);
        assert.match(outcome.error, c.expect.refused);
        return;
      }
      assert.ok('result' in outcome, `refused: ${'error' in outcome ? outcome.error : ''}`);
      const r = outcome.result;
      assert.equal(r.class, c.expect.class, `${r.summary}: ${r.reasons.join('; ')}`);
      for (const [key, value] of Object.entries(c.expect.attributes ?? {})) assert.deepEqual(r.attributes[key], value, `attribute ${key}`);
      if (c.expect.summary !== undefined) assert.equal(r.summary, c.expect.summary);
      const decision = POLICY.evaluate({ protocol: 'kubernetes', target: 'staging', kind: 'k8s.request', attributes: r.attributes });
      assert.deepEqual({ decision: decision.decision, ruleId: decision.ruleId }, DECISION_OF[c.expect.class]);
    });
  }

  test('no request the corpus expects to be held or refused is allowed by the default policy', () => {
    for (const c of CORPUS) {
      const outcome = run(c);
      if (!('result' in outcome) || outcome.result.class === 'read') continue;
      const decision = POLICY.evaluate({ protocol: 'kubernetes', target: 'staging', kind: 'k8s.request', attributes: outcome.result.attributes });
      assert.notEqual(decision.decision, 'allow', c.name);
    }
  });

  test('rules on names and commands see what the server will act on', () => {
    const policy = compilePolicy(
      Policy.parse({
        default: 'review',
        rules: [
          { id: 'root-secret-deny', decision: 'deny', match: { protocols: 'kubernetes', attributes: { resource: 'secrets', name: 'db-root' } } },
          { id: 'shell-exec-deny', decision: 'deny', match: { protocols: 'kubernetes', attributes: { connect: 'exec', command: ['sh', 'bash', '/bin/sh'] } } },
          { id: 'sandbox-writes-allow', decision: 'allow', match: { protocols: 'kubernetes', attributes: { class: ['read', 'write'], namespace: 'sandbox' } } },
          { id: 'reads-allow', decision: 'allow', match: { protocols: 'kubernetes', attributes: { class: 'read' } } },
        ],
      }),
      { defaultReviewTimeoutMs: 60_000 },
    );
    const decide = (c: Omit<Case, 'name' | 'expect'>): string => {
      const outcome = run({ ...c, name: '', expect: { class: 'read' } });
      assert.ok('result' in outcome);
      return policy.evaluate({ protocol: 'kubernetes', target: 'staging', kind: 'k8s.request', attributes: outcome.result.attributes }).ruleId;
    };
    // a list narrowed to one name by a field selector returns that secret: the name rule sees it
    assert.equal(decide({ method: 'GET', url: '/api/v1/namespaces/prod/secrets?fieldSelector=metadata.name%3Ddb-root' }), 'root-secret-deny');
    assert.equal(decide({ method: 'GET', url: '/api/v1/watch/namespaces/prod/secrets/db-root' }), 'root-secret-deny');
    assert.equal(decide({ method: 'GET', url: '/api/v1/namespaces/prod/secrets/other' }), 'reads-allow');
    // a shell anywhere in the argv, GET or POST
    assert.equal(decide({ method: 'POST', url: '/api/v1/namespaces/sandbox/pods/p/exec?command=env&command=bash&command=-c&command=id' }), 'shell-exec-deny');
    assert.equal(decide({ method: 'GET', url: '/api/v1/namespaces/sandbox/pods/p/exec?command=ls' }), 'default');
    // the sandbox allow does not cover a create whose body says prod, nor a cluster-scoped write
    assert.equal(decide({ method: 'POST', url: '/api/v1/namespaces/sandbox/configmaps', body: { kind: 'ConfigMap', metadata: { name: 'c' } } }), 'sandbox-writes-allow');
    assert.equal(decide({ method: 'POST', url: '/api/v1/namespaces/sandbox/configmaps', body: { kind: 'ConfigMap', metadata: { name: 'c', namespace: 'prod' } } }), 'default');
    assert.equal(decide({ method: 'DELETE', url: '/api/v1/nodes/n1' }), 'default');
    // a namespace object is matched by its own name: deleting the sandbox namespace is not a sandbox write
    assert.equal(decide({ method: 'PATCH', url: '/api/v1/namespaces/sandbox', headers: [['Content-Type', 'application/merge-patch+json']], body: { metadata: { labels: { a: 'b' } } } }), 'sandbox-writes-allow');
  });
});
