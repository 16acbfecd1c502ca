import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { rawAnswer } from '../http/refusal.js';
import { k8sStatus } from './status.js';
import type { K8sUpgradeContext } from './streams/types.js';

/**
 * The seam between the Kubernetes listener and the stream code (exec, attach, portforward over
 * WebSocket): the listener logs the agent in, describes the request and hands it over with a way to
 * open the upstream socket (K8sUpgradeContext). Until a handler is registered (the streams module
 * does so when it is built in), every upgrade is refused with a Status that says so.
 */
export type K8sUpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, ctx: K8sUpgradeContext) => Promise<void>;

let registered: K8sUpgradeHandler | undefined;

/** Called once by the streams module at load. */
export function registerK8sUpgradeHandler(handler: K8sUpgradeHandler): void {
  registered = handler;
}

export async function handleK8sUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: K8sUpgradeContext): Promise<void> {
  if (registered) return registered(req, socket, head, ctx);
  const what = ctx.described.info.connect ?? 'an upgrade';
  socket.end(rawAnswer(k8sStatus(400, 'BadRequest', `airlock: ${what} streams are not available through target "${ctx.target.name}" in this build of airlockd`)));
}
