import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import path from 'node:path';
import { newAgentSession, sessionRecords, targetStatus, writeDaemonConfig } from './daemon-harness.js';
import { startDaemon, tempHome, type RunningDaemon } from './daemon-process.js';
import { freePort } from './pg-cluster.js';
import { createCertificateAuthority, type CertificateAuthority } from './tls-certs.js';

/** One request as the upstream saw it: the raw request line parts and headers, and the body. */
export interface SeenRequest {
  method: string;
  url: string;
  rawHeaders: string[];
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface TestUpstream {
  /** https://127.0.0.1:PORT (or http:// for a plain one) */
  url: string;
  port: number;
  seen: SeenRequest[];
  server: http.Server;
  close(): Promise<void>;
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void | Promise<void>;

/**
 * A real upstream server for tests: HTTPS with a leaf of `ca` (or plain HTTP), logging what it saw.
 * `streaming` handlers get the request before its body is read (body: empty) and read it themselves.
 */
export async function startUpstream(handler: UpstreamHandler, options: { ca?: CertificateAuthority; plain?: boolean; streaming?: boolean } = {}): Promise<TestUpstream> {
  const seen: SeenRequest[] = [];
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const entry: SeenRequest = { method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, headers: req.headers, body: Buffer.alloc(0) };
    seen.push(entry);
    if (options.streaming) {
      void Promise.resolve(handler(req, res, entry.body)).catch(() => res.destroy());
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      entry.body = Buffer.concat(chunks);
      void Promise.resolve(handler(req, res, entry.body)).catch(() => res.destroy());
    });
  };
  let server: http.Server;
  if (options.plain) server = http.createServer(onRequest);
  else {
    const leaf = await (options.ca ?? (await createCertificateAuthority())).issue();
    server = https.createServer({ cert: leaf.cert, key: leaf.key }, onRequest);
  }
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `${options.plain ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    seen,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface HttpProxyHarness {
  daemon: RunningDaemon;
  home: string;
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  token: string;
  sessionId: string;
  /** the secret the daemon injects */
  secret: string;
  newSession(name: string): Promise<{ token: string; id: string }>;
  records(sessionId?: string): Promise<Record<string, unknown>[]>;
  /** every file under the daemon's home (records, logs, state) that contains `text`, the credential file aside */
  filesContaining(text: string): string[];
  /** the daemon process's resident set size in bytes (from /proc) */
  rss(): number;
  stop(): Promise<void>;
}

export interface HttpProxyOptions {
  upstream: string;
  /** the CA that signed the upstream's certificate (written to a file for caFile) */
  caPem?: string;
  /** the target's auth (default bearer) */
  auth?: string;
  secret?: string;
  policy?: string;
  limits?: Record<string, unknown>;
  /** target fields replacing the defaults */
  target?: Record<string, unknown>;
}

/** The real daemon with one http target `api` in front of `options.upstream`, an agent session, and the policy given. */
export async function startHttpProxy(options: HttpProxyOptions): Promise<HttpProxyHarness> {
  const home = tempHome('airlock-http-');
  const port = await freePort();
  const secret = options.secret ?? 'sk-live-upstream-Zq8Vt3kLm2Np9Rw4';
  const secretFile = path.join(home.dir, 'api-secret');
  writeFileSync(secretFile, secret + '\n');
  chmodSync(secretFile, 0o600);
  let caFile: string | undefined;
  if (options.caPem) {
    caFile = path.join(home.dir, 'upstream-ca.pem');
    writeFileSync(caFile, options.caPem);
  }
  const target = {
    name: 'api',
    protocol: 'http',
    upstream: options.upstream,
    listen: { host: '127.0.0.1', port },
    credential: { file: secretFile },
    auth: options.auth ?? 'bearer',
    ...(caFile ? { caFile } : {}),
    ...(options.upstream.startsWith('http:') ? { plaintext: true } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    ...options.target,
  };
  writeDaemonConfig(home.dir, target, options.policy);
  const daemon = await startDaemon(home.dir);
  const newSession = (name: string) => newAgentSession(daemon, name);
  const first = await newSession('http-agent');
  const status = await targetStatus(daemon, 'api');
  if (status?.state !== 'listening') {
    await daemon.stop();
    home.cleanup();
    throw new Error(`the http target did not start: ${JSON.stringify(status)}`);
  }
  return {
    daemon,
    home: home.dir,
    port,
    url: `http://127.0.0.1:${port}`,
    token: first.token,
    sessionId: first.id,
    secret,
    newSession,
    records: (sessionId = first.id) => sessionRecords(daemon, sessionId),
    filesContaining(text: string) {
      const found: string[] = [];
      const walk = (dir: string): void => {
        for (const name of readdirSync(dir)) {
          const file = path.join(dir, name);
          const st = statSync(file);
          if (st.isDirectory()) walk(file);
          else if (file !== secretFile && st.isFile() && readFileSync(file).includes(text)) found.push(file);
        }
      };
      walk(home.dir);
      return found;
    },
    rss() {
      const status = readFileSync(`/proc/${daemon.process.pid}/status`, 'utf8');
      const kb = /VmRSS:\s+(\d+) kB/.exec(status);
      return kb ? Number(kb[1]) * 1024 : 0;
    },
    async stop() {
      await daemon.stop();
      home.cleanup();
    },
  };
}

/** The result records of the session, paired with their actions, for one kind. */
export function actionsAndResults(records: Record<string, unknown>[]): { action: Record<string, unknown>; verdict?: Record<string, unknown>; result?: Record<string, unknown> }[] {
  const byId = new Map<string, { action: Record<string, unknown>; verdict?: Record<string, unknown>; result?: Record<string, unknown> }>();
  for (const r of records) {
    const body = (r.body ?? r) as Record<string, unknown>;
    if (body.type === 'action') {
      const action = body.action as Record<string, unknown>;
      byId.set(action.id as string, { action, verdict: body.verdict as Record<string, unknown> | undefined });
    } else if (body.type === 'outcome') {
      const verdict = body.verdict as Record<string, unknown>;
      const entry = byId.get(verdict.actionId as string);
      if (entry) entry.verdict = verdict;
    } else if (body.type === 'result') {
      const entry = byId.get(body.actionId as string);
      if (entry) entry.result = body;
    }
  }
  return [...byId.values()];
}

/** One request through Node's http client; the response body whole. */
export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string | string[]>; body?: string | Buffer; token?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers };
    const req = http.request(url, { method: options.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
