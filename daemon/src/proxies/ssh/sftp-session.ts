import { createHash, randomBytes, type Hash } from 'node:crypto';
import type { SftpOperation, SshSftpResultDetail } from '@airlock/shared';

/**
 * The sftp session: a pure model of one sftp subsystem channel (no sockets, timers or promises).
 * It turns each decoded agent request into a plan — govern a path-level operation, forward a request
 * that an earlier open covers, or answer at once without touching the upstream — and keeps the
 * handles the bridge issued with the bytes that went through them and their running SHA-256.
 */

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02, 7). */
export const FX = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

const STATUS_WORDS = ['ok', 'eof', 'no such file', 'permission denied', 'failure', 'bad message', 'no connection', 'connection lost', 'op unsupported'];

/** A status code in words, as results are recorded. */
export function statusInWords(code: number): string {
  return STATUS_WORDS[code] ?? `status ${code}`;
}

/** SSH_FXP_OPEN pflags (draft 6.3). */
export const PFLAGS = { READ: 0x01, WRITE: 0x02, APPEND: 0x04, CREAT: 0x08, TRUNC: 0x10, EXCL: 0x20 } as const;

const FLAG_WORDS: [number, string][] = [
  [PFLAGS.READ, 'read'],
  [PFLAGS.WRITE, 'write'],
  [PFLAGS.CREAT, 'create'],
  [PFLAGS.TRUNC, 'truncate'],
  [PFLAGS.APPEND, 'append'],
  [PFLAGS.EXCL, 'excl'],
];
const KNOWN_FLAGS = FLAG_WORDS.reduce((all, [bit]) => all | bit, 0);

/** The pflags in words; bits the draft does not define are named as such, never dropped. */
export function flagsInWords(pflags: number): string[] {
  const words = FLAG_WORDS.filter(([bit]) => (pflags & bit) !== 0).map(([, word]) => word);
  const unknown = pflags & ~KNOWN_FLAGS;
  if (unknown !== 0) words.push(`unknown 0x${(unknown >>> 0).toString(16)}`);
  return words;
}

/** Any flag but read changes the file (create, truncate, append, write; unknown bits fail closed). */
function opensForWrite(pflags: number): boolean {
  return (pflags & ~PFLAGS.READ) !== 0;
}

/** Attributes as ssh2 decodes them: only the fields the packet carried are set. */
export interface SftpAttrs {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: number;
  mtime?: number;
}

/** What a setstat/mkdir changes, for a person to read: the mode in octal, the rest as numbers. */
export function attrsInWords(attrs: SftpAttrs | undefined): Record<string, number | string> | undefined {
  if (!attrs) return undefined;
  const out: Record<string, number | string> = {};
  if (typeof attrs.mode === 'number') out.mode = `0${(attrs.mode & 0o7777).toString(8)}`;
  for (const key of ['uid', 'gid', 'size', 'atime', 'mtime'] as const) {
    const value = attrs[key];
    if (typeof value === 'number') out[key] = value;
  }
  return Object.keys(out).length ? out : undefined;
}

/** One governed operation: what policy matches on and a person reads. */
export interface SftpOp {
  operation: SftpOperation;
  path: string;
  /** rename, symlink, hardlink: the other path (the new name; the link's target) */
  toPath?: string;
  /** open: the pflags in words */
  flags?: string[];
  /** setstat, fsetstat, mkdir, open with create: the attributes asked for */
  attrs?: Record<string, number | string>;
  /** operation `extended`: the extension's name */
  extension?: string;
  class: 'read' | 'write';
}

/** A decoded agent request (the ssh2 server-mode events, one variant each). */
export type SftpRequest =
  | { type: 'OPEN'; path: string; pflags: number; attrs?: SftpAttrs }
  | { type: 'OPENDIR' | 'STAT' | 'LSTAT' | 'REALPATH' | 'READLINK' | 'REMOVE' | 'RMDIR'; path: string }
  | { type: 'MKDIR' | 'SETSTAT'; path: string; attrs?: SftpAttrs }
  | { type: 'RENAME'; path: string; toPath: string }
  /** linkPath is the link created, targetPath what it points to (ssh2 undoes OpenSSH's swap) */
  | { type: 'SYMLINK'; linkPath: string; targetPath: string }
  | { type: 'READ'; handle: Buffer; offset: number; length: number }
  | { type: 'WRITE'; handle: Buffer; offset: number; data: Buffer }
  | { type: 'FSTAT' | 'CLOSE' | 'READDIR'; handle: Buffer }
  | { type: 'FSETSTAT'; handle: Buffer; attrs?: SftpAttrs }
  | { type: 'EXTENDED'; name: string; data?: Buffer };

/**
 * What the upstream is asked once a plan is allowed: the request, with bridge handles replaced by
 * the upstream's and the extensions Airlock knows decoded.
 */
export type UpstreamCall =
  | Exclude<SftpRequest, { handle: Buffer } | { type: 'EXTENDED' }>
  | { type: 'READ'; handle: OpenHandle; offset: number; length: number }
  | { type: 'WRITE'; handle: OpenHandle; offset: number; data: Buffer }
  | { type: 'FSTAT' | 'CLOSE' | 'READDIR'; handle: OpenHandle }
  | { type: 'FSETSTAT'; handle: OpenHandle; attrs?: SftpAttrs }
  | { type: 'POSIX_RENAME'; path: string; toPath: string }
  | { type: 'HARDLINK'; path: string; toPath: string }
  | { type: 'FSYNC'; handle: OpenHandle };

export type SftpPlan =
  /** a path-level operation: ask policy, then make the call */
  | { do: 'govern'; op: SftpOp; call: UpstreamCall }
  /** covered by the open of its handle: make the call */
  | { do: 'forward'; call: UpstreamCall }
  /** answered by the bridge; the upstream is not touched */
  | { do: 'reply'; code: number; message: string };

/** One handle the bridge issued to the agent, and the upstream's behind it. */
export interface OpenHandle {
  /** what the agent holds (issued by the bridge, never the upstream's) */
  readonly id: Buffer;
  readonly upstream: Buffer;
  readonly kind: 'file' | 'dir';
  /** the open (or opendir) that covers everything done through this handle */
  readonly op: SftpOp;
  readonly canRead: boolean;
  readonly canWrite: boolean;
  bytesRead: number;
  bytesWritten: number;
  entries: number;
  /** the running digest of the bytes that went, while they go in one pass from offset 0 */
  digest: Digest;
}

/** SHA-256 over bytes that arrive by offset; chunks ahead of the next offset wait, within a budget. */
export class Digest {
  private readonly hash: Hash = createHash('sha256');
  private next = 0;
  private readonly ahead = new Map<number, Buffer>();
  private aheadBytes = 0;
  private skipped: string | undefined;

  constructor(private readonly maxAheadBytes: number) {}

  add(offset: number, data: Buffer): void {
    if (this.skipped !== undefined || data.length === 0) return;
    if (offset === this.next) {
      this.hash.update(data);
      this.next += data.length;
      for (let chunk = this.ahead.get(this.next); chunk; chunk = this.ahead.get(this.next)) {
        this.ahead.delete(this.next);
        this.aheadBytes -= chunk.length;
        this.hash.update(chunk);
        this.next += chunk.length;
      }
      return;
    }
    if (offset < this.next || this.ahead.has(offset)) {
      this.abandonDigest(`bytes at offset ${offset} went twice (after ${this.next} bytes in one pass)`);
      return;
    }
    if (this.aheadBytes + data.length > this.maxAheadBytes) {
      this.abandonDigest(`bytes went out of order beyond the ${this.maxAheadBytes}-byte reorder budget (at offset ${offset}, expected ${this.next})`);
      return;
    }
    // a copy: the chunk may be a view of a packet buffer the SSH library reuses
    this.ahead.set(offset, Buffer.from(data));
    this.aheadBytes += data.length;
  }

  /** The digest of bytes [0, n) when they all went in one pass, or why there is none. */
  finish(): { sha256?: string; sha256Skipped?: string } {
    if (this.skipped === undefined && this.ahead.size > 0) this.abandonDigest(`bytes from offset ${this.next} never went, so later bytes are not contiguous`);
    if (this.skipped !== undefined) return { sha256Skipped: this.skipped };
    return { sha256: this.hash.digest('hex') };
  }

  private abandonDigest(reason: string): void {
    this.skipped = reason;
    this.ahead.clear();
    this.aheadBytes = 0;
  }
}

export interface SftpSessionLimits {
  /** handles open at once on one channel */
  maxHandles: number;
  /** bytes a handle's digest may hold while waiting for an earlier chunk */
  maxDigestAheadBytes: number;
}

/** Extensions Airlock knows; any other extended request is refused without reaching the upstream. */
export const KNOWN_EXTENSIONS = ['posix-rename@openssh.com', 'hardlink@openssh.com', 'fsync@openssh.com'] as const;

export class SftpSession {
  private readonly handles = new Map<string, OpenHandle>();
  private nextHandle = 0;
  /**
   * The first half of every handle issued on this channel: a handle is never the upstream's own
   * (which sftp-server numbers from 0), so one the agent invents or copies finds nothing here.
   */
  private readonly prefix: Buffer;

  constructor(
    private readonly limits: SftpSessionLimits,
    prefix: Buffer = randomBytes(4),
  ) {
    this.prefix = prefix;
  }

  get openHandles(): number {
    return this.handles.size;
  }

  /** The plan for one agent request. */
  plan(request: SftpRequest): SftpPlan {
    switch (request.type) {
      case 'OPEN': {
        const write = opensForWrite(request.pflags);
        const attrs = attrsInWords(request.attrs);
        const op: SftpOp = { operation: 'open', path: request.path, flags: flagsInWords(request.pflags), class: write ? 'write' : 'read' };
        if (write && attrs) op.attrs = attrs;
        return this.opening(op, request);
      }
      case 'OPENDIR':
        return this.opening({ operation: 'opendir', path: request.path, class: 'read' }, request);
      case 'STAT':
      case 'LSTAT':
      case 'REALPATH':
      case 'READLINK':
        return { do: 'govern', op: { operation: request.type.toLowerCase() as SftpOperation, path: request.path, class: 'read' }, call: request };
      case 'REMOVE':
      case 'RMDIR':
        return { do: 'govern', op: { operation: request.type.toLowerCase() as SftpOperation, path: request.path, class: 'write' }, call: request };
      case 'MKDIR':
      case 'SETSTAT':
        return { do: 'govern', op: withAttrs({ operation: request.type.toLowerCase() as SftpOperation, path: request.path, class: 'write' }, request.attrs), call: request };
      case 'RENAME':
        return { do: 'govern', op: { operation: 'rename', path: request.path, toPath: request.toPath, class: 'write' }, call: request };
      case 'SYMLINK':
        return { do: 'govern', op: { operation: 'symlink', path: request.linkPath, toPath: request.targetPath, class: 'write' }, call: request };
      case 'READ': {
        const handle = this.handles.get(request.handle.toString('hex'));
        if (!handle) return invalidHandle('read');
        if (handle.kind !== 'file' || !handle.canRead) return notOpenedFor(handle, 'reading');
        return { do: 'forward', call: { type: 'READ', handle, offset: request.offset, length: request.length } };
      }
      case 'WRITE': {
        const handle = this.handles.get(request.handle.toString('hex'));
        if (!handle) return invalidHandle('write');
        if (handle.kind !== 'file' || !handle.canWrite) return notOpenedFor(handle, 'writing');
        return { do: 'forward', call: { type: 'WRITE', handle, offset: request.offset, data: request.data } };
      }
      case 'FSTAT': {
        const handle = this.handles.get(request.handle.toString('hex'));
        if (!handle) return invalidHandle('fstat');
        return { do: 'forward', call: { type: 'FSTAT', handle } };
      }
      case 'READDIR': {
        const handle = this.handles.get(request.handle.toString('hex'));
        if (!handle) return invalidHandle('readdir');
        if (handle.kind !== 'dir') return notOpenedFor(handle, 'listing');
        return { do: 'forward', call: { type: 'READDIR', handle } };
      }
      case 'CLOSE': {
        const handle = this.handles.get(request.handle.toString('hex'));
        if (!handle) return invalidHandle('close');
        // gone at once: requests after the CLOSE on this handle are refused, as the upstream would
        this.handles.delete(request.handle.toString('hex'));
        return { do: 'forward', call: { type: 'CLOSE', handle } };
      }
      case 'FSETSTAT': {
        // changing a file's mode or owner is not covered by opening it: governed on its own
        const handle = this.handles.get(request.handle.toString('hex'));
        if (!handle) return invalidHandle('fsetstat');
        return { do: 'govern', op: withAttrs({ operation: 'fsetstat', path: handle.op.path, class: 'write' }, request.attrs), call: { type: 'FSETSTAT', handle, attrs: request.attrs } };
      }
      case 'EXTENDED':
        return this.extended(request.name, request.data);
    }
  }

  /** The upstream opened a file or directory the policy allowed: the handle the agent gets. */
  opened(op: SftpOp, flags: number | undefined, upstream: Buffer): OpenHandle {
    const id = Buffer.alloc(this.prefix.length + 4);
    this.prefix.copy(id);
    id.writeUInt32BE(this.nextHandle, this.prefix.length);
    this.nextHandle = (this.nextHandle + 1) >>> 0;
    const file = op.operation === 'open';
    const handle: OpenHandle = {
      id,
      upstream,
      kind: file ? 'file' : 'dir',
      op,
      canRead: file && flags !== undefined && (flags & PFLAGS.READ) !== 0,
      canWrite: file && flags !== undefined && opensForWrite(flags),
      bytesRead: 0,
      bytesWritten: 0,
      entries: 0,
      digest: new Digest(this.limits.maxDigestAheadBytes),
    };
    this.handles.set(id.toString('hex'), handle);
    return handle;
  }

  /** Bytes the upstream returned for a READ. */
  read(handle: OpenHandle, offset: number, data: Buffer): void {
    handle.bytesRead += data.length;
    handle.digest.add(offset, data);
  }

  /** Bytes the upstream confirmed it wrote. */
  wrote(handle: OpenHandle, offset: number, data: Buffer): void {
    handle.bytesWritten += data.length;
    handle.digest.add(offset, data);
  }

  listed(handle: OpenHandle, entries: number): void {
    handle.entries += entries;
  }

  /** The result recorded for a handle when it closes (or the channel ends with it open). */
  result(handle: OpenHandle, status: string, message?: string): SshSftpResultDetail {
    const result: SshSftpResultDetail = { status };
    if (message !== undefined) result.message = message;
    if (handle.kind === 'dir') {
      result.entries = handle.entries;
      return result;
    }
    const bytes = handle.bytesRead + handle.bytesWritten;
    result.bytes = bytes;
    if (handle.bytesRead > 0 && handle.bytesWritten > 0) result.sha256Skipped = 'the handle was both read and written';
    else Object.assign(result, handle.digest.finish());
    return result;
  }

  /** The channel ended: every handle still open, removed. */
  drain(): OpenHandle[] {
    const open = [...this.handles.values()];
    this.handles.clear();
    return open;
  }

  private opening(op: SftpOp, call: UpstreamCall): SftpPlan {
    if (this.handles.size >= this.limits.maxHandles) {
      return { do: 'reply', code: FX.FAILURE, message: `airlock: too many open sftp handles on this channel (limit ${this.limits.maxHandles}); close some first` };
    }
    return { do: 'govern', op, call };
  }

  private extended(name: string, data: Buffer | undefined): SftpPlan {
    switch (name) {
      case 'posix-rename@openssh.com':
      case 'hardlink@openssh.com': {
        const fields = sshStrings(data, 2);
        if (!fields) return { do: 'reply', code: FX.BAD_MESSAGE, message: `airlock: malformed ${name} request` };
        const [from, to] = fields.map((f) => f.toString('utf8')) as [string, string];
        if (name === 'posix-rename@openssh.com') {
          return { do: 'govern', op: { operation: 'rename', path: from, toPath: to, class: 'write' }, call: { type: 'POSIX_RENAME', path: from, toPath: to } };
        }
        // hardlink@openssh.com carries (oldpath, newpath): the new link is the path written
        return { do: 'govern', op: { operation: 'extended', extension: name, path: to, toPath: from, class: 'write' }, call: { type: 'HARDLINK', path: from, toPath: to } };
      }
      case 'fsync@openssh.com': {
        const fields = sshStrings(data, 1);
        if (!fields) return { do: 'reply', code: FX.BAD_MESSAGE, message: `airlock: malformed ${name} request` };
        const handle = this.handles.get(fields[0]!.toString('hex'));
        if (!handle) return invalidHandle('fsync');
        return { do: 'forward', call: { type: 'FSYNC', handle } };
      }
      default:
        return { do: 'reply', code: FX.OP_UNSUPPORTED, message: `airlock: the sftp extension ${JSON.stringify(name)} is not supported through Airlock` };
    }
  }
}

function withAttrs(op: SftpOp, attrs: SftpAttrs | undefined): SftpOp {
  const words = attrsInWords(attrs);
  if (words) op.attrs = words;
  return op;
}

function invalidHandle(what: string): SftpPlan {
  return { do: 'reply', code: FX.FAILURE, message: `airlock: ${what} on a handle this sftp session never issued (or already closed)` };
}

function notOpenedFor(handle: OpenHandle, what: string): SftpPlan {
  return { do: 'reply', code: FX.PERMISSION_DENIED, message: `airlock: ${handle.op.path} was not opened for ${what} (${handle.kind === 'dir' ? 'a directory handle' : `flags: ${handle.op.flags?.join(', ') || 'none'}`})` };
}

/** `count` SSH strings (uint32 length + bytes) filling `data` exactly, or undefined. */
export function sshStrings(data: Buffer | undefined, count: number): Buffer[] | undefined {
  if (!data) return undefined;
  const out: Buffer[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 4 > data.length) return undefined;
    const len = data.readUInt32BE(p);
    p += 4;
    if (p + len > data.length) return undefined;
    out.push(data.subarray(p, p + len));
    p += len;
  }
  return p === data.length ? out : undefined;
}
