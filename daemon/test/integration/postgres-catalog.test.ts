import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import pg from 'pg';
import { classifySql, initSqlClassifier, type SqlClassification } from '../../src/classify/index.js';
import { CatalogConnection, CatalogConnections } from '../../src/proxies/postgres/catalog-connection.js';
import { TargetCatalog, TargetCatalogs } from '../../src/proxies/postgres/catalog.js';
import type { UpstreamSettings } from '../../src/proxies/postgres/upstream.js';
import { systemClock } from '../../src/util/time.js';
import { createTestDatabase, dropTestDatabase, freePort, machinePg } from '../helpers/pg-cluster.js';

const DB = 'airlock_it_catalog';

/**
 * A plpgsql function that deletes rows, and every way a statement can run it without naming it:
 * a STABLE wrapper, a view, a column default, a trigger, a rule, a row-level security policy, an
 * operator, x.name notation, an aggregate's transition function, a default argument, a domain
 * check, an index expression, a cascading foreign key.
 */
const SCHEMA = `
CREATE TABLE items (id int PRIMARY KEY, note text);
INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');
CREATE FUNCTION purge() RETURNS int LANGUAGE plpgsql AS $$ BEGIN DELETE FROM items WHERE id = 1; RETURN 1; END $$;
CREATE FUNCTION shout(text) RETURNS text STABLE LANGUAGE sql AS $$ SELECT upper($1) $$;
CREATE FUNCTION twice(int) RETURNS int IMMUTABLE LANGUAGE sql AS $$ SELECT $1 * 2 $$;
CREATE FUNCTION sneaky() RETURNS int STABLE LANGUAGE plpgsql AS $$ BEGIN RETURN purge(); END $$;
CREATE FUNCTION definer() RETURNS int STABLE SECURITY DEFINER LANGUAGE sql AS $$ SELECT 1 $$;
CREATE FUNCTION dyn(q text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE q; END $$;
CREATE FUNCTION public."odd.name"() RETURNS int LANGUAGE plpgsql AS $$ BEGIN DELETE FROM items WHERE id = 3; RETURN 1; END $$;
CREATE VIEW purging AS SELECT id, purge() AS p FROM items;
CREATE VIEW purging_again AS SELECT id FROM purging;
CREATE VIEW harmless AS SELECT id, shout(note) AS loud FROM items;
CREATE TABLE with_default (id int, stamp int DEFAULT purge());
CREATE TABLE audited (id int, v text);
CREATE FUNCTION audit_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM purge(); RETURN NEW; END $$;
CREATE TRIGGER audit BEFORE UPDATE ON audited FOR EACH ROW EXECUTE FUNCTION audit_trigger();
CREATE TABLE definer_audited (id int);
CREATE FUNCTION definer_trigger() RETURNS trigger SECURITY DEFINER LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER stamp BEFORE INSERT ON definer_audited FOR EACH ROW EXECUTE FUNCTION definer_trigger();
CREATE TABLE measurements (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE measurements_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TRIGGER partition_stamp BEFORE INSERT ON measurements_2026 FOR EACH ROW EXECUTE FUNCTION definer_trigger();
CREATE VIEW items_view AS SELECT * FROM items;
CREATE FUNCTION instead_insert() RETURNS trigger SECURITY DEFINER LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER instead_insert INSTEAD OF INSERT ON items_view FOR EACH ROW EXECUTE FUNCTION instead_insert();
CREATE TABLE ruled (id int);
CREATE RULE purge_on_insert AS ON INSERT TO ruled DO ALSO SELECT purge();
CREATE TABLE guarded (id int, owner text);
ALTER TABLE guarded ENABLE ROW LEVEL SECURITY;
CREATE POLICY purge_policy ON guarded USING (purge() > 0);
CREATE FUNCTION int_eq_purge(int, int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN DELETE FROM items WHERE id = 2; RETURN $1 = $2; END $$;
CREATE OPERATOR public.=== (leftarg = int, rightarg = int, function = int_eq_purge);
CREATE FUNCTION int_ne(int, int) RETURNS boolean IMMUTABLE LANGUAGE sql AS $$ SELECT $1 <> $2 $$;
CREATE FUNCTION int_ne_purge(int, int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN DELETE FROM items WHERE id = 2; RETURN $1 <> $2; END $$;
CREATE OPERATOR public.=/= (leftarg = int, rightarg = int, function = int_ne);
CREATE OPERATOR public.=?= (leftarg = int, rightarg = int, function = int_ne, negator = OPERATOR(public.!=?=));
CREATE OPERATOR public.!=?= (leftarg = int, rightarg = int, function = int_ne_purge);
CREATE FUNCTION text_plus(text, text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN DELETE FROM items WHERE id = 2; RETURN $1 || $2; END $$;
CREATE OPERATOR public.+ (leftarg = text, rightarg = text, function = text_plus);
CREATE FUNCTION purge_row(items) RETURNS int LANGUAGE plpgsql AS $$ BEGIN DELETE FROM items WHERE id = ($1).id; RETURN 1; END $$;
CREATE FUNCTION purge_step(int, int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN DELETE FROM items WHERE id = $2; RETURN $1 + $2; END $$;
CREATE AGGREGATE purge_agg(int) (sfunc = purge_step, stype = int, initcond = '0');
CREATE FUNCTION with_default_arg(a int DEFAULT purge()) RETURNS int STABLE LANGUAGE sql AS $$ SELECT a $$;
CREATE DOMAIN checked_int AS int CHECK (VALUE > 0 AND definer() = 1);
CREATE TABLE domained (v checked_int);
CREATE FUNCTION imm_purge(int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$ BEGIN PERFORM purge(); RETURN $1; END $$;
CREATE TABLE indexed (v int);
CREATE INDEX indexed_purge ON indexed ((imm_purge(v)));
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (pid int REFERENCES parent ON DELETE CASCADE);
CREATE TRIGGER child_stamp BEFORE DELETE ON child FOR EACH ROW EXECUTE FUNCTION definer_trigger();
CREATE TYPE boxed AS (v int);
CREATE FUNCTION box_purge(int) RETURNS boxed LANGUAGE plpgsql AS $$ BEGIN DELETE FROM items WHERE id = $1; RETURN ROW($1)::boxed; END $$;
CREATE CAST (int AS boxed) WITH FUNCTION box_purge(int);
CREATE FUNCTION flip() RETURNS int VOLATILE LANGUAGE sql AS $$ SELECT 1 $$;
CREATE TABLE secrets (id int, password text, owner_email text);
CREATE VIEW secret_view AS SELECT id, password AS pw, upper(owner_email) AS shouted, id + 1 AS next_id FROM secrets;
CREATE VIEW secret_view_again AS SELECT pw AS again FROM secret_view;
CREATE SCHEMA other;
CREATE TABLE other.secrets (token text);
CREATE TYPE pair AS (a int, b text);
`;

function settings(port = 5432, database = ''): UpstreamSettings {
  return { target: 'catalog-test', host: '127.0.0.1', port, user: 'postgres', database, sslmode: 'disable', connectTimeoutMs: 5000, clock: systemClock, password: () => undefined };
}

async function resolved(catalog: TargetCatalog, sql: string): Promise<SqlClassification> {
  return await catalog.resolve(classifySql(sql));
}

function reasons(c: SqlClassification): string {
  return c.statements.flatMap((s) => s.reasons).join(' | ');
}

describe('PostgreSQL catalog: side effects hidden in calls, views, triggers, defaults, rules, policies and operators', () => {
  let admin: pg.Client;
  let connection: CatalogConnection;
  let catalog: TargetCatalog;

  before(async () => {
    await initSqlClassifier();
    await createTestDatabase(DB);
    admin = new pg.Client(machinePg(DB));
    await admin.connect();
    await admin.query(SCHEMA);
    connection = new CatalogConnection(settings(), DB, { queryTimeoutMs: 5000, maxMessageBytes: 16 * 1024 * 1024 });
    catalog = new TargetCatalog(connection);
  });
  after(async () => {
    connection.close();
    await admin.end();
    await dropTestDatabase(DB);
  });

  test('SELECT f() of a plpgsql function that deletes rows is a write naming it, its language and owner', async () => {
    const c = await resolved(catalog, 'SELECT purge()');
    assert.equal(c.class, 'write');
    assert.match(reasons(c), /public\.purge \(VOLATILE, LANGUAGE plpgsql, owner postgres\)/);
    assert.equal(c.runsUserCode, true);
  });

  test('the same, through a CTE, a scalar subquery and a quoted name with a dot in it', async () => {
    assert.equal((await resolved(catalog, 'WITH x AS (SELECT purge()) SELECT * FROM x')).class, 'write');
    assert.equal((await resolved(catalog, 'SELECT (SELECT purge())')).class, 'write');
    assert.equal((await resolved(catalog, 'SELECT "odd.name"()')).class, 'write');
    assert.equal((await resolved(catalog, 'SELECT public."odd.name"()')).class, 'write');
  });

  test('a STABLE function that calls the volatile one is a write: the server runs it', async () => {
    assert.equal((await resolved(catalog, 'SELECT sneaky()')).class, 'write');
    assert.equal((await resolved(catalog, 'SELECT with_default_arg()')).class, 'write', 'a default argument runs in the caller');
  });

  test('through a view, and a view over that view', async () => {
    const c = await resolved(catalog, 'SELECT * FROM purging');
    assert.equal(c.class, 'write');
    assert.match(reasons(c), /view definition/);
    assert.equal((await resolved(catalog, 'SELECT id FROM purging_again')).class, 'write');
    assert.equal((await resolved(catalog, 'SELECT * FROM harmless')).class, 'read');
  });

  test('a column default on INSERT, a trigger on UPDATE and a rule keep write and name what runs', async () => {
    const insert = await resolved(catalog, 'INSERT INTO with_default (id) VALUES (1)');
    assert.equal(insert.class, 'write');
    assert.match(reasons(insert), /default of column stamp/);
    assert.equal(insert.runsUserCode, true);
    const update = await resolved(catalog, "UPDATE audited SET v = 'x' WHERE id = 1");
    assert.match(reasons(update), /trigger audit/);
    assert.equal(update.runsUserCode, true);
    const rule = await resolved(catalog, 'INSERT INTO ruled VALUES (1)');
    assert.match(reasons(rule), /rule purge_on_insert/);
    // reading the table fires none of them
    const read = await resolved(catalog, 'SELECT * FROM audited');
    assert.equal(read.class, 'read');
    assert.equal(read.runsUserCode, false);
  });

  test('a SECURITY DEFINER trigger, domain check or cascaded trigger makes the write privileged', async () => {
    assert.equal((await resolved(catalog, 'INSERT INTO definer_audited VALUES (1)')).class, 'privileged');
    assert.equal((await resolved(catalog, 'INSERT INTO domained VALUES (1)')).class, 'privileged');
    assert.equal((await resolved(catalog, 'DELETE FROM parent WHERE id = 1')).class, 'privileged');
    assert.equal((await resolved(catalog, 'COPY definer_audited FROM STDIN')).class, 'privileged');
    assert.equal((await resolved(catalog, "INSERT INTO measurements VALUES (1, '2026-06-01')")).class, 'privileged', 'a partition\'s trigger');
    assert.equal((await resolved(catalog, 'INSERT INTO items_view VALUES (9, $$n$$)')).class, 'privileged', 'an INSTEAD OF trigger on a view');
    assert.equal((await resolved(catalog, 'SELECT * FROM items_view')).class, 'read', 'reading the view fires no trigger');
  });

  test('an index expression is evaluated on INSERT', async () => {
    const c = await resolved(catalog, 'INSERT INTO indexed VALUES (1)');
    assert.match(reasons(c), /index indexed_purge/);
    assert.equal(c.runsUserCode, true);
  });

  test('a row-level security policy is evaluated on every read', async () => {
    const c = await resolved(catalog, 'SELECT * FROM guarded');
    assert.equal(c.class, 'write');
    assert.match(reasons(c), /policy purge_policy/);
  });

  test('operators: a user operator, OPERATOR(schema.op), and + overloaded for text', async () => {
    assert.equal((await resolved(catalog, 'SELECT 1 === 1')).class, 'write');
    assert.equal((await resolved(catalog, 'SELECT 1 OPERATOR(public.===) 1')).class, 'write');
    assert.equal((await resolved(catalog, 'SELECT 1 =/= 2')).class, 'read', 'an immutable SQL operator function');
    // NOT (a =?= b) may be planned as a !=?= b: the negator's function counts
    assert.equal((await resolved(catalog, 'SELECT NOT (1 =?= 2)')).class, 'write');
    assert.equal((await resolved(catalog, "SELECT 'a'::text + 'b'::text")).class, 'write');
    assert.equal((await resolved(catalog, 'SELECT 2 = 2, 3 < 4')).class, 'read', 'operators with no user overload stay reads');
    // operand types are not known here: once a user backs + for some type, every + is judged by it
    const plus = await resolved(catalog, 'SELECT 1 + 1');
    assert.equal(plus.class, 'write');
    assert.match(reasons(plus), /operator \+: calls public\.text_plus/);
  });

  test('an explicit cast whose CREATE CAST function deletes rows is a write; casts to built-in types stay reads', async () => {
    assert.equal((await resolved(catalog, 'SELECT 1::boxed')).class, 'write');
    assert.equal((await resolved(catalog, 'SELECT CAST(2 AS public.boxed)')).class, 'write');
    const plain = await resolved(catalog, "SELECT '1'::int, 'x'::text, now()::date");
    assert.equal(plain.class, 'read');
  });

  test('x.name notation, an aggregate and a pg_temp function', async () => {
    assert.equal((await resolved(catalog, 'SELECT i.purge_row FROM items i')).class, 'write');
    assert.equal((await resolved(catalog, 'SELECT i.note FROM items i')).class, 'read');
    assert.equal((await resolved(catalog, 'SELECT purge_agg(id) FROM items')).class, 'write');
    const session = new pg.Client(machinePg(DB));
    await session.connect();
    try {
      await session.query('CREATE FUNCTION pg_temp.temp_purge() RETURNS int LANGUAGE plpgsql AS $$ BEGIN DELETE FROM items; RETURN 1; END $$');
      assert.equal((await resolved(catalog, 'SELECT pg_temp.temp_purge()')).class, 'write');
    } finally {
      await session.end();
    }
  });

  test('STABLE and IMMUTABLE user functions and built-ins stay reads', async () => {
    const c = await resolved(catalog, "SELECT shout('x'), twice(2), now(), lower('X'), count(*) FROM items");
    assert.equal(c.class, 'read');
    assert.equal(c.runsUserCode, false);
  });

  test('SECURITY DEFINER is privileged; dynamic SQL in a function is unknown', async () => {
    assert.equal((await resolved(catalog, 'SELECT definer()')).class, 'privileged');
    assert.equal((await resolved(catalog, "SELECT dyn('DROP TABLE items')")).class, 'unknown');
  });

  test('a function shadowing a built-in name in another schema makes the call as strict as the shadow', async () => {
    await admin.query('CREATE FUNCTION public.length(text) RETURNS int LANGUAGE plpgsql AS $$ BEGIN DELETE FROM items; RETURN 1; END $$');
    try {
      catalog.invalidate();
      assert.equal((await resolved(catalog, "SELECT length('x')")).class, 'write');
    } finally {
      await admin.query('DROP FUNCTION public.length(text)');
      catalog.invalidate();
    }
  });

  test('a name the catalog does not have keeps the class and is asked again next time', async () => {
    const c = classifySql('SELECT no_such_function()');
    assert.equal((await catalog.resolve(c)).class, 'read');
    assert.ok(catalog.resolve(c) instanceof Promise, 'the miss is not cached');
  });

  test('a cached resolution is synchronous, no promise', async () => {
    const c = classifySql('SELECT purge(), shout(note) FROM items');
    const first = catalog.resolve(c);
    assert.ok(first instanceof Promise);
    const firstClass = (await first).class;
    const second = catalog.resolve(c);
    assert.ok(!(second instanceof Promise), 'second call settles synchronously');
    assert.equal(second.class, firstClass);
    assert.equal(catalog.resolve(c), second, 'the same object: a WeakMap hit');
    // a different statement made of the same cached names is synchronous too
    const other = catalog.resolve(classifySql('SELECT shout(note), purge() FROM items WHERE id = 2'));
    assert.ok(!(other instanceof Promise));
    assert.equal(other.class, 'write');
  });

  test('invalidate() makes a redefined function (volatile -> stable) be seen', async () => {
    const c = classifySql('SELECT flip()');
    assert.equal((await catalog.resolve(c)).class, 'write');
    await admin.query('CREATE OR REPLACE FUNCTION flip() RETURNS int STABLE LANGUAGE sql AS $$ SELECT 1 $$');
    const stale = catalog.resolve(c);
    assert.ok(!(stale instanceof Promise));
    assert.equal(stale.class, 'write', 'until invalidated, the cached fact stands');
    catalog.invalidate();
    assert.equal((await catalog.resolve(c)).class, 'read');
    await admin.query('CREATE OR REPLACE FUNCTION flip() RETURNS int VOLATILE LANGUAGE sql AS $$ SELECT 1 $$');
    catalog.invalidate();
  });

  test('facts expire after the TTL', async () => {
    let clock = 1_000_000;
    const timed = new TargetCatalog(connection, { ttlMs: 30_000, now: () => clock });
    const c = classifySql('SELECT flip()');
    assert.equal((await timed.resolve(c)).class, 'write');
    await admin.query('CREATE OR REPLACE FUNCTION flip() RETURNS int IMMUTABLE LANGUAGE sql AS $$ SELECT 1 $$');
    try {
      clock += 29_999;
      const cached = timed.resolve(c);
      assert.ok(!(cached instanceof Promise));
      assert.equal(cached.class, 'write');
      clock += 1;
      const expired = timed.resolve(c);
      assert.ok(expired instanceof Promise, 'expired facts are fetched again');
      assert.equal((await expired).class, 'read');
    } finally {
      await admin.query('CREATE OR REPLACE FUNCTION flip() RETURNS int VOLATILE LANGUAGE sql AS $$ SELECT 1 $$');
    }
  });
});

describe('PostgreSQL catalog connection: read-only, pinned search_path, failures fail closed', () => {
  let admin: pg.Client;
  before(async () => {
    await initSqlClassifier();
    await createTestDatabase(`${DB}_conn`);
    admin = new pg.Client(machinePg(`${DB}_conn`));
    await admin.connect();
    await admin.query('CREATE FUNCTION purge() RETURNS int STABLE LANGUAGE sql AS $$ SELECT 1 $$');
    // a database default the catalog connection must not inherit
    await admin.query(`ALTER DATABASE ${DB}_conn SET search_path = public`);
  });
  after(async () => {
    await admin.end();
    await dropTestDatabase(`${DB}_conn`);
  });

  test('search_path is pg_catalog and writes are refused, whatever the database default says', async () => {
    const connection = new CatalogConnection(settings(), `${DB}_conn`, { queryTimeoutMs: 5000, maxMessageBytes: 1 << 20 });
    try {
      assert.deepEqual(await connection.query('SHOW search_path'), [['pg_catalog']]);
      await assert.rejects(connection.query('CREATE TABLE public.sneak (i int)'), /read-only transaction/);
      // the failed statement stays prepared on the server; the connection goes on working
      await assert.rejects(connection.query('CREATE TABLE public.sneak (i int)'), /read-only transaction/);
      assert.deepEqual(await connection.query('SELECT 3'), [['3']]);
      // parameters travel as values, never as SQL
      assert.deepEqual(await connection.query('SELECT $1::text', ["x'); DROP TABLE t; --"]), [["x'); DROP TABLE t; --"]]);
    } finally {
      connection.close();
    }
  });

  test('one catalog and connection per database; a target URL naming a database always uses it; close() ends them', async () => {
    const catalogs = new TargetCatalogs(new CatalogConnections(settings()));
    const a = catalogs.get(`${DB}_conn`);
    assert.equal(catalogs.get(`${DB}_conn`), a);
    assert.notEqual(catalogs.get('postgres'), a);
    assert.equal((await a.resolve(classifySql('SELECT purge()'))).class, 'read', 'this database has a harmless purge');
    catalogs.close();
    await assert.rejects(a.connection.query('SELECT 1'), /closed/);
    const pinned = new TargetCatalogs(new CatalogConnections(settings(5432, `${DB}_conn`)));
    assert.equal(pinned.get('postgres'), pinned.get('anything'));
    pinned.close();
  });

  test('reconnects after the server drops the connection', async () => {
    const connection = new CatalogConnection(settings(), `${DB}_conn`, { queryTimeoutMs: 5000, maxMessageBytes: 1 << 20 });
    try {
      await connection.query('SELECT 1');
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'airlock-catalog' AND datname = $1", [`${DB}_conn`]);
      // the first query after the drop may see it happen; one after that has a new connection
      await connection.query('SELECT 1').catch(() => undefined);
      assert.deepEqual(await connection.query('SELECT 2'), [['2']]);
      assert.equal(connection.connects, 2);
    } finally {
      connection.close();
    }
  });

  test('catalog upstream down: a statement that needs the catalog is unknown with the reason; one that does not stays as it is', async () => {
    const port = await freePort();
    const connection = new CatalogConnection(settings(port), 'nowhere', { queryTimeoutMs: 2000, maxMessageBytes: 1 << 20 });
    const catalog = new TargetCatalog(connection);
    try {
      const c = await catalog.resolve(classifySql('SELECT purge()'));
      assert.equal(c.class, 'unknown');
      assert.match(reasons(c), /catalog could not be read: .*cannot connect/);
      const plain = catalog.resolve(classifySql('SELECT 1'));
      assert.ok(!(plain instanceof Promise));
      assert.equal(plain.class, 'read');
      const privileged = await catalog.resolve(classifySql("SELECT pg_read_file('/etc/passwd'), purge()"));
      assert.equal(privileged.class, 'privileged', 'a failure never lowers a class');
      assert.match(reasons(privileged), /pg_read_file/);
      const transaction = await catalog.resolve(classifySql('BEGIN; SELECT purge(); COMMIT'));
      assert.deepEqual(transaction.statements.map((s) => s.class), ['read', 'unknown', 'read']);
    } finally {
      connection.close();
    }
  });

  test('a server that never answers: the query times out and the statement is unknown', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    const connection = new CatalogConnection({ ...settings(port), connectTimeoutMs: 60_000 }, 'x', { queryTimeoutMs: 300, maxMessageBytes: 1 << 20 });
    const catalog = new TargetCatalog(connection);
    try {
      const started = Date.now();
      const c = await catalog.resolve(classifySql('SELECT purge()'));
      assert.equal(c.class, 'unknown');
      assert.match(reasons(c), /took longer than 300 ms/);
      assert.ok(Date.now() - started < 3000, 'settled by the query timeout, not the connect timeout');
    } finally {
      connection.close();
      silent.close();
    }
  });
});

describe('PostgreSQL catalog: where result columns come from', () => {
  let admin: pg.Client;
  let connection: CatalogConnection;
  let catalog: TargetCatalog;

  /** RowDescription of a query, as the proxy sees it. */
  async function fieldsOf(sql: string): Promise<{ name: string; tableOid: number; attnum: number; typeOid: number }[]> {
    const result = await admin.query({ text: sql, rowMode: 'array' });
    return result.fields.map((f) => ({ name: f.name, tableOid: f.tableID, attnum: f.columnID, typeOid: f.dataTypeID }));
  }

  async function sources(sql: string) {
    return await catalog.columnSources(await fieldsOf(sql));
  }

  before(async () => {
    await initSqlClassifier();
    await createTestDatabase(`${DB}_columns`);
    admin = new pg.Client(machinePg(`${DB}_columns`));
    await admin.connect();
    await admin.query(`
      CREATE TABLE secrets (id int, password text, owner_email text);
      CREATE VIEW secret_view AS SELECT id, password AS pw, upper(owner_email) AS shouted, id + 1 AS next_id, password || owner_email AS both_ FROM secrets;
      CREATE VIEW secret_view_again AS SELECT pw AS again, shouted FROM secret_view;
      CREATE VIEW whole_rows AS SELECT s AS r FROM secrets s;
      CREATE VIEW as_json AS SELECT s.id, row_to_json(s) AS j FROM secrets s;
      CREATE VIEW renamed AS SELECT upper(x.p) AS loud FROM (SELECT password AS p FROM secrets) x;
      CREATE MATERIALIZED VIEW secret_copy AS SELECT password AS kept FROM secrets;
      CREATE SCHEMA other;
      CREATE TABLE other.secrets (token text);
      CREATE TYPE pair AS (a int, b text);
    `);
    connection = new CatalogConnection(settings(), `${DB}_columns`, { queryTimeoutMs: 5000, maxMessageBytes: 1 << 24 });
    catalog = new TargetCatalog(connection);
  });
  after(async () => {
    connection.close();
    await admin.end();
    await dropTestDatabase(`${DB}_columns`);
  });

  test('an alias or a subquery does not hide the source column', async () => {
    for (const sql of ['SELECT password AS p FROM secrets', 'SELECT p FROM (SELECT password AS p FROM secrets) s', 'WITH x AS (SELECT password AS p FROM secrets) SELECT p FROM x']) {
      const [source] = await sources(sql);
      assert.deepEqual({ ...source, kind: undefined }, { schema: 'public', table: 'secrets', column: 'password', kind: undefined, origins: [{ schema: 'public', table: 'secrets', column: 'password' }], computed: false, complete: true }, sql);
    }
  });

  test('a computed column has no source (table OID 0)', async () => {
    assert.deepEqual(await sources("SELECT 1 AS one, (SELECT password FROM secrets LIMIT 1)"), [null, null]);
  });

  test('a whole-row value lists every column of its row', async () => {
    const [source] = await sources('SELECT t FROM secrets t');
    assert.equal(source?.column, '*');
    assert.equal(source?.computed, true);
    assert.deepEqual(source?.origins.map((o) => o.column), ['id', 'password', 'owner_email']);
  });

  test('a view column is followed to its base column; a computed one lists the base columns it references', async () => {
    const [id, pw, shouted, nextId, both] = await sources('SELECT * FROM secret_view');
    assert.equal(pw?.table, 'secret_view');
    assert.deepEqual(pw?.origins, [{ schema: 'public', table: 'secrets', column: 'password' }]);
    assert.equal(pw?.computed, false);
    assert.equal(shouted?.computed, true);
    assert.deepEqual(shouted?.origins, [{ schema: 'public', table: 'secrets', column: 'owner_email' }], 'not password');
    assert.deepEqual(nextId?.origins.map((o) => o.column), ['id']);
    assert.deepEqual(new Set(both?.origins.map((o) => o.column)), new Set(['password', 'owner_email']));
    assert.deepEqual(id?.origins.map((o) => o.column), ['id']);
  });

  test('a view over a view, and a view of whole rows', async () => {
    const [again, shouted] = await sources('SELECT * FROM secret_view_again');
    assert.deepEqual(again?.origins, [{ schema: 'public', table: 'secrets', column: 'password' }]);
    assert.equal(shouted?.computed, true);
    assert.deepEqual(shouted?.origins.map((o) => o.column), ['owner_email']);
    const [row] = await sources('SELECT r FROM whole_rows');
    assert.equal(row?.computed, true);
    assert.ok(row?.origins.some((o) => o.column === 'password'), JSON.stringify(row));
    // a function of the whole row: the view depends on the relation, not on its columns
    const [, json] = await sources('SELECT * FROM as_json');
    assert.equal(json?.computed, true);
    assert.deepEqual(new Set(json?.origins.map((o) => o.column)), new Set(['id', 'password', 'owner_email']));
    // a computed column over a subquery that renamed the column
    const [loud] = await sources('SELECT loud FROM renamed');
    assert.ok(loud?.origins.some((o) => o.column === 'password'), JSON.stringify(loud));
  });

  test('a materialized view column is followed to the base column it was copied from', async () => {
    const [kept] = await sources('SELECT kept FROM secret_copy');
    assert.equal(kept?.table, 'secret_copy');
    assert.deepEqual(kept?.origins, [{ schema: 'public', table: 'secrets', column: 'password' }]);
  });

  test('a second look-up of the same columns is synchronous', async () => {
    const fields = await fieldsOf('SELECT pw, shouted FROM secret_view');
    await catalog.columnSources(fields);
    const again = catalog.columnSources(fields);
    assert.ok(!(again instanceof Promise));
    assert.equal(again[0]?.origins[0]?.column, 'password');
  });

  test('relationColumns: every schema for an unqualified name, one for a qualified one', async () => {
    const all = await catalog.relationColumns('secrets');
    assert.deepEqual(new Set(all.map((r) => `${r.schema}.${r.table}:${r.columns.join(',')}`)), new Set(['public.secrets:id,password,owner_email', 'other.secrets:token']));
    const qualified = await catalog.relationColumns('other.secrets');
    assert.deepEqual(qualified.map((r) => r.columns), [['token']]);
    assert.deepEqual(await catalog.relationColumns('no_such_relation'), []);
  });

  test('compositeFields: a table row type, its array, a CREATE TYPE composite, and a scalar', async () => {
    const [row] = await fieldsOf('SELECT t FROM secrets t');
    const composite = await catalog.compositeFields(row!.typeOid);
    assert.deepEqual(composite, { fields: [{ name: 'id', typeOid: 23 }, { name: 'password', typeOid: 25 }, { name: 'owner_email', typeOid: 25 }], array: false, table: { schema: 'public', table: 'secrets' } });
    const [rows] = await fieldsOf('SELECT array_agg(t) FROM secrets t');
    const array = await catalog.compositeFields(rows!.typeOid);
    assert.equal(array?.array, true);
    assert.deepEqual(array?.table, { schema: 'public', table: 'secrets' });
    const [pair] = await fieldsOf('SELECT ROW(1, $$x$$)::pair');
    const pairFields = await catalog.compositeFields(pair!.typeOid);
    assert.deepEqual(pairFields?.fields.map((f) => f.name), ['a', 'b']);
    assert.equal(pairFields?.table, undefined);
    assert.equal(await catalog.compositeFields(23), null);
  });
});
