import { parseSync } from 'libpg-query';

/**
 * The names a SQL text refers to, for column masking rules: every column named anywhere (a rule on
 * `password` must see `upper(password)`, `(SELECT password ...)`, `p.password`), and whether a whole
 * row or a star is taken, which carries every column of its relation whatever the names say. Pure;
 * the parser must be loaded (initSqlClassifier).
 */
export interface SqlReferences {
  /** column names referred to, last part only, as the parser folds them */
  columns: string[];
  /** a relation or alias used as a value (`SELECT t FROM secrets t`, `row_to_json(u)`) */
  wholeRow: boolean;
  /** a `*` or `t.*` anywhere (inside a subquery it can hand a masked column on under another name) */
  star: boolean;
  /** the parser rejected the text: nothing can be assumed */
  unreadable: boolean;
  /** relations named, schema-qualified when written so */
  tables: string[];
}

export function sqlReferences(sql: string): SqlReferences {
  const refs: SqlReferences = { columns: [], wholeRow: false, star: false, unreadable: false, tables: [] };
  const tables = new Set<string>();
  let tree: unknown;
  try {
    tree = parseSync(sql);
  } catch {
    refs.unreadable = true;
    return refs;
  }
  const columns = new Set<string>();
  const rangeNames = new Set<string>();
  const singles: string[] = [];
  const stack: unknown[] = [tree];
  // an explicit stack: a deeply nested expression must not exhaust the call stack
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (const item of node) stack.push(item);
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    const record = node as Record<string, unknown>;
    const columnRef = record['ColumnRef'] as { fields?: unknown[] } | undefined;
    if (columnRef) {
      const parts = (columnRef.fields ?? []).map((f) => (f as { String?: { sval?: string } }).String?.sval ?? ((f as { A_Star?: unknown }).A_Star !== undefined ? '*' : undefined));
      const last = parts.at(-1);
      if (last === '*') refs.star = true;
      else if (last !== undefined) {
        columns.add(last);
        if (parts.length === 1) singles.push(last);
      }
    }
    const rangeVar = record['RangeVar'] as { relname?: string; schemaname?: string; alias?: { aliasname?: string } } | undefined;
    if (rangeVar) {
      if (rangeVar.relname) {
        rangeNames.add(rangeVar.relname);
        tables.add(rangeVar.schemaname ? `${rangeVar.schemaname}.${rangeVar.relname}` : rangeVar.relname);
      }
      if (rangeVar.alias?.aliasname) rangeNames.add(rangeVar.alias.aliasname);
    }
    const alias = record['alias'] as { aliasname?: string } | undefined;
    if (alias?.aliasname) rangeNames.add(alias.aliasname);
    for (const value of Object.values(record)) if (value !== null && typeof value === 'object') stack.push(value);
  }
  refs.columns = [...columns];
  refs.tables = [...tables];
  refs.wholeRow = singles.some((name) => rangeNames.has(name));
  return refs;
}

/**
 * For a single SELECT whose FROM lists only tables (no subquery, function or join to one), the
 * column each output copies, by position: its name when the output is a plain column reference,
 * undefined when it is computed. Undefined as a whole when the query has another shape (a `*`, a
 * set operation, a subquery in FROM): then outputs cannot be told apart from the text alone.
 */
export function directColumnSources(sql: string): (string | undefined)[] | undefined {
  let tree: { stmts?: { stmt?: Record<string, unknown> }[] };
  try {
    tree = parseSync(sql) as typeof tree;
  } catch {
    return undefined;
  }
  const select = tree.stmts?.length === 1 ? (tree.stmts[0]!.stmt?.['SelectStmt'] as Record<string, unknown> | undefined) : undefined;
  if (!select || select['op'] !== 'SETOP_NONE' || select['withClause'] !== undefined) return undefined;
  const from = (select['fromClause'] as Record<string, unknown>[] | undefined) ?? [];
  if (!from.every((item) => 'RangeVar' in item)) return undefined;
  // a bare name that is a table or its alias is that whole row, not a column
  const rangeNames = new Set(from.flatMap((item) => {
    const rv = item['RangeVar'] as { relname?: string; alias?: { aliasname?: string } };
    return [rv.relname, rv.alias?.aliasname].filter((n): n is string => n !== undefined);
  }));
  const targets = (select['targetList'] as { ResTarget?: { val?: Record<string, unknown> } }[] | undefined) ?? [];
  const sources: (string | undefined)[] = [];
  for (const target of targets) {
    const ref = target.ResTarget?.val?.['ColumnRef'] as { fields?: { String?: { sval?: string }; A_Star?: unknown }[] } | undefined;
    if (ref?.fields?.some((f) => f.A_Star !== undefined)) return undefined;
    const name = ref?.fields?.at(-1)?.String?.sval;
    sources.push(name !== undefined && !(ref!.fields!.length === 1 && rangeNames.has(name)) ? name : undefined);
  }
  return sources;
}
