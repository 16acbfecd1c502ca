import { createRequire } from 'node:module';
import type { Connection } from 'ssh2';

const require = createRequire(import.meta.url);
// ssh2's own packet writer: the banner must be framed and encrypted like any packet of the connection
const { sendPacket } = require('ssh2/lib/protocol/utils.js') as { sendPacket(proto: unknown, packet: Buffer): void };

/** RFC 4252 §5.4 SSH_MSG_USERAUTH_BANNER */
const USERAUTH_BANNER = 53;

interface PacketWriter {
  allocStart: number;
  alloc(length: number): Buffer;
  finalize(packet: Buffer): Buffer;
}

/**
 * Sends an SSH_MSG_USERAUTH_BANNER during user authentication: the only text SSH lets a server show
 * before login succeeds, and what OpenSSH's client prints on stderr. ssh2's server sends one banner
 * when authentication starts (its `banner` option); Airlock needs to say why a login failed (a
 * revoked session, a limit), so it writes the packet itself through ssh2's packet writer.
 */
export function sendAuthBanner(client: Connection, message: string): void {
  const proto = (client as unknown as { _protocol?: { _packetRW?: { write?: PacketWriter } } })._protocol;
  const writer = proto?._packetRW?.write;
  if (!proto || !writer) throw new Error('this version of ssh2 does not expose its packet writer');
  const text = Buffer.from(message, 'utf8');
  let p = writer.allocStart;
  const packet = writer.alloc(1 + 4 + text.length + 4);
  packet[p] = USERAUTH_BANNER;
  packet.writeUInt32BE(text.length, ++p);
  text.copy(packet, (p += 4));
  packet.writeUInt32BE(0, p + text.length); // empty language tag
  sendPacket(proto, writer.finalize(packet));
}
