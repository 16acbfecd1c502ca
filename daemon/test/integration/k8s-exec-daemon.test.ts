import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { K8sExecDetail, K8sExecResultDetail } from '@airlock/shared';
import { pendingApproval } from '../helpers/daemon-harness.js';
import { startK8sProxy, type K8sProxyHarness } from '../helpers/k8s-proxy.js';

/**
 * exec through the real daemon: Debian's kubectl 1.32 → the Kubernetes listener (HTTPS, the daemon's
 * CA, the session token) → handleK8sUpgrade → the in-test fake API server (no real API server can
 * run here; fake-kube-apiserver.ts speaks the remotecommand protocol over WebSocket). Checks what the
 * recording keeps: the k8s.exec action and its result with the asciicast clip and exit status.
 */

const POLICY = JSON.stringify({
  rules: [
    { id: 'no-rm', decision: 'deny', match: { kinds: 'k8s.exec', attributes: { command: 'rm' } } },
    { id: 'held-pod', decision: 'review', timeout: '30s', match: { kinds: 'k8s.exec', attributes: { name: 'held-pod' } } },
    { id: 'exec-allowed', decision: 'allow', match: { kinds: 'k8s.exec' } },
    { id: 'no-ssh-forward', decision: 'deny', match: { kinds: 'k8s.portforward', attributes: { ports: '22' } } },
    { id: 'forward-allowed', decision: 'allow', match: { kinds: 'k8s.portforward' } },
    { id: 'reads', decision: 'allow', match: { kinds: 'k8s.request', attributes: { class: 'read' } } },
  ],
});

const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } });

interface Paired {
  action: Record<string, unknown>;
  result?: Record<string, unknown>;
}

/** The k8s.exec actions of the recording with their results. */
async function execRecords(h: K8sProxyHarness): Promise<Paired[]> {
  const records = await h.records();
  const bodies = records.map((r) => (r.body ?? r) as Record<string, unknown>);
  const actions = bodies.filter((b) => b.type === 'action' && (b.action as { kind?: string } | undefined)?.kind === 'k8s.exec');
  return actions.map((a) => {
    const action = a.action as Record<string, unknown>;
    const result = bodies.find((b) => b.type === 'result' && b.actionId === action.id);
    return { action, ...(result ? { result } : {}) };
  });
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const commandOf = (p: Paired) => ((p.action.detail as { command?: string[] }).command ?? []).join(' ');

describe('kubernetes exec through the daemon', () => {
  let h: K8sProxyHarness;
  before(async () => {
    h = await startK8sProxy({ policy: POLICY });
    for (const name of ['held-pod', 'web-0', 'cut-pod']) h.fake.create('pods', 'default', pod(name));
  });
  after(async () => h?.stop());

  test('kubectl exec held-pod -- echo hi: held, approved, "hi" printed; recorded with the clip and exit 0', { timeout: 60_000 }, async () => {
    const run = h.kubectl.run(['--context', 'staging', 'exec', 'held-pod', '--', 'echo', 'hi']);
    const approval = await pendingApproval(h.daemon);
    assert.match(approval.action.summary, /held-pod/);
    assert.ok(!h.fake.execs.some((e) => e.pod === 'held-pod'), 'nothing ran while held');
    assert.equal((await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, { by: 'alice', via: 'api' })).status, 200);
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hi\n');
    const paired = await until(async () => (await execRecords(h)).find((p) => commandOf(p) === 'echo hi' && p.result), 'the exec result');
    const detail = K8sExecDetail.parse(paired.action.detail);
    assert.equal(detail.pod, 'held-pod');
    const result = K8sExecResultDetail.parse(paired.result!.detail);
    assert.equal(result.exitCode, 0);
    assert.match(result.asciicast ?? '', /"o", "hi\\n"\]/);
    assert.match(result.asciicast ?? '', /"m", "exit 0"\]/);
    for (const q of h.fake.requests.filter((x) => x.upgrade === 'websocket')) assert.equal(q.authorization, `Bearer ${h.fake.token}`, 'the daemon credential upstream');
  });

  test("kubectl exec -- sh -c 'exit 3' exits 3 through the daemon", { timeout: 40_000 }, async () => {
    const r = await h.kubectl.run(['--context', 'staging', 'exec', 'web-0', '--', 'sh', '-c', 'exit 3']);
    assert.equal(r.code, 3, r.stderr);
    const paired = await until(async () => (await execRecords(h)).find((p) => commandOf(p) === 'sh -c exit 3' && p.result), 'the exec result');
    assert.equal(K8sExecResultDetail.parse(paired.result!.detail).exitCode, 3);
  });

  test('SPDY is refused with the message; a denied exec never reaches the fake and kubectl prints why', { timeout: 40_000 }, async () => {
    const spdy = await h.kubectl.run(['--context', 'staging', 'exec', 'web-0', '--', 'echo', 'old'], { env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' } });
    assert.notEqual(spdy.code, 0);
    assert.match(spdy.stderr, /Airlock proxies exec and attach over WebSocket only, not SPDY; use kubectl 1\.30 or later without KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false/);
    assert.ok(!h.fake.requests.some((q) => q.upgrade === 'spdy/3.1'));
    const denied = await h.kubectl.run(['--context', 'staging', 'exec', 'web-0', '--', 'rm', '-rf', '/']);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /Airlock refused this request on target "staging" \(action \S+, rule no-rm\)/);
    assert.ok(!h.fake.execs.some((e) => e.command[0] === 'rm'));
    assert.ok(!h.fake.requests.some((q) => q.path.endsWith('/exec') && q.query.command?.[0] === 'rm'));
  });

  test('a stream cut mid-way (sleep 30, the agent goes) is recorded as closed by the agent', { timeout: 40_000 }, async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${h.port}/api/v1/namespaces/default/pods/cut-pod/exec?command=sleep&command=30&stdout=true`, ['v5.channel.k8s.io'], { ca: h.daemonCaPem, headers: { Authorization: `Bearer ${h.token}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await until(async () => (h.fake.execs.some((e) => e.pod === 'cut-pod') ? true : undefined), 'the exec to start');
    ws.terminate();
    const paired = await until(async () => (await execRecords(h)).find((p) => commandOf(p) === 'sleep 30' && p.result), 'the exec result');
    const result = K8sExecResultDetail.parse(paired.result!.detail);
    assert.equal(result.closedBy, 'agent');
    assert.equal(result.exitCode, undefined);
  });

  test('a v4 port-forward to a denied port is refused by policy before the upstream is dialled', { timeout: 40_000 }, async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${h.port}/api/v1/namespaces/default/pods/web-0/portforward?ports=22`, ['v4.channel.k8s.io'], { ca: h.daemonCaPem, headers: { Authorization: `Bearer ${h.token}` } });
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.once('open', () => reject(new Error('the port-forward opened')));
    });
    assert.equal(answer.status, 403);
    const status = JSON.parse(answer.body) as { kind: string; reason: string; message: string };
    assert.equal(status.kind, 'Status');
    assert.equal(status.reason, 'Forbidden');
    assert.match(status.message, /rule no-ssh-forward/);
    assert.ok(!h.fake.requests.some((q) => q.path.endsWith('/portforward')));
    const records = (await h.records()).map((r) => (r.body ?? r) as { type?: string; action?: { kind?: string; attributes?: Record<string, unknown> } });
    const action = records.find((b) => b.type === 'action' && b.action?.kind === 'k8s.portforward');
    assert.deepEqual(action?.action?.attributes?.ports, ['22']);
  });
});
