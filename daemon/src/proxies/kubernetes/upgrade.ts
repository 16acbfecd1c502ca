import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { handleK8sUpgrade as handleStreamUpgrade } from './streams/index.js';
import type { K8sUpgradeContext } from './streams/types.js';

/**
 * The seam between the Kubernetes listener and the stream code (exec, attach, portforward over
 * WebSocket, streams/): the listener logs the agent in, describes the request and hands it over with
 * a way to open the upstream socket (K8sUpgradeContext).
 */
export function handleK8sUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: K8sUpgradeContext): Promise<void> {
  return handleStreamUpgrade(req, socket, head, ctx);
}
