import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { MaskingPolicy, Policy, type Action, type AgentSession } from '@airlock/shared';
import { describeK8sRequest } from '../../src/classify/k8s/index.js';
import { ApprovalBroker } from '../../src/approvals/broker.js';
import { EventBus } from '../../src/events/bus.js';
import { compileMasking } from '../../src/masking/index.js';
import { ActionPipeline, type ActionResult } from '../../src/pipeline/pipeline.js';
import { compilePolicy } from '../../src/policy/engine.js';
import { ConnectionLimiter } from '../../src/proxies/connection-limits.js';
import { resolveLimits } from '../../src/proxies/limits.js';
import type { ProxyContext } from '../../src/proxies/listeners.js';
import { handleK8sUpgrade, openK8sUpstreamSocket, upstreamPathOf } from '../../src/proxies/kubernetes/streams/index.js';
import { Recorder } from '../../src/recording/recorder.js';
import { lineLogger } from '../../src/util/logger.js';
import { systemClock, type Clock } from '../../src/util/time.js';
import type { FakeKubeApiServer } from './fake-kube-apiserver.js';
import type { TestCa } from './test-ca.js';

/**
 * The exec/attach/portforward stream handler (`handleK8sUpgrade`) behind an HTTPS server of the
 * test's own, standing in for the Kubernetes listener: every upgrade is described with
 * classify/k8s and handed to the handler with the real action pipeline (policy engine, approval
 * broker, recorder writing to a temp dir) and an upstream socket to the fake API server with its
 * token and CA; plain requests (kubectl's pod lookup and discovery) are passed to the fake as they
 * are, with the fake's token. Results handed to the pipeline are kept for tests to read.
 */
export interface ExecHarness {
  url: string;
  port: number;
  broker: ApprovalBroker;
  /** each result the handler recorded, by action id, with its action */
  results: Map<string, { action: Action; result: ActionResult }>;
  actions: Action[];
  /** Resolves with the first approval waiting, polling the broker. */
  nextApproval(): Promise<{ id: string; action: Action }>;
  /** Resolves once the action whose command starts with `first` has a result. */
  resultFor(match: (action: Action) => boolean): Promise<{ action: Action; result: ActionResult }>;
  close(): Promise<void>;
}

export async function startExecHarness(options: { fake: FakeKubeApiServer; ca: TestCa; policy: unknown; limits?: Record<string, unknown>; masking?: unknown; clock?: Clock }): Promise<ExecHarness> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-k8s-exec-'));
  const recorder = new Recorder({ dir: path.join(dir, 'recordings'), indexFile: path.join(dir, 'sessions.json'), mode: 'async', queueLimit: 10_000, indexLimit: 5_000 });
  await recorder.start();
  const broker = new ApprovalBroker();
  const compiled = compilePolicy(Policy.parse(options.policy), { defaultReviewTimeoutMs: 60_000 });
  const pipeline = new ActionPipeline({ policy: { current: () => ({ compiled }) }, broker, recorder, bus: new EventBus() });
  const results = new Map<string, { action: Action; result: ActionResult }>();
  const actions: Action[] = [];
  const waiters = new Set<() => void>();
  // observed on their way into the real pipeline
  const submit = pipeline.submit.bind(pipeline);
  const submitNow = pipeline.submitNow.bind(pipeline);
  const recordResult = pipeline.recordResult.bind(pipeline);
  pipeline.submit = async (s, r, o) => {
    const out = await submit(s, r, o);
    actions.push(out.action);
    return out;
  };
  pipeline.submitNow = (s, r, refuse) => {
    const out = submitNow(s, r, refuse);
    if (out) actions.push(out.action);
    return out;
  };
  pipeline.recordResult = (s, a, result) => {
    const action = actions.find((x) => x.id === a.id);
    if (action) results.set(a.id, { action, result });
    for (const w of [...waiters]) w();
    return recordResult(s, a, result);
  };
  const target = { name: 'staging', protocol: 'kubernetes' as const, listen: { host: '127.0.0.1', port: 0 }, upstream: options.fake.url, ...(options.limits ? { limits: options.limits } : {}) };
  const limits = resolveLimits(target as never, {}, { resultRows: 100, resultBytes: 65536 });
  const masker = compileMasking(MaskingPolicy.parse(options.masking ?? {}), 'staging');
  const logger = lineLogger(() => undefined);
  const context: ProxyContext = {
    pipeline,
    sessions: undefined as never,
    masking: () => masker,
    logger,
    clock: options.clock ?? systemClock,
    limits,
    connections: new ConnectionLimiter('staging', limits, logger, options.clock ?? systemClock),
  };
  const session: AgentSession = { id: 'ses_k8s_exec', name: 'agent', targets: null, createdAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3_600_000).toISOString(), revokedAt: null };
  const leaf = await options.ca.leaf();
  const server = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    const upstream = https.request(
      { host: '127.0.0.1', port: options.fake.port, method: req.method, path: req.url, ca: options.ca.certPem, headers: { ...req.headers, host: `127.0.0.1:${options.fake.port}`, authorization: `Bearer ${options.fake.token}` } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const sockets = new Set<Socket>();
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  let connections = 0;
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const rawUrl = req.url ?? '';
    const q = rawUrl.indexOf('?');
    const headers: [string, string][] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
    const described = describeK8sRequest({ method: req.method ?? '', path: q < 0 ? rawUrl : rawUrl.slice(0, q), query: [...new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1))] }, { headers });
    if ('error' in described) {
      const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: described.error, code: described.status });
      return void socket.end(`HTTP/1.1 ${described.status} Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    }
    void handleK8sUpgrade(req, socket, head, {
      target: target as never,
      context,
      session,
      connectionId: `conn-${++connections}`,
      described,
      secrets: [options.fake.token],
      openUpstream: (protocols, socketOptions) => openK8sUpstreamSocket({ server: options.fake.url, ca: options.ca.certPem, token: options.fake.token }, upstreamPathOf(described.info), protocols, socketOptions),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const waitUntil = <T>(check: () => T | undefined): Promise<T> =>
    new Promise((resolve) => {
      const poll = (): void => {
        const found = check();
        if (found !== undefined) {
          waiters.delete(poll);
          resolve(found);
        }
      };
      waiters.add(poll);
      poll();
    });
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    broker,
    results,
    actions,
    nextApproval: () =>
      new Promise((resolve) => {
        const poll = (): void => {
          const pending = broker.pending()[0];
          if (pending) resolve({ id: pending.id, action: pending.action });
          else setTimeout(poll, 20);
        };
        poll();
      }),
    resultFor: (match) => waitUntil(() => [...results.values()].find((r) => match(r.action))),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await recorder.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
