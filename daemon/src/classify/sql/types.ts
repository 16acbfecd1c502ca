/**
 * What the SQL classifier reports. `class` is what the default policy matches on; the other fields
 * are attributes a policy may also match on, and reasons a human reads when a statement is held.
 */
export type SqlClass = 'read' | 'write' | 'ddl' | 'privileged' | 'unknown';

export interface SqlStatementInfo {
  /** this statement's source text, trimmed */
  text: string;
  /** 'SELECT', 'INSERT', 'CREATE TABLE', 'COPY', 'DO', 'EXECUTE', ... */
  command: string;
  class: SqlClass;
  /** relations touched (read or written), as written: 'public.users' or 'users'; unquoted names are lower case */
  tables: string[];
  /** relations modified: rows written, locked or truncated, or the relation created, altered or dropped */
  writesTables: string[];
  /** an UPDATE or DELETE without WHERE (a CTE's included), or a TRUNCATE */
  noWhere: boolean;
  /** dangerous or side-effecting functions called, lower case, schema stripped */
  functions: string[];
  /** relations read by what runs now; a definition's (a view's query, a routine body) are not */
  readsTables: string[];
  /**
   * every function called where it runs, as written: parts joined by '.', unquoted names lower
   * case (the parser folds them), quoted ones as quoted, the schema kept when given
   */
  calls: string[];
  /** names written as `x.name` or `(x).name`: the server calls name(x) when x has no column of that name */
  fieldCalls: string[];
  /** operators used, as written (OPERATOR(schema.op) keeps the schema); a user type can back any of them with a function */
  operators: string[];
  /** types cast to explicitly (x::t, CAST(x AS t)), as written */
  casts: string[];
  /**
   * a DO block or CALL: code the statement's text does not show runs. applyCatalogFacts also sets
   * it when a call or a relation reaches a VOLATILE function that is not built in.
   */
  runsUserCode: boolean;
  /**
   * set by applyCatalogFacts: a function that is not built in and reads tables (or whose body cannot
   * be read) is reached by a call, an operator, a cast or a view, so a computed value may be any
   * column that function reads
   */
  callsUserFunctions?: boolean;
  /** short human reasons for the class */
  reasons: string[];
  /** PREPARE name AS <statement> */
  prepares?: { name: string; statement: SqlStatementInfo };
  /**
   * EXECUTE name (alone, or inside EXPLAIN ANALYZE, CREATE TABLE AS, ...): the class here is
   * 'unknown'; the caller resolves it from the prepared statements it knows.
   */
  executes?: string;
  /**
   * Set with `executes`: the class of the rest of the statement, so that the resolved class is
   * combineClasses([classBesidesExecute, prepared.class]). CREATE TABLE x AS EXECUTE p stays ddl
   * even when p is a read; substituting p's class alone would lose that.
   */
  classBesidesExecute?: SqlClass;
  /** DEALLOCATE name, or '*' for DEALLOCATE ALL (DISCARD ALL too) */
  deallocates?: string;
  /**
   * FETCH or MOVE of a cursor or portal by name: it runs that portal's query, so the caller resolves
   * the class from the portal it knows (a protocol-level portal may hold a DELETE ... RETURNING)
   */
  fetches?: string;
  /** DECLARE name CURSOR: a portal named `name` exists once it completes */
  declares?: { name: string; holdable: boolean };
  /** CLOSE name, or '*' for CLOSE ALL (DISCARD ALL too) */
  closesPortal?: string;
}

export interface SqlClassification {
  /** the strictest class of the statements: privileged > unknown > ddl > write > read */
  class: SqlClass;
  statements: SqlStatementInfo[];
  statementCount: number;
  tables: string[];
  writesTables: string[];
  functions: string[];
  /** the statements' calls, as SqlStatementInfo.calls */
  calls: string[];
  /** some statement runs user code (SqlStatementInfo.runsUserCode); also true for text that could not be classified */
  runsUserCode: boolean;
  /** some statement reaches a function that is not built in (SqlStatementInfo.callsUserFunctions) */
  callsUserFunctions?: boolean;
  commands: string[];
  noWhere: boolean;
  /** the parser rejected the text (class 'unknown', no statements) */
  parseError?: string;
}

/**
 * Strictness, lowest first. `unknown` ranks above `ddl` and `write` so that a part the classifier
 * could not see into is never hidden behind one it could.
 */
const STRICTNESS: Record<SqlClass, number> = { read: 0, write: 1, ddl: 2, unknown: 3, privileged: 4 };

/** The strictest of the classes; an empty list is 'read' (nothing runs). */
export function combineClasses(classes: readonly SqlClass[]): SqlClass {
  let strictest: SqlClass = 'read';
  for (const c of classes) if (STRICTNESS[c] > STRICTNESS[strictest]) strictest = c;
  return strictest;
}
