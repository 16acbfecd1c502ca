import type net from 'node:net';
import tls from 'node:tls';
import { serialize } from 'pg-protocol';
import { formatBytes, type Action, type AgentSession, type BoundedText, type PgResultDetail, type SqlFunctionCallDetail, type SqlQueryDetail, type Target, type TextCut, type Verdict } from '@airlock/shared';
import type { ActionRequest } from '../../pipeline/pipeline.js';
import { boundBytes, boundText } from '../../pipeline/bounded-text.js';
import type { ProxyContext } from '../listeners.js';
import { MaskReportBuilder, type Masker } from '../../masking/index.js';
import type { SqlClassification } from '../../classify/sql/index.js';
import {
  MessageFramer,
  ProtocolError,
  authenticationOk,
  backendKeyData,
  errorResponse,
  parameterStatus,
  readyForQuery,
  type WireMessage,
} from './protocol.js';
import { PgFrontDoor, type FrontDoorStep } from './front-door.js';
import { connectUpstream, type UpstreamSettings } from './upstream.js';
import { CredentialRefused } from './upstream-auth.js';
import type { SqlClassifier } from './classification.js';
import type { CopyOutStatement } from './copy-format.js';
import type { SqlReferences } from '../../classify/sql/references.js';
import type { CancelRegistry } from './cancel.js';
import { PgSession, type Question, type ResultCapture } from './session.js';
import { ResultPlanner } from './result-plans.js';
import type { TargetCatalog, TargetCatalogs } from './catalog.js';
import type { ConnectionLease, ConnectionRefusal } from '../connection-limits.js';
import { formatDuration } from '../../util/time.js';

/** Startup parameters passed on to the server; `options` could set role or other GUCs, so it is not. */
const FORWARDED_PARAMS = new Set(['application_name', 'client_encoding', 'DateStyle', 'TimeZone', 'IntervalStyle', 'extra_float_digits', 'search_path', 'datestyle', 'timezone']);

export interface ConnectionDeps {
  target: Target;
  context: ProxyContext;
  upstream: UpstreamSettings;
  classifier: SqlClassifier;
  cancels: CancelRegistry;
  /** the target's catalog per database: what functions and views do, where result columns come from (absent when the target turns it off) */
  catalogs?: TargetCatalogs;
  tlsContext?: tls.SecureContext;
}

/** How long a connection closed with a FATAL error is kept for the agent to read it. */
const FATAL_LINGER_MS = 1000;

type State = 'authenticating' | 'connecting' | 'ready' | 'closed';

/** A decision made: what was asked, the action recorded, the verdict and what was decided on. */
interface Decided {
  question: Question;
  action: Action;
  verdict: Verdict;
  classification: SqlClassification;
}

/** What the parse thread made of a Query or Parse above limits.inlineParseBytes (see parse-pool.ts). */
interface ParsedOffThread {
  /** undefined when the message was malformed: the session reports that itself */
  classification?: SqlClassification;
  /** the text the action keeps, with the whole text's length and SHA-256, worked out by the thread */
  text?: BoundedText;
  /** the thread failed or took too long: the statement is refused */
  failed?: string;
  /** the text's COPY TO STDOUT statements, read by the thread */
  copyOut?: CopyOutStatement[];
  /** the columns the text reads, for masking by column rules */
  refs?: SqlReferences;
}

/**
 * The socket shell around one agent connection: authenticates the agent's session token, logs in
 * upstream with the real credential, and relays messages through the session model (session.ts),
 * asking the pipeline for each statement's verdict, holding what follows a held statement, and
 * recording results once their bytes are written.
 */
export class ClientConnection {
  private socket: net.Socket;
  private upstreamSocket?: net.Socket;
  private state: State = 'authenticating';
  private readonly framer: MessageFramer;
  private readonly upFramer: MessageFramer;
  private agentSession?: AgentSession;
  private params = new Map<string, string>();
  private readonly frontDoor: PgFrontDoor;
  private readonly queue: WireMessage[] = [];
  private queuedBytes = 0;
  /** a client message is being decided, or waits for the server's answers to earlier ones */
  private pumpBlocked = false;
  private waitingForServer = false;
  /** a server message waits for its masking plan (catalog lookups): nothing after it is read meanwhile */
  private upstreamBlocked?: WireMessage;
  /** aborted when the agent cancels or goes away while a statement waits for its verdict; reused until then */
  private deciding = new AbortController();
  private holding = false;
  /** the catalog of the database the agent connected to, once it has */
  private catalog?: TargetCatalog;
  private readonly plans = new ResultPlanner(() => this.catalog);
  private readonly session: PgSession;
  private cancelKey?: { processId: number; secretKey: number };
  private upstreamKey?: { processId: number; secretKey: number };
  /** this connection's place among the target's connections (limits.maxConnections...) */
  private lease?: ConnectionLease;
  /** over the target's cap: said to the agent once its startup packet is in, as PostgreSQL does */
  private refusal?: { refusal: ConnectionRefusal; release(): void };
  private authTimer?: { cancel(): void };
  private idleTimer?: { cancel(): void };
  /** when bytes last went either way (for limits.idleTimeout) */
  private lastActivity = 0;
  /** the classification of the message at the head of the queue, parsed off the main thread */
  private seeded?: { msg: WireMessage; classification: SqlClassification };
  /**
   * By the classification the thread returned (which the session keeps with the prepared statement, so
   * an Execute finds it too): the action's text, a refusal, COPY options. Weak: gone with the statement.
   */
  private readonly parsedOffThread = new WeakMap<SqlClassification, ParsedOffThread>();
  /** whether a statement of this connection was parsed off the main thread: only then is its digest looked for */
  private offThreadParsed = false;
  /** whether any parse thread failed on this connection: only then is a refusal looked for */
  private offThreadFailed = false;
  /** COPY statements of actions whose text was parsed off the main thread */
  private readonly copyOut = new WeakMap<Action, CopyOutStatement[]>();

  constructor(
    socket: net.Socket,
    private readonly deps: ConnectionDeps,
  ) {
    this.socket = socket;
    this.frontDoor = new PgFrontDoor(deps.context.sessions, deps.target.name, deps.tlsContext !== undefined);
    this.framer = new MessageFramer(deps.context.limits.maxMessageBytes, true);
    // the server's messages are trusted to be sane; the bound only stops a runaway buffer
    this.upFramer = new MessageFramer(deps.context.limits.upstreamMessageBytes, false);
    const classifier = deps.classifier;
    this.session = new PgSession({
      // a huge statement's classification comes from the parse thread; everything else is parsed (or cached) here
      classify: (sql) => {
        const seeded = this.seeded;
        return seeded !== undefined && seeded.msg === this.queue[0] ? seeded.classification : classifier.classify(sql);
      },
      wrap: (s) => classifier.wrap(s),
      unknown: (reason) => classifier.unknown(reason),
      resolve: (s, besides, runs, how) => classifier.resolve(s, besides, runs, how),
      combine: (statements) => classifier.combine(statements),
      rowMasker: (columns, capture) => this.plans.rowMasker(columns, capture),
      copyPlan: (statement, capture, columnCount) => this.plans.copyPlan(statement, capture, columnCount),
      copyStatements: (capture) => this.copyOut.get(capture.action),
      keptText: () => {
        const seeded = this.seeded;
        return seeded !== undefined && seeded.msg === this.queue[0] ? this.parsedOffThread.get(seeded.classification)?.text?.text : undefined;
      },
      masker: () => this.currentMasker(),
      now: () => process.hrtime.bigint(),
      limits: deps.context.limits,
      targetName: deps.target.name,
    });
    const admission = deps.context.connections.admit();
    if (admission.kind === 'refused' && admission.atOnce) {
      // as PostgreSQL answers when it cannot even start a backend: the error before the agent speaks
      socket.on('error', () => undefined);
      this.fatal(new ProtocolError(admission.refusal.message, '53300'));
      return;
    }
    if (admission.kind === 'admitted') this.lease = admission.lease;
    else this.refusal = admission;
    // slowloris: a connection that does not log in within the limit is closed, refused ones included
    this.authTimer = deps.context.clock.setTimeout(() => this.authTimedOut(), deps.context.limits.authTimeoutMs);
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
    this.releaseAll();
    this.deciding.abort();
    if (this.cancelKey) this.deps.cancels.unregister(this.cancelKey);
    this.socket.destroy();
    if (this.upstreamSocket && !this.upstreamSocket.destroyed) this.upstreamSocket.end(serialize.end());
    this.upstreamSocket?.destroy();
  }

  /** What a connection holds of the target's, given back once however it ends. */
  private releaseAll(): void {
    this.authTimer?.cancel();
    this.idleTimer?.cancel();
    this.lease?.release();
    this.refusal?.release();
  }

  /**
   * limits.authTimeout passed before the agent logged in. Before its startup packet no protocol is
   * agreed (after an SSLRequest the agent waits for one byte, or for a TLS handshake), so the
   * connection is closed without a word, as PostgreSQL does; after it, the agent is told in the
   * server's own words, with the limit.
   */
  private authTimedOut(): void {
    if (this.closed || this.state !== 'authenticating') return;
    if (this.frontDoor.expectsStartup) {
      this.close();
      return;
    }
    const limit = formatDuration(this.deps.context.limits.authTimeoutMs);
    this.fatal(new ProtocolError(`canceling authentication due to timeout: target "${this.deps.target.name}" allows ${limit} to log in (limits.authTimeout)`, '57014'));
  }

  /** limits.idleTimeout: armed once logged in; re-armed from the last traffic; a statement in progress or held is not idle. */
  private armIdleTimer(delayMs: number): void {
    this.idleTimer = this.deps.context.clock.setTimeout(() => this.idleCheck(), delayMs);
  }

  private idleCheck(): void {
    if (this.closed) return;
    const idleMs = this.deps.context.limits.idleTimeoutMs;
    const quietFor = this.deps.context.clock.now() - this.lastActivity;
    if (quietFor < idleMs) return this.armIdleTimer(idleMs - quietFor);
    const busy = this.session.outstanding > 0 || this.pumpBlocked || this.holding || this.waitingForServer || this.queue.length > 0 || this.upstreamBlocked !== undefined;
    if (busy) return this.armIdleTimer(idleMs);
    const limit = `target "${this.deps.target.name}" closes connections idle for ${formatDuration(idleMs)} (limits.idleTimeout)`;
    // PostgreSQL's own two idle timeouts, told apart by the transaction state, so clients recognise them
    if (this.session.transactionStatus === 'I') this.fatal(new ProtocolError(`terminating connection due to idle-session timeout: ${limit}`, '57P05'));
    else this.fatal(new ProtocolError(`terminating connection due to idle-in-transaction timeout: ${limit}`, '25P03'));
  }

  // ---- client side ----

  private attachClient(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onClientData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    socket.on('drain', () => {
      if (!this.upstreamBlocked) this.upstreamSocket?.resume();
    });
  }

  private onClientData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastActivity = this.deps.context.clock.now();
    try {
      this.framer.push(chunk);
      while (!this.closed) {
        if (this.frontDoor.expectsStartup) {
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
        } else this.onFrontDoor(this.frontDoor.onMessage(msg));
      }
      // a client that pipelines while a statement is held is paused, not buffered without bound
      if (this.queuedBytes > this.deps.context.limits.bufferBytes) this.socket.pause();
      if (this.state === 'ready') this.pump();
    } catch (err) {
      this.fatal(err);
    }
  }

  private onStartup(packet: Buffer): void {
    const step = this.frontDoor.onStartup(packet, this.socket instanceof tls.TLSSocket);
    this.framer.expectStartup = this.frontDoor.expectsStartup;
    // over the target's cap: told once the agent has sent its StartupMessage, as PostgreSQL tells
    // "too many clients" (after TLS, if asked for); a CancelRequest still passes, as it does there
    if (this.refusal && !this.frontDoor.expectsStartup && step.kind !== 'cancel') throw new ProtocolError(this.refusal.refusal.message, '53300');
    this.onFrontDoor(step);
  }

  private onFrontDoor(step: FrontDoorStep): void {
    switch (step.kind) {
      case 'reply':
        this.socket.write(step.bytes);
        return;
      case 'tls':
        this.socket.write('S');
        this.upgradeToTls();
        return;
      case 'cancel':
        void this.deps.cancels.cancel(step.processId, step.secretKey);
        this.state = 'closed';
        this.releaseAll();
        this.socket.end();
        return;
      case 'authenticated': {
        this.authTimer?.cancel();
        const refused = this.lease!.identify(step.session);
        if (refused) throw new ProtocolError(refused.message, '53300');
        this.agentSession = step.session;
        this.params = this.frontDoor.params;
        if (step.bytes) this.socket.write(step.bytes);
        void this.connect();
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

  private async connect(): Promise<void> {
    this.state = 'connecting';
    const startup: Record<string, string> = {};
    for (const [k, v] of this.params) if (FORWARDED_PARAMS.has(k)) startup[k] = v;
    // the classifier reads UTF-8; another client encoding could make the server see different statements
    if (startup.client_encoding && !/^utf-?8$/i.test(startup.client_encoding)) delete startup.client_encoding;
    if (this.params.get('database')) startup.database = this.params.get('database')!;
    try {
      const up = await connectUpstream(this.deps.upstream, startup, this.deps.context.limits.upstreamMessageBytes);
      if (this.closed) {
        up.socket.destroy();
        return;
      }
      this.upstreamSocket = up.socket;
      this.upstreamKey = up.backendKey;
      this.catalog = this.deps.catalogs?.get(this.params.get('database') ?? '');
      up.socket.on('data', (chunk: Buffer) => this.onUpstreamData(chunk));
      up.socket.on('drain', () => this.socket.resume());
      up.socket.on('error', (err) => this.upstreamLost(err.message));
      up.socket.on('close', () => this.upstreamLost('the server closed the connection'));
      this.cancelKey = this.deps.cancels.register(this);
      // the server's settings reach the agent masked, as every server text does (application_name can hold anything)
      const masker = this.currentMasker();
      const report = new MaskReportBuilder();
      const settings = up.parameters.map(([k, v]) => parameterStatus(k, masker?.active ? masker.maskText(v, report) : v));
      this.socket.write(Buffer.concat([authenticationOk(), ...settings, backendKeyData(this.cancelKey.processId, this.cancelKey.secretKey), readyForQuery(up.transactionStatus)]));
      this.state = 'ready';
      if (this.deps.context.limits.idleTimeoutMs > 0) {
        this.lastActivity = this.deps.context.clock.now();
        this.armIdleTimer(this.deps.context.limits.idleTimeoutMs);
      }
      this.pump();
    } catch (err) {
      // a refused request for the password is the operator's to see too, not only the agent's
      if (err instanceof CredentialRefused) this.deps.context.logger.warn(err.message);
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
    if (!(err instanceof ProtocolError)) this.deps.context.logger.error(`${this.who()}: ${(err as Error).stack ?? String(err)}`);
    if (this.socket.writable) this.socket.end(errorResponse({ severity: 'FATAL', code: e.code, message: e.message }));
    this.state = 'closed';
    this.releaseAll();
    this.deciding.abort();
    if (this.cancelKey) this.deps.cancels.unregister(this.cancelKey);
    this.upstreamSocket?.destroy();
    // the agent has a moment to read the error; one that does not is not waited for longer
    this.deps.context.clock.setTimeout(() => this.socket.destroy(), FATAL_LINGER_MS);
  }

  /**
   * Client messages are handled one at a time, in order; a held statement holds everything after it,
   * and so does one that names what earlier, unanswered messages create. Messages settled at once are
   * handled in one synchronous pass, and what they send upstream goes out as one write (corked): a
   * driver's Parse/Bind/Describe/Execute/Sync is one packet, not five.
   */
  private pump(): void {
    if (this.pumpBlocked || this.waitingForServer) return;
    const upstream = this.upstreamSocket;
    upstream?.cork();
    try {
      while (this.state === 'ready' && this.queue.length > 0) {
        const msg = this.queue[0]!;
        if (msg.body.length > this.deps.context.limits.inlineParseBytes && (msg.type === 'Q' || msg.type === 'P') && this.seeded?.msg !== msg) {
          this.parseOffThread(msg);
          break;
        }
        const step = this.session.fromClient(msg);
        if (step.kind === 'wait') {
          this.waitingForServer = true;
          break;
        }
        this.queue.shift();
        this.queuedBytes -= msg.raw.length;
        if (this.seeded !== undefined && this.seeded.msg === msg) this.seeded = undefined;
        if (step.kind === 'forward') this.send(step.bytes);
        else if (step.kind === 'terminate') {
          this.upstreamSocket?.end(step.bytes);
          this.close();
        } else if (step.kind === 'decide') {
          const decided = this.decide(step.question);
          if (decided instanceof Promise) {
            this.pumpBlocked = true;
            decided.then(
              (d) => {
                this.pumpBlocked = false;
                if (this.closed) return;
                this.send(this.session.answer(d.question, d.action, d.verdict, d.classification));
                this.pump();
              },
              (err: unknown) => {
                this.pumpBlocked = false;
                this.fatal(err);
              },
            );
            break;
          }
          this.send(this.session.answer(decided.question, decided.action, decided.verdict, decided.classification));
        }
      }
      if (this.queuedBytes <= this.deps.context.limits.bufferBytes && this.state === 'ready') this.socket.resume();
    } catch (err) {
      this.fatal(err);
    } finally {
      // what was sent before a statement waits for its verdict goes out now, not after the verdict
      upstream?.uncork();
    }
  }

  /**
   * Holds the queue while another thread parses a Query or Parse too large to parse here, then offers
   * the message to the session with that classification seeded. A thread that fails or times out
   * leaves the statement unknown and refused (fail closed).
   */
  private parseOffThread(msg: WireMessage): void {
    this.pumpBlocked = true;
    const textBytes = this.deps.context.limits.actionTextBytes;
    const seed = (parsed: ParsedOffThread) => {
      const classification = parsed.classification ?? this.deps.classifier.unknown('the message is malformed');
      this.parsedOffThread.set(classification, parsed);
      this.offThreadParsed = true;
      this.seeded = { msg, classification };
    };
    // the columns a result reads matter only to column rules, which need the catalog
    const references = this.catalog !== undefined && this.currentMasker().hasColumnRules;
    this.deps.classifier
      .classifyOffThread(msg.type as 'Q' | 'P', msg.body, textBytes, references)
      .then(
        (parsed) => seed(parsed.kind === 'classified' ? { classification: parsed.classification, text: parsed.text, ...(parsed.copyOut ? { copyOut: parsed.copyOut } : {}), ...(parsed.refs ? { refs: parsed.refs } : {}) } : {}),
        (err: Error) => {
          const failed = `Airlock could not classify this ${formatBytes(msg.body.length)} statement: ${err.message}`;
          this.deps.context.logger.warn(failed);
          this.offThreadFailed = true;
          seed({ classification: this.deps.classifier.unknown(failed), failed });
        },
      )
      .then(() => {
        this.pumpBlocked = false;
        if (!this.closed) this.pump();
      })
      .catch((err: unknown) => this.fatal(err));
  }

  private send(raw: Buffer): void {
    if (!this.upstreamSocket!.write(raw)) this.socket.pause();
  }

  /**
   * The verdict for a question: at once when policy settles the action (no promise, no turn of the
   * event loop), otherwise once it is decided, with everything after it held meanwhile.
   */
  private decide(question: Question): Decided | Promise<Decided> {
    // what the statement's calls, views and triggers do, as the server's catalog says (cached: most statements pay no round trip)
    const resolved = question.kind === 'sql.query' && this.catalog ? this.catalog.resolve(question.classification) : question.classification;
    if (resolved instanceof Promise) {
      this.holding = true;
      return resolved
        .finally(() => {
          this.holding = false;
        })
        .then((classification) => this.decideOn(question, classification));
    }
    return this.decideOn(question, resolved);
  }

  private decideOn(question: Question, classification: SqlClassification): Decided | Promise<Decided> {
    const request = this.requestOf(question, classification);
    const refuse = question.refuse ?? (this.offThreadFailed ? this.parsedOffThread.get(question.classification)?.failed : undefined);
    const settled = this.deps.context.pipeline.submitNow(this.agentSession!, request, refuse);
    if (settled) return this.decided(question, settled.action, settled.verdict, classification);
    return this.submit(request, refuse).then(({ action, verdict }) => this.decided(question, action, verdict, classification));
  }

  private decided(question: Question, action: Action, verdict: Verdict, classification: SqlClassification): Decided {
    const parsed = this.offThreadParsed ? this.parsedOffThread.get(question.classification) : undefined;
    if (parsed) {
      // what the thread read from the text, so nothing here parses it again: the result's captures are keyed by either classification
      if (parsed.copyOut) this.copyOut.set(action, parsed.copyOut);
      if (parsed.refs) {
        this.plans.seedReferences(question.classification, parsed.refs);
        this.plans.seedReferences(classification, parsed.refs);
      }
    }
    return { question, action, verdict, classification };
  }

  private async submit(request: ActionRequest, refuse?: string): Promise<{ action: Action; verdict: Verdict }> {
    this.holding = true;
    try {
      return await this.deps.context.pipeline.submit(this.agentSession!, request, { signal: this.deciding.signal, ...(refuse !== undefined ? { refuse } : {}) });
    } finally {
      this.holding = false;
    }
  }

  private requestOf(question: Question, classification: SqlClassification): ActionRequest {
    const user = this.params.get('user');
    const database = this.params.get('database');
    if (question.kind === 'sql.function-call') {
      return {
        target: this.deps.target.name,
        protocol: 'postgres',
        kind: 'sql.function-call',
        summary: 'FunctionCall protocol message (function by OID)',
        risk: 'critical',
        attributes: { class: 'privileged', statementCount: 1 },
        detail: { protocol: 'function-call', user, database } satisfies SqlFunctionCallDetail,
      };
    }
    const limit = this.deps.context.limits.actionTextBytes;
    const text = this.textOf(question, limit);
    const summary = this.deps.classifier.summary(classification, limit);
    const { protocol, statement, portal, maxRows } = question.detail;
    const params = protocol === 'extended' ? this.describeParams(question, limit) : undefined;
    // typed by the kind's shared schema, which the extension parses it with
    const detail: SqlQueryDetail = {
      // the summary names the statements; the text is kept here up to limits.actionTextBytes
      sql: text.text,
      // a FunctionCall message is answered above: this is a Query or an Execute
      protocol: protocol === 'extended' ? 'extended' : 'simple',
      ...(params ? { statement, portal, params: params.texts, maxRows } : {}),
      user,
      database,
      applicationName: this.params.get('application_name'),
      statements: summary.statements,
      // a parser's message can quote the text it stopped at, which may be most of the statement
      ...(classification.parseError ? { parseError: boundText(classification.parseError, limit).text } : {}),
    };
    // only a huge statement pays for these properties
    if (text.cut) detail.sqlCut = text.cut;
    if (params && params.cuts.length > 0) detail.paramCuts = params.cuts;
    if (summary.statementsOmitted !== undefined) detail.statementsOmitted = summary.statementsOmitted;
    return {
      target: this.deps.target.name,
      protocol: 'postgres',
      kind: 'sql.query',
      summary: this.deps.classifier.actionSummary(text.text, classification, text.cut === undefined),
      risk: riskOf(classification),
      attributes: summary.attributes,
      detail,
    };
  }

  /**
   * The statement text the action keeps. A short one is itself; a long one is cut, with its SHA-256
   * taken by the parse thread when that parsed it (its Executes find it by the classification the
   * session keeps), else here: a text under limits.inlineParseBytes hashes in well under a millisecond.
   */
  private textOf(question: Question, limit: number): BoundedText {
    const sql = question.sql;
    // a huge prepared statement keeps only its head, which may be short enough to pass for whole
    const parsed = this.offThreadParsed ? this.parsedOffThread.get(question.classification)?.text : undefined;
    if (parsed) return parsed;
    return sql.length * 3 <= limit ? { text: sql } : boundText(sql, limit);
  }

  /**
   * Bound parameters for the recording, masked; binary ones are shown by size only. They share one
   * budget of limits.actionTextBytes, and are cut before masking so a huge one is never scanned whole.
   */
  private describeParams(question: Question, limit: number): { texts: (string | null)[]; cuts: (TextCut & { index: number })[] } {
    const params = question.detail.params ?? [];
    const formats = question.detail.paramFormats ?? [];
    const masker = this.currentMasker();
    const report = new MaskReportBuilder();
    const cuts: (TextCut & { index: number })[] = [];
    let budget = limit;
    const texts = params.map((p, i) => {
      if (p === null) return null;
      const format = formats.length === 1 ? formats[0] : (formats[i] ?? 0);
      if (format === 1) return `<binary, ${p.length} bytes>`;
      let text: string;
      if (p.length <= budget) {
        text = p.toString('utf8');
        budget -= p.length;
      } else {
        const bounded = boundBytes(p, budget);
        if (bounded.cut) cuts.push({ index: i, ...bounded.cut });
        text = bounded.text;
        budget = 0;
      }
      return masker.maskText(text, report);
    });
    return { texts, cuts };
  }

  /** The masker in force, looked up per statement so a policy change applies to connections already open. */
  private currentMasker(): Masker {
    return this.deps.context.masking(this.deps.target.name);
  }

  // ---- upstream side ----

  private onUpstreamData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastActivity = this.deps.context.clock.now();
    this.upFramer.push(chunk);
    if (!this.upstreamBlocked) this.drainUpstream();
  }

  /** Handles the server's complete messages in order, until one has to wait for its masking plan. */
  private drainUpstream(): void {
    const out: Buffer[] = [];
    let answered = false;
    try {
      for (let msg = this.upstreamBlocked ?? this.upFramer.next(); msg; msg = this.upFramer.next()) {
        this.upstreamBlocked = undefined;
        const step = this.session.fromServer(msg);
        answered = true;
        if (step.kind === 'blocked') {
          this.upstreamBlocked = msg;
          this.upstreamSocket?.pause();
          step.until.then(
            () => {
              if (this.closed) return;
              this.drainUpstream();
              if (!this.upstreamBlocked) this.upstreamSocket?.resume();
            },
            (err: unknown) => this.fatal(err),
          );
          break;
        }
        if (step.bytes) out.push(step.bytes);
      }
      if (out.length > 0 && !this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out))) this.upstreamSocket?.pause();
    } catch (err) {
      this.fatal(err);
    } finally {
      // results are recorded once the agent has its (masked) bytes: recording is not on the reply's path
      for (const capture of this.session.takeFinished()) {
        this.afterStatement(capture);
        this.recordResult(capture);
      }
    }
    // a client message that named what the server was still creating can be decided now
    if (answered && this.waitingForServer && !this.closed) {
      this.waitingForServer = false;
      this.pump();
    }
  }

  /**
   * A statement that changed the schema (or ran code that could have, unseen) makes the catalog's facts
   * stale: they are read again. Roles are shared by every database of the server.
   */
  private afterStatement(capture: ResultCapture): void {
    const c = capture.classification;
    if (capture.error !== undefined && c.class === 'read') return;
    // user code that only writes rows leaves the catalog as it was; code the catalog could not see into (unknown) may not
    if (c.statements.some((s) => s.class === 'privileged')) this.deps.catalogs?.invalidateAll();
    else if (c.statements.some((s) => s.class === 'ddl' || (s.class === 'unknown' && s.runsUserCode))) this.catalog?.invalidate();
    else return;
    this.plans.invalidate();
  }

  private recordResult(capture: ResultCapture): void {
    const report = capture.report.changed ? capture.report.toReport() : undefined;
    // the server's error can quote the statement (an unterminated string, a huge identifier), and one text of many statements has a tag each
    const limit = this.deps.context.limits.actionTextBytes;
    const error = capture.error === undefined ? undefined : boundText(capture.error, limit).text;
    const summary = boundText(error !== undefined ? `ERROR: ${error}` : capture.tags.join('; ') || 'done', limit).text;
    const durationMs = capture.durationMs ?? 0;
    void this.deps.context.pipeline
      .recordResult(this.agentSession!, capture.action, {
        summary,
        durationMs: Math.round(durationMs * 1000) / 1000,
        error,
        rowCount: capture.sample.rowCount,
        maskReport: report,
        detail: {
          columns: (capture.rowMasker?.columns ?? capture.columns ?? capture.portal?.columns)?.map((c) => c.name),
          rows: capture.sample.rows,
          truncated: capture.sample.truncated,
          masks: capture.sample.masks,
        } satisfies PgResultDetail,
      })
      .catch((err: Error) => this.deps.context.logger.error(`${this.who()}: could not record the result of ${capture.action.id}: ${err.message}`));
  }

  /** The connection as a log line names it. */
  private who(): string {
    return this.agentSession ? `connection of agent session "${this.agentSession.name}"` : 'connection before login';
  }
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

export { refusalError } from './session.js';
