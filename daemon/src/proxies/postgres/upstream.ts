import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { serialize } from 'pg-protocol';
import type { Target } from '@airlock/shared';
import type { TargetLimits } from '../limits.js';
import { formatDuration, type Clock } from '../../util/time.js';
import { BackendDecoder } from './backend.js';
import { MessageFramer, ProtocolError, type WireMessage } from './protocol.js';
import { ScramClientExchange, md5Password, SCRAM_MECHANISM } from './scram.js';

export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Where and how to reach the real server, from the target's upstream URL and credential reference. */
export interface UpstreamSettings {
  target: string;
  host: string;
  port: number;
  user: string;
  /** empty: use the database the agent asked for */
  database: string;
  sslmode: SslMode;
  /** PEM of the CA for verify-ca / verify-full */
  ca?: string;
  connectTimeoutMs: number;
  /** the daemon's clock (ProxyContext), for the connect and login timeouts */
  clock: Clock;
  password(): string | undefined;
}

/** A connection failure the agent sees as a FATAL naming the target and the reason. */
export class UpstreamError extends ProtocolError {
  constructor(message: string, code = '08001') {
    super(message, code);
    this.name = 'UpstreamError';
  }
}

/** `limits.connectTimeoutMs` bounds connecting and logging in, unless the URL sets libpq's connect_timeout (seconds). */
export function upstreamSettings(target: Target, context: { limits: Pick<TargetLimits, 'connectTimeoutMs'>; clock: Clock }, env: NodeJS.ProcessEnv = process.env): UpstreamSettings {
  const url = new URL(target.upstream);
  const sslmode = (url.searchParams.get('sslmode') ?? 'prefer') as SslMode;
  if (!SSL_MODES.includes(sslmode)) throw new UpstreamError(`target "${target.name}": sslmode "${sslmode}" is not one of ${SSL_MODES.join(', ')}`);
  const rootCert = url.searchParams.get('sslrootcert');
  let ca: string | undefined;
  if (rootCert) {
    try {
      ca = readFileSync(rootCert, 'utf8');
    } catch (err) {
      throw new UpstreamError(`target "${target.name}": cannot read sslrootcert ${rootCert}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const credential = target.credential;
  return {
    target: target.name,
    host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username) || 'postgres',
    database: decodeURIComponent(url.pathname.replace(/^\//, '')),
    sslmode,
    ca,
    connectTimeoutMs: connectTimeoutMs(target, url, context.limits.connectTimeoutMs),
    clock: context.clock,
    password() {
      if (!credential) return undefined;
      if ('env' in credential) {
        const value = env[credential.env];
        if (value === undefined) throw new UpstreamError(`target "${target.name}": the credential variable ${credential.env} is not set in airlockd's environment`, '28P01');
        return value;
      }
      try {
        return readFileSync(credential.file, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new UpstreamError(`target "${target.name}": cannot read the credential file ${credential.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, '28P01');
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
}

/**
 * Opens and authenticates a connection to the real server (SCRAM-SHA-256, md5 or cleartext, with
 * TLS as the URL's sslmode says) and reads it up to the first ReadyForQuery.
 */
export async function connectUpstream(settings: UpstreamSettings, params: Record<string, string>, maxMessageBytes: number): Promise<UpstreamConnection> {
  let socket = await openSocket(settings);
  let usesTls = false;
  try {
    if (settings.sslmode !== 'disable') {
      socket.write(serialize.requestSsl());
      const answer = await readByte(socket, settings);
      if (answer === 'S') {
        socket = await startTls(socket, settings);
        usesTls = true;
      } else if (settings.sslmode !== 'prefer') {
        throw new UpstreamError(`target "${settings.target}": the server at ${settings.host}:${settings.port} does not accept TLS (sslmode=${settings.sslmode})`);
      }
    }
    const password = settings.password();
    socket.write(serialize.startup({ ...params, user: settings.user, database: settings.database || params.database || settings.user }));
    return await handshake(socket, settings, password, usesTls, maxMessageBytes);
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/** Sends a CancelRequest for `key` on a new connection, as the protocol wants. */
export async function cancelUpstream(settings: UpstreamSettings, key: { processId: number; secretKey: number }): Promise<void> {
  let socket = await openSocket(settings);
  try {
    if (settings.sslmode !== 'disable' && settings.sslmode !== 'prefer') {
      socket.write(serialize.requestSsl());
      if ((await readByte(socket, settings)) === 'S') socket = await startTls(socket, settings);
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

function startTls(socket: net.Socket, settings: UpstreamSettings): Promise<net.Socket> {
  const verify = settings.sslmode === 'verify-ca' || settings.sslmode === 'verify-full';
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
      resolve(secure);
    });
    secure.once('error', (err: Error) => reject(new UpstreamError(`target "${settings.target}": TLS with ${settings.host}:${settings.port} failed (sslmode=${settings.sslmode}): ${err.message}`)));
  });
}

function handshake(socket: net.Socket, settings: UpstreamSettings, password: string | undefined, usesTls: boolean, maxMessageBytes: number): Promise<UpstreamConnection> {
  return new Promise((resolve, reject) => {
    const framer = new MessageFramer(maxMessageBytes, false);
    const decoder = new BackendDecoder();
    const parameters: [string, string][] = [];
    let backendKey = { processId: 0, secretKey: 0 };
    let scram: ScramClientExchange | undefined;
    const needPassword = (): string => {
      if (password === undefined) throw new UpstreamError(`target "${settings.target}": the server asks for a password but the target has no credential (add --password-env or --password-file)`, '28P01');
      return password;
    };
    const fail = (err: Error) => {
      cleanup();
      reject(err instanceof UpstreamError ? err : new UpstreamError(`target "${settings.target}": ${err.message}`));
    };
    const onMessage = (msg: WireMessage): boolean => {
      const decoded = decoder.decode(msg.raw);
      switch (decoded.name) {
        case 'authenticationOk':
          return false;
        case 'authenticationCleartextPassword':
          socket.write(serialize.password(needPassword()));
          return false;
        case 'authenticationMD5Password':
          socket.write(serialize.password(md5Password(settings.user, needPassword(), (decoded as unknown as { salt: Buffer }).salt)));
          return false;
        case 'authenticationSASL': {
          const mechanisms = (decoded as unknown as { mechanisms: string[] }).mechanisms;
          if (!mechanisms.includes(SCRAM_MECHANISM)) throw new UpstreamError(`target "${settings.target}": the server offers only ${mechanisms.join(', ')}; Airlock speaks ${SCRAM_MECHANISM}`, '28000');
          scram = new ScramClientExchange(needPassword());
          socket.write(serialize.sendSASLInitialResponseMessage(SCRAM_MECHANISM, scram.clientFirst()));
          return false;
        }
        case 'authenticationSASLContinue':
          socket.write(serialize.sendSCRAMClientFinalMessage(scram!.clientFinal((decoded as unknown as { data: string }).data)));
          return false;
        case 'authenticationSASLFinal':
          scram!.verifyServerFinal((decoded as unknown as { data: string }).data);
          return false;
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
        case 'error': {
          const e = decoded as unknown as { message: string; code?: string };
          throw new UpstreamError(`target "${settings.target}": the server refused the connection: ${e.message}`, e.code ?? '08004');
        }
        case 'readyForQuery':
          cleanup();
          resolve({ socket, parameters, backendKey, transactionStatus: (decoded as unknown as { status: 'I' | 'T' | 'E' }).status, tls: usesTls });
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
