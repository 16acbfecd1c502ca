import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyK8sRequest, combineK8sClasses, describeK8sRequest, isK8sRequestError, needsK8sBody, parseRequestInfo } from '../../src/classify/index.js';
import { singularOf } from '@airlock/shared';
import type { K8sClass, K8sClassification } from '../../src/classify/index.js';

/** One request as a client sends it; the body is JSON unless given as raw text. */
interface Req {
  method: string;
  url: string;
  headers?: Array<[string, string]>;
  body?: unknown;
  rawBody?: string;
  /** the body was only partly read */
  partial?: boolean;
}

const JSON_TYPE: [string, string] = ['Content-Type', 'application/json'];

function classify(req: Req, options?: Parameters<typeof classifyK8sRequest>[2]): K8sClassification {
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const query = q < 0 ? [] : [...new URLSearchParams(req.url.slice(q + 1))].map(([k, v]) => [k, v] as [string, string]);
  const info = parseRequestInfo({ method: req.method, path, query });
  if (isK8sRequestError(info)) assert.fail(`${req.method} ${req.url} was refused: ${info.error}`);
  const text = req.rawBody ?? (req.body === undefined ? undefined : JSON.stringify(req.body));
  const body = text === undefined ? undefined : { bytes: new TextEncoder().encode(text), complete: req.partial !== true };
  return classifyK8sRequest(info, { headers: req.headers ?? (text === undefined ? [] : [JSON_TYPE]), ...(body === undefined ? {} : { body }) }, options);
}

function expectClass(req: Req, cls: K8sClass): K8sClassification {
  const c = classify(req);
  assert.equal(c.class, cls, `${req.method} ${req.url}: ${c.reasons.join('; ')}`);
  assert.equal(c.attributes['class'], cls);
  return c;
}

const deployment = (name: string, namespace?: string) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, ...(namespace === undefined ? {} : { namespace }) }, spec: { replicas: 1 } });

describe('k8s classes: reads', () => {
  const READS: Req[] = [
    { method: 'GET', url: '/api/v1/namespaces/default/pods' },
    { method: 'GET', url: '/api/v1/namespaces/default/pods/web-1' },
    { method: 'GET', url: '/api/v1/pods?watch=true' },
    { method: 'GET', url: '/api/v1/namespaces/default/pods/web-1/log?follow=true' },
    { method: 'GET', url: '/api/v1/namespaces/kube-system/secrets' },
    { method: 'GET', url: '/apis/rbac.authorization.k8s.io/v1/clusterroles' },
    { method: 'HEAD', url: '/apis/apps/v1/namespaces/prod/deployments/api' },
    { method: 'GET', url: '/version' },
    { method: 'GET', url: '/api' },
    { method: 'GET', url: '/api/v1' },
    { method: 'GET', url: '/apis' },
    { method: 'GET', url: '/apis/apps' },
    { method: 'GET', url: '/apis/apps/v1' },
    { method: 'GET', url: '/openapi/v2' },
    { method: 'GET', url: '/openapi/v3/apis/apps/v1?hash=abc' },
    { method: 'GET', url: '/healthz' },
    { method: 'GET', url: '/readyz/etcd' },
    { method: 'GET', url: '/livez' },
    { method: 'POST', url: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', body: { kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: 'delete', resource: 'pods' } } } },
    { method: 'POST', url: '/apis/authentication.k8s.io/v1/selfsubjectreviews', body: { kind: 'SelfSubjectReview' } },
  ];
  for (const req of READS) test(`${req.method} ${req.url} is a read`, () => {
    const c = expectClass(req, 'read');
    assert.equal(c.risk, 'low');
  });

  test('other non-resource paths and methods are unknown', () => {
    expectClass({ method: 'GET', url: '/logs/kube-apiserver.log' }, 'unknown');
    expectClass({ method: 'GET', url: '/debug/pprof/heap' }, 'unknown');
    expectClass({ method: 'POST', url: '/api' }, 'unknown');
    expectClass({ method: 'DELETE', url: '/version' }, 'unknown');
  });
});

describe('k8s classes: writes, with names and summaries a person reads', () => {
  const CASES: Array<{ req: Req; summary: string; name?: string; risk?: string }> = [
    { req: { method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api' }, summary: 'delete deployment/api -n prod', name: 'api', risk: 'high' },
    { req: { method: 'POST', url: '/apis/apps/v1/namespaces/prod/deployments', body: deployment('api') }, summary: 'create deployment/api -n prod', name: 'api', risk: 'medium' },
    { req: { method: 'PUT', url: '/apis/apps/v1/namespaces/prod/deployments/api', body: deployment('api', 'prod') }, summary: 'update deployment/api -n prod', name: 'api' },
    { req: { method: 'PATCH', url: '/api/v1/namespaces/default/configmaps/settings', headers: [['Content-Type', 'application/merge-patch+json']], body: { data: { a: 'b' } } }, summary: 'patch configmap/settings -n default', name: 'settings' },
    { req: { method: 'DELETE', url: '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb' }, summary: 'deletecollection pods -n default', risk: 'high' },
    { req: { method: 'POST', url: '/api/v1/namespaces/default/pods/web-1/eviction', body: { kind: 'Eviction', metadata: { name: 'web-1' } } }, summary: 'create pod/web-1/eviction -n default', name: 'web-1' },
    { req: { method: 'POST', url: '/apis/networking.k8s.io/v1/namespaces/default/ingresses', body: { kind: 'Ingress', metadata: { name: 'site' } } }, summary: 'create ingress/site -n default', name: 'site' },
    { req: { method: 'POST', url: '/api/v1/namespaces/default/pods', body: { kind: 'Pod', metadata: { generateName: 'job-' } } }, summary: 'create pods -n default' },
    { req: { method: 'POST', url: '/apis/certificates.k8s.io/v1/certificatesigningrequests', body: { kind: 'CertificateSigningRequest', metadata: { name: 'me' } } }, summary: 'create certificatesigningrequest/me', name: 'me' },
    { req: { method: 'DELETE', url: '/api/v1/nodes/node-1' }, summary: 'delete node/node-1', name: 'node-1' },
  ];
  for (const c of CASES) {
    test(`${c.req.method} ${c.req.url} → ${c.summary}`, () => {
      const r = expectClass(c.req, 'write');
      assert.equal(r.summary, c.summary);
      assert.equal(r.attributes['name'], c.name);
      if (c.risk !== undefined) assert.equal(r.risk, c.risk);
      assert.equal(r.attributes['dryRun'], false);
    });
  }

  test('kubectl scale: the scale subresource, the replicas asked for', () => {
    const r = expectClass({ method: 'PATCH', url: '/apis/apps/v1/namespaces/prod/deployments/api/scale', headers: [['Content-Type', 'application/merge-patch+json']], body: { spec: { replicas: 0 } } }, 'write');
    assert.equal(r.summary, 'scale deployment/api -n prod to 0 replicas');
    assert.equal(r.attributes['subresource'], 'scale');
    assert.equal(r.attributes['replicas'], 0);
    assert.equal(r.attributes['patchType'], 'merge');
  });

  test('kubectl rollout restart: a strategic merge patch of the template annotation', () => {
    const r = expectClass(
      {
        method: 'PATCH',
        url: '/apis/apps/v1/namespaces/prod/deployments/api?fieldManager=kubectl-rollout',
        headers: [['Content-Type', 'application/strategic-merge-patch+json']],
        body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-12-05T21:00:00Z' } } } } },
      },
      'write',
    );
    assert.equal(r.summary, 'rollout restart deployment/api -n prod');
    assert.equal(r.attributes['rolloutRestart'], true);
    assert.equal(r.attributes['fieldManager'], 'kubectl-rollout');
  });

  test('server-side apply: patch type apply, the field manager and force', () => {
    const r = expectClass(
      { method: 'PATCH', url: '/apis/apps/v1/namespaces/prod/deployments/api?fieldManager=kubectl&force=true', headers: [['Content-Type', 'application/apply-patch+yaml']], rawBody: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: prod\n' },
      'write',
    );
    assert.equal(r.attributes['patchType'], 'apply');
    assert.equal(r.attributes['fieldManager'], 'kubectl');
    assert.equal(r.attributes['force'], true);
    assert.equal(r.request.bodyKind, 'Deployment');
  });

  test('a body namespace that differs from the URL is unknown (the server refuses it; the model disagrees)', () => {
    const r = expectClass({ method: 'POST', url: '/apis/apps/v1/namespaces/dev/deployments', body: deployment('api', 'prod') }, 'unknown');
    assert.equal(r.attributes['namespaceMismatch'], true);
    assert.equal(r.attributes['namespace'], 'dev');
  });

  test('an update whose body names another object is unknown', () => {
    const r = expectClass({ method: 'PUT', url: '/apis/apps/v1/namespaces/dev/deployments/api', body: deployment('other') }, 'unknown');
    assert.equal(r.attributes['nameMismatch'], true);
  });

  test("a create whose object name cannot be read is unknown: body cut, not parseable, protobuf, none", () => {
    expectClass({ method: 'POST', url: '/apis/apps/v1/namespaces/dev/deployments', body: deployment('api'), partial: true }, 'unknown');
    expectClass({ method: 'POST', url: '/apis/apps/v1/namespaces/dev/deployments', rawBody: '{"metadata": {"name": "api"' }, 'unknown');
    expectClass({ method: 'POST', url: '/apis/apps/v1/namespaces/dev/deployments', headers: [['Content-Type', 'application/vnd.kubernetes.protobuf']], rawBody: 'k8s\u0000\n\u0012' }, 'unknown');
    expectClass({ method: 'POST', url: '/apis/apps/v1/namespaces/dev/deployments' }, 'unknown');
  });

  test('an update with a body cut short is still a write with the URL name', () => {
    const r = expectClass({ method: 'PUT', url: '/api/v1/namespaces/dev/configmaps/settings', body: { kind: 'ConfigMap', metadata: { name: 'settings' } }, partial: true }, 'write');
    assert.equal(r.attributes['name'], 'settings');
  });

  test('an update of a workload whose pod spec cannot be read is unknown', () => {
    expectClass({ method: 'PUT', url: '/apis/apps/v1/namespaces/dev/deployments/api', body: deployment('api'), partial: true }, 'unknown');
    expectClass({ method: 'PATCH', url: '/api/v1/namespaces/dev/pods/web', headers: [['Content-Type', 'application/apply-patch+cbor']], rawBody: '\u00a1' }, 'unknown');
  });
});

describe('k8s classes: server-side dry run', () => {
  test('?dryRun=All makes a create, update, patch or delete a read', () => {
    for (const req of [
      { method: 'POST', url: '/apis/apps/v1/namespaces/dev/deployments?dryRun=All', body: deployment('api') },
      { method: 'PUT', url: '/apis/apps/v1/namespaces/dev/deployments/api?dryRun=All', body: deployment('api') },
      { method: 'PATCH', url: '/apis/apps/v1/namespaces/dev/deployments/api?dryRun=All&fieldManager=kubectl', headers: [['Content-Type', 'application/apply-patch+yaml']] as Array<[string, string]>, rawBody: 'kind: Deployment' },
      { method: 'DELETE', url: '/apis/apps/v1/namespaces/dev/deployments/api?dryRun=All' },
    ]) {
      const r = expectClass(req, 'read');
      assert.equal(r.attributes['dryRun'], true);
      assert.match(r.summary, /\(dry run\)$/);
      assert.equal(r.request.dryRun, true);
    }
  });

  test('kubectl 1.32 delete --dry-run=server: dryRun ["All"] in the DeleteOptions body', () => {
    const r = expectClass({ method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api', body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background', dryRun: ['All'] } }, 'read');
    assert.equal(r.summary, 'delete deployment/api -n prod (dry run)');
  });

  test('a DELETE body without dryRun overrides dryRun=All in the query: a real delete', () => {
    const r = expectClass({ method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api?dryRun=All', body: { kind: 'DeleteOptions', apiVersion: 'v1' } }, 'write');
    assert.ok(r.reasons.some((x) => /not read: a DELETE with a body/.test(x)));
  });

  test('a DeleteOptions body cut short, or not DeleteOptions, is not a dry run', () => {
    expectClass({ method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api', body: { kind: 'DeleteOptions', dryRun: ['All'] }, partial: true }, 'write');
    expectClass({ method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api', body: { kind: 'Deployment', dryRun: ['All'] } }, 'write');
    expectClass({ method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api', body: { kind: 'DeleteOptions', dryRun: 'All' } }, 'write');
    expectClass({ method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api', body: ['All'] }, 'write');
  });

  test('dryRun values the server refuses are unknown', () => {
    expectClass({ method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api?dryRun=all' }, 'unknown');
    expectClass({ method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api?dryRun=All&dryRun=' }, 'unknown');
    expectClass({ method: 'POST', url: '/apis/apps/v1/namespaces/prod/deployments?dryRun=true', body: deployment('x') }, 'unknown');
    expectClass({ method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api', body: { kind: 'DeleteOptions', dryRun: ['All', 'None'] } }, 'unknown');
  });

  test('a dryRun in a create body is not read by the server: a real create', () => {
    expectClass({ method: 'POST', url: '/apis/apps/v1/namespaces/prod/deployments', body: { ...deployment('api'), dryRun: ['All'] } }, 'write');
  });

  test('a dry run of a privileged write stays privileged, and says so', () => {
    const r = expectClass({ method: 'POST', url: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?dryRun=All', body: { kind: 'ClusterRoleBinding', metadata: { name: 'admin' } } }, 'privileged');
    assert.equal(r.attributes['dryRun'], true);
    assert.ok(r.reasons.some((x) => /stay privileged/.test(x)));
  });
});

describe('k8s classes: exec, attach, port-forward, proxy', () => {
  test('exec: the command words, container, stdin and tty; the summary quotes as a shell would', () => {
    const r = expectClass({ method: 'GET', url: '/api/v1/namespaces/default/pods/web-1/exec?command=sh&command=-c&command=rm%20-rf%20%2Fdata&container=app&stdin=true&stdout=true&tty=true' }, 'exec');
    assert.deepEqual(r.attributes['command'], ['sh', '-c', 'rm -rf /data']);
    assert.equal(r.attributes['container'], 'app');
    assert.equal(r.attributes['stdin'], true);
    assert.equal(r.attributes['tty'], true);
    assert.equal(r.attributes['connect'], 'exec');
    assert.equal(r.attributes['verb'], 'get');
    assert.equal(r.summary, 'exec pod/web-1 -n default -c app: sh -c "rm -rf /data"');
    assert.equal(r.risk, 'high');
    assert.deepEqual(r.exec, { pod: 'web-1', namespace: 'default', container: 'app', command: ['sh', '-c', 'rm -rf /data'], stdin: true, stdout: true, stderr: false, tty: true });
  });

  test('an exec with no command says so by saying nothing after the pod', () => {
    assert.equal(expectClass({ method: 'GET', url: '/api/v1/namespaces/d/pods/p/exec?stdout=1' }, 'exec').summary, 'exec pod/p -n d');
  });

  test('the canonical path is an attribute, so rules can glob on it', () => {
    assert.equal(classify({ method: 'GET', url: '/api/v1/namespaces/x/%70ods/' }).attributes['path'], '/api/v1/namespaces/x/pods');
    assert.equal(classify({ method: 'GET', url: '/version' }).attributes['path'], '/version');
  });

  test('attach, port-forward and proxy summaries', () => {
    assert.equal(expectClass({ method: 'POST', url: '/api/v1/namespaces/default/pods/web-1/attach?stdin=true&stdout=true' }, 'exec').summary, 'attach pod/web-1 -n default');
    const pf = expectClass({ method: 'GET', url: '/api/v1/namespaces/data/pods/db-0/portforward?ports=5432&ports=8080' }, 'exec');
    assert.equal(pf.summary, 'port-forward pod/db-0 -n data 5432,8080');
    assert.deepEqual(pf.attributes['ports'], ['5432', '8080']);
    assert.equal(expectClass({ method: 'GET', url: '/api/v1/namespaces/default/services/web:80/proxy/admin/users' }, 'exec').summary, 'proxy service/web:80 -n default /admin/users');
  });

  test('the command list is bounded by the options', () => {
    const url = `/api/v1/namespaces/d/pods/p/exec?${Array.from({ length: 100 }, (_, i) => `command=w${i}`).join('&')}`;
    const r = classify({ method: 'POST', url }, { summaryMaxChars: 60, listMaxItems: 5 });
    assert.deepEqual(r.attributes['command'], ['w0', 'w1', 'w2', 'w3', 'w4']);
    assert.equal(r.summary, 'exec pod/p -n d: w0 w1 w2 w3 w4 …', 'a cut command says so');
    assert.equal(r.class, 'unknown', 'rules cannot see the words left out');
    assert.ok(r.reasons.some((x) => /the command has 100 values and Airlock keeps 5/.test(x)));
    assert.equal(r.request.query.length, 5);
    assert.equal(r.request.queryOmitted, 95);
    const short = classify({ method: 'POST', url }, { summaryMaxChars: 20, listMaxItems: 50 });
    assert.equal(short.summary.length, 20);
    assert.ok(short.summary.endsWith('…'));
  });
});

describe('k8s classes: privileged', () => {
  const PRIVILEGED: Req[] = [
    { method: 'POST', url: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', body: { kind: 'ClusterRoleBinding', metadata: { name: 'admin' } } },
    { method: 'PUT', url: '/apis/rbac.authorization.k8s.io/v1/namespaces/dev/roles/editor', body: { kind: 'Role', metadata: { name: 'editor' } } },
    { method: 'DELETE', url: '/apis/rbac.authorization.k8s.io/v1/namespaces/dev/rolebindings/ci' },
    { method: 'PATCH', url: '/apis/rbac.authorization.k8s.io/v1/clusterroles/view', body: { rules: [] } },
    { method: 'POST', url: '/api/v1/namespaces/default/serviceaccounts/builder/token', body: { kind: 'TokenRequest' } },
    { method: 'PUT', url: '/apis/certificates.k8s.io/v1/certificatesigningrequests/csr-1/approval', body: { kind: 'CertificateSigningRequest', metadata: { name: 'csr-1' } } },
    { method: 'PUT', url: '/apis/certificates.k8s.io/v1/certificatesigningrequests/csr-1/status', body: { kind: 'CertificateSigningRequest' } },
    { method: 'GET', url: '/api/v1/nodes/node-1/proxy/pods' },
    { method: 'DELETE', url: '/api/v1/namespaces/prod' },
    { method: 'DELETE', url: '/api/v1/namespaces' },
    { method: 'POST', url: '/api/v1/namespaces/prod/secrets', body: { kind: 'Secret', metadata: { name: 'db' } } },
    { method: 'PATCH', url: '/api/v1/namespaces/prod/secrets/db', body: { data: { password: 'eA==' } } },
    { method: 'DELETE', url: '/api/v1/namespaces/prod/secrets/db' },
    { method: 'POST', url: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', body: { kind: 'MutatingWebhookConfiguration', metadata: { name: 'hook' } } },
    { method: 'DELETE', url: '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/guard' },
    { method: 'PUT', url: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com', body: { kind: 'CustomResourceDefinition', metadata: { name: 'widgets.example.com' } } },
    { method: 'PATCH', url: '/api/v1/namespaces/default/pods/web-1/ephemeralcontainers', body: { spec: { ephemeralContainers: [{ name: 'debugger', image: 'busybox' }] } } },
    { method: 'GET', url: '/api/v1/namespaces/default/pods', headers: [['Impersonate-User', 'admin']] },
  ];
  for (const req of PRIVILEGED) test(`${req.method} ${req.url}${req.headers ? ' (impersonating)' : ''} is privileged`, () => {
    const r = expectClass(req, 'privileged');
    assert.equal(r.risk, 'critical');
  });

  test('impersonation lists what was asked, user, groups, uid and extras, in any header case', () => {
    const r = expectClass(
      {
        method: 'GET',
        url: '/api/v1/namespaces/default/pods',
        headers: [
          ['IMPERSONATE-USER', 'alice'],
          ['impersonate-group', 'system:masters'],
          ['Impersonate-Group', 'devs'],
          ['Impersonate-Uid', '42'],
          ['Impersonate-Extra-Scopes', 'view'],
        ],
      },
      'privileged',
    );
    assert.deepEqual(r.attributes['impersonate'], ['user:alice', 'group:system:masters', 'group:devs', 'uid:42', 'extra.scopes:view']);
    assert.equal(r.summary, 'get pods -n default as user:alice, group:system:masters, group:devs, uid:42, extra.scopes:view');
  });

  test('reading RBAC objects, Secrets, CSRs and service accounts is a read', () => {
    expectClass({ method: 'GET', url: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/admin' }, 'read');
    expectClass({ method: 'GET', url: '/api/v1/namespaces/prod/secrets/db' }, 'read');
    expectClass({ method: 'GET', url: '/apis/certificates.k8s.io/v1/certificatesigningrequests' }, 'read');
    expectClass({ method: 'GET', url: '/api/v1/namespaces/default/serviceaccounts/builder' }, 'read');
  });
});

describe('k8s attributes and details', () => {
  test('a cluster-scoped request has no namespace attribute; the namespace object carries its own name', () => {
    const nodes = classify({ method: 'GET', url: '/api/v1/nodes' });
    assert.equal('namespace' in nodes.attributes, false);
    assert.equal(nodes.summary, 'get nodes');
    const ns = classify({ method: 'PATCH', url: '/api/v1/namespaces/prod', headers: [['Content-Type', 'application/apply-patch+yaml']], rawBody: 'kind: Namespace' });
    assert.equal(ns.attributes['namespace'], 'prod');
    const created = classify({ method: 'POST', url: '/api/v1/namespaces', body: { kind: 'Namespace', metadata: { name: 'fresh' } } });
    assert.equal(created.attributes['namespace'], 'fresh', 'a created namespace is matched by its own name too');
    assert.equal(created.request.namespace, '', 'the detail keeps the API server\'s request info');
  });

  test('an all-namespace list reads as kubectl -A', () => {
    assert.equal(classify({ method: 'GET', url: '/api/v1/pods' }).summary, 'get pods -A');
    assert.equal(classify({ method: 'GET', url: '/api/v1/secrets?watch=1' }).summary, 'watch secrets -A');
  });

  test('the detail pieces carry the request info, the query and the body kind', () => {
    const r = classify({ method: 'POST', url: '/apis/apps/v1/namespaces/prod/deployments?fieldManager=kubectl-client-side-apply', body: deployment('api') });
    assert.deepEqual(r.request, {
      verb: 'create',
      apiGroup: 'apps',
      apiVersion: 'v1',
      resource: 'deployments',
      subresource: '',
      namespace: 'prod',
      name: 'api',
      path: '/apis/apps/v1/namespaces/prod/deployments',
      query: [['fieldManager', 'kubectl-client-side-apply']],
      dryRun: false,
      impersonate: [],
      bodyKind: 'Deployment',
    });
  });

  test('combining classes: privileged > unknown > exec > write > read; nothing is read', () => {
    assert.equal(combineK8sClasses(['read', 'write']), 'write');
    assert.equal(combineK8sClasses(['exec', 'write']), 'exec');
    assert.equal(combineK8sClasses(['exec', 'unknown']), 'unknown');
    assert.equal(combineK8sClasses(['unknown', 'privileged']), 'privileged');
    assert.equal(combineK8sClasses([]), 'read');
  });

  test("kubectl's singulars", () => {
    assert.deepEqual(
      ['deployments', 'ingresses', 'networkpolicies', 'endpoints', 'storageclasses', 'pods', 'status', 'clusterrolebindings'].map(singularOf),
      ['deployment', 'ingress', 'networkpolicy', 'endpoints', 'storageclass', 'pod', 'status', 'clusterrolebinding'],
    );
  });
});

describe('k8s: what the adapter calls', () => {
  const info = (method: string, path: string) => {
    const parsed = parseRequestInfo({ method, path, query: [] });
    if (isK8sRequestError(parsed)) assert.fail(parsed.error);
    return parsed;
  };

  test('the body is read before the decision for writes only', () => {
    assert.equal(needsK8sBody(info('POST', '/api/v1/namespaces/d/configmaps')), true);
    assert.equal(needsK8sBody(info('DELETE', '/api/v1/namespaces/d/configmaps/c')), true);
    assert.equal(needsK8sBody(info('PATCH', '/apis/apps/v1/namespaces/d/deployments/a/scale')), true);
    assert.equal(needsK8sBody(info('GET', '/api/v1/namespaces/d/configmaps')), false);
    assert.equal(needsK8sBody(info('POST', '/api/v1/namespaces/d/pods/p/exec')), false, 'an exec body is the stream, never buffered');
    assert.equal(needsK8sBody(info('POST', '/api')), false);
  });

  test('describeK8sRequest parses and classifies, or says why the request is refused', () => {
    const ok = describeK8sRequest({ method: 'GET', path: '/api/v1/namespaces/d/pods', query: [['watch', '1']] }, { headers: [] });
    assert.ok(!('error' in ok));
    assert.equal(ok.info.verb, 'watch');
    assert.equal(ok.classification.summary, 'watch pods -n d');
    const refused = describeK8sRequest({ method: 'GET', path: '/api/v1/namespaces/d/pods/%2e%2e', query: [] }, { headers: [] });
    assert.ok('error' in refused);
    assert.equal(refused.status, 400);
  });
});

describe('k8s: pod specs that reach the node are privileged', () => {
  const nodeDebugPod = {
    kind: 'Pod',
    metadata: { name: 'node-debugger-n1-abcde' },
    spec: {
      hostPID: true,
      hostIPC: true,
      hostNetwork: true,
      nodeName: 'n1',
      volumes: [{ name: 'host-root', hostPath: { path: '/' } }],
      containers: [{ name: 'debugger', image: 'busybox', volumeMounts: [{ name: 'host-root', mountPath: '/host' }] }],
    },
  };
  const CASES: Array<{ name: string; req: Req; escalations: string[] }> = [
    { name: 'kubectl debug node/n1', req: { method: 'POST', url: '/api/v1/namespaces/default/pods', body: nodeDebugPod }, escalations: ['hostPID', 'hostIPC', 'hostNetwork', 'hostPath'] },
    {
      name: 'a deployment with a privileged container',
      req: { method: 'POST', url: '/apis/apps/v1/namespaces/dev/deployments', body: { kind: 'Deployment', metadata: { name: 'x' }, spec: { template: { spec: { containers: [{ name: 'c', securityContext: { privileged: true } }] } } } } },
      escalations: ['privileged'],
    },
    {
      name: 'a cronjob adding SYS_ADMIN',
      req: { method: 'PUT', url: '/apis/batch/v1/namespaces/dev/cronjobs/nightly', body: { kind: 'CronJob', metadata: { name: 'nightly' }, spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'c', securityContext: { capabilities: { add: ['sys_admin'] } } }] } } } } } } },
      escalations: ['capability sys_admin'],
    },
    {
      name: 'a JSON patch turning on hostNetwork',
      req: { method: 'PATCH', url: '/apis/apps/v1/namespaces/dev/daemonsets/agent', headers: [['Content-Type', 'application/json-patch+json']], body: [{ op: 'add', path: '/spec/template/spec/hostNetwork', value: true }] },
      escalations: ['hostNetwork'],
    },
    {
      name: 'a strategic merge patch adding a hostPath volume',
      req: { method: 'PATCH', url: '/apis/apps/v1/namespaces/dev/statefulsets/db', headers: [['Content-Type', 'application/strategic-merge-patch+json']], body: { spec: { template: { spec: { volumes: [{ name: 'docker', hostPath: { path: '/var/run/docker.sock' } }] } } } } },
      escalations: ['hostPath'],
    },
    {
      name: 'server-side apply of a pod sharing the node user namespace',
      req: { method: 'PATCH', url: '/api/v1/namespaces/dev/pods/p?fieldManager=agent', headers: [['Content-Type', 'application/apply-patch+yaml']], rawBody: 'kind: Pod\nmetadata:\n  name: p\nspec:\n  hostUsers: false\n  containers:\n  - name: c\n    image: x\n' },
      escalations: ['hostUsers'],
    },
  ];
  for (const c of CASES) {
    test(c.name, () => {
      const r = expectClass(c.req, 'privileged');
      assert.deepEqual([...(r.attributes['podEscalation'] as string[])].sort(), [...c.escalations].sort());
    });
  }

  test('ordinary pod specs, and look-alike keys outside pod-bearing resources, stay writes', () => {
    expectClass({ method: 'POST', url: '/api/v1/namespaces/dev/pods', body: { kind: 'Pod', metadata: { name: 'p' }, spec: { hostNetwork: false, containers: [{ name: 'c', securityContext: { privileged: false, capabilities: { add: ['NET_BIND_SERVICE'] } } }] } } }, 'write');
    expectClass({ method: 'POST', url: '/api/v1/namespaces/dev/configmaps', body: { kind: 'ConfigMap', metadata: { name: 'c' }, data: { privileged: 'true' }, hostPID: true } }, 'write');
  });
});
