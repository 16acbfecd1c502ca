import type { Protocol } from '@airlock/shared';
import type { ProxyFactory } from './listeners.js';
import { egressProxy } from './egress/listener.js';
import { postgresProxy } from './postgres/listener.js';
import { sshProxy } from './ssh/listener.js';
import { httpProxy } from './http/listener.js';
import { kubernetesProxy } from './kubernetes/listener.js';

/** The protocol adapters compiled into this build; each protocol's folder adds itself here. */
export function builtInProxies(): Partial<Record<Protocol, ProxyFactory>> {
  return { postgres: postgresProxy, ssh: sshProxy, http: httpProxy, egress: egressProxy, kubernetes: kubernetesProxy };
}
