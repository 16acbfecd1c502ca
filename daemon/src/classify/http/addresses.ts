import { isIP } from 'node:net';

/**
 * Which IP addresses are internal: this machine, private networks, link-local, metadata endpoints,
 * and every IPv6 form that embeds an IPv4 address (mapped, compatible, NAT64, 6to4), judged by the
 * address embedded. Pure (isIP does no I/O).
 */

export interface InternalAddress {
  /** "169.254.169.254 is a cloud metadata endpoint" */
  reason: string;
  /** metadata endpoints: refused unless an allowHosts entry is this very address */
  metadata: boolean;
}

type Range = readonly [prefix: readonly number[], bits: number, what: string];

const IPV4_RANGES: readonly Range[] = [
  [[0, 0, 0, 0], 8, 'the unspecified address ("this host") range'],
  [[127, 0, 0, 0], 8, 'a loopback address'],
  [[10, 0, 0, 0], 8, 'a private address (10/8)'],
  [[172, 16, 0, 0], 12, 'a private address (172.16/12)'],
  [[192, 168, 0, 0], 16, 'a private address (192.168/16)'],
  [[169, 254, 0, 0], 16, 'a link-local address'],
  [[100, 64, 0, 0], 10, 'a carrier-grade NAT address (100.64/10)'],
  [[192, 0, 0, 0], 24, 'an IETF protocol assignment address (192.0.0/24)'],
  [[198, 18, 0, 0], 15, 'a network benchmarking address (198.18/15)'],
  [[224, 0, 0, 0], 4, 'a multicast address'],
  [[240, 0, 0, 0], 4, 'a reserved or broadcast address'],
];

const IPV6_RANGES: readonly Range[] = [
  [[0xfc], 7, 'a unique local (private) IPv6 address (fc00::/7)'],
  [[0xfe, 0x80], 10, 'a link-local IPv6 address (fe80::/10)'],
  [[0xfe, 0xc0], 10, 'a site-local IPv6 address (fec0::/10)'],
  [[0xff], 8, 'a multicast IPv6 address'],
];

/** Cloud metadata and host-agent endpoints (AWS, GCP, Azure, OCI, ECS, Alibaba). 168.63.129.16 is public, yet Azure's host endpoint. */
const METADATA_ADDRESSES: ReadonlyMap<string, string> = new Map([
  ['169.254.169.254', 'a cloud metadata endpoint'],
  ['169.254.170.2', 'the ECS task metadata endpoint'],
  ['100.100.100.200', 'the Alibaba Cloud metadata endpoint'],
  ['168.63.129.16', 'the Azure host endpoint'],
  ['fd00:ec2::254', 'the AWS IPv6 metadata endpoint'],
]);

/** Host names that are metadata endpoints whatever they resolve to. */
const METADATA_NAMES: ReadonlySet<string> = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal', 'metadata.azure.internal']);

function inRange(bytes: readonly number[], prefix: readonly number[], bits: number): boolean {
  for (let bit = 0; bit < bits; bit += 8) {
    const take = Math.min(8, bits - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((bytes[bit / 8] ?? 0) & mask) !== ((prefix[bit / 8] ?? 0) & mask)) return false;
  }
  return true;
}

function ipv4Bytes(text: string): number[] {
  return text.split('.').map(Number);
}

/** The 16 bytes of an IPv6 literal (zone id dropped; a dotted IPv4 tail allowed). */
function ipv6Bytes(text: string): number[] {
  let t = text.split('%')[0]!.toLowerCase();
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (tail !== null) {
    const [a, b, c, d] = ipv4Bytes(tail[1]!);
    t = t.slice(0, tail.index) + `${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`;
  }
  const [head, rest] = t.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const missing = 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array<string>(rest === undefined ? 0 : missing).fill('0'), ...restGroups].map((g) => parseInt(g, 16));
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

function formatIpv4(bytes: readonly number[]): string {
  return bytes.join('.');
}

/** The canonical text of an IP literal (IPv6 compressed, lower case), or undefined when it is not one. */
export function canonicalAddress(text: string): string | undefined {
  const bare = text.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 4) return formatIpv4(ipv4Bytes(bare));
  if (family !== 6) return undefined;
  try {
    return new URL(`http://[${bare.split('%')[0]}]/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return undefined;
  }
}

function internalIpv4(bytes: readonly number[], via: string): InternalAddress | undefined {
  const text = formatIpv4(bytes);
  const metadata = METADATA_ADDRESSES.get(text);
  if (metadata !== undefined) return { reason: `${text}${via} is ${metadata}`, metadata: true };
  for (const [prefix, bits, what] of IPV4_RANGES) {
    if (inRange(bytes, prefix, bits)) return { reason: `${text}${via} is ${what}`, metadata: false };
  }
  return undefined;
}

/**
 * Why an address is internal, or undefined for a public one. `address` must be an IP literal
 * (canonicalAddress of it is defined).
 */
export function internalAddress(address: string): InternalAddress | undefined {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 4) return internalIpv4(ipv4Bytes(bare), '');
  const canonical = canonicalAddress(bare) ?? bare;
  const metadata = METADATA_ADDRESSES.get(canonical);
  if (metadata !== undefined) return { reason: `${canonical} is ${metadata}`, metadata: true };
  const bytes = ipv6Bytes(bare);
  const zeros = (from: number, to: number) => bytes.slice(from, to).every((b) => b === 0);
  if (zeros(0, 16)) return { reason: ':: is the unspecified address', metadata: false };
  if (zeros(0, 15) && bytes[15] === 1) return { reason: '::1 is a loopback address', metadata: false };
  const embedded = (start: number, how: string) => internalIpv4(bytes.slice(start, start + 4), ` (embedded in ${canonical} as ${how})`);
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::a.b.c.d (NAT64), 2002:AABB:CCDD:: (6to4)
  if (zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return embedded(12, 'an IPv4-mapped address') ?? undefined;
  if (zeros(0, 12)) return embedded(12, 'an IPv4-compatible address') ?? { reason: `${canonical} is an IPv4-compatible address`, metadata: false };
  if (inRange(bytes, [0x00, 0x64, 0xff, 0x9b], 32) && zeros(4, 12)) return embedded(12, 'a NAT64 address');
  if (inRange(bytes, [0x20, 0x02], 16)) return embedded(2, 'a 6to4 address');
  for (const [prefix, bits, what] of IPV6_RANGES) {
    if (inRange(bytes, prefix, bits)) return { reason: `${canonical} is ${what}`, metadata: false };
  }
  return undefined;
}

/** Names that mean this machine or a metadata endpoint without asking DNS. */
export function internalName(host: string): InternalAddress | undefined {
  if (METADATA_NAMES.has(host)) return { reason: `${host} is a cloud metadata host name`, metadata: true };
  if (host === 'localhost' || host.endsWith('.localhost')) return { reason: `${host} always means this machine`, metadata: false };
  return undefined;
}
