import http from 'node:http';
import type net from 'node:net';
import type { Target } from '@airlock/shared';
import { DEFAULT_GRAPHQL_PATHS, describeRequest } from '../../classify/http/index.js';
import type { HttpRequestHead } from '../../classify/http/types.js';
import type { ProxyContext, ProxyFactory, ProxyListener } from '../listeners.js';
import { listenForTarget } from '../tcp-listener.js';
import { HttpAgentConnection } from './agent-connection.js';
import type { CookieJar } from './cookies.js';
import { answer, bodyPending, runExchange, type ExchangeHooks } from './exchange.js';
import { headerListOf } from './headers.js';
import { badRequest, rawAnswer } from './refusal.js';
import { httpUpstream, type HttpUpstream } from './upstream.js';

/**
 * Most header fields in one request. Their bytes are bounded by maxHeaderSize; the count is bounded
 * too, as Apache's LimitRequestFields (100) does, since each one is a field policy, the record and
 * the upstream must all read the same way. Real clients send a dozen or two.
 */
const MAX_HEADER_FIELDS = 200;
import { runWebsocket } from './websocket.js';
import { exchangeServerOptions } from './server-options.js';

/** The exchange hooks of an API target: every request goes to its one upstream with the real credential. */
export function apiTargetHooks(target: Target, context: ProxyContext, upstream: HttpUpstream): ExchangeHooks {
  const route = {
    origin: upstream.origin,
    hostHeader: upstream.hostHeader,
    basePath: upstream.basePath,
    dispatcher: upstream.dispatcher,
    credentialHeader: upstream.credentialHeader,
    secrets: upstream.secrets,
  };
  const upstreamOf = { host: upstream.host, port: upstream.port, scheme: upstream.scheme } as const;
  return {
    via: 'api',
    describe: (head: HttpRequestHead) => describeRequest(head, upstreamOf, { maxTargetBytes: context.limits.actionTextBytes }),
    route: () => route,
    classifyOptions: { graphqlPaths: target.graphqlPaths ?? DEFAULT_GRAPHQL_PATHS, documentBytes: context.limits.actionTextBytes },
  };
}

/**
 * An API target (`--protocol http`): a reverse proxy in front of one upstream. Node's HTTP parser
 * frames requests (headers bounded by limits.actionTextBytes, a head that does not arrive within
 * limits.authTimeout is dropped: slowloris); each connection takes its place among the target's at
 * accept; each request logs in with the agent's session token and runs as one exchange.
 */
export const httpProxy: ProxyFactory = async (target: Target, context: ProxyContext): Promise<ProxyListener> => {
  const upstream = httpUpstream(target, context);
  const hooks = apiTargetHooks(target, context, upstream);
  const jars = new Map<string, CookieJar>();
  const connections = new Map<net.Socket, HttpAgentConnection>();
  const limits = context.limits;
  const server = http.createServer(exchangeServerOptions(limits));

  server.on('connection', (socket: net.Socket) => {
    socket.on('error', () => undefined);
    const connection = new HttpAgentConnection(socket, context, target.name, jars);
    const refused = connection.admit();
    if (refused) {
      socket.end(rawAnswer(refused));
      socket.setTimeout(1000, () => socket.destroy());
      return;
    }
    connections.set(socket, connection);
    socket.once('close', () => connections.delete(socket));
  });

  // Expect: 100-continue is answered by the exchange once the body is to be read, not by Node at once
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const connection = connections.get(req.socket);
    if (!connection) {
      req.socket.destroy();
      return;
    }
    const headers = headerListOf(req.rawHeaders);
    if (headers.length > MAX_HEADER_FIELDS) {
      answer(res, badRequest(431, `the request has ${headers.length} header fields; target "${target.name}" accepts at most ${MAX_HEADER_FIELDS}`, headers), connection, true);
      return;
    }
    const login = connection.login(headers);
    if (!login.ok) {
      answer(res, login.answer, connection, login.close || bodyPending(req));
      return;
    }
    const exchange = { id: connection.id, session: login.session, gone: connection.gone, jar: connection.jar, endWith: (raw: string | Uint8Array) => connection.endWith(raw) };
    runExchange(req, res, exchange, { target, context, hooks }).catch((err: Error) => {
      context.logger.error(`connection ${connection.id}: ${req.method} request failed: ${err.message}`);
      res.destroy();
    });
  };
  server.on('request', onRequest);
  server.on('checkContinue', onRequest);

  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, headBytes: Buffer) => {
    const connection = connections.get(socket);
    if (!connection) return socket.destroy();
    const headers = headerListOf(req.rawHeaders);
    const login = connection.login(headers);
    if (!login.ok) {
      socket.end(rawAnswer(login.answer));
      return;
    }
    runWebsocket(req, socket, headBytes, { id: connection.id, session: login.session, gone: connection.gone }, { target, context, hooks, upstream }).catch((err: Error) => {
      context.logger.error(`connection ${connection.id}: WebSocket upgrade failed: ${err.message}`);
      socket.destroy();
    });
  });

  // a request Node's parser cannot frame (malformed request line, headers too large): one JSON answer, then closed
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (!socket.writable) return socket.destroy();
    const code = err.code ?? '';
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'HPE_HEADERS_TIMEOUT' ? 408 : 400;
    const reason =
      status === 431
        ? `the request headers are larger than target "${target.name}" accepts (limits.actionTextBytes)`
        : status === 408
          ? `the request head did not arrive within limits.authTimeout`
          : `the request could not be parsed as HTTP/1.1 (${code || err.message})`;
    socket.end(rawAnswer(badRequest(status, reason, [])));
  });

  const listener = await listenForTarget(server, target, context, () => {
    for (const socket of connections.keys()) socket.destroy();
  });
  return {
    address: listener.address,
    close: async () => {
      await listener.close();
      await upstream.dispatcher.close().catch(() => undefined);
    },
  };
};
