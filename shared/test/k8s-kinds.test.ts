import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ACTION_KINDS, parseActionDetail } from '../src/index.js';
import {
  K8sExecDetail,
  K8sExecResultDetail,
  K8sPortForwardDetail,
  K8sPortForwardResultDetail,
  K8sRequestDetail,
  K8sResponseResultDetail,
} from '../src/kinds/k8s.js';

const sha256 = 'cd'.repeat(32);

const deleteRequest = {
  connectionId: 'conn_1',
  method: 'DELETE',
  verb: 'delete',
  apiGroup: 'apps',
  apiVersion: 'v1',
  resource: 'deployments',
  namespace: 'prod',
  name: 'api',
  path: '/apis/apps/v1/namespaces/prod/deployments/api',
  query: [['propagationPolicy', 'Background']],
  dryRun: false,
  body: { text: '{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}', bytes: 72, contentType: 'application/json', treatment: 'json' },
};

describe('Kubernetes action details (k8s.request, k8s.exec, k8s.portforward) and their results', () => {
  test('a delete request detail parses, with defaults for what a cluster-scoped or plain request lacks', () => {
    const parsed = K8sRequestDetail.parse(deleteRequest);
    assert.equal(parsed.subresource, '');
    assert.deepEqual(parsed.impersonate, []);
    assert.equal(parsed.body?.treatment, 'json');
    const clusterScoped = K8sRequestDetail.parse({ connectionId: 'c', method: 'GET', verb: 'list', apiGroup: '', apiVersion: 'v1', resource: 'nodes', path: '/api/v1/nodes' });
    assert.equal(clusterScoped.namespace, '');
    assert.equal(clusterScoped.name, '');
    assert.equal(clusterScoped.dryRun, false);
  });

  test('a request detail with a query that is not name/value pairs, or an unknown connect, is refused', () => {
    assert.equal(K8sRequestDetail.safeParse({ ...deleteRequest, query: { dryRun: 'All' } }).success, false);
    assert.equal(K8sRequestDetail.safeParse({ ...deleteRequest, connect: 'shell' }).success, false);
    assert.equal(K8sRequestDetail.safeParse({ ...deleteRequest, patchType: 'xml' }).success, false);
    const { path: _path, ...withoutPath } = deleteRequest;
    assert.equal(K8sRequestDetail.safeParse(withoutPath).success, false);
  });

  test('an exec detail keeps the argv as a list and the agreed subprotocol; a command given as one string is refused', () => {
    const exec = K8sExecDetail.parse({
      connectionId: 'conn_2',
      operation: 'exec',
      pod: 'web-1',
      namespace: 'default',
      container: 'app',
      command: ['sh', '-c', 'rm -rf /data'],
      commandCut: { bytes: 70_000, keptBytes: 4096, sha256 },
      stdin: true,
      tty: true,
      protocol: 'v5.channel.k8s.io',
      path: '/api/v1/namespaces/default/pods/web-1/exec',
    });
    assert.deepEqual(exec.command, ['sh', '-c', 'rm -rf /data']);
    assert.equal(exec.stdout, true);
    assert.equal(K8sExecDetail.safeParse({ ...exec, command: 'sh -c "rm -rf /data"' }).success, false);
    assert.equal(K8sExecDetail.safeParse({ ...exec, protocol: 'SPDY/3.1' }).success, false, 'SPDY is refused, so it is no protocol of a recorded exec');
    assert.equal(K8sExecDetail.safeParse({ ...exec, pod: '' }).success, false);
  });

  test('a port-forward detail and its per-port byte counts parse; negative counts do not', () => {
    K8sPortForwardDetail.parse({ connectionId: 'c', pod: 'db-0', namespace: 'data', ports: ['5432'], protocol: 'v2.portforward.k8s.io', path: '/api/v1/namespaces/data/pods/db-0/portforward' });
    const result = K8sPortForwardResultDetail.parse({ ports: [{ port: '5432', bytesUp: 10, bytesDown: 2000 }], closedBy: 'agent' });
    assert.equal(result.ports[0]?.bytesDown, 2000);
    assert.equal(K8sPortForwardResultDetail.safeParse({ ports: [{ port: '5432', bytesUp: -1, bytesDown: 0 }] }).success, false);
  });

  test('response results: a list with its kind and item count, a Forbidden Status, a response that never came', () => {
    const list = K8sResponseResultDetail.parse({ status: 200, kind: 'SecretList', itemCount: 3, body: { text: '{"items":[…]}', cut: { bytes: 900_000, keptBytes: 65_536, sha256 }, bytes: 900_000, treatment: 'json' }, requestBytes: 0 });
    assert.equal(list.itemCount, 3);
    K8sResponseResultDetail.parse({ status: 403, kind: 'Status', reason: 'Forbidden', message: 'refused by Airlock', requestBytes: 120 });
    K8sResponseResultDetail.parse({ requestBytes: 0 });
    assert.equal(K8sResponseResultDetail.safeParse({ status: 200, itemCount: -1, requestBytes: 0 }).success, false);
    assert.equal(K8sResponseResultDetail.safeParse({ status: 200 }).success, false, 'requestBytes is always recorded');
  });

  test('exec results: exit code, asciicast clip and byte counts', () => {
    const ok = K8sExecResultDetail.parse({ exitCode: 0, asciicast: '{"version":2,"width":80,"height":24}\n[0.1,"o","hi\\r\\n"]\n', bytesIn: 0, bytesOut: 4, closedBy: 'upstream' });
    assert.equal(ok.bytesErr, 0);
    K8sExecResultDetail.parse({ exitCode: 137, error: 'command terminated with non-zero exit code', bytesIn: 12, bytesOut: 0, bytesErr: 30 });
    assert.equal(K8sExecResultDetail.safeParse({ exitCode: 1.5, bytesIn: 0, bytesOut: 0 }).success, false);
    assert.equal(K8sExecResultDetail.safeParse({ bytesIn: 0, bytesOut: 0, closedBy: 'kubelet' }).success, false);
  });

  test('the Kubernetes kinds are in ACTION_KINDS with these schemas, so a recorded k8s action parses typed', () => {
    assert.equal(ACTION_KINDS['k8s.request'].detail, K8sRequestDetail);
    assert.equal(ACTION_KINDS['k8s.request'].result, K8sResponseResultDetail);
    assert.equal(ACTION_KINDS['k8s.exec'].detail, K8sExecDetail);
    assert.equal(ACTION_KINDS['k8s.exec'].result, K8sExecResultDetail);
    assert.equal(ACTION_KINDS['k8s.portforward'].detail, K8sPortForwardDetail);
    assert.equal(ACTION_KINDS['k8s.portforward'].result, K8sPortForwardResultDetail);
    const parsed = parseActionDetail({ kind: 'k8s.request', detail: deleteRequest });
    assert.equal(parsed.kind, 'k8s.request');
    // a k8s.exec detail recorded under k8s.request is not silently typed as one
    assert.equal(parseActionDetail({ kind: 'k8s.request', detail: { connectionId: 'c', operation: 'exec', pod: 'p', namespace: 'n', stdin: false, tty: false, path: '/x' } }).kind, 'other');
  });
});
