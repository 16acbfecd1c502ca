import type http from 'node:http';
import type net from 'node:net';
import { Agent, type buildConnector } from 'undici';
import type { AgentSession } from '@airlock/shared';
import { DEFAULT_GRAPHQL_PATHS, describeRequest, egressAttributes } from '../../classify/http/index.js';
import type { HttpRequestHead } from '../../classify/http/types.js';
import { runExchange, type ExchangeHooks, type ExchangeRoute } from '../http/exchange.js';
import { CookieJar } from '../http/cookies.js';
import { hostPort } from './authority.js';
import { checkDestination } from './destination.js';
import type { AgentSocket, EgressDeps } from './listener.js';

/**
 * Plain-HTTP requests in absolute form (`GET http://host/path`) through the egress proxy: each is an
 * `http.request` run by the HTTP core's exchange (classified, held with its body unread, response
 * masked and recorded) like an API target's, with egress's differences in the hooks: the request is
 * described from its absolute URL, the destination resolved and checked as for CONNECT (an internal
 * one refused under egress-internal, the `destination` attribute added, a session grant scoped to
 * host:port), no credential added, and the connection made to the checked address itself.
 */
export interface PlainHttp {
  forward(connection: AgentSocket, session: AgentSession, req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  close(): Promise<void>;
}

export function plainHttp(deps: EgressDeps): PlainHttp {
  const { target, context } = deps;
  const limits = context.limits;
  // one pool for the target, keyed by the checked address: the origin an exchange is sent to is
  // `http://<address>:<port>`, never a name, so no lookup happens after the check (DNS rebinding)
  const dispatcher = new Agent({ connect: connector(deps), headersTimeout: 0, bodyTimeout: limits.idleTimeoutMs });
  const jars = new Map<string, CookieJar>();
  const hooks: ExchangeHooks = {
    via: 'egress',
    describe: (head: HttpRequestHead) => describeRequest(head, 'absolute', { maxTargetBytes: limits.actionTextBytes }),
    route: async (description): Promise<ExchangeRoute> => {
      const check = await checkDestination({ host: description.host, port: description.port }, target, deps.resolve, context.daemonPorts?.() ?? []);
      if (!check.ok) throw new Error(`target "${target.name}": ${check.reason}`);
      const checked = check.checked;
      const address = checked.addresses[0]!;
      const authority = hostPort(checked);
      return {
        origin: `http://${hostPort({ host: address, port: checked.port })}`,
        // RFC 9112 §3.2.2: the Host a proxy sends is the request-target's authority, whatever the agent sent
        hostHeader: checked.port === 80 ? authority.slice(0, authority.lastIndexOf(':')) : authority,
        basePath: '',
        dispatcher,
        secrets: [],
        attributes: egressAttributes(checked.verdict),
        ...(checked.verdict.refuse !== undefined ? { refuse: { ruleId: 'egress-internal', reason: checked.verdict.refuse } } : {}),
        grantKey: authority,
      };
    },
    classifyOptions: { graphqlPaths: DEFAULT_GRAPHQL_PATHS, documentBytes: limits.actionTextBytes },
  };
  return {
    async forward(connection, session, req, res) {
      let jar = jars.get(session.id);
      if (!jar) jars.set(session.id, (jar = new CookieJar()));
      const exchange = {
        id: connection.id,
        session,
        gone: connection.gone.signal,
        jar,
        closeAfterResponse: () => {
          res.shouldKeepAlive = false;
          res.once('finish', () => req.socket.end());
        },
      };
      await runExchange(req, res, exchange, { target, context, hooks });
    },
    close: () => dispatcher.close().catch(() => undefined),
  };
}

/** undici's connect step, through the egress dialler (to the checked address the origin names), within limits.connectTimeout. */
function connector(deps: EgressDeps): buildConnector.connector {
  return (options, callback) => {
    const host = options.hostname.replace(/^\[|\]$/g, '');
    // the URL parser leaves a scheme's default port out of the origin
    const port = options.port === '' ? (options.protocol === 'https:' ? 443 : 80) : Number(options.port);
    const socket: net.Socket = deps.dial(host, port);
    const timer = deps.context.clock.setTimeout(() => {
      socket.destroy(new Error(`no answer from ${options.hostname}:${options.port} within ${deps.context.limits.connectTimeoutMs} ms (limits.connectTimeout)`));
    }, deps.context.limits.connectTimeoutMs);
    const onError = (err: Error): void => {
      timer.cancel();
      callback(err, null);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      timer.cancel();
      socket.off('error', onError);
      callback(null, socket);
    });
  };
}
