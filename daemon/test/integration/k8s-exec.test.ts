import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { WebSocket } from 'ws';
import { K8sExecDetail, K8sExecResultDetail } from '@airlock/shared';
import { startFakeKubeApiServer, type FakeKubeApiServer } from '../helpers/fake-kube-apiserver.js';
import { fakePodEnvironment } from '../helpers/fake-kube-exec.js';
import { kubeconfigText, kubectlFor, writeKubeconfig, type Kubectl } from '../helpers/kubectl.js';
import { leafFromAnotherCa, makeTestCa, type TestCa } from '../helpers/test-ca.js';
import { startExecHarness, type ExecHarness } from '../helpers/k8s-exec-harness.js';
import { manualClock } from '../helpers/manual-clock.js';
import { clientNodeExec } from '../helpers/client-node-exec.js';

/**
 * exec and attach streams through Airlock's handler (`handleK8sUpgrade`): Debian's kubectl 1.32 and
 * @kubernetes/client-node against the in-test fake Kubernetes API server (no real API server can run
 * on these machines; the fake speaks the real wire format: remotecommand v5/v4 over WebSocket). The
 * handler runs behind a small HTTPS server of the test's own (helpers/k8s-exec-harness.ts) with the
 * real action pipeline; once the Kubernetes listener lands, the same handler is reached through it.
 */

const POLICY = {
  rules: [
    { id: 'no-rm', decision: 'deny', match: { kinds: 'k8s.exec', attributes: { command: 'rm' } } },
    { id: 'held-pod', decision: 'review', timeout: '30s', match: { kinds: 'k8s.exec', attributes: { name: 'held-pod' } } },
    { id: 'exec-allowed', decision: 'allow', match: { kinds: ['k8s.exec', 'k8s.portforward'] } },
  ],
};

const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } });

const castEvents = (cast: string | undefined): [string, string][] =>
  (cast ?? '')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => (JSON.parse(l) as [number, string, string]).slice(1) as [string, string]);

describe('kubernetes exec through Airlock (kubectl, client-node, raw WebSocket)', () => {
  let ca: TestCa;
  let fake: FakeKubeApiServer;
  let harness: ExecHarness;
  let dir: string;
  let kubectl: Kubectl;
  let kubeconfig: string;

  before(async () => {
    ca = await makeTestCa();
    fake = await startFakeKubeApiServer({ tls: await ca.leaf() });
    for (const name of ['web-0', 'held-pod', 'cut-pod']) fake.create('pods', 'default', pod(name));
    harness = await startExecHarness({ fake, ca, policy: POLICY });
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-k8s-exec-kubectl-'));
    const options = { server: harness.url, caPem: ca.certPem, token: 'agent-session-token' };
    kubeconfig = kubeconfigText(options);
    kubectl = kubectlFor(writeKubeconfig(dir, options), dir, 40_000);
  });

  after(async () => {
    await harness?.close();
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const execsOf = (command: string) => fake.execs.filter((e) => e.command.join(' ') === command);

  test('kubectl exec -- echo hi: held, approved, relayed over v5, recorded with "hi" and exit 0', { timeout: 60_000 }, async () => {
    const running = kubectl.run(['exec', 'held-pod', '--', 'echo', 'hi']);
    const approval = await harness.nextApproval();
    assert.equal(execsOf('echo hi').length, 0, 'nothing reached the API server while held');
    const detail = K8sExecDetail.parse(approval.action.detail);
    assert.deepEqual([detail.pod, detail.namespace, detail.command, detail.operation], ['held-pod', 'default', ['echo', 'hi'], 'exec']);
    assert.deepEqual(approval.action.attributes.command, ['echo', 'hi']);
    harness.broker.approve(approval.id, { by: 'test', via: 'api', scope: 'once' });
    const out = await running;
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, 'hi\n');
    assert.equal(execsOf('echo hi')[0]?.protocol, 'v5.channel.k8s.io');
    const { result } = await harness.resultFor((a) => a.id === approval.action.id);
    const recorded = K8sExecResultDetail.parse(result.detail);
    assert.equal(recorded.exitCode, 0);
    assert.deepEqual(castEvents(recorded.asciicast), [
      ['o', 'hi\n'],
      ['m', 'exit 0'],
    ]);
    assert.equal(recorded.closedBy, 'upstream');
  });

  test("kubectl exec -- sh -c 'exit 3' exits 3, and the result says so", { timeout: 40_000 }, async () => {
    const out = await kubectl.run(['exec', 'web-0', '--', 'sh', '-c', 'exit 3']);
    assert.equal(out.code, 3, out.stderr);
    assert.match(out.stderr, /command terminated with exit code 3/);
    const { result } = await harness.resultFor((a) => (a.attributes.command as string[] | undefined)?.join(' ') === 'sh -c exit 3');
    const recorded = K8sExecResultDetail.parse(result.detail);
    assert.equal(recorded.exitCode, 3);
    assert.match(recorded.error ?? '', /non-zero exit code/);
    assert.match(result.summary, /exit 3/);
  });

  test('kubectl exec -i cat: stdin reaches the pod, comes back, and is recorded as input', { timeout: 40_000 }, async () => {
    const out = await kubectl.run(['exec', '-i', 'web-0', '--', 'cat'], { stdin: 'line one\nline two\n' });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, 'line one\nline two\n');
    const fakeCat = execsOf('cat').at(-1);
    assert.equal(fakeCat?.stdin.toString(), 'line one\nline two\n');
    assert.equal(fakeCat?.stdinClosed, true, 'the v5 close of stdin passed');
    const { result } = await harness.resultFor((a) => (a.attributes.command as string[] | undefined)?.join(' ') === 'cat');
    const recorded = K8sExecResultDetail.parse(result.detail);
    const events = castEvents(recorded.asciicast);
    assert.equal(
      events
        .filter(([t]) => t === 'i')
        .map(([, d]) => d)
        .join(''),
      'line one\nline two\n',
    );
    assert.ok(events.some(([t, d]) => t === 'm' && d === 'stdin closed'));
    assert.equal(recorded.bytesIn, 'line one\nline two\n'.length);
    assert.equal(recorded.exitCode, 0);
  });

  test('secret-looking output is masked for the agent and in the clip; plain values pass', { timeout: 40_000 }, async () => {
    const out = await kubectl.run(['exec', 'web-0', '--', 'printenv']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /HOSTNAME=web-0\n/);
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      assert.ok(!out.stdout.includes(fakePodEnvironment[name]!), `${name} masked: ${out.stdout}`);
      assert.match(out.stdout, new RegExp(`${name}=`));
    }
    assert.ok(!out.stdout.includes('Sup3r-s3cret-pa55word'), 'the password in the URL masked');
    const { result } = await harness.resultFor((a) => (a.attributes.command as string[] | undefined)?.join(' ') === 'printenv');
    const recorded = K8sExecResultDetail.parse(result.detail);
    assert.ok(!recorded.asciicast!.includes(fakePodEnvironment.AWS_ACCESS_KEY_ID!));
    assert.ok(result.maskReport && result.maskReport.cells > 0, 'the mask report counts what was masked');
  });

  test('SPDY (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false) is refused with a message kubectl prints; nothing reaches the API server', { timeout: 40_000 }, async () => {
    const before = fake.requests.filter((r) => r.upgrade === 'spdy/3.1').length;
    const out = await kubectl.run(['exec', 'web-0', '--', 'echo', 'old'], { env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' } });
    assert.notEqual(out.code, 0);
    assert.equal(out.stdout, '');
    assert.match(out.stderr, /Airlock proxies exec and attach over WebSocket only, not SPDY; use kubectl 1\.30 or later without KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false/);
    assert.equal(fake.requests.filter((r) => r.upgrade === 'spdy/3.1').length, before);
    assert.equal(execsOf('echo old').length, 0);
  });

  test('a denied exec never reaches the API server; kubectl prints the refusal (also after its SPDY retry)', { timeout: 40_000 }, async () => {
    const upgradesBefore = fake.requests.filter((r) => r.upgrade !== undefined).length;
    const out = await kubectl.run(['exec', 'web-0', '--', 'rm', '-rf', '/data']);
    assert.notEqual(out.code, 0);
    assert.match(out.stderr, /Airlock refused this request on target "staging" \(action \S+, rule no-rm\)/);
    assert.equal(fake.requests.filter((r) => r.upgrade !== undefined).length, upgradesBefore, 'no upgrade reached the fake');
    assert.equal(execsOf('rm -rf /data').length, 0);
    const denied = harness.actions.find((a) => (a.attributes.command as string[] | undefined)?.[0] === 'rm');
    assert.ok(denied, 'the refused exec is an action');
  });

  test('client-node exec over WebSocket: stdout, stderr, exit status through Airlock', { timeout: 40_000 }, async () => {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfig);
    const run = (command: string[], stdinText?: string) => clientNodeExec(kc, { namespace: 'default', name: 'web-0', container: 'web' }, command, stdinText);
    const echo = await run(['echo', 'from', 'client-node']);
    assert.equal(echo.stdout, 'from client-node\n');
    assert.equal(echo.status.status, 'Success');
    // (classify/k8s refuses a decoded ";" in a command, so no `echo oops >&2; exit 4` here)
    const failing = await run(['sh', '-c', 'exit 4']);
    assert.equal(failing.status.reason, 'NonZeroExitCode');
    assert.deepEqual(failing.status.details?.causes, [{ reason: 'ExitCode', message: '4' }]);
    const missing = await run(['no-such-tool']);
    assert.equal(missing.stderr, 'sh: no-such-tool: not found\n');
    assert.deepEqual(missing.status.details?.causes, [{ reason: 'ExitCode', message: '127' }]);
    const big = await run(['head', '-c', String(3 * 1024 * 1024 + 7), '/dev/zero']);
    assert.equal(big.stdout.length, 3 * 1024 * 1024 + 7, 'a 3 MB output arrives whole');
    const { result } = await harness.resultFor((a) => (a.attributes.command as string[] | undefined)?.[0] === 'head');
    assert.equal(K8sExecResultDetail.parse(result.detail).bytesOut, 3 * 1024 * 1024 + 7);
  });

  test('a stream cut mid-way (sleep 30, the agent goes) is closed upstream and recorded as closed by the agent', { timeout: 40_000 }, async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${harness.port}/api/v1/namespaces/default/pods/cut-pod/exec?command=sleep&command=30&stdout=true`, ['v5.channel.k8s.io'], { ca: ca.certPem });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    assert.equal(ws.protocol, 'v5.channel.k8s.io');
    // the fake has the exec running
    while (!fake.execs.some((e) => e.pod === 'cut-pod')) await new Promise((r) => setTimeout(r, 20));
    ws.terminate();
    const { result } = await harness.resultFor((a) => (a.attributes.command as string[] | undefined)?.join(' ') === 'sleep 30');
    const recorded = K8sExecResultDetail.parse(result.detail);
    assert.equal(recorded.closedBy, 'agent');
    assert.equal(recorded.exitCode, undefined);
    assert.match(castEvents(recorded.asciicast).at(-1)?.[1] ?? '', /stream closed by agent/);
    assert.equal(fake.execs.find((e) => e.pod === 'cut-pod')?.exitCode, undefined, 'the command never finished');
  });

  test('v4 with a resize; adversarial frames from the agent end the stream as a protocol error', { timeout: 40_000 }, async () => {
    const open = (query: string, protocols: string[]) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`wss://127.0.0.1:${harness.port}/api/v1/namespaces/default/pods/web-0/exec?${query}`, protocols, { ca: ca.certPem });
        ws.once('open', () => resolve(ws));
        ws.once('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => reject(new Error(`${res.statusCode} ${body}`)));
        });
        ws.once('error', reject);
      });
    const ws = await open('command=cat&stdin=true&stdout=true&tty=true', ['v4.channel.k8s.io']);
    assert.equal(ws.protocol, 'v4.channel.k8s.io');
    const got: Buffer[] = [];
    ws.on('message', (d: Buffer) => got.push(d));
    ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":100,"Height":30}')]));
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('typed\n')]));
    while (!got.some((m) => m[0] === 1 && m.subarray(1).toString().includes('typed'))) await new Promise((r) => setTimeout(r, 20));
    // the agent writes on stdout: a protocol error, both sides closed
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(Buffer.concat([Buffer.from([1]), Buffer.from('forged')]));
    assert.equal(await closed, 1002);
    const record = fake.execs.find((e) => e.protocol === 'v4.channel.k8s.io' && e.command[0] === 'cat');
    assert.deepEqual(record?.resizes, [{ Width: 100, Height: 30 }]);
    const { result } = await harness.resultFor((a) => a.attributes.tty === true);
    const recorded = K8sExecResultDetail.parse(result.detail);
    assert.equal(recorded.closedBy, 'error');
    assert.match(recorded.error ?? '', /channel 1, which only the server writes/);
    assert.ok(castEvents(recorded.asciicast).some(([t, d]) => t === 'r' && d === '100x30'));

    // base64 and old subprotocols: refused before policy, with the reason
    await assert.rejects(open('command=echo&command=x&stdout=true', ['v4.base64.channel.k8s.io']), /400 .*v5\.channel\.k8s\.io or v4\.channel\.k8s\.io only/);
    await assert.rejects(open('command=echo&command=x&stdout=true', ['channel.k8s.io']), /400/);
  });

  /** Opens an exec WebSocket to `port`; resolves with the refusal's status and Status body. */
  const refused = (port: number, pod: string) =>
    new Promise<{ status: number; body: { reason?: string; message?: string } }>((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${port}/api/v1/namespaces/default/pods/${pod}/exec?command=echo&command=x&stdout=true`, ['v5.channel.k8s.io'], { ca: ca.certPem });
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as { reason?: string; message?: string } }));
      });
      ws.once('open', () => reject(new Error('the stream opened')));
    });

  test("the upstream's refusal (no such pod) reaches the agent as a Status with its message; the result says it did not run", { timeout: 40_000 }, async () => {
    const answer = await refused(harness.port, 'no-such-pod');
    assert.equal(answer.status, 404);
    assert.equal(answer.body.reason, 'NotFound');
    assert.match(answer.body.message ?? '', /refused the stream with HTTP 404: pods "no-such-pod" not found/);
    const { result } = await harness.resultFor((a) => a.attributes.name === 'no-such-pod');
    assert.match(result.error ?? '', /HTTP 404/);
    assert.match(result.summary, /^not run/);
  });

  test('upstream down, and an upstream whose certificate is not from its CA: a 503 Status, the credential never sent', { timeout: 40_000 }, async () => {
    const impostor = await startFakeKubeApiServer({ tls: await leafFromAnotherCa(), tokens: [fake.token] });
    const down = await startExecHarness({ fake: { ...fake, url: 'https://127.0.0.1:1', port: 1 }, ca, policy: POLICY });
    const mismatch = await startExecHarness({ fake: impostor, ca, policy: POLICY });
    try {
      const a = await refused(down.port, 'web-0');
      assert.equal(a.status, 503);
      assert.match(a.body.message ?? '', /could not open the stream on target "staging": .*ECONNREFUSED/);
      const b = await refused(mismatch.port, 'web-0');
      assert.equal(b.status, 503);
      assert.match(b.body.message ?? '', /could not open the stream on target "staging": .*(certificate|self.signed|issuer)/i);
      assert.equal(impostor.requests.length, 0, 'no request (and no token) reached the impostor');
      const { result } = await down.resultFor(() => true);
      assert.match(result.error ?? '', /ECONNREFUSED/);
    } finally {
      await down.close();
      await mismatch.close();
      await impostor.close();
    }
  });

  test('attach over WebSocket: an exec action of operation attach, stdin relayed and recorded', { timeout: 40_000 }, async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${harness.port}/api/v1/namespaces/default/pods/web-0/attach?stdin=true&stdout=true&container=web`, ['v5.channel.k8s.io'], { ca: ca.certPem });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    let echoed = '';
    ws.on('message', (d: Buffer) => {
      if (d[0] === 1) echoed += d.subarray(1).toString();
    });
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('attached input\n')]));
    while (!echoed.includes('attached input')) await new Promise((r) => setTimeout(r, 20));
    ws.send(Buffer.from([255, 0]));
    await closed;
    const { action, result } = await harness.resultFor((a) => K8sExecDetail.safeParse(a.detail).data?.operation === 'attach');
    assert.equal(action.attributes.connect, 'attach');
    const recorded = K8sExecResultDetail.parse(result.detail);
    assert.equal(recorded.exitCode, 0);
    assert.ok(castEvents(recorded.asciicast).some(([t, d]) => t === 'i' && d === 'attached input\n'));
  });

  test('the API server going away mid-stream closes the agent and is recorded as closed by the upstream', { timeout: 40_000 }, async () => {
    const dying = await startFakeKubeApiServer({ tls: await ca.leaf(), tokens: [fake.token] });
    dying.create('pods', 'default', pod('web-0'));
    const h2 = await startExecHarness({ fake: dying, ca, policy: POLICY });
    try {
      const ws = new WebSocket(`wss://127.0.0.1:${h2.port}/api/v1/namespaces/default/pods/web-0/exec?command=sleep&command=30&stdout=true`, ['v5.channel.k8s.io'], { ca: ca.certPem });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      while (dying.execs.length === 0) await new Promise((r) => setTimeout(r, 20));
      await dying.close();
      assert.equal(await closed, 1002, 'the agent is told the stream broke');
      const { result } = await h2.resultFor(() => true);
      const recorded = K8sExecResultDetail.parse(result.detail);
      assert.equal(recorded.closedBy, 'upstream');
      assert.equal(recorded.exitCode, undefined);
      assert.match(recorded.error ?? '', /the API server closed the stream/);
    } finally {
      await h2.close();
    }
  });
});

describe('kubernetes exec through Airlock: limits.idleTimeout', () => {
  test('an exec with no bytes either way for 30s gets a Status on the error channel, both sides close, the result says why; traffic keeps it open', { timeout: 40_000 }, async () => {
    const ca = await makeTestCa();
    const fake = await startFakeKubeApiServer({ tls: await ca.leaf() });
    fake.create('pods', 'default', pod('web-0'));
    const clock = manualClock(Date.now());
    const harness = await startExecHarness({ fake, ca, policy: POLICY, limits: { idleTimeout: '30s' }, clock });
    try {
      const ws = new WebSocket(`wss://127.0.0.1:${harness.port}/api/v1/namespaces/default/pods/web-0/exec?command=cat&stdin=true&stdout=true`, ['v5.channel.k8s.io'], { ca: ca.certPem });
      const got: Buffer[] = [];
      ws.on('message', (d: Buffer) => got.push(d));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      while (!fake.execs.some((e) => e.command[0] === 'cat')) await new Promise((r) => setTimeout(r, 20));

      // 20s quiet, then a line through cat: the next 20s are not 30s of quiet
      clock.advance(20_000);
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('still here\n')]));
      while (!got.some((m) => m[0] === 1 && m.subarray(1).toString().includes('still here'))) await new Promise((r) => setTimeout(r, 20));
      clock.advance(20_000);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(ws.readyState, ws.OPEN, 'traffic 20s ago: not idle');
      assert.equal(harness.results.size, 0);

      clock.advance(30_000);
      assert.equal(await closed, 1000, 'a limit is a normal close after the Status');
      const status = got.find((m) => m[0] === 3);
      assert.ok(status, 'a Status on the error channel');
      const parsed = JSON.parse(status.subarray(1).toString()) as { status: string; reason: string; message: string };
      assert.deepEqual([parsed.status, parsed.reason], ['Failure', 'Timeout']);
      assert.equal(parsed.message, 'target "staging" closed the exec stream: no traffic for 30s (limits.idleTimeout)');

      const { result } = await harness.resultFor((a) => (a.attributes.command as string[] | undefined)?.join(' ') === 'cat');
      const recorded = K8sExecResultDetail.parse(result.detail);
      assert.equal(recorded.closedBy, 'limit');
      assert.equal(recorded.exitCode, undefined);
      assert.match(recorded.error ?? '', /no traffic for 30s \(limits\.idleTimeout\)/);
      assert.match(result.summary, /closed by limit: target "staging" closed the exec stream/);
      // the upstream was closed too, before the command ended
      while (!fake.execs.find((e) => e.command[0] === 'cat')?.socketClosed) await new Promise((r) => setTimeout(r, 20));
      assert.equal(fake.execs.find((e) => e.command[0] === 'cat')?.exitCode, undefined);
    } finally {
      await harness.close();
      await fake.close();
    }
  });

  test('a decision held longer than the idle timeout is not idle time: the stream opens after the approval and relays', { timeout: 40_000 }, async () => {
    const ca = await makeTestCa();
    const fake = await startFakeKubeApiServer({ tls: await ca.leaf() });
    fake.create('pods', 'default', pod('held-pod'));
    const clock = manualClock(Date.now());
    const harness = await startExecHarness({ fake, ca, policy: POLICY, limits: { idleTimeout: '30s' }, clock });
    try {
      const ws = new WebSocket(`wss://127.0.0.1:${harness.port}/api/v1/namespaces/default/pods/held-pod/exec?command=cat&stdin=true&stdout=true`, ['v5.channel.k8s.io'], { ca: ca.certPem });
      const got: Buffer[] = [];
      ws.on('message', (d: Buffer) => got.push(d));
      const opened = new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const approval = await harness.nextApproval();
      clock.advance(120_000);
      harness.broker.approve(approval.id, { by: 'test', via: 'api', scope: 'once' });
      await opened;
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('after the hold\n')]));
      while (!got.some((m) => m[0] === 1 && m.subarray(1).toString().includes('after the hold'))) await new Promise((r) => setTimeout(r, 20));
      assert.equal(got.some((m) => m[0] === 3), false, 'no Status: the stream was not closed for idleness');
      assert.equal(harness.results.size, 0);
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.send(Buffer.from([255, 0]));
      await closed;
      const { result } = await harness.resultFor((a) => a.id === approval.action.id);
      assert.notEqual(K8sExecResultDetail.parse(result.detail).closedBy, 'limit');
    } finally {
      await harness.close();
      await fake.close();
    }
  });
});
