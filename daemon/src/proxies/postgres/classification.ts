import type { AttributeValue } from '@airlock/shared';
import { ParsePool, type OffThreadParse } from './parse-pool.js';
import { SqlClassifierCache, classificationOf, combineClasses, initSqlClassifier, sqlActionSummary, sqlAttributes, unclassifiable, type SqlClass, type SqlClassification, type SqlStatementInfo } from '../../classify/sql/index.js';

/**
 * The classifier as the proxy uses it: cached, keyed so that statements differing only in numeric
 * constants (pgbench's `WHERE aid = 12345`) share one parse.
 */
export interface ClassificationSummary {
  attributes: Record<string, AttributeValue>;
  statements: { command: string; class: SqlClass; tables: string[]; writesTables: string[]; reasons: string[] }[];
  /** statements past the digest's budget, counted rather than listed */
  statementsOmitted?: number;
}

/**
 * Cache sizes: 10,000 statements, none longer than 100,000 characters, 32 M characters of keys in
 * all. The count alone let 10,000 keys of 100,000 two-byte characters hold 2 GB.
 */
const CACHE_ENTRIES = 10_000;
const CACHE_KEY_CHARS = 100_000;
const CACHE_TOTAL_CHARS = 32 * 1024 * 1024;

export class SqlClassifier {
  private readonly summaries = new WeakMap<SqlClassification, { maxBytes: number; summary: ClassificationSummary }>();
  private pool?: ParsePool;

  private constructor(private readonly cache: SqlClassifierCache) {}

  static async create(maxEntries = CACHE_ENTRIES): Promise<SqlClassifier> {
    await initSqlClassifier();
    return new SqlClassifier(new SqlClassifierCache(maxEntries, CACHE_KEY_CHARS, CACHE_TOTAL_CHARS));
  }

  /** The text's own classification; EXECUTE and FETCH are resolved by the session, which knows what they run. */
  classify(sql: string): SqlClassification {
    // a text too long to be cached is parsed as it is: its key would be one more copy of it, for nothing
    return this.cache.classify(sql.length > CACHE_KEY_CHARS ? sql : cacheKey(sql));
  }

  /**
   * A Query or Parse message's classification, parsed by another thread (see parse-pool.ts), with the
   * text its action keeps. Rejects when the thread fails or times out: the caller refuses the statement.
   */
  classifyOffThread(type: 'Q' | 'P', body: Buffer, textBytes: number, references: boolean): Promise<OffThreadParse> {
    this.pool ??= new ParsePool(ParsePool.defaultOptions());
    return this.pool.classify(type, body, textBytes, references);
  }

  /** A statement that runs another (EXECUTE of a prepared statement, FETCH from a portal): what it runs, combined with its own class. */
  resolve(s: SqlStatementInfo, besides: SqlClass, runs: SqlClassification, how: string): SqlStatementInfo {
    const union = (a: string[], b: string[]) => [...new Set([...a, ...b])];
    const inner = (pick: (t: SqlStatementInfo) => string[]) => union(pick(s), runs.statements.flatMap(pick));
    return {
      ...s,
      class: combineClasses([besides, runs.class]),
      tables: union(s.tables, runs.tables),
      writesTables: union(s.writesTables, runs.writesTables),
      functions: union(s.functions, runs.functions),
      noWhere: s.noWhere || runs.noWhere,
      // the catalog resolves what the prepared statement or portal calls and reads as if it were written here
      readsTables: inner((t) => t.readsTables),
      calls: union(s.calls, runs.calls),
      fieldCalls: inner((t) => t.fieldCalls),
      operators: inner((t) => t.operators),
      casts: inner((t) => t.casts),
      runsUserCode: s.runsUserCode || runs.runsUserCode,
      reasons: [...s.reasons.filter((r) => !r.endsWith('which the caller resolves')), how, ...runs.statements.flatMap((r) => r.reasons)],
    };
  }

  combine(statements: SqlStatementInfo[]): SqlClassification {
    return classificationOf(statements);
  }

  /** A PREPAREd statement's own classification, for a later EXECUTE. */
  wrap(statement: SqlStatementInfo): SqlClassification {
    return classificationOf([statement]);
  }

  unknown(reason: string): SqlClassification {
    return unclassifiable(reason);
  }

  /**
   * The action summary: every statement by command, object and class (see classify/sql/summary.ts).
   * `whole` is false when `sql` is only the head of the statement.
   */
  actionSummary(sql: string, c: SqlClassification, whole = true): string {
    return sqlActionSummary(sql, c, undefined, whole);
  }

  /**
   * The policy attributes and the per-statement digest recorded with an action, worked out once per
   * classification (cached classifications are shared, so most statements reuse them). The digest
   * lists statements until about `maxBytes` of names and reasons, then counts the rest: 500,000
   * statements in one text would otherwise be 500,000 entries in every event and record of it.
   */
  summary(c: SqlClassification, maxBytes: number): ClassificationSummary {
    const known = this.summaries.get(c);
    if (known && known.maxBytes === maxBytes) return known.summary;
    const summary: ClassificationSummary = { attributes: sqlAttributes(c), statements: [] };
    let bytes = 0;
    for (const s of c.statements) {
      bytes += s.command.length + 32;
      for (const list of [s.tables, s.writesTables, s.reasons]) for (const item of list) bytes += item.length + 4;
      if (bytes > maxBytes) {
        summary.statementsOmitted = c.statements.length - summary.statements.length;
        break;
      }
      summary.statements.push({ command: s.command, class: s.class, tables: s.tables, writesTables: s.writesTables, reasons: s.reasons });
    }
    this.summaries.set(c, { maxBytes, summary });
    return summary;
  }
}

/**
 * Numeric constants never change what a statement does, so they are replaced by 0 for the cache
 * key (the key is itself valid SQL and is what gets parsed). Text inside quotes is left alone, and
 * anything with a dollar-quoted body (a DO block, a function) or a backslash is keyed by its exact text.
 */
export function cacheKey(sql: string): string {
  // E'...' strings may escape quotes with a backslash; rather than lex them, key such text exactly
  if (sql.includes('\\')) return sql;
  let out = '';
  let last = 0;
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 39 /* ' */ || c === 34 /* " */) {
      i = skipQuoted(sql, i, c);
    } else if (c === 45 /* - */ && sql.charCodeAt(i + 1) === 45) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end;
    } else if (c === 47 /* / */ && sql.charCodeAt(i + 1) === 42) {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === 36 /* $ */) {
      if (isDigit(sql.charCodeAt(i + 1))) {
        i++;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
      } else return sql;
    } else if (isDigit(c) && !isIdentChar(sql.charCodeAt(i - 1))) {
      let j = i;
      while (j < n && (isDigit(sql.charCodeAt(j)) || sql.charCodeAt(j) === 46 /* . */ || sql.charCodeAt(j) === 95 /* _ */)) j++;
      if (j < n && (sql.charCodeAt(j) === 101 || sql.charCodeAt(j) === 69) /* e E */) {
        let k = j + 1;
        if (sql.charCodeAt(k) === 43 || sql.charCodeAt(k) === 45) k++;
        if (isDigit(sql.charCodeAt(k))) {
          j = k;
          while (j < n && isDigit(sql.charCodeAt(j))) j++;
        }
      }
      if (j < n && isIdentChar(sql.charCodeAt(j))) {
        // 0x1F, 1abc: not a plain number; leave it
        i = j;
        continue;
      }
      out += sql.slice(last, i) + '0';
      last = j;
      i = j;
    } else i++;
  }
  return last === 0 ? sql : out + sql.slice(last);
}

function skipQuoted(sql: string, start: number, quote: number): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql.charCodeAt(i) === quote) {
      if (sql.charCodeAt(i + 1) === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return i;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isIdentChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c > 127;
}
