/**
 * Which `Host` headers the control API answers. A web page can point a DNS name of its own at 127.0.0.1
 * (DNS rebinding) and then talk to the API as a same-origin site; its requests still carry that name in
 * `Host`. Only the loopback names and the address the API is bound to, with the API's port or none, name
 * this daemon. Pure: the server passes in what it knows.
 */

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** `Host` as a bound address appears in it: an IPv6 address in brackets, names lower-cased. */
export function hostName(address: string): string {
  const lower = address.toLowerCase();
  return lower.includes(':') && !lower.startsWith('[') ? `[${lower}]` : lower;
}

/** Whether `host` (the header's value) names this API, bound at `boundHost` and reached on `port`. */
export function isAllowedHost(host: string | undefined, boundHost: string, port: number | undefined): boolean {
  if (!host) return false;
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(host.trim());
  if (!match) return false;
  const name = (match[1] as string).toLowerCase();
  if (match[2] !== undefined && Number(match[2]) !== port) return false;
  return LOOPBACK_NAMES.includes(name) || name === hostName(boundHost);
}
