import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { AgentSession, Target } from '@airlock/shared';
import type { ProxyContext, ProxyFactory, ProxyListener } from '../listeners.js';
import type { ConnectionLease } from '../connection-limits.js';
import { listenForTarget } from '../tcp-listener.js';
import { newId } from '../../util/ids.js';
import { parseAbsoluteUrl, parseConnectAuthority } from './authority.js';
import { agentCredential } from '../http/agent-auth.js';
import { headerListOf } from '../http/headers.js';
import { badRequest, busy, proxyAuthRequired, sendReply, writeRawReply, type EgressReply } from './responses.js';
import { systemDial, systemResolve, type Dial, type Resolve } from './destination.js';
import { openTunnel } from './tunnel.js';
import { plainHttp } from './forward.js';

export interface EgressOptions {
  /** how host names are resolved; the system resolver unless a test maps names to chosen addresses */
  resolve?: Resolve;
  /** how a checked address is connected to; a plain TCP connect unless a test redirects it */
  dial?: Dial;
}

/** What the tunnel and the plain-HTTP forwarder share for one egress target. */
export interface EgressDeps {
  target: Target;
  context: ProxyContext;
  resolve: Resolve;
  dial: Dial;
  /** open tunnels and forwarded exchanges, ended when the listener closes */
  open: Set<{ close(by: 'daemon'): void }>;
}

/** One accepted agent connection: its place among the target's connections and who logged in on it. */
export interface AgentSocket {
  readonly id: string;
  lease?: ConnectionLease;
  /** over the target's cap: the first request on it is answered 503 */
  refusal?: { message: string; release(): void };
  session?: AgentSession;
  authTimer?: { cancel(): void };
  /** aborted when the connection closes: what it has held is cancelled */
  readonly gone: AbortController;
}

/**
 * The egress forward proxy (`--protocol egress`): agents set `HTTPS_PROXY=http://agent:<token>@host:port`.
 * Each `CONNECT host:port` is one `http.connect` action decided on the address the host resolves to
 * before any byte flows, then a byte tunnel (TLS inside is not intercepted); each plain-HTTP request
 * in absolute form is an `http.request`, forwarded to the checked address.
 */
export function createEgressProxy(options: EgressOptions = {}): ProxyFactory {
  return async (target: Target, context: ProxyContext): Promise<ProxyListener> => {
    const { limits } = context;
    const deps: EgressDeps = { target, context, resolve: options.resolve ?? systemResolve, dial: options.dial ?? systemDial, open: new Set() };
    const sockets = new WeakMap<Duplex, AgentSocket>();
    const accepted = new Set<net.Socket>();
    const server = http.createServer({
      // slowloris: a request head must arrive within limits.authTimeout, checked that often
      headersTimeout: limits.authTimeoutMs,
      connectionsCheckingInterval: limits.authTimeoutMs,
      // a forwarded upload may take long; an idle one is cut by limits.idleTimeout
      requestTimeout: 0,
      // a request head is recorded with its action: no larger than the text an action keeps
      maxHeaderSize: limits.actionTextBytes,
    });
    if (limits.idleTimeoutMs > 0) server.timeout = limits.idleTimeoutMs;
    const plain = plainHttp(deps);

    server.on('connection', (socket: net.Socket) => {
      socket.on('error', () => undefined);
      const state: AgentSocket = { id: newId('egc'), gone: new AbortController() };
      const admission = context.connections.admit();
      if (admission.kind === 'refused') {
        if (admission.atOnce) {
          // as many refused connections already wait to be told: this one holds nothing
          socket.destroy();
          return;
        }
        state.refusal = { message: admission.refusal.message, release: admission.release };
      } else state.lease = admission.lease;
      sockets.set(socket, state);
      accepted.add(socket);
      // a connection that never authenticates a request is closed after limits.authTimeout
      state.authTimer = context.clock.setTimeout(() => {
        if (state.session !== undefined) return;
        context.logger.warn(`connection ${state.id}: closed: no authenticated request within ${limits.authTimeoutMs} ms (limits.authTimeout)`);
        socket.destroy();
      }, limits.authTimeoutMs);
      socket.once('close', () => {
        accepted.delete(socket);
        state.gone.abort();
        state.authTimer?.cancel();
        state.lease?.release();
        state.refusal?.release();
      });
    });

    /** Logs the request's agent in on its connection, or says why not (407, or 503 over a cap). */
    const login = (state: AgentSocket, rawHeaders: string[]): { ok: true; session: AgentSession } | { ok: false; reply: EgressReply } => {
      if (state.refusal) return { ok: false, reply: busy(state.refusal.message) };
      const credential = agentCredential(headerListOf(rawHeaders), 'proxy-authorization');
      if (credential.kind === 'missing') return { ok: false, reply: proxyAuthRequired(`target "${target.name}": proxy authentication required: put the agent session token in the proxy URL (http://agent:<token>@host:port)`) };
      if (credential.kind === 'malformed') return { ok: false, reply: proxyAuthRequired(`target "${target.name}": ${credential.reason}`) };
      const result = context.sessions.authenticate(credential.token, target.name);
      if (!result.ok) return { ok: false, reply: proxyAuthRequired(`target "${target.name}": ${result.message}`) };
      if (state.session !== undefined) {
        if (state.session.id === result.session.id) return { ok: true, session: result.session };
        return { ok: false, reply: proxyAuthRequired(`target "${target.name}": this connection is logged in as agent session "${state.session.name}"; open a new connection for agent session "${result.session.name}"`) };
      }
      const refused = state.lease?.identify({ id: result.session.id, name: result.session.name });
      if (refused || !state.lease) {
        state.lease = undefined;
        return { ok: false, reply: busy(refused?.message ?? `target "${target.name}": this connection holds no place among the target's connections`) };
      }
      state.session = result.session;
      state.authTimer?.cancel();
      return { ok: true, session: result.session };
    };

    server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      // nothing is read from the agent until the tunnel is allowed and open (a held CONNECT waits here)
      socket.pause();
      const state = sockets.get(req.socket);
      if (!state) return void socket.destroy();
      const logged = login(state, req.rawHeaders);
      if (!logged.ok) return writeRawReply(socket, logged.reply);
      const authority = parseConnectAuthority(req.url ?? '');
      if (!authority.ok) return writeRawReply(socket, badRequest(`target "${target.name}": ${authority.reason}`));
      void openTunnel(deps, { connection: state, session: logged.session, destination: authority, socket, head });
    });

    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const state = sockets.get(req.socket);
      if (!state) return void req.socket.destroy();
      const parsed = parseAbsoluteUrl(req.url ?? '');
      if (!parsed.ok) return sendReply(res, badRequest(`target "${target.name}": ${parsed.reason}`), true);
      const logged = login(state, req.rawHeaders);
      // a refused login closes the connection: a client that retries with credentials opens a new one
      if (!logged.ok) return sendReply(res, logged.reply, logged.reply.status !== 407);
      plain.forward(state, logged.session, req, res).catch((err: Error) => {
        context.logger.error(`connection ${state.id}: ${req.method} request failed: ${err.message}`);
        res.destroy();
      });
    });

    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable) return void socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const reason = status === 431 ? `the request head is larger than ${limits.actionTextBytes} bytes (limits.actionTextBytes)` : status === 408 ? `the request head did not arrive within ${limits.authTimeoutMs} ms (limits.authTimeout)` : `malformed request: ${err.code ?? err.message}`;
      const reply = badRequest(`target "${target.name}": ${reason}`);
      writeRawReply(socket, { ...reply, status });
    });

    const listener = await listenForTarget(server, target, context, () => {
      for (const tunnel of deps.open) tunnel.close('daemon');
      for (const socket of accepted) socket.destroy();
    });
    return {
      address: listener.address,
      close: async () => {
        await listener.close();
        await plain.close();
      },
    };
  };
}

/** The production egress proxy: the system resolver, plain TCP connects. */
export const egressProxy: ProxyFactory = createEgressProxy();
