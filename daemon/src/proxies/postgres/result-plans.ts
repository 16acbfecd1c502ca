import type { Masker } from '../../masking/index.js';
import type { SqlClassification } from '../../classify/sql/index.js';
import { directColumnSources, sqlReferences, type SqlReferences } from '../../classify/sql/references.js';
import { columnLabels, touchedRule, type CompositeFacts, type RelationFacts, type SourceFacts } from './column-plan.js';
import { CopyRowMasker, planCopyOut, type CopyOutPlan, type CopyOutStatement } from './copy-format.js';
import { RowMasker, type ResultColumn } from './results.js';
import { BUILTIN_BINARY_TYPES, isBuiltInType, type BinaryTypes } from './binary-values.js';
import type { ResultCapture } from './session.js';
import type { RelationColumns, TargetCatalog } from './catalog.js';

/**
 * How one connection's results are masked: the row masker for each result shape and the plan for
 * each COPY TO STDOUT, with column rules applied to where values come from (catalog.ts looks that
 * up). Plans are kept per connection; a plan that needs the catalog is worked out once (the promise
 * settles it into the cache) and then answered at once. Without column rules no lookup is made.
 */

/** The label a value gets when its source could not be looked up: withheld rather than guessed. */
const UNATTRIBUTED = 'REDACTED';

const MAX_PLANS = 256;

/** PostgreSQL's FirstNormalObjectId: OIDs from here on are the database's own objects. */
const FIRST_USER_OID = 16384;

export class ResultPlanner {
  private readonly byName = new Map<string, RowMasker>();
  private last?: { key: string; masker: Masker; rowMasker: RowMasker };
  /** plans that depend on the statement's text, by its (shared, cached) classification */
  private bySource = new WeakMap<SqlClassification, Map<string, RowMasker>>();
  private readonly references = new WeakMap<SqlClassification, SqlReferences>();
  /** the database's own binary types, as the catalog said when a result first needed them */
  private userTypes?: BinaryTypes;
  /** what the catalog said about each COPY of a statement (by its index in the text) */
  private copyFacts = new WeakMap<SqlClassification, Map<string, { facts: CopyFacts | undefined }>>();

  constructor(
    private readonly catalog: () => TargetCatalog | undefined,
    /** how long a plan built from catalog facts is kept: the catalog's own cache time */
    private readonly ttlMs = 30_000,
  ) {}

  /** Forget plans built from catalog facts (after DDL through Airlock). */
  invalidate(): void {
    this.userTypes = undefined;
    this.bySource = new WeakMap();
    this.copyFacts = new WeakMap();
  }

  rowMasker(columns: ResultColumn[] | undefined, capture: ResultCapture): RowMasker | Promise<unknown> {
    const masker = capture.masker!;
    if (!columns) return new RowMasker([], masker);
    const key = columnsKey(columns);
    const catalog = this.catalog();
    // a binary value of the database's own type (an enum, citext, a composite) is decoded with the catalog's help
    let types = BUILTIN_BINARY_TYPES;
    if (catalog && columns.some((c) => c.format === 1 && c.typeOid >= FIRST_USER_OID)) {
      const found = this.userTypes ?? catalog.binaryTypes();
      if (found instanceof Promise) {
        // a catalog that cannot be read leaves them withheld, never passed unread
        return found.then(
          (t) => (this.userTypes = t),
          () => (this.userTypes = BUILTIN_BINARY_TYPES),
        );
      }
      types = found;
    }
    if (!masker.hasColumnRules || !catalog) return types === BUILTIN_BINARY_TYPES ? this.byOutputName(key, columns, masker) : new RowMasker(columns, masker, types);
    const bucket = `${key}\u0002${Math.floor(Date.now() / this.ttlMs)}`;
    let plans = this.bySource.get(capture.classification);
    const cached = plans?.get(bucket);
    if (cached && cached.masker === masker) return cached;
    const facts = this.gather(catalog, columns, capture);
    const build = (resolved: Resolved | undefined): RowMasker => {
      const rowMasker = new RowMasker(columns, masker, types, this.labelsOf(columns, masker, resolved));
      plans ??= new Map();
      if (plans.size >= MAX_PLANS) plans.clear();
      plans.set(bucket, rowMasker);
      this.bySource.set(capture.classification, plans);
      return rowMasker;
    };
    if (!(facts instanceof Promise)) return build(facts);
    // the catalog could not be read: every column not judged by its name is withheld
    return facts.then(build, () => build(undefined));
  }

  copyPlan(statement: CopyOutStatement, capture: ResultCapture, columnCount: number): CopyOutPlan | Promise<unknown> {
    const masker = capture.masker!;
    const catalog = this.catalog();
    const options = statement.options;
    if (statement.refuse !== undefined || !options || !masker.hasColumnRules || !catalog) return planCopyOut(statement, masker, options?.columnNames, columnCount);
    // the facts are kept, not the plan: a CopyRowMasker reads one COPY's rows (its header first)
    const key = `${capture.copyIndex ?? 0}\u0002${Math.floor(Date.now() / this.ttlMs)}`;
    let kept = this.copyFacts.get(capture.classification);
    const cached = kept?.get(key);
    const plan = (facts: CopyFacts | undefined): CopyOutPlan => this.copyPlanOf(statement, masker, columnCount, facts, capture.classification.callsUserFunctions === true);
    if (cached) return plan(cached.facts);
    const remember = (facts: CopyFacts | undefined): CopyFacts | undefined => {
      kept ??= new Map();
      if (kept.size >= MAX_PLANS) kept.clear();
      kept.set(key, { facts });
      this.copyFacts.set(capture.classification, kept);
      return facts;
    };
    const source = options.source;
    if ('relation' in source) {
      const found = catalog.relationColumns(source.schema ? `${source.schema}.${source.relation}` : source.relation);
      if (found instanceof Promise) return found.then((r) => remember({ table: r }), () => remember(undefined));
      return plan(remember({ table: found }));
    }
    const refs = sqlReferences(source.query);
    const relations = this.relationsOf(catalog, refs.tables);
    const direct = directColumnSources(source.query);
    if (relations instanceof Promise) return relations.then((r) => remember({ query: { refs, relations: r, direct } }), () => remember(undefined));
    return plan(remember({ query: { refs, relations, direct } }));
  }

  /**
   * COPY table: its columns are the values' sources (a column list names them, else the table's own,
   * in order). COPY (query): a column is judged by its name and by the masked columns the query
   * reaches. Without the catalog's facts the COPY is refused.
   */
  private copyPlanOf(statement: CopyOutStatement, masker: Masker, columnCount: number, facts: CopyFacts | undefined, callsUserFunctions: boolean): CopyOutPlan {
    const options = statement.options!;
    if (!facts) return { refuse: 'Airlock cannot mask this COPY: the catalog could not be read to tell where its columns come from' };
    if (facts.table) {
      const names = options.columnNames ?? (facts.table.length === 1 ? facts.table[0]!.columns : undefined);
      return planCopyOut(statement, masker, names, columnCount);
    }
    const { refs, relations, direct } = facts.query!;
    const touches = touchedRule(refs, masker, relations, callsUserFunctions);
    const names = options.columnNames;
    if (names && names.length !== columnCount) return { refuse: 'Airlock cannot mask this COPY: its column names do not match its column count' };
    // an output that copies a table's column is judged by that column (and its own name); anything else by what the query reaches
    const labels = Array.from({ length: columnCount }, (_, i) => {
      const byName = names?.[i] !== undefined ? masker.columnRule(names[i]!) : undefined;
      const source = direct?.length === columnCount ? direct[i] : undefined;
      return byName ?? (source !== undefined ? masker.columnRule(source) : touches);
    });
    return { masker: new CopyRowMasker(options, masker, names, columnCount, labels) };
  }

  private byOutputName(key: string, columns: ResultColumn[], masker: Masker): RowMasker {
    const last = this.last;
    if (last && last.masker === masker && last.key === key) return last.rowMasker;
    let rowMasker = this.byName.get(key);
    if (!rowMasker || rowMasker.masker !== masker) {
      if (this.byName.size >= MAX_PLANS) this.byName.clear();
      rowMasker = new RowMasker(columns, masker);
      this.byName.set(key, rowMasker);
    }
    this.last = { key, masker, rowMasker };
    return rowMasker;
  }

  /** The catalog's facts for a result: at once when all are cached, else one promise for all. */
  private gather(catalog: TargetCatalog, columns: ResultColumn[], capture: ResultCapture): Resolved | Promise<Resolved> {
    const sources = catalog.columnSources(columns.map((c) => ({ tableOid: c.tableOid ?? 0, attnum: c.attnum ?? 0 })));
    // a built-in scalar or array is never a table's row type: only other types are looked up
    const composites = columns.map((c) => (isBuiltInType(c.typeOid) ? null : catalog.compositeFields(c.typeOid)));
    // the text is read only when some column has no source to judge it by
    const needsText = columns.some((c) => !c.tableOid) || composites.some((c) => c !== null) || capture.classification.callsUserFunctions === true;
    const refs = needsText ? this.referencesOf(capture) : undefined;
    const callsUserFunctions = capture.classification.callsUserFunctions === true;
    const relations = refs ? this.relationsOf(catalog, capture.classification.tables) : [];
    if (!(sources instanceof Promise) && !composites.some((c) => c instanceof Promise) && !(relations instanceof Promise)) {
      return { sources, composites: composites as (CompositeFacts | null)[], relations, refs, callsUserFunctions };
    }
    return Promise.all([sources, Promise.all(composites), relations]).then(([s, c, r]) => ({ sources: s, composites: c, relations: r, refs, callsUserFunctions }));
  }

  private labelsOf(columns: ResultColumn[], masker: Masker, facts: Resolved | undefined): (string | undefined)[] {
    if (!facts) return columns.map((c) => masker.columnRule(c.name) ?? UNATTRIBUTED);
    const sources: (SourceFacts | null)[] = facts.sources.map((s) => (s ? { column: s.column, origins: s.origins, complete: s.complete, computed: s.computed } : null));
    const touches = facts.refs ? touchedRule(facts.refs, masker, facts.relations, facts.callsUserFunctions) : undefined;
    return columnLabels(columns, masker, { sources, composites: facts.composites, touches });
  }

  /** The columns a huge statement reads, worked out by the parse thread: so the text is never parsed again here. */
  seedReferences(classification: SqlClassification, refs: SqlReferences): void {
    this.references.set(classification, refs);
  }

  private referencesOf(capture: ResultCapture): SqlReferences {
    let refs = this.references.get(capture.classification);
    if (!refs) {
      refs = sqlReferences(capture.sql);
      this.references.set(capture.classification, refs);
    }
    return refs;
  }

  /** The relations a statement reads, with the base columns behind each of their columns. */
  private relationsOf(catalog: TargetCatalog, tables: readonly string[]): RelationFacts[] | Promise<RelationFacts[]> {
    const lookups = tables.map((t) => catalog.relationColumns(t));
    const toFacts = (found: RelationColumns[][]): RelationFacts[] =>
      found.flat().map((r) => ({ columns: r.columns.map((name) => ({ name, bases: r.kind === 'v' || r.kind === 'm' ? r.references : [name] })) }));
    if (!lookups.some((l) => l instanceof Promise)) return toFacts(lookups as RelationColumns[][]);
    return Promise.all(lookups).then(toFacts);
  }
}

interface Resolved {
  sources: ({ column: string; origins: { column: string }[]; complete: boolean; computed: boolean } | null)[];
  callsUserFunctions: boolean;
  composites: (CompositeFacts | null)[];
  relations: RelationFacts[];
  refs: SqlReferences | undefined;
}

/** What the catalog said of a COPY: the table's columns, or the relations its query reads. */
interface CopyFacts {
  table?: RelationColumns[];
  query?: { refs: SqlReferences; relations: RelationFacts[]; direct: (string | undefined)[] | undefined };
}

/** A result shape's identity: names, origins, types and formats of its columns. */
export function columnsKey(columns: ResultColumn[]): string {
  let key = '';
  for (const c of columns) key += `${c.name}\u0000${c.tableOid ?? 0}.${c.attnum ?? 0}.${c.typeOid}.${c.format}\u0001`;
  return key;
}
