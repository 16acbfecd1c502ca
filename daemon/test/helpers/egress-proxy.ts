import { writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { newAgentSession, sessionRecords, targetStatus, writeDaemonConfig } from './daemon-harness.js';
import { startDaemon, tempHome, type RunningDaemon } from './daemon-process.js';
import { freePort } from './pg-cluster.js';
import { createCertificateAuthority } from './tls-certs.js';

/** The test wiring of the daemon (egress-daemon-main.ts), compiled next to this file. */
const ENTRY = fileURLToPath(new URL('./egress-daemon-main.js', import.meta.url));

export interface EgressHarness {
  daemon: RunningDaemon;
  home: string;
  /** the egress listener's port */
  port: number;
  token: string;
  sessionId: string;
  /** http://agent:<token>@127.0.0.1:<port> */
  proxyUrl(token?: string): string;
  newSession(name: string): Promise<{ token: string; id: string }>;
  records(sessionId?: string): Promise<EgressRecord[]>;
  approve(id: string, scope: 'once' | 'session'): Promise<void>;
  deny(id: string, reason: string): Promise<void>;
  stop(): Promise<void>;
}

export interface EgressRecord {
  type: string;
  action?: { id: string; kind: string; summary: string; attributes: Record<string, unknown>; detail: Record<string, unknown>; grantKey?: string };
  decision?: { decision: string; ruleId: string; reason: string };
  verdict?: { allowed: boolean; ruleId: string; via: string };
  actionId?: string;
  summary?: string;
  error?: string;
  durationMs?: number;
  detail?: Record<string, unknown>;
}

export interface EgressOptions {
  /** the policy (YAML); none: the built-in default policy */
  policy?: string;
  allowHosts?: string[];
  limits?: Record<string, unknown>;
  /** names the proxy resolves to the addresses given (others: the system resolver); a list of lists gives one answer per lookup */
  names?: Record<string, string[] | string[][]>;
  /** checked "address:port" the proxy connects to instead at "127.0.0.1:port" (a loopback server standing in for a public host) */
  dial?: Record<string, string>;
}

/** The real daemon with one egress target `egress` (and the test's resolver map), an agent session, and the policy given. */
export async function startEgressProxy(options: EgressOptions = {}): Promise<EgressHarness> {
  const home = tempHome('airlock-egress-');
  const port = await freePort();
  const target = {
    name: 'egress',
    protocol: 'egress',
    listen: { host: '127.0.0.1', port },
    ...(options.allowHosts ? { allowHosts: options.allowHosts } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
  };
  writeDaemonConfig(home.dir, target, options.policy);
  const daemon = await startDaemon(home.dir, { AIRLOCK_TEST_EGRESS_NAMES: JSON.stringify(options.names ?? {}), AIRLOCK_TEST_EGRESS_DIAL: JSON.stringify(options.dial ?? {}) }, ENTRY);
  const newSession = (name: string) => newAgentSession(daemon, name);
  const first = await newSession('egress-agent');
  const egress = await targetStatus(daemon, 'egress');
  if (egress?.state !== 'listening') throw new Error(`the egress target is not listening: ${JSON.stringify(egress)}\n${daemon.output()}`);
  return {
    daemon,
    home: home.dir,
    port,
    token: first.token,
    sessionId: first.id,
    proxyUrl: (token = first.token) => `http://agent:${encodeURIComponent(token)}@127.0.0.1:${port}`,
    newSession,
    records: (sessionId = first.id) => sessionRecords<EgressRecord>(daemon, sessionId),
    async approve(id, scope) {
      const res = await daemon.api('POST', `/v1/approvals/${id}/approve`, { scope, by: 'tester' });
      if (res.status !== 200) throw new Error(`approve ${id}: ${res.status} ${JSON.stringify(res.json)}`);
    },
    async deny(id, reason) {
      const res = await daemon.api('POST', `/v1/approvals/${id}/deny`, { reason, by: 'tester' });
      if (res.status !== 200) throw new Error(`deny ${id}: ${res.status} ${JSON.stringify(res.json)}`);
    },
    async stop() {
      await daemon.stop();
      home.cleanup();
    },
  };
}

/** Polls until `find` returns something from the records (results are written after the tunnel closes). */
export async function waitForRecord(h: EgressHarness, find: (records: EgressRecord[]) => EgressRecord | undefined, timeoutMs = 10_000): Promise<EgressRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find(await h.records());
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no such record in time; records: ${JSON.stringify(await h.records()).slice(0, 4000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits for a pending approval whose summary matches, and returns it. */
export async function waitForApproval(daemon: RunningDaemon, summary: RegExp, timeoutMs = 10_000): Promise<{ id: string; action: { id: string; summary: string; kind: string; attributes: Record<string, unknown>; grantKey?: string } }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { approvals } = (await daemon.api('GET', '/v1/approvals')).json as { approvals: { id: string; status?: string; action: { id: string; summary: string; kind: string; attributes: Record<string, unknown>; grantKey?: string } }[] };
    const found = approvals.find((a) => (a.status === undefined || a.status === 'pending') && summary.test(a.action.summary));
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no approval matching ${summary} became pending; pending: ${JSON.stringify(approvals.map((a) => a.action.summary))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** An HTTPS server on loopback with the test certificates: answers `GET /bytes/N` with N bytes, anything else with JSON naming the path. */
export async function startHttpsServer(certs: TestCertificates): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const server = https.createServer({ cert: certs.certPem, key: certs.keyPem }, (req, res) => {
    const bytes = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
    if (bytes) {
      const size = Number(bytes[1]);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
      res.end(Buffer.alloc(size, 0x61));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, path: req.url, host: req.headers.host }));
  });
  server.on('secureConnection', () => connections++);
  server.on('connection', (s: net.Socket) => s.on('error', () => undefined));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A TCP listener that counts the connections it accepts (and closes them): proves nothing was dialled. */
export async function startWitness(host = '127.0.0.1'): Promise<{ port: number; accepted: () => number; close(): Promise<void> }> {
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    s.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  return { port: (server.address() as net.AddressInfo).port, accepted: () => accepted, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A CA and a server certificate it signed, made at test time; the CA also as a file (curl --cacert, git http.sslCAInfo, Python cafile). */
export interface TestCertificates {
  caPem: string;
  certPem: string;
  keyPem: string;
  caFile: string;
}

export async function makeTestCertificates(dir: string, names: { dns: string[]; ips: string[] }): Promise<TestCertificates> {
  const ca = await createCertificateAuthority('Airlock egress test CA');
  const leaf = await ca.issue(names);
  const caFile = path.join(dir, 'egress-test-ca.pem');
  writeFileSync(caFile, ca.cert);
  return { caPem: ca.cert, certPem: leaf.cert, keyPem: leaf.key, caFile };
}


/** A raw CONNECT through the proxy: the status line, headers and body of the proxy's answer, and the socket (open on 200), paused: resume it to read. */
export function rawConnect(port: number, authority: string, headers: Record<string, string> = {}): Promise<{ status: number; head: string; body: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buffered = Buffer.alloc(0);
    socket.on('error', reject);
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${lines}\r\n`);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffered.subarray(0, end).toString();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      socket.off('data', onData);
      // paused, so nothing that follows the answer is emitted before the caller listens
      socket.pause();
      const body = buffered.subarray(end + 4, end + 4 + length).toString();
      const rest = buffered.subarray(end + 4 + length);
      if (rest.length > 0) socket.unshift(rest);
      resolve({ status, head, body, socket });
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`the proxy closed the connection before answering; got ${JSON.stringify(buffered.toString())}`)));
  });
}

/** `Proxy-Authorization: Basic` with the token as the password. */
export function basicAuth(token: string, user = 'agent'): string {
  return `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
}
