import { promises as dns } from 'node:dns';
import net from 'node:net';
import type { Target } from '@airlock/shared';
import { classifyDestination } from '../../classify/http/index.js';
import type { DestinationVerdict } from '../../classify/http/types.js';
import type { Clock } from '../../util/time.js';
import type { ProxyDestination } from './authority.js';

/** Resolves a host name to every address it has (an address literal is itself). */
export type Resolve = (host: string) => Promise<string[]>;

/** Opens a TCP connection to an address already checked (never a name: no second DNS lookup). */
export type Dial = (address: string, port: number) => net.Socket;

/** The system resolver (getaddrinfo), all addresses, in the order the system gives them. */
export const systemResolve: Resolve = async (host) => {
  if (net.isIP(host) !== 0) return [host];
  const found = await dns.lookup(host, { all: true, verbatim: true });
  return found.map((a) => a.address);
};

export const systemDial: Dial = (address, port) => net.connect({ host: address, port, noDelay: true, allowHalfOpen: true });

/** A destination as checked: what the host resolved to and the classifier's verdict on all of it. */
export interface CheckedDestination extends ProxyDestination {
  /** every address the host resolved to; all were classified; connections go to these only */
  addresses: string[];
  verdict: DestinationVerdict;
}

export type DestinationCheck = { ok: true; checked: CheckedDestination } | { ok: false; reason: string };

/**
 * Resolves the destination once and classifies every address it resolved to (DNS rebinding: the
 * connection then goes to one of exactly these addresses, never to the name again). An address
 * literal is not looked up; a name that resolves to nothing is refused before policy sees it.
 */
export async function checkDestination(destination: ProxyDestination, target: Target, resolve: Resolve, daemonPorts: readonly number[]): Promise<DestinationCheck> {
  let addresses: string[];
  try {
    addresses = net.isIP(destination.host) !== 0 ? [destination.host] : await resolve(destination.host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, reason: `cannot resolve ${destination.host}${code ? ` (${code})` : ''}` };
  }
  if (addresses.length === 0) return { ok: false, reason: `${destination.host} resolved to no address` };
  const verdict = classifyDestination({ host: destination.host, port: destination.port, addresses, allowHosts: target.allowHosts ?? [], daemonPorts });
  return { ok: true, checked: { host: destination.host, port: destination.port, addresses, verdict } };
}

/**
 * Connects to the checked addresses in order, each within `timeoutMs`; the first that accepts wins.
 * Rejects with one sentence naming every address tried when none does.
 */
export function dialChecked(checked: CheckedDestination, dial: Dial, timeoutMs: number, clock: Clock, signal: AbortSignal): Promise<net.Socket> {
  const failures: string[] = [];
  const attempt = (index: number): Promise<net.Socket> => {
    const address = checked.addresses[index];
    if (address === undefined) return Promise.reject(new Error(`cannot connect to ${checked.host}:${checked.port}: ${failures.join('; ')}`));
    return new Promise<net.Socket>((resolve, reject) => {
      if (signal.aborted) return reject(new Error('the agent went away before the connection opened'));
      const socket = dial(address, checked.port);
      const timer = clock.setTimeout(() => {
        socket.destroy(new Error(`no answer within ${timeoutMs} ms (limits.connectTimeout)`));
      }, timeoutMs);
      const onAbort = (): void => {
        socket.destroy(new Error('the agent went away before the connection opened'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = (): void => {
        timer.cancel();
        signal.removeEventListener('abort', onAbort);
        socket.off('connect', onConnect);
        socket.off('error', onError);
      };
      const onConnect = (): void => {
        settle();
        resolve(socket);
      };
      const onError = (err: Error): void => {
        settle();
        socket.destroy();
        if (signal.aborted) return reject(err);
        failures.push(`${address}: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
        attempt(index + 1).then(resolve, reject);
      };
      socket.once('connect', onConnect);
      socket.once('error', onError);
    });
  };
  return attempt(0);
}
