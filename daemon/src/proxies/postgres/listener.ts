import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Target } from '@airlock/shared';
import type { ProxyContext, ProxyFactory, ProxyListener } from '../listeners.js';
import { listenForTarget } from '../tcp-listener.js';
import { ClientConnection } from './connection.js';
import { CancelRegistry } from './cancel.js';
import { SqlClassifier } from './classification.js';
import { upstreamSettings } from './upstream.js';
import { TargetCatalogs } from './catalog.js';
import { CatalogConnections, DEFAULT_CATALOG_CONNECTION_OPTIONS } from './catalog-connection.js';

/** One classifier (and its cache) for all PostgreSQL targets of the daemon. */
let sharedClassifier: Promise<SqlClassifier> | undefined;

/** Listens for agents on the target's address and proxies each connection to the real server. */
export const postgresProxy: ProxyFactory = async (target: Target, context: ProxyContext): Promise<ProxyListener> => {
  sharedClassifier ??= SqlClassifier.create();
  const classifier = await sharedClassifier;
  const upstream = upstreamSettings(target, context);
  const tlsContext = target.listen.tls ? tls.createSecureContext({ cert: readFileSync(target.listen.tls.cert), key: readFileSync(target.listen.tls.key) }) : undefined;
  const cancels = new CancelRegistry();
  // the target's catalog, read through the daemon's own connections: what functions and views do, where columns come from
  const catalogs = target.catalog === false ? undefined : new TargetCatalogs(
          new CatalogConnections(upstream, { ...DEFAULT_CATALOG_CONNECTION_OPTIONS, maxMessageBytes: context.limits.upstreamMessageBytes }),
          { now: () => context.clock.now() },
        );
  const connections = new Set<ClientConnection>();
  const server = net.createServer((socket) => {
    const connection = new ClientConnection(socket, { target, context, upstream, classifier, cancels, catalogs, tlsContext });
    connections.add(connection);
    socket.once('close', () => connections.delete(connection));
  });
  return listenForTarget(server, target, context, () => {
    for (const c of connections) c.close();
    catalogs?.close();
  });
};
