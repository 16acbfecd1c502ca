import { loadModule } from 'libpg-query';
import type { AttributeValue } from '@airlock/shared';
import { classifyStatement, parseStatements } from './analysis.js';
import { combineClasses } from './types.js';
import type { SqlClass, SqlClassification, SqlStatementInfo } from './types.js';

let loading: Promise<void> | undefined;
let ready = false;

/** Loads PostgreSQL's parser (WebAssembly) once; later calls return the same promise. */
export function initSqlClassifier(): Promise<void> {
  loading ??= loadModule().then(
    () => {
      ready = true;
    },
    (error: unknown) => {
      // let a later call try again rather than keep a failed load forever
      loading = undefined;
      throw error;
    },
  );
  return loading;
}

function unique<T>(items: Iterable<T>): T[] {
  return [...new Set(items)];
}

/** What cannot be classified: unknown, with the reason. */
export function unclassifiable(reason: string): SqlClassification {
  // what could not be read may run anything
  return { class: 'unknown', statements: [], statementCount: 0, tables: [], writesTables: [], functions: [], calls: [], runsUserCode: true, commands: [], noWhere: false, parseError: reason };
}

/** The classification of a list of classified statements: the strictest class, the union of the rest. */
export function combine(statements: SqlStatementInfo[]): SqlClassification {
  return {
    class: combineClasses(statements.map((s) => s.class)),
    statements,
    statementCount: statements.length,
    tables: unique(statements.flatMap((s) => s.tables)),
    writesTables: unique(statements.flatMap((s) => s.writesTables)),
    functions: unique(statements.flatMap((s) => s.functions)),
    calls: unique(statements.flatMap((s) => s.calls)),
    runsUserCode: statements.some((s) => s.runsUserCode),
    ...(statements.some((s) => s.callsUserFunctions) ? { callsUserFunctions: true } : {}),
    commands: unique(statements.map((s) => s.command)),
    noWhere: statements.some((s) => s.noWhere),
  };
}

/**
 * Classifies SQL text (one statement or several) with PostgreSQL's own parser. Pure: no I/O.
 * Text with no statement at all (empty, blanks, comments, lone semicolons) runs nothing and is a
 * read with statementCount 0. Text the parser rejects is unknown with parseError set. Throws only
 * when initSqlClassifier has not finished.
 */
export function classifySql(sql: string): SqlClassification {
  if (!ready) throw new Error('classifySql: the SQL parser is not loaded; await initSqlClassifier() first');
  // the server reads a query string up to its first NUL; the parser here might not
  if (sql.includes('\0')) return unclassifiable('the text contains a NUL character');
  // libpg-query rejects an empty string outright; blanks alone run nothing
  if (sql.trim() === '') return combine([]);
  let parsed;
  try {
    parsed = parseStatements(sql);
  } catch (error) {
    return unclassifiable(error instanceof Error ? error.message : String(error));
  }
  try {
    return combine(parsed.map((statement) => classifyStatement(statement)));
  } catch (error) {
    // a tree too deep for the stack, or a shape nothing here expected: fail closed
    return unclassifiable(`the classifier failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The attributes policy rules match on. */
export function sqlAttributes(c: SqlClassification): Record<string, AttributeValue> {
  const classes: SqlClass[] = c.parseError !== undefined ? ['unknown'] : unique(c.statements.map((s) => s.class));
  return {
    class: c.class,
    classes,
    tables: c.tables,
    writesTables: c.writesTables,
    functions: c.functions,
    commands: c.commands,
    statementCount: c.statementCount,
    noWhere: c.noWhere,
    runsUserCode: c.runsUserCode,
  };
}
