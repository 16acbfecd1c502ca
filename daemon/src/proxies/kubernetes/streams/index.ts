/**
 * exec, attach and portforward streams of the Kubernetes proxy: the listener calls
 * `handleK8sUpgrade` for an upgrade on a connect request (see upgrade.ts). exec and attach over
 * WebSocket; port-forward over WebSocket (v4.channel.k8s.io) and kubectl's SPDY/3.1 (spdy/).
 */
export { handleK8sUpgrade } from './upgrade.js';
export type { K8sUpgradeContext, UpstreamSocketOptions } from './types.js';
export { openK8sUpstreamSocket, upstreamPathOf, type K8sUpstreamCredentials } from './upstream-socket.js';
export { SPDY_REFUSAL, SPDY_PORTFORWARD_REFUSAL } from './status.js';
