import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { applyCatalogFacts, classifyRoutineBody, classifySql, initSqlClassifier, nameCandidates, namesOf, MAX_CATALOG_DEPTH } from '../../src/classify/index.js';
import type { CatalogDependency, CatalogFacts, FunctionFact, RelationFact, SqlClassification } from '../../src/classify/index.js';

/** Hand-made catalog facts: a function as the catalog would describe it, user-defined unless said otherwise. */
let nextOid = 50_000;
function fn(name: string, overrides: Partial<FunctionFact> = {}): FunctionFact {
  const fact: FunctionFact = { oid: nextOid++, schema: 'public', name, volatility: 'volatile', language: 'plpgsql', trustedLanguage: true, owner: 'app_owner', securityDefiner: false, kind: 'function', argumentCount: 0, reaches: [], ...overrides };
  // the catalog reads every SQL and PL/pgSQL body of a user function; a body that only returns a value, unless a test gives one
  if (fact.body === undefined && fact.schema !== 'pg_catalog' && (fact.language === 'sql' || fact.language === 'plpgsql')) {
    fact.body = classifyRoutineBody(`CREATE FUNCTION public.${name}() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$`);
  }
  return fact;
}

function relation(name: string, overrides: Partial<RelationFact> = {}): RelationFact {
  return { oid: nextOid++, schema: 'public', name, kind: 'r', reads: [], writes: [], ...overrides };
}

function uses(target: FunctionFact | RelationFact, via: string, mode: 'read' | 'write' = 'read'): CatalogDependency {
  return { kind: 'volatility' in target ? 'function' : 'relation', oid: target.oid, mode, via };
}

/** Facts for the names given; every function and relation is also known by OID. */
function facts(parts: { functions?: Record<string, FunctionFact[]>; fieldFunctions?: Record<string, FunctionFact[]>; operators?: Record<string, FunctionFact[]>; casts?: Record<string, FunctionFact[]>; relations?: Record<string, RelationFact[]>; extra?: (FunctionFact | RelationFact)[] }): CatalogFacts {
  const functions = new Map(Object.entries(parts.functions ?? {}));
  const fieldFunctions = new Map(Object.entries(parts.fieldFunctions ?? {}));
  const operators = new Map(Object.entries(parts.operators ?? {}));
  const casts = new Map(Object.entries(parts.casts ?? {}));
  const relations = new Map(Object.entries(parts.relations ?? {}));
  const all = [...functions.values(), ...fieldFunctions.values(), ...operators.values(), ...casts.values(), ...relations.values()].flat().concat(parts.extra ?? []);
  return {
    functions,
    fieldFunctions,
    operators,
    casts,
    relations,
    functionsByOid: new Map(all.filter((x): x is FunctionFact => 'volatility' in x).map((f) => [f.oid, f])),
    relationsByOid: new Map(all.filter((x): x is RelationFact => !('volatility' in x)).map((r) => [r.oid, r])),
  };
}

function reasons(c: SqlClassification): string {
  return c.statements.flatMap((s) => s.reasons).join(' | ');
}

before(async () => {
  await initSqlClassifier();
});

describe('the classifier lists what the catalog must resolve', () => {
  test('calls as written: unquoted lower case, quoted kept, schema kept, inside CTEs, subqueries and DO blocks', () => {
    const c = classifySql('WITH x AS (SELECT Purge()) SELECT "MixedCase"(1), app.f(2), (SELECT inner_fn()) FROM x');
    assert.deepEqual(new Set(c.statements[0]!.calls), new Set(['purge', 'MixedCase', 'app.f', 'inner_fn']));
    const block = classifySql('DO $$ BEGIN PERFORM from_do(); END $$');
    assert.ok(block.statements[0]!.calls.includes('from_do'), JSON.stringify(block.statements[0]!.calls));
    assert.equal(block.runsUserCode, true);
  });

  test('what is only defined or planned is not a call: views, function bodies, plain EXPLAIN', () => {
    assert.deepEqual(classifySql('CREATE VIEW v AS SELECT purge() FROM t').calls, []);
    assert.deepEqual(classifySql('EXPLAIN SELECT purge() FROM t').statements[0]!.readsTables, []);
    assert.deepEqual(classifySql('EXPLAIN SELECT purge()').calls, []);
    assert.deepEqual(classifySql('EXPLAIN ANALYZE SELECT purge()').calls, ['purge']);
  });

  test('operators, standard names included (a user type can back + with a volatile function), and OPERATOR(schema.op)', () => {
    const s = classifySql("SELECT a + b, c OPERATOR(app.===) d, e BETWEEN 1 AND 2, f LIKE 'x%', g = ANY(SELECT 1) FROM t ORDER BY a USING <").statements[0]!;
    for (const op of ['+', 'app.===', '>=', '<=', '~~', '=', '<']) assert.ok(s.operators.includes(op), `${op} in ${JSON.stringify(s.operators)}`);
    // comparisons that name no operator: IN (subquery), CASE x WHEN
    assert.deepEqual(classifySql('SELECT a IN (SELECT b FROM t) FROM u').statements[0]!.operators, ['=']);
    assert.deepEqual(classifySql('SELECT CASE a WHEN 1 THEN 2 END FROM u').statements[0]!.operators, ['=']);
  });

  test('x.name and (x).name are listed as possible calls of name(x)', () => {
    const s = classifySql('SELECT i.purge_row, (i).other FROM items i').statements[0]!;
    assert.deepEqual(new Set(s.fieldCalls), new Set(['purge_row', 'other']));
  });

  test('runsUserCode: DO and CALL yes, a plain SELECT no, unparseable text yes', () => {
    assert.equal(classifySql('CALL p()').runsUserCode, true);
    assert.equal(classifySql('SELECT f()').runsUserCode, false);
    assert.equal(classifySql('SELEC oops').runsUserCode, true);
  });

  test('nameCandidates: every split of a dotted name, and any schema for the name as a whole', () => {
    assert.deepEqual(nameCandidates('f'), [{ schema: '', name: 'f' }]);
    const dotted = nameCandidates('a.b');
    assert.deepEqual(new Set(dotted.map((c) => `${c.schema}|${c.name}`)), new Set(['|a.b', 'a|b']));
    const three = new Set(nameCandidates('db.s.f').map((c) => `${c.schema}|${c.name}`));
    for (const expected of ['|db.s.f', 'db|s.f', 'db.s|f', 's|f']) assert.ok(three.has(expected), expected);
  });

  test('classifyRoutineBody reads SQL and PL/pgSQL bodies as running, other languages as unknown', () => {
    const sqlBody = classifyRoutineBody('CREATE OR REPLACE FUNCTION public.s() RETURNS integer LANGUAGE sql STABLE AS $function$ SELECT purge() $function$');
    assert.deepEqual(sqlBody.calls, ['purge']);
    const plpgsql = classifyRoutineBody('CREATE FUNCTION public.t() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN INSERT INTO audit VALUES (NEW.id); RETURN NEW; END $f$');
    assert.equal(plpgsql.class, 'write');
    assert.deepEqual(plpgsql.writesTables, ['audit']);
    const atomic = classifyRoutineBody('CREATE FUNCTION public.a() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT purge(); END');
    assert.deepEqual(atomic.calls, ['purge']);
    assert.equal(classifyRoutineBody("CREATE FUNCTION public.p() RETURNS int LANGUAGE plperl AS $$ return 1 $$").class, 'unknown');
    assert.equal(classifyRoutineBody('not sql at all').class, 'unknown');
  });

  test('namesOf skips the relations a DROP or COMMENT only names', () => {
    const names = namesOf(classifySql('DROP TABLE gone; INSERT INTO kept SELECT * FROM src').statements);
    assert.deepEqual(new Set(names.relations), new Set(['kept', 'src']));
  });
});

describe('applyCatalogFacts', () => {
  test('a VOLATILE user function called as SELECT f() is a write naming the function, its language and owner', () => {
    const purge = fn('purge');
    const c = applyCatalogFacts(classifySql('SELECT purge()'), facts({ functions: { purge: [purge] } }));
    assert.equal(c.class, 'write');
    assert.match(reasons(c), /public\.purge \(VOLATILE, LANGUAGE plpgsql, owner app_owner\)/);
    assert.equal(c.runsUserCode, true);
    assert.ok(c.functions.includes('purge'));
  });

  test('STABLE and IMMUTABLE user functions stay reads, and do not run user code', () => {
    const c = applyCatalogFacts(classifySql('SELECT shout(x), twice(1) FROM t'), facts({ functions: { shout: [fn('shout', { volatility: 'stable', language: 'sql' })], twice: [fn('twice', { volatility: 'immutable', language: 'sql' })] }, relations: { t: [relation('t')] } }));
    assert.equal(c.class, 'read');
    assert.equal(c.runsUserCode, false);
  });

  test('several overloads or schemas: the strictest decides', () => {
    const c = applyCatalogFacts(classifySql('SELECT lookup(1)'), facts({ functions: { lookup: [fn('lookup', { volatility: 'stable' }), fn('lookup', { schema: 'other', volatility: 'volatile' })] } }));
    assert.equal(c.class, 'write');
    assert.match(reasons(c), /other\.lookup/);
  });

  test('SECURITY DEFINER and untrusted languages are privileged; an extension\'s C functions are judged by volatility', () => {
    const definer = applyCatalogFacts(classifySql('SELECT d()'), facts({ functions: { d: [fn('d', { volatility: 'stable', securityDefiner: true })] } }));
    assert.equal(definer.class, 'privileged');
    assert.match(reasons(definer), /SECURITY DEFINER/);
    const python = applyCatalogFacts(classifySql('SELECT py()'), facts({ functions: { py: [fn('py', { volatility: 'immutable', language: 'plpython3u', trustedLanguage: false })] } }));
    assert.equal(python.class, 'privileged');
    const handMadeC = applyCatalogFacts(classifySql('SELECT cfn()'), facts({ functions: { cfn: [fn('cfn', { volatility: 'immutable', language: 'c', trustedLanguage: false })] } }));
    assert.equal(handMadeC.class, 'privileged');
    const pgcrypto = applyCatalogFacts(classifySql("SELECT digest('x', 'sha256')"), facts({ functions: { digest: [fn('digest', { volatility: 'immutable', language: 'c', trustedLanguage: false, extension: 'pgcrypto' })] } }));
    assert.equal(pgcrypto.class, 'read');
  });

  test('a STABLE function whose body calls a VOLATILE one is a write (the server does not stop it)', () => {
    const purge = fn('purge');
    const sneaky = fn('sneaky', { volatility: 'stable', body: classifyRoutineBody('CREATE FUNCTION public.sneaky() RETURNS int LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN purge(); END $$') });
    const c = applyCatalogFacts(classifySql('SELECT sneaky()'), facts({ functions: { sneaky: [sneaky], purge: [purge] } }));
    assert.equal(c.class, 'write');
    assert.match(reasons(c), /public\.sneaky runs: calls public\.purge/);
  });

  test('a SQL or PL/pgSQL function whose body the facts lack is unknown', () => {
    const withoutBody = { ...fn('nobody', { volatility: 'stable' }), body: undefined };
    assert.equal(applyCatalogFacts(classifySql('SELECT nobody()'), facts({ functions: { nobody: [withoutBody] } })).class, 'unknown');
  });

  test('a body in a trusted language Airlock cannot read is unknown; dynamic SQL in a body is unknown', () => {
    const perl = applyCatalogFacts(classifySql('SELECT p()'), facts({ functions: { p: [fn('p', { volatility: 'stable', language: 'plperl' })] } }));
    assert.equal(perl.class, 'unknown');
    const dynamic = fn('dyn', { body: classifyRoutineBody("CREATE FUNCTION public.dyn(q text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE q; END $$") });
    assert.equal(applyCatalogFacts(classifySql("SELECT dyn('DROP TABLE x')"), facts({ functions: { dyn: [dynamic] } })).class, 'unknown');
  });

  test('built-ins called directly stay as the classifier judged them', () => {
    const builtIn = fn('query_to_xml', { schema: 'pg_catalog', volatility: 'stable', language: 'internal', trustedLanguage: false });
    const c = classifySql("SELECT query_to_xml('SELECT 1', true, true, ''), now(), lower('X')");
    const resolved = applyCatalogFacts(c, facts({ functions: { query_to_xml: [builtIn], now: [fn('now', { schema: 'pg_catalog', volatility: 'stable', language: 'internal', trustedLanguage: false })], lower: [fn('lower', { schema: 'pg_catalog', volatility: 'immutable', language: 'internal', trustedLanguage: false })] } }));
    assert.equal(resolved, c, 'unchanged, the same object');
  });

  test('reading a view over a VOLATILE user function is a write; over pg_read_file, privileged', () => {
    const purge = fn('purge');
    const view = relation('purging', { kind: 'v', reads: [uses(purge, 'view definition')] });
    const c = applyCatalogFacts(classifySql('SELECT * FROM purging'), facts({ relations: { purging: [view] }, extra: [purge] }));
    assert.equal(c.class, 'write');
    assert.match(reasons(c), /reading public\.purging \(view definition\) calls public\.purge/);
    const readFile = fn('pg_read_file', { schema: 'pg_catalog', volatility: 'volatile', language: 'internal', trustedLanguage: false });
    const leaky = relation('leaky', { kind: 'v', reads: [uses(readFile, 'view definition')] });
    assert.equal(applyCatalogFacts(classifySql('SELECT * FROM leaky'), facts({ relations: { leaky: [leaky] }, extra: [readFile] })).class, 'privileged');
  });

  test('a view over a view over the function: followed through', () => {
    const purge = fn('purge');
    const inner = relation('inner_v', { kind: 'v', reads: [uses(purge, 'view definition')] });
    const outer = relation('outer_v', { kind: 'v', reads: [uses(inner, 'view definition')] });
    assert.equal(applyCatalogFacts(classifySql('SELECT * FROM outer_v'), facts({ relations: { outer_v: [outer] }, extra: [inner, purge] })).class, 'write');
  });

  test('a trigger: INSERT keeps write and names it; a SECURITY DEFINER trigger function makes it privileged; a read does not fire it', () => {
    const audit = fn('audit_fn');
    const table = relation('audited', { writes: [uses(audit, 'trigger audit')] });
    const insert = applyCatalogFacts(classifySql('INSERT INTO audited VALUES (1)'), facts({ relations: { audited: [table] }, extra: [audit] }));
    assert.equal(insert.class, 'write');
    assert.match(reasons(insert), /INSERT modifies data/);
    assert.match(reasons(insert), /writing public\.audited \(trigger audit\) calls public\.audit_fn/);
    assert.equal(insert.runsUserCode, true);
    const read = applyCatalogFacts(classifySql('SELECT * FROM audited'), facts({ relations: { audited: [table] }, extra: [audit] }));
    assert.equal(read.class, 'read');
    assert.equal(read.runsUserCode, false);
    const definer = fn('definer_fn', { securityDefiner: true });
    const guarded = relation('guarded', { writes: [uses(definer, 'trigger d')] });
    assert.equal(applyCatalogFacts(classifySql('UPDATE guarded SET a = 1 WHERE id = 2'), facts({ relations: { guarded: [guarded] }, extra: [definer] })).class, 'privileged');
  });

  test('dropping, indexing, locking or commenting on a relation does not count as running its triggers', () => {
    const definer = fn('definer_fn', { securityDefiner: true });
    const table = relation('t', { writes: [uses(definer, 'trigger d')] });
    for (const sql of ['DROP TABLE t', 'CREATE INDEX i ON t (a)', 'CREATE TRIGGER x AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()', "COMMENT ON TABLE t IS 'x'"]) {
      assert.equal(applyCatalogFacts(classifySql(sql), facts({ relations: { t: [table] }, functions: { f: [] }, extra: [definer] })).class, 'ddl', sql);
    }
    assert.equal(applyCatalogFacts(classifySql('LOCK TABLE t'), facts({ relations: { t: [table] }, extra: [definer] })).class, 'write');
    // ALTER TABLE may evaluate defaults and constraints on every row: it stays followed
    assert.equal(applyCatalogFacts(classifySql('ALTER TABLE t ADD COLUMN c int'), facts({ relations: { t: [table] }, extra: [definer] })).class, 'privileged');
  });

  test('a trigger writing into another table follows that table\'s triggers', () => {
    const definer = fn('definer_fn', { securityDefiner: true });
    const log = relation('log', { writes: [uses(definer, 'trigger stamp')] });
    const writer = fn('writer', { body: classifyRoutineBody('CREATE FUNCTION public.writer() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO log VALUES (1); RETURN NEW; END $$') });
    const table = relation('t', { writes: [uses(writer, 'trigger w')] });
    const c = applyCatalogFacts(classifySql('INSERT INTO t VALUES (1)'), facts({ relations: { t: [table], log: [log] }, extra: [writer, definer] }));
    assert.equal(c.class, 'privileged');
  });

  test('an operator backed by a VOLATILE function is a write', () => {
    const eq = fn('money_eq', { argumentCount: 2 });
    const c = applyCatalogFacts(classifySql('SELECT 1 === 1'), facts({ operators: { '===': [eq] } }));
    assert.equal(c.class, 'write');
    assert.match(reasons(c), /operator ===: calls public\.money_eq/);
  });

  test('an explicit cast to a type whose cast CREATE CAST made a VOLATILE user function is a write', () => {
    const castFn = fn('to_pair', { argumentCount: 1 });
    const c = applyCatalogFacts(classifySql('SELECT 1::pair, CAST(2 AS pair)'), facts({ casts: { pair: [castFn] } }));
    assert.equal(c.class, 'write');
    assert.match(reasons(c), /cast to pair: calls public\.to_pair/);
    assert.deepEqual(classifySql("SELECT 'x'::text, $1::int").statements[0]!.casts, ['text', 'pg_catalog.int4']);
  });

  test('x.name: a one-argument function of that name is called; a column of that name is not', () => {
    const purgeRow = fn('purge_row', { argumentCount: 1 });
    assert.equal(applyCatalogFacts(classifySql('SELECT i.purge_row FROM items i'), facts({ fieldFunctions: { purge_row: [purgeRow] }, relations: { items: [relation('items')] } })).class, 'write');
    assert.equal(applyCatalogFacts(classifySql('SELECT i.note FROM items i'), facts({ fieldFunctions: { note: [] }, relations: { items: [relation('items')] } })).class, 'read');
  });

  test('an aggregate is judged by its support functions', () => {
    const step = fn('purge_step', { argumentCount: 2 });
    const agg = fn('purge_agg', { kind: 'aggregate', volatility: 'immutable', language: 'internal', trustedLanguage: false, reaches: [uses(step, 'definition')] });
    const c = applyCatalogFacts(classifySql('SELECT purge_agg(id) FROM items'), facts({ functions: { purge_agg: [agg] }, relations: { items: [relation('items')] }, extra: [step] }));
    assert.equal(c.class, 'write');
  });

  test('a name the catalog does not have keeps the class; a name the facts do not cover is unknown', () => {
    const c = classifySql('SELECT missing_fn()');
    assert.equal(applyCatalogFacts(c, facts({ functions: { missing_fn: [] } })).class, 'read');
    const notAsked = applyCatalogFacts(c, facts({}));
    assert.equal(notAsked.class, 'unknown');
    assert.match(reasons(notAsked), /not asked about the function missing_fn/);
  });

  test('a dependency the facts lack is unknown, not skipped', () => {
    const view = relation('v', { kind: 'v', reads: [{ kind: 'function', oid: 999_999, mode: 'read', via: 'view definition' }] });
    assert.equal(applyCatalogFacts(classifySql('SELECT * FROM v'), facts({ relations: { v: [view] } })).class, 'unknown');
  });

  test('a cycle (a view whose function reads the view) ends, and still counts the function', () => {
    const looping = fn('looping', { volatility: 'stable', body: classifyRoutineBody('CREATE FUNCTION public.looping() RETURNS int LANGUAGE sql STABLE AS $$ SELECT count(*)::int FROM loop_v $$') });
    const view = relation('loop_v', { kind: 'v', reads: [uses(looping, 'view definition')] });
    const purge = fn('purge');
    const withPurge = { ...looping, reaches: [uses(purge, 'definition')] };
    const c = applyCatalogFacts(classifySql('SELECT * FROM loop_v'), facts({ relations: { loop_v: [view] }, functions: { count: [] }, casts: { 'pg_catalog.int4': [] }, extra: [withPurge, purge] }));
    assert.equal(c.class, 'write');
  });

  test(`a chain deeper than ${MAX_CATALOG_DEPTH} views is unknown`, () => {
    const purge = fn('purge', { volatility: 'stable' });
    let previous: RelationFact | FunctionFact = purge;
    const chain: RelationFact[] = [];
    for (let i = 0; i < MAX_CATALOG_DEPTH + 3; i++) {
      const view: RelationFact = relation(`v${i}`, { kind: 'v', reads: [uses(previous, 'view definition')] });
      chain.push(view);
      previous = view;
    }
    const top = chain.at(-1)!;
    const c = applyCatalogFacts(classifySql(`SELECT * FROM ${top.name}`), facts({ relations: { [top.name]: [top] }, extra: [...chain, purge] }));
    assert.equal(c.class, 'unknown');
    assert.match(reasons(c), /more than \d+ views/);
  });

  test('a class is never lowered', () => {
    const c = applyCatalogFacts(classifySql('DROP TABLE t; SELECT stable_fn()'), facts({ functions: { stable_fn: [fn('stable_fn', { volatility: 'stable' })] } }));
    assert.equal(c.class, 'ddl');
    assert.equal(c.statements[0]!.class, 'ddl');
  });
});

describe('callsUserFunctions: a computed value may be any column a user function reads', () => {
  test('a user function whose body reads a table, or whose body cannot be read, is flagged; one that only computes is not; built-ins never are', () => {
    const reader = fn('hash_of', { volatility: 'stable', language: 'sql', body: classifyRoutineBody('CREATE FUNCTION public.hash_of(int) RETURNS text LANGUAGE sql STABLE AS $$ SELECT password_hash FROM customers WHERE id = $1 $$') });
    const computes = fn('add_tax', { volatility: 'immutable', language: 'sql', body: classifyRoutineBody('CREATE FUNCTION public.add_tax(numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$ SELECT $1 * 1.2 $$') });
    const opaque = { ...fn('from_perl', { volatility: 'stable', language: 'plperl' }), body: undefined };
    const builtIn = fn('lower', { schema: 'pg_catalog', volatility: 'immutable', language: 'internal' });
    const all = facts({ functions: { hash_of: [reader], add_tax: [computes], from_perl: [opaque], lower: [builtIn] } });
    assert.equal(applyCatalogFacts(classifySql('SELECT hash_of(1)'), all).callsUserFunctions, true);
    assert.equal(applyCatalogFacts(classifySql('SELECT from_perl()'), all).callsUserFunctions, true);
    assert.notEqual(applyCatalogFacts(classifySql('SELECT add_tax(10)'), all).callsUserFunctions, true);
    assert.notEqual(applyCatalogFacts(classifySql("SELECT lower('A')"), all).callsUserFunctions, true);
    // through a view that reads it
    const view = relation('hashes', { kind: 'v', reads: [uses(reader, 'view query')] });
    assert.equal(applyCatalogFacts(classifySql('SELECT h FROM hashes'), facts({ relations: { hashes: [view] }, extra: [reader] })).callsUserFunctions, true);
  });
});
