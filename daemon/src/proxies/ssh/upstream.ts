import { upstreamUrlOf } from '@airlock/shared';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import ssh2, { type Client, type ConnectConfig } from 'ssh2';
import type { Target } from '@airlock/shared';
import { CredentialFileError, readCredentialFile } from '../../config/credential-file.js';
import { TargetConfigError, checkTargetCredentialFile } from '../target-config-error.js';
import type { ProxyContext } from '../listeners.js';
import { checkHostKey, pinRefusal, type PinVerdict } from './host-key.js';

/** Where and how the daemon logs in to a target's real SSH server. */
export interface SshUpstream {
  target: string;
  host: string;
  port: number;
  username: string;
  /** user@host:port, as actions and messages name it */
  address: string;
  /** connects and logs in, or rejects with one sentence naming the target (unpinned or changed host key, refused credential, unreachable) */
  connect(): Promise<Client>;
}

export class UpstreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpstreamError';
  }
}

/** A private key or a password, by its content: OpenSSH and PEM private keys start with `-----BEGIN`. */
function credentialOptions(secret: string): Pick<ConnectConfig, 'privateKey' | 'password'> {
  return secret.trimStart().startsWith('-----BEGIN') ? { privateKey: secret } : { password: secret };
}

/**
 * The target's upstream. A credential file others can read stops the target at load, as for
 * PostgreSQL. The credential (and the known_hosts file) are read at each connection, so a rotated key
 * is used without a restart.
 */
export function sshUpstream(target: Target, context: ProxyContext, env: NodeJS.ProcessEnv = process.env): SshUpstream {
  const url = upstreamUrlOf(target);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : 22;
  const username = decodeURIComponent(url.username);
  if (!username) throw new TargetConfigError(`target "${target.name}": the upstream URL names no user (expected ssh://user@host:port)`);
  checkTargetCredentialFile(target);
  const credential = target.credential;
  const address = `${username}@${host}:${port}`;
  const secret = (): Pick<ConnectConfig, 'privateKey' | 'password' | 'agent'> => {
    if (!credential) throw new UpstreamError(`target "${target.name}" has no credential for ${address} (set credential.file, credential.env or credential.agentSocket)`);
    if ('agentSocket' in credential) return { agent: credential.agentSocket };
    if ('env' in credential) {
      const value = env[credential.env];
      if (value === undefined) throw new UpstreamError(`target "${target.name}": the credential variable ${credential.env} is not set in airlockd's environment`);
      return credentialOptions(value);
    }
    return credentialOptions(readCredentialFile(target.name, credential.file));
  };
  const knownHosts = (): string | undefined => {
    if (target.knownHosts === undefined) return undefined;
    try {
      return readFileSync(target.knownHosts, 'utf8');
    } catch (err) {
      throw new UpstreamError(`target "${target.name}": cannot read its known_hosts file ${target.knownHosts}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return {
    target: target.name,
    host,
    port,
    username,
    address,
    connect: () =>
      new Promise<Client>((resolve, reject) => {
        let options: ConnectConfig;
        try {
          options = { ...secret(), host, port, username, readyTimeout: context.limits.connectTimeoutMs };
          const known = knownHosts();
          let refusal: string | undefined;
          options.hostVerifier = (key: Buffer): boolean => {
            const verdict: PinVerdict = checkHostKey(key, { fingerprint: target.hostKey, knownHosts: known, host, port });
            if (verdict.ok) return true;
            refusal = pinRefusal(target.name, { fingerprint: target.hostKey, knownHostsFile: target.knownHosts }, verdict);
            return false;
          };
          const client = new ssh2.Client();
          let settled = false;
          client.once('ready', () => {
            settled = true;
            resolve(client);
          });
          client.on('error', (err: Error & { level?: string }) => {
            if (settled) return;
            settled = true;
            client.end();
            if (refusal) return reject(new UpstreamError(refusal));
            if (err.level === 'client-authentication') return reject(new UpstreamError(`target "${target.name}": ${address} refused the target's credential (${err.message})`));
            if (err.level === 'client-timeout') return reject(new UpstreamError(`target "${target.name}": ${address} did not complete the SSH login within ${context.limits.connectTimeoutMs} ms (limits.connectTimeout)`));
            reject(new UpstreamError(`target "${target.name}": cannot connect to ${address}: ${err.message}`));
          });
          // our own socket, so Nagle can be off (ssh2 leaves it on): a command's small packets go at once
          const sock = net.connect({ host, port });
          sock.setNoDelay(true);
          client.connect({ ...options, sock });
        } catch (err) {
          reject(err instanceof UpstreamError || err instanceof CredentialFileError ? new UpstreamError(err.message) : new UpstreamError(`target "${target.name}": ${(err as Error).message}`));
        }
      }),
  };
}
