/**
 * The SQL classifier: PostgreSQL's own parser (libpg-query, WebAssembly) and a walk of the whole
 * parse tree, so that what a statement does decides its class, not the words in it. Pure: no
 * sockets, no files; `initSqlClassifier()` loads the WebAssembly module once.
 *
 * Classes (combined over statements: privileged > unknown > ddl > write > read):
 * - read: SELECT, VALUES, TABLE, SHOW, EXPLAIN without ANALYZE, transaction control, ordinary
 *   SET/RESET, DISCARD PLANS/SEQUENCES/TEMP, DEALLOCATE, LISTEN/UNLISTEN, DECLARE/FETCH/MOVE/CLOSE,
 *   SET CONSTRAINTS; an empty string or one with only comments (statementCount 0).
 * - write: INSERT, UPDATE, DELETE, MERGE, COPY FROM STDIN, data-modifying CTEs, EXPLAIN ANALYZE of
 *   a write, LOCK, NOTIFY, VACUUM, ANALYZE, CLUSTER, REINDEX, REFRESH MATERIALIZED VIEW,
 *   PREPARE TRANSACTION / COMMIT PREPARED / ROLLBACK PREPARED (they act on a transaction that may be
 *   another session's), calls to side-effecting functions (nextval, setval, set_config,
 *   pg_advisory_*, pg_notify, lo_create/lo_unlink/..., txid_current).
 *   TRUNCATE is a write (it removes rows, not schema) with noWhere set, as it empties the table.
 *   SELECT ... FOR UPDATE/SHARE is a write: its row locks block other writers as LOCK TABLE does.
 * - ddl: CREATE/ALTER/DROP of tables, indexes, views, sequences, schemas, types, domains,
 *   functions, triggers, rules, policies, statistics; COMMENT; CREATE TABLE AS and SELECT INTO
 *   (they create a table, which is stricter than the write of filling it).
 * - privileged: GRANT/REVOKE, roles, ALTER SYSTEM, databases, tablespaces, extensions (CREATE,
 *   ALTER and DROP), LOAD, publications/subscriptions, foreign servers and user mappings, event
 *   triggers, languages, SECURITY LABEL, CHECKPOINT, ... OWNER TO, REASSIGN/DROP OWNED,
 *   CREATE SCHEMA AUTHORIZATION, COPY to/from a server file or PROGRAM, SECURITY DEFINER or
 *   LEAKPROOF routines, routines in C or an untrusted language, calls to server-reaching
 *   functions (pg_read_file, pg_terminate_backend, dblink*, lo_import, ...). SET ROLE,
 *   SET SESSION AUTHORIZATION, their RESET forms and DISCARD ALL (which resets the session
 *   authorization) are privileged: each changes who the session acts as. So are superuser-only
 *   settings (session_replication_role, log_*, ...) and standard_conforming_strings off or a
 *   non-UTF8 client_encoding, after which the server would read later statements differently
 *   from this parser.
 * - unknown: what cannot be seen into: CALL, EXECUTE of a prepared statement (the caller
 *   substitutes the statement it knows; see `executes` and `classBesidesExecute`), dynamic SQL
 *   in PL/pgSQL (EXECUTE of a computed string; a constant string is classified),
 *   query_to_xml/ts_stat of a computed query, set_config of a computed name, DO in a language other
 *   than PL/pgSQL, text the parser rejects (parseError), statement types this does not know.
 *
 * Where SQL is defined but not run now (a view's query, a function or rule body, plain EXPLAIN,
 * CREATE TABLE AS ... WITH NO DATA) only privileged parts count: defining a view over
 * pg_read_file is refused, since the SELECT that later runs it looks harmless.
 *
 * Limits: the classifier sees text, not the catalog. What a user function, view, trigger, rule,
 * default or policy does is added by applyCatalogFacts (catalog-facts.ts) from facts the proxy
 * looks up in the server's catalog; each statement lists what it calls (`calls`, `fieldCalls`,
 * `operators`) and reads (`readsTables`) for that.
 */
export { combineClasses } from './types.js';
export type { SqlClass, SqlClassification, SqlStatementInfo } from './types.js';
export { classifySql, combine as classificationOf, initSqlClassifier, sqlAttributes, unclassifiable } from './classify.js';
export { SqlClassifierCache } from './cache.js';
export { sqlActionSummary, SUMMARY_MAX_CHARS } from './summary.js';
export { classifyRoutineBody } from './analysis.js';
export { applyCatalogFacts, isBuiltInSchema, nameCandidates, namesOf, MAX_CATALOG_DEPTH, READABLE_LANGUAGES } from './catalog-facts.js';
export type { AccessMode, CatalogDependency, CatalogFacts, CatalogNames, FunctionFact, RelationFact, Volatility } from './catalog-facts.js';
