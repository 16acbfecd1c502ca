import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';

const { Server, utils: sshUtils } = ssh2;
import type { Target } from '@airlock/shared';
import type { ProxyContext, ProxyFactory, ProxyListener } from '../listeners.js';
import { AgentConnection } from './connection.js';
import { shellClassifier } from './classifier.js';
import { sshUpstream } from './upstream.js';

/**
 * The daemon's persistent SSH host key (the one `airlock ssh-config` pins for agents). A core that
 * offers none (an embedding without a data dir) gets a key made for this run, which agents cannot pin.
 */
function hostKeyOf(context: ProxyContext): string {
  return context.sshHostKey?.().privateKeyPem ?? sshUtils.generateKeyPairSync('ed25519').private;
}

/** Listens for agents on the target's address; each connection is relayed to the target's SSH server. */
export const sshProxy: ProxyFactory = async (target: Target, context: ProxyContext): Promise<ProxyListener> => {
  const upstream = sshUpstream(target, context);
  const classifier = await shellClassifier();
  const connections = new Set<AgentConnection>();
  const server = new Server({ hostKeys: [hostKeyOf(context)], ident: 'Airlock' }, (client) => {
    const connection = new AgentConnection(client, { target, context, upstream, classifier });
    connections.add(connection);
    client.once('close', () => connections.delete(connection));
  });
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
        for (const c of connections) c.close();
      }),
  };
};
