import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Target } from '@airlock/shared';
import type { ProxyContext, ProxyListener } from './listeners.js';

/**
 * Binds an adapter's TCP server to the target's listen address and gives the core its handle: the
 * address actually bound, and a close that stops accepting and ends the open connections (`closeAll`).
 * A bind error rejects (the listener manager reports it on the target); later server errors are logged.
 */
export async function listenForTarget(server: net.Server, target: Target, context: ProxyContext, closeAll: () => void): Promise<ProxyListener> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(target.listen.port, target.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err: Error) => context.logger.error(err.message));
  const address = server.address() as AddressInfo;
  return {
    address: `${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        closeAll();
      }),
  };
}
