import net from 'node:net';
import { serialize } from 'pg-protocol';
import type { Action, Verdict } from '@airlock/shared';
import { MessageFramer, type WireMessage } from '../../src/proxies/postgres/protocol.js';
import { PgSession, type Question } from '../../src/proxies/postgres/session.js';
import { RowMasker } from '../../src/proxies/postgres/results.js';
import { planCopyOut } from '../../src/proxies/postgres/copy-format.js';
import type { SqlClassifier } from '../../src/proxies/postgres/classification.js';
import type { Masker } from '../../src/masking/index.js';

/**
 * Random interleavings of the messages that create, use and drop prepared statements and portals,
 * for checking that the proxy's model of the server never lets a statement run that was not decided
 * on its own text. Writes all go into the table `log`, which a policy of "reads only" must keep
 * empty whatever the sequence; reads, failing statements, duplicate names, SQL PREPARE/EXECUTE/
 * DEALLOCATE with quoted and unquoted names, cursors, FETCH and transaction control are mixed in.
 */

export const FUZZ_SCHEMA = 'CREATE TABLE log (v int)';

const READS = ['SELECT 1 AS v', 'SELECT v FROM generate_series(1, 3) v', "SELECT 'insert into log' AS v"];
const WRITES = ['INSERT INTO log VALUES (1) RETURNING v', 'WITH d AS (INSERT INTO log VALUES (2) RETURNING v) SELECT v FROM d', 'INSERT INTO log SELECT 3'];
/** fail at Parse (unknown table, syntax) or when run (division by zero) */
const FAILING = ['SELECT * FROM no_such_table', 'SELEC 1', 'SELECT 1/0 AS v'];
const PROTOCOL_STATEMENTS = ['', 's1', 'S1', 'x'];
const PORTALS = ['', 'p1', 'P1'];
/** how a SQL name is written, and the name the server keeps */
const SQL_NAMES = ['s1', 'S1', '"S1"', '"s1"', 'x'];
const CURSORS = ['p1', '"P1"', 'c2'];

type Rand = () => number;

function pick<T>(rand: Rand, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function text(rand: Rand): string {
  const r = rand();
  return r < 0.4 ? pick(rand, READS) : r < 0.8 ? pick(rand, WRITES) : pick(rand, FAILING);
}

function sqlStatement(rand: Rand): string {
  switch (Math.floor(rand() * 12)) {
    case 0:
    case 1:
      return `PREPARE ${pick(rand, SQL_NAMES)} AS ${text(rand)}`;
    case 2:
    case 3:
      return `EXECUTE ${pick(rand, SQL_NAMES)}`;
    case 4:
      return rand() < 0.8 ? `DEALLOCATE ${pick(rand, SQL_NAMES)}` : 'DEALLOCATE ALL';
    case 5:
      return pick(rand, ['BEGIN', 'COMMIT', 'ROLLBACK']);
    case 6:
      return `DECLARE ${pick(rand, CURSORS)} CURSOR ${rand() < 0.3 ? 'WITH HOLD ' : ''}FOR ${pick(rand, READS)}`;
    case 7:
    case 8:
      return `${rand() < 0.7 ? 'FETCH ALL FROM' : 'MOVE ALL IN'} ${pick(rand, [...CURSORS, 'p1', '"P1"', 'P1'])}`;
    case 9:
      return rand() < 0.8 ? `CLOSE ${pick(rand, CURSORS)}` : 'CLOSE ALL';
    default:
      return text(rand);
  }
}

/** One frontend message, as bytes, and how a person would read it. */
export interface FuzzMessage {
  bytes: Buffer;
  label: string;
}

export function randomMessage(rand: Rand): FuzzMessage {
  const r = Math.floor(rand() * 16);
  switch (r) {
    case 0:
    case 1:
    case 2: {
      const name = pick(rand, PROTOCOL_STATEMENTS);
      const sql = text(rand);
      return { bytes: serialize.parse({ name, text: sql, types: [] }), label: `Parse(${JSON.stringify(name)}, ${sql})` };
    }
    case 3:
    case 4: {
      const portal = pick(rand, PORTALS);
      const statement = pick(rand, PROTOCOL_STATEMENTS);
      return { bytes: serialize.bind({ portal, statement, values: [] }), label: `Bind(${JSON.stringify(portal)} <- ${JSON.stringify(statement)})` };
    }
    case 5:
    case 6: {
      const portal = pick(rand, PORTALS);
      const rows = rand() < 0.3 ? 1 : 0;
      return { bytes: serialize.execute({ portal, rows }), label: `Execute(${JSON.stringify(portal)}, ${rows})` };
    }
    case 7: {
      const statement = rand() < 0.5;
      const name = statement ? pick(rand, PROTOCOL_STATEMENTS) : pick(rand, PORTALS);
      return { bytes: serialize.describe({ type: statement ? 'S' : 'P', name }), label: `Describe(${statement ? 'S' : 'P'} ${JSON.stringify(name)})` };
    }
    case 8: {
      const statement = rand() < 0.5;
      const name = statement ? pick(rand, PROTOCOL_STATEMENTS) : pick(rand, PORTALS);
      return { bytes: serialize.close({ type: statement ? 'S' : 'P', name }), label: `Close(${statement ? 'S' : 'P'} ${JSON.stringify(name)})` };
    }
    case 9:
    case 10:
    case 11:
      return { bytes: serialize.sync(), label: 'Sync' };
    case 12:
      return { bytes: serialize.flush(), label: 'Flush' };
    default: {
      const count = rand() < 0.7 ? 1 : 2;
      const sql = Array.from({ length: count }, () => sqlStatement(rand)).join('; ');
      return { bytes: serialize.query(sql), label: `Query(${sql})` };
    }
  }
}

export function randomProgram(rand: Rand, length: number): FuzzMessage[] {
  const program = Array.from({ length }, () => randomMessage(rand));
  program.push({ bytes: serialize.sync(), label: 'Sync' });
  return program;
}

/** Splits concatenated frontend messages back into framed messages, as the proxy's framer does. */
export function frame(bytes: Buffer): WireMessage[] {
  const framer = new MessageFramer(1 << 30, false);
  framer.push(bytes);
  const out: WireMessage[] = [];
  for (let m = framer.next(); m; m = framer.next()) out.push(m);
  return out;
}

/**
 * Drives a PgSession straight against the real server (no daemon, no sockets of Airlock's): every
 * client message goes through the session, which decides what reaches the server; the policy
 * allows reads only unless the test says otherwise. The replies the client would get are kept in order.
 */
export class SessionDriver {
  readonly seen: WireMessage[] = [];
  readonly decided: { sql: string; class: string; allowed: boolean }[] = [];
  /** transaction status of the last ReadyForQuery */
  status = 'I';
  private readonly framer = new MessageFramer(1 << 30, false);
  private progress: (() => void)[] = [];
  private failure?: Error;
  private nextId = 0;

  private constructor(
    private readonly socket: net.Socket,
    readonly session: PgSession,
    private readonly allows: (question: Question) => boolean,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.framer.push(chunk);
      try {
        for (let m = this.framer.next(); m; m = this.framer.next()) this.onServer(m);
      } catch (err) {
        this.failure = err as Error;
      }
      const waiting = this.progress;
      this.progress = [];
      for (const w of waiting) w();
    });
  }

  static async connect(database: string, classifier: SqlClassifier, masker?: Masker, allows: (question: Question) => boolean = (q) => q.classification.class === 'read'): Promise<SessionDriver> {
    const socket = net.connect(5432, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const session = new PgSession({
      classify: (sql) => classifier.classify(sql),
      wrap: (s) => classifier.wrap(s),
      unknown: (reason) => classifier.unknown(reason),
      resolve: (s, besides, runs, how) => classifier.resolve(s, besides, runs, how),
      combine: (statements) => classifier.combine(statements),
      rowMasker: (columns, capture) => new RowMasker(columns ?? [], capture.masker!),
      copyPlan: (statement, capture, columnCount) => planCopyOut(statement, capture.masker!, statement.options?.columnNames, columnCount),
      masker: () => masker,
      now: () => process.hrtime.bigint(),
      limits: { resultRows: 5, resultBytes: 4096 },
      targetName: 'fuzz',
    });
    // the startup exchange happens before the session takes over, as in the proxy
    const hello = new MessageFramer(1 << 30, false);
    await new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        hello.push(chunk);
        for (let m = hello.next(); m; m = hello.next()) {
          if (m.type === 'E') reject(new Error('login failed'));
          if (m.type === 'Z') resolve();
        }
      });
      socket.write(serialize.startup({ user: 'postgres', database }));
    });
    socket.removeAllListeners('data');
    return new SessionDriver(socket, session, allows);
  }

  /** Runs the messages through the session, in order, waiting for the server where the session says so. */
  async run(messages: Buffer[]): Promise<void> {
    for (const msg of frame(Buffer.concat(messages))) {
      for (;;) {
        this.check();
        const step = this.session.fromClient(msg);
        if (step.kind === 'wait') {
          await this.nextProgress();
          continue;
        }
        if (step.kind === 'forward') this.socket.write(step.bytes);
        else if (step.kind === 'decide') this.socket.write(this.answer(step.question));
        else if (step.kind === 'terminate') this.socket.end(step.bytes);
        break;
      }
    }
  }

  /** Resolves once the server owes nothing more. */
  async settle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.session.outstanding > 0) {
      this.check();
      if (Date.now() > deadline) throw new Error(`the server still owes ${this.session.outstanding} replies`);
      await this.nextProgress(deadline - Date.now());
    }
    this.check();
  }

  /** A query sent straight to the server, past the session (it drops the unnamed statement, which the invariant allows). */
  async direct(sql: string): Promise<string[][]> {
    const rows: string[][] = [];
    let error: string | undefined;
    const done = new Promise<void>((resolve) => {
      this.onDirect = (m) => {
        if (m.type === 'D') {
          const values: string[] = [];
          const n = m.body.readInt16BE(0);
          let at = 2;
          for (let i = 0; i < n; i++) {
            const len = m.body.readInt32BE(at);
            at += 4;
            values.push(len < 0 ? '' : m.body.toString('utf8', at, at + len));
            at += Math.max(len, 0);
          }
          rows.push(values);
        } else if (m.type === 'E') error = m.body.toString('utf8');
        else if (m.type === 'Z') {
          this.onDirect = undefined;
          resolve();
        }
      };
    });
    this.socket.write(serialize.query(sql));
    await done;
    if (error) throw new Error(`direct query failed: ${error}`);
    return rows;
  }

  close(): void {
    this.socket.destroy();
  }

  private onDirect?: (m: WireMessage) => void;

  private onServer(m: WireMessage): void {
    if (this.onDirect) return this.onDirect(m);
    if (m.type === 'Z') this.status = String.fromCharCode(m.body[0]!);
    const step = this.session.fromServer(m);
    if (step.kind === 'blocked') throw new Error('the driver builds row maskers at once');
    if (step.bytes) this.seen.push(...frame(step.bytes).map((x) => x));
    this.session.takeFinished();
  }

  private answer(question: Question): Buffer {
    const allowed = question.refuse === undefined && this.allows(question);
    const id = `a${this.nextId++}`;
    const action = { id, kind: question.kind, target: 'fuzz' } as unknown as Action;
    // as the pipeline does: what cannot be decided on what it runs is refused whatever the policy
    const verdict: Verdict =
      question.refuse !== undefined
        ? { actionId: id, ruleId: 'uninspectable', allowed: false, via: 'policy', reason: question.refuse }
        : { actionId: id, ruleId: allowed ? 'reads' : 'no-writes', allowed, via: 'policy', reason: allowed ? 'reads only' : 'writes are refused' };
    this.decided.push({ sql: question.sql, class: question.classification.class, allowed });
    return this.session.answer(question, action, verdict);
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  private nextProgress(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply from the server within ${timeoutMs} ms (outstanding ${this.session.outstanding})`)), timeoutMs);
      this.progress.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
