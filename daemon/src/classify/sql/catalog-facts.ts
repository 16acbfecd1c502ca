import { functionKind } from './catalog.js';
import { combine } from './classify.js';
import { combineClasses } from './types.js';
import type { SqlClass, SqlClassification, SqlStatementInfo } from './types.js';

/**
 * What the server's catalog says about the functions and relations a statement names, and how
 * those facts change its class. Pure: the proxy looks the facts up (proxies/postgres/catalog.ts)
 * and this judges them.
 *
 * The rule:
 * - A call to a function that is not built in (its schema is neither pg_catalog nor
 *   information_schema) is judged by the catalog: VOLATILE is a write, STABLE and IMMUTABLE are
 *   reads; SECURITY DEFINER, or a language the server does not trust (C, internal, plpython3u,
 *   ...), is privileged. An extension's C functions are judged by their volatility alone: CREATE
 *   EXTENSION is privileged, so whoever installed them was trusted with server code.
 * - A name with several overloads, or found in several schemas, is judged by the strictest of
 *   them: the statement's argument types and the session's search_path decide which one runs, and
 *   neither is known here.
 * - What a routine runs is part of the call: an SQL or PL/pgSQL body is classified (a STABLE
 *   function may still call a VOLATILE one, and the server lets it), as are its default
 *   arguments, an aggregate's support functions and a BEGIN ATOMIC body's dependencies. A body in
 *   another trusted language (plperl, plv8, ...) cannot be read and is unknown.
 * - An explicit cast (x::t) is a call of the cast's function when CREATE CAST made it a user
 *   function; so is an operator's function (and its commutator's and negator's).
 * - A relation is the calls its definition makes: reading a view runs its query; reading a table
 *   evaluates its row-level security policies; writing a table also fires its triggers and rules,
 *   evaluates column defaults, check and domain constraints and index expressions, cascades along
 *   foreign keys and reaches partitions and child tables. Built-in functions reached this way are
 *   judged by the classifier's own lists (a view over pg_read_file is privileged).
 * - `runsUserCode` is set when anything reached is a VOLATILE function that is not built in.
 * - A name the catalog does not have keeps the statement's class (the server will reject it); a
 *   name the facts do not cover at all makes the statement unknown.
 * Built-in functions called directly stay as the classifier judged them.
 */

export type Volatility = 'immutable' | 'stable' | 'volatile';
export type AccessMode = 'read' | 'write';

/** An object a function or relation reaches through the catalog (pg_depend, pg_trigger, ...). */
export interface CatalogDependency {
  kind: 'function' | 'relation';
  oid: number;
  /** for a relation: whether it is read or written */
  mode: AccessMode;
  /** how it is reached, for reasons: 'view definition', 'trigger audit', 'default of column id' */
  via: string;
}

export interface FunctionFact {
  oid: number;
  schema: string;
  name: string;
  volatility: Volatility;
  language: string;
  /** pg_language.lanpltrusted: false for C, internal and the untrusted procedural languages */
  trustedLanguage: boolean;
  owner: string;
  securityDefiner: boolean;
  kind: 'function' | 'procedure' | 'aggregate' | 'window';
  argumentCount: number;
  /** the extension the function belongs to */
  extension?: string;
  /** what an SQL or PL/pgSQL body does when it runs (classifyRoutineBody); absent for built-ins and other languages */
  body?: SqlStatementInfo;
  /** what its definition reaches: default arguments, an aggregate's support functions, a BEGIN ATOMIC body */
  reaches: readonly CatalogDependency[];
}

export interface RelationFact {
  oid: number;
  schema: string;
  name: string;
  /** pg_class.relkind: r table, v view, m materialized view, p partitioned table, f foreign table, S sequence, ... */
  kind: string;
  /** reached whenever the relation is read (and when it is written) */
  reads: readonly CatalogDependency[];
  /** reached only when it is written */
  writes: readonly CatalogDependency[];
}

/**
 * The facts one resolution needs. Names are as a statement writes them (SqlStatementInfo.calls,
 * operators, tables); an empty list means the catalog has no such object.
 */
export interface CatalogFacts {
  /** every overload, in every schema the name could mean, of a function name */
  functions: ReadonlyMap<string, readonly FunctionFact[]>;
  /** the same for names written as x.name (fieldCalls); only one-argument functions count */
  fieldFunctions: ReadonlyMap<string, readonly FunctionFact[]>;
  /** the functions behind the operators of that name whose function or schema is not built in */
  operators: ReadonlyMap<string, readonly FunctionFact[]>;
  /** the functions of the casts to the types of that name whose function is not built in */
  casts: ReadonlyMap<string, readonly FunctionFact[]>;
  /** every relation the name could mean */
  relations: ReadonlyMap<string, readonly RelationFact[]>;
  functionsByOid: ReadonlyMap<number, FunctionFact>;
  relationsByOid: ReadonlyMap<number, RelationFact>;
}

const BUILT_IN_SCHEMAS = new Set(['pg_catalog', 'information_schema']);
/** how many objects deep a chain of views, triggers and bodies is followed before it counts as unknown */
export const MAX_CATALOG_DEPTH = 12;
/** Languages whose bodies classifyRoutineBody reads. */
export const READABLE_LANGUAGES = new Set(['sql', 'plpgsql']);
/**
 * Commands that name a relation they write without running anything of it: no trigger, rule,
 * default or constraint fires (an index's own expression is a call the statement shows).
 */
const NAMING_ONLY = /^(DROP |COMMENT|SECURITY LABEL|LOCK TABLE|CREATE (INDEX|TRIGGER|RULE|POLICY|VIEW)|ALTER POLICY)/;

export function isBuiltInSchema(schema: string): boolean {
  return BUILT_IN_SCHEMAS.has(schema);
}

/**
 * The (schema, name) pairs a name as written could mean. Names are joined with '.', so a dot
 * inside a quoted part cannot be told from a separator: every split is a candidate. A leading
 * part may be the database (db.schema.name). An empty schema means any schema: an unqualified name
 * is looked up everywhere, as the session's search_path is not known here.
 */
export function nameCandidates(written: string): { schema: string; name: string }[] {
  const parts = written.split('.');
  const found = new Map<string, { schema: string; name: string }>();
  const add = (schema: string, name: string) => {
    if (name !== '') found.set(`${schema}\0${name}`, { schema, name });
  };
  add('', written);
  for (let schemaStart = 0; schemaStart < parts.length; schemaStart++) {
    for (let nameStart = schemaStart + 1; nameStart < parts.length; nameStart++) {
      add(parts.slice(schemaStart, nameStart).join('.'), parts.slice(nameStart).join('.'));
    }
  }
  return [...found.values()];
}

interface Part {
  class: SqlClass;
  reason: string;
}

class Effect {
  readonly parts: Part[] = [];
  readonly functions = new Set<string>();
  runsUserCode = false;
  /** a function not built in that reads tables (or whose body cannot be read) is reached: what it returns may be any column it reads */
  callsUserFunctions = false;

  add(cls: SqlClass, reason: string): void {
    this.parts.push({ class: cls, reason });
  }

  absorb(other: Effect, prefix = ''): void {
    for (const p of other.parts) this.parts.push(prefix === '' ? p : { class: p.class, reason: prefix + p.reason });
    for (const f of other.functions) this.functions.add(f);
    this.runsUserCode ||= other.runsUserCode;
    this.callsUserFunctions ||= other.callsUserFunctions;
  }
}

function qualified(schema: string, name: string): string {
  return `${schema}.${name}`;
}

/** Judges facts for one resolution; effects of objects outside a cycle are remembered. */
class Judge {
  private readonly done = new Map<string, Effect>();
  private readonly inProgress = new Set<string>();
  /** set when an effect was cut short by a cycle, so it is not remembered */
  private cut = false;

  constructor(private readonly facts: CatalogFacts) {}

  /** What a statement (or a routine body) reaches beyond what its text shows. */
  statement(s: SqlStatementInfo, depth: number): Effect {
    const effect = new Effect();
    for (const call of s.calls) {
      const overloads = this.facts.functions.get(call);
      if (overloads === undefined) effect.add('unknown', `the catalog was not asked about the function ${call}`);
      // built-ins called directly stay as the classifier judged them
      else for (const fn of overloads) if (!isBuiltInSchema(fn.schema)) effect.absorb(this.fn(fn, depth + 1));
    }
    for (const field of s.fieldCalls) {
      const overloads = this.facts.fieldFunctions.get(field);
      if (overloads === undefined) effect.add('unknown', `the catalog was not asked about the function ${field}`);
      else for (const fn of overloads) if (fn.argumentCount === 1 && fn.kind === 'function') effect.absorb(this.fn(fn, depth + 1), `x.${field} may call `);
    }
    for (const op of s.operators) {
      const functions = this.facts.operators.get(op);
      if (functions === undefined) effect.add('unknown', `the catalog was not asked about the operator ${op}`);
      else for (const fn of functions) effect.absorb(this.fn(fn, depth + 1), `operator ${op}: `);
    }
    for (const type of s.casts) {
      const functions = this.facts.casts.get(type);
      if (functions === undefined) effect.add('unknown', `the catalog was not asked about casts to ${type}`);
      else for (const fn of functions) effect.absorb(this.fn(fn, depth + 1), `cast to ${type}: `);
    }
    const writes = NAMING_ONLY.test(s.command) ? [] : s.writesTables;
    for (const [names, mode] of [[s.readsTables, 'read'], [writes, 'write']] as const) {
      for (const name of names) {
        const relations = this.facts.relations.get(name);
        if (relations === undefined) effect.add('unknown', `the catalog was not asked about the relation ${name}`);
        else for (const rel of relations) effect.absorb(this.relation(rel, mode, depth + 1));
      }
    }
    return effect;
  }

  fn(fn: FunctionFact, depth: number): Effect {
    return this.remembered(`f${fn.oid}`, depth, qualified(fn.schema, fn.name), () => this.judgeFunction(fn, depth));
  }

  relation(rel: RelationFact, mode: AccessMode, depth: number): Effect {
    return this.remembered(`r${rel.oid}:${mode}`, depth, qualified(rel.schema, rel.name), () => this.judgeRelation(rel, mode, depth));
  }

  private remembered(key: string, depth: number, label: string, judge: () => Effect): Effect {
    const known = this.done.get(key);
    if (known !== undefined) return known;
    if (this.inProgress.has(key)) {
      // a cycle adds nothing the first visit does not already count
      this.cut = true;
      return new Effect();
    }
    if (depth > MAX_CATALOG_DEPTH) {
      const tooDeep = new Effect();
      tooDeep.add('unknown', `${label} is reached through more than ${MAX_CATALOG_DEPTH} views, triggers or routines`);
      return tooDeep;
    }
    const cutBefore = this.cut;
    this.cut = false;
    this.inProgress.add(key);
    const effect = judge();
    this.inProgress.delete(key);
    if (!this.cut) this.done.set(key, effect);
    this.cut ||= cutBefore;
    return effect;
  }

  private judgeFunction(fn: FunctionFact, depth: number): Effect {
    const effect = new Effect();
    const name = qualified(fn.schema, fn.name);
    if (isBuiltInSchema(fn.schema)) {
      const kind = functionKind(fn.name.toLowerCase());
      if (kind === 'privileged' || kind === 'write') {
        effect.add(kind, `calls ${fn.name}`);
        effect.functions.add(fn.name.toLowerCase());
      } else if (kind === 'set_config') {
        effect.add('write', 'calls set_config');
        effect.functions.add(fn.name);
      } else if (kind === 'runs-sql') {
        effect.add('unknown', `calls ${fn.name}, which runs SQL text not shown here`);
        effect.functions.add(fn.name);
      } else {
        effect.add('read', `calls the built-in ${fn.name}`);
      }
      return effect;
    }
    const described = `${name} (${fn.volatility.toUpperCase()}, LANGUAGE ${fn.language}, owner ${fn.owner})`;
    // what it returns can be any column it reads: a body that reads tables, or one Airlock cannot read
    if (fn.body === undefined || fn.body.tables.length > 0) effect.callsUserFunctions = true;
    if (fn.kind === 'aggregate') {
      // an aggregate is its support functions; its own row says LANGUAGE internal
      effect.add('read', `calls the aggregate ${name}`);
    } else {
      if (fn.volatility === 'volatile') {
        effect.add('write', `calls ${described}, which may change data`);
        effect.functions.add(fn.name);
        effect.runsUserCode = true;
      } else {
        effect.add('read', `calls ${described}`);
      }
      if (fn.securityDefiner) {
        effect.add('privileged', `calls ${described}, which runs with its owner's privileges (SECURITY DEFINER)`);
        effect.functions.add(fn.name);
      }
      const vettedServerCode = fn.extension !== undefined && (fn.language === 'c' || fn.language === 'internal');
      if (!fn.trustedLanguage && !vettedServerCode) {
        effect.add('privileged', `calls ${described}, code the server runs as its operating-system user`);
        effect.functions.add(fn.name);
      } else if (fn.body !== undefined) {
        effect.absorb(this.body(fn.body, depth), `${name} runs: `);
      } else if (!vettedServerCode) {
        effect.add('unknown', `calls ${described}, whose body Airlock cannot read`);
      }
    }
    for (const dep of fn.reaches) effect.absorb(this.dependency(dep, depth), `${name} (${dep.via}) `);
    return effect;
  }

  private body(body: SqlStatementInfo, depth: number): Effect {
    const effect = new Effect();
    for (const reason of body.reasons) effect.add(body.class, reason);
    effect.runsUserCode ||= body.runsUserCode;
    for (const f of body.functions) effect.functions.add(f);
    effect.absorb(this.statement(body, depth));
    return effect;
  }

  private judgeRelation(rel: RelationFact, mode: AccessMode, depth: number): Effect {
    const effect = new Effect();
    const deps = mode === 'write' ? [...rel.reads, ...rel.writes] : rel.reads;
    for (const dep of deps) effect.absorb(this.dependency(dep, depth), `${mode === 'write' ? 'writing' : 'reading'} ${qualified(rel.schema, rel.name)} (${dep.via}) `);
    return effect;
  }

  private dependency(dep: CatalogDependency, depth: number): Effect {
    if (dep.kind === 'function') {
      const fn = this.facts.functionsByOid.get(dep.oid);
      if (fn !== undefined) return this.fn(fn, depth + 1);
    } else {
      const rel = this.facts.relationsByOid.get(dep.oid);
      if (rel !== undefined) return this.relation(rel, dep.mode, depth + 1);
    }
    const missing = new Effect();
    missing.add('unknown', `reaches ${dep.kind} ${dep.oid}, which the catalog was not asked about`);
    return missing;
  }
}

/**
 * The classification with the catalog's facts applied: each statement's class is the strictest
 * of its own and of what its calls, operators and relations reach (see the rule above). A class
 * is never lowered. Reasons of the resulting class are kept and the catalog's added to them.
 */
export function applyCatalogFacts(classification: SqlClassification, facts: CatalogFacts): SqlClassification {
  if (classification.parseError !== undefined) return classification;
  const judge = new Judge(facts);
  let changed = false;
  const statements = classification.statements.map((s) => {
    const effect = judge.statement(s, 0);
    const cls = combineClasses([s.class, ...effect.parts.map((p) => p.class)]);
    const added = [...new Set(effect.parts.filter((p) => p.class === cls && p.class !== 'read').map((p) => p.reason))];
    const functions = [...new Set([...s.functions, ...effect.functions])];
    const runsUserCode = s.runsUserCode || effect.runsUserCode;
    const callsUserFunctions = s.callsUserFunctions === true || effect.callsUserFunctions;
    if (cls === s.class && added.length === 0 && functions.length === s.functions.length && runsUserCode === s.runsUserCode && callsUserFunctions === (s.callsUserFunctions === true)) return s;
    changed = true;
    const reasons = cls === s.class ? [...new Set([...s.reasons, ...added])] : added;
    return { ...s, class: cls, reasons, functions, runsUserCode, ...(callsUserFunctions ? { callsUserFunctions } : {}) };
  });
  if (!changed) return classification;
  return combine(statements);
}

/** Every name a classification asks the catalog about, by kind. */
export interface CatalogNames {
  functions: Set<string>;
  fieldFunctions: Set<string>;
  operators: Set<string>;
  casts: Set<string>;
  relations: Set<string>;
}

/** The names a statement (or a routine body) needs looked up. */
export function namesOf(statements: readonly SqlStatementInfo[], into: CatalogNames = { functions: new Set(), fieldFunctions: new Set(), operators: new Set(), casts: new Set(), relations: new Set() }): CatalogNames {
  for (const s of statements) {
    for (const c of s.calls) into.functions.add(c);
    for (const c of s.fieldCalls) into.fieldFunctions.add(c);
    for (const o of s.operators) into.operators.add(o);
    for (const t of s.casts) into.casts.add(t);
    for (const t of s.readsTables) into.relations.add(t);
    if (!NAMING_ONLY.test(s.command)) for (const t of s.writesTables) into.relations.add(t);
  }
  return into;
}
