import { parsePlPgSQLSync } from 'libpg-query';

/**
 * The SQL inside a PL/pgSQL body, as PostgreSQL's own PL/pgSQL compiler (libpg-query's
 * parsePlPgSQL) splits it. Every SQL statement and expression of a body is a PLpgSQL_expr node;
 * what kind of text it holds follows from its parse mode and from where it sits.
 */
export type PlpgsqlPiece =
  /** a whole statement: SELECT, INSERT, PERFORM's query, a cursor's query, CALL, DO, ... */
  | { kind: 'statement'; query: string }
  /** an expression, evaluated by the server as `SELECT <expression>` */
  | { kind: 'expression'; query: string }
  /** `target := value` */
  | { kind: 'assignment'; query: string }
  /** EXECUTE, FOR ... IN EXECUTE, OPEN ... FOR EXECUTE, RETURN QUERY EXECUTE: an expression whose value is SQL */
  | { kind: 'dynamic'; query: string };

export interface PlpgsqlBody {
  pieces: PlpgsqlPiece[];
  /** node types this classifier does not know, or parse modes it cannot read */
  unrecognized: string[];
}

// The server's RawParseMode values that PL/pgSQL uses.
const RAW_PARSE_DEFAULT = 0;
const RAW_PARSE_PLPGSQL_EXPR = 2;
const RAW_PARSE_PLPGSQL_ASSIGN1 = 3;
const RAW_PARSE_PLPGSQL_ASSIGN3 = 5;

/** Every node type libpg-query's PL/pgSQL dump writes; anything else makes the body unknown. */
const KNOWN_NODES = new Set([
  'PLpgSQL_function',
  'PLpgSQL_var',
  'PLpgSQL_row',
  'PLpgSQL_rec',
  'PLpgSQL_recfield',
  'PLpgSQL_arrayelem',
  'PLpgSQL_type',
  'PLpgSQL_expr',
  'PLpgSQL_stmt_block',
  'PLpgSQL_exception_block',
  'PLpgSQL_exception',
  'PLpgSQL_condition',
  'PLpgSQL_stmt_assign',
  'PLpgSQL_stmt_if',
  'PLpgSQL_if_elsif',
  'PLpgSQL_stmt_case',
  'PLpgSQL_case_when',
  'PLpgSQL_stmt_loop',
  'PLpgSQL_stmt_while',
  'PLpgSQL_stmt_fori',
  'PLpgSQL_stmt_fors',
  'PLpgSQL_stmt_forc',
  'PLpgSQL_stmt_foreach_a',
  'PLpgSQL_stmt_exit',
  'PLpgSQL_stmt_return',
  'PLpgSQL_stmt_return_next',
  'PLpgSQL_stmt_return_query',
  'PLpgSQL_stmt_raise',
  'PLpgSQL_raise_option',
  'PLpgSQL_stmt_execsql',
  'PLpgSQL_stmt_dynexecute',
  'PLpgSQL_stmt_dynfors',
  'PLpgSQL_stmt_getdiag',
  'PLpgSQL_diag_item',
  'PLpgSQL_stmt_open',
  'PLpgSQL_stmt_fetch',
  'PLpgSQL_stmt_close',
  'PLpgSQL_stmt_perform',
  'PLpgSQL_stmt_call',
  'PLpgSQL_stmt_commit',
  'PLpgSQL_stmt_rollback',
  'PLpgSQL_stmt_assert',
]);

/** Where an expression's value is itself SQL text to run. */
function isDynamicSql(parentNode: string, field: string): boolean {
  if (field === 'dynquery') return true;
  return field === 'query' && (parentNode === 'PLpgSQL_stmt_dynexecute' || parentNode === 'PLpgSQL_stmt_dynfors');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Compiles the PL/pgSQL of one DO or CREATE FUNCTION statement (its full text) and lists the SQL
 * inside. Throws what the PL/pgSQL compiler throws (syntax errors, unknown variables).
 */
export function plpgsqlBody(statementText: string): PlpgsqlBody {
  const result: unknown = parsePlPgSQLSync(statementText);
  const body: PlpgsqlBody = { pieces: [], unrecognized: [] };
  const functions = isRecord(result) && Array.isArray(result['plpgsql_funcs']) ? result['plpgsql_funcs'] : [];
  if (functions.length !== 1) {
    body.unrecognized.push(`${functions.length} PL/pgSQL functions in one statement`);
    return body;
  }
  visit(functions, '', '', body);
  return body;
}

function visit(value: unknown, parentNode: string, field: string, body: PlpgsqlBody): void {
  if (Array.isArray(value)) {
    for (const item of value) visit(item, parentNode, field, body);
    return;
  }
  if (!isRecord(value)) return;
  const keys = Object.keys(value);
  const nodeType = keys.length === 1 && keys[0] !== undefined && keys[0].startsWith('PLpgSQL_') ? keys[0] : undefined;
  if (nodeType === undefined) {
    for (const [childField, child] of Object.entries(value)) visit(child, parentNode, childField, body);
    return;
  }
  if (!KNOWN_NODES.has(nodeType)) {
    body.unrecognized.push(nodeType);
    return;
  }
  const node = value[nodeType];
  if (nodeType === 'PLpgSQL_expr') {
    expression(node, isDynamicSql(parentNode, field), body);
    return;
  }
  if (isRecord(node)) for (const [childField, child] of Object.entries(node)) visit(child, nodeType, childField, body);
}

function expression(node: unknown, dynamic: boolean, body: PlpgsqlBody): void {
  const query = isRecord(node) && typeof node['query'] === 'string' ? node['query'] : undefined;
  const mode = isRecord(node) && typeof node['parseMode'] === 'number' ? node['parseMode'] : RAW_PARSE_DEFAULT;
  if (query === undefined) {
    body.unrecognized.push('PL/pgSQL expression without text');
    return;
  }
  if (dynamic) body.pieces.push({ kind: 'dynamic', query });
  else if (mode === RAW_PARSE_DEFAULT) body.pieces.push({ kind: 'statement', query });
  else if (mode === RAW_PARSE_PLPGSQL_EXPR) body.pieces.push({ kind: 'expression', query });
  else if (mode >= RAW_PARSE_PLPGSQL_ASSIGN1 && mode <= RAW_PARSE_PLPGSQL_ASSIGN3) body.pieces.push({ kind: 'assignment', query });
  else body.unrecognized.push(`PL/pgSQL parse mode ${mode}`);
}
