import {
  applyCatalogFacts,
  classificationOf,
  classifyRoutineBody,
  combineClasses,
  initSqlClassifier,
  nameCandidates,
  namesOf,
  unclassifiable,
  type CatalogDependency,
  type CatalogFacts,
  type CatalogNames,
  type FunctionFact,
  type RelationFact,
  type SqlClassification,
  type Volatility,
} from '../../classify/sql/index.js';
import { parseStatements } from '../../classify/sql/analysis.js';
import type { CatalogConnection, CatalogConnections, DescribedColumn } from './catalog-connection.js';
import { BUILTIN_BINARY_TYPES, USER_TYPES_QUERY, userTypesFromCatalog, type BinaryTypes, type UserTypeRow } from './binary-values.js';

/**
 * What the server's catalog knows, per target and database, for the proxy's hot path: facts about
 * functions, operators and relations for classification (classify/sql/catalog-facts.ts says how
 * they change a class) and where result columns come from, for column masking rules.
 *
 * Every look-up returns its value synchronously when the cache holds it, else a Promise: a
 * statement whose facts are all cached costs no promise and no round trip. Cached facts live for
 * `ttlMs` (30 s by default), so a change made outside Airlock is seen within that time;
 * `invalidate()` forgets everything at once, for the proxy to call when a DDL or privileged
 * statement completes through Airlock. A name the catalog does not have is never cached: the
 * statement naming it fails on the server, and the object may be created a moment later.
 * (Names after `x.`, operator names and cast target types are the exception: that none is a user function is the
 * common case, and is kept like any fact.)
 *
 * Wiring, per target: `new TargetCatalogs(new CatalogConnections(upstreamSettings(target, context)))` when
 * the listener starts, `catalogs.get(agentDatabase)` per agent connection, `catalogs.close()` when
 * the listener closes; `catalog.invalidate()` after a ddl statement completes, `invalidateAll()`
 * after a privileged one (roles are shared by the server's databases). The catalog runs as the
 * target's own login role: what that role cannot see, it cannot judge.
 */

export interface TargetCatalogOptions {
  /** how long a fact is trusted */
  ttlMs: number;
  /** entries kept per cache, least recently used dropped first */
  maxEntries: number;
  /** look-up rounds for one resolution (each follows what the previous one found) before it counts as unknown */
  maxRounds: number;
  /** views followed to their base columns, at most this deep */
  maxViewDepth: number;
  now(): number;
}

export const DEFAULT_TARGET_CATALOG_OPTIONS: TargetCatalogOptions = { ttlMs: 30_000, maxEntries: 5000, maxRounds: 12, maxViewDepth: 8, now: () => Date.now() };

/** A base table column a result column's values come from. */
export interface BaseColumn {
  schema: string;
  table: string;
  column: string;
}

/** Where a result column comes from. */
export interface ColumnSource extends BaseColumn {
  /** pg_class.relkind of `table`: r table, v view, m materialized view, ... */
  kind: string;
  /**
   * the base table columns behind the value: the column itself for a table's column; for a
   * view's, what it copies or, when computed, every base column its definition references; for a
   * whole-row value (column '*'), every column of the row
   */
  origins: BaseColumn[];
  /** the value is computed from `origins` (an expression, a whole row), not one of them copied */
  computed: boolean;
  /** false when a chain of views was deeper than maxViewDepth: `origins` may miss some */
  complete: boolean;
}

export interface RelationColumns {
  schema: string;
  table: string;
  kind: string;
  columns: string[];
  /** for a view: every base table column its definition uses, through views it reads, whole rows as all their columns */
  references: string[];
}

export interface CompositeFields {
  fields: { name: string; typeOid: number }[];
  /** the relation whose row type this is; absent for a type made by CREATE TYPE ... AS */
  table?: { schema: string; table: string };
  /** the type asked about is an array of this composite */
  array: boolean;
}

interface Entry<V> {
  value: V;
  fetchedAt: number;
}

/** A bounded map whose entries expire; a hit becomes the newest (Map keeps insertion order). */
class ExpiringCache<K, V> {
  private readonly entries = new Map<K, Entry<V>>();

  constructor(private readonly options: TargetCatalogOptions) {}

  get(key: K, now: number): Entry<V> | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (now - entry.fetchedAt >= this.options.ttlMs) return undefined;
    this.entries.set(key, entry);
    return entry;
  }

  set(key: K, value: V, fetchedAt: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, fetchedAt });
    if (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

// ---- catalog queries: static text, values only ever as parameters ----

/** One row per function: identity, how it runs, its body's definition and what it depends on. */
const FUNCTION_COLUMNS = `p.oid::int8, n.nspname, p.proname, p.provolatile, p.prosecdef, l.lanname, l.lanpltrusted,
  pg_get_userbyid(p.proowner), p.prokind, p.pronargs,
  (SELECT e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' LIMIT 1),
  CASE WHEN p.prokind IN ('f', 'p') AND l.lanname IN ('sql', 'plpgsql') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    THEN pg_get_functiondef(p.oid) END,
  COALESCE((SELECT json_agg(json_build_object('kind', 'function', 'oid', COALESCE(o.oprcode::oid, d.refobjid)::int8, 'mode', 'read', 'via', 'definition'))
    FROM pg_depend d LEFT JOIN pg_operator o ON d.refclassid = 'pg_operator'::regclass AND o.oid = d.refobjid
    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'n'
      AND d.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass)), '[]')`;
const FUNCTION_JOINS = `JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang`;
/** pg_temp names the session's own temporary schema, which is pg_temp_N in the catalog */
const SCHEMA_MATCHES = (column: string) => `(w.schema = '' OR ${column} = w.schema OR (w.schema = 'pg_temp' AND ${column} LIKE 'pg\\_temp\\_%'))`;
const CANDIDATES = `jsonb_to_recordset($1::jsonb) AS w(ord int, schema text, name text)`;

const FUNCTIONS_BY_NAME = `SELECT w.ord, ${FUNCTION_COLUMNS} FROM ${CANDIDATES} JOIN pg_proc p ON p.proname = w.name ${FUNCTION_JOINS} WHERE ${SCHEMA_MATCHES('n.nspname')}`;
const FUNCTIONS_BY_OID = `SELECT p.oid::int8, ${FUNCTION_COLUMNS} FROM jsonb_array_elements_text($1::jsonb) AS w(oid) JOIN pg_proc p ON p.oid = w.oid::oid ${FUNCTION_JOINS}`;
/**
 * Operators whose own schema or whose function is not built in; built-in ones run built-in
 * functions. The planner may run an operator's commutator (1 === x as x === 1) or negator
 * (NOT a === b as a !== b) instead, so theirs count too.
 */
const OPERATORS_BY_NAME = `SELECT w.ord, ${FUNCTION_COLUMNS} FROM ${CANDIDATES}
  JOIN pg_operator written ON written.oprname = w.name JOIN pg_namespace opn ON opn.oid = written.oprnamespace
  JOIN pg_operator op ON op.oid IN (written.oid, written.oprcom, written.oprnegate)
  JOIN pg_proc p ON p.oid = op.oprcode ${FUNCTION_JOINS}
  WHERE ${SCHEMA_MATCHES('opn.nspname')}
    AND (n.nspname NOT IN ('pg_catalog', 'information_schema') OR opn.nspname NOT IN ('pg_catalog', 'information_schema'))`;

/** Casts to a type of that name whose function is a user function; built-in casts run built-in functions. */
const CASTS_BY_TYPE_NAME = `SELECT w.ord, ${FUNCTION_COLUMNS} FROM ${CANDIDATES}
  JOIN pg_type t ON t.typname = w.name JOIN pg_namespace tn ON tn.oid = t.typnamespace
  JOIN pg_cast c ON c.casttarget = t.oid
  JOIN pg_proc p ON p.oid = c.castfunc ${FUNCTION_JOINS}
  WHERE ${SCHEMA_MATCHES('tn.nspname')} AND n.nspname NOT IN ('pg_catalog', 'information_schema')`;

/**
 * A relation and what it reaches. `side` says when: 'read' deps count whenever the relation is
 * read, 'write' ones only when it is written. `mode` is how a reached relation is used.
 */
const RELATION_DEPENDENCIES = `
coltypes AS (
  SELECT att.attrelid AS rel, att.atttypid AS typid FROM target t JOIN pg_attribute att ON att.attrelid = t.oid AND att.attnum > 0 AND NOT att.attisdropped
  UNION
  SELECT ct.rel, ty.typbasetype FROM coltypes ct JOIN pg_type ty ON ty.oid = ct.typid AND ty.typtype = 'd'
),
sources AS (
  SELECT t.oid AS rel, 'pg_rewrite'::regclass AS classid, r.oid AS objid, 'view definition' AS via, 'read' AS side, 'read' AS relmode
    FROM target t JOIN pg_rewrite r ON r.ev_class = t.oid WHERE r.ev_type = '1' AND t.relkind = 'v'
  UNION ALL
  SELECT t.oid, 'pg_rewrite'::regclass, r.oid, CASE WHEN r.ev_type = '1' THEN 'view definition' ELSE 'rule ' || r.rulename END, 'write',
         CASE WHEN r.ev_type = '1' AND t.relkind = 'm' THEN 'read' ELSE 'write' END
    FROM target t JOIN pg_rewrite r ON r.ev_class = t.oid
  UNION ALL
  SELECT t.oid, 'pg_policy'::regclass, p.oid, 'policy ' || p.polname, 'read', 'read' FROM target t JOIN pg_policy p ON p.polrelid = t.oid
  UNION ALL
  SELECT t.oid, 'pg_trigger'::regclass, g.oid, 'trigger ' || g.tgname, 'write', 'write' FROM target t JOIN pg_trigger g ON g.tgrelid = t.oid
  UNION ALL
  SELECT t.oid, 'pg_attrdef'::regclass, a.oid, 'default of column ' || att.attname, 'write', 'read'
    FROM target t JOIN pg_attrdef a ON a.adrelid = t.oid JOIN pg_attribute att ON att.attrelid = a.adrelid AND att.attnum = a.adnum
  UNION ALL
  SELECT t.oid, 'pg_constraint'::regclass, k.oid, 'constraint ' || k.conname, 'write', 'read' FROM target t JOIN pg_constraint k ON k.conrelid = t.oid
  UNION ALL
  SELECT ct.rel, 'pg_constraint'::regclass, k.oid, 'domain ' || ty.typname, 'write', 'read'
    FROM coltypes ct JOIN pg_type ty ON ty.oid = ct.typid AND ty.typtype = 'd' JOIN pg_constraint k ON k.contypid = ty.oid
  UNION ALL
  SELECT t.oid, 'pg_class'::regclass, i.indexrelid, 'index ' || ic.relname, 'write', 'read'
    FROM target t JOIN pg_index i ON i.indrelid = t.oid JOIN pg_class ic ON ic.oid = i.indexrelid
),
deps AS (
  SELECT s.rel, s.side, 'function' AS kind, COALESCE(o.oprcode::oid, d.refobjid)::int8 AS oid, 'read' AS mode, s.via
    FROM sources s JOIN pg_depend d ON d.classid = s.classid AND d.objid = s.objid
    LEFT JOIN pg_operator o ON d.refclassid = 'pg_operator'::regclass AND o.oid = d.refobjid
    WHERE d.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass)
  UNION
  SELECT s.rel, s.side, 'relation', d.refobjid::int8, s.relmode, s.via
    FROM sources s JOIN pg_depend d ON d.classid = s.classid AND d.objid = s.objid AND d.refclassid = 'pg_class'::regclass
    JOIN pg_class rc ON rc.oid = d.refobjid
    WHERE d.refobjid <> s.rel AND rc.relkind IN ('r', 'v', 'm', 'p', 'f')
  UNION
  SELECT t.oid, 'write', 'function', g.tgfoid::int8, 'read', 'trigger ' || g.tgname FROM target t JOIN pg_trigger g ON g.tgrelid = t.oid
  UNION
  SELECT t.oid, side.s, 'relation', i.inhrelid::int8, side.s, 'partition or child table'
    FROM target t JOIN pg_inherits i ON i.inhparent = t.oid CROSS JOIN (VALUES ('read'), ('write')) AS side(s)
  UNION
  SELECT t.oid, 'write', 'relation', k.conrelid::int8, 'write', 'foreign key ' || k.conname
    FROM target t JOIN pg_constraint k ON k.confrelid = t.oid AND k.contype = 'f'
    WHERE k.confdeltype IN ('c', 'n', 'd') OR k.confupdtype IN ('c', 'n', 'd')
)
SELECT t.ord, t.oid::int8, t.nspname, t.relname, t.relkind,
  COALESCE((SELECT json_agg(json_build_object('kind', d.kind, 'oid', d.oid, 'mode', d.mode, 'via', d.via)) FROM deps d WHERE d.rel = t.oid AND d.side = 'read'), '[]'),
  COALESCE((SELECT json_agg(json_build_object('kind', d.kind, 'oid', d.oid, 'mode', d.mode, 'via', d.via)) FROM deps d WHERE d.rel = t.oid AND d.side = 'write'), '[]')
FROM target t`;

const RELATIONS_BY_NAME = `WITH RECURSIVE target AS (
  SELECT w.ord, c.oid, n.nspname, c.relname, c.relkind FROM ${CANDIDATES}
  JOIN pg_class c ON c.relname = w.name JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE ${SCHEMA_MATCHES('n.nspname')} AND c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S')
), ${RELATION_DEPENDENCIES}`;
const RELATIONS_BY_OID = `WITH RECURSIVE target AS (
  SELECT c.oid::int8 AS ord, c.oid, n.nspname, c.relname, c.relkind FROM jsonb_array_elements_text($1::jsonb) AS w(oid)
  JOIN pg_class c ON c.oid = w.oid::oid JOIN pg_namespace n ON n.oid = c.relnamespace
), ${RELATION_DEPENDENCIES}`;

const COLUMNS_BY_NAME = `SELECT n.nspname, c.relname, c.relkind,
  COALESCE((SELECT json_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'),
  CASE WHEN c.relkind IN ('v', 'm') THEN (
    WITH RECURSIVE used(relid, attnum, depth) AS (
      SELECT d.refobjid, d.refobjsubid, 1 FROM pg_rewrite r
        JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
        WHERE r.ev_class = c.oid AND r.ev_type = '1' AND d.refobjid <> c.oid
      UNION
      SELECT d.refobjid, d.refobjsubid, u.depth + 1 FROM used u JOIN pg_rewrite r ON r.ev_class = u.relid AND r.ev_type = '1'
        JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
        WHERE d.refobjid <> u.relid AND u.depth < 8
    )
    SELECT COALESCE(json_agg(DISTINCT a.attname), '[]') FROM used u
      JOIN pg_attribute a ON a.attrelid = u.relid AND a.attnum > 0 AND NOT a.attisdropped AND (u.attnum = 0 OR a.attnum = u.attnum)
  ) ELSE '[]' END
  FROM ${CANDIDATES} JOIN pg_class c ON c.relname = w.name JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE ${SCHEMA_MATCHES('n.nspname')} AND c.relkind IN ('r', 'v', 'm', 'p', 'f', 'c')`;

/** A relation column (attnum 0: the whole row), and for a view its definition and the base columns it references. */
const COLUMN_BY_OID = `SELECT n.nspname, c.relname, c.relkind, a.attname,
  CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END,
  COALESCE((SELECT json_agg(a2.attname ORDER BY a2.attnum) FROM pg_attribute a2 WHERE a2.attrelid = c.oid AND a2.attnum > 0 AND NOT a2.attisdropped), '[]'),
  CASE WHEN c.relkind IN ('v', 'm') THEN COALESCE((SELECT json_agg(DISTINCT jsonb_build_object('oid', d.refobjid::int8, 'attnum', ra.attnum, 'name', ra.attname))
    FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
    -- every column of every relation the view reads: a whole-row reference (row_to_json(s)) is not recorded per column
    JOIN pg_attribute ra ON ra.attrelid = d.refobjid AND ra.attnum > 0 AND NOT ra.attisdropped
    WHERE r.ev_class = c.oid AND r.ev_type = '1' AND d.refobjid <> c.oid), '[]') END
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = $2::int2 AND NOT a.attisdropped
  WHERE c.oid = $1::oid`;

const COMPOSITE_TYPE = `WITH RECURSIVE chain AS (
  SELECT t.oid, t.typtype, t.typrelid, t.typelem, t.typbasetype, t.typcategory, 0 AS depth, false AS arr FROM pg_type t WHERE t.oid = $1::oid
  UNION ALL
  SELECT t.oid, t.typtype, t.typrelid, t.typelem, t.typbasetype, t.typcategory, c.depth + 1, c.arr OR c.typcategory = 'A'
    FROM chain c JOIN pg_type t ON t.oid = CASE WHEN c.typtype = 'd' THEN c.typbasetype WHEN c.typcategory = 'A' THEN c.typelem END
    WHERE c.depth < 8 AND c.typtype <> 'c'
)
SELECT ch.arr, n.nspname, rc.relname, rc.relkind,
  COALESCE((SELECT json_agg(json_build_object('name', a.attname, 'typeOid', a.atttypid::int8) ORDER BY a.attnum)
    FROM pg_attribute a WHERE a.attrelid = ch.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '[]')
  FROM chain ch JOIN pg_class rc ON rc.oid = ch.typrelid JOIN pg_namespace n ON n.oid = rc.relnamespace
  WHERE ch.typtype = 'c' LIMIT 1`;

const VOLATILITY: Record<string, Volatility> = { i: 'immutable', s: 'stable', v: 'volatile' };
const FUNCTION_KIND: Record<string, FunctionFact['kind']> = { f: 'function', p: 'procedure', a: 'aggregate', w: 'window' };
const TABLE_KINDS = new Set(['r', 'v', 'm', 'p', 'f']);

type Row = (string | null)[];

function text(row: Row, index: number): string {
  return row[index] ?? '';
}

function json<T>(row: Row, index: number): T {
  return JSON.parse(row[index] ?? 'null') as T;
}

function dependencies(value: unknown): CatalogDependency[] {
  if (!Array.isArray(value)) return [];
  return value.map((d: { kind: 'function' | 'relation'; oid: number; mode: 'read' | 'write'; via: string }) => ({ kind: d.kind, oid: Number(d.oid), mode: d.mode, via: d.via }));
}

/** A function row (FUNCTION_COLUMNS after the first column); a body is read once, here. */
function functionFact(row: Row): FunctionFact {
  const definition = row[12];
  const fact: FunctionFact = {
    oid: Number(row[1]),
    schema: text(row, 2),
    name: text(row, 3),
    // an unrecognised volatility letter is judged as the strictest
    volatility: VOLATILITY[text(row, 4)] ?? 'volatile',
    securityDefiner: row[5] === 't',
    language: text(row, 6),
    trustedLanguage: row[7] === 't',
    owner: text(row, 8),
    kind: FUNCTION_KIND[text(row, 9)] ?? 'function',
    argumentCount: Number(row[10]),
    reaches: dependencies(json(row, 13)),
  };
  if (row[11] !== null && row[11] !== undefined) fact.extension = row[11];
  if (definition !== null && definition !== undefined) fact.body = classifyRoutineBody(definition);
  return fact;
}

function relationFact(row: Row): RelationFact {
  return { oid: Number(row[1]), schema: text(row, 2), name: text(row, 3), kind: text(row, 4), reads: dependencies(json(row, 5)), writes: dependencies(json(row, 6)) };
}

function candidatesJson(names: readonly string[]): string {
  return JSON.stringify(names.flatMap((written, ord) => nameCandidates(written).map((c) => ({ ord, schema: c.schema, name: c.name }))));
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The facts one resolution gathered, and what it still lacks. */
class Gathering implements CatalogFacts {
  readonly functions = new Map<string, FunctionFact[]>();
  readonly fieldFunctions = new Map<string, FunctionFact[]>();
  readonly operators = new Map<string, FunctionFact[]>();
  readonly casts = new Map<string, FunctionFact[]>();
  readonly relations = new Map<string, RelationFact[]>();
  readonly functionsByOid = new Map<number, FunctionFact>();
  readonly relationsByOid = new Map<number, RelationFact>();
  readonly missing = { functions: new Set<string>(), fieldFunctions: new Set<string>(), operators: new Set<string>(), casts: new Set<string>(), relations: new Set<string>(), functionOids: new Set<number>(), relationOids: new Set<number>() };
  /** the oldest fact used, for how long the result may be reused */
  oldest = Infinity;
  /** a name the catalog does not have was used: the result is not reused */
  usedMiss = false;
  /** found objects whose bodies and dependencies are still to be followed: a list, not recursion, as chains can be long */
  readonly toFollow: (FunctionFact | RelationFact)[] = [];

  get complete(): boolean {
    const m = this.missing;
    return m.functions.size + m.fieldFunctions.size + m.operators.size + m.casts.size + m.relations.size + m.functionOids.size + m.relationOids.size === 0;
  }

  clearMissing(): void {
    for (const set of Object.values(this.missing)) set.clear();
  }
}

export class TargetCatalog {
  private readonly options: TargetCatalogOptions;
  private readonly functionsByName: ExpiringCache<string, FunctionFact[]>;
  private readonly fieldFunctionsByName: ExpiringCache<string, FunctionFact[]>;
  private readonly operatorsByName: ExpiringCache<string, FunctionFact[]>;
  private readonly castsByTypeName: ExpiringCache<string, FunctionFact[]>;
  private readonly relationsByName: ExpiringCache<string, RelationFact[]>;
  private readonly functionsByOid: ExpiringCache<number, FunctionFact>;
  private readonly relationsByOid: ExpiringCache<number, RelationFact>;
  private readonly columns: ExpiringCache<string, ColumnSource>;
  private readonly relationColumnsByName: ExpiringCache<string, RelationColumns[]>;
  private userTypes?: { types: BinaryTypes; fetchedAt: number };
  private readonly composites: ExpiringCache<number, CompositeFields | null>;
  /** a view's output columns as Describe of its definition reports them, shared by the look-ups of its columns */
  private readonly viewOutputs: ExpiringCache<string, Promise<DescribedColumn[]>>;
  /** resolved classifications; the classifier's cache shares one object per statement text */
  private resolved = new WeakMap<SqlClassification, { result: SqlClassification; generation: number; expiresAt: number }>();
  private generation = 0;

  constructor(
    readonly connection: Pick<CatalogConnection, 'query' | 'describe'>,
    options: Partial<TargetCatalogOptions> = {},
  ) {
    this.options = { ...DEFAULT_TARGET_CATALOG_OPTIONS, ...options };
    if (!(this.options.ttlMs > 0)) throw new RangeError(`ttlMs: expected a positive number of milliseconds, got ${this.options.ttlMs}`);
    if (!Number.isInteger(this.options.maxEntries) || this.options.maxEntries < 1) throw new RangeError(`maxEntries: expected a positive whole number, got ${this.options.maxEntries}`);
    this.functionsByName = new ExpiringCache(this.options);
    this.fieldFunctionsByName = new ExpiringCache(this.options);
    this.operatorsByName = new ExpiringCache(this.options);
    this.castsByTypeName = new ExpiringCache(this.options);
    this.relationsByName = new ExpiringCache(this.options);
    this.functionsByOid = new ExpiringCache(this.options);
    this.relationsByOid = new ExpiringCache(this.options);
    this.columns = new ExpiringCache(this.options);
    this.relationColumnsByName = new ExpiringCache(this.options);
    this.composites = new ExpiringCache(this.options);
    this.viewOutputs = new ExpiringCache(this.options);
  }

  /** Forgets every fact: the next look-up asks the server again. */
  /**
   * The database's own types (enums, citext, composites, domains and arrays of them) added to the
   * built-in ones, so binary values of them can be decoded and masked instead of withheld.
   */
  binaryTypes(): BinaryTypes | Promise<BinaryTypes> {
    const now = this.options.now();
    if (this.userTypes && now - this.userTypes.fetchedAt < this.options.ttlMs) return this.userTypes.types;
    const generation = this.generation;
    return this.connection.query(USER_TYPES_QUERY).then((rows) => {
      const found: UserTypeRow[] = rows.map((row) => ({ oid: Number(text(row, 0)), typtype: text(row, 1), send: text(row, 2), typelem: Number(text(row, 3)), typbasetype: Number(text(row, 4)) }));
      const types = BUILTIN_BINARY_TYPES.withAll(userTypesFromCatalog(found));
      if (generation === this.generation) this.userTypes = { types, fetchedAt: now };
      return types;
    });
  }

  invalidate(): void {
    this.userTypes = undefined;
    this.generation++;
    this.resolved = new WeakMap();
    for (const cache of [this.functionsByName, this.fieldFunctionsByName, this.operatorsByName, this.castsByTypeName, this.relationsByName, this.functionsByOid, this.relationsByOid, this.columns, this.relationColumnsByName, this.composites, this.viewOutputs]) cache.clear();
  }

  // ---- classification ----

  /**
   * The classification with the catalog's facts applied (applyCatalogFacts). Synchronous when every
   * fact is cached. When the catalog cannot answer (the server is down, a query times out) the
   * result is unknown with the reason: a statement is never let through unresolved.
   */
  resolve(c: SqlClassification): SqlClassification | Promise<SqlClassification> {
    if (c.parseError !== undefined) return c;
    const now = this.options.now();
    const hit = this.resolved.get(c);
    if (hit !== undefined && hit.generation === this.generation && now < hit.expiresAt) return hit.result;
    const names = namesOf(c.statements);
    if (names.functions.size + names.fieldFunctions.size + names.operators.size + names.casts.size + names.relations.size === 0) {
      // BEGIN, SELECT 1: nothing to look up, now or later
      this.resolved.set(c, { result: c, generation: this.generation, expiresAt: Infinity });
      return c;
    }
    const gathering = new Gathering();
    this.gather(names, gathering, now);
    const generation = this.generation;
    if (gathering.complete) return this.finish(c, gathering, generation);
    return this.resolveAsync(c, gathering, generation).catch((error: unknown) => this.failed(c, error));
  }

  private async resolveAsync(c: SqlClassification, gathering: Gathering, generation: number): Promise<SqlClassification> {
    await initSqlClassifier();
    for (let round = 0; round < this.options.maxRounds; round++) {
      const fetchedAt = this.options.now();
      const m = gathering.missing;
      const [functions, fieldFunctions, operators, casts, relations, functionsByOid, relationsByOid] = await Promise.all([
        this.fetchFunctionsByName([...m.functions]),
        this.fetchFunctionsByName([...m.fieldFunctions], 1),
        this.fetchOperators([...m.operators]),
        this.fetchCasts([...m.casts]),
        this.fetchRelationsByName([...m.relations]),
        this.fetchFunctionsByOid([...m.functionOids]),
        this.fetchRelationsByOid([...m.relationOids]),
      ]);
      const askedOids = { functions: [...m.functionOids], relations: [...m.relationOids] };
      gathering.clearMissing();
      // facts fetched across an invalidate() may predate the change it announced: used once, not kept
      const keep = generation === this.generation;
      // everything found goes in before anything is followed, so nothing found is asked for again
      for (const [name, facts] of functions) {
        if (facts.length === 0) gathering.usedMiss = true;
        else if (keep) this.functionsByName.set(name, facts, fetchedAt);
        gathering.functions.set(name, facts);
      }
      for (const [name, facts] of fieldFunctions) {
        // x.name is nearly always a column: that no function has the name is worth keeping
        if (keep) this.fieldFunctionsByName.set(name, facts, fetchedAt);
        gathering.fieldFunctions.set(name, facts);
      }
      for (const [name, facts] of operators) {
        // no user operator of that name is the common case, and worth keeping
        if (keep) this.operatorsByName.set(name, facts, fetchedAt);
        gathering.operators.set(name, facts);
      }
      for (const [name, facts] of casts) {
        if (keep) this.castsByTypeName.set(name, facts, fetchedAt);
        gathering.casts.set(name, facts);
      }
      for (const [name, facts] of relations) {
        if (facts.length === 0) gathering.usedMiss = true;
        else if (keep) this.relationsByName.set(name, facts, fetchedAt);
        gathering.relations.set(name, facts);
      }
      for (const oid of askedOids.functions) if (!functionsByOid.has(oid)) gathering.usedMiss = true;
      for (const oid of askedOids.relations) if (!relationsByOid.has(oid)) gathering.usedMiss = true;
      const foundFunctions = [...[...functions.values(), ...fieldFunctions.values(), ...operators.values(), ...casts.values()].flat(), ...functionsByOid.values()];
      const foundRelations = [...[...relations.values()].flat(), ...relationsByOid.values()];
      for (const f of foundFunctions) {
        if (keep) this.functionsByOid.set(f.oid, f, fetchedAt);
        gathering.oldest = Math.min(gathering.oldest, fetchedAt);
      }
      for (const r of foundRelations) {
        if (keep) this.relationsByOid.set(r.oid, r, fetchedAt);
        gathering.oldest = Math.min(gathering.oldest, fetchedAt);
      }
      for (const f of foundFunctions) this.visitFunction(f, gathering, fetchedAt);
      for (const r of foundRelations) this.visitRelation(r, gathering, fetchedAt);
      this.follow(gathering);
      if (gathering.complete) return this.finish(c, gathering, generation);
    }
    return unknownResolution(c, `the catalog look-up did not settle within ${this.options.maxRounds} rounds`);
  }

  private failed(c: SqlClassification, error: unknown): SqlClassification {
    return unknownResolution(c, `the server's catalog could not be read: ${errorText(error)}`);
  }

  /** Applies the facts; the result is reused until the oldest fact expires, unless DDL came in between. */
  private finish(c: SqlClassification, gathering: Gathering, generation: number): SqlClassification {
    const result = applyCatalogFacts(c, gathering);
    if (!gathering.usedMiss && generation === this.generation) {
      const expiresAt = (gathering.oldest === Infinity ? this.options.now() : gathering.oldest) + this.options.ttlMs;
      this.resolved.set(c, { result, generation: this.generation, expiresAt });
    }
    return result;
  }

  /** Takes what the caches know of `names` into the gathering, recording what they lack, and follows it. */
  private gather(names: CatalogNames, g: Gathering, now: number): void {
    this.take(names, g, now);
    this.follow(g);
  }

  private take(names: CatalogNames, g: Gathering, now: number): void {
    this.gatherNames(names.functions, this.functionsByName, g.functions, g.missing.functions, g, now, (f) => this.visitFunction(f.value, g, f.fetchedAt));
    this.gatherNames(names.fieldFunctions, this.fieldFunctionsByName, g.fieldFunctions, g.missing.fieldFunctions, g, now, (f) => this.visitFunction(f.value, g, f.fetchedAt));
    this.gatherNames(names.operators, this.operatorsByName, g.operators, g.missing.operators, g, now, (f) => this.visitFunction(f.value, g, f.fetchedAt));
    this.gatherNames(names.casts, this.castsByTypeName, g.casts, g.missing.casts, g, now, (f) => this.visitFunction(f.value, g, f.fetchedAt));
    this.gatherNames(names.relations, this.relationsByName, g.relations, g.missing.relations, g, now, (r) => this.visitRelation(r.value, g, r.fetchedAt));
  }

  /** Follows what found objects reach: a body's names, a definition's dependencies. */
  private follow(g: Gathering): void {
    for (let next = g.toFollow.pop(); next !== undefined; next = g.toFollow.pop()) {
      if ('volatility' in next) {
        if (next.body !== undefined) this.take(namesOf([next.body]), g, this.options.now());
        for (const dep of next.reaches) this.visitDependency(dep, g);
      } else {
        for (const dep of [...next.reads, ...next.writes]) this.visitDependency(dep, g);
      }
    }
    this.fillMissingOids(g);
  }

  private gatherNames<T>(names: Iterable<string>, cache: ExpiringCache<string, T[]>, into: Map<string, T[]>, missing: Set<string>, g: Gathering, now: number, visit: (found: Entry<T>) => void): void {
    for (const name of names) {
      if (into.has(name)) continue;
      const entry = cache.get(name, now);
      if (entry === undefined) {
        missing.add(name);
        continue;
      }
      g.oldest = Math.min(g.oldest, entry.fetchedAt);
      into.set(name, entry.value);
      for (const value of entry.value) visit({ value, fetchedAt: entry.fetchedAt });
    }
  }

  /** A function found: kept by OID, and what its body and definition reach followed. */
  private visitFunction(f: FunctionFact, g: Gathering, fetchedAt: number): void {
    if (g.functionsByOid.has(f.oid)) return;
    g.functionsByOid.set(f.oid, f);
    g.missing.functionOids.delete(f.oid);
    g.oldest = Math.min(g.oldest, fetchedAt);
    g.toFollow.push(f);
  }

  private visitRelation(r: RelationFact, g: Gathering, fetchedAt: number): void {
    if (g.relationsByOid.has(r.oid)) return;
    g.relationsByOid.set(r.oid, r);
    g.missing.relationOids.delete(r.oid);
    g.oldest = Math.min(g.oldest, fetchedAt);
    g.toFollow.push(r);
  }

  private visitDependency(dep: CatalogDependency, g: Gathering): void {
    const now = this.options.now();
    if (dep.kind === 'function') {
      if (g.functionsByOid.has(dep.oid)) return;
      const entry = this.functionsByOid.get(dep.oid, now);
      if (entry === undefined) g.missing.functionOids.add(dep.oid);
      else this.visitFunction(entry.value, g, entry.fetchedAt);
    } else {
      if (g.relationsByOid.has(dep.oid)) return;
      const entry = this.relationsByOid.get(dep.oid, now);
      if (entry === undefined) g.missing.relationOids.add(dep.oid);
      else this.visitRelation(entry.value, g, entry.fetchedAt);
    }
  }

  private fillMissingOids(g: Gathering): void {
    for (const oid of g.missing.functionOids) if (g.functionsByOid.has(oid)) g.missing.functionOids.delete(oid);
    for (const oid of g.missing.relationOids) if (g.relationsByOid.has(oid)) g.missing.relationOids.delete(oid);
  }

  private async fetchByName<T>(names: readonly string[], sql: string, fact: (row: Row) => T): Promise<Map<string, T[]>> {
    const found = new Map<string, T[]>(names.map((n) => [n, []]));
    if (names.length === 0) return found;
    for (const row of await this.connection.query(sql, [candidatesJson(names)])) {
      const name = names[Number(row[0])];
      if (name !== undefined) found.get(name)?.push(fact(row));
    }
    return found;
  }

  /** With `argumentCount`, only functions taking that many arguments (x.name calls name with one). */
  private fetchFunctionsByName(names: readonly string[], argumentCount?: number): Promise<Map<string, FunctionFact[]>> {
    return this.fetchByName(names, FUNCTIONS_BY_NAME, functionFact).then((found) => {
      if (argumentCount !== undefined) for (const [name, facts] of found) found.set(name, facts.filter((f) => f.argumentCount === argumentCount && f.kind === 'function'));
      return dedupe(found);
    });
  }

  private fetchOperators(names: readonly string[]): Promise<Map<string, FunctionFact[]>> {
    return this.fetchByName(names, OPERATORS_BY_NAME, functionFact).then((found) => dedupe(found));
  }

  private fetchCasts(typeNames: readonly string[]): Promise<Map<string, FunctionFact[]>> {
    return this.fetchByName(typeNames, CASTS_BY_TYPE_NAME, functionFact).then((found) => dedupe(found));
  }

  private fetchRelationsByName(names: readonly string[]): Promise<Map<string, RelationFact[]>> {
    return this.fetchByName(names, RELATIONS_BY_NAME, relationFact).then((found) => dedupe(found));
  }

  private async fetchFunctionsByOid(oids: readonly number[]): Promise<Map<number, FunctionFact>> {
    const found = new Map<number, FunctionFact>();
    if (oids.length === 0) return found;
    for (const row of await this.connection.query(FUNCTIONS_BY_OID, [JSON.stringify(oids.map(String))])) found.set(Number(row[0]), functionFact(row));
    return found;
  }

  private async fetchRelationsByOid(oids: readonly number[]): Promise<Map<number, RelationFact>> {
    const found = new Map<number, RelationFact>();
    if (oids.length === 0) return found;
    for (const row of await this.connection.query(RELATIONS_BY_OID, [JSON.stringify(oids.map(String))])) found.set(Number(row[0]), relationFact(row));
    return found;
  }

  // ---- result columns ----

  /**
   * Where each result column comes from, from RowDescription's table OID and attribute number:
   * null for a computed column (table OID 0). A view's column is followed to the base table
   * columns behind it. Rejects when the catalog cannot be read: the caller withholds what it cannot
   * attribute.
   */
  columnSources(fields: readonly { tableOid: number; attnum: number }[]): (ColumnSource | null)[] | Promise<(ColumnSource | null)[]> {
    const now = this.options.now();
    const cached: (ColumnSource | null)[] = [];
    for (const f of fields) {
      if (f.tableOid === 0) {
        cached.push(null);
        continue;
      }
      const entry = this.columns.get(`${f.tableOid}:${f.attnum}`, now);
      if (entry === undefined) return Promise.all(fields.map((field) => (field.tableOid === 0 ? null : this.columnSource(field.tableOid, field.attnum, 0))));
      cached.push(entry.value);
    }
    return cached;
  }

  private async columnSource(tableOid: number, attnum: number, depth: number): Promise<ColumnSource> {
    const key = `${tableOid}:${attnum}`;
    const generation = this.generation;
    const fetchedAt = this.options.now();
    const entry = this.columns.get(key, fetchedAt);
    if (entry !== undefined) return entry.value;
    const rows = await this.connection.query(COLUMN_BY_OID, [String(tableOid), String(attnum)]);
    const row = rows[0];
    if (row === undefined) throw new Error(`the result column's table (OID ${tableOid}) is not in the catalog`);
    const [schema, table, kind] = [text(row, 0), text(row, 1), text(row, 2)];
    const allColumns = json<string[]>(row, 5).map((column) => ({ schema, table, column }));
    let source: ColumnSource;
    if (attnum === 0) {
      source = { schema, table, column: '*', kind, origins: allColumns, computed: true, complete: true };
    } else if (row[3] === null) {
      // a system column (ctid, xmin, ...) or one dropped since the statement was planned
      source = { schema, table, column: attnum < 0 ? `system column ${attnum}` : `column ${attnum}`, kind, origins: [], computed: false, complete: true };
    } else if ((kind === 'v' || kind === 'm') && row[4] !== null) {
      // a materialized view stores what its query computed from the base columns
      source = await this.viewColumnSource({ schema, table, column: text(row, 3), kind }, attnum, text(row, 4), json<{ oid: number; attnum: number; name: string }[]>(row, 6) ?? [], depth);
    } else {
      source = { schema, table, column: text(row, 3), kind, origins: [{ schema, table, column: text(row, 3) }], computed: false, complete: true };
    }
    if (generation === this.generation) this.columns.set(key, source, fetchedAt);
    return source;
  }

  /**
   * A view's column: Describe of its definition tells which base column each output copies, if
   * any. `readColumns` are all the columns of the relations the view reads.
   */
  private async viewColumnSource(column: BaseColumn & { kind: string }, attnum: number, definition: string, readColumns: { oid: number; attnum: number; name: string }[], depth: number): Promise<ColumnSource> {
    if (depth >= this.options.maxViewDepth) return { ...column, origins: [], computed: true, complete: false };
    const described = await this.describeView(definition);
    const origin = described[attnum - 1];
    if (origin !== undefined && origin.tableOid !== 0) {
      const inner = await this.columnSource(origin.tableOid, origin.attnum, depth + 1);
      return { ...column, origins: inner.origins, computed: inner.computed, complete: inner.complete };
    }
    // computed: the columns its expression names; every column the view reads when that is unclear
    const names = referencedNames(definition, attnum - 1);
    const known = new Set(readColumns.map((r) => r.name));
    // a name no relation has comes from a subquery or CTE that renamed it: unclear
    const clear = names !== undefined && [...names].every((n) => known.has(n));
    const chosen = clear ? readColumns.filter((r) => names.has(r.name)) : readColumns;
    const sources = await Promise.all(chosen.map((r) => this.columnSource(Number(r.oid), Number(r.attnum), depth + 1)));
    const origins = dedupeColumns(sources.flatMap((s) => s.origins));
    return { ...column, origins, computed: true, complete: sources.every((s) => s.complete) };
  }

  private describeView(definition: string): Promise<DescribedColumn[]> {
    const now = this.options.now();
    const cached = this.viewOutputs.get(definition, now);
    if (cached !== undefined) return cached.value;
    const described = this.connection.describe(definition);
    this.viewOutputs.set(definition, described, now);
    // a failure is not kept: the next look-up asks again
    described.catch(() => this.viewOutputs.delete(definition));
    return described;
  }

  /**
   * The columns of every relation the name could mean (schema-qualified or not; unqualified: in
   * every schema, as the session's search_path is not known here), for `*` and whole-row checks.
   */
  relationColumns(name: string): RelationColumns[] | Promise<RelationColumns[]> {
    const entry = this.relationColumnsByName.get(name, this.options.now());
    if (entry !== undefined) return entry.value;
    const generation = this.generation;
    const fetchedAt = this.options.now();
    return this.connection.query(COLUMNS_BY_NAME, [candidatesJson([name])]).then((rows) => {
      const found = rows.map((row) => ({ schema: text(row, 0), table: text(row, 1), kind: text(row, 2), columns: json<string[]>(row, 3), references: json<string[]>(row, 4) }));
      if (found.length > 0 && generation === this.generation) this.relationColumnsByName.set(name, found, fetchedAt);
      return found;
    });
  }

  /**
   * A composite (row) type's fields, and the table when it is a table's row type; also for an
   * array of one (array: true) and a domain over one. Null for any other type.
   */
  compositeFields(typeOid: number): CompositeFields | null | Promise<CompositeFields | null> {
    const entry = this.composites.get(typeOid, this.options.now());
    if (entry !== undefined) return entry.value;
    const generation = this.generation;
    const fetchedAt = this.options.now();
    return this.connection.query(COMPOSITE_TYPE, [String(typeOid)]).then((rows) => {
      const row = rows[0];
      let found: CompositeFields | null = null;
      if (row !== undefined) {
        found = { fields: json<{ name: string; typeOid: number }[]>(row, 4).map((f) => ({ name: f.name, typeOid: Number(f.typeOid) })), array: row[0] === 't' };
        if (TABLE_KINDS.has(text(row, 3))) found.table = { schema: text(row, 1), table: text(row, 2) };
      }
      if (generation === this.generation) this.composites.set(typeOid, found, fetchedAt);
      return found;
    });
  }
}

/** The classification a failed catalog look-up leaves: unknown, naming why, statements kept. */
function unknownResolution(c: SqlClassification, reason: string): SqlClassification {
  if (c.statements.length === 0) return unclassifiable(reason);
  return classificationOf(
    c.statements.map((s) => {
      const names = namesOf([s]);
      // a statement that names nothing the catalog knows about (BEGIN, SELECT 1) needs no facts
      if (names.functions.size + names.fieldFunctions.size + names.operators.size + names.casts.size + names.relations.size === 0) return s;
      const cls = combineClasses([s.class, 'unknown']);
      return { ...s, class: cls, reasons: cls === s.class ? [...s.reasons, reason] : [reason] };
    }),
  );
}

function dedupe<T extends { oid: number }>(found: Map<string, T[]>): Map<string, T[]> {
  for (const [name, facts] of found) found.set(name, [...new Map(facts.map((f) => [f.oid, f])).values()]);
  return found;
}

function dedupeColumns(columns: BaseColumn[]): BaseColumn[] {
  return [...new Map(columns.map((c) => [`${c.schema}\0${c.table}\0${c.column}`, c])).values()];
}

/**
 * The column names one output expression of a view definition refers to, or undefined when that
 * cannot be told (set operations, a star, a subquery, a whole-row reference, a parse failure):
 * the caller then counts every column the view references.
 */
function referencedNames(definition: string, index: number): Set<string> | undefined {
  let select: Record<string, unknown> | undefined;
  try {
    const statements = parseStatements(definition);
    if (statements.length === 1 && statements[0]?.nodeType === 'SelectStmt') select = statements[0].fields;
  } catch {
    return undefined;
  }
  // set operations and CTEs: an output's expression is not all there is to it
  if (select === undefined || (select['op'] !== undefined && select['op'] !== 'SETOP_NONE') || select['withClause'] !== undefined) return undefined;
  const targets = Array.isArray(select['targetList']) ? select['targetList'] : [];
  const target: unknown = targets[index];
  const names = new Set<string>();
  let unclear = target === undefined;
  const visit = (value: unknown): void => {
    if (unclear) return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    for (const [key, child] of Object.entries(value)) {
      if (key === 'SubLink' || key === 'A_Star') {
        unclear = true;
        return;
      }
      if (key === 'ColumnRef') {
        const fields: unknown[] = Array.isArray((child as { fields?: unknown }).fields) ? (child as { fields: unknown[] }).fields : [];
        const last = fields.at(-1) as { String?: { sval?: string } } | undefined;
        const name = last?.String?.sval;
        // pg_get_viewdef qualifies every column (t.x); a bare name may be a whole row
        if (name === undefined || fields.length < 2) unclear = true;
        else names.add(name);
        continue;
      }
      visit(child);
    }
  };
  visit(target);
  return unclear ? undefined : names;
}

/**
 * The catalogs of one target, one per database, created as agents connect; closing it closes
 * their connections (when the target's listener closes).
 */
export class TargetCatalogs {
  private readonly byDatabase = new Map<string, TargetCatalog>();

  constructor(
    readonly connections: CatalogConnections,
    private readonly options: Partial<TargetCatalogOptions> = {},
  ) {}

  /** The catalog of the database an agent connected to (the target URL's database when it names one). */
  get(database: string): TargetCatalog {
    const connection = this.connections.get(database);
    let catalog = this.byDatabase.get(connection.database);
    if (catalog === undefined) {
      catalog = new TargetCatalog(connection, this.options);
      this.byDatabase.set(connection.database, catalog);
    }
    return catalog;
  }

  /** For a privileged statement: roles are shared by every database of the server, so every catalog forgets. */
  invalidateAll(): void {
    for (const c of this.byDatabase.values()) c.invalidate();
  }

  close(): void {
    this.connections.close();
    this.byDatabase.clear();
  }
}
