import net from 'node:net';
import { serialize } from 'pg-protocol';
import { MessageFramer, readDataRow, readQuery, type WireMessage } from '../../src/proxies/postgres/protocol.js';
import type { ResultColumn } from '../../src/proxies/postgres/results.js';
import { MACHINE_PG } from './pg-proxy.js';

/** What the server sent for one statement, as bytes: drivers parse values, these tests need them raw. */
export interface WireResult {
  columns: ResultColumn[];
  /** DataRow bodies (without type and length), as the proxy's RowMasker receives them */
  rowBodies: Buffer[];
  rows: (Buffer | null)[][];
  /** CopyData bodies of a COPY TO STDOUT */
  copyData: Buffer[];
  /** CopyOutResponse: overall format and column count */
  copyOut?: { format: number; columns: number };
  error?: string;
}

/**
 * A direct wire connection to the machine's PostgreSQL (trust auth), reading values as raw bytes:
 * text or binary result formats, COPY data as sent, and COPY FROM STDIN with given bytes.
 */
export class WireClient {
  private readonly framer = new MessageFramer(1 << 30, false);
  private waiting?: { until: (m: WireMessage) => boolean; got: WireMessage[]; resolve: (m: WireMessage[]) => void; reject: (e: Error) => void };
  private readonly pending: WireMessage[] = [];

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.framer.push(chunk);
      for (let m = this.framer.next(); m; m = this.framer.next()) this.pending.push({ type: m.type, body: Buffer.from(m.body), raw: Buffer.from(m.raw) });
      this.drain();
    });
    socket.on('error', (err) => this.waiting?.reject(err));
  }

  static async connect(database: string): Promise<WireClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(MACHINE_PG.port, MACHINE_PG.host, () => resolve(s));
      s.once('error', reject);
    });
    const client = new WireClient(socket);
    socket.write(serialize.startup({ user: MACHINE_PG.user, database, DateStyle: 'ISO', TimeZone: 'UTC', IntervalStyle: 'postgres', extra_float_digits: '1' }));
    const messages = await client.until((m) => m.type === 'Z' || m.type === 'E');
    const error = messages.find((m) => m.type === 'E');
    if (error) throw new Error(`cannot connect: ${errorText(error)}`);
    return client;
  }

  /** A simple-protocol query: text values, and a COPY TO STDOUT's data. */
  async query(sql: string): Promise<WireResult> {
    this.socket.write(serialize.query(sql));
    return collect(await this.until((m) => m.type === 'Z'));
  }

  /** One statement through Parse/Bind/Describe/Execute, every result column in `format` (1 binary). */
  async extended(sql: string, format = 1): Promise<WireResult> {
    this.socket.write(Buffer.concat([serialize.parse({ text: sql }), serialize.bind({ binary: format === 1 }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()]));
    return collect(await this.until((m) => m.type === 'Z'));
  }

  /** COPY ... FROM STDIN with these CopyData bodies. */
  async copyIn(sql: string, data: Buffer[]): Promise<string | undefined> {
    this.socket.write(serialize.query(sql));
    const start = await this.until((m) => m.type === 'G' || m.type === 'Z');
    const error = start.find((m) => m.type === 'E');
    if (error) return errorText(error);
    this.socket.write(Buffer.concat([...data.map((d) => serialize.copyData(d)), serialize.copyDone()]));
    const done = await this.until((m) => m.type === 'Z');
    const failed = done.find((m) => m.type === 'E');
    return failed ? errorText(failed) : undefined;
  }

  end(): void {
    this.socket.end(serialize.end());
  }

  private until(predicate: (m: WireMessage) => boolean): Promise<WireMessage[]> {
    return new Promise((resolve, reject) => {
      this.waiting = { until: predicate, got: [], resolve, reject };
      this.drain();
    });
  }

  private drain(): void {
    const w = this.waiting;
    if (!w) return;
    while (this.pending.length > 0) {
      const m = this.pending.shift()!;
      w.got.push(m);
      if (w.until(m)) {
        this.waiting = undefined;
        w.resolve(w.got);
        return;
      }
    }
  }
}

function collect(messages: WireMessage[]): WireResult {
  const result: WireResult = { columns: [], rowBodies: [], rows: [], copyData: [] };
  for (const m of messages) {
    if (m.type === 'T') result.columns = readRowDescription(m.body);
    else if (m.type === 'D') {
      result.rowBodies.push(m.body);
      result.rows.push(readDataRow(m.body));
    } else if (m.type === 'H') result.copyOut = { format: m.body[0]!, columns: m.body.readInt16BE(1) };
    else if (m.type === 'd') result.copyData.push(m.body);
    else if (m.type === 'E') result.error = errorText(m);
  }
  return result;
}

function readRowDescription(body: Buffer): ResultColumn[] {
  const count = body.readInt16BE(0);
  const columns: ResultColumn[] = [];
  let at = 2;
  for (let i = 0; i < count; i++) {
    const end = body.indexOf(0, at);
    const name = body.toString('utf8', at, end);
    at = end + 1;
    const typeOid = body.readUInt32BE(at + 6);
    const format = body.readInt16BE(at + 16);
    columns.push({ name, typeOid, format });
    at += 18;
  }
  return columns;
}

function errorText(m: WireMessage): string {
  const fields: string[] = [];
  let at = 0;
  while (at < m.body.length && m.body[at] !== 0) {
    const code = String.fromCharCode(m.body[at]!);
    const value = readQuery(m.body.subarray(at + 1));
    if (code === 'M' || code === 'C') fields.push(value);
    at = m.body.indexOf(0, at + 1) + 1;
  }
  return fields.join(': ');
}
