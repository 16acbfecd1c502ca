import type net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { serialize } from 'pg-protocol';
import type { Action, AgentSession, PgResultDetail, Target, Verdict } from '@airlock/shared';
import type { ActionRequest } from '../../pipeline/pipeline.js';
import type { ProxyContext } from '../listeners.js';
import { MaskReportBuilder, type Masker } from '../../masking/index.js';
import type { SqlClassification } from '../../classify/sql/index.js';
import { BackendDecoder } from './backend.js';
import {
  MessageFramer,
  ProtocolError,
  authenticationCleartext,
  authenticationOk,
  authenticationSasl,
  authenticationSaslContinue,
  authenticationSaslFinal,
  backendKeyData,
  errorResponse,
  message,
  negotiateProtocolVersion,
  parameterStatus,
  parseStartupPacket,
  readBind,
  readDataRow,
  readExecute,
  readParse,
  readQuery,
  readTarget,
  readyForQuery,
  BodyReader,
  PROTOCOL_3_0,
  type WireMessage,
} from './protocol.js';
import { ScramServerExchange, SCRAM_MECHANISM } from './scram.js';
import { connectUpstream, type UpstreamSettings } from './upstream.js';
import { RowMasker, ResultSample, maskCopyRow, type CellMark, type ResultColumn } from './results.js';
import type { SqlClassifier } from './classification.js';
import type { CancelRegistry } from './cancel.js';

/** Startup parameters passed on to the server; `options` could set role or other GUCs, so it is not. */
const FORWARDED_PARAMS = new Set(['application_name', 'client_encoding', 'DateStyle', 'TimeZone', 'IntervalStyle', 'extra_float_digits', 'search_path', 'datestyle', 'timezone']);

/** The server's messages are trusted to be sane; the bound only stops a runaway buffer. */
const UPSTREAM_MAX_MESSAGE_BYTES = 1024 * 1024 * 1024;

/** A refused statement is replaced upstream by one that fails without doing anything, so both sides agree on the transaction. */
const REFUSAL_QUERY = serialize.query('AIRLOCK REFUSED');
/** Sent upstream when the agent asks for a prepared statement that Airlock refused: its error takes the refused one's place. */
const BLOCKED_PORTAL_PREFIX = 'airlock_refused_';

export interface ConnectionDeps {
  target: Target;
  context: ProxyContext;
  upstream: UpstreamSettings;
  classifier: SqlClassifier;
  cancels: CancelRegistry;
  tlsContext?: tls.SecureContext;
}

interface PreparedStatement {
  sql: string;
  classification: SqlClassification;
  /** from Describe (statement): names and types; formats come from Bind */
  columns?: ResultColumn[];
}

interface Portal {
  statementName: string;
  statement?: PreparedStatement;
  params: (Buffer | null)[];
  paramFormats: number[];
  resultFormats: number[];
  columns?: ResultColumn[];
  /** decided once: later Executes of a suspended portal continue the same statement */
  allowedAction?: Action;
}

/** Result of one action as it streams back. */
interface ResultCapture {
  action: Action;
  startedAt: bigint;
  sample: ResultSample;
  report: MaskReportBuilder;
  tags: string[];
  error?: string;
  rowMasker?: RowMasker;
  copyOut?: boolean;
  /** a binary COPY TO STDOUT while masking is on: its data is withheld and the agent gets an error */
  binaryCopyWithheld?: boolean;
  /** set when the statement completes */
  durationMs?: number;
}

const BINARY_COPY_REFUSED = 'Airlock withheld this binary COPY: binary values cannot be masked';

/** What the upstream owes the client for each forwarded message, in order. */
type Expectation =
  | { kind: 'query'; capture?: ResultCapture; refusal?: Verdict }
  | { kind: 'parse' | 'bind' | 'close' }
  | { kind: 'describe'; target: 'S' | 'P'; name: string }
  | { kind: 'execute'; portal?: Portal; capture?: ResultCapture; refusal?: Verdict }
  | { kind: 'sync' };

type State = 'startup' | 'auth-cleartext' | 'auth-sasl-initial' | 'auth-sasl-final' | 'connecting' | 'ready' | 'closed';

/**
 * One agent connection: authenticates the agent's session token, logs in upstream with the real
 * credential, and then relays messages, holding each statement for the pipeline's verdict,
 * masking rows on the way back and recording results.
 */
export class ClientConnection {
  private socket: net.Socket;
  private upstreamSocket?: net.Socket;
  private state: State = 'startup';
  private readonly framer: MessageFramer;
  private readonly upFramer: MessageFramer;
  private readonly decoder = new BackendDecoder();
  private session?: AgentSession;
  private params = new Map<string, string>();
  private scram?: ScramServerExchange;
  private readonly queue: WireMessage[] = [];
  private queuedBytes = 0;
  private pumping = false;
  private readonly expectations: Expectation[] = [];
  private readonly statements = new Map<string, PreparedStatement>();
  private readonly portals = new Map<string, Portal>();
  /** SQL-level PREPARE name AS ...: what EXECUTE name will run */
  private readonly sqlPrepared = new Map<string, SqlClassification>();
  private skipUntilSync = false;
  /** aborted when the agent cancels or goes away while a statement waits for its verdict; reused until then */
  private deciding = new AbortController();
  private holding = false;
  /** RowMaskers by the RowDescription's bytes: the same query shape comes back again and again */
  private readonly rowMaskers = new Map<string, RowMasker>();
  /** statements completed in the upstream chunk being handled, recorded once its reply is written */
  private finished: ResultCapture[] = [];
  private lastRowMasker?: { rowDescription: Buffer; masker: Masker; rowMasker: RowMasker };
  private masker?: Masker;
  private cancelKey?: { processId: number; secretKey: number };
  private upstreamKey?: { processId: number; secretKey: number };
  /** the query whose rows are streaming (simple protocol) */
  private activeColumns?: ResultColumn[];

  constructor(
    socket: net.Socket,
    private readonly deps: ConnectionDeps,
  ) {
    this.socket = socket;
    this.framer = new MessageFramer(deps.target.maxMessageBytes, true);
    this.upFramer = new MessageFramer(UPSTREAM_MAX_MESSAGE_BYTES, false);
    this.attachClient(socket);
  }

  /** State changes inside callbacks and awaits, which type narrowing does not see. */
  private get closed(): boolean {
    return this.state === 'closed';
  }

  /** Cancels what this connection is doing: a held statement is cancelled, a running one cancelled upstream. */
  cancel(): Promise<void> {
    if (this.holding) {
      this.deciding.abort();
      this.deciding = new AbortController();
      return Promise.resolve();
    }
    if (!this.upstreamKey) return Promise.resolve();
    return this.deps.cancels.cancelUpstream(this.deps.upstream, this.upstreamKey);
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.deciding.abort();
    if (this.cancelKey) this.deps.cancels.unregister(this.cancelKey);
    this.socket.destroy();
    if (this.upstreamSocket && !this.upstreamSocket.destroyed) this.upstreamSocket.end(serialize.end());
    this.upstreamSocket?.destroy();
  }

  // ---- client side ----

  private attachClient(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onClientData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    socket.on('drain', () => this.upstreamSocket?.resume());
  }

  private onClientData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    try {
      this.framer.push(chunk);
      while (!this.closed) {
        if (this.state === 'startup') {
          const packet = this.framer.nextStartup();
          if (!packet) break;
          this.onStartup(packet);
          continue;
        }
        const msg = this.framer.next();
        if (!msg) break;
        if (this.state === 'ready' || this.state === 'connecting') {
          this.queue.push(msg);
          this.queuedBytes += msg.raw.length;
        } else this.onAuthMessage(msg);
      }
      // a client that pipelines while a statement is held is paused, not buffered without bound
      if (this.queuedBytes > 16 * 1024 * 1024) this.socket.pause();
      if (this.state === 'ready') this.pump();
    } catch (err) {
      this.fatal(err);
    }
  }

  private onStartup(packet: Buffer): void {
    const startup = parseStartupPacket(packet);
    switch (startup.kind) {
      case 'ssl':
        if (this.deps.tlsContext && !(this.socket instanceof tls.TLSSocket)) {
          this.socket.write('S');
          this.upgradeToTls();
        } else this.socket.write('N');
        return;
      case 'gssenc':
        this.socket.write('N');
        return;
      case 'cancel':
        void this.deps.cancels.cancel(startup.processId, startup.secretKey);
        this.state = 'closed';
        this.socket.end();
        return;
      case 'startup': {
        const major = startup.protocol >> 16;
        if (major !== 3) throw new ProtocolError(`unsupported frontend protocol ${major}.${startup.protocol & 0xffff}: Airlock speaks 3.0`, '0A000');
        if (startup.params.has('replication')) throw new ProtocolError('replication connections are not allowed through Airlock', '28000');
        const unrecognized = [...startup.params.keys()].filter((k) => k.startsWith('_pq_.'));
        if (startup.protocol !== PROTOCOL_3_0 || unrecognized.length > 0) this.socket.write(negotiateProtocolVersion(0, unrecognized));
        this.params = startup.params;
        this.framer.expectStartup = false;
        // cleartext only where the channel is encrypted; otherwise SCRAM, so the token never crosses in the clear
        if (this.socket instanceof tls.TLSSocket) {
          this.state = 'auth-cleartext';
          this.socket.write(authenticationCleartext());
        } else {
          this.state = 'auth-sasl-initial';
          this.socket.write(authenticationSasl([SCRAM_MECHANISM]));
        }
        return;
      }
    }
  }

  private upgradeToTls(): void {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    plain.removeAllListeners('drain');
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: this.deps.tlsContext });
    this.socket = secure;
    this.attachClient(secure);
  }

  private onAuthMessage(msg: WireMessage): void {
    if (msg.type !== 'p') throw new ProtocolError(`expected a password message during authentication, got "${msg.type}"`);
    const user = this.params.get('user') ?? '';
    if (this.state === 'auth-cleartext') {
      const token = new BodyReader(msg.body).cstring();
      const auth = this.deps.context.sessions.authenticate(token, this.deps.target.name);
      if (!auth.ok) throw new ProtocolError(`password authentication failed for user "${user}": ${auth.message}`, '28P01');
      this.session = auth.session;
      void this.connect();
      return;
    }
    if (this.state === 'auth-sasl-initial') {
      const r = new BodyReader(msg.body);
      const mechanism = r.cstring();
      const length = r.int32();
      const data = length < 0 ? '' : r.bytes(length).toString('utf8');
      const candidates = this.deps.context.sessions.scramCandidates();
      this.scram = new ScramServerExchange(candidates.salt, candidates.iterations);
      this.socket.write(authenticationSaslContinue(this.scram.start(mechanism, data)));
      this.state = 'auth-sasl-final';
      return;
    }
    if (this.state === 'auth-sasl-final') {
      const candidates = this.deps.context.sessions.scramCandidates();
      const match = this.scram!.finish(msg.body.toString('utf8'), candidates.sessions);
      if (!match) throw new ProtocolError(`password authentication failed for user "${user}": the password is not a valid Airlock agent session token`, '28P01');
      const { session } = candidates.sessions[match.index]!;
      const auth = this.deps.context.sessions.check(session.id, this.deps.target.name);
      if (!auth.ok) throw new ProtocolError(`password authentication failed for user "${user}": ${auth.message}`, '28P01');
      this.session = auth.session;
      this.socket.write(authenticationSaslFinal(match.serverFinal));
      void this.connect();
      return;
    }
    throw new ProtocolError('unexpected password message');
  }

  private async connect(): Promise<void> {
    this.state = 'connecting';
    const startup: Record<string, string> = {};
    for (const [k, v] of this.params) if (FORWARDED_PARAMS.has(k)) startup[k] = v;
    // the classifier reads UTF-8; another client encoding could make the server see different statements
    if (startup.client_encoding && !/^utf-?8$/i.test(startup.client_encoding)) delete startup.client_encoding;
    if (this.params.get('database')) startup.database = this.params.get('database')!;
    try {
      const up = await connectUpstream(this.deps.upstream, startup, UPSTREAM_MAX_MESSAGE_BYTES);
      if (this.closed) {
        up.socket.destroy();
        return;
      }
      this.upstreamSocket = up.socket;
      this.upstreamKey = up.backendKey;
      this.masker = this.deps.context.masking(this.deps.target.name);
      up.socket.on('data', (chunk: Buffer) => this.onUpstreamData(chunk));
      up.socket.on('drain', () => this.socket.resume());
      up.socket.on('error', (err) => this.upstreamLost(err.message));
      up.socket.on('close', () => this.upstreamLost('the server closed the connection'));
      this.cancelKey = this.deps.cancels.register(this);
      const hello = [authenticationOk(), ...up.parameters.map(([k, v]) => parameterStatus(k, v)), backendKeyData(this.cancelKey.processId, this.cancelKey.secretKey), readyForQuery(up.transactionStatus)];
      this.socket.write(Buffer.concat(hello));
      this.state = 'ready';
      this.pump();
    } catch (err) {
      this.fatal(err instanceof ProtocolError ? err : new ProtocolError((err as Error).message, '08001'));
    }
  }

  private upstreamLost(reason: string): void {
    if (this.state === 'closed') return;
    this.fatal(new ProtocolError(`target "${this.deps.target.name}": lost the upstream connection: ${reason}`, '08006'));
  }

  /** Reports an error as a FATAL ErrorResponse and closes the connection. */
  private fatal(err: unknown): void {
    if (this.state === 'closed') return;
    const e = err instanceof ProtocolError ? err : new ProtocolError(`internal error in Airlock: ${(err as Error).message}`, 'XX000');
    if (!(err instanceof ProtocolError)) console.error(`airlockd: postgres target "${this.deps.target.name}": ${(err as Error).stack ?? String(err)}`);
    if (this.socket.writable) this.socket.end(errorResponse({ severity: 'FATAL', code: e.code, message: e.message }));
    this.state = 'closed';
    this.deciding.abort();
    if (this.cancelKey) this.deps.cancels.unregister(this.cancelKey);
    this.upstreamSocket?.destroy();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /**
   * Client messages are handled one at a time, in order; a held statement holds everything after it.
   * Messages settled at once are handled in one synchronous pass, and what they send upstream goes
   * out as one write (corked): a driver's Parse/Bind/Describe/Execute/Sync is one packet, not five.
   */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    let waiting = false;
    const upstream = this.upstreamSocket;
    upstream?.cork();
    try {
      while (this.state === 'ready' && this.queue.length > 0) {
        const msg = this.queue.shift()!;
        this.queuedBytes -= msg.raw.length;
        const pending = this.onClientMessage(msg);
        if (pending) {
          waiting = true;
          pending.then(
            () => {
              this.pumping = false;
              this.pump();
            },
            (err: unknown) => {
              this.pumping = false;
              this.fatal(err);
            },
          );
          return;
        }
      }
      if (this.queuedBytes <= 16 * 1024 * 1024 && this.state === 'ready') this.socket.resume();
    } catch (err) {
      this.fatal(err);
    } finally {
      if (!waiting) this.pumping = false;
      // what was sent before a statement waits for its verdict goes out now, not after the verdict
      upstream?.uncork();
    }
  }

  private send(raw: Buffer): undefined {
    if (!this.upstreamSocket!.write(raw)) this.socket.pause();
    return undefined;
  }

  /** undefined when the message was handled at once; a promise when it waits for a verdict */
  private onClientMessage(msg: WireMessage): Promise<void> | undefined {
    if (this.skipUntilSync && msg.type !== 'S') return;
    switch (msg.type) {
      case 'Q':
        return this.onQuery(msg);
      case 'P': {
        const parse = readParse(msg.body);
        this.statements.set(parse.name, { sql: parse.sql, classification: this.classify(parse.sql) });
        this.expectations.push({ kind: 'parse' });
        return this.send(msg.raw);
      }
      case 'B': {
        const bind = readBind(msg.body);
        this.portals.set(bind.portal, {
          statementName: bind.statement,
          statement: this.statements.get(bind.statement),
          params: bind.params,
          paramFormats: bind.paramFormats,
          resultFormats: bind.resultFormats,
        });
        this.expectations.push({ kind: 'bind' });
        return this.send(msg.raw);
      }
      case 'D': {
        const target = readTarget(msg.body);
        this.expectations.push({ kind: 'describe', target: target.kind, name: target.name });
        return this.send(msg.raw);
      }
      case 'E':
        return this.onExecute(msg);
      case 'C': {
        const target = readTarget(msg.body);
        if (target.kind === 'S') this.statements.delete(target.name);
        else this.portals.delete(target.name);
        this.expectations.push({ kind: 'close' });
        return this.send(msg.raw);
      }
      case 'S':
        this.skipUntilSync = false;
        this.expectations.push({ kind: 'sync' });
        return this.send(msg.raw);
      case 'H':
      case 'd':
      case 'c':
      case 'f':
        return this.send(msg.raw);
      case 'F': {
        // FunctionCall runs a function by OID, outside anything the classifier can read: privileged,
        // so refused unless a rule allows sql.function-call explicitly
        const request: ActionRequest = {
          target: this.deps.target.name,
          protocol: 'postgres',
          kind: 'sql.function-call',
          summary: 'FunctionCall protocol message (function by OID)',
          risk: 'critical',
          attributes: { class: 'privileged', statementCount: 1 },
          detail: { protocol: 'function-call', user: this.params.get('user'), database: this.params.get('database') },
        };
        return this.settle(request, this.forwardOrRefuse(msg.raw));
      }
      case 'X':
        this.upstreamSocket?.end(msg.raw);
        this.close();
        return undefined;
      default:
        throw new ProtocolError(`unknown or unexpected frontend message type "${msg.type}"`);
    }
  }

  private classify(sql: string): SqlClassification {
    return this.deps.classifier.classify(sql, this.sqlPrepared);
  }

  private onQuery(msg: WireMessage): Promise<void> | undefined {
    const sql = readQuery(msg.body);
    const classification = this.classify(sql);
    for (const s of classification.statements) {
      if (s.prepares) this.sqlPrepared.set(s.prepares.name.toLowerCase(), this.deps.classifier.wrap(s.prepares.statement));
      if (s.deallocates === '*') this.sqlPrepared.clear();
      else if (s.deallocates) this.sqlPrepared.delete(s.deallocates.toLowerCase());
    }
    return this.settle(this.sqlRequest(sql, classification, { protocol: 'simple' }), this.forwardOrRefuse(msg.raw));
  }

  /**
   * What happens to a decided simple-protocol message (Query, FunctionCall): it goes upstream, or a
   * query that fails without effect goes in its place and its error is rewritten into the refusal.
   */
  private forwardOrRefuse(raw: Buffer): (action: Action, verdict: Verdict) => void {
    return (action, verdict) => {
      if (verdict.allowed) {
        this.expectations.push({ kind: 'query', capture: this.capture(action) });
        this.send(raw);
      } else {
        this.expectations.push({ kind: 'query', refusal: verdict });
        this.send(REFUSAL_QUERY);
      }
    };
  }

  private onExecute(msg: WireMessage): Promise<void> | undefined {
    const execute = readExecute(msg.body);
    const portal = this.portals.get(execute.portal);
    if (portal?.allowedAction) {
      this.expectations.push({ kind: 'execute', portal, capture: this.capture(portal.allowedAction, portal) });
      this.send(msg.raw);
      return undefined;
    }
    const statement = portal?.statement;
    const sql = statement?.sql ?? '';
    const classification = statement?.classification ?? this.deps.classifier.unknown('Execute of a portal Airlock did not see bound');
    const params = portal ? this.describeParams(portal) : [];
    const request = this.sqlRequest(sql, classification, {
      protocol: 'extended',
      statement: portal?.statementName || undefined,
      portal: execute.portal || undefined,
      params,
      maxRows: execute.maxRows || undefined,
    });
    return this.settle(request, (action, verdict) => {
      if (verdict.allowed && portal) {
        portal.allowedAction = action;
        this.expectations.push({ kind: 'execute', portal, capture: this.capture(action, portal) });
        this.send(msg.raw);
      } else {
        // the server's error for a portal that does not exist takes the refused Execute's place, and the server skips to Sync as the client will
        this.expectations.push({ kind: 'execute', refusal: verdict });
        this.send(serialize.execute({ portal: BLOCKED_PORTAL_PREFIX + randomBytes(6).toString('hex') }));
        this.skipUntilSync = true;
      }
    });
  }

  /** Bound parameters for the recording, masked; binary ones are shown by size only. */
  private describeParams(portal: Portal): (string | null)[] {
    const report = new MaskReportBuilder();
    return portal.params.map((p, i) => {
      if (p === null) return null;
      const format = portal.paramFormats.length === 1 ? portal.paramFormats[0] : (portal.paramFormats[i] ?? 0);
      if (format === 1) return `<binary, ${p.length} bytes>`;
      const text = p.toString('utf8');
      return this.masker ? this.masker.maskText(text, report) : text;
    });
  }

  private sqlRequest(sql: string, classification: SqlClassification, extra: Record<string, unknown>): ActionRequest {
    const summary = this.deps.classifier.summary(classification);
    return {
      target: this.deps.target.name,
      protocol: 'postgres',
      kind: 'sql.query',
      summary: this.deps.classifier.actionSummary(sql, classification),
      risk: riskOf(classification),
      attributes: summary.attributes,
      detail: {
        // the summary names the statements; the text itself is kept whole here
        sql,
        ...extra,
        user: this.params.get('user'),
        database: this.params.get('database'),
        applicationName: this.params.get('application_name'),
        statements: summary.statements,
        ...(classification.parseError ? { parseError: classification.parseError } : {}),
      },
    };
  }

  /**
   * Runs `then` with the pipeline's verdict: at once when policy settles the action (no promise, no
   * turn of the event loop), otherwise once it is decided, with everything after it held meanwhile.
   */
  private settle(request: ActionRequest, then: (action: Action, verdict: Verdict) => void): Promise<void> | undefined {
    const settled = this.deps.context.pipeline.submitNow(this.session!, request);
    if (settled) {
      then(settled.action, settled.verdict);
      return undefined;
    }
    return this.submit(request).then(({ action, verdict }) => then(action, verdict));
  }

  private async submit(request: ActionRequest): Promise<{ action: Action; verdict: Verdict }> {
    this.holding = true;
    try {
      return await this.deps.context.pipeline.submit(this.session!, request, { signal: this.deciding.signal });
    } finally {
      this.holding = false;
    }
  }

  private capture(action: Action, portal?: Portal): ResultCapture {
    const limits = this.deps.context.limits;
    // per statement, so a policy change applies to connections already open
    this.masker = this.deps.context.masking(this.deps.target.name);
    return {
      action,
      startedAt: process.hrtime.bigint(),
      sample: new ResultSample(limits.resultRows, limits.resultBytes),
      report: new MaskReportBuilder(),
      tags: [],
      rowMasker: portal && this.masker ? new RowMasker(portalColumns(portal), this.masker) : undefined,
    };
  }

  // ---- upstream side ----

  private onUpstreamData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    try {
      this.upFramer.push(chunk);
      const out: Buffer[] = [];
      for (let msg = this.upFramer.next(); msg; msg = this.upFramer.next()) {
        const forwarded = this.onBackendMessage(msg);
        if (forwarded) out.push(forwarded);
      }
      if (out.length > 0 && !this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out))) this.upstreamSocket?.pause();
    } catch (err) {
      this.fatal(err);
    } finally {
      // results are recorded once the agent has its (masked) bytes: recording is not on the reply's path
      if (this.finished.length > 0) this.recordFinished();
    }
  }

  /** Returns what to send the client for one backend message. */
  private onBackendMessage(msg: WireMessage): Buffer | undefined {
    const head = this.expectations[0];
    switch (msg.type) {
      case 'D': {
        const capture = head && (head.kind === 'query' || head.kind === 'execute') ? head.capture : undefined;
        if (!capture) return msg.raw;
        const masker = capture.rowMasker ?? (this.masker ? (capture.rowMasker = new RowMasker(this.activeColumns, this.masker)) : undefined);
        if (capture.sample.wantsRows) {
          const marks: CellMark[] = [];
          const rebuilt = masker?.maskRow(msg.body, capture.report, marks) ?? null;
          capture.sample.add(readDataRow((rebuilt ?? msg.raw).subarray(5)), masker?.columns, marks);
          return rebuilt ?? msg.raw;
        }
        capture.sample.countOnly();
        const rebuilt = masker?.maskRow(msg.body, capture.report) ?? null;
        return rebuilt ?? msg.raw;
      }
      case 'T': {
        if (head?.kind === 'query' && head.capture) {
          head.capture.rowMasker = this.rowMaskerFor(msg.raw);
          this.activeColumns = head.capture.rowMasker?.columns;
          return msg.raw;
        }
        const columns = this.decodeColumns(msg.raw);
        if (head?.kind === 'describe') {
          this.expectations.shift();
          if (head.target === 'P') {
            const portal = this.portals.get(head.name);
            if (portal) portal.columns = columns;
          } else {
            const statement = this.statements.get(head.name);
            if (statement) statement.columns = columns;
          }
        }
        return msg.raw;
      }
      case 'n':
        if (head?.kind === 'describe') this.expectations.shift();
        return msg.raw;
      case 't':
        return msg.raw;
      case '1':
      case '2':
      case '3':
        if (head && (head.kind === 'parse' || head.kind === 'bind' || head.kind === 'close')) this.expectations.shift();
        return msg.raw;
      case 'C': {
        // the body is the tag as a C string: read directly, not through pg-protocol's parser (once per statement)
        const tag = readQuery(msg.body);
        const withheld = head && (head.kind === 'query' || head.kind === 'execute') && head.capture?.binaryCopyWithheld ? head.capture : undefined;
        if (withheld) {
          withheld.binaryCopyWithheld = false;
          withheld.error = BINARY_COPY_REFUSED;
          if (head?.kind === 'execute') {
            this.expectations.shift();
            this.finish(withheld);
          }
          return errorResponse({ severity: 'ERROR', code: '0A000', message: `${BINARY_COPY_REFUSED} (target "${this.deps.target.name}")`, hint: 'Use COPY ... TO STDOUT with FORMAT text or csv: those rows are masked.' });
        }
        if (head?.kind === 'query') {
          head.capture?.tags.push(tag);
        } else if (head?.kind === 'execute') {
          this.expectations.shift();
          if (head.capture) {
            head.capture.tags.push(tag);
            this.finish(head.capture);
          }
        }
        return msg.raw;
      }
      case 'I':
        if (head?.kind === 'execute') {
          this.expectations.shift();
          if (head.capture) this.finish(head.capture);
        }
        return msg.raw;
      case 's':
        if (head?.kind === 'execute') {
          this.expectations.shift();
          if (head.capture) {
            head.capture.tags.push('(portal suspended)');
            this.finish(head.capture);
          }
        }
        return msg.raw;
      case 'E':
        return this.onBackendError(msg, head);
      case 'Z': {
        if (head?.kind === 'query' || head?.kind === 'sync') {
          this.expectations.shift();
          if (head.kind === 'query' && head.capture) this.finish(head.capture);
        }
        this.activeColumns = undefined;
        return msg.raw;
      }
      case 'H': {
        // COPY ... TO STDOUT: rows arrive as CopyData; text and csv rows are masked as text
        const capture = head && (head.kind === 'query' || head.kind === 'execute') ? head.capture : undefined;
        if (capture) capture.copyOut = msg.body[0] === 0;
        // binary COPY values carry no types to tell text from numbers: they cannot be masked, so they
        // do not reach the agent at all (fail closed); the upstream runs the COPY to its end
        if (capture && !capture.copyOut && this.masker?.active) {
          capture.binaryCopyWithheld = true;
          return undefined;
        }
        return msg.raw;
      }
      case 'c':
        return head && (head.kind === 'query' || head.kind === 'execute') && head.capture?.binaryCopyWithheld ? undefined : msg.raw;
      case 'd': {
        const capture = head && (head.kind === 'query' || head.kind === 'execute') ? head.capture : undefined;
        if (capture?.binaryCopyWithheld) return undefined;
        if (!capture?.copyOut || !this.masker?.active) return msg.raw;
        const text = msg.body.toString('utf8');
        const masked = maskCopyRow(text, this.masker, capture.report);
        capture.sample.add([Buffer.from(masked)], undefined);
        return masked === text ? msg.raw : message('d', Buffer.from(masked, 'utf8'));
      }
      default:
        return msg.raw;
    }
  }

  private onBackendError(msg: WireMessage, head: Expectation | undefined): Buffer {
    if (!head || head.kind === 'sync') return msg.raw;
    const refusal = head.kind === 'query' || head.kind === 'execute' ? head.refusal : undefined;
    const capture = head.kind === 'query' || head.kind === 'execute' ? head.capture : undefined;
    let out = msg.raw;
    if (refusal) out = refusalError(refusal);
    else if (capture) capture.error = (this.decoder.decode(msg.raw) as unknown as { message: string }).message;
    if (head.kind !== 'query') {
      // the server skips to Sync after an error: what it owed for the skipped messages never comes
      this.expectations.shift();
      while (this.expectations.length > 0 && this.expectations[0]!.kind !== 'sync') this.expectations.shift();
      if (capture) this.finish(capture);
    }
    return out;
  }

  private rowMaskerFor(rowDescription: Buffer): RowMasker | undefined {
    if (!this.masker) return undefined;
    // the same statement again (the common case) returns the same RowDescription: compare bytes before building a key
    const last = this.lastRowMasker;
    if (last && last.masker === this.masker && last.rowDescription.equals(rowDescription)) return last.rowMasker;
    const key = rowDescription.toString('latin1');
    let rowMasker = this.rowMaskers.get(key);
    if (!rowMasker || rowMasker.masker !== this.masker) {
      if (this.rowMaskers.size >= 256) this.rowMaskers.clear();
      rowMasker = new RowMasker(this.decodeColumns(rowDescription), this.masker);
      this.rowMaskers.set(key, rowMasker);
    }
    // a copy: the message's bytes live in a socket chunk that would otherwise be kept alive
    this.lastRowMasker = { rowDescription: Buffer.from(rowDescription), masker: this.masker, rowMasker };
    return rowMasker;
  }

  private decodeColumns(raw: Buffer): ResultColumn[] {
    const decoded = this.decoder.decode(raw) as unknown as { fields: { name: string; dataTypeID: number; format: 'text' | 'binary' }[] };
    return decoded.fields.map((f) => ({ name: f.name, typeOid: f.dataTypeID, format: f.format === 'binary' ? 1 : 0 }));
  }

  /** A statement is done: its duration is taken now, its result recorded after this chunk's reply is written. */
  private finish(capture: ResultCapture): void {
    capture.durationMs = Number(process.hrtime.bigint() - capture.startedAt) / 1e6;
    this.finished.push(capture);
  }

  private recordFinished(): void {
    const finished = this.finished;
    this.finished = [];
    for (const capture of finished) this.recordResult(capture, capture.durationMs ?? 0);
  }

  private recordResult(capture: ResultCapture, durationMs: number): void {
    const report = capture.report.changed ? capture.report.toReport() : undefined;
    const summary = capture.error ? `ERROR: ${capture.error}` : capture.tags.join('; ') || 'done';
    void this.deps.context.pipeline
      .recordResult(this.session!, capture.action, {
        summary,
        durationMs: Math.round(durationMs * 1000) / 1000,
        error: capture.error,
        rowCount: capture.sample.rowCount,
        maskReport: report,
        detail: {
          columns: capture.rowMasker?.columns?.map((c) => c.name),
          rows: capture.sample.rows,
          truncated: capture.sample.truncated,
          masks: capture.sample.masks,
        } satisfies PgResultDetail,
      })
      .catch((err: Error) => console.error(`airlockd: postgres target "${this.deps.target.name}": could not record the result of ${capture.action.id}: ${err.message}`));
  }
}

function portalColumns(portal: Portal): ResultColumn[] | undefined {
  if (portal.columns) return portal.columns;
  const base = portal.statement?.columns;
  if (!base) return undefined;
  return base.map((c, i) => ({ ...c, format: portal.resultFormats.length === 0 ? 0 : portal.resultFormats.length === 1 ? portal.resultFormats[0]! : (portal.resultFormats[i] ?? 0) }));
}

function riskOf(c: SqlClassification): Action['risk'] {
  switch (c.class) {
    case 'read':
      return 'low';
    case 'write':
      return c.noWhere ? 'high' : 'medium';
    case 'ddl':
      return 'high';
    case 'privileged':
    case 'unknown':
      return 'critical';
  }
}

/** Airlock's refusal: SQLSTATE 42501 naming the rule and the reason. */
export function refusalError(verdict: Verdict): Buffer {
  const how =
    verdict.via === 'timeout'
      ? 'no one approved it in time'
      : verdict.via === 'cancelled'
        ? 'the approval was cancelled'
        : verdict.via === 'approval'
          ? 'a reviewer denied it'
          : verdict.via === 'error'
            ? 'Airlock could not process it safely'
            : 'policy forbids it';
  return errorResponse({
    severity: 'ERROR',
    code: '42501',
    message: `blocked by Airlock policy (rule ${verdict.ruleId}): ${verdict.reason}`,
    detail: `Airlock refused this statement because ${how}.`,
    hint: verdict.via === 'policy' ? 'Ask the developer to change the Airlock policy, or to approve a reviewed statement.' : undefined,
  });
}
