import type { AgentSession, Target } from '@airlock/shared';
import type { WebSocket } from 'ws';
import type { K8sClassification, K8sRequestInfo } from '../../../classify/k8s/index.js';
import type { ProxyContext } from '../../listeners.js';

/**
 * What the Kubernetes listener hands `handleK8sUpgrade` for one upgrade request (exec, attach,
 * portforward) after the agent logged in and the request was described.
 */
export interface K8sUpgradeContext {
  target: Target;
  /** pipeline, limits, logger, masking, clock */
  context: ProxyContext;
  /** the agent session whose token came with the request */
  session: AgentSession;
  /** the agent's connection (recorded in the detail) */
  connectionId: string;
  /** aborted when the agent's connection goes (a held decision is cancelled); the socket's close when absent */
  gone?: AbortSignal;
  /** classify/k8s describeK8sRequest of the request */
  described: { info: K8sRequestInfo; classification: K8sClassification };
  /** literal forms of the daemon's credential, redacted from anything the agent or the record gets */
  secrets?: readonly string[];
  /**
   * Opens the upstream WebSocket to the request's canonical path and query (`described.info.path`
   * and its query as sent, or `query` instead when given: the SPDY port-forward opens one upstream
   * per port with `?ports=PORT`) with the daemon's credential over verified TLS, offering `protocols`.
   */
  openUpstream(protocols: string[], options: UpstreamSocketOptions, query?: ReadonlyArray<readonly [string, string]>): WebSocket;
}

export interface UpstreamSocketOptions {
  /** the largest message the upstream may send (limits.upstreamMessageBytes) */
  maxPayload: number;
  /** limits.connectTimeoutMs */
  handshakeTimeout: number;
}
