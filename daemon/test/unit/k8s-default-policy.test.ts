import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DecisionKind } from '@airlock/shared';
import { describeK8sRequest } from '../../src/classify/index.js';
import { DEFAULT_POLICY } from '../../src/policy/defaults.js';
import { compilePolicy } from '../../src/policy/engine.js';

/**
 * The embedded default policy on real classifications of Kubernetes requests (issue 13): reads go
 * through, writes wait for a human, exec/attach/port-forward wait for a human under their own rule,
 * privileged requests (RBAC, impersonation, secrets writes, namespace deletes, node proxy, pod specs
 * that reach the node) are refused, and a server-side dry run of an ordinary write is a read.
 * The requests are classified by the pure classifier exactly as the adapter does; nothing is faked.
 */

interface Case {
  what: string;
  method: string;
  url: string;
  headers?: Array<[string, string]>;
  body?: unknown;
  kind?: string;
  decision: DecisionKind;
  ruleId: string;
}

const policy = compilePolicy(DEFAULT_POLICY, { defaultReviewTimeoutMs: 60_000 });

const pod = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'app', image: 'nginx' }], ...spec } });

const CASES: Case[] = [
  { what: 'get pods', method: 'GET', url: '/api/v1/namespaces/default/pods', decision: 'allow', ruleId: 'reads-allow' },
  { what: 'get secrets -n kube-system (the values are masked, the read is allowed)', method: 'GET', url: '/api/v1/namespaces/kube-system/secrets', decision: 'allow', ruleId: 'reads-allow' },
  { what: 'logs -f', method: 'GET', url: '/api/v1/namespaces/default/pods/web-1/log?follow=true', decision: 'allow', ruleId: 'reads-allow' },
  { what: 'watch deployments', method: 'GET', url: '/apis/apps/v1/namespaces/prod/deployments?watch=true', decision: 'allow', ruleId: 'reads-allow' },
  { what: 'discovery', method: 'GET', url: '/apis', decision: 'allow', ruleId: 'reads-allow' },
  { what: 'delete deployment/api -n prod', method: 'DELETE', url: '/apis/apps/v1/namespaces/prod/deployments/api', decision: 'review', ruleId: 'writes-review' },
  {
    what: 'apply a deployment (server-side apply patch)',
    method: 'PATCH',
    url: '/apis/apps/v1/namespaces/prod/deployments/api?fieldManager=kubectl',
    headers: [['Content-Type', 'application/apply-patch+yaml']],
    body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: 'prod' }, spec: { replicas: 3 } },
    decision: 'review',
    ruleId: 'writes-review',
  },
  {
    what: 'delete with dryRun: ["All"] in the DeleteOptions body (kubectl 1.32 --dry-run=server)',
    method: 'DELETE',
    url: '/apis/apps/v1/namespaces/prod/deployments/api',
    body: { kind: 'DeleteOptions', apiVersion: 'v1', dryRun: ['All'] },
    decision: 'allow',
    ruleId: 'reads-allow',
  },
  { what: 'create with ?dryRun=All', method: 'POST', url: '/api/v1/namespaces/default/configmaps?dryRun=All', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } }, decision: 'allow', ruleId: 'reads-allow' },
  { what: 'exec over WebSocket', method: 'GET', url: '/api/v1/namespaces/default/pods/web-1/exec?command=sh&command=-c&command=ls&stdout=true', kind: 'k8s.exec', decision: 'review', ruleId: 'k8s-exec-review' },
  { what: 'attach', method: 'GET', url: '/api/v1/namespaces/default/pods/web-1/attach?stdin=true&stdout=true&tty=true', kind: 'k8s.exec', decision: 'review', ruleId: 'k8s-exec-review' },
  { what: 'port-forward', method: 'GET', url: '/api/v1/namespaces/data/pods/db-0/portforward?ports=5432', kind: 'k8s.portforward', decision: 'review', ruleId: 'k8s-exec-review' },
  { what: 'a clusterrolebinding create (RBAC)', method: 'POST', url: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'me-admin' }, roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } }, decision: 'deny', ruleId: 'privileged-deny' },
  { what: 'get pods as system:masters (impersonation)', method: 'GET', url: '/api/v1/namespaces/default/pods', headers: [['Impersonate-Group', 'system:masters']], decision: 'deny', ruleId: 'privileged-deny' },
  { what: 'a serviceaccount token request', method: 'POST', url: '/api/v1/namespaces/default/serviceaccounts/default/token', body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} }, decision: 'deny', ruleId: 'privileged-deny' },
  { what: 'delete namespace prod', method: 'DELETE', url: '/api/v1/namespaces/prod', decision: 'deny', ruleId: 'privileged-deny' },
  { what: 'a secret update', method: 'PUT', url: '/api/v1/namespaces/default/secrets/db', body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db' }, data: { p: 'eA==' } }, decision: 'deny', ruleId: 'privileged-deny' },
  { what: "a node's proxy (the kubelet API)", method: 'GET', url: '/api/v1/nodes/node-1/proxy/pods', decision: 'deny', ruleId: 'privileged-deny' },
  { what: 'a privileged pod', method: 'POST', url: '/api/v1/namespaces/default/pods', body: pod('root', { hostPID: true }), decision: 'deny', ruleId: 'privileged-deny' },
  { what: 'a dry run of an RBAC write stays privileged', method: 'POST', url: '/apis/rbac.authorization.k8s.io/v1/clusterroles?dryRun=All', body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'x' }, rules: [] }, decision: 'deny', ruleId: 'privileged-deny' },
  { what: 'an OPTIONS request (no verb: unknown)', method: 'OPTIONS', url: '/api/v1/namespaces/default/pods', decision: 'review', ruleId: 'unknown-review' },
];

function decide(c: Case) {
  const q = c.url.indexOf('?');
  const path = q < 0 ? c.url : c.url.slice(0, q);
  const query = q < 0 ? [] : [...new URLSearchParams(c.url.slice(q + 1))].map(([k, v]) => [k, v] as [string, string]);
  const text = c.body === undefined ? undefined : JSON.stringify(c.body);
  const headers = c.headers ?? [];
  const withType: Array<[string, string]> = text !== undefined && !headers.some(([k]) => k.toLowerCase() === 'content-type') ? [...headers, ['Content-Type', 'application/json']] : headers;
  const described = describeK8sRequest({ method: c.method, path, query }, { headers: withType, ...(text === undefined ? {} : { body: { bytes: new TextEncoder().encode(text), complete: true } }) });
  if ('error' in described) assert.fail(`${c.method} ${c.url} was refused before policy: ${described.error}`);
  const { classification } = described;
  const decision = policy.evaluate({ target: 'staging', protocol: 'kubernetes', kind: c.kind ?? 'k8s.request', attributes: classification.attributes });
  return { decision, classification };
}

describe('the default policy on Kubernetes requests', () => {
  for (const c of CASES) {
    test(`${c.what} → ${c.decision} (${c.ruleId})`, () => {
      const { decision, classification } = decide(c);
      assert.equal(decision.decision, c.decision, `${classification.summary}: class ${classification.class} (${classification.reasons.join('; ')})`);
      assert.equal(decision.ruleId, c.ruleId);
    });
  }

  test('the exec rule is for Kubernetes: an SSH action that somehow carried class exec is not matched by it', () => {
    const d = policy.evaluate({ target: 'web', protocol: 'ssh', kind: 'ssh.exec', attributes: { class: 'exec' } });
    assert.notEqual(d.ruleId, 'k8s-exec-review');
    assert.equal(d.decision, 'review', 'and it is still not allowed (the default reviews it)');
  });

  test('an exec into kube-system is still only a review, never an allow, whatever the command', () => {
    const { decision } = decide({ what: '', method: 'GET', url: '/api/v1/namespaces/kube-system/pods/etcd-0/exec?command=cat&command=/etc/passwd&stdout=true', kind: 'k8s.exec', decision: 'review', ruleId: '' });
    assert.equal(decision.decision, 'review');
  });
});
