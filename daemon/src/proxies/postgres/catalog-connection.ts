import type net from 'node:net';
import { serialize } from 'pg-protocol';
import { DEFAULT_LIMITS } from '@airlock/shared';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { BackendDecoder } from './backend.js';
import { MessageFramer } from './protocol.js';
import { connectUpstream, UpstreamError, type UpstreamConnection, type UpstreamSettings } from './upstream.js';

/**
 * The daemon's own connection to a target's server, for catalog look-ups (catalog.ts). It logs in
 * with the target's real credential (connectUpstream), never the agent's session, and:
 * - speaks the extended protocol with text parameters, so no value is ever spliced into SQL;
 * - pins search_path to pg_catalog, in the startup packet (which overrides role and database
 *   defaults) and again after login, so a function or operator an agent creates in another schema
 *   cannot stand in for a catalog one inside these queries; pg_get_viewdef and
 *   pg_get_functiondef then schema-qualify every name outside pg_catalog;
 * - runs read-only (default_transaction_read_only) under a statement_timeout, and times each
 *   query out on its side too: a hung connection is dropped and the next query reconnects;
 * - prepares each query text once per connection: the catalog queries are long, and parsing and
 *   planning them took most of their time (4 of 6 ms for the relation query); after five runs
 *   the server also keeps a generic plan.
 * One connection per (target, database), opened on first use; queries wait their turn on it.
 */

export interface CatalogConnectionOptions {
  /** a query (and a connection attempt) that takes longer fails; the connection is then dropped */
  queryTimeoutMs: number;
  /** the largest backend message accepted */
  maxMessageBytes: number;
}

/** Query texts kept as named prepared statements per connection; others are parsed each time. */
const MAX_PREPARED = 32;

/** The listener passes the target's limits.upstreamMessageBytes; these are for tools and tests. */
export const DEFAULT_CATALOG_CONNECTION_OPTIONS: CatalogConnectionOptions = { queryTimeoutMs: 5000, maxMessageBytes: DEFAULT_LIMITS.upstreamMessageBytes };

/** A result column as Describe reports it: where it comes from (0 when computed) and its type. */
export interface DescribedColumn {
  name: string;
  tableOid: number;
  attnum: number;
  typeOid: number;
}

/** A catalog query that failed: the server's error, a timeout, or the connection. */
export class CatalogError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CatalogError';
  }
}

type Row = (string | null)[];

interface Exchange {
  rows: Row[];
  columns: DescribedColumn[] | undefined;
  error: string | undefined;
  resolve(): void;
  reject(error: Error): void;
}

export class CatalogConnection {
  private connection: Promise<UpstreamConnection> | undefined;
  private socket: net.Socket | undefined;
  private framer: MessageFramer | undefined;
  private readonly decoder = new BackendDecoder();
  private exchange: Exchange | undefined;
  /** the tail of the queue: each query starts when the one before it has settled */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** bumped whenever the connection is dropped, so a login still under way for it is abandoned */
  private attempt = 0;
  /** how many times a connection was opened (for tests and diagnostics) */
  connects = 0;
  /** statement names of the query texts prepared on the current connection */
  private prepared = new Map<string, string>();
  /** statement names handed out on the current connection; a name is never reused, as a failed query may have left its statement behind */
  private named = 0;

  constructor(
    readonly settings: UpstreamSettings,
    readonly database: string,
    readonly options: CatalogConnectionOptions = DEFAULT_CATALOG_CONNECTION_OPTIONS,
  ) {
    if (!Number.isInteger(options.queryTimeoutMs) || options.queryTimeoutMs < 1) throw new RangeError(`queryTimeoutMs: expected a positive whole number of milliseconds, got ${options.queryTimeoutMs}`);
  }

  /** Runs one statement with text parameters; the rows in text form. */
  query(sql: string, params: readonly (string | null)[] = []): Promise<Row[]> {
    return this.enqueue(async () => {
      const socket = await this.connectedWithin(this.settings.clock.now());
      let statement = this.prepared.get(sql);
      const messages: Buffer[] = [];
      if (statement === undefined) {
        const name = this.named < MAX_PREPARED ? `airlock_catalog_${++this.named}` : '';
        messages.push(serialize.parse({ name, text: sql }));
        statement = name;
      }
      messages.push(serialize.bind({ statement, values: [...params] }), serialize.execute({}), serialize.sync());
      const result = await this.run(socket, messages);
      if (statement !== '') this.prepared.set(sql, statement);
      return result.rows;
    });
  }

  /** Parses a statement and describes its result columns without running it. */
  describe(sql: string): Promise<DescribedColumn[]> {
    return this.enqueue(async () => {
      const socket = await this.connectedWithin(this.settings.clock.now());
      const result = await this.run(socket, [serialize.parse({ text: sql }), serialize.describe({ type: 'S' }), serialize.sync()]);
      return result.columns ?? [];
    });
  }

  /** Ends the connection; queued and later queries fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.drop(new CatalogError(`target "${this.settings.target}": the catalog connection was closed`));
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private connectedWithin(started: number): Promise<net.Socket> {
    if (this.closed) return Promise.reject(new CatalogError(`target "${this.settings.target}": the catalog connection was closed`));
    return this.withTimeout(this.connected(), started, 'connecting');
  }

  private run(socket: net.Socket, messages: Buffer[]): Promise<{ rows: Row[]; columns: DescribedColumn[] | undefined }> {
    const started = this.settings.clock.now();
    return this.withTimeout(
      new Promise((resolve, reject) => {
        const exchange: Exchange = {
          rows: [],
          columns: undefined,
          error: undefined,
          resolve: () => {
            if (exchange.error !== undefined) reject(new CatalogError(`target "${this.settings.target}": catalog query failed: ${exchange.error}`));
            else resolve({ rows: exchange.rows, columns: exchange.columns });
          },
          reject,
        };
        this.exchange = exchange;
        socket.write(Buffer.concat(messages));
      }),
      started,
      'a catalog query',
    );
  }

  /** The query's promise, or a CatalogError once the time is up; a timed-out connection is dropped. */
  private withTimeout<T>(work: Promise<T>, started: number, what: string): Promise<T> {
    const left = this.options.queryTimeoutMs - (this.settings.clock.now() - started);
    return new Promise<T>((resolve, reject) => {
      const timer = this.settings.clock.setTimeout(() => {
        const error = new CatalogError(`target "${this.settings.target}": ${what} took longer than ${this.options.queryTimeoutMs} ms`);
        // the server may still answer; nothing can tell that late answer from the next query's
        this.drop(error);
        reject(error);
      }, Math.max(left, 0));
      work.then(
        (value) => {
          timer.cancel();
          resolve(value);
        },
        (error: unknown) => {
          timer.cancel();
          reject(error instanceof Error ? error : new CatalogError(String(error)));
        },
      );
    });
  }

  private connected(): Promise<net.Socket> {
    if (this.socket !== undefined && !this.socket.destroyed) return Promise.resolve(this.socket);
    this.connection ??= this.open();
    return this.connection.then((c) => c.socket);
  }

  private async open(): Promise<UpstreamConnection> {
    this.connects++;
    const attempt = this.attempt;
    const startup = {
      database: this.database,
      application_name: 'airlock-catalog',
      client_encoding: 'UTF8',
      search_path: 'pg_catalog',
      default_transaction_read_only: 'on',
      statement_timeout: String(this.options.queryTimeoutMs),
    };
    let up: UpstreamConnection;
    try {
      up = await connectUpstream(this.settings, startup, this.options.maxMessageBytes);
    } catch (error) {
      if (attempt === this.attempt) this.connection = undefined;
      throw new CatalogError(error instanceof Error ? error.message : String(error));
    }
    if (this.closed || attempt !== this.attempt) {
      up.socket.destroy();
      throw new CatalogError(`target "${this.settings.target}": the catalog connection was dropped while it logged in`);
    }
    this.socket = up.socket;
    this.prepared = new Map();
    this.named = 0;
    this.framer = new MessageFramer(this.options.maxMessageBytes, false);
    up.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    up.socket.on('error', (err: Error) => this.lost(up.socket, `the catalog connection failed: ${err.message}`));
    up.socket.on('close', () => this.lost(up.socket, 'the server closed the catalog connection'));
    // again after login, schema-qualified: the startup values are the first line, this the second
    const pinned = await new Promise<{ rows: Row[] }>((resolve, reject) => {
      const exchange: Exchange = {
        rows: [],
        columns: undefined,
        error: undefined,
        resolve: () => (exchange.error !== undefined ? reject(new CatalogError(`target "${this.settings.target}": ${exchange.error}`)) : resolve({ rows: exchange.rows })),
        reject,
      };
      this.exchange = exchange;
      up.socket.write(
        Buffer.concat([
          serialize.parse({
            text: "SELECT pg_catalog.set_config('search_path', 'pg_catalog', false), pg_catalog.set_config('default_transaction_read_only', 'on', false), pg_catalog.set_config('statement_timeout', $1, false)",
          }),
          serialize.bind({ values: [String(this.options.queryTimeoutMs)] }),
          serialize.execute({}),
          serialize.sync(),
        ]),
      );
    }).catch((error: unknown) => {
      this.drop(error instanceof Error ? error : new CatalogError(String(error)));
      throw error;
    });
    if (pinned.rows[0]?.[0] !== 'pg_catalog' || pinned.rows[0]?.[1] !== 'on') {
      const error = new CatalogError(`target "${this.settings.target}": the catalog connection could not pin search_path and read-only mode`);
      this.drop(error);
      throw error;
    }
    return up;
  }

  private lost(socket: net.Socket, reason: string): void {
    if (this.socket !== socket) return;
    this.drop(new CatalogError(`target "${this.settings.target}": ${reason}`));
  }

  /** Forgets the connection (the next query opens a new one) and fails the exchange in flight. */
  private drop(error: Error): void {
    this.attempt++;
    const socket = this.socket;
    this.socket = undefined;
    this.framer = undefined;
    this.connection = undefined;
    const exchange = this.exchange;
    this.exchange = undefined;
    if (socket !== undefined && !socket.destroyed) {
      socket.end(serialize.end());
      socket.destroy();
    }
    exchange?.reject(error);
  }

  private onData(chunk: Buffer): void {
    const framer = this.framer;
    if (framer === undefined) return;
    try {
      framer.push(chunk);
      for (let msg = framer.next(); msg !== null; msg = framer.next()) this.onMessage(this.decoder.decode(msg.raw));
    } catch (error) {
      this.drop(new CatalogError(`target "${this.settings.target}": bad message on the catalog connection: ${error instanceof Error ? error.message : String(error)}`));
    }
  }

  private onMessage(msg: BackendMessage): void {
    const exchange = this.exchange;
    switch (msg.name) {
      case 'dataRow':
        exchange?.rows.push((msg as unknown as { fields: Row }).fields);
        return;
      case 'rowDescription': {
        const fields = (msg as unknown as { fields: { name: string; tableID: number; columnID: number; dataTypeID: number }[] }).fields;
        if (exchange !== undefined) exchange.columns = fields.map((f) => ({ name: f.name, tableOid: f.tableID, attnum: f.columnID, typeOid: f.dataTypeID }));
        return;
      }
      case 'noData':
        if (exchange !== undefined) exchange.columns = [];
        return;
      case 'error':
        if (exchange !== undefined) exchange.error ??= (msg as unknown as { message: string }).message;
        return;
      case 'readyForQuery':
        this.exchange = undefined;
        exchange?.resolve();
        return;
      default:
        // ParseComplete, BindComplete, CommandComplete, ParameterDescription, notices, parameter status
        return;
    }
  }
}

/** The catalog connections of one target, one per database, closed with the target's listener. */
export class CatalogConnections {
  private readonly byDatabase = new Map<string, CatalogConnection>();
  private closed = false;

  constructor(
    readonly settings: UpstreamSettings,
    readonly options: CatalogConnectionOptions = DEFAULT_CATALOG_CONNECTION_OPTIONS,
  ) {}

  /**
   * The connection for the database an agent connected to. A target whose URL names a database
   * always uses that one, as connectUpstream does for the agent.
   */
  get(database: string): CatalogConnection {
    if (this.closed) throw new UpstreamError(`target "${this.settings.target}": its listener is closed`);
    const actual = this.settings.database || database || this.settings.user;
    let connection = this.byDatabase.get(actual);
    if (connection === undefined) {
      connection = new CatalogConnection(this.settings, actual, this.options);
      this.byDatabase.set(actual, connection);
    }
    return connection;
  }

  close(): void {
    this.closed = true;
    for (const c of this.byDatabase.values()) c.close();
    this.byDatabase.clear();
  }
}
