import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Action, Approval, RecordingRecord, TargetStatus } from '@airlock/shared';
import { k8sBodyView, k8sExecLine, k8sExecView, k8sPortForwardLine, k8sRequestLine, k8sRequestView, k8sResponseLine, maskedSecretsOf } from '../../src/state/k8s.js';
import { actionDetail, kindCodicon, mainText, tooltipLines, type ParsedOf } from '../../src/state/kinds.js';
import { actionHeadline, approvalItem } from '../../src/state/view-models.js';
import { maskedResultFromRecords } from '../../src/state/panel-models.js';
import { buildTimeline } from '../../src/state/timeline.js';
import { kubernetesEnvironment, kubernetesTargets } from '../../src/state/terminal-env.js';
import { Timeline } from '../../src/protocol/webview-messages.js';

/**
 * How Kubernetes actions read in the extension: tree labels and tooltips in kubectl's words, the
 * approval panel's request view (verb, resource, namespace/name, dry run, impersonation, body as
 * YAML), the exec view (argv as a list), the masked-data view of a Secret, exec clips in the replay's
 * terminal lane, and the KUBECONFIG variable. Details are shaped exactly as the shared schemas say.
 */

const at = '2026-12-05T01:00:00.000Z';
const REDACTED = '[REDACTED]';
const REDACTED_BASE64 = Buffer.from(REDACTED).toString('base64');

function k8sAction(kind: string, summary: string, detail: Record<string, unknown>, attributes: Action['attributes'] = { class: 'write' }): Action {
  return { id: 'act_k1', sessionId: 'ses_1', target: 'staging', protocol: 'kubernetes', kind, summary, risk: 'high', attributes, detail, at };
}

const request = (over: Record<string, unknown> = {}) => ({
  connectionId: 'conn_1',
  method: 'DELETE',
  verb: 'delete',
  apiGroup: 'apps',
  apiVersion: 'v1',
  resource: 'deployments',
  namespace: 'prod',
  name: 'api',
  path: '/apis/apps/v1/namespaces/prod/deployments/api',
  ...over,
});

const exec = (over: Record<string, unknown> = {}) => ({
  connectionId: 'conn_2',
  operation: 'exec',
  pod: 'web-1',
  namespace: 'default',
  command: ['sh', '-c', 'rm -rf /data'],
  stdin: false,
  tty: false,
  path: '/api/v1/namespaces/default/pods/web-1/exec',
  ...over,
});

function parsed<K extends 'k8s.request' | 'k8s.exec' | 'k8s.portforward'>(action: Action, kind: K): ParsedOf<K> {
  const p = actionDetail(action);
  assert.equal(p.kind, kind, JSON.stringify(p));
  return p as ParsedOf<K>;
}

describe('k8s lines: what a request does, in kubectl words', () => {
  test('delete deployment/api -n prod; get secrets -n kube-system; a watch; a cluster-scoped get', () => {
    const del = parsed(k8sAction('k8s.request', 'x', request()), 'k8s.request');
    assert.equal(k8sRequestLine(del.detail), 'delete deployment/api -n prod');
    const list = parsed(k8sAction('k8s.request', 'x', request({ method: 'GET', verb: 'list', apiGroup: '', resource: 'secrets', namespace: 'kube-system', name: '', path: '/api/v1/namespaces/kube-system/secrets' })), 'k8s.request');
    assert.equal(k8sRequestLine(list.detail), 'get secrets -n kube-system');
    const watch = parsed(k8sAction('k8s.request', 'x', request({ method: 'GET', verb: 'watch', name: '', path: '/apis/apps/v1/namespaces/prod/deployments' })), 'k8s.request');
    assert.equal(k8sRequestLine(watch.detail), 'get deployments -n prod -w');
    const node = parsed(k8sAction('k8s.request', 'x', request({ method: 'GET', verb: 'get', apiGroup: '', resource: 'nodes', namespace: '', name: 'node-1', path: '/api/v1/nodes/node-1' })), 'k8s.request');
    assert.equal(k8sRequestLine(node.detail), 'get node/node-1');
    const policy = parsed(k8sAction('k8s.request', 'x', request({ method: 'POST', verb: 'create', apiGroup: 'networking.k8s.io', resource: 'networkpolicies', name: 'deny-all' })), 'k8s.request');
    assert.equal(k8sRequestLine(policy.detail), 'create networkpolicy/deny-all -n prod');
  });

  test('dry run and impersonation are always said; scale and rollout restart read as such', () => {
    const dry = parsed(k8sAction('k8s.request', 'x', request({ dryRun: true, impersonate: ['group:system:masters'] })), 'k8s.request');
    assert.equal(k8sRequestLine(dry.detail), 'delete deployment/api -n prod (dry run) as group:system:masters');
    const scale = parsed(k8sAction('k8s.request', 'x', request({ method: 'PATCH', verb: 'patch', subresource: 'scale', path: '/apis/apps/v1/namespaces/prod/deployments/api/scale' })), 'k8s.request');
    assert.equal(k8sRequestLine(scale.detail, { replicas: 0 }), 'scale deployment/api -n prod to 0 replicas');
    const restart = parsed(k8sAction('k8s.request', 'x', request({ method: 'PATCH', verb: 'patch' })), 'k8s.request');
    assert.equal(k8sRequestLine(restart.detail, { rolloutRestart: true }), 'rollout restart deployment/api -n prod');
    assert.equal(k8sRequestLine(restart.detail, {}), 'patch deployment/api -n prod');
  });

  test('a non-resource URL and a request with no verb read as method and path', () => {
    const version = parsed(k8sAction('k8s.request', 'x', request({ method: 'GET', verb: 'get', apiGroup: '', apiVersion: '', resource: '', namespace: '', name: '', path: '/version' })), 'k8s.request');
    assert.equal(k8sRequestLine(version.detail), 'GET /version');
    const options = parsed(k8sAction('k8s.request', 'x', request({ method: 'OPTIONS', verb: '' })), 'k8s.request');
    assert.equal(k8sRequestLine(options.detail), 'OPTIONS deployment/api -n prod');
  });

  test('adversarial names: a newline or escape sequence in a name cannot forge a second line or recolour the view', () => {
    const forged = parsed(k8sAction('k8s.request', 'x', request({ name: 'api\ndelete namespace kube-system', namespace: 'prod\u001b[2K' })), 'k8s.request');
    const line = k8sRequestLine(forged.detail);
    assert.ok(!line.includes('\n'), line);
    assert.ok(!line.includes('\u001b'), line);
    assert.match(line, /\\u\{1b\}/);
  });

  test('exec: pod, namespace, container and the argv quoted as a shell would need; attach has no command', () => {
    const e = parsed(k8sAction('k8s.exec', 'x', exec({ container: 'app' })), 'k8s.exec');
    assert.equal(k8sExecLine(e.detail), 'exec pod/web-1 -n default -c app: sh -c "rm -rf /data"');
    const attach = parsed(k8sAction('k8s.exec', 'x', exec({ operation: 'attach', command: [], stdin: true, tty: true })), 'k8s.exec');
    assert.equal(k8sExecLine(attach.detail), 'attach pod/web-1 -n default');
    const cut = parsed(k8sAction('k8s.exec', 'x', exec({ commandCut: { bytes: 70_000, keptBytes: 4096, sha256: 'ab'.repeat(32) } })), 'k8s.exec');
    assert.match(k8sExecLine(cut.detail), / …$/, 'a cut command says so');
    // a word that hides a second command in the line is quoted, not run together
    const sneaky = parsed(k8sAction('k8s.exec', 'x', exec({ command: ['ls', '; cat /etc/shadow', '$(id)'] })), 'k8s.exec');
    assert.equal(k8sExecLine(sneaky.detail), 'exec pod/web-1 -n default: ls "; cat /etc/shadow" "\\$(id)"');
  });

  test('port-forward lists its ports', () => {
    const pf = parsed(k8sAction('k8s.portforward', 'x', { connectionId: 'c', pod: 'db-0', namespace: 'data', ports: ['5432', '8080'], path: '/api/v1/namespaces/data/pods/db-0/portforward' }), 'k8s.portforward');
    assert.equal(k8sPortForwardLine(pf.detail), 'port-forward pod/db-0 -n data 5432,8080');
  });
});

describe('k8s actions in the tree views', () => {
  test('the daemon summary when it fits; the kind\'s own line, cut, when it does not', () => {
    const action = k8sAction('k8s.request', 'delete deployment/api -n prod', request());
    assert.equal(actionHeadline(action, 80), 'delete deployment/api -n prod');
    const long = k8sAction('k8s.request', `delete deployment/${'a'.repeat(200)} -n prod`, request({ name: 'a'.repeat(200) }));
    const headline = actionHeadline(long, 40);
    assert.equal(headline.length, 40);
    assert.match(headline, /^delete deployment\/a+…$/);
  });

  test('a held exec: its line as label, pod and stdin/tty in the tooltip, a terminal icon', () => {
    const action = k8sAction('k8s.exec', 'exec pod/web-1 -n default: sh -c "rm -rf /data"', exec({ stdin: true, tty: true }), { class: 'exec' });
    const approval: Approval = { id: 'apr_k', action, ruleId: 'k8s-exec-review', reason: 'exec waits', requestedAt: at, expiresAt: '2026-12-05T01:05:00.000Z', status: 'pending' };
    const item = approvalItem(approval, Date.parse(at));
    assert.equal(item.label, 'exec pod/web-1 -n default: sh -c "rm -rf /data"');
    assert.match(item.tooltip, /exec in pod default\/web-1/);
    assert.match(item.tooltip, /stdin, tty: the session is recorded/);
    assert.equal(item.icon, 'terminal');
    assert.equal(kindCodicon(action), 'terminal');
    assert.equal(mainText(action), 'exec pod/web-1 -n default: sh -c "rm -rf /data"');
  });

  test('a request tooltip names the path, the dry run and the impersonation attempt', () => {
    const lines = tooltipLines(k8sAction('k8s.request', 's', request({ dryRun: true, impersonate: ['user:admin'] })));
    assert.deepEqual(lines, ['DELETE /apis/apps/v1/namespaces/prod/deployments/api', 'server-side dry run: nothing is changed', 'asked to impersonate user:admin (headers removed)']);
  });

  test('a k8s detail that breaks its schema is shown as recorded, not as a request', () => {
    const broken = k8sAction('k8s.request', 'delete something', { method: 'DELETE' });
    assert.equal(actionDetail(broken).kind, 'other');
    assert.equal(mainText(broken), 'delete something');
  });
});

describe('the approval panel: request and exec views', () => {
  test('verb, resource with its group, namespace/name, query, class, impersonation warnings', () => {
    const p = parsed(k8sAction('k8s.request', 's', request({ query: [['propagationPolicy', 'Foreground']], impersonate: ['user:alice', 'group:system:masters'], patchType: 'merge', bodyKind: 'DeleteOptions' })), 'k8s.request');
    const v = k8sRequestView(p.detail, { class: 'privileged' });
    assert.equal(v.verb, 'delete');
    assert.equal(v.resource, 'apps/v1 deployments');
    assert.equal(v.object, 'prod/api');
    assert.deepEqual(v.query, ['propagationPolicy=Foreground']);
    assert.equal(v.class, 'privileged');
    assert.equal(v.impersonation.length, 2);
    assert.match(v.impersonation[1]!, /act as group:system:masters: the Impersonate headers were removed/);
    const core = parsed(k8sAction('k8s.request', 's', request({ method: 'GET', verb: 'list', apiGroup: '', resource: 'pods', subresource: 'log', name: '' })), 'k8s.request');
    assert.equal(k8sRequestView(core.detail).resource, 'v1 pods/log');
    assert.equal(k8sRequestView(core.detail).object, 'prod (all pods)');
    const cluster = parsed(k8sAction('k8s.request', 's', request({ verb: 'list', namespace: '', name: '' })), 'k8s.request');
    assert.equal(k8sRequestView(cluster.detail).object, '(cluster-wide)');
  });

  test('the request body as YAML, keys in order; masked values stay masked', () => {
    const body = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: 'prod' }, spec: { replicas: 3, template: { spec: { containers: [{ name: 'app', image: 'nginx:1.27', env: [{ name: 'DB_PASSWORD', value: REDACTED }] }] } } } };
    const v = k8sBodyView({ text: JSON.stringify(body), bytes: 300, contentType: 'application/json', treatment: 'json' })!;
    assert.equal(v.format, 'yaml');
    assert.match(v.text, /^apiVersion: apps\/v1\nkind: Deployment\nmetadata:\n {2}name: api\n/);
    assert.match(v.text, /- name: DB_PASSWORD\n\s+value: "\[REDACTED\]"/);
  });

  test('a body cut to its head, or one that is not JSON, is shown as recorded with the cut said', () => {
    const cut = k8sBodyView({ text: '{"apiVersion":"v1","kind":"ConfigMap","data":{"a":"', cut: { bytes: 104_857_600, keptBytes: 65_536, sha256: 'cd'.repeat(32) }, bytes: 104_857_600, treatment: 'json' })!;
    assert.equal(cut.format, 'as-recorded');
    assert.match(cut.note!, /body/);
    assert.match(cut.note!, /head is shown as recorded/);
    const yamlApply = k8sBodyView({ text: 'apiVersion: v1\nkind: ConfigMap\n', bytes: 30, contentType: 'application/apply-patch+yaml', treatment: 'text' })!;
    assert.deepEqual(yamlApply, { text: 'apiVersion: v1\nkind: ConfigMap\n', format: 'as-recorded' });
    assert.equal(k8sBodyView(undefined), undefined);
    assert.equal(k8sBodyView({ bytes: 10, treatment: 'binary' }), undefined, 'a binary body has no text to show');
    // a scalar JSON body is no object: shown as recorded, not as a YAML scalar
    assert.equal(k8sBodyView({ text: '"x"', bytes: 3, treatment: 'json' })!.format, 'as-recorded');
  });

  test('exec: pod, namespace, default container, argv one word per entry, stdin/tty and what is recorded', () => {
    const p = parsed(k8sAction('k8s.exec', 's', exec({ stdin: true, tty: true, command: ['bash', '-c', 'echo\u0007hi'] })), 'k8s.exec');
    const v = k8sExecView(p.detail);
    assert.deepEqual([v.pod, v.namespace, v.container], ['web-1', 'default', '(the pod’s default container)']);
    assert.deepEqual(v.argv, ['bash', '-c', 'echo\\u{7}hi']);
    assert.equal(v.stdin, true);
    assert.equal(v.tty, true);
    assert.match(v.recording, /and input are recorded/);
    const quiet = k8sExecView(parsed(k8sAction('k8s.exec', 's', exec({ container: 'side' })), 'k8s.exec').detail);
    assert.equal(quiet.container, 'side');
    assert.doesNotMatch(quiet.recording, /input/);
  });
});

describe('the masked-data view: a Secret keeps its keys, never its values', () => {
  const secret = (name: string, data: Record<string, string>, stringData?: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'prod' }, type: 'Opaque', data, ...(stringData ? { stringData } : {}) });
  const excerpt = (value: unknown) => ({ text: JSON.stringify(value), bytes: 200, contentType: 'application/json', treatment: 'json' as const });

  test('one Secret: each key with the marker the agent got (data decoded from base64)', () => {
    const views = maskedSecretsOf(excerpt(secret('db', { password: REDACTED_BASE64, username: REDACTED_BASE64 }, { extra: REDACTED })));
    assert.equal(views.length, 1);
    assert.deepEqual(views[0], {
      name: 'db',
      namespace: 'prod',
      type: 'Opaque',
      entries: [
        { map: 'data', key: 'password', shown: REDACTED, masked: true },
        { map: 'data', key: 'username', shown: REDACTED, masked: true },
        { map: 'stringData', key: 'extra', shown: REDACTED, masked: true },
      ],
    });
  });

  test('a SecretList (items carry no kind) and a watch stream of events', () => {
    const list = { apiVersion: 'v1', kind: 'SecretList', items: [{ metadata: { name: 'a', namespace: 'prod' }, data: { k: REDACTED_BASE64 } }, { metadata: { name: 'b', namespace: 'prod' }, data: {} }] };
    assert.deepEqual(maskedSecretsOf(excerpt(list)).map((s) => [s.name, s.entries.length]), [['a', 1], ['b', 0]]);
    const events = [{ type: 'ADDED', object: secret('w1', { t: REDACTED_BASE64 }) }, { type: 'MODIFIED', object: secret('w2', { t: REDACTED_BASE64 }) }].map((e) => JSON.stringify(e)).join('\n');
    assert.deepEqual(maskedSecretsOf({ text: events, bytes: events.length, treatment: 'ndjson' }).map((s) => s.name), ['w1', 'w2']);
  });

  test('a value that reached the agent unmasked is shown as not masked, never dressed up as masked', () => {
    const leaked = maskedSecretsOf(excerpt(secret('leak', { password: Buffer.from('hunter2').toString('base64') })));
    assert.equal(leaked[0]!.entries[0]!.masked, false);
    assert.equal(leaked[0]!.entries[0]!.shown, Buffer.from('hunter2').toString('base64'));
    // a marker-looking text in data that is not base64 of a marker is not taken for one
    assert.equal(maskedSecretsOf(excerpt(secret('odd', { password: REDACTED })))[0]!.entries[0]!.masked, false);
  });

  test('no Secrets in a pod list; a body cut to its head is not parsed', () => {
    assert.deepEqual(maskedSecretsOf(excerpt({ kind: 'PodList', items: [{ metadata: { name: 'p' }, data: { x: REDACTED } }] })), []);
    assert.deepEqual(maskedSecretsOf({ text: '{"kind":"Secret","data":{"a":"', cut: { bytes: 9, keptBytes: 5, sha256: 'ab'.repeat(32) }, bytes: 9, treatment: 'json' }), []);
  });

  test('the response line: status, kind, items, the Status reason', () => {
    assert.equal(k8sResponseLine({ status: 200, kind: 'SecretList', itemCount: 3 }), '200 SecretList, 3 items');
    assert.equal(k8sResponseLine({ status: 403, kind: 'Status', reason: 'Forbidden', message: 'refused by Airlock' }), '403 Status · Forbidden: refused by Airlock');
    assert.equal(k8sResponseLine({}), 'no response');
  });
});

describe('the replay: kubectl exec plays in the terminal lane', () => {
  const prev = 'a'.repeat(64);
  const ts = (ms: number) => new Date(Date.parse(at) + ms).toISOString();
  const cast = '{"version":2,"width":80,"height":24}\n[0.1,"o","total 0\\r\\n"]\n[0.5,"i","exit\\r"]\n[0.9,"o","bye\\r\\n"]\n';

  function records(): RecordingRecord[] {
    const execAction = k8sAction('k8s.exec', 'exec pod/web-1 -n default: sh', exec({ command: ['sh'], stdin: true, tty: true }), { class: 'exec' });
    const getAction = { ...k8sAction('k8s.request', 'get secret/db -n prod', request({ method: 'GET', verb: 'get', apiGroup: '', resource: 'secrets', name: 'db', path: '/api/v1/namespaces/prod/secrets/db' }), { class: 'read' }), id: 'act_k2' };
    const secretBody = JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'prod' }, data: { password: REDACTED_BASE64 } });
    return [
      { seq: 0, ts: ts(0), type: 'header', prev: null, version: 1, recordingId: 'rec_k', agentSessionId: 'ses_1', agentSessionName: 'agent', nonce: 'b'.repeat(32) },
      { seq: 1, ts: ts(100), type: 'action', prev, action: execAction, decision: { decision: 'review', ruleId: 'k8s-exec-review', reason: 'exec waits' } },
      { seq: 2, ts: ts(200), type: 'outcome', prev, verdict: { actionId: 'act_k1', allowed: true, via: 'approval', ruleId: 'k8s-exec-review', reason: 'approved' } },
      { seq: 3, ts: ts(1_300), type: 'result', prev, actionId: 'act_k1', summary: 'exit 0', durationMs: 1_100, detail: { exitCode: 0, asciicast: cast, bytesIn: 5, bytesOut: 16, closedBy: 'upstream' } },
      { seq: 4, ts: ts(1_400), type: 'action', prev, action: getAction, decision: { decision: 'allow', ruleId: 'reads-allow', reason: 'reads' } },
      { seq: 5, ts: ts(1_450), type: 'result', prev, actionId: 'act_k2', summary: '200 Secret', durationMs: 3, detail: { status: 200, kind: 'Secret', body: { text: secretBody, bytes: secretBody.length, contentType: 'application/json', treatment: 'json' }, requestBytes: 0, maskReport: { cells: 1, byDetector: { 'k8s-secret': 1 } } } },
    ];
  }

  test('the exec result becomes a terminal clip with its exit code; input frames are not played', () => {
    const timeline = buildTimeline(records());
    assert.equal(timeline.terminals.length, 1);
    const clip = timeline.terminals[0]!;
    assert.equal(clip.actionId, 'act_k1');
    assert.equal(clip.exitStatus, 0);
    assert.equal(clip.truncated, false);
    assert.equal(clip.duration, 900);
    const entry = timeline.entries.find((e) => e.actionId === 'act_k1')!;
    assert.deepEqual(entry.result?.k8sExec, { exitCode: 0, bytesIn: 5, bytesOut: 16, bytesErr: 0, closedBy: 'upstream' });
    assert.equal(Timeline.safeParse(timeline).success, true, 'the webview accepts it');
    assert.deepEqual(timeline.protocols, ['kubernetes']);
  });

  test('an exec whose clip was cut, or that never reported an exit, says so', () => {
    const rs = records();
    rs[3] = { ...(rs[3] as Extract<RecordingRecord, { type: 'result' }>), detail: { asciicast: cast, asciicastCut: { bytes: 9_000_000, keptBytes: 1_000, sha256: 'ef'.repeat(32) }, bytesIn: 0, bytesOut: 9_000_000, closedBy: 'limit' } };
    const clip = buildTimeline(rs).terminals[0]!;
    assert.equal(clip.truncated, true);
    assert.equal(clip.exitStatus, null);
  });

  test('the Secret read opens in the masked-data view with its response', () => {
    const action = (records()[4] as Extract<RecordingRecord, { type: 'action' }>).action;
    const state = maskedResultFromRecords(action, records(), 'allowed');
    assert.equal(state.note, undefined, 'no "had no rows" note for a Kubernetes response');
    assert.equal(state.result?.k8s?.kind, 'Secret');
    assert.equal(state.result?.maskReport?.cells, 1);
    assert.deepEqual(maskedSecretsOf(state.result?.k8s?.body)[0]?.entries, [{ map: 'data', key: 'password', shown: REDACTED, masked: true }]);
  });
});

describe('terminal routing: KUBECONFIG for new terminals', () => {
  const status = (name: string, protocol: TargetStatus['target']['protocol'], state: TargetStatus['state'] = 'listening'): TargetStatus => ({
    target: { name, protocol, upstream: 'https://10.0.0.1:6443', listen: { host: '127.0.0.1', port: 7443 } },
    state,
    address: '127.0.0.1:7443',
  });

  test('only listening kubernetes targets turn it on', () => {
    const targets = [status('db', 'postgres'), status('staging', 'kubernetes'), status('prod', 'kubernetes', 'error'), status('web', 'ssh')];
    assert.deepEqual(kubernetesTargets(targets).map((t) => t.target.name), ['staging']);
    assert.deepEqual(kubernetesTargets([status('db', 'postgres')]), []);
  });

  test('KUBECONFIG is the path the daemon wrote, as given (a path with spaces needs no quoting in an env var)', () => {
    assert.deepEqual(kubernetesEnvironment('/home/u/.airlock/kube/ses_1.kubeconfig'), { KUBECONFIG: '/home/u/.airlock/kube/ses_1.kubeconfig' });
    assert.deepEqual(kubernetesEnvironment('/tmp/a b/k'), { KUBECONFIG: '/tmp/a b/k' });
  });
});
