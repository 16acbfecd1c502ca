import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';

const { Server, utils: sshUtils } = ssh2;
import type { Target } from '@airlock/shared';
import type { ProxyContext, ProxyFactory, ProxyListener } from '../listeners.js';
import { AgentConnection } from './connection.js';
import { shellClassifier } from './classifier.js';
import { sshUpstream } from './upstream.js';

/** The daemon's SSH host key: the persistent one the core hands in, else one made for this run. */
function hostKeyOf(context: ProxyContext): string | Buffer {
  const given = (context as unknown as { sshHostKey?: string | Buffer }).sshHostKey;
  if (given) return given;
  return sshUtils.generateKeyPairSync('ed25519').private;
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
