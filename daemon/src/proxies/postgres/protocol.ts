/**
 * PostgreSQL wire protocol v3: framing, the frontend messages Airlock decodes (pg-protocol parses
 * backend messages only) and the backend messages Airlock writes itself (authentication, key data,
 * refusals, rewritten rows). Backend messages are decoded with pg-protocol (backend.ts); frontend
 * messages to the upstream are built with pg-protocol's serializer. Everything not rewritten is
 * forwarded as the raw bytes that arrived.
 */

export const PROTOCOL_3_0 = 196608; // 3 << 16
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** The first message of a connection: no type byte. */
export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; processId: number; secretKey: number }
  | { kind: 'startup'; protocol: number; params: Map<string, string> };

/** A typed message: its type byte, its body (without type and length) and the raw bytes. */
export interface WireMessage {
  type: string;
  body: Buffer;
  raw: Buffer;
}

export class ProtocolError extends Error {
  constructor(
    message: string,
    /** SQLSTATE to report */
    readonly code = '08P01',
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/**
 * Splits a byte stream into messages. `startup` mode reads one length-prefixed packet with no
 * type byte; then typed messages. Messages over `maxMessageBytes` are a protocol error before any
 * of their body is buffered.
 */
export class MessageFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;
  expectStartup: boolean;

  constructor(
    private readonly maxMessageBytes: number,
    expectStartup: boolean,
  ) {
    this.expectStartup = expectStartup;
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  get pendingBytes(): number {
    return this.buffered;
  }

  /** The next complete startup packet, or null when more bytes are needed. */
  nextStartup(): Buffer | null {
    if (this.buffered < 4) return null;
    const head = this.peek(4);
    const length = head.readInt32BE(0);
    if (length < 8 || length > 10_000) throw new ProtocolError(`invalid startup packet length ${length}`);
    if (this.buffered < length) return null;
    return this.take(length);
  }

  /** The next complete typed message, or null when more bytes are needed. */
  next(): WireMessage | null {
    if (this.buffered < 5) return null;
    const head = this.peek(5);
    const length = head.readInt32BE(1);
    if (length < 4) throw new ProtocolError(`invalid message length ${length} for message type "${printable(head[0]!)}"`);
    if (length + 1 > this.maxMessageBytes) {
      throw new ProtocolError(`message of ${length + 1} bytes (type "${printable(head[0]!)}") exceeds the limit of ${this.maxMessageBytes} bytes`, '08P01');
    }
    if (this.buffered < length + 1) return null;
    const raw = this.take(length + 1);
    return { type: String.fromCharCode(raw[0]!), body: raw.subarray(5), raw };
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    let first = this.chunks[0]!;
    if (first.length < n) {
      first = Buffer.concat(this.chunks);
      this.chunks = [first];
    }
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }
}

function printable(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `0x${byte.toString(16).padStart(2, '0')}`;
}

export function parseStartupPacket(packet: Buffer): StartupPacket {
  const code = packet.readInt32BE(4);
  if (code === SSL_REQUEST_CODE) return { kind: 'ssl' };
  if (code === GSSENC_REQUEST_CODE) return { kind: 'gssenc' };
  if (code === CANCEL_REQUEST_CODE) {
    if (packet.length !== 16) throw new ProtocolError('invalid CancelRequest length');
    return { kind: 'cancel', processId: packet.readInt32BE(8), secretKey: packet.readInt32BE(12) };
  }
  const params = new Map<string, string>();
  const reader = new BodyReader(packet.subarray(8));
  for (;;) {
    const key = reader.cstring();
    if (key === '') break;
    params.set(key, reader.cstring());
  }
  return { kind: 'startup', protocol: code, params };
}

/** Reads the fields of a message body; any overrun is a ProtocolError. */
export class BodyReader {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  cstring(): string {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) throw new ProtocolError('unterminated string in message');
    const s = this.buf.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return s;
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  byte(): number {
    this.need(1);
    return this.buf[this.offset++]!;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
  rest(): Buffer {
    return this.buf.subarray(this.offset);
  }
  private need(n: number): void {
    if (this.offset + n > this.buf.length) throw new ProtocolError('message shorter than its fields');
  }
}

// ---- frontend messages Airlock reads ----

export interface ParseMessage {
  name: string;
  sql: string;
  paramTypes: number[];
}
export function readParse(body: Buffer): ParseMessage {
  const r = new BodyReader(body);
  const name = r.cstring();
  const sql = r.cstring();
  const n = r.int16();
  const paramTypes: number[] = [];
  for (let i = 0; i < n; i++) paramTypes.push(r.int32());
  return { name, sql, paramTypes };
}

export interface BindMessage {
  portal: string;
  statement: string;
  paramFormats: number[];
  /** null for SQL NULL */
  params: (Buffer | null)[];
  resultFormats: number[];
}
export function readBind(body: Buffer): BindMessage {
  const r = new BodyReader(body);
  const portal = r.cstring();
  const statement = r.cstring();
  const nf = r.int16();
  const paramFormats: number[] = [];
  for (let i = 0; i < nf; i++) paramFormats.push(r.int16());
  const np = r.int16();
  const params: (Buffer | null)[] = [];
  for (let i = 0; i < np; i++) {
    const len = r.int32();
    params.push(len < 0 ? null : r.bytes(len));
  }
  const nr = r.int16();
  const resultFormats: number[] = [];
  for (let i = 0; i < nr; i++) resultFormats.push(r.int16());
  return { portal, statement, paramFormats, params, resultFormats };
}

export function readExecute(body: Buffer): { portal: string; maxRows: number } {
  const r = new BodyReader(body);
  return { portal: r.cstring(), maxRows: r.int32() };
}

/** Describe and Close: 'S' statement or 'P' portal, and its name. */
export function readTarget(body: Buffer): { kind: 'S' | 'P'; name: string } {
  const r = new BodyReader(body);
  const kind = String.fromCharCode(r.byte());
  if (kind !== 'S' && kind !== 'P') throw new ProtocolError(`invalid Describe/Close target "${kind}"`);
  return { kind, name: r.cstring() };
}

export function readQuery(body: Buffer): string {
  return new BodyReader(body).cstring();
}

// ---- backend messages Airlock writes ----

export function message(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

function cstr(s: string): Buffer {
  return Buffer.from(s + '\0', 'utf8');
}

function int32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n, 0);
  return b;
}

export interface ErrorFields {
  severity: 'ERROR' | 'FATAL' | 'NOTICE' | 'WARNING';
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

/** ErrorResponse ('E') or NoticeResponse ('N'). */
export function errorResponse(fields: ErrorFields, type: 'E' | 'N' = 'E'): Buffer {
  const parts = [Buffer.from('S'), cstr(fields.severity), Buffer.from('V'), cstr(fields.severity), Buffer.from('C'), cstr(fields.code), Buffer.from('M'), cstr(fields.message)];
  if (fields.detail) parts.push(Buffer.from('D'), cstr(fields.detail));
  if (fields.hint) parts.push(Buffer.from('H'), cstr(fields.hint));
  parts.push(Buffer.from([0]));
  return message(type, Buffer.concat(parts));
}

export const authenticationOk = (): Buffer => message('R', int32(0));
export const authenticationCleartext = (): Buffer => message('R', int32(3));
export const authenticationSasl = (mechanisms: string[]): Buffer => message('R', Buffer.concat([int32(10), ...mechanisms.map(cstr), Buffer.from([0])]));
export const authenticationSaslContinue = (data: string): Buffer => message('R', Buffer.concat([int32(11), Buffer.from(data, 'utf8')]));
export const authenticationSaslFinal = (data: string): Buffer => message('R', Buffer.concat([int32(12), Buffer.from(data, 'utf8')]));
export const backendKeyData = (processId: number, secretKey: number): Buffer => message('K', Buffer.concat([int32(processId), int32(secretKey)]));
export const readyForQuery = (status: 'I' | 'T' | 'E'): Buffer => message('Z', Buffer.from(status));
export const parameterStatus = (name: string, value: string): Buffer => message('S', Buffer.concat([cstr(name), cstr(value)]));

/** NegotiateProtocolVersion: the newest minor version we speak, and the _pq_ options we did not recognize. */
export function negotiateProtocolVersion(minor: number, unrecognized: string[]): Buffer {
  return message('v', Buffer.concat([int32(minor), int32(unrecognized.length), ...unrecognized.map(cstr)]));
}

// ---- DataRow ----

/**
 * Splits a DataRow body into its values (null for SQL NULL) without copying. Rows are rewritten by
 * RowMasker.maskRow (results.ts), which recomputes every length prefix.
 */
export function readDataRow(body: Buffer): (Buffer | null)[] {
  const count = body.readInt16BE(0);
  const values: (Buffer | null)[] = new Array(count);
  let offset = 2;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > body.length) throw new ProtocolError('DataRow shorter than its columns');
    const len = body.readInt32BE(offset);
    offset += 4;
    if (len < 0) values[i] = null;
    else {
      if (offset + len > body.length) throw new ProtocolError('DataRow value longer than the message');
      values[i] = body.subarray(offset, offset + len);
      offset += len;
    }
  }
  return values;
}


