import net from 'node:net';
import ssh2 from 'ssh2';

const { Server, utils: sshUtils } = ssh2;
import type { Target } from '@airlock/shared';
import type { ProxyContext, ProxyFactory, ProxyListener } from '../listeners.js';
import { listenForTarget } from '../tcp-listener.js';
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
  // ssh2's Server does the protocol; the sockets are accepted here, so a connection can be cut
  // before or during the handshake (limits.authTimeout, a refusal) whatever state ssh2 is in
  const ssh = new Server({ hostKeys: [hostKeyOf(context)], ident: 'Airlock' });
  /** accepted sockets whose SSH version line ssh2 has not read yet, by the peer's address and port */
  const accepted = new Map<string, AgentConnection>();
  ssh.on('connection', (client, info) => {
    const key = `${info.ip}:${info.port}`;
    const connection = accepted.get(key);
    accepted.delete(key);
    if (connection) connection.attach(client);
    else client.end();
  });
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    // an exec is a few small packets each way: Nagle plus delayed ACKs would add ~40 ms to each
    socket.setNoDelay(true);
    const connection = new AgentConnection(socket, { target, context, upstream, classifier });
    if (connection.isClosed) return;
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    accepted.set(key, connection);
    connections.add(connection);
    socket.once('close', () => {
      accepted.delete(key);
      connections.delete(connection);
      connection.close();
    });
    ssh.injectSocket(socket);
  });
  return listenForTarget(server, target, context, () => {
    for (const c of connections) c.close();
  });
};
