import os from 'node:os';
import path from 'node:path';

/** The data dir: $AIRLOCK_HOME, or ~/.airlock. Everything the daemon keeps lives below it. */
export function airlockHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.AIRLOCK_HOME;
  return path.resolve(fromEnv && fromEnv.trim() !== '' ? fromEnv : path.join(os.homedir(), '.airlock'));
}

export interface HomePaths {
  home: string;
  config: string;
  daemonInfo: string;
  recordings: string;
  sessionIndex: string;
  /** the recordings ledger: every log's creation and end, hash-chained */
  recordingLedger: string;
  agentSessions: string;
  pendingApprovals: string;
  centralPolicyCache: string;
  daemonLog: string;
  /** what was last in force; see EnforcedState */
  enforced: string;
  /** SSH material, mode 0700: the daemon's host key, each agent session's key, generated client configs */
  sshDir: string;
  /** the daemon's own SSH host key (OpenSSH format, 0600), what agents' ssh clients pin */
  sshHostKey: string;
  /** one private key per agent session, named by the session id (0600); removed when it is revoked */
  sshSessionKeys: string;
  /** the known_hosts file the generated ssh configs point at: the daemon's host key for each listener */
  sshKnownHosts: string;
  /** the daemon's local certificate authority, mode 0700: what TLS listeners' certificates chain to */
  caDir: string;
  /** the local CA's private key (PKCS#8 PEM, 0600) */
  caKey: string;
  /** the local CA's certificate (PEM, 0644), what generated kubeconfigs trust */
  caCert: string;
}

export function homePaths(home: string): HomePaths {
  return {
    home,
    config: path.join(home, 'config.yaml'),
    daemonInfo: path.join(home, 'daemon.json'),
    recordings: path.join(home, 'recordings'),
    sessionIndex: path.join(home, 'sessions.json'),
    recordingLedger: path.join(home, 'ledger.jsonl'),
    agentSessions: path.join(home, 'agent-sessions.json'),
    pendingApprovals: path.join(home, 'pending-approvals.json'),
    centralPolicyCache: path.join(home, 'central-policy.json'),
    daemonLog: path.join(home, 'daemon.log'),
    enforced: path.join(home, 'enforced.json'),
    sshDir: path.join(home, 'ssh'),
    sshHostKey: path.join(home, 'ssh', 'host_ed25519_key'),
    sshSessionKeys: path.join(home, 'ssh', 'sessions'),
    sshKnownHosts: path.join(home, 'ssh', 'known_hosts'),
    caDir: path.join(home, 'ca'),
    caKey: path.join(home, 'ca', 'ca.key'),
    caCert: path.join(home, 'ca', 'ca.crt'),
  };
}
