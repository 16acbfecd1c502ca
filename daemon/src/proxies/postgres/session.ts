import { randomBytes } from 'node:crypto';
import { serialize } from 'pg-protocol';
import type { Action, Verdict } from '@airlock/shared';
import type { SqlClass, SqlClassification, SqlStatementInfo } from '../../classify/sql/index.js';
import { MaskReportBuilder, type Masker } from '../../masking/index.js';
import { ResultSample, type CellMark, type ResultColumn, type RowMasker } from './results.js';
import { copyOutStatements, type CopyOutPlan, type CopyOutStatement, type CopyRowMasker, type CopySampleRow } from './copy-format.js';
import { BodyReader, ProtocolError, errorResponse, message, readBind, readDataRow, readExecute, readParse, readQuery, readTarget, type WireMessage } from './protocol.js';
import { maskNoticeFields, maskNotification, maskParameterStatus } from './server-text.js';

/**
 * The proxy's model of one PostgreSQL server session, as a pure state machine: it takes decoded
 * frontend and backend messages and says what to send where. No sockets, timers or promises live
 * here (the shell in connection.ts does those), so the model can be driven by message sequences in
 * tests and fuzzed against the real server.
 *
 * What the model must never get wrong is which statement an Execute (or SQL EXECUTE, FETCH) runs.
 * The server's namespace of prepared statements and portals is followed from the server's own
 * answers, never from what was merely sent:
 * - an addition (Parse, Bind, SQL PREPARE, DECLARE) counts once the server confirms it
 *   (ParseComplete, BindComplete, the statement's CommandComplete);
 * - a removal (Close, DEALLOCATE, CLOSE, DISCARD ALL, a transaction's end for portals, a failed
 *   unnamed Parse or Bind, a simple Query's drop of the unnamed statement and portal) hides the name
 *   at once: a name the model does not hold is refused, so hiding early is the safe direction;
 * - between sending and the answer, a message later in the same Sync batch sees the additions sent
 *   before it: if one of them fails, the server skips the rest of the batch, so a decision made on
 *   it never runs. An addition sent in an earlier batch whose answer has not come back yet is not
 *   assumed either way: a message that names it waits for the answer (`wait`).
 * Names compare as the server compares them: protocol names exactly, SQL names as PostgreSQL's
 * parser folds them (unquoted to lower case), both sharing one namespace. Names over 63 bytes
 * (where the server's hash key would cut them) are refused outright.
 */

/** PostgreSQL's NAMEDATALEN - 1: longer names are cut by the server's hash tables. */
const MAX_NAME_BYTES = 63;

/** A refused simple-protocol message is replaced upstream by one that fails without doing anything. */
const REFUSAL_QUERY = serialize.query('AIRLOCK REFUSED');
/**
 * Sent upstream in place of a refused Execute (with a random suffix): the server's error for a portal
 * that does not exist takes the refused one's place. Clients may not use the prefix, so no portal of
 * theirs can be the one run.
 */
const REFUSED_PORTAL_PREFIX = 'airlock_refused_';

const BINARY_COPY_REFUSED = 'Airlock withheld this binary COPY: binary values cannot be masked';

export interface PreparedStatement {
  readonly name: string;
  readonly sql: string;
  /** text-level classification; what EXECUTE of it runs */
  readonly classification: SqlClassification;
  /** from Describe (statement): names, types and origins; formats are text until a Bind says otherwise */
  columns?: ResultColumn[];
}

export interface Portal {
  readonly name: string;
  /** the statement it was bound from, when the model knows it */
  readonly statement?: PreparedStatement;
  /** a SQL cursor (DECLARE): its query was decided when it was declared */
  readonly cursor?: { classification: SqlClassification; holdable: boolean };
  readonly params: (Buffer | null)[];
  readonly paramFormats: number[];
  readonly resultFormats: number[];
  /** from Describe (portal), or derived from the statement's columns and the Bind's formats */
  columns?: ResultColumn[];
  /** a Describe of this portal is on its way (the client's or Airlock's): its columns arrive before any row */
  describing?: boolean;
  /** decided once: later Executes of a suspended portal continue the same statement */
  allowedAction?: Action;
}

/** Result of one action as it streams back. */
export interface ResultCapture {
  readonly action: Action;
  readonly startedAt: bigint;
  readonly sample: ResultSample;
  readonly report: MaskReportBuilder;
  readonly classification: SqlClassification;
  readonly masker: Masker | undefined;
  tags: string[];
  error?: string;
  /** the result's columns as the server described them (simple Query: its latest RowDescription) */
  columns?: ResultColumn[];
  rowMasker?: RowMasker;
  /** a COPY TO STDOUT whose rows cannot be masked (binary, options or columns Airlock cannot read): its data is withheld and the agent gets this error */
  copyWithheld?: string;
  /** the COPY TO STDOUT statements of the text, in order; the next CopyOutResponse belongs to copyOut[copyIndex] */
  copyStatements?: CopyOutStatement[];
  copyIndex?: number;
  copyMasker?: CopyRowMasker;
  /** the text the server runs (for COPY options and the masked columns it reaches) */
  readonly sql: string;
  durationMs?: number;
  /** the portal an Execute runs: its columns may arrive (Airlock's own Describe) after the capture is made */
  readonly portal?: Portal;
}

/** What an action needs decided before it may go upstream. */
export interface Question {
  readonly kind: 'sql.query' | 'sql.function-call';
  readonly sql: string;
  /** resolved against the statements and portals the server holds */
  readonly classification: SqlClassification;
  readonly detail: { protocol: 'simple' | 'extended' | 'function-call'; statement?: string; portal?: string; params?: (Buffer | null)[]; paramFormats?: number[]; maxRows?: number };
  /**
   * Why this cannot be decided on what it runs, when it cannot (a name the server may hold under text
   * Airlock never saw confirmed): then it is refused whatever policy says, never assumed
   */
  readonly refuse?: string;
  /** @internal */
  readonly message: WireMessage;
  /** @internal the portal an Execute runs */
  readonly portal?: Portal;
}

export type ClientStep =
  /** send these bytes upstream */
  | { kind: 'forward'; bytes: Buffer }
  /** nothing goes upstream (skipping to Sync after a refusal) */
  | { kind: 'none' }
  /** what this message names depends on answers still to come: offer it again once they have arrived */
  | { kind: 'wait' }
  /** decide first, then hand the verdict to answer() */
  | { kind: 'decide'; question: Question }
  /** the client said goodbye */
  | { kind: 'terminate'; bytes: Buffer };

export type ServerStep =
  /** bytes for the client, or undefined when the message is swallowed */
  | { kind: 'reply'; bytes: Buffer | undefined }
  /** the row masker for these columns is being worked out (catalog lookups): offer the message again when `until` settles */
  | { kind: 'blocked'; until: Promise<unknown> };

export interface SessionDeps {
  /** text-level classification (cached by the caller) */
  classify(sql: string): SqlClassification;
  /** a statement inside PREPARE, as its own classification */
  wrap(statement: SqlStatementInfo): SqlClassification;
  unknown(reason: string): SqlClassification;
  /** a statement that runs another (EXECUTE, FETCH): its own class `besides` combined with what it runs */
  resolve(statement: SqlStatementInfo, besides: SqlClass, runs: SqlClassification, how: string): SqlStatementInfo;
  combine(statements: SqlStatementInfo[]): SqlClassification;
  /**
   * The row masker for a result's columns: at once when it can be built, else a promise to wait for
   * (then the same call answers at once). Unknown columns get one that withholds every value.
   */
  rowMasker(columns: ResultColumn[] | undefined, capture: ResultCapture): RowMasker | Promise<unknown>;
  /**
   * How one COPY TO STDOUT's rows are masked, or why they cannot be: at once when it can be worked
   * out, else a promise to wait for (then the same call answers at once).
   */
  copyPlan(statement: CopyOutStatement, capture: ResultCapture, columnCount: number): CopyOutPlan | Promise<unknown>;
  /**
   * The COPY TO STDOUT statements of a capture's text, when the caller already has them (a huge text
   * is parsed off the main thread, COPY options too); undefined: they are read from the text here.
   */
  copyStatements?(capture: ResultCapture): CopyOutStatement[] | undefined;
  /**
   * The text a prepared statement keeps, when the caller has it shorter (the head of a huge statement
   * parsed off the main thread: what was read from it is in the classification); undefined: all of it.
   * Without it a client could hold a thousand names of 16 MiB each in the daemon.
   */
  keptText?(sql: string): string | undefined;
  /** the masker in force, per statement so a policy change applies to open connections */
  masker(): Masker | undefined;
  now(): bigint;
  limits: { resultRows: number; resultBytes: number };
  targetName: string;
}

/** One namespace (prepared statements, or portals) as the server holds it, plus what is in flight. */
class Namespace<T> {
  readonly confirmed = new Map<string, T>();
  /** additions and removals sent and not yet answered, oldest first */
  private readonly inFlight: Change<T>[] = [];

  /**
   * What `name` refers to for a message of batch `batch`: the newest in-flight change to it, else
   * the confirmed entry. 'wait' when that change is an addition of an earlier batch still unanswered.
   */
  lookup(name: string, batch: number): T | undefined | 'wait' {
    for (let i = this.inFlight.length - 1; i >= 0; i--) {
      const change = this.inFlight[i]!;
      if (change.name !== name && !(change.value === undefined && change.name === '*')) continue;
      if (change.value === undefined) return undefined;
      return change.batch === batch ? change.value : 'wait';
    }
    return this.confirmed.get(name);
  }

  /** An addition sent: it counts once settled as succeeded. */
  add(name: string, value: T, batch: number): Change<T> {
    const change: Change<T> = { name, value, batch };
    this.inFlight.push(change);
    return change;
  }

  /**
   * A removal sent: the name is hidden at once (the safe direction: a name the model does not hold is
   * refused) and an older addition still in flight will not take effect when it is confirmed.
   */
  remove(name: string, batch: number): Change<T> {
    if (name === '*') this.confirmed.clear();
    else this.confirmed.delete(name);
    const change: Change<T> = { name, value: undefined, batch };
    this.inFlight.push(change);
    return change;
  }

  /** The server answered (or skipped) the message that carried the change. */
  settle(change: Change<T>, succeeded: boolean): void {
    const at = this.inFlight.indexOf(change);
    if (at < 0) return;
    this.inFlight.splice(at, 1);
    if (!succeeded || change.value === undefined) return;
    for (let i = at; i < this.inFlight.length; i++) {
      const later = this.inFlight[i]!;
      if (later.value === undefined && (later.name === change.name || later.name === '*')) return;
    }
    this.confirmed.set(change.name, change.value);
  }

  /** Changes in flight (bounded by the replies owed; for tests). */
  get pending(): number {
    return this.inFlight.length;
  }
}

export interface Change<T> {
  name: string;
  /** undefined: a removal */
  value: T | undefined;
  batch: number;
}

/** Changes an expectation carries, settled whatever its reply turns out to be. */
interface Carried {
  statements: Change<PreparedStatement>[];
  portals: Change<Portal>[];
}

/** What the upstream owes the client for each forwarded message, in order. */
type Expectation = (
  | { kind: 'parse'; change: Change<PreparedStatement> }
  | { kind: 'bind'; change: Change<Portal> }
  | { kind: 'close' }
  | { kind: 'describe'; statement?: PreparedStatement; portal?: Portal; internal: boolean }
  | { kind: 'execute'; portal?: Portal; capture?: ResultCapture; refusal?: Verdict }
  | { kind: 'query'; capture?: ResultCapture; refusal?: Verdict; effects: StatementEffect[]; completed: number }
  | { kind: 'sync' }
) & { removals?: Carried };

/** What one statement of a simple Query adds to the namespaces once its CommandComplete arrives. */
interface StatementEffect {
  statement?: Change<PreparedStatement>;
  portal?: Change<Portal>;
}

type QueryExpectation = Extract<Expectation, { kind: 'query' }>;

export class PgSession {
  readonly statements = new Namespace<PreparedStatement>();
  readonly portals = new Namespace<Portal>();
  private readonly expectations: Expectation[] = [];
  /** the batch (run of messages up to a Sync) the next client message belongs to */
  private batch = 0;
  /** after Airlock refused an extended-protocol message: drop client messages until Sync, as the server does */
  private skipUntilSync = false;
  private finished: ResultCapture[] = [];
  /** the transaction state the server last reported (ReadyForQuery): idle, in a block, or in a failed block */
  transactionStatus: 'I' | 'T' | 'E' = 'I';

  constructor(private readonly deps: SessionDeps) {}

  /** Replies still owed by the server. */
  get outstanding(): number {
    return this.expectations.length;
  }

  /** Results completed since the last call: the shell records them once their bytes are written. */
  takeFinished(): ResultCapture[] {
    const done = this.finished;
    this.finished = [];
    return done;
  }

  // ---- client side ----

  fromClient(msg: WireMessage): ClientStep {
    if (this.skipUntilSync && msg.type !== 'S') return { kind: 'none' };
    switch (msg.type) {
      case 'Q':
        return this.onQuery(msg);
      case 'P': {
        const parse = readParse(msg.body);
        checkName(parse.name, 'prepared statement');
        const classification = this.deps.classify(parse.sql);
        const statement: PreparedStatement = { name: parse.name, sql: this.deps.keptText?.(parse.sql) ?? parse.sql, classification };
        // the server drops the unnamed statement before parsing, so even a failed Parse removes it
        const removals = parse.name === '' ? { statements: [this.statements.remove('', this.batch)], portals: [] } : undefined;
        this.expect({ kind: 'parse', change: this.statements.add(parse.name, statement, this.batch), removals });
        return { kind: 'forward', bytes: msg.raw };
      }
      case 'B': {
        const bind = readBind(msg.body);
        checkName(bind.portal, 'portal');
        checkName(bind.statement, 'prepared statement');
        const statement = this.statements.lookup(bind.statement, this.batch);
        if (statement === 'wait') return { kind: 'wait' };
        const portal: Portal = { name: bind.portal, statement, params: bind.params, paramFormats: bind.paramFormats, resultFormats: bind.resultFormats, columns: statement?.columns ? withFormats(statement.columns, bind.resultFormats) : undefined };
        const removals = bind.portal === '' ? { statements: [], portals: [this.portals.remove('', this.batch)] } : undefined;
        this.expect({ kind: 'bind', change: this.portals.add(bind.portal, portal, this.batch), removals });
        return { kind: 'forward', bytes: msg.raw };
      }
      case 'D': {
        const target = readTarget(msg.body);
        checkName(target.name, target.kind === 'S' ? 'prepared statement' : 'portal');
        if (target.kind === 'S') {
          const statement = this.statements.lookup(target.name, this.batch);
          if (statement === 'wait') return { kind: 'wait' };
          this.expect({ kind: 'describe', statement, internal: false });
        } else {
          const portal = this.portals.lookup(target.name, this.batch);
          if (portal === 'wait') return { kind: 'wait' };
          if (portal) portal.describing = true;
          this.expect({ kind: 'describe', portal, internal: false });
        }
        return { kind: 'forward', bytes: msg.raw };
      }
      case 'E':
        return this.onExecute(msg);
      case 'C': {
        const target = readTarget(msg.body);
        checkName(target.name, target.kind === 'S' ? 'prepared statement' : 'portal');
        const removals = target.kind === 'S' ? { statements: [this.statements.remove(target.name, this.batch)], portals: [] } : { statements: [], portals: [this.portals.remove(target.name, this.batch)] };
        this.expect({ kind: 'close', removals });
        return { kind: 'forward', bytes: msg.raw };
      }
      case 'S':
        this.skipUntilSync = false;
        this.expect({ kind: 'sync' });
        this.batch++;
        return { kind: 'forward', bytes: msg.raw };
      case 'H':
      case 'd':
      case 'c':
      case 'f':
        return { kind: 'forward', bytes: msg.raw };
      case 'F':
        return {
          kind: 'decide',
          question: {
            kind: 'sql.function-call',
            sql: '',
            // FunctionCall runs a function by OID, outside anything the classifier can read
            classification: { ...this.deps.unknown('FunctionCall protocol message (function by OID)'), class: 'privileged', runsUserCode: true },
            detail: { protocol: 'function-call' },
            message: msg,
          },
        };
      case 'X':
        return { kind: 'terminate', bytes: msg.raw };
      default:
        throw new ProtocolError(`unknown or unexpected frontend message type "${msg.type}"`);
    }
  }

  private onQuery(msg: WireMessage): ClientStep {
    const sql = readQuery(msg.body);
    const resolved = this.resolveQuery(sql);
    if (resolved === 'wait') return { kind: 'wait' };
    return { kind: 'decide', question: { kind: 'sql.query', sql, classification: resolved.classification, detail: { protocol: 'simple' }, message: msg, ...(resolved.refuse ? { refuse: resolved.refuse } : {}) } };
  }

  /**
   * The query's classification with each EXECUTE and FETCH resolved to what it runs, statement by
   * statement: a PREPARE or DECLARE earlier in the same text counts for the statements after it.
   */
  private resolveQuery(sql: string): { classification: SqlClassification; refuse?: string } | 'wait' {
    const text = this.deps.classify(sql);
    if (!text.statements.some((s) => s.executes !== undefined || s.fetches !== undefined)) return { classification: text };
    let refuse: string | undefined;
    // what this text itself prepares, deallocates, declares and closes, in order (undefined: removed)
    const prepared = new Map<string, SqlClassification | undefined>();
    const declared = new Map<string, SqlClassification | undefined>();
    const statements: SqlStatementInfo[] = [];
    for (const s of text.statements) {
      let resolved = s;
      if (s.executes !== undefined) {
        let runs: SqlClassification | undefined;
        if (prepared.has(s.executes)) runs = prepared.get(s.executes);
        else {
          const found = this.statements.lookup(s.executes, this.batch);
          if (found === 'wait') return 'wait';
          runs = found?.classification;
        }
        if (!runs) refuse ??= unknownName('prepared statement', s.executes);
        resolved = runs
          ? this.deps.resolve(s, s.classBesidesExecute ?? 'read', runs, `EXECUTE runs the prepared statement "${s.executes}"`)
          : { ...s, class: 'unknown', reasons: [...s.reasons, `EXECUTE of "${s.executes}", which the server does not hold as far as Airlock knows`] };
      }
      if (s.fetches !== undefined) {
        let runs: SqlClassification | undefined;
        if (declared.has(s.fetches)) runs = declared.get(s.fetches);
        else {
          const found = this.portals.lookup(s.fetches, this.batch);
          if (found === 'wait') return 'wait';
          runs = found ? portalClassification(found, this.deps) : undefined;
        }
        if (!runs) refuse ??= unknownName('cursor or portal', s.fetches);
        resolved = runs
          ? this.deps.resolve(s, 'read', runs, `FETCH runs cursor or portal "${s.fetches}"`)
          : { ...s, class: 'unknown', reasons: [...s.reasons, `FETCH from "${s.fetches}", a cursor or portal Airlock does not know`] };
      }
      if (s.prepares) prepared.set(s.prepares.name, this.deps.wrap(s.prepares.statement));
      if (s.deallocates === '*') for (const k of prepared.keys()) prepared.set(k, undefined);
      else if (s.deallocates !== undefined) prepared.set(s.deallocates, undefined);
      if (s.declares) declared.set(s.declares.name, this.deps.wrap(s));
      if (s.closesPortal === '*') for (const k of declared.keys()) declared.set(k, undefined);
      else if (s.closesPortal !== undefined) declared.set(s.closesPortal, undefined);
      statements.push(resolved);
    }
    return { classification: this.deps.combine(statements), ...(refuse ? { refuse } : {}) };
  }

  private onExecute(msg: WireMessage): ClientStep {
    const execute = readExecute(msg.body);
    checkName(execute.portal, 'portal');
    const portal = this.portals.lookup(execute.portal, this.batch);
    if (portal === 'wait') return { kind: 'wait' };
    if (portal?.allowedAction) {
      this.expect({ kind: 'execute', portal, capture: this.capture(portal.allowedAction, portal) });
      return { kind: 'forward', bytes: this.withDescribe(portal, msg.raw) };
    }
    const classification = portal ? portalClassification(portal, this.deps) : this.deps.unknown(`Execute of portal "${execute.portal}", which the server does not hold as far as Airlock knows`);
    const refuse = !portal ? unknownName('portal', execute.portal) : !portal.statement && !portal.cursor ? unknownName('prepared statement', '(bound into portal "' + execute.portal + '")') : undefined;
    return {
      kind: 'decide',
      question: {
        kind: 'sql.query',
        sql: portal?.statement?.sql ?? '',
        classification,
        detail: { protocol: 'extended', statement: portal?.statement?.name || undefined, portal: execute.portal || undefined, params: portal?.params, paramFormats: portal?.paramFormats, maxRows: execute.maxRows || undefined },
        message: msg,
        portal,
        ...(refuse ? { refuse } : {}),
      },
    };
  }

  /**
   * The verdict for a question: what goes upstream. A refused statement is replaced by one that fails
   * without effect, so the client and the server agree on the transaction (failed inside a block)
   * and, in the extended protocol, both skip to Sync. `classification` is what was decided (the
   * question's, possibly refined with the catalog's facts).
   */
  answer(question: Question, action: Action, verdict: Verdict, classification: SqlClassification = question.classification): Buffer {
    const msg = question.message;
    if (msg.type === 'E') {
      const portal = question.portal;
      if (verdict.allowed && portal) {
        portal.allowedAction = action;
        this.expect({ kind: 'execute', portal, capture: this.capture(action, portal, classification), removals: this.forgetAfterUserCode(classification) });
        return this.withDescribe(portal, msg.raw);
      }
      this.expect({ kind: 'execute', refusal: verdict });
      this.skipUntilSync = true;
      return serialize.execute({ portal: REFUSED_PORTAL_PREFIX + randomBytes(8).toString('hex') });
    }
    // Query and FunctionCall are answered up to ReadyForQuery, and are a batch of their own: an error
    // inside one does not make the server skip what follows. A simple Query (the refusal's too) drops
    // the unnamed statement and portal before it runs anything.
    const removals: Carried | undefined = msg.type === 'Q' || !verdict.allowed ? { statements: [this.statements.remove('', this.batch)], portals: [this.portals.remove('', this.batch)] } : undefined;
    if (!verdict.allowed) {
      this.expect({ kind: 'query', refusal: verdict, effects: [], completed: 0, removals });
      this.batch++;
      return REFUSAL_QUERY;
    }
    const effects: StatementEffect[] = [];
    if (msg.type === 'Q') for (const s of question.classification.statements) effects.push(this.effectOf(s, removals!));
    const forgotten = this.forgetAfterUserCode(classification);
    if (forgotten && removals) {
      removals.statements.push(...forgotten.statements);
      removals.portals.push(...forgotten.portals);
    }
    this.expect({ kind: 'query', capture: this.capture(action, undefined, classification, question.sql), effects, completed: 0, removals: removals ?? this.forgetAfterUserCode(classification) });
    this.batch++;
    return msg.raw;
  }

  /**
   * Code Airlock cannot see (a DO block, a procedure, a user function) can PREPARE, DEALLOCATE or
   * CLOSE anything in the session through dynamic SQL: after it, no name is trusted (a name the model
   * does not hold is decided as unknown), so what a name runs is never assumed from before.
   */
  private forgetAfterUserCode(classification: SqlClassification): Carried | undefined {
    if (!runsUserCode(classification)) return undefined;
    return { statements: [this.statements.remove('*', this.batch)], portals: [this.portals.remove('*', this.batch)] };
  }

  /** What a statement of a simple Query adds to or removes from the namespaces. */
  private effectOf(s: SqlStatementInfo, removals: Carried): StatementEffect {
    const effect: StatementEffect = {};
    if (s.deallocates !== undefined) removals.statements.push(this.statements.remove(s.deallocates, this.batch));
    if (s.closesPortal !== undefined) removals.portals.push(this.portals.remove(s.closesPortal, this.batch));
    if (s.prepares) effect.statement = this.statements.add(s.prepares.name, { name: s.prepares.name, sql: s.prepares.statement.text, classification: this.deps.wrap(s.prepares.statement) }, this.batch);
    if (s.declares) effect.portal = this.portals.add(s.declares.name, { name: s.declares.name, cursor: { classification: this.deps.wrap(s), holdable: s.declares.holdable }, params: [], paramFormats: [], resultFormats: [] }, this.batch);
    return effect;
  }

  /** Adds Airlock's own Describe of the portal when its columns are not known yet, so no row is masked blind. */
  private withDescribe(portal: Portal, execute: Buffer): Buffer {
    if (portal.columns || portal.describing || !this.deps.masker()?.active) return execute;
    portal.describing = true;
    this.expectations.splice(this.expectations.length - 1, 0, { kind: 'describe', portal, internal: true });
    return Buffer.concat([serialize.describe({ type: 'P', name: portal.name }), execute]);
  }

  private capture(action: Action, portal: Portal | undefined, classification = portal ? portalClassification(portal, this.deps) : undefined, sql = portal?.statement?.sql ?? ''): ResultCapture {
    const limits = this.deps.limits;
    return {
      action,
      startedAt: this.deps.now(),
      sample: new ResultSample(limits.resultRows, limits.resultBytes),
      report: new MaskReportBuilder(),
      classification: classification ?? this.deps.unknown('no statement'),
      masker: this.deps.masker(),
      tags: [],
      portal,
      sql,
    };
  }

  private expect(e: Expectation): void {
    this.expectations.push(e);
  }

  /** The oldest expectation is answered: the removals it carried no longer need to shadow anything. */
  private shift(): Expectation {
    const e = this.expectations.shift()!;
    if (e.removals) {
      for (const c of e.removals.statements) this.statements.settle(c, true);
      for (const c of e.removals.portals) this.portals.settle(c, true);
    }
    return e;
  }

  // ---- server side ----

  fromServer(msg: WireMessage): ServerStep {
    const head = this.expectations[0];
    switch (msg.type) {
      case 'D':
        return this.onDataRow(msg, head);
      case 'T': {
        if (head?.kind === 'query') {
          if (head.capture) {
            head.capture.columns = decodeColumns(msg.body);
            head.capture.rowMasker = undefined;
          }
          return reply(msg.raw);
        }
        if (head?.kind === 'describe') {
          this.shift();
          const columns = decodeColumns(msg.body);
          if (head.portal) head.portal.columns = columns;
          else if (head.statement) head.statement.columns = columns;
          return reply(head.internal ? undefined : msg.raw);
        }
        return reply(msg.raw);
      }
      case 'n':
        if (head?.kind === 'describe') {
          this.shift();
          if (head.portal) head.portal.columns = [];
          else if (head.statement) head.statement.columns = [];
          return reply(head.internal ? undefined : msg.raw);
        }
        return reply(msg.raw);
      case 't':
        return reply(msg.raw);
      case '1':
        if (head?.kind === 'parse') {
          this.shift();
          this.statements.settle(head.change, true);
        }
        return reply(msg.raw);
      case '2':
        if (head?.kind === 'bind') {
          this.shift();
          this.portals.settle(head.change, true);
        }
        return reply(msg.raw);
      case '3':
        if (head?.kind === 'close') this.shift();
        return reply(msg.raw);
      case 'C':
        return this.onCommandComplete(msg, head);
      case 'I':
        if (head?.kind === 'execute') {
          this.shift();
          if (head.capture) this.finish(head.capture);
        } else if (head?.kind === 'query') head.completed++;
        return reply(msg.raw);
      case 's':
        if (head?.kind === 'execute') {
          this.shift();
          if (head.capture) {
            head.capture.tags.push('(portal suspended)');
            this.finish(head.capture);
          }
        }
        return reply(msg.raw);
      case 'E':
        return reply(this.onError(msg, head));
      case 'N':
        return reply(this.masked(msg, maskNoticeFields));
      case 'A':
        return reply(this.masked(msg, maskNotification));
      case 'S':
        return reply(this.masked(msg, maskParameterStatus));
      case 'Z':
        return reply(this.onReady(msg, head));
      case 'H':
        return this.onCopyOut(msg, head);
      case 'c':
        return reply(head && (head.kind === 'query' || head.kind === 'execute') && head.capture?.copyWithheld ? undefined : msg.raw);
      case 'd': {
        const capture = head && (head.kind === 'query' || head.kind === 'execute') ? head.capture : undefined;
        if (capture?.copyWithheld) return reply(undefined);
        if (!capture?.copyMasker) return reply(msg.raw);
        const rows: CopySampleRow[] = [];
        const masked = capture.copyMasker.maskData(msg.body, capture.report, capture.sample.wantsRows ? rows : undefined);
        if (rows.length === 0) capture.sample.countOnly();
        for (const row of rows) capture.sample.add(row.fields.map((f) => (f === null ? null : Buffer.from(f))), undefined, row.marks);
        return reply(masked ? message('d', masked) : msg.raw);
      }
      default:
        return reply(msg.raw);
    }
  }

  private onDataRow(msg: WireMessage, head: Expectation | undefined): ServerStep {
    const capture = head && (head.kind === 'query' || head.kind === 'execute') ? head.capture : undefined;
    if (!capture) {
      // rows nobody asked for cannot be checked against a plan: never pass them
      throw new ProtocolError('the server sent rows Airlock did not expect');
    }
    const columns = capture.columns ?? capture.portal?.columns;
    if (!capture.masker?.active) {
      if (capture.sample.wantsRows) capture.sample.add(readDataRow(msg.body), columns);
      else capture.sample.countOnly();
      return reply(msg.raw);
    }
    let masker = capture.rowMasker;
    if (!masker) {
      const planned = this.deps.rowMasker(columns, capture);
      if (planned instanceof Promise) return { kind: 'blocked', until: planned };
      masker = capture.rowMasker = planned;
    }
    if (capture.sample.wantsRows) {
      const marks: CellMark[] = [];
      const rebuilt = masker.maskRow(msg.body, capture.report, marks);
      capture.sample.add(readDataRow((rebuilt ?? msg.raw).subarray(5)), masker.columns, marks);
      return reply(rebuilt ?? msg.raw);
    }
    capture.sample.countOnly();
    return reply(masker.maskRow(msg.body, capture.report) ?? msg.raw);
  }

  /**
   * COPY ... TO STDOUT: its rows are read with the statement's own options and masked field by
   * field; one that cannot be read exactly (binary, options Airlock cannot decode, columns a column
   * rule cannot be matched to) is withheld, its rows dropped, and the agent gets ERROR 0A000 at its end.
   */
  private onCopyOut(msg: WireMessage, head: Expectation | undefined): ServerStep {
    const capture = head && (head.kind === 'query' || head.kind === 'execute') ? head.capture : undefined;
    if (!capture?.masker?.active) return reply(msg.raw);
    const statements = (capture.copyStatements ??= this.deps.copyStatements?.(capture) ?? copyOutStatements(capture.sql));
    const index = capture.copyIndex ?? 0;
    const statement: CopyOutStatement = statements[index] ?? { refuse: 'Airlock could not tell which statement this COPY is' };
    const textual = msg.body[0] === 0;
    if (!textual) {
      capture.copyWithheld = BINARY_COPY_REFUSED;
      capture.copyIndex = index + 1;
      return reply(undefined);
    }
    const plan = this.deps.copyPlan(statement, capture, msg.body.readInt16BE(1));
    if (plan instanceof Promise) return { kind: 'blocked', until: plan };
    capture.copyIndex = index + 1;
    if (plan.refuse !== undefined) {
      capture.copyWithheld = plan.refuse;
      return reply(undefined);
    }
    capture.copyMasker = plan.masker;
    return reply(msg.raw);
  }

  private onCommandComplete(msg: WireMessage, head: Expectation | undefined): ServerStep {
    // the body is the tag as a C string: read directly, once per statement
    const tag = readQuery(msg.body);
    const capture = head && (head.kind === 'query' || head.kind === 'execute') ? head.capture : undefined;
    if (capture?.copyMasker) capture.copyMasker = undefined;
    if (capture?.copyWithheld) {
      const reason = capture.copyWithheld;
      capture.copyWithheld = undefined;
      capture.error = reason;
      if (head?.kind === 'execute') {
        this.shift();
        this.finish(capture);
      } else if (head?.kind === 'query') this.completeStatement(head, true);
      return reply(errorResponse({ severity: 'ERROR', code: '0A000', message: `${reason} (target "${this.deps.targetName}")`, hint: 'Use COPY ... TO STDOUT with FORMAT text or csv and a column list: those rows are masked.' }));
    }
    if (head?.kind === 'query') {
      head.capture?.tags.push(tag);
      this.completeStatement(head, true);
    } else if (head?.kind === 'execute') {
      this.shift();
      if (head.capture) {
        head.capture.tags.push(tag);
        this.finish(head.capture);
      }
    }
    return reply(msg.raw);
  }

  /** One statement of a simple Query ended: its additions to the namespaces count now (or never). */
  private completeStatement(head: QueryExpectation, succeeded: boolean): void {
    const effect = head.effects[head.completed++];
    if (!effect) return;
    if (effect.statement) this.statements.settle(effect.statement, succeeded);
    if (effect.portal) this.portals.settle(effect.portal, succeeded);
  }

  private onError(msg: WireMessage, head: Expectation | undefined): Buffer {
    const masked = this.masked(msg, maskNoticeFields);
    if (!head || head.kind === 'sync') return masked;
    if (head.kind === 'query') {
      // the failed statement and every one after it in the text never ran
      while (head.completed < head.effects.length) this.completeStatement(head, false);
      if (head.refusal) return refusalError(head.refusal);
      if (head.capture) head.capture.error = errorMessageOf(masked);
      return masked;
    }
    // the server skips to Sync after an error in the extended protocol: what it owed for the skipped messages never comes
    const failed = this.shift();
    this.fail(failed, true);
    while (this.expectations.length > 0 && this.expectations[0]!.kind !== 'sync') this.fail(this.shift(), false);
    // no Sync sent yet: the server discards whatever comes until it, and so does Airlock
    if (this.expectations.length === 0) this.skipUntilSync = true;
    if (failed.kind === 'execute') {
      if (failed.refusal) return refusalError(failed.refusal);
      if (failed.capture) failed.capture.error = errorMessageOf(masked);
    }
    return masked;
  }

  /** An expectation that failed (`ran`: the server tried it) or was skipped after an earlier error. */
  private fail(e: Expectation, ran: boolean): void {
    switch (e.kind) {
      case 'parse':
        this.statements.settle(e.change, false);
        return;
      case 'bind':
        this.portals.settle(e.change, false);
        return;
      case 'query':
        // skipped whole: nothing in it ran
        while (e.completed < e.effects.length) this.completeStatement(e, false);
        return;
      case 'execute':
        if (e.capture && ran) this.finish(e.capture);
        return;
      default:
        return;
    }
  }

  private onReady(msg: WireMessage, head: Expectation | undefined): Buffer {
    // ReadyForQuery answers a Sync or a Query (FunctionCall); anything owed before it was skipped
    while (head && head.kind !== 'query' && head.kind !== 'sync') {
      this.fail(this.shift(), false);
      head = this.expectations[0];
    }
    if (head) {
      this.shift();
      if (head.kind === 'query') {
        while (head.completed < head.effects.length) this.completeStatement(head, false);
        if (head.capture) this.finish(head.capture);
      }
    }
    const status = String.fromCharCode(msg.body[0] ?? 0x49);
    if (status === 'I' || status === 'T' || status === 'E') this.transactionStatus = status;
    // outside a transaction block no portal survives but a holdable cursor
    if (msg.body[0] === 0x49 /* I */) {
      for (const [name, portal] of this.portals.confirmed) if (!portal.cursor?.holdable) this.portals.confirmed.delete(name);
    }
    return msg.raw;
  }

  private finish(capture: ResultCapture): void {
    capture.durationMs = Number(this.deps.now() - capture.startedAt) / 1e6;
    this.finished.push(capture);
  }

  private masked(msg: WireMessage, mask: (body: Buffer, masker: Masker, report: MaskReportBuilder) => Buffer | null): Buffer {
    const head = this.expectations[0];
    const capture = head && (head.kind === 'query' || head.kind === 'execute') ? head.capture : undefined;
    const masker = capture?.masker ?? this.deps.masker();
    if (!masker?.active) return msg.raw;
    const body = mask(msg.body, masker, capture?.report ?? new MaskReportBuilder());
    return body ? message(msg.type, body) : msg.raw;
  }
}

/** The refusal for a name Airlock cannot vouch for: the server may hold it under text Airlock never saw confirmed. */
function unknownName(what: string, name: string): string {
  return `${what} ${name.startsWith('(') ? name : `"${name}"`} is not one Airlock saw the server confirm (or code Airlock cannot see ran since): prepare it again through Airlock`;
}

function runsUserCode(c: SqlClassification): boolean {
  return c.runsUserCode === true || c.commands.includes('DO') || c.commands.includes('CALL');
}

function reply(bytes: Buffer | undefined): ServerStep {
  return { kind: 'reply', bytes };
}

function checkName(name: string, what: string): void {
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw new ProtocolError(`${what} name of ${Buffer.byteLength(name)} bytes: Airlock accepts names of at most ${MAX_NAME_BYTES} bytes, as the server compares no more`, '42602');
  if (name.startsWith(REFUSED_PORTAL_PREFIX)) throw new ProtocolError(`${what} name "${name}": names starting with "${REFUSED_PORTAL_PREFIX}" are Airlock's own`, '42602');
}

/** What running a portal does: its statement's class, or for a SQL cursor the query it was declared with. */
function portalClassification(portal: Portal, deps: Pick<SessionDeps, 'unknown'>): SqlClassification {
  return portal.cursor?.classification ?? portal.statement?.classification ?? deps.unknown(`portal "${portal.name}" was bound from a prepared statement Airlock does not know`);
}

function withFormats(columns: ResultColumn[], formats: number[]): ResultColumn[] {
  return columns.map((c, i) => ({ ...c, format: formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : (formats[i] ?? 0) }));
}

/** RowDescription: name, table OID, attribute number, type OID, format of each field. */
export function decodeColumns(body: Buffer): ResultColumn[] {
  const r = new BodyReader(body);
  const count = r.int16();
  const columns: ResultColumn[] = [];
  for (let i = 0; i < count; i++) {
    const name = r.cstring();
    const tableOid = r.int32() >>> 0;
    const attnum = r.int16();
    const typeOid = r.int32() >>> 0;
    r.int16(); // type size
    r.int32(); // type modifier
    const format = r.int16();
    columns.push({ name, tableOid, attnum, typeOid, format });
  }
  return columns;
}

/** The M field of an ErrorResponse. */
function errorMessageOf(raw: Buffer): string {
  const body = raw.subarray(5);
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const code = body[at]!;
    const end = body.indexOf(0, at + 1);
    if (end < 0) break;
    if (code === 0x4d /* M */) return body.toString('utf8', at + 1, end);
    at = end + 1;
  }
  return 'error';
}

/** Airlock's refusal: SQLSTATE 42501 naming the rule and the reason. */
export function refusalError(verdict: Verdict): Buffer {
  if (verdict.ruleId === 'uninspectable') {
    return errorResponse({ severity: 'ERROR', code: '42501', message: `blocked by Airlock: ${verdict.reason}`, detail: 'Airlock refused this statement because it cannot tell what the server would run.' });
  }
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
