import type { AttributeValue } from '@airlock/shared';
import { SqlClassifierCache, classificationOf, combineClasses, initSqlClassifier, sqlAttributes, unclassifiable, type SqlClassification, type SqlStatementInfo } from '../../classify/sql/index.js';

/**
 * The classifier as the proxy uses it: cached, keyed so that statements differing only in numeric
 * constants (pgbench's `WHERE aid = 12345`) share one parse, and with SQL-level EXECUTE resolved
 * from the statements the connection PREPAREd.
 */
export interface ClassificationSummary {
  attributes: Record<string, AttributeValue>;
  statements: { command: string; class: string; tables: string[]; reasons: string[] }[];
}

export class SqlClassifier {
  private readonly summaries = new WeakMap<SqlClassification, ClassificationSummary>();

  private constructor(private readonly cache: SqlClassifierCache) {}

  static async create(maxEntries = 10_000): Promise<SqlClassifier> {
    await initSqlClassifier();
    return new SqlClassifier(new SqlClassifierCache(maxEntries));
  }

  classify(sql: string, prepared: ReadonlyMap<string, SqlClassification>): SqlClassification {
    const classification = this.cache.classify(cacheKey(sql));
    if (!classification.statements.some((s) => s.executes !== undefined)) return classification;
    // EXECUTE name runs what PREPARE name said; a name this connection never prepared stays unknown
    const statements: SqlStatementInfo[] = classification.statements.map((s) => {
      if (s.executes === undefined) return s;
      const target = prepared.get(s.executes.toLowerCase());
      if (!target) return { ...s, class: 'unknown', reasons: [...s.reasons, `EXECUTE of "${s.executes}", which this connection did not PREPARE`] };
      const resolved = combineClasses(s.classBesidesExecute ? [s.classBesidesExecute, target.class] : [target.class]);
      const union = (a: string[], b: string[]) => [...new Set([...a, ...b])];
      return {
        ...s,
        class: resolved,
        tables: union(s.tables, target.tables),
        writesTables: target.writesTables,
        functions: target.functions,
        noWhere: target.noWhere,
        // the catalog resolves what the prepared statement calls and reads as if it were written here
        readsTables: union(s.readsTables, target.statements.flatMap((t) => t.readsTables)),
        calls: union(s.calls, target.calls),
        fieldCalls: union(s.fieldCalls, target.statements.flatMap((t) => t.fieldCalls)),
        operators: union(s.operators, target.statements.flatMap((t) => t.operators)),
        casts: union(s.casts, target.statements.flatMap((t) => t.casts)),
        runsUserCode: s.runsUserCode || target.runsUserCode,
        reasons: [...s.reasons, `EXECUTE runs the prepared statement "${s.executes}"`],
      };
    });
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
   * The policy attributes and the per-statement digest recorded with an action, worked out once per
   * classification (cached classifications are shared, so most statements reuse them).
   */
  summary(c: SqlClassification): ClassificationSummary {
    let summary = this.summaries.get(c);
    if (!summary) {
      summary = {
        attributes: sqlAttributes(c),
        statements: c.statements.map((s) => ({ command: s.command, class: s.class, tables: s.tables, reasons: s.reasons })),
      };
      this.summaries.set(c, summary);
    }
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
