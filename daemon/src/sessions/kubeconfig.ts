import YAML from 'yaml';
import type { AgentSession, TargetStatus } from '@airlock/shared';

/**
 * The kubeconfig `airlock kubeconfig` writes for an agent session: one cluster, user and context per
 * Kubernetes target (named after the target), each cluster the target's listener over HTTPS with the
 * daemon's local CA as certificate-authority-data, each user the session's token. So
 * `KUBECONFIG=FILE kubectl --context TARGET get pods` verifies the daemon with no TLS flag. Pure.
 */

export interface KubeconfigCluster {
  /** the target's name: cluster, user and context are all called so */
  name: string;
  /** https://127.0.0.1:PORT */
  server: string;
}

/** The listener address an agent on this machine dials: a wildcard bind is reached on loopback. */
export function listenerServer(status: Pick<TargetStatus, 'address' | 'target'>): string | undefined {
  const address = status.address;
  if (!address) return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  if (!m) return undefined;
  let host = m[1] ?? m[2]!;
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return `https://${host.includes(':') ? `[${host}]` : host}:${m[3]}`;
}

export function renderKubeconfig(input: { session: Pick<AgentSession, 'id' | 'name'>; token: string; caPem: string; clusters: readonly KubeconfigCluster[] }): string {
  const caData = Buffer.from(input.caPem, 'utf8').toString('base64');
  const userName = `airlock-${input.session.id}`;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: input.clusters.map((c) => ({ name: c.name, cluster: { server: c.server, 'certificate-authority-data': caData } })),
    users: [{ name: userName, user: { token: input.token } }],
    contexts: input.clusters.map((c) => ({ name: c.name, context: { cluster: c.name, user: userName } })),
    'current-context': input.clusters[0]?.name ?? '',
  };
  const header = `# Written by "airlock kubeconfig" for agent session ${input.session.id} "${input.session.name.replace(/[\r\n]+/g, ' ')}".\n# Use: KUBECONFIG=THIS_FILE kubectl --context TARGET ...; the token in it is the session's: keep the file private.\n`;
  return header + YAML.stringify(doc);
}
