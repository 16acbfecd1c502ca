import { readPktLine } from '../../classify/http/git-pktline.js';

/** the media type of a receive-pack answer (gitprotocol-http(5)) */
const GIT_RECEIVE_PACK_RESULT = 'application/x-git-receive-pack-result';
/** side-band-64k packets carry at most 65520 bytes, side-band ones 1000, both with their length and band byte */
const SIDE_BAND_64K_DATA = 65520 - 5;
const SIDE_BAND_DATA = 1000 - 5;
const BAND_DATA = 1;
const BAND_PROGRESS = 2;
const FLUSH_PKT = Buffer.from('0000');

/**
 * A push refused by Airlock, framed the way git shows it (pure). git prints the body of an error
 * status only for the ref advertisement, never for the receive-pack POST ("RPC failed; HTTP 403"),
 * so the refusal is a receive-pack result: `lines` as `remote:` lines (side band 2) and every ref of
 * the push rejected with `short` (`ng REF airlock: short`, shown as "! [remote rejected] main ->
 * main (airlock: short)"). Sent with status 200 (git reads no result from another status). Only
 * for a client that asked for report-status and a side band, as git does; undefined otherwise (the
 * caller answers 403). `prefix`: the body read for the decision.
 */
export function gitPushRefusal(prefix: Uint8Array, refs: readonly string[], short: string, lines: readonly string[]): { contentType: string; body: Buffer } | undefined {
  const capabilities = requestCapabilities(prefix);
  const sideBand = capabilities.has('side-band-64k') ? SIDE_BAND_64K_DATA : capabilities.has('side-band') ? SIDE_BAND_DATA : 0;
  const reports = capabilities.has('report-status') || capabilities.has('report-status-v2');
  if (refs.length === 0 || sideBand === 0 || !reports) return undefined;
  const oneLine = (text: string): string => text.replace(/[\r\n]+/g, ' ');
  const status = Buffer.concat([pktText('unpack ok\n'), ...refs.map((ref) => pktText(`ng ${ref} airlock: ${oneLine(short)}\n`)), FLUSH_PKT]);
  const parts: Buffer[] = lines.map((line) => band(BAND_PROGRESS, Buffer.from(`airlock: ${oneLine(line)}\n`)));
  for (let at = 0; at < status.length; at += sideBand) parts.push(band(BAND_DATA, status.subarray(at, at + sideBand)));
  parts.push(FLUSH_PKT);
  return { contentType: GIT_RECEIVE_PACK_RESULT, body: Buffer.concat(parts) };
}

function pktText(text: string): Buffer {
  return pktOf(Buffer.from(text, 'utf8'));
}

function pktOf(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, '0')), payload]);
}

function band(number: number, data: Buffer): Buffer {
  return pktOf(Buffer.concat([Buffer.from([number]), data]));
}

/** The capabilities the client sent (after a NUL, on any line of the command list), as far as it was read. */
function requestCapabilities(bytes: Uint8Array): Set<string> {
  const capabilities = new Set<string>();
  let offset = 0;
  for (;;) {
    const packet = readPktLine(bytes, offset);
    if (packet.kind !== 'data') return capabilities;
    const nul = packet.payload.indexOf(0);
    if (nul >= 0) {
      for (const word of Buffer.from(packet.payload.subarray(nul + 1)).toString('latin1').trim().split(' ')) if (word) capabilities.add(word);
    }
    offset = packet.next;
  }
}
