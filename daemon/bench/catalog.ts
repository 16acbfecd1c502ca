import pg from 'pg';
import { SqlClassifierCache, initSqlClassifier } from '../src/classify/index.js';
import type { SqlClass, SqlClassification } from '../src/classify/index.js';
import { CatalogConnection } from '../src/proxies/postgres/catalog-connection.js';
import { TargetCatalog } from '../src/proxies/postgres/catalog.js';
import { systemClock } from '../src/util/time.js';
import { createTestDatabase, dropTestDatabase, machinePg } from '../test/helpers/pg-cluster.js';
import { percentile } from './report.js';
import type { BenchSection } from './report.js';

const DB = 'airlock_bench_catalog';
const CACHED_BATCH = 1000;
const CACHED_SAMPLES = 200;
const UNCACHED_SAMPLES = 200;

const SCHEMA = `
CREATE TABLE users (id int PRIMARY KEY, email text, password_hash text);
CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users, total numeric, created_at timestamptz DEFAULT now());
CREATE TABLE audit (id serial, entry text);
CREATE FUNCTION audit_order() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit (entry) VALUES ('order ' || NEW.id); RETURN NEW; END $$;
CREATE TRIGGER audit_order AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION audit_order();
CREATE FUNCTION display_name(text) RETURNS text STABLE LANGUAGE sql AS $$ SELECT split_part($1, '@', 1) $$;
CREATE FUNCTION close_order(int) RETURNS void LANGUAGE plpgsql AS $$ BEGIN UPDATE orders SET total = 0 WHERE id = $1; END $$;
CREATE VIEW user_totals AS SELECT u.id, display_name(u.email) AS name, sum(o.total) AS spent FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.id;
`;

/** Statements naming user functions, a view over one, a table with a trigger, each with the class the catalog must give it. */
const MIX: Array<{ sql: string; expected: SqlClass }> = [
  { sql: 'SELECT id, display_name(email) FROM users WHERE id = 1', expected: 'read' },
  { sql: 'SELECT * FROM user_totals ORDER BY spent DESC LIMIT 10', expected: 'read' },
  { sql: 'SELECT close_order(42)', expected: 'write' },
  { sql: 'INSERT INTO orders (id, user_id, total) VALUES (1, 1, 10)', expected: 'write' },
  { sql: 'SELECT o.id, o.total FROM orders o JOIN users u ON u.id = o.user_id WHERE u.email = $1', expected: 'read' },
];

let sink = 0;

/**
 * The catalog's share of a statement's cost: resolve() when every fact is cached (the proxy's
 * steady state: a WeakMap hit, no promise) against the classifier's own LRU hit, resolve() of a
 * classification it has not seen whose facts are cached (judged again, still no promise), and resolve()
 * after invalidate() (the catalog queries a DDL statement costs the next statement) against one
 * round trip of `SELECT 1` on the same connection.
 */
export async function benchCatalog(): Promise<BenchSection> {
  await initSqlClassifier();
  await createTestDatabase(DB);
  const admin = new pg.Client(machinePg(DB));
  await admin.connect();
  const connection = new CatalogConnection({ target: 'bench', host: '127.0.0.1', port: 5432, user: 'postgres', database: '', sslmode: 'disable', connectTimeoutMs: 5000, clock: systemClock, password: () => undefined }, DB, { queryTimeoutMs: 5000, maxMessageBytes: 1 << 24 });
  try {
    await admin.query(SCHEMA);
    const catalog = new TargetCatalog(connection);
    const classifier = new SqlClassifierCache();
    const classified: SqlClassification[] = MIX.map(({ sql }) => classifier.classify(sql));
    for (const [i, c] of classified.entries()) {
      const got = await catalog.resolve(c);
      if (got.class !== MIX[i]!.expected) throw new Error(`bench catalog: expected ${MIX[i]!.expected} for ${MIX[i]!.sql}, got ${got.class} (${got.statements.flatMap((s) => s.reasons).join('; ')})`);
    }

    const cachedMicros: number[] = [];
    const lruMicros: number[] = [];
    for (let s = 0; s < CACHED_SAMPLES; s++) {
      let start = process.hrtime.bigint();
      for (let i = 0; i < CACHED_BATCH; i++) {
        const resolved = catalog.resolve(classified[i % classified.length]!);
        if (resolved instanceof Promise) throw new Error('bench catalog: a cached resolution returned a promise');
        sink += resolved.statementCount;
      }
      cachedMicros.push(Number(process.hrtime.bigint() - start) / 1_000 / CACHED_BATCH);
      start = process.hrtime.bigint();
      for (let i = 0; i < CACHED_BATCH; i++) sink += classifier.classify(MIX[i % MIX.length]!.sql).statementCount;
      lruMicros.push(Number(process.hrtime.bigint() - start) / 1_000 / CACHED_BATCH);
    }

    // a classification object the catalog has not seen (an EXECUTE resolved anew, a text the LRU dropped): facts from the caches, judged again
    const freshMicros: number[] = [];
    for (let s = 0; s < CACHED_SAMPLES; s++) {
      const fresh = Array.from({ length: CACHED_BATCH }, (_, i) => structuredClone(classified[i % classified.length]!));
      const start = process.hrtime.bigint();
      for (const c of fresh) {
        const resolved = catalog.resolve(c);
        if (resolved instanceof Promise) throw new Error('bench catalog: a resolution from cached facts returned a promise');
        sink += resolved.statementCount;
      }
      freshMicros.push(Number(process.hrtime.bigint() - start) / 1_000 / CACHED_BATCH);
    }

    const uncachedMicros: number[] = [];
    const roundTripMicros: number[] = [];
    for (let s = 0; s < UNCACHED_SAMPLES; s++) {
      catalog.invalidate();
      const c = classified[s % classified.length]!;
      let start = process.hrtime.bigint();
      sink += (await catalog.resolve(c)).statementCount;
      uncachedMicros.push(Number(process.hrtime.bigint() - start) / 1_000);
      start = process.hrtime.bigint();
      sink += (await connection.query('SELECT 1')).length;
      roundTripMicros.push(Number(process.hrtime.bigint() - start) / 1_000);
    }
    for (const list of [cachedMicros, lruMicros, freshMicros, uncachedMicros, roundTripMicros]) list.sort((a, b) => a - b);
    if (sink === -1) console.log('unreachable');
    return {
      title: 'PostgreSQL catalog resolution',
      figures: [
        { name: 'resolve() cached p50', value: percentile(cachedMicros, 50), unit: 'µs', baseline: { name: 'classifier LRU hit p50', value: percentile(lruMicros, 50) } },
        { name: 'resolve() cached p99', value: percentile(cachedMicros, 99), unit: 'µs', baseline: { name: 'classifier LRU hit p99', value: percentile(lruMicros, 99) } },
        { name: 'resolve() of a new classification from cached facts p50', value: percentile(freshMicros, 50), unit: 'µs', baseline: { name: 'classifier LRU hit p50', value: percentile(lruMicros, 50) } },
        { name: 'resolve() after invalidate() p50', value: percentile(uncachedMicros, 50), unit: 'µs', baseline: { name: 'one SELECT 1 round trip on the catalog connection p50', value: percentile(roundTripMicros, 50) } },
        { name: 'resolve() after invalidate() p99', value: percentile(uncachedMicros, 99), unit: 'µs', baseline: { name: 'SELECT 1 round trip p99', value: percentile(roundTripMicros, 99) } },
      ],
      notes: [
        `${MIX.length} statements in turn: a STABLE SQL function, a view over one, a VOLATILE plpgsql call, an INSERT into a table with a trigger, a join`,
        `cached: ${CACHED_SAMPLES} samples of ${CACHED_BATCH} calls each; uncached: ${UNCACHED_SAMPLES} resolutions, each after invalidate(), which follow functions, bodies, views and triggers in several catalog queries`,
        'the machine\'s PostgreSQL on 127.0.0.1, plaintext, one catalog connection',
      ],
    };
  } finally {
    connection.close();
    await admin.end();
    await dropTestDatabase(DB);
  }
}
