import picomatch from 'picomatch';
import type { AttributeValue } from '@airlock/shared';
import { canonicalAddress, internalAddress, internalName } from './addresses.js';
import { riskOf } from './method.js';
import type { DestinationInput, DestinationVerdict, HttpClassification } from './types.js';

/**
 * Where an egress request goes: listed (an allowHosts entry names it), public, or internal.
 *
 * Internal is decided on every resolved address (the shell connects only to addresses checked
 * here), and one internal address among several makes the destination internal. An internal
 * destination is reached only when an allowHosts entry names it, and a glob never does:
 * - a private, loopback or link-local address: an entry that is the exact host name the agent used
 *   (`registry.corp.example`, no `*`) or the address itself (`10.0.0.7`, `[::1]:8080`);
 * - a metadata endpoint (169.254.169.254, fd00:ec2::254, ...), a metadata host name, or the
 *   daemon's own port on an internal address: only an entry that is the address itself. A listed
 *   name proves nothing about what it resolves to (anyone controlling its DNS can point it at
 *   169.254.169.254), so a name never opens these.
 * Host and entries compare case-insensitively, without a trailing dot, and an address in any
 * spelling a URL parser accepts (`0x7f.1`, `2130706433`, `::ffff:7f00:1`) is compared canonically.
 */

interface AllowEntry {
  /** lower case, no trailing dot; an address canonicalised */
  host: string;
  port?: number;
  isGlob: boolean;
  /** the entry's host is an IP address literal */
  address?: string;
  match: (host: string) => boolean;
}

const GLOB_CHARS = /[*?[\]{}]/;

/** The canonical form of a host name or address literal, or undefined when it is not a valid host. */
export function canonicalHost(host: string): string | undefined {
  const bare = host.trim().replace(/^\[|\]$/g, '');
  if (bare === '') return undefined;
  const address = canonicalAddress(bare);
  if (address !== undefined) return address;
  try {
    // a WHATWG parser reads 0x7f.1, 017700000001 and 2130706433 as 127.0.0.1, as curl and Node's clients do
    const parsed = new URL(`http://${bare}/`).hostname.replace(/\.$/, '');
    return canonicalAddress(parsed) ?? parsed;
  } catch {
    return undefined;
  }
}

function parseEntry(entry: string): AllowEntry | undefined {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(entry.trim());
  if (m === null) return undefined;
  const rawHost = m[1]!.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
  const isGlob = GLOB_CHARS.test(rawHost);
  const host = isGlob ? rawHost : (canonicalHost(rawHost) ?? rawHost);
  const address = isGlob ? undefined : canonicalAddress(host);
  const match = isGlob ? picomatch(host, { nocase: true, dot: true }) : (h: string) => h === host;
  const parsed: AllowEntry = { host, isGlob, match };
  if (m[2] !== undefined) parsed.port = Number(m[2]);
  if (address !== undefined) parsed.address = address;
  return parsed;
}

function portMatches(entry: AllowEntry, port: number): boolean {
  return entry.port === undefined || entry.port === port;
}

export function classifyDestination(input: DestinationInput): DestinationVerdict {
  const host = canonicalHost(input.host);
  const where = input.host.includes(':') && !input.host.startsWith('[') ? `[${input.host}]:${input.port}` : `${input.host}:${input.port}`;
  if (host === undefined) return { destination: 'internal', refuse: `${where} is refused: "${input.host}" is not a valid host name or address.`, reasons: [] };
  const entries = input.allowHosts.map(parseEntry).filter((entry): entry is AllowEntry => entry !== undefined);
  const forPort = entries.filter((entry) => portMatches(entry, input.port));
  const listed = forPort.some((entry) => entry.match(host));

  const hostAddress = canonicalAddress(host);
  const addresses: string[] = [];
  for (const address of input.addresses.length === 0 && hostAddress !== undefined ? [hostAddress] : input.addresses) {
    const canonical = canonicalAddress(address);
    if (canonical === undefined) return { destination: 'internal', refuse: `${where} is refused: "${address}" is not an IP address.`, reasons: [] };
    addresses.push(canonical);
  }
  const byName = listed ? 'listed' : 'public';
  if (addresses.length === 0) return { destination: byName, refuse: `${where} is refused: ${input.host} resolved to no address.`, reasons: [] };

  const reasons: string[] = [];
  const unnamed: string[] = [];
  const nameInternal = internalName(host);
  if (nameInternal !== undefined) {
    reasons.push(nameInternal.reason);
    const named = !nameInternal.metadata && forPort.some((entry) => !entry.isGlob && entry.host === host);
    if (!named) unnamed.push(nameInternal.reason);
  }
  const daemonPort = input.daemonPorts.includes(input.port);
  for (const address of addresses) {
    const internal = internalAddress(address);
    if (internal === undefined) continue;
    const ownPort = daemonPort ? ` and port ${input.port} is the daemon's own` : '';
    const reason = internal.reason + ownPort;
    reasons.push(reason);
    const literalOnly = internal.metadata || daemonPort;
    const named = forPort.some((entry) => entry.address === address || (!literalOnly && !entry.isGlob && entry.host === host));
    if (!named) unnamed.push(reason);
  }
  if (reasons.length === 0) return { destination: byName, reasons };
  if (unnamed.length === 0) return { destination: 'listed', reasons };
  const how = unnamed.some((reason) => / metadata |daemon's own/.test(reason)) ? 'an allowHosts entry with that very address' : 'an allowHosts entry with its exact name or address';
  return { destination: 'internal', refuse: `${where} is refused: ${unnamed.join('; ')}. Only ${how} lets the agent reach it.`, reasons };
}

/** What an egress request adds to its attributes: where it goes. */
export function egressAttributes(verdict: DestinationVerdict): Record<string, AttributeValue> {
  return { destination: verdict.destination };
}

/** A plain-HTTP egress request's classification with its destination; an internal destination makes it privileged. */
export function withDestination(classification: HttpClassification, verdict: DestinationVerdict): HttpClassification {
  const internal = verdict.destination === 'internal';
  const cls = internal ? 'privileged' : classification.class;
  const destructive = classification.attributes.destructive === true;
  return {
    ...classification,
    class: cls,
    risk: riskOf(cls, destructive),
    attributes: { ...classification.attributes, ...egressAttributes(verdict), class: cls },
    reasons: [...classification.reasons, ...verdict.reasons],
  };
}

/** `CONNECT host:port`: one action decided before any byte flows; an internal destination is privileged. */
export function classifyConnect(host: string, port: number, verdict: DestinationVerdict): HttpClassification {
  const cls = verdict.destination === 'internal' ? 'privileged' : 'connect';
  host = canonicalHost(host) ?? host;
  const shown = host.includes(':') ? `[${host}]` : host;
  const risk = verdict.destination === 'listed' ? 'low' : riskOf(cls, false);
  const note = verdict.destination === 'listed' ? ' (listed)' : verdict.destination === 'internal' ? ' (internal address)' : '';
  return {
    class: cls,
    risk,
    summary: `CONNECT ${shown}:${port}${note}`,
    attributes: { class: cls, host, port, destination: verdict.destination },
    reasons: verdict.destination === 'public' ? [`${shown} is not on the target's allowHosts list`, ...verdict.reasons] : [...verdict.reasons],
  };
}
