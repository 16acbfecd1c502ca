import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDaemon, tempHome, type RunningDaemon } from './daemon-process.js';
import { startFakeKubeApiServer, type FakeKubeApiServer } from './fake-kube-apiserver.js';
import { kubeconfigText, kubectlFor, type Kubectl } from './kubectl.js';
import { freePort } from './pg-cluster.js';
import { makeTestCa, type TestCa } from './test-ca.js';

/**
 * The real daemon with one kubernetes target `staging` in front of the in-test fake API server
 * (fake-kube-apiserver.ts: no real API server can run on these machines), the daemon reading the
 * cluster from a kubeconfig (server, CA, the fake's token), an agent session, and a kubeconfig for
 * the agent pointing at the listener with the daemon's CA and the session's token.
 */
export interface K8sProxyHarness {
  daemon: RunningDaemon;
  fake: FakeKubeApiServer;
  ca: TestCa;
  home: string;
  port: number;
  /** https://127.0.0.1:PORT of the listener */
  server: string;
  /** the daemon's local CA (PEM) */
  daemonCaPem: string;
  token: string;
  sessionId: string;
  /** the agent's kubeconfig (context `staging`) */
  agentKubeconfig: string;
  kubectl: Kubectl;
  newSession(name: string): Promise<{ token: string; id: string }>;
  /** an HTTPS request to the listener (trusting the daemon's CA) with the session token unless `token` is null */
  request(method: string, urlPath: string, options?: { body?: string | Buffer; headers?: Record<string, string>; token?: string | null }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>;
  records(sessionId?: string): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

export interface K8sProxyOptions {
  /** the policy (YAML); none: the built-in default policy */
  policy?: string;
  /** target fields replacing the defaults (a function: made once the fake runs; `home` is the daemon's) */
  target?: Record<string, unknown> | ((fake: FakeKubeApiServer, ca: TestCa, home: string) => Record<string, unknown>);
  limits?: Record<string, unknown>;
  /** the daemon's kubeconfig text instead of the default (server, CA data, token) */
  daemonKubeconfig?: (fake: FakeKubeApiServer, ca: TestCa) => string;
  fake?: { recordRequests?: boolean; tokens?: string[] };
  env?: NodeJS.ProcessEnv;
}

export async function startK8sProxy(options: K8sProxyOptions = {}): Promise<K8sProxyHarness> {
  const ca = await makeTestCa();
  const fake = await startFakeKubeApiServer({ tls: await ca.leaf(), ...(options.fake ?? {}) });
  const home = tempHome('airlock-k8s-');
  const port = await freePort();
  const daemonKubeconfig = path.join(home.dir, 'cluster.kubeconfig');
  writeFileSync(daemonKubeconfig, options.daemonKubeconfig ? options.daemonKubeconfig(fake, ca) : kubeconfigText({ server: fake.url, caPem: ca.certPem, token: fake.token, context: 'cluster' }), { mode: 0o600 });
  const target = {
    name: 'staging',
    protocol: 'kubernetes',
    kubeconfig: daemonKubeconfig,
    listen: { host: '127.0.0.1', port },
    ...(options.limits ? { limits: options.limits } : {}),
    ...(typeof options.target === 'function' ? options.target(fake, ca, home.dir) : options.target),
  };
  writeFileSync(path.join(home.dir, 'config.yaml'), `targets:\n  - ${JSON.stringify(target)}\n`);
  if (options.policy !== undefined) writeFileSync(path.join(home.dir, 'policy.yaml'), options.policy);
  const daemon = await startDaemon(home.dir, options.env);
  const newSession = async (name: string) => {
    const res = await daemon.api('POST', '/v1/agent-sessions', { name });
    if (res.status !== 201) throw new Error(`cannot create an agent session: ${JSON.stringify(res.json)}`);
    const json = res.json as { token: string; session: { id: string } };
    return { token: json.token, id: json.session.id };
  };
  const first = await newSession('k8s-agent');
  const daemonCaPem = readFileSync(path.join(home.dir, 'ca', 'ca.crt'), 'utf8');
  const server = `https://127.0.0.1:${port}`;
  const agentKubeconfig = path.join(home.dir, 'agent.kubeconfig');
  writeFileSync(agentKubeconfig, kubeconfigText({ server, caPem: daemonCaPem, token: first.token, context: 'staging' }), { mode: 0o600 });
  const https = await import('node:https');
  return {
    daemon,
    fake,
    ca,
    home: home.dir,
    port,
    server,
    daemonCaPem,
    token: first.token,
    sessionId: first.id,
    agentKubeconfig,
    kubectl: kubectlFor(agentKubeconfig, home.dir),
    newSession,
    request: (method, urlPath, opts = {}) =>
      new Promise((resolve, reject) => {
        const token = opts.token === undefined ? first.token : opts.token;
        const req = https.request(
          {
            host: '127.0.0.1',
            port,
            method,
            path: urlPath,
            ca: daemonCaPem,
            headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...(opts.body !== undefined ? { 'content-length': String(Buffer.byteLength(opts.body)) } : {}), ...(opts.headers ?? {}) },
          },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(opts.body);
      }),
    async records(sessionId = first.id) {
      const listed = (await daemon.api('GET', '/v1/sessions')).json as { recordings: { id: string; agentSessionId: string }[] };
      const recording = listed.recordings.find((r) => r.agentSessionId === sessionId);
      if (!recording) return [];
      const page = (await daemon.api('GET', `/v1/sessions/${recording.id}/records?limit=1000`)).json as { records: Record<string, unknown>[] };
      return page.records;
    },
    async stop() {
      await daemon.stop();
      home.cleanup();
      await fake.close();
    },
  };
}
