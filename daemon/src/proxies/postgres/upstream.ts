import { upstreamUrlOf } from '@airlock/shared';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { serialize } from 'pg-protocol';
import type { Target } from '@airlock/shared';
import type { TargetLimits } from '../limits.js';
import { formatDuration, type Clock } from '../../util/time.js';
import { BackendDecoder } from './backend.js';
import { MessageFramer, ProtocolError, type WireMessage } from './protocol.js';
import { CredentialFileError, readCredentialFile } from '../../config/credential-file.js';
import { TargetConfigError, checkTargetCredentialFile } from '../target-config-error.js';
import { resolveUpstreamSecurity, upstreamHost, type ChannelBinding, type RequireAuth, type SslMode } from './upstream-settings.js';
import { UpstreamAuthenticator, type UpstreamAuthMethod } from './upstream-auth.js';
import { tlsServerEndPoint } from './channel-binding.js';

export { SSL_MODES, type SslMode } from './upstream-settings.js';

/** Where and how to reach the real server, from the target's upstream URL and credential reference. */
export interface UpstreamSettings {
  target: string;
  host: string;
  port: number;
  user: string;
  /** empty: use the database the agent asked for */
  database: string;
  sslmode: SslMode;
  /** PEM of the CA for verify-ca / verify-full (and require, which then verifies the chain, as in libpq) */
  ca?: string;
  /** which authentication requests the password may answer (upstream-settings.ts); absent: Airlock's default */
  requireAuth?: RequireAuth;
  /** absent: prefer */
  channelBinding?: ChannelBinding;
  connectTimeoutMs: number;
  /** the daemon's clock (ProxyContext), for the connect and login timeouts */
  clock: Clock;
  password(): string | undefined;
}

/** A connection failure the agent sees as a FATAL naming the target and the reason. */
export class UpstreamError extends ProtocolError {
  constructor(
    message: string,
    code = '08001',
    /** the server itself refused (an ErrorResponse during login), rather than the network or Airlock */
    readonly serverRefused = false,
  ) {
    super(message, code);
    this.name = 'UpstreamError';
  }
}

/**
 * The target's upstream settings, checked as the target is loaded: a bad sslmode, require_auth or
 * channel_binding, an unreadable sslrootcert or a credential file others can read is a
 * TargetConfigError, and the target does not start.
 * `limits.connectTimeoutMs` bounds connecting and logging in, unless the URL sets libpq's
 * connect_timeout (seconds).
 */
export function upstreamSettings(target: Target, context: { limits: Pick<TargetLimits, 'connectTimeoutMs'>; clock: Clock }, env: NodeJS.ProcessEnv = process.env): UpstreamSettings {
  const url = upstreamUrlOf(target);
  const security = resolveUpstreamSecurity(target.name, url.href);
  let ca: string | undefined;
  if (security.sslrootcert && security.sslrootcert !== 'system') {
    try {
      ca = readFileSync(security.sslrootcert, 'utf8');
    } catch (err) {
      throw new TargetConfigError(`target "${target.name}": cannot read sslrootcert ${security.sslrootcert}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  checkTargetCredentialFile(target);
  const credential = target.credential;
  return {
    target: target.name,
    host: upstreamHost(url),
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username) || 'postgres',
    database: decodeURIComponent(url.pathname.replace(/^\//, '')),
    sslmode: security.sslmode,
    ca,
    requireAuth: security.requireAuth,
    channelBinding: security.channelBinding,
    connectTimeoutMs: connectTimeoutMs(target, url, context.limits.connectTimeoutMs),
    clock: context.clock,
    password() {
      if (!credential) return undefined;
      if ('env' in credential) {
        const value = env[credential.env];
        if (value === undefined) throw new UpstreamError(`target "${target.name}": the credential variable ${credential.env} is not set in airlockd's environment`, '28P01');
        return value;
      }
      if (!('file' in credential)) throw new UpstreamError(`target "${target.name}": a PostgreSQL target's credential is a password in credential.env or credential.file`, '28P01');
      try {
        return readCredentialFile(target.name, credential.file);
      } catch (err) {
        throw err instanceof CredentialFileError ? new UpstreamError(err.message, '28P01') : err;
      }
    },
  };
}

function connectTimeoutMs(target: Target, url: URL, limit: number): number {
  const given = url.searchParams.get('connect_timeout');
  if (given === null) return limit;
  const seconds = Number(given);
  if (!Number.isInteger(seconds) || seconds < 1) throw new UpstreamError(`target "${target.name}": connect_timeout=${given} in the upstream URL is not a whole number of seconds above zero`);
  return seconds * 1000;
}

export interface UpstreamConnection {
  socket: net.Socket;
  parameters: [string, string][];
  backendKey: { processId: number; secretKey: number };
  transactionStatus: 'I' | 'T' | 'E';
  tls: boolean;
  /** how the daemon logged in: SCRAM-SHA-256-PLUS when bound to the TLS channel */
  auth: UpstreamAuthMethod;
}

/** The TLS side of a connection: the socket and whether its certificate was checked against a CA. */
interface Transport {
  socket: net.Socket;
  kind: 'plain' | 'tls-unverified' | 'tls-verified';
}

/**
 * Opens and authenticates a connection to the real server (SCRAM-SHA-256[-PLUS], or md5 or cleartext
 * where the target's settings allow it, with TLS as the URL's sslmode says) and reads it up to the
 * first ReadyForQuery.
 */
export async function connectUpstream(settings: UpstreamSettings, params: Record<string, string>, maxMessageBytes: number): Promise<UpstreamConnection> {
  if (settings.sslmode !== 'allow') return connectOnce(settings, params, maxMessageBytes, settings.sslmode !== 'disable');
  // libpq's allow: without TLS first, and with it when the server refuses that
  try {
    return await connectOnce(settings, params, maxMessageBytes, false);
  } catch (err) {
    if (!(err instanceof UpstreamError && err.serverRefused)) throw err;
    return connectOnce(settings, params, maxMessageBytes, true);
  }
}

async function connectOnce(settings: UpstreamSettings, params: Record<string, string>, maxMessageBytes: number, askTls: boolean): Promise<UpstreamConnection> {
  let socket = await openSocket(settings);
  try {
    let kind: Transport['kind'] = 'plain';
    if (askTls) {
      socket.write(serialize.requestSsl());
      const answer = await readByte(socket, settings);
      if (answer === 'S') {
        const secure = await startTls(socket, settings);
        socket = secure.socket;
        kind = secure.kind;
      } else if (settings.sslmode !== 'prefer' && settings.sslmode !== 'allow') {
        throw new UpstreamError(`target "${settings.target}": the server at ${settings.host}:${settings.port} does not accept TLS (sslmode=${settings.sslmode})`);
      }
    }
    socket.write(serialize.startup({ ...params, user: settings.user, database: settings.database || params.database || settings.user }));
    const secure = socket instanceof tls.TLSSocket ? socket : undefined;
    const auth = new UpstreamAuthenticator({
      target: settings.target,
      address: `${settings.host}:${settings.port}`,
      user: settings.user,
      sslmode: settings.sslmode,
      requireAuth: settings.requireAuth ?? { kind: 'default', denied: [] },
      channelBinding: settings.channelBinding ?? 'prefer',
      transport: kind,
      certificateHash: secure ? () => tlsServerEndPoint(peerCertificate(secure)) : undefined,
      password: () => settings.password(),
    });
    return await handshake(socket, settings, auth, kind !== 'plain', maxMessageBytes);
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

function peerCertificate(socket: tls.TLSSocket): Buffer {
  const cert = socket.getPeerX509Certificate();
  if (!cert) throw new Error('the server presented no certificate');
  return cert.raw;
}

/** Sends a CancelRequest for `key` on a new connection, as the protocol wants. */
export async function cancelUpstream(settings: UpstreamSettings, key: { processId: number; secretKey: number }): Promise<void> {
  let socket = await openSocket(settings);
  try {
    // the key is a secret of the session: over TLS whenever the login had to be
    if (settings.sslmode === 'require' || settings.sslmode === 'verify-ca' || settings.sslmode === 'verify-full') {
      socket.write(serialize.requestSsl());
      if ((await readByte(socket, settings)) === 'S') socket = (await startTls(socket, settings)).socket;
    }
    await new Promise<void>((resolve) => socket.end(serialize.cancel(key.processId, key.secretKey), resolve));
  } finally {
    socket.destroy();
  }
}

function openSocket(settings: UpstreamSettings): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: settings.host, port: settings.port });
    socket.setNoDelay(true);
    const timer = settings.clock.setTimeout(() => {
      socket.destroy();
      reject(new UpstreamError(`target "${settings.target}": ${settings.host}:${settings.port} did not answer within ${formatDuration(settings.connectTimeoutMs)}`));
    }, settings.connectTimeoutMs);
    socket.once('connect', () => {
      timer.cancel();
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      timer.cancel();
      reject(new UpstreamError(`target "${settings.target}": cannot connect to ${settings.host}:${settings.port}: ${err.code ?? err.message}`));
    });
  });
}

function readByte(socket: net.Socket, settings: UpstreamSettings): Promise<string> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      cleanup();
      if (chunk.length !== 1) {
        reject(new UpstreamError(`target "${settings.target}": unexpected answer to the TLS request`));
        return;
      }
      resolve(String.fromCharCode(chunk[0]!));
    };
    const onEnd = () => {
      cleanup();
      reject(new UpstreamError(`target "${settings.target}": the server closed the connection during the TLS request`));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onEnd);
  });
}

function startTls(socket: net.Socket, settings: UpstreamSettings): Promise<Transport> {
  // require with a CA verifies the chain, as libpq does when a root certificate is given
  const verify = settings.sslmode === 'verify-ca' || settings.sslmode === 'verify-full' || (settings.sslmode === 'require' && settings.ca !== undefined);
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket,
      servername: net.isIP(settings.host) ? undefined : settings.host,
      ca: settings.ca,
      rejectUnauthorized: verify,
      checkServerIdentity: settings.sslmode === 'verify-full' ? (_host, cert) => tls.checkServerIdentity(settings.host, cert) : () => undefined,
    });
    secure.once('secureConnect', () => {
      secure.removeAllListeners('error');
      resolve({ socket: secure, kind: verify ? 'tls-verified' : 'tls-unverified' });
    });
    secure.once('error', (err: Error) => reject(new UpstreamError(`target "${settings.target}": TLS with ${settings.host}:${settings.port} failed (sslmode=${settings.sslmode}): ${err.message}`)));
  });
}

function handshake(socket: net.Socket, settings: UpstreamSettings, auth: UpstreamAuthenticator, usesTls: boolean, maxMessageBytes: number): Promise<UpstreamConnection> {
  return new Promise((resolve, reject) => {
    const framer = new MessageFramer(maxMessageBytes, false);
    const decoder = new BackendDecoder();
    const parameters: [string, string][] = [];
    let backendKey = { processId: 0, secretKey: 0 };
    const fail = (err: Error) => {
      cleanup();
      reject(err instanceof ProtocolError ? err : new UpstreamError(`target "${settings.target}": ${err.message}`));
    };
    const onMessage = (msg: WireMessage): boolean => {
      // Authentication requests are judged by the authenticator, from the raw bytes (pg-protocol
      // reads a malformed request as AuthenticationOk)
      if (msg.raw[0] === 0x52) {
        if (auth.method !== undefined) throw new ProtocolError(`target "${settings.target}": the server at ${settings.host}:${settings.port} sent an authentication request after AuthenticationOk`);
        const reply = auth.onRequest(msg.raw);
        if (reply) socket.write(reply);
        return false;
      }
      const decoded = decoder.decode(msg.raw);
      if (decoded.name === 'error') {
        const e = decoded as unknown as { message: string; code?: string };
        throw new UpstreamError(`target "${settings.target}": the server refused the connection: ${e.message}`, e.code ?? '08004', true);
      }
      // nothing but an error may come before the login is done: a server that skips AuthenticationOk does not skip the check
      if (auth.method === undefined && decoded.name !== 'notice') {
        throw new ProtocolError(`target "${settings.target}": the server at ${settings.host}:${settings.port} sent ${decoded.name} before completing authentication`);
      }
      switch (decoded.name) {
        case 'parameterStatus': {
          const p = decoded as unknown as { parameterName: string; parameterValue: string };
          parameters.push([p.parameterName, p.parameterValue]);
          return false;
        }
        case 'backendKeyData': {
          const k = decoded as unknown as { processID: number; secretKey: number };
          backendKey = { processId: k.processID, secretKey: k.secretKey };
          return false;
        }
        case 'readyForQuery':
          cleanup();
          resolve({ socket, parameters, backendKey, transactionStatus: (decoded as unknown as { status: 'I' | 'T' | 'E' }).status, tls: usesTls, auth: auth.method! });
          return true;
        default:
          return false;
      }
    };
    const onData = (chunk: Buffer) => {
      try {
        framer.push(chunk);
        for (let msg = framer.next(); msg; msg = framer.next()) {
          if (onMessage(msg)) {
            if (framer.pendingBytes > 0) throw new UpstreamError(`target "${settings.target}": unexpected data after ReadyForQuery`);
            return;
          }
        }
      } catch (err) {
        fail(err as Error);
      }
    };
    const onClose = () => fail(new UpstreamError(`target "${settings.target}": the server closed the connection during login`));
    const onError = (err: Error) => fail(new UpstreamError(`target "${settings.target}": ${err.message}`));
    const timer = settings.clock.setTimeout(() => fail(new UpstreamError(`target "${settings.target}": login did not complete within ${formatDuration(settings.connectTimeoutMs)}`)), settings.connectTimeoutMs);
    const cleanup = () => {
      timer.cancel();
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
  });
}
