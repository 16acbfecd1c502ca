/**
 * exec, attach and portforward streams of the Kubernetes proxy, over WebSocket only: the listener
 * calls `handleK8sUpgrade` for an upgrade on a connect request (see upgrade.ts).
 */
export { handleK8sUpgrade } from './upgrade.js';
export type { K8sUpgradeContext, UpstreamSocketOptions } from './types.js';
export { openK8sUpstreamSocket, upstreamPathOf, type K8sUpstreamCredentials } from './upstream-socket.js';
export { SPDY_REFUSAL, SPDY_PORTFORWARD_REFUSAL } from './status.js';
