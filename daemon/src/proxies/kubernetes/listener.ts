import type http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type tls from 'node:tls';
import { WebSocket } from 'ws';
import type { Target } from '@airlock/shared';
import { describeK8sRequest } from '../../classify/k8s/index.js';
import type { ProxyContext, ProxyFactory, ProxyListener } from '../listeners.js';
import { listenForTarget } from '../tcp-listener.js';
import { TargetConfigError } from '../target-config-error.js';
import { HttpAgentConnection } from '../http/agent-connection.js';
import type { CookieJar } from '../http/cookies.js';
import { answer, bodyPending } from '../http/exchange.js';
import { headerListOf } from '../http/headers.js';
import { rawAnswer } from '../http/refusal.js';
import { runK8sExchange } from './exchange.js';
import { asK8sStatus, k8sStatus } from './status.js';
import { handleK8sUpgrade } from './upgrade.js';
import { k8sUpstream } from './upstream.js';
import { exchangeServerOptions } from '../http/server-options.js';

/** Header fields in one request, at most (as the HTTP listener: Apache's LimitRequestFields order). */
const MAX_HEADER_FIELDS = 200;

/** How often the listener asks the local CA whether its certificate is due for renewal (daily). */
const LEAF_CHECK_MS = 24 * 60 * 60 * 1000;

/** The listener serves a name agents may dial besides loopback: the listen host, unless it is a wildcard. */
function listenerHosts(target: Target): string[] {
  const host = target.listen.host;
  return host === '0.0.0.0' || host === '::' || host === '' ? [] : [host];
}

/**
 * A Kubernetes target (`--protocol kubernetes`): an HTTPS listener with a certificate from the
 * daemon's local CA (what `airlock kubeconfig` tells clients to trust), agents logging in with
 * `Authorization: Bearer <session token>`, each request an exchange (exchange.ts), and upgrades
 * (exec, attach, portforward) handed to the stream code (upgrade.ts). Connection caps, the login
 * and head timeouts are the HTTP listener's (HttpAgentConnection, limits).
 */
export const kubernetesProxy: ProxyFactory = async (target: Target, context: ProxyContext): Promise<ProxyListener> => {
  const localCa = context.localCa?.();
  if (!localCa) throw new TargetConfigError(`target "${target.name}": the daemon has no local CA to serve the Kubernetes listener's certificate with`);
  const upstream = k8sUpstream(target, context);
  try {
    await upstream.credentials();
  } catch (err) {
    await upstream.close();
    throw new TargetConfigError((err as Error).message);
  }
  let leaf = await localCa.leafFor(listenerHosts(target));
  const limits = context.limits;
  const jars = new Map<string, CookieJar>();
  const connections = new Map<net.Socket, HttpAgentConnection>();
  const server = https.createServer({
    cert: leaf.certPem,
    key: leaf.keyPem,
    minVersion: 'TLSv1.2',
    handshakeTimeout: limits.authTimeoutMs,
    ...exchangeServerOptions(limits),
  } as https.ServerOptions);

  server.on('secureConnection', (socket: tls.TLSSocket) => {
    socket.on('error', () => undefined);
    const connection = new HttpAgentConnection(socket, context, target.name, jars);
    const refused = connection.admit();
    if (refused) {
      socket.end(rawAnswer(asK8sStatus(refused)));
      socket.setTimeout(1000, () => socket.destroy());
      return;
    }
    connections.set(socket, connection);
    socket.once('close', () => connections.delete(socket));
  });
  server.on('tlsClientError', () => undefined);

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const connection = connections.get(req.socket);
    if (!connection) return void req.socket.destroy();
    const headers = headerListOf(req.rawHeaders);
    if (headers.length > MAX_HEADER_FIELDS) {
      return answer(res, k8sStatus(431, 'BadRequest', `airlock: the request has ${headers.length} header fields; target "${target.name}" accepts at most ${MAX_HEADER_FIELDS}`), connection, true);
    }
    const login = connection.login(headers);
    if (!login.ok) return answer(res, asK8sStatus(login.answer), connection, login.close || bodyPending(req));
    const exchange = { id: connection.id, session: login.session, gone: connection.gone, endWith: (raw: string | Uint8Array) => connection.endWith(raw) };
    runK8sExchange(req, res, exchange, { target, context, upstream }).catch((err: Error) => {
      context.logger.error(`connection ${connection.id}: ${req.method} request failed: ${err.message}`);
      res.destroy();
    });
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const connection = connections.get(socket);
    if (!connection) return void socket.destroy();
    const headers = headerListOf(req.rawHeaders);
    const login = connection.login(headers);
    if (!login.ok) return void socket.end(rawAnswer(asK8sStatus(login.answer)));
    const rawUrl = req.url ?? '';
    const q = rawUrl.indexOf('?');
    const described = describeK8sRequest({ method: req.method ?? '', path: q < 0 ? rawUrl : rawUrl.slice(0, q), query: [...new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1))], rawQuery: q < 0 ? '' : rawUrl.slice(q + 1) }, { headers });
    if ('error' in described) return void socket.end(rawAnswer(k8sStatus(described.status, described.status === 404 ? 'NotFound' : 'BadRequest', `airlock: ${described.error}`)));
    void (async () => {
      // fetched before the hand-over: openUpstream is synchronous
      const [{ headers: credential }, tlsOptions] = await Promise.all([upstream.credentials(), upstream.tlsOptions()]);
      const urlWith = (query: ReadonlyArray<readonly [string, string]>): string => {
        const forwardQuery = new URLSearchParams(query as [string, string][]).toString();
        return `${upstream.origin.replace(/^https:/, 'wss:')}${upstream.basePath}${described.info.path}${forwardQuery ? `?${forwardQuery}` : ''}`;
      };
      await handleK8sUpgrade(req, socket, head, {
        target,
        context,
        session: login.session,
        connectionId: connection.id,
        gone: connection.gone,
        described,
        secrets: upstream.secrets,
        openUpstream: (protocols, options, query) =>
          new WebSocket(urlWith(query ?? described.info.query), protocols, {
            headers: Object.fromEntries(credential),
            ...tlsOptions,
            rejectUnauthorized: true,
            maxPayload: options.maxPayload,
            handshakeTimeout: options.handshakeTimeout,
            perMessageDeflate: false,
          }),
      });
    })().catch((err: Error) => {
      context.logger.error(`connection ${connection.id}: upgrade failed: ${err.message}`);
      socket.destroy();
    });
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (!socket.writable) return void socket.destroy();
    const code = err.code ?? '';
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'HPE_HEADERS_TIMEOUT' ? 408 : 400;
    const reason =
      status === 431 ? `the request headers are larger than target "${target.name}" accepts (limits.actionTextBytes)` : status === 408 ? 'the request head did not arrive within limits.authTimeout' : `the request could not be parsed as HTTP/1.1 (${code || err.message})`;
    socket.end(rawAnswer(k8sStatus(status, status === 408 ? 'Timeout' : 'BadRequest', `airlock: ${reason}`)));
  });

  // the leaf lives weeks; a daemon that runs longer serves the one the CA re-issues as it nears expiry
  let renewal: { cancel(): void } | undefined;
  let closed = false;
  const renew = (): void => {
    if (closed) return;
    renewal = context.clock.setTimeout(() => {
      localCa
        .leafFor(listenerHosts(target))
        .then((next) => {
          if (next !== leaf) {
            leaf = next;
            server.setSecureContext({ cert: next.certPem, key: next.keyPem, minVersion: 'TLSv1.2' });
          }
        })
        .catch((err: Error) => context.logger.error(`target "${target.name}": the listener certificate could not be renewed: ${err.message}`))
        .finally(renew);
    }, LEAF_CHECK_MS);
  };
  renew();

  const listener = await listenForTarget(server, target, context, () => {
    for (const socket of connections.keys()) socket.destroy();
  });
  return {
    address: listener.address,
    close: async () => {
      closed = true;
      renewal?.cancel();
      await listener.close();
      await upstream.close();
    },
  };
};
