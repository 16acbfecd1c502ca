import { createServer, type Server } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { z } from 'zod';
import {
  AddSessionTokenRequest,
  ApplyPolicyChangeRequest,
  ApproveRequest,
  CreateAgentSessionRequest,
  DenyRequest,
  RecordsQuery,
  SubmitActionRequest,
  SshConfigRequest,
  KubeconfigRequest,
  Target,
  ValidationError,
  describeIssues,
} from '@airlock/shared';
import { ApprovalAlreadyDecidedError, ApprovalNotFoundError } from '../approvals/broker.js';
import { UnknownRecordingError } from '../recording/recorder.js';
import type { ControlPlane } from './control-plane.js';
import { HttpError } from './errors.js';
import { hostName, isAllowedHost } from './host-check.js';
import { streamEvents } from './sse.js';

export interface ApiServerOptions {
  host: string;
  port: number;
  token: string;
  version: string;
  heartbeatMs?: number;
}

/**
 * The control API for the extension and the CLI: express on loopback, only for requests that name it in
 * `Host`, bearer token on every route but health, no CORS.
 */
export function createApiApp(plane: ControlPlane, options: ApiServerOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // Before every route, health included: a DNS-rebinding page must learn nothing, not even that a daemon runs.
  const allowedNames = [...new Set(['localhost', '127.0.0.1', '[::1]', hostName(options.host)])].join(', ');
  app.use((req, res, next) => {
    if (!isAllowedHost(req.headers.host, options.host, req.socket.localPort)) {
      res.status(421).json({
        error: `the control API answers only requests addressed to ${allowedNames} (with its port or none), not to Host "${req.headers.host ?? ''}": a web page reaching it through another name is refused`,
      });
      return;
    }
    // No CORS: the API's clients (the CLI, the extension) are not browsers, and no web page may be let in.
    if (req.method === 'OPTIONS') {
      res.status(405).json({ error: 'the control API answers no CORS preflight: it is not for web pages' });
      return;
    }
    next();
  });

  app.get('/v1/health', (_req, res) => {
    res.json({ ok: true, version: options.version, pid: process.pid });
  });

  app.use('/v1', requireToken(options.token));
  app.use(express.json({ limit: '1mb' }));

  app.get('/v1/status', (_req, res) => {
    res.json(plane.status());
  });

  app.get('/v1/targets', (_req, res) => {
    res.json({ targets: plane.targets() });
  });
  app.post('/v1/targets', async (req, res) => {
    const target = validate(Target, req.body, 'request body');
    res.status(201).json({ targets: await plane.addTarget(target) });
  });
  app.delete('/v1/targets/:name', async (req, res) => {
    res.json({ targets: await plane.removeTarget(param(req, 'name')) });
  });

  app.get('/v1/agent-sessions', (_req, res) => {
    res.json({ sessions: plane.listSessions() });
  });
  app.post('/v1/agent-sessions', async (req, res) => {
    const body = validate(CreateAgentSessionRequest, req.body, 'request body');
    res.status(201).json(await plane.createSession(body));
  });
  // the token is in the answer only: the daemon keeps its hash
  app.post('/v1/agent-sessions/:id/tokens', async (req, res) => {
    validate(AddSessionTokenRequest, req.body ?? {}, 'request body');
    res.status(201).json(await plane.addSessionToken(param(req, 'id')));
  });
  app.delete('/v1/agent-sessions/:id', async (req, res) => {
    const id = param(req, 'id');
    const session = await plane.revokeSession(id);
    if (!session) throw new HttpError(404, `no agent session ${id}`);
    res.json({ session });
  });

  // the file is written under the data dir only: a caller that wants it elsewhere copies `config`
  app.post('/v1/ssh-config', async (req, res) => {
    const body = validate(SshConfigRequest, req.body ?? {}, 'request body');
    res.json(await plane.sshConfig(body));
  });

  // the file holds the session's token: written under the data dir only, 0600
  app.post('/v1/kubeconfig', async (req, res) => {
    const body = validate(KubeconfigRequest, req.body ?? {}, 'request body');
    res.json(await plane.kubeconfig(body));
  });

  app.get('/v1/sessions', (_req, res) => {
    res.json({ recordings: plane.recordings() });
  });
  app.get('/v1/sessions/:id', (req, res) => {
    res.json({ recording: knownRecording(plane, param(req, 'id')) });
  });
  app.get('/v1/sessions/:id/records', async (req, res) => {
    const recording = knownRecording(plane, param(req, 'id'));
    const query = validate(RecordsQuery, req.query, 'query');
    res.json(await plane.records(recording.id, query.after, query.limit));
  });
  app.get('/v1/sessions/:id/verify', async (req, res) => {
    const recording = knownRecording(plane, param(req, 'id'));
    res.json(await plane.verify(recording.id));
  });

  app.get('/v1/approvals', (_req, res) => {
    res.json(plane.approvals());
  });
  app.get('/v1/approvals/:id', (req, res) => {
    const id = param(req, 'id');
    const approval = plane.approval(id);
    if (!approval) throw new HttpError(404, `no approval ${id}`);
    res.json({ approval });
  });
  app.post('/v1/approvals/:id/approve', (req, res) => {
    const body = validate(ApproveRequest, req.body ?? {}, 'request body');
    res.json({ approval: plane.approve(param(req, 'id'), body) });
  });
  app.post('/v1/approvals/:id/deny', (req, res) => {
    const body = validate(DenyRequest, req.body ?? {}, 'request body');
    res.json({ approval: plane.deny(param(req, 'id'), body) });
  });

  app.get('/v1/policy', (_req, res) => {
    res.json(plane.effectivePolicy());
  });

  app.get('/v1/policy/pending', (_req, res) => {
    res.json({ pending: plane.pendingPolicyChange() });
  });
  // the same bearer token as every route: in personal mode the agent could read it too, so the
  // confirmation is recorded in every open session's log (loud, not a boundary; see the README)
  app.post('/v1/policy/pending/apply', async (req, res) => {
    const body = validate(ApplyPolicyChangeRequest, req.body ?? {}, 'request body');
    res.json(await plane.applyPolicyChange(body));
  });

  app.get('/v1/events', streamEvents(plane.bus, { heartbeatMs: options.heartbeatMs ?? 15_000, maxBufferedBytes: 8 * 1024 * 1024 }));

  const submitTestAction = plane.submitTestAction?.bind(plane);
  if (submitTestAction) {
    // test-only action source: lets tests drive the pipeline before any protocol proxy exists
    app.post('/v1/test/actions', async (req, res) => {
      const body = validate(SubmitActionRequest, req.body, 'request body');
      const aborted = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) aborted.abort();
      });
      res.json(await submitTestAction(body, aborted.signal));
    });
  }

  app.use((req, _res, next) => next(new HttpError(404, `no route ${req.method} ${req.path}`)));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const { status, message } = toHttpError(err);
    if (status >= 500) console.error(`airlockd: control API: ${message}`);
    if (!res.headersSent) res.status(status).json({ error: message });
  });
  return app;
}

export async function startApiServer(plane: ControlPlane, options: ApiServerOptions): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer(createApiApp(plane, options));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // SSE streams never end on their own
        server.closeAllConnections();
      }),
  };
}

function requireToken(token: string) {
  const expected = Buffer.from(token, 'utf8');
  return (req: Request, _res: Response, next: NextFunction): void => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const presented = m ? Buffer.from(m[1]!, 'utf8') : undefined;
    if (!presented || presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      next(new HttpError(401, 'missing or wrong bearer token: use the token in <data dir>/daemon.json'));
      return;
    }
    next();
  };
}

function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new HttpError(400, describeIssues(what, result.error));
  return result.data;
}

function param(req: Request, name: string): string {
  const value = req.params[name];
  if (typeof value !== 'string' || value === '') throw new HttpError(400, `missing ${name}`);
  return value;
}

function knownRecording(plane: ControlPlane, id: string) {
  const recording = plane.recording(id);
  if (!recording) throw new HttpError(404, `no recorded session ${id}`);
  return recording;
}

function toHttpError(err: unknown): { status: number; message: string } {
  if (err instanceof HttpError) return { status: err.status, message: err.message };
  if (err instanceof ApprovalNotFoundError || err instanceof UnknownRecordingError) return { status: 404, message: err.message };
  if (err instanceof ApprovalAlreadyDecidedError) return { status: 409, message: err.message };
  if (err instanceof ValidationError) return { status: 400, message: err.message };
  const e = err as { type?: string; status?: number; message?: string };
  // body-parser errors: malformed JSON, too large
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return { status: e.status, message: e.type === 'entity.parse.failed' ? 'the request body is not valid JSON' : (e.message ?? 'bad request') };
  }
  return { status: 500, message: `internal error: ${e.message ?? String(err)}` };
}
