import type { GitRefUpdateDetail } from '@airlock/shared';
import { DEFAULT_GIT_PACK_BOUNDS, walkPackCommits, type GitPackBounds, type ObjectFormat, type PackWalk } from './git-pack.js';
import { chompNewline, hexDigit, printable, readPktLine } from './git-pktline.js';
import type { BodyPrefix } from './types.js';

/**
 * Git smart HTTP (gitprotocol-http(5)) as policy sees it: which service a request asks for, and for a
 * push (`git-receive-pack`) the ref updates it carries, read the way `git receive-pack` reads them,
 * with each update shown to be a fast-forward from the pack or counted as a force push. Pure.
 */

export type GitServiceName = 'git-upload-pack' | 'git-receive-pack';

export interface GitServiceRequest {
  method: string;
  /** the normalised path */
  path: string;
  query: Array<[string, string]>;
}

export interface GitService {
  service: GitServiceName;
  /** `GET info/refs?service=…` lists refs; `POST …/git-*-pack` runs the service */
  request: 'advertisement' | 'rpc';
  /** a ref advertisement only lists refs (even receive-pack's); upload-pack fetches; receive-pack pushes */
  class: 'read' | 'write';
}

/**
 * The git service a request asks for, or undefined when it is not a smart HTTP request. Only the
 * stricter reading is loosened by case: a POST to `…/Git-Receive-Pack` is a push (a server routing
 * names case-insensitively must not see a push Airlock took for a plain POST), while only the exact
 * `…/git-upload-pack` is a fetch (a read), as git and http-backend spell it.
 */
export function gitServiceOf(req: GitServiceRequest): GitService | undefined {
  const lastSegment = req.path.slice(req.path.lastIndexOf('/') + 1);
  if ((req.method === 'GET' || req.method === 'HEAD') && req.path.endsWith('/info/refs')) {
    const asked = req.query.filter(([name]) => name === 'service').map(([, value]) => value);
    // any service parameter naming receive-pack makes it receive-pack's advertisement (a read either way)
    const service = asked.includes('git-receive-pack') ? 'git-receive-pack' : asked.includes('git-upload-pack') ? 'git-upload-pack' : undefined;
    return service === undefined ? undefined : { service, request: 'advertisement', class: 'read' };
  }
  if (req.method !== 'POST') return undefined;
  if (lastSegment.toLowerCase() === 'git-receive-pack') return { service: 'git-receive-pack', request: 'rpc', class: 'write' };
  if (lastSegment === 'git-upload-pack') return { service: 'git-upload-pack', request: 'rpc', class: 'read' };
  return undefined;
}

/** A push: the request whose body carries ref updates and a pack. */
export function isGitReceivePack(req: GitServiceRequest): boolean {
  const service = gitServiceOf(req);
  return service?.service === 'git-receive-pack' && service.request === 'rpc';
}

export interface GitPushClassification {
  refs: GitRefUpdateDetail[];
  /** some update is not shown to be a fast-forward */
  forcePush: boolean;
  deletesRef: boolean;
  /** the command list cannot be read as receive-pack reads it: the push is unknown */
  error?: string;
  /** why each update counted as force was not shown to be a fast-forward, one sentence each */
  reasons: string[];
}

/**
 * Whether `bytes` (the start of a receive-pack body) is enough to classify the push: the command list
 * up to its flush-pkt, then as much of the pack as shows every update to be a fast-forward or shows
 * that more bytes cannot help. An unreadable command list is enough too (it is an error).
 */
export function gitPushPrefixSufficient(bytes: Uint8Array, bounds: GitPackBounds = DEFAULT_GIT_PACK_BOUNDS): boolean {
  const request = readUpdateRequest(bytes, false);
  if (request.kind === 'incomplete') return false;
  if (request.kind === 'error') return true;
  const updates = request.commands.filter((command) => changeOf(command, request.format) === 'update');
  if (updates.length === 0) return true;
  const walk = walkPushPack(bytes, request, false, bounds);
  if (walk.end !== 'needs-more') return true;
  return updates.every((command) => showsFastForward(walk, command));
}

/** a reader checks again once the bytes grew by this fraction since a check that needed more */
const RECHECK_GROWTH = 0.5;

/**
 * Reads the start of a receive-pack body chunk by chunk for gitPushPrefixSufficient. Each check walks
 * the prefix from its start (an object's zlib stream has no end marker to find without inflating it),
 * so checking on every chunk would cost the square of the body's length, and an agent could send a
 * large first object in small chunks to keep the daemon inflating. Checking again only once the bytes
 * grew by half keeps the work linear; the price is reading at most half again as many bytes as
 * strictly needed, within the shell's limit. Pure: no I/O, the caller feeds it.
 */
export class GitPushPrefixReader {
  readonly #chunks: Uint8Array[] = [];
  #total = 0;
  #nextCheck = 0;

  constructor(private readonly bounds: GitPackBounds = DEFAULT_GIT_PACK_BOUNDS) {}

  /** Adds a chunk; true once the bytes so far are enough to classify the push. */
  push(chunk: Uint8Array): boolean {
    this.#chunks.push(chunk);
    this.#total += chunk.length;
    if (this.#total < this.#nextCheck) return false;
    const sufficient = gitPushPrefixSufficient(this.bytes(), this.bounds);
    if (!sufficient) this.#nextCheck = this.#total + Math.max(1, Math.ceil(this.#total * RECHECK_GROWTH));
    return sufficient;
  }

  /** The bytes read so far, as one buffer. */
  bytes(): Uint8Array {
    if (this.#chunks.length !== 1) {
      const whole = Buffer.concat(this.#chunks);
      this.#chunks.length = 0;
      this.#chunks.push(whole);
    }
    return this.#chunks[0]!;
  }

  get length(): number {
    return this.#total;
  }
}

/** The ref updates of a push and whether any is a force push or a deletion. */
export function classifyGitPush(prefix: BodyPrefix, bounds: GitPackBounds = DEFAULT_GIT_PACK_BOUNDS): GitPushClassification {
  const request = readUpdateRequest(prefix.bytes, prefix.complete);
  if (request.kind === 'incomplete') {
    return { refs: [], forcePush: false, deletesRef: false, reasons: [], error: 'the push\'s command list is longer than what was read of the body (limits.maxMessageBytes)' };
  }
  if (request.kind === 'error') return { refs: [], forcePush: false, deletesRef: false, reasons: [], error: request.error };

  const { commands, format } = request;
  const needsWalk = commands.some((command) => changeOf(command, format) === 'update');
  const walk = needsWalk ? walkPushPack(prefix.bytes, request, prefix.complete, bounds) : undefined;
  const reasons: string[] = [];
  const refs = commands.map((command): GitRefUpdateDetail => {
    const change = changeOf(command, format);
    if (change !== 'update') return { ...command, change };
    if (showsFastForward(walk!, command)) return { ...command, change: 'fast-forward' };
    reasons.push(`${command.ref}: ${whyNotShown(walk!, command)}`);
    return { ...command, change: 'force' };
  });
  return {
    refs,
    forcePush: refs.some((ref) => ref.change === 'force'),
    deletesRef: refs.some((ref) => ref.change === 'delete'),
    reasons,
  };
}

interface RefCommand {
  ref: string;
  oldOid: string;
  newOid: string;
}

type UpdateRequest =
  | {
      kind: 'commands';
      commands: RefCommand[];
      format: ObjectFormat;
      /** where the bytes after the command list's flush-pkt start */
      afterCommands: number;
      /** the client asked to send push options */
      pushOptions: boolean;
    }
  | { kind: 'incomplete' }
  | { kind: 'error'; error: string };

const HEX_LENGTH: Readonly<Record<ObjectFormat, number>> = { sha1: 40, sha256: 64 };

/** the lines of a signature that ends a push certificate start with one of these (git's signature formats) */
const SIGNATURE_STARTS = ['-----BEGIN PGP SIGNATURE-----', '-----BEGIN PGP MESSAGE-----', '-----BEGIN SIGNED MESSAGE-----', '-----BEGIN SSH SIGNATURE-----'];

/**
 * The update request as receive-pack's read_head_info() reads it: `shallow` lines, commands (the
 * part before a NUL; capabilities after it on any line), a `push-cert` block whose commands are the
 * ones executed, the flush-pkt; then push options when asked for; then the pack.
 */
function readUpdateRequest(bytes: Uint8Array, complete: boolean): UpdateRequest {
  const lines: string[] = [];
  const formats = new Set<string>();
  let pushOptions = false;
  let certificate: string | undefined;
  let offset = 0;
  const ranOut = (where: string): UpdateRequest =>
    complete ? { kind: 'error', error: `the push's body ends ${where}` } : { kind: 'incomplete' };

  for (;;) {
    const packet = readPktLine(bytes, offset);
    if (packet.kind === 'incomplete') return ranOut('before the flush-pkt that closes its command list');
    if (packet.kind === 'error') return packet;
    if (packet.kind !== 'data' && packet.kind !== 'flush') return { kind: 'error', error: `the push's command list has an unexpected ${packet.kind} packet at byte ${offset}` };
    offset = packet.next;
    if (packet.kind === 'flush') break;
    const payload = chompNewline(packet.payload);
    const text = latin1(payload);
    if (text.startsWith('shallow ') && text.length > 'shallow '.length) {
      lines.push(text.split('\0')[0]!); // checked below, with the object format known
      continue;
    }
    const nul = text.indexOf('\0');
    const line = nul < 0 ? text : text.slice(0, nul);
    if (nul >= 0) {
      const capabilities = text.slice(nul + 1).split(' ');
      const format = capabilities.find((capability) => capability.startsWith('object-format='));
      formats.add(format === undefined ? 'sha1' : format.slice('object-format='.length));
      if (capabilities.includes('push-options')) pushOptions = true;
    }
    if (line === 'push-cert') {
      // the certificate's lines are read unchomped up to push-cert-end; a flush inside it ends the list
      let cert = '';
      let flushed = false;
      for (;;) {
        const certPacket = readPktLine(bytes, offset);
        if (certPacket.kind === 'incomplete') return ranOut('inside its push certificate');
        if (certPacket.kind === 'error') return certPacket;
        if (certPacket.kind === 'flush') {
          offset = certPacket.next;
          flushed = true;
          break;
        }
        if (certPacket.kind !== 'data') return { kind: 'error', error: `the push certificate has an unexpected ${certPacket.kind} packet at byte ${offset}` };
        offset = certPacket.next;
        const certLine = latin1(certPacket.payload);
        if (certLine === 'push-cert-end\n') break;
        cert += certLine;
      }
      if (certificate !== undefined) return { kind: 'error', error: 'the push carries two push certificates' };
      certificate = cert;
      if (flushed) break;
      continue;
    }
    lines.push(line);
  }

  if (formats.size > 1) return { kind: 'error', error: `the push names more than one object format (${[...formats].join(', ')})` };
  const formatName = formats.size === 0 ? 'sha1' : [...formats][0]!;
  if (formatName !== 'sha1' && formatName !== 'sha256') return { kind: 'error', error: `the push names the unsupported object format "${formatName}"` };
  const format: ObjectFormat = formatName;

  if (certificate !== undefined) {
    if (lines.some((line) => !isShallowLine(line, format))) return { kind: 'error', error: 'the push carries both a push certificate and unsigned commands' };
    const certified = certificateCommands(certificate);
    if (typeof certified === 'string') return { kind: 'error', error: certified };
    lines.push(...certified);
  }

  const commands: RefCommand[] = [];
  for (const line of lines) {
    if (line.startsWith('shallow ')) {
      if (!isShallowLine(line, format)) return { kind: 'error', error: `the push has a malformed shallow line "${printable(Buffer.from(line, 'latin1'))}"` };
      continue;
    }
    const command = parseCommand(line, format);
    if (command === undefined) return { kind: 'error', error: `the push has a line that is not "old-id new-id ref": "${printable(Buffer.from(line, 'latin1'))}"` };
    commands.push(command);
  }

  return { kind: 'commands', commands, format, afterCommands: offset, pushOptions };
}

/** A push certificate's commands: the lines after its first blank line, up to its signature. */
function certificateCommands(certificate: string): string[] | string {
  const blank = certificate.indexOf('\n\n');
  if (blank < 0) return 'the push certificate has no blank line before its commands';
  let end = certificate.length;
  // git's parse_signed_buffer: the signature starts at the last line that opens one
  let at = 0;
  while (at < certificate.length) {
    if (SIGNATURE_STARTS.some((start) => certificate.startsWith(start, at))) end = at;
    const eol = certificate.indexOf('\n', at);
    at = eol < 0 ? certificate.length : eol + 1;
  }
  const body = certificate.slice(blank + 2, Math.max(end, blank + 2));
  if (body === '') return [];
  return (body.endsWith('\n') ? body.slice(0, -1) : body).split('\n');
}

/**
 * Where the pack starts: right after the command list, or after the push options when the client
 * asked to send them and the server reads them (only when it advertised them). A pkt-line starts
 * with a hex digit and a pack with "P", so the first byte tells which the client sent; were the
 * server to read it the other way, the push fails there.
 */
function packStartOf(bytes: Uint8Array, request: { afterCommands: number; pushOptions: boolean }, complete: boolean): number | 'incomplete' | { error: string } {
  let offset = request.afterCommands;
  if (!request.pushOptions) return offset;
  if (offset >= bytes.length) return complete ? offset : 'incomplete';
  if (bytes[offset] === PACK_FIRST_BYTE) return offset;
  for (;;) {
    const packet = readPktLine(bytes, offset);
    if (packet.kind === 'incomplete') return complete ? { error: 'the body ends before the flush-pkt that closes the push options' } : 'incomplete';
    if (packet.kind === 'error') return packet;
    offset = packet.next;
    if (packet.kind === 'flush') return offset;
    if (packet.kind !== 'data') return { error: `the push options have an unexpected ${packet.kind} packet` };
  }
}

const PACK_FIRST_BYTE = 0x50; // "P" of "PACK"

/** Walks the pack after the commands (and push options) for the commits in it. */
function walkPushPack(bytes: Uint8Array, request: { afterCommands: number; pushOptions: boolean; format: ObjectFormat }, complete: boolean, bounds: GitPackBounds): PackWalk {
  const start = packStartOf(bytes, request, complete);
  if (start === 'incomplete') return { commits: new Map(), end: 'needs-more', objectsRead: 0 };
  if (typeof start !== 'number') return { commits: new Map(), end: 'corrupt', note: start.error, objectsRead: 0 };
  return walkPackCommits(bytes, start, complete, request.format, bounds);
}

/** "old-id SP new-id SP ref", ids in the push's object format (git's parse_oid_hex takes both cases). */
function parseCommand(line: string, format: ObjectFormat): RefCommand | undefined {
  const hexLength = HEX_LENGTH[format];
  const oldOid = line.slice(0, hexLength);
  const newOid = line.slice(hexLength + 1, 2 * hexLength + 1);
  if (!isOid(oldOid, hexLength) || line[hexLength] !== ' ' || !isOid(newOid, hexLength) || line[2 * hexLength + 1] !== ' ') return undefined;
  return { ref: line.slice(2 * hexLength + 2), oldOid: oldOid.toLowerCase(), newOid: newOid.toLowerCase() };
}

function isShallowLine(line: string, format: ObjectFormat): boolean {
  return line.startsWith('shallow ') && isOid(line.slice('shallow '.length), HEX_LENGTH[format]);
}

function isOid(text: string, hexLength: number): boolean {
  if (text.length !== hexLength) return false;
  for (let i = 0; i < text.length; i++) if (hexDigit(text.charCodeAt(i)) < 0) return false;
  return true;
}

/**
 * A command's change before the pack is looked at. A zero new id deletes, whatever the old id says:
 * receive-pack deletes an existing ref even when the old id sent is zero ("allowing deletion of
 * corrupt ref"), so zero → zero is a deletion, not a creation.
 */
function changeOf(command: RefCommand, format: ObjectFormat): 'create' | 'delete' | 'update' {
  const zero = '0'.repeat(HEX_LENGTH[format]);
  if (command.newOid === zero) return 'delete';
  if (command.oldOid === zero) return 'create';
  return 'update';
}

/**
 * Whether walking parents from the new commit through the commits in the pack reaches the old one.
 * Only what the pack shows counts: an update to a commit the server already has (a rewind to an
 * existing commit, or a fast-forward to one pushed before) is not shown, so it counts as a force push.
 * Failing closed is the point: a rewind cannot pass as a fast-forward by pointing at a known commit.
 */
function showsFastForward(walk: PackWalk, command: RefCommand): boolean {
  if (command.oldOid === command.newOid) return true;
  const queue = [command.newOid];
  const visited = new Set(queue);
  while (queue.length > 0) {
    const parents = walk.commits.get(queue.pop()!);
    if (parents === undefined) continue;
    for (const parent of parents) {
      if (parent === command.oldOid) return true;
      if (!visited.has(parent)) {
        visited.add(parent);
        queue.push(parent);
      }
    }
  }
  return false;
}

function whyNotShown(walk: PackWalk, command: RefCommand): string {
  const notFastForward = `not shown to be a fast-forward of ${command.oldOid}`;
  if (walk.end === 'cut' || walk.end === 'bounds' || walk.end === 'corrupt' || walk.end === 'needs-more') {
    const note = walk.note ?? 'the pack was not read to its end';
    if (!walk.commits.has(command.newOid)) return `${notFastForward}: ${command.newOid} is not among the commits read (${note})`;
    return `${notFastForward}: its history leaves the commits read (${note})`;
  }
  if (!walk.commits.has(command.newOid)) return `${notFastForward}: ${command.newOid} is not a commit in the pack (a commit the server has already, or a delta git resolves against one)`;
  return `${notFastForward}: its history in the pack does not reach the old commit`;
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}
