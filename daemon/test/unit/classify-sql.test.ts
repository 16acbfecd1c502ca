import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { SqlClassifierCache, classifySql, combineClasses, initSqlClassifier, sqlAttributes } from '../../src/classify/index.js';
import type { SqlClass, SqlClassification, SqlStatementInfo } from '../../src/classify/index.js';
import { compilePolicy } from '../../src/policy/engine.js';
import { DEFAULT_POLICY } from '../../src/policy/defaults.js';

/** One statement string and what the classifier must find in it; unset fields are not checked. */
interface Case {
  sql: string;
  class: SqlClass;
  tables?: string[];
  writesTables?: string[];
  noWhere?: boolean;
  functions?: string[];
  commands?: string[];
  statementCount?: number;
  /** some reason of some statement matches */
  reason?: RegExp;
  parseError?: boolean;
}

const READS: Case[] = [
  { sql: 'SELECT 1', class: 'read', tables: [], writesTables: [], noWhere: false, functions: [], commands: ['SELECT'], statementCount: 1 },
  { sql: 'select * from users', class: 'read', tables: ['users'], writesTables: [] },
  { sql: 'SELECT id FROM public.users WHERE id = 1', class: 'read', tables: ['public.users'] },
  { sql: 'SELECT * FROM "Users"', class: 'read', tables: ['Users'] },
  { sql: 'SELECT * FROM "MySchema"."Orders" o JOIN Customers c ON c.id = o.cid', class: 'read', tables: ['MySchema.Orders', 'customers'] },
  { sql: "VALUES (1, 'a'), (2, 'b')", class: 'read', tables: [], commands: ['VALUES'] },
  { sql: 'TABLE users', class: 'read', tables: ['users'] },
  { sql: 'SHOW search_path', class: 'read', commands: ['SHOW'] },
  { sql: 'SHOW ALL', class: 'read' },
  { sql: 'EXPLAIN SELECT * FROM t', class: 'read', tables: ['t'], commands: ['EXPLAIN'] },
  { sql: 'EXPLAIN DELETE FROM t', class: 'read', tables: ['t'], writesTables: [], noWhere: false, reason: /without ANALYZE/ },
  { sql: 'EXPLAIN (ANALYZE false) DELETE FROM t', class: 'read', writesTables: [] },
  { sql: 'EXPLAIN (ANALYZE off, VERBOSE) UPDATE t SET a = 1', class: 'read', noWhere: false },
  { sql: 'EXPLAIN (FORMAT JSON) INSERT INTO t VALUES (1)', class: 'read', writesTables: [] },
  { sql: 'EXPLAIN SELECT nextval($$s$$)', class: 'read', functions: ['nextval'] },
  { sql: 'EXPLAIN SELECT * FROM t FOR UPDATE', class: 'read', writesTables: [] },
  { sql: 'EXPLAIN EXECUTE p', class: 'read' },
  { sql: 'BEGIN', class: 'read', commands: ['BEGIN'] },
  { sql: 'START TRANSACTION ISOLATION LEVEL REPEATABLE READ', class: 'read' },
  { sql: 'COMMIT', class: 'read' },
  { sql: 'ROLLBACK', class: 'read' },
  { sql: 'SAVEPOINT s1', class: 'read' },
  { sql: 'RELEASE SAVEPOINT s1', class: 'read' },
  { sql: 'ROLLBACK TO SAVEPOINT s1', class: 'read', commands: ['ROLLBACK TO SAVEPOINT'] },
  { sql: 'SET search_path TO app, public', class: 'read', commands: ['SET'] },
  { sql: "SET statement_timeout = '5s'", class: 'read' },
  { sql: "SET LOCAL work_mem = '64MB'", class: 'read' },
  { sql: "SET TIME ZONE 'UTC'", class: 'read' },
  { sql: 'SET TRANSACTION READ ONLY', class: 'read' },
  { sql: 'RESET work_mem', class: 'read', commands: ['RESET'] },
  { sql: 'RESET ALL', class: 'read' },
  { sql: 'SET standard_conforming_strings = on', class: 'read' },
  { sql: "SET client_encoding = 'UTF8'", class: 'read' },
  { sql: 'DISCARD PLANS', class: 'read' },
  { sql: 'DISCARD TEMP', class: 'read' },
  { sql: 'DEALLOCATE p', class: 'read', commands: ['DEALLOCATE'] },
  { sql: 'DEALLOCATE ALL', class: 'read' },
  { sql: 'LISTEN jobs', class: 'read' },
  { sql: 'UNLISTEN *', class: 'read' },
  { sql: 'DECLARE c CURSOR FOR SELECT * FROM t', class: 'read', tables: ['t'], commands: ['DECLARE CURSOR'] },
  { sql: 'CLOSE c', class: 'read' },
  { sql: 'SET CONSTRAINTS ALL DEFERRED', class: 'read' },
  { sql: 'SELECT pg_sleep(1)', class: 'read', functions: [] },
  { sql: 'SELECT currval($$s$$), current_setting($$search_path$$)', class: 'read', functions: [] },
  { sql: 'SELECT count(*) FILTER (WHERE ok) OVER (PARTITION BY a) FROM t', class: 'read', tables: ['t'] },
  // scary words that are data, comments or quoted names change nothing
  { sql: "SELECT 'drop table users'", class: 'read', tables: [] },
  { sql: "SELECT 'DELETE FROM t; DROP TABLE t' AS x", class: 'read', statementCount: 1 },
  { sql: 'SELECT "delete" FROM t', class: 'read', tables: ['t'] },
  { sql: 'SELECT "drop table x" FROM "grant"', class: 'read', tables: ['grant'] },
  { sql: 'SELECT 1 -- DROP TABLE users', class: 'read', statementCount: 1 },
  { sql: '/* DELETE FROM t; */ SELECT 1', class: 'read', statementCount: 1 },
  { sql: 'SELECT $$DROP TABLE t$$', class: 'read' },
  { sql: "SELECT E'\\'; DROP TABLE t; --'", class: 'read', statementCount: 1 },
  // CTE names are not tables, except where the CTE cannot see itself
  { sql: 'WITH x AS (SELECT * FROM t) SELECT * FROM x', class: 'read', tables: ['t'] },
  { sql: 'WITH users AS (SELECT * FROM users) SELECT * FROM users', class: 'read', tables: ['users'] },
  { sql: 'WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b, a, public.a', class: 'read', tables: ['public.a'] },
  { sql: 'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r', class: 'read', tables: [] },
  { sql: 'SELECT * FROM a WHERE id IN (SELECT a_id FROM b)', class: 'read', tables: ['a', 'b'] },
  { sql: 'SELECT * FROM t1 UNION SELECT * FROM t2', class: 'read', tables: ['t1', 't2'] },
  { sql: 'COPY t TO STDOUT', class: 'read', tables: ['t'], writesTables: [], commands: ['COPY'] },
  { sql: 'COPY (SELECT * FROM t WHERE a > 1) TO STDOUT WITH (FORMAT csv)', class: 'read', tables: ['t'] },
  { sql: 'DO $$ BEGIN PERFORM 1; END $$', class: 'read', commands: ['DO'] },
  { sql: "DO $$ DECLARE n int; BEGIN SELECT count(*) INTO n FROM t; RAISE NOTICE '%', n; END $$", class: 'read', tables: ['t'] },
  { sql: 'PREPARE q(int) AS SELECT * FROM t WHERE id = $1', class: 'read', tables: ['t'], commands: ['PREPARE'] },
  { sql: "SELECT ts_rewrite('a & b'::tsquery, 'SELECT t, s FROM aliases')", class: 'read', tables: ['aliases'], functions: ['ts_rewrite'] },
  // an empty string runs nothing
  { sql: '', class: 'read', statementCount: 0, commands: [] },
  { sql: '  -- nothing\n', class: 'read', statementCount: 0 },
  { sql: ';', class: 'read', statementCount: 0 },
];

const WRITES: Case[] = [
  { sql: 'INSERT INTO t (a) VALUES (1)', class: 'write', tables: ['t'], writesTables: ['t'], noWhere: false, commands: ['INSERT'] },
  { sql: 'INSERT INTO t SELECT * FROM u', class: 'write', tables: ['t', 'u'], writesTables: ['t'] },
  { sql: 'UPDATE t SET a = 1 WHERE id = 2', class: 'write', writesTables: ['t'], noWhere: false },
  { sql: 'UPDATE t SET a = 1', class: 'write', noWhere: true, reason: /without WHERE/ },
  { sql: 'DELETE FROM t WHERE id = 1', class: 'write', writesTables: ['t'], noWhere: false },
  { sql: 'DELETE FROM public.t', class: 'write', writesTables: ['public.t'], noWhere: true },
  { sql: 'DELETE FROM t USING u', class: 'write', tables: ['t', 'u'], writesTables: ['t'], noWhere: true },
  { sql: 'UPDATE t SET a = 1 WHERE CURRENT OF c', class: 'write', noWhere: false },
  {
    sql: 'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.a)',
    class: 'write',
    tables: ['t', 's'],
    writesTables: ['t'],
    commands: ['MERGE'],
  },
  { sql: 'INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = excluded.a', class: 'write', writesTables: ['t'] },
  { sql: 'TRUNCATE a, b', class: 'write', writesTables: ['a', 'b'], noWhere: true },
  { sql: 'COPY t FROM STDIN', class: 'write', writesTables: ['t'] },
  { sql: 'COPY t (a, b) FROM STDIN WITH (FORMAT csv)', class: 'write', writesTables: ['t'] },
  { sql: 'COPY (DELETE FROM t RETURNING *) TO STDOUT', class: 'write', writesTables: ['t'], noWhere: true },
  { sql: 'WITH d AS (DELETE FROM t WHERE old RETURNING *) SELECT * FROM d', class: 'write', tables: ['t'], writesTables: ['t'], noWhere: false, reason: /data-modifying CTE/ },
  { sql: 'WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d', class: 'write', noWhere: true },
  { sql: 'WITH u AS (UPDATE t SET a = 1 RETURNING id) INSERT INTO log SELECT id FROM u', class: 'write', tables: ['t', 'log'], writesTables: ['t', 'log'], noWhere: true },
  { sql: 'SELECT * FROM (SELECT 1) s, LATERAL (WITH x AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT * FROM x) y', class: 'write', writesTables: ['t'] },
  { sql: 'EXPLAIN ANALYZE DELETE FROM t WHERE id = 1', class: 'write', writesTables: ['t'], reason: /EXPLAIN ANALYZE executes a DELETE/ },
  { sql: 'EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1', class: 'write', noWhere: true },
  { sql: 'EXPLAIN (ANALYZE true) INSERT INTO t VALUES (1)', class: 'write', writesTables: ['t'] },
  { sql: 'EXPLAIN (ANALYZE maybe) INSERT INTO t VALUES (1)', class: 'write' },
  // a numeric value counts as ANALYZE whatever it is, so that normalising numbers cannot hide one
  { sql: 'EXPLAIN (ANALYZE 1) DELETE FROM t', class: 'write' },
  { sql: 'EXPLAIN (ANALYZE 0) DELETE FROM t', class: 'write' },
  { sql: 'EXPLAIN ANALYZE WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d', class: 'write' },
  { sql: 'LOCK TABLE t IN ACCESS EXCLUSIVE MODE', class: 'write', writesTables: ['t'] },
  { sql: "NOTIFY jobs, 'x'", class: 'write' },
  { sql: "SELECT pg_notify('jobs', 'x')", class: 'write', functions: ['pg_notify'] },
  { sql: "SELECT nextval('order_seq')", class: 'write', functions: ['nextval'] },
  { sql: "SELECT id, nextval('s') FROM t", class: 'write', tables: ['t'], writesTables: [] },
  { sql: "SELECT setval('s', 1)", class: 'write', functions: ['setval'] },
  { sql: "SELECT set_config('search_path', 'x', false)", class: 'write', functions: ['set_config'] },
  { sql: 'SELECT pg_advisory_lock(42)', class: 'write', functions: ['pg_advisory_lock'] },
  { sql: 'SELECT pg_catalog.pg_try_advisory_xact_lock(1)', class: 'write', functions: ['pg_try_advisory_xact_lock'] },
  { sql: 'SELECT lo_unlink(1234)', class: 'write', functions: ['lo_unlink'] },
  { sql: 'SELECT * FROM t FOR UPDATE', class: 'write', tables: ['t'], writesTables: ['t'], reason: /FOR UPDATE locks rows/ },
  { sql: 'SELECT * FROM t WHERE id = 1 FOR SHARE SKIP LOCKED', class: 'write', reason: /FOR SHARE/ },
  { sql: 'SELECT * FROM users u JOIN orders o ON o.uid = u.id FOR UPDATE OF u', class: 'write', tables: ['users', 'orders'], writesTables: ['users'] },
  { sql: 'SELECT * FROM t WHERE id IN (SELECT id FROM q FOR UPDATE)', class: 'write', writesTables: ['q'] },
  { sql: 'VACUUM t', class: 'write', writesTables: ['t'], commands: ['VACUUM'] },
  { sql: 'VACUUM (FULL, ANALYZE) t', class: 'write' },
  { sql: 'ANALYZE t', class: 'write', commands: ['ANALYZE'] },
  { sql: 'CLUSTER t USING t_pkey', class: 'write', writesTables: ['t'] },
  { sql: 'REINDEX INDEX t_pkey', class: 'write' },
  { sql: 'REFRESH MATERIALIZED VIEW CONCURRENTLY mv', class: 'write', writesTables: ['mv'] },
  { sql: "PREPARE TRANSACTION 'tx1'", class: 'write' },
  { sql: "COMMIT PREPARED 'tx1'", class: 'write', commands: ['COMMIT PREPARED'] },
  { sql: "ROLLBACK PREPARED 'tx1'", class: 'write' },
  { sql: 'DO $$ BEGIN UPDATE t SET a = 1 WHERE id = 1; END $$', class: 'write', writesTables: ['t'], noWhere: false, reason: /^DO block: UPDATE/ },
  { sql: "DO $$ BEGIN EXECUTE 'DELETE FROM t'; END $$", class: 'write', writesTables: ['t'], noWhere: true, reason: /constant string/ },
  { sql: "DO $$ DECLARE x int; BEGIN x := nextval('s'); END $$", class: 'write', functions: ['nextval'] },
  { sql: "DO $$ DECLARE a int[]; BEGIN a[1] = nextval('s'); END $$", class: 'write', functions: ['nextval'] },
  { sql: "SELECT query_to_xml('delete from t returning 1', true, false, '')", class: 'write', writesTables: ['t'], functions: ['query_to_xml'] },
  { sql: 'PREPARE del(int) AS DELETE FROM t WHERE id = $1', class: 'write', writesTables: ['t'] },
  { sql: 'BEGIN; DELETE FROM t WHERE id = 1; COMMIT', class: 'write', statementCount: 3, commands: ['BEGIN', 'DELETE', 'COMMIT'] },
];

const DDL: Case[] = [
  { sql: 'CREATE TABLE t (id int PRIMARY KEY)', class: 'ddl', tables: ['t'], writesTables: ['t'], commands: ['CREATE TABLE'] },
  { sql: 'CREATE TEMP TABLE tmp (a int)', class: 'ddl' },
  { sql: 'CREATE TABLE IF NOT EXISTS app.t (a int REFERENCES app.u (id))', class: 'ddl', tables: ['app.t', 'app.u'], writesTables: ['app.t'] },
  { sql: 'CREATE TABLE t2 AS SELECT * FROM t', class: 'ddl', tables: ['t2', 't'], writesTables: ['t2'], commands: ['CREATE TABLE AS'] },
  { sql: 'SELECT * INTO t2 FROM t', class: 'ddl', writesTables: ['t2'], commands: ['SELECT INTO'], reason: /SELECT INTO creates a table/ },
  { sql: 'CREATE MATERIALIZED VIEW mv AS SELECT * FROM t', class: 'ddl', commands: ['CREATE MATERIALIZED VIEW'] },
  { sql: 'CREATE TEMP TABLE x AS SELECT nextval($$s$$) WITH NO DATA', class: 'ddl' },
  // WITH NO DATA takes the prepared statement's columns without running it
  { sql: 'CREATE TABLE x AS EXECUTE p WITH NO DATA', class: 'ddl', writesTables: ['x'] },
  { sql: 'ALTER TABLE t ADD COLUMN b text', class: 'ddl', writesTables: ['t'], commands: ['ALTER TABLE'] },
  { sql: 'ALTER TABLE t DROP COLUMN b', class: 'ddl' },
  { sql: 'ALTER TABLE t RENAME TO t_old', class: 'ddl', writesTables: ['t'] },
  { sql: 'ALTER TABLE t SET SCHEMA other', class: 'ddl' },
  { sql: 'ALTER TABLE t ENABLE ROW LEVEL SECURITY', class: 'ddl' },
  { sql: 'DROP TABLE t', class: 'ddl', tables: ['t'], writesTables: ['t'], commands: ['DROP TABLE'] },
  { sql: 'DROP TABLE IF EXISTS a.b, c CASCADE', class: 'ddl', writesTables: ['a.b', 'c'] },
  { sql: 'CREATE INDEX CONCURRENTLY i ON t (a)', class: 'ddl', writesTables: ['t'], commands: ['CREATE INDEX'] },
  { sql: 'DROP INDEX i', class: 'ddl', commands: ['DROP INDEX'] },
  { sql: 'CREATE VIEW v AS SELECT * FROM t', class: 'ddl', tables: ['v', 't'], writesTables: ['v'] },
  { sql: "CREATE OR REPLACE VIEW v AS SELECT nextval('s')", class: 'ddl' },
  { sql: 'CREATE SEQUENCE s', class: 'ddl' },
  { sql: 'ALTER SEQUENCE s RESTART WITH 1', class: 'ddl' },
  { sql: 'CREATE SCHEMA app', class: 'ddl' },
  { sql: 'DROP SCHEMA app CASCADE', class: 'ddl', writesTables: [] },
  { sql: "CREATE TYPE mood AS ENUM ('sad', 'ok')", class: 'ddl' },
  { sql: 'CREATE DOMAIN posint AS int CHECK (VALUE > 0)', class: 'ddl' },
  { sql: "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b'", class: 'ddl', commands: ['CREATE FUNCTION'] },
  { sql: 'CREATE OR REPLACE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated := now(); RETURN NEW; END $$', class: 'ddl' },
  { sql: 'CREATE PROCEDURE p() LANGUAGE sql AS $$ DELETE FROM t $$', class: 'ddl', writesTables: [], noWhere: false, commands: ['CREATE PROCEDURE'] },
  { sql: "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'x'; END $$", class: 'ddl' },
  { sql: 'DROP FUNCTION f(int)', class: 'ddl', commands: ['DROP FUNCTION'] },
  { sql: 'CREATE TRIGGER trg BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f()', class: 'ddl', writesTables: ['t'] },
  { sql: 'DROP TRIGGER trg ON s.t', class: 'ddl', writesTables: ['s.t'] },
  { sql: "COMMENT ON TABLE t IS 'drop me'", class: 'ddl', writesTables: ['t'], commands: ['COMMENT'] },
  { sql: "COMMENT ON COLUMN t.a IS 'x'", class: 'ddl', writesTables: ['t'] },
  { sql: 'CREATE RULE r AS ON DELETE TO t DO INSTEAD DELETE FROM u', class: 'ddl', writesTables: ['t'], noWhere: false },
  { sql: 'CREATE POLICY p ON t USING (owner = current_user)', class: 'ddl', writesTables: ['t'] },
  { sql: 'CREATE STATISTICS st ON a, b FROM t', class: 'ddl' },
];

const PRIVILEGED: Case[] = [
  { sql: 'GRANT SELECT ON t TO analyst', class: 'privileged', tables: ['t'], commands: ['GRANT'] },
  { sql: 'REVOKE ALL ON t FROM PUBLIC', class: 'privileged', commands: ['REVOKE'] },
  { sql: 'GRANT admin TO bob', class: 'privileged' },
  { sql: 'ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO analyst', class: 'privileged' },
  { sql: "CREATE ROLE r LOGIN PASSWORD 'x'", class: 'privileged', commands: ['CREATE ROLE'] },
  { sql: 'CREATE USER u', class: 'privileged', commands: ['CREATE USER'] },
  { sql: 'CREATE GROUP g', class: 'privileged' },
  { sql: 'ALTER ROLE r SUPERUSER', class: 'privileged' },
  { sql: 'ALTER USER u SET search_path = x', class: 'privileged' },
  { sql: 'DROP ROLE r', class: 'privileged' },
  { sql: 'DROP USER IF EXISTS u', class: 'privileged' },
  { sql: 'ALTER SYSTEM SET max_connections = 10', class: 'privileged' },
  { sql: 'ALTER SYSTEM RESET ALL', class: 'privileged' },
  { sql: 'SET ROLE admin', class: 'privileged', reason: /SET ROLE/ },
  { sql: 'SET SESSION ROLE admin', class: 'privileged' },
  { sql: 'SET LOCAL ROLE admin', class: 'privileged' },
  { sql: 'RESET ROLE', class: 'privileged' },
  { sql: 'SET ROLE NONE', class: 'privileged' },
  { sql: 'SET SESSION AUTHORIZATION postgres', class: 'privileged', reason: /SESSION AUTHORIZATION/ },
  { sql: 'SET SESSION AUTHORIZATION DEFAULT', class: 'privileged' },
  { sql: 'DISCARD ALL', class: 'privileged' },
  { sql: 'SET session_replication_role = replica', class: 'privileged' },
  { sql: "SET log_statement = 'none'", class: 'privileged' },
  { sql: 'SET standard_conforming_strings = off', class: 'privileged' },
  { sql: 'SET standard_conforming_strings TO DEFAULT', class: 'privileged' },
  { sql: "SET NAMES 'SJIS'", class: 'privileged' },
  { sql: 'CREATE EXTENSION pg_stat_statements', class: 'privileged', commands: ['CREATE EXTENSION'] },
  { sql: 'CREATE EXTENSION IF NOT EXISTS dblink WITH SCHEMA ext', class: 'privileged' },
  { sql: 'ALTER EXTENSION x UPDATE', class: 'privileged' },
  { sql: 'DROP EXTENSION dblink', class: 'privileged' },
  { sql: "LOAD 'auto_explain'", class: 'privileged' },
  { sql: "COPY t TO '/tmp/t.csv'", class: 'privileged', tables: ['t'], reason: /a file on the database server/ },
  { sql: "COPY t FROM '/etc/passwd'", class: 'privileged' },
  { sql: "COPY (SELECT 1) TO PROGRAM 'curl http://example.invalid'", class: 'privileged', reason: /COPY \.\.\. TO PROGRAM/ },
  { sql: "COPY t FROM PROGRAM 'cat /etc/passwd'", class: 'privileged', reason: /FROM PROGRAM/ },
  { sql: 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity', class: 'privileged', tables: ['pg_stat_activity'], functions: ['pg_terminate_backend'] },
  { sql: 'SELECT pg_cancel_backend(123)', class: 'privileged', functions: ['pg_cancel_backend'] },
  { sql: "SELECT pg_read_file('/etc/passwd')", class: 'privileged', functions: ['pg_read_file'] },
  { sql: "SELECT pg_catalog.pg_read_binary_file('/etc/passwd')", class: 'privileged', functions: ['pg_read_binary_file'] },
  { sql: "SELECT * FROM pg_ls_dir('.')", class: 'privileged', functions: ['pg_ls_dir'] },
  { sql: "SELECT pg_stat_file('postgresql.conf')", class: 'privileged' },
  { sql: "SELECT lo_import('/etc/passwd')", class: 'privileged', functions: ['lo_import'] },
  { sql: "SELECT lo_export(1, '/tmp/x')", class: 'privileged' },
  { sql: 'SELECT pg_reload_conf()', class: 'privileged' },
  { sql: 'SELECT pg_rotate_logfile()', class: 'privileged' },
  { sql: 'SELECT pg_promote()', class: 'privileged' },
  { sql: "SELECT * FROM dblink('host=x', 'select 1') AS t(a int)", class: 'privileged', functions: ['dblink'] },
  { sql: "SELECT dblink_exec('host=x', 'drop table t')", class: 'privileged', functions: ['dblink_exec'] },
  { sql: "SELECT pg_file_write('x', 'y', false)", class: 'privileged' },
  { sql: 'SELECT U&"pg_read_fil\\0065"($$x$$)', class: 'privileged', functions: ['pg_read_file'] },
  { sql: "SELECT set_config('role', 'postgres', false)", class: 'privileged', functions: ['set_config'] },
  { sql: "SELECT set_config('session_authorization', 'postgres', false)", class: 'privileged' },
  { sql: "SELECT set_config('standard_conforming_strings', 'off', false)", class: 'privileged' },
  { sql: "WITH x AS (SELECT pg_read_file('/etc/passwd')) SELECT * FROM x", class: 'privileged', tables: [] },
  { sql: 'SELECT * FROM t WHERE id = (SELECT pg_terminate_backend(1)::int)', class: 'privileged' },
  { sql: "INSERT INTO t VALUES (pg_read_file('x'))", class: 'privileged', writesTables: ['t'] },
  { sql: "EXPLAIN SELECT pg_read_file('/etc/passwd')", class: 'privileged' },
  { sql: 'CREATE DATABASE d', class: 'privileged', commands: ['CREATE DATABASE'] },
  { sql: "ALTER DATABASE d SET work_mem = '1GB'", class: 'privileged' },
  { sql: 'ALTER DATABASE d OWNER TO bob', class: 'privileged' },
  { sql: 'DROP DATABASE d', class: 'privileged' },
  { sql: 'ALTER TABLE t OWNER TO bob', class: 'privileged', writesTables: ['t'], reason: /OWNER TO/ },
  { sql: 'ALTER SCHEMA app OWNER TO bob', class: 'privileged' },
  { sql: 'ALTER FUNCTION f() OWNER TO bob', class: 'privileged' },
  { sql: 'CREATE PUBLICATION p FOR ALL TABLES', class: 'privileged' },
  { sql: "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p", class: 'privileged' },
  { sql: 'DROP SUBSCRIPTION s', class: 'privileged' },
  { sql: "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'", class: 'privileged', reason: /SECURITY DEFINER/ },
  { sql: 'ALTER FUNCTION f() SECURITY DEFINER', class: 'privileged' },
  { sql: "CREATE FUNCTION f() RETURNS int LANGUAGE plpython3u AS 'return 1'", class: 'privileged' },
  { sql: "CREATE FUNCTION f() RETURNS int AS 'mylib.so', 'f' LANGUAGE c", class: 'privileged' },
  { sql: 'CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT pg_read_file($f$/etc/passwd$f$) $$', class: 'privileged', functions: ['pg_read_file'] },
  { sql: "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_terminate_backend(1); END $$", class: 'privileged' },
  { sql: "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET role = admin AS 'SELECT 1'", class: 'privileged' },
  { sql: "CREATE VIEW v AS SELECT pg_read_file('/etc/passwd')", class: 'privileged' },
  { sql: 'CHECKPOINT', class: 'privileged' },
  { sql: 'REASSIGN OWNED BY a TO b', class: 'privileged' },
  { sql: 'DROP OWNED BY a', class: 'privileged' },
  { sql: "CREATE TABLESPACE ts LOCATION '/data'", class: 'privileged' },
  { sql: 'CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw', class: 'privileged' },
  { sql: "CREATE USER MAPPING FOR u SERVER s OPTIONS (user 'x', password 'y')", class: 'privileged' },
  { sql: 'CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()', class: 'privileged' },
  { sql: 'CREATE SCHEMA s AUTHORIZATION bob', class: 'privileged' },
  { sql: 'CREATE SCHEMA s CREATE TABLE x (a int) GRANT ALL ON x TO eve', class: 'privileged', writesTables: ['x'] },
  { sql: "SECURITY LABEL ON TABLE t IS 'x'", class: 'privileged' },
  { sql: 'DO $$ BEGIN PERFORM pg_terminate_backend(1); END $$', class: 'privileged', functions: ['pg_terminate_backend'], reason: /^DO block: calls pg_terminate_backend/ },
  { sql: 'DO $$ BEGIN IF pg_read_file($f$x$f$) IS NULL THEN RETURN; END IF; END $$', class: 'privileged' },
  { sql: 'DO LANGUAGE plpython3u $$ import os $$', class: 'privileged' },
  { sql: "DO $$ BEGIN EXECUTE 'GRANT ALL ON t TO PUBLIC'; END $$", class: 'privileged' },
  { sql: "DO $$ BEGIN EXECUTE 'DO $x$ BEGIN PERFORM pg_cancel_backend(1); END $x$'; END $$", class: 'privileged', functions: ['pg_cancel_backend'] },
];

const UNKNOWN: Case[] = [
  { sql: 'CALL do_things()', class: 'unknown', commands: ['CALL'] },
  { sql: 'CALL p(pg_sleep(1))', class: 'unknown' },
  { sql: 'EXECUTE p', class: 'unknown', commands: ['EXECUTE'] },
  // FETCH and MOVE run the portal's query (a protocol portal may hold a DELETE ... RETURNING): the session resolves them
  { sql: 'FETCH 10 FROM c', class: 'unknown', commands: ['FETCH'] },
  { sql: 'MOVE NEXT IN c', class: 'unknown', commands: ['MOVE'] },
  { sql: "EXECUTE p(1, 'x')", class: 'unknown' },
  { sql: 'CREATE TABLE x AS EXECUTE p', class: 'unknown', writesTables: ['x'] },
  { sql: 'EXPLAIN ANALYZE EXECUTE p', class: 'unknown' },
  { sql: "DO $$ DECLARE t text := 'x'; BEGIN EXECUTE 'DROP TABLE ' || quote_ident(t); END $$", class: 'unknown', reason: /dynamic SQL/ },
  { sql: "DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE format('SELECT * FROM %I', 't') LOOP END LOOP; END $$", class: 'unknown' },
  { sql: "DO $$ DECLARE c refcursor; BEGIN OPEN c FOR EXECUTE 'SELECT ' || '1'; END $$", class: 'unknown' },
  { sql: 'DO $$ BEGIN x := 1; END $$', class: 'unknown', reason: /PL\/pgSQL compiler rejected/ },
  { sql: 'DO $$ BEGIN DELETE FROM; END $$', class: 'unknown' },
  { sql: "DO LANGUAGE plv8 $$ plv8.execute('x') $$", class: 'unknown' },
  { sql: "SELECT query_to_xml(q, true, false, '') FROM queries", class: 'unknown', tables: ['queries'] },
  { sql: "SELECT set_config(name, 'x', false) FROM settings", class: 'unknown' },
  // an unknown part is never hidden behind a write
  { sql: 'INSERT INTO t VALUES (1); EXECUTE p', class: 'unknown', statementCount: 2 },
  { sql: 'selec 1', class: 'unknown', parseError: true, statementCount: 0 },
  { sql: 'SELECT * FROM', class: 'unknown', parseError: true },
  { sql: 'SELECT 1; DROP TABL x', class: 'unknown', parseError: true, statementCount: 0 },
  { sql: 'SELECT 1\0; DROP TABLE x', class: 'unknown', parseError: true },
];

const MULTI: Case[] = [
  { sql: 'select 1; drop table x', class: 'ddl', statementCount: 2, commands: ['SELECT', 'DROP TABLE'], tables: ['x'] },
  { sql: 'SELECT 1; SELECT 2', class: 'read', statementCount: 2, commands: ['SELECT'] },
  { sql: 'SELECT 1; GRANT ALL ON t TO x; EXECUTE p', class: 'privileged', statementCount: 3 },
  { sql: 'UPDATE a SET x = 1; CREATE INDEX ON b (x)', class: 'ddl', writesTables: ['a', 'b'], noWhere: true },
];

const CORPUS: Case[] = [...READS, ...WRITES, ...DDL, ...PRIVILEGED, ...UNKNOWN, ...MULTI];

function reasonsOf(c: SqlClassification): string[] {
  return c.statements.flatMap((s) => s.reasons);
}

test('classifySql throws until initSqlClassifier has loaded the parser', () => {
  assert.throws(() => classifySql('SELECT 1'), /initSqlClassifier/);
});

describe('classifySql corpus', () => {
  before(async () => {
    await initSqlClassifier();
  });

  test('the corpus covers every class with at least 120 statements', () => {
    assert.ok(CORPUS.length >= 120, `only ${CORPUS.length} cases`);
    const classes = new Set(CORPUS.map((c) => c.class));
    assert.deepEqual([...classes].sort(), ['ddl', 'privileged', 'read', 'unknown', 'write']);
  });

  for (const expected of CORPUS) {
    test(`${expected.class}: ${JSON.stringify(expected.sql)}`, () => {
      const got = classifySql(expected.sql);
      const detail = JSON.stringify({ class: got.class, reasons: reasonsOf(got), parseError: got.parseError });
      assert.equal(got.class, expected.class, detail);
      if (expected.tables) assert.deepEqual(got.tables, expected.tables, 'tables');
      if (expected.writesTables) assert.deepEqual(got.writesTables, expected.writesTables, 'writesTables');
      if (expected.noWhere !== undefined) assert.equal(got.noWhere, expected.noWhere, 'noWhere');
      if (expected.functions) assert.deepEqual(got.functions, expected.functions, 'functions');
      if (expected.commands) assert.deepEqual(got.commands, expected.commands, 'commands');
      if (expected.statementCount !== undefined) assert.equal(got.statementCount, expected.statementCount, 'statementCount');
      if (expected.reason) assert.ok(reasonsOf(got).some((r) => expected.reason?.test(r)), `no reason matches ${expected.reason}: ${detail}`);
      if (expected.parseError !== undefined) assert.equal(got.parseError !== undefined, expected.parseError, 'parseError');
    });
  }
});

describe('classifySql details', () => {
  before(async () => {
    await initSqlClassifier();
  });

  test('initSqlClassifier loads once and returns the same promise', () => {
    assert.equal(initSqlClassifier(), initSqlClassifier());
  });

  test('each statement keeps its own trimmed text, also after non-ASCII characters', () => {
    const got = classifySql("  SELECT 'é' ;  UPDATE \"Ünits\" SET a = 'ü' WHERE id = 1 ;; DELETE FROM t  ");
    assert.deepEqual(
      got.statements.map((s) => [s.text, s.command, s.class]),
      [
        ["SELECT 'é'", 'SELECT', 'read'],
        ["UPDATE \"Ünits\" SET a = 'ü' WHERE id = 1", 'UPDATE', 'write'],
        ['DELETE FROM t', 'DELETE', 'write'],
      ],
    );
    assert.deepEqual(got.tables, ['Ünits', 't']);
    assert.deepEqual(
      got.statements.map((s) => s.noWhere),
      [false, false, true],
    );
    assert.equal(got.noWhere, true);
  });

  test('a data-modifying CTE is reported as such, with the statement it hides', () => {
    const [statement] = classifySql('WITH gone AS (DELETE FROM audit.log RETURNING *) SELECT count(*) FROM gone').statements;
    assert.ok(statement);
    assert.equal(statement.command, 'SELECT');
    assert.equal(statement.class, 'write');
    assert.deepEqual(statement.writesTables, ['audit.log']);
    assert.deepEqual(statement.reasons, ['data-modifying CTE (DELETE)', 'DELETE without WHERE changes every row']);
  });

  test('EXPLAIN ANALYZE runs its statement; plain EXPLAIN only plans it', () => {
    const analyzed = classifySql('EXPLAIN ANALYZE DELETE FROM t WHERE id = 1').statements[0];
    const planned = classifySql('EXPLAIN DELETE FROM t WHERE id = 1').statements[0];
    assert.equal(analyzed?.class, 'write');
    assert.equal(analyzed?.reasons[0], 'EXPLAIN ANALYZE executes a DELETE');
    assert.equal(planned?.class, 'read');
    assert.deepEqual(planned?.reasons, ['EXPLAIN without ANALYZE only plans the statement']);
  });

  test('COPY is a read to STDOUT, a write from STDIN, privileged to a server file or program', () => {
    const classes = ['COPY (SELECT * FROM t) TO STDOUT', 'COPY t FROM STDIN', "COPY (SELECT * FROM t) TO '/tmp/x'", "COPY (SELECT * FROM t) TO PROGRAM 'gzip > /tmp/x'"].map(
      (sql) => classifySql(sql).class,
    );
    assert.deepEqual(classes, ['read', 'write', 'privileged', 'privileged']);
  });

  test('PREPARE carries the prepared statement; EXECUTE names it; DEALLOCATE forgets it', () => {
    const prepare = classifySql('PREPARE wipe (int, text) AS DELETE FROM t WHERE id = $1 AND note = $2').statements[0] as SqlStatementInfo;
    assert.equal(prepare.class, 'write');
    assert.equal(prepare.prepares?.name, 'wipe');
    assert.equal(prepare.prepares?.statement.text, 'DELETE FROM t WHERE id = $1 AND note = $2');
    assert.equal(prepare.prepares?.statement.command, 'DELETE');
    assert.equal(prepare.prepares?.statement.class, 'write');
    assert.deepEqual(prepare.prepares?.statement.writesTables, ['t']);

    const execute = classifySql("EXECUTE wipe(1, 'x')").statements[0] as SqlStatementInfo;
    assert.equal(execute.class, 'unknown');
    assert.equal(execute.executes, 'wipe');
    assert.equal(execute.classBesidesExecute, 'read');
    assert.equal(execute.prepares, undefined);

    assert.equal(classifySql('DEALLOCATE wipe').statements[0]?.deallocates, 'wipe');
    assert.equal(classifySql('DEALLOCATE PREPARE ALL').statements[0]?.deallocates, '*');
    assert.equal(classifySql('SELECT 1').statements[0]?.deallocates, undefined);
  });

  test('an EXECUTE inside another statement keeps the class of the rest for the caller to combine', () => {
    const ctas = classifySql('CREATE TABLE copy AS EXECUTE q').statements[0];
    assert.equal(ctas?.class, 'unknown');
    assert.equal(ctas?.executes, 'q');
    assert.equal(ctas?.classBesidesExecute, 'ddl');
    const explained = classifySql('EXPLAIN ANALYZE EXECUTE q').statements[0];
    assert.equal(explained?.executes, 'q');
    assert.equal(explained?.classBesidesExecute, 'read');
    assert.equal(classifySql('EXPLAIN EXECUTE q').statements[0]?.executes, undefined);
  });

  test('a DO block is classified by the SQL in its body', () => {
    const benign = classifySql("DO $$ DECLARE n int; BEGIN SELECT count(*) INTO n FROM t; RAISE NOTICE 'rows: %', n; END $$");
    const malicious = classifySql("DO $body$ BEGIN DELETE FROM users; PERFORM pg_terminate_backend(pid) FROM pg_stat_activity; EXECUTE 'DROP TABLE ' || 'users'; END $body$");
    assert.equal(benign.class, 'read');
    assert.deepEqual(benign.tables, ['t']);
    assert.equal(malicious.class, 'privileged');
    assert.deepEqual(malicious.tables, ['users', 'pg_stat_activity']);
    assert.deepEqual(malicious.writesTables, ['users']);
    assert.equal(malicious.noWhere, true);
    assert.deepEqual(malicious.functions, ['pg_terminate_backend']);
  });

  test('text the parser rejects is unknown, with the error and no statements', () => {
    const got = classifySql('SELEC * FROM users; DROP TABLE users');
    assert.equal(got.class, 'unknown');
    assert.match(got.parseError ?? '', /syntax error/);
    assert.deepEqual(got.statements, []);
    assert.equal(got.statementCount, 0);
  });

  test('an empty string is a read with no statements and no parse error', () => {
    const got = classifySql('');
    assert.equal(got.class, 'read');
    assert.equal(got.statementCount, 0);
    assert.equal(got.parseError, undefined);
  });

  test('text nested past what the classifier walks fails closed', () => {
    const got = classifySql('SELECT 1' + ' UNION SELECT 1'.repeat(6000));
    assert.equal(got.class, 'unknown');
    assert.ok(got.parseError !== undefined);
  });
});

describe('combineClasses', () => {
  test('the strictest wins: privileged > unknown > ddl > write > read', () => {
    assert.equal(combineClasses([]), 'read');
    assert.equal(combineClasses(['read', 'read']), 'read');
    assert.equal(combineClasses(['read', 'write']), 'write');
    assert.equal(combineClasses(['write', 'ddl', 'read']), 'ddl');
    assert.equal(combineClasses(['ddl', 'unknown', 'write']), 'unknown');
    assert.equal(combineClasses(['unknown', 'privileged']), 'privileged');
    assert.equal(combineClasses(['privileged', 'read']), 'privileged');
  });
});

describe('sqlAttributes', () => {
  before(async () => {
    await initSqlClassifier();
  });

  test('gives policy rules the combined class, the distinct classes and the lists', () => {
    const attributes = sqlAttributes(classifySql("SELECT * FROM a; DELETE FROM b; SELECT nextval('s'); SELECT 1"));
    assert.deepEqual(attributes, {
      class: 'write',
      classes: ['read', 'write'],
      tables: ['a', 'b'],
      writesTables: ['b'],
      functions: ['nextval'],
      commands: ['SELECT', 'DELETE'],
      statementCount: 4,
      noWhere: true,
      runsUserCode: false,
    });
  });

  test('a parse error is unknown for every rule that looks', () => {
    const attributes = sqlAttributes(classifySql('DROP TABLE'));
    assert.equal(attributes['class'], 'unknown');
    assert.deepEqual(attributes['classes'], ['unknown']);
    assert.equal(attributes['statementCount'], 0);
  });

  test('under the default policy reads pass, changes wait, privileged statements are refused', () => {
    const policy = compilePolicy(DEFAULT_POLICY, { defaultReviewTimeoutMs: 60_000 });
    const decide = (sql: string) => policy.evaluate({ protocol: 'postgres', target: 'db', kind: 'sql.query', attributes: sqlAttributes(classifySql(sql)) }).decision;
    assert.deepEqual(
      ['SELECT * FROM t', 'DELETE FROM t', 'DROP TABLE t', "SELECT pg_read_file('/etc/passwd')", 'CALL p()', 'SELEC 1', 'SELECT 1; GRANT ALL ON t TO x'].map(decide),
      ['allow', 'review', 'review', 'deny', 'review', 'review', 'deny'],
    );
  });
});

describe('SqlClassifierCache', () => {
  before(async () => {
    await initSqlClassifier();
  });

  test('a repeated text returns the same frozen classification', () => {
    const cache = new SqlClassifierCache();
    const first = cache.classify('SELECT * FROM t WHERE id = $1');
    const second = cache.classify('SELECT * FROM t WHERE id = $1');
    assert.equal(second, first);
    assert.equal(first.class, 'read');
    assert.ok(Object.isFrozen(first));
    assert.ok(Object.isFrozen(first.statements[0]?.tables));
    assert.notEqual(cache.classify('SELECT * FROM t WHERE id = $2'), first);
    assert.equal(cache.size, 2);
  });

  test('it keeps at most maxEntries texts and evicts the least recently used', () => {
    const cache = new SqlClassifierCache(2);
    const a = cache.classify('SELECT 1');
    const b = cache.classify('SELECT 2');
    assert.equal(cache.classify('SELECT 1'), a, 'a hit makes SELECT 1 the newest');
    cache.classify('SELECT 3');
    assert.equal(cache.size, 2);
    assert.equal(cache.classify('SELECT 1'), a, 'SELECT 1 was used recently and stays');
    assert.notEqual(cache.classify('SELECT 2'), b, 'SELECT 2 was the oldest and was evicted');
    assert.equal(cache.size, 2);
  });

  test('texts longer than maxTextLength are classified but not kept', () => {
    const cache = new SqlClassifierCache(10, 20);
    const long = 'SELECT * FROM a_rather_long_table_name';
    const first = cache.classify(long);
    assert.equal(first.class, 'read');
    assert.notEqual(cache.classify(long), first);
    assert.equal(cache.size, 0);
  });

  test('the kept texts together stay under maxTotalChars: the oldest go first', () => {
    const cache = new SqlClassifierCache(1000, 1000, 2500);
    const text = (n: number) => `SELECT ${n} /* ${'x'.repeat(900)} */`;
    const first = cache.classify(text(1));
    cache.classify(text(2));
    assert.equal(cache.size, 2);
    cache.classify(text(3));
    assert.equal(cache.size, 2, 'a third text of about 900 characters would pass 2,500 characters');
    assert.ok(cache.chars <= 2500, `kept ${cache.chars} characters`);
    assert.notEqual(cache.classify(text(1)), first, 'the oldest was evicted');
    assert.throws(() => new SqlClassifierCache(10, 100, 50), /maxTotalChars: expected a whole number of at least maxTextLength \(100\), got 50/);
  });

  test('maxEntries must be a positive whole number', () => {
    assert.throws(() => new SqlClassifierCache(0), RangeError);
    assert.throws(() => new SqlClassifierCache(1.5), RangeError);
  });
});
