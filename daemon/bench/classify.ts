import { parseSync } from 'libpg-query';
import { SqlClassifierCache, classifySql, initSqlClassifier } from '../src/classify/index.js';
import type { SqlClass } from '../src/classify/index.js';
import { percentile } from './report.js';
import type { BenchSection } from './report.js';

const BATCH = 200;
const SAMPLES = 200;
const WARMUP_ROUNDS = 300;

/** What an agent sends, from one-line reads to a DO block, each with the class it must get. */
const MIX: Array<{ sql: string; expected: SqlClass }> = [
  { sql: 'SELECT 1', expected: 'read' },
  { sql: 'SELECT u.id, u.email, o.total FROM public.users u JOIN orders o ON o.user_id = u.id WHERE u.id = $1 ORDER BY o.created_at DESC LIMIT 20', expected: 'read' },
  {
    sql: `WITH recent AS (SELECT user_id, sum(total) AS spent FROM orders WHERE created_at > now() - interval '7 days' GROUP BY user_id)
          SELECT u.name, r.spent FROM users u JOIN recent r ON r.user_id = u.id WHERE r.spent > (SELECT avg(spent) FROM recent)`,
    expected: 'read',
  },
  { sql: "INSERT INTO events (kind, payload) VALUES ('login', '{\"ip\": \"10.0.0.1\"}') RETURNING id", expected: 'write' },
  { sql: "UPDATE accounts SET balance = balance - 10, updated_at = now() WHERE id = 42 AND status = 'active'", expected: 'write' },
  { sql: 'WITH gone AS (DELETE FROM sessions WHERE expires_at < now() RETURNING id) SELECT count(*) FROM gone', expected: 'write' },
  { sql: 'EXPLAIN ANALYZE SELECT * FROM orders WHERE total > 100', expected: 'read' },
  { sql: 'ALTER TABLE orders ADD COLUMN note text', expected: 'ddl' },
  { sql: "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'", expected: 'privileged' },
  { sql: 'BEGIN; UPDATE stock SET qty = qty - 1 WHERE sku = $1; INSERT INTO moves (sku, delta) VALUES ($1, -1); COMMIT', expected: 'write' },
  {
    sql: `DO $$ DECLARE n int; BEGIN SELECT count(*) INTO n FROM users; IF n > 1000 THEN RAISE NOTICE 'big: %', n; END IF; END $$`,
    expected: 'read',
  },
];

let sink = 0;

/** Microseconds per call, one figure per batch of BATCH calls over the mix in turn. */
function sampleMicros(run: (sql: string) => number): number[] {
  const out: number[] = [];
  let next = 0;
  for (let s = 0; s < SAMPLES; s++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) {
      sink += run((MIX[next] as (typeof MIX)[number]).sql);
      next = next + 1 === MIX.length ? 0 : next + 1;
    }
    out.push(Number(process.hrtime.bigint() - start) / 1_000 / BATCH);
  }
  return out.sort((a, b) => a - b);
}

function warmUp(run: (sql: string) => number): void {
  for (let i = 0; i < WARMUP_ROUNDS; i++) for (const { sql } of MIX) sink += run(sql);
}

/**
 * Microseconds per SQL classification: uncached (PostgreSQL's parser in WebAssembly plus the tree
 * walk) against the parse alone, and an LRU hit against a plain Map lookup.
 */
export async function benchClassify(): Promise<BenchSection> {
  await initSqlClassifier();
  // Measure the intended work: each statement must get the class the mix was written for.
  for (const { sql, expected } of MIX) {
    const got = classifySql(sql);
    if (got.class !== expected) throw new Error(`bench classify: expected ${expected} for ${sql}, got ${got.class} (${got.statements.flatMap((s) => s.reasons).join('; ')})`);
  }

  const classify = (sql: string) => classifySql(sql).statementCount;
  const parseOnly = (sql: string) => parseSync(sql).stmts?.length ?? 0;
  const cache = new SqlClassifierCache();
  const cached = (sql: string) => cache.classify(sql).statementCount;
  const plainMap = new Map(MIX.map(({ sql }) => [sql, classifySql(sql)]));
  const mapLookup = (sql: string) => plainMap.get(sql)?.statementCount ?? 0;
  // the JSON text of a classification: about what a cached result would cost to copy
  const jsonOf = new Map(MIX.map(({ sql }) => [sql, JSON.stringify(classifySql(sql))]));
  const jsonParse = (sql: string) => (JSON.parse(jsonOf.get(sql) ?? '{}') as { statementCount: number }).statementCount;

  for (const run of [classify, parseOnly, cached, mapLookup, jsonParse]) warmUp(run);
  const uncachedMicros = sampleMicros(classify);
  const parseMicros = sampleMicros(parseOnly);
  const cachedMicros = sampleMicros(cached);
  const mapMicros = sampleMicros(mapLookup);
  const jsonMicros = sampleMicros(jsonParse);

  if (sink === -1) console.log('unreachable');
  const meanLength = Math.round(MIX.reduce((n, m) => n + m.sql.length, 0) / MIX.length);
  return {
    title: 'SQL classification',
    figures: [
      { name: 'classify uncached p50', value: percentile(uncachedMicros, 50), unit: 'µs', baseline: { name: 'libpg-query parseSync alone p50', value: percentile(parseMicros, 50) } },
      { name: 'classify uncached p99', value: percentile(uncachedMicros, 99), unit: 'µs', baseline: { name: 'parseSync alone p99', value: percentile(parseMicros, 99) } },
      { name: 'classify cached (LRU hit) p50', value: percentile(cachedMicros, 50), unit: 'µs', baseline: { name: 'plain Map.get p50', value: percentile(mapMicros, 50) } },
      { name: 'classify uncached p50 vs JSON.parse of the classification', value: percentile(uncachedMicros, 50), unit: 'µs', baseline: { name: 'JSON.parse p50', value: percentile(jsonMicros, 50) } },
    ],
    notes: [
      `${MIX.length} SQL texts (mean ${meanLength} characters) in turn: reads, joins, a CTE, writes, a data-modifying CTE, EXPLAIN ANALYZE, DDL, a privileged call, a 4-statement transaction, a DO block`,
      `each sample times ${BATCH} calls with process.hrtime.bigint and divides; ${SAMPLES} samples after ${WARMUP_ROUNDS} warm-up rounds of the mix`,
      'uncached = parse (WebAssembly, JSON out) + walk of the whole tree; the DO block parses its body a second time with the PL/pgSQL compiler',
    ],
  };
}
