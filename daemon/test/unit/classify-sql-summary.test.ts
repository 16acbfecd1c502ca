import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { SUMMARY_MAX_CHARS, classifySql, initSqlClassifier, sqlActionSummary } from '../../src/classify/index.js';
import { withoutComments } from '../../src/classify/sql/summary.js';
import { SqlClassifier } from '../../src/proxies/postgres/classification.js';

const summaryOf = (sql: string): string => sqlActionSummary(sql, classifySql(sql));

/** The listed part and the "… and N more: …" tail of a bounded summary. */
function splitTail(summary: string): { listed: string[]; more: number; counts: Record<string, number> } {
  const at = summary.indexOf('… and ');
  const listedText = at < 0 ? summary : summary.slice(0, at);
  const listed = listedText.split('; ').map((s) => s.trim()).filter(Boolean);
  if (at < 0) return { listed, more: 0, counts: {} };
  const m = /^… and (\d+) more: (.*)$/.exec(summary.slice(at));
  assert.ok(m, `a tail of the form "… and N more: …" in ${summary}`);
  const counts: Record<string, number> = {};
  for (const part of m[2]!.split(', ')) {
    const [n, cls] = part.split(' ');
    counts[cls!] = Number(n);
  }
  return { listed, more: Number(m[1]), counts };
}

describe('SQL action summary: every statement by command, object and class', () => {
  before(async () => {
    await initSqlClassifier();
  });

  test('statements are listed with their class unless they read', () => {
    assert.equal(summaryOf('SELECT * FROM orders; UPDATE orders SET paid = true WHERE id = 1; DROP TABLE victim'), 'SELECT FROM orders; UPDATE orders (write); DROP TABLE victim (ddl)');
    assert.equal(
      summaryOf('SELECT * INTO newt FROM old; DELETE FROM a USING b WHERE a.id = b.id; INSERT INTO x SELECT * FROM y'),
      'SELECT INTO newt (ddl); DELETE FROM a (write); INSERT INTO x (write)',
      'the relations a statement changes are the ones named',
    );
    assert.equal(summaryOf("GRANT ALL ON orders TO public; SELECT pg_read_file('/etc/passwd')"), 'GRANT ON orders (privileged); SELECT (privileged)');
  });

  test('3,000 characters of comment padding before a DROP do not hide it', () => {
    assert.equal(summaryOf(`/* ${'x'.repeat(3000)} */ DROP TABLE victim`), 'DROP TABLE victim (ddl)');
    assert.equal(summaryOf(`${'-- looks harmless\n'.repeat(200)}SELECT 1; DROP TABLE victim`), 'SELECT; DROP TABLE victim (ddl)');
    // a nested block comment: PostgreSQL ends it at the matching */, not the first one
    assert.equal(summaryOf(`/* outer /* inner */ ${'y'.repeat(3000)} */ DROP TABLE victim; SELECT 1`), 'DROP TABLE victim (ddl); SELECT');
  });

  test('padding inside a statement (a long literal) does not hide the statements after it', () => {
    const sql = `SELECT '${'a'.repeat(5000)}' AS pad FROM orders; DROP TABLE victim`;
    assert.equal(summaryOf(sql), 'SELECT FROM orders; DROP TABLE victim (ddl)');
  });

  test('500 statements with one DROP in the middle: the DROP is named, the reads are counted', () => {
    const same = Array.from({ length: 500 }, (_, i) => (i === 250 ? 'DROP TABLE victim' : `SELECT * FROM orders WHERE id = ${i}`)).join(';\n');
    assert.equal(summaryOf(same), 'SELECT FROM orders ×250; DROP TABLE victim (ddl); SELECT FROM orders ×249');

    const distinct = Array.from({ length: 500 }, (_, i) => (i === 250 ? 'DROP TABLE victim' : `SELECT * FROM t${i}`)).join('; ');
    const summary = summaryOf(distinct);
    assert.ok(summary.length <= SUMMARY_MAX_CHARS, `bounded: ${summary.length} chars`);
    const { listed, more, counts } = splitTail(summary);
    assert.ok(listed.includes('DROP TABLE victim (ddl)'), summary);
    assert.equal(listed.length + more, 500, 'every statement is listed or counted');
    assert.deepEqual(counts, { read: more }, 'only reads are left unnamed');
    // the listed ones keep their order around the DROP
    const drop = listed.indexOf('DROP TABLE victim (ddl)');
    assert.ok(listed.slice(0, drop).every((s) => /^SELECT FROM t\d+$/.test(s)) && drop > 0);
  });

  test('reads never push out a stricter statement: every listed read comes after all stricter ones fit', () => {
    const parts: string[] = [];
    for (let i = 0; i < 400; i++) {
      if (i % 40 === 7) parts.push(`UPDATE w${i} SET x = 1 WHERE id = 1`);
      else if (i === 399) parts.push('ALTER SYSTEM SET work_mem = 1');
      else if (i === 123) parts.push('CREATE TABLE d123 (id int)');
      else parts.push(`SELECT * FROM r${i}`);
    }
    const summary = summaryOf(parts.join('; '));
    const { listed, counts } = splitTail(summary);
    assert.ok(listed.includes('ALTER SYSTEM (privileged)'), summary);
    assert.ok(listed.includes('CREATE TABLE d123 (ddl)'), summary);
    assert.equal(listed.filter((s) => s.endsWith('(write)')).length, 10, 'all ten writes named');
    assert.equal(counts['write'], undefined, summary);
    assert.equal(counts['ddl'], undefined);
  });

  test('when even the stricter statements do not fit, the strictest are named and the rest counted by class', () => {
    const sql = Array.from({ length: 200 }, (_, i) => (i === 150 ? 'GRANT ALL ON secrets TO public' : i % 2 ? `DROP TABLE ddl_${i}` : `DELETE FROM w_${i} WHERE id = 1`)).join('; ');
    const summary = summaryOf(sql);
    assert.ok(summary.length <= SUMMARY_MAX_CHARS);
    const { listed, more, counts } = splitTail(summary);
    assert.equal(listed[0]?.startsWith('DROP TABLE'), true, 'listed in statement order');
    assert.ok(listed.includes('GRANT ON secrets (privileged)'), summary);
    assert.equal(counts['read'], undefined);
    assert.ok((counts['write'] ?? 0) > 0 && (counts['ddl'] ?? 0) + listed.filter((s) => s.endsWith('(ddl)')).length === 100, summary);
    assert.equal(listed.filter((s) => s.endsWith('(write)')).length, 0, 'no write named while a DDL is unnamed');
    assert.equal(listed.length + more, 200);
  });

  test('dollar-quoted bodies: what is inside a body is not a statement, what follows one is', () => {
    assert.equal(summaryOf('DO $$ BEGIN -- ; DROP TABLE fake\n PERFORM 1; END $$; DROP TABLE victim'), 'DO; DROP TABLE victim (ddl)');
    // the dollar quote closes before the "comment": the DROP runs
    assert.equal(summaryOf('SELECT $x$ /* $x$; DROP TABLE victim -- */'), 'SELECT; DROP TABLE victim (ddl)');
    assert.equal(summaryOf('SELECT $tag$ ; DROP TABLE not_run; $tag$ AS body; SELECT 2 FROM t'), 'SELECT; SELECT FROM t', 'a body that only looks like statements is part of one read');
    assert.equal(summaryOf('CREATE FUNCTION f() RETURNS void AS $body$ DELETE FROM orders $body$ LANGUAGE sql; SELECT 1'), 'CREATE FUNCTION USING orders (ddl); SELECT');
  });

  test('a text the parser rejects says so, with its first 80 characters on one line, comments left out', () => {
    assert.equal(summaryOf(`/* ${'pad '.repeat(1000)} */ DROP TABLE x; SELECT (`), 'unparseable SQL (unknown): DROP TABLE x; SELECT (');
    const long = `DELETE FROM\norders WHERE ${'id = 1 OR '.repeat(50)} (`;
    const summary = summaryOf(long);
    assert.match(summary, /^unparseable SQL \(unknown\): DELETE FROM orders WHERE id = 1 OR /);
    assert.equal(summary.length, 'unparseable SQL (unknown): '.length + 80);
    assert.ok(summary.endsWith('…') && !summary.includes('\n'));
    assert.equal(summaryOf('SELECT 1\0; DROP TABLE x'), 'unparseable SQL (unknown): SELECT 1\\u{0}; DROP TABLE x', 'a NUL is shown, not passed on');
  });

  test('comment removal for the head of rejected text keeps quoted text whole', () => {
    assert.equal(withoutComments("SELECT '-- not a comment', \"/* nor this */\" -- but this\nFROM t"), "SELECT '-- not a comment', \"/* nor this */\"  \nFROM t");
    assert.equal(withoutComments("SELECT E'\\' -- still a string' /* c */ x"), "SELECT E'\\' -- still a string'   x");
    assert.equal(withoutComments('SELECT $a$ -- body $a$, $1 -- c'), 'SELECT $a$ -- body $a$, $1  ');
    assert.equal(withoutComments('/* unterminated'), ' ');
  });

  test('empty text, blanks, only comments: (empty statement)', () => {
    for (const sql of ['', '   \n\t', '-- nothing\n', '/* nothing */ ;;']) assert.equal(summaryOf(sql), '(empty statement)', JSON.stringify(sql));
  });

  test('a single short statement stays as written, on one line, with its class when not a read', () => {
    assert.equal(summaryOf('select 1'), 'select 1');
    assert.equal(summaryOf('UPDATE orders\n   SET paid = true\n WHERE id = 1'), 'UPDATE orders SET paid = true WHERE id = 1 (write)');
    assert.equal(summaryOf('DROP TABLE customers'), 'DROP TABLE customers (ddl)');
  });

  test('a single statement with a comment, an unprintable character or over 200 characters is listed instead', () => {
    // on one line "--" would seem to swallow the rest; as a statement it is what it is
    assert.equal(summaryOf('DELETE FROM orders -- WHERE id = 1'), 'DELETE FROM orders (write)');
    assert.equal(summaryOf('SELECT 1 AS "\x1b[2K\x1b[1A"'), 'SELECT', 'no terminal escape reaches the summary');
    assert.equal(summaryOf('DELETE FROM orders /* \u202e 1 = di EREHW */'), 'DELETE FROM orders (write)');
    assert.equal(summaryOf(`UPDATE orders SET note = '${'x'.repeat(300)}' WHERE id = 1`), 'UPDATE orders (write)');
  });

  test('names that are not plain identifiers are quoted and escaped', () => {
    assert.equal(summaryOf('SELECT * FROM "orders; DROP TABLE victim (ddl)"; SELECT 1'), 'SELECT FROM "orders; DROP TABLE victim (ddl)"; SELECT');
    assert.equal(summaryOf('DROP TABLE "a\u202eb"; SELECT 1'), 'DROP TABLE "a\\u{202e}b" (ddl); SELECT');
    assert.equal(summaryOf('DROP TABLE "Say ""hi"""; SELECT 1'), 'DROP TABLE "Say ""hi""" (ddl); SELECT');
    assert.equal(summaryOf('DROP TABLE a, b, c, d, e; SELECT 1'), 'DROP TABLE a, b, c, +2 (ddl); SELECT');
  });

  test('through the proxy\'s classifier: the text as sent, PREPARE and EXECUTE by name', async () => {
    const classifier = await SqlClassifier.create();
    // the cache keys statements with numbers replaced; the summary keeps the text that was sent
    const update = 'UPDATE t SET a = 5 WHERE id = 7';
    assert.equal(classifier.actionSummary(update, classifier.classify(update)), 'UPDATE t SET a = 5 WHERE id = 7 (write)');
    const both = 'PREPARE p AS DELETE FROM orders WHERE id = $1; EXECUTE p(1)';
    assert.equal(classifier.actionSummary(both, classifier.classify(both)), 'PREPARE p AS DELETE FROM orders (write); EXECUTE p (unknown)', 'the text alone: the session resolves EXECUTE from what the server holds');
    const prepare = 'PREPARE p AS DELETE FROM orders WHERE id = $1';
    const runs = classifier.wrap(classifier.classify(prepare).statements[0]!.prepares!.statement);
    const execute = 'EXECUTE p(1); SELECT 1';
    const resolved = classifier.combine(classifier.classify(execute).statements.map((s) => (s.executes ? classifier.resolve(s, s.classBesidesExecute ?? 'read', runs, 'EXECUTE runs p') : s)));
    assert.equal(classifier.actionSummary(execute, resolved), 'EXECUTE p ON orders (write); SELECT');
  });

  test('a statement the proxy never saw (no text) says why it is unknown', async () => {
    const classifier = await SqlClassifier.create();
    assert.equal(classifier.actionSummary('', classifier.unknown('Execute of a portal Airlock did not see bound')), 'unclassifiable SQL (unknown): Execute of a portal Airlock did not see bound');
  });

  test('a summary of thousands of statements stays bounded and accounts for every one', () => {
    const classes = ['SELECT * FROM r{i}', 'UPDATE w{i} SET x = 1 WHERE id = 2', 'CREATE TABLE d{i} (id int)', 'CALL p{i}()', 'CREATE EXTENSION e{i}'];
    const sql = Array.from({ length: 3000 }, (_, i) => classes[(i * 7) % classes.length]!.replace('{i}', String(i))).join('; ');
    const summary = summaryOf(sql);
    assert.ok(summary.length <= SUMMARY_MAX_CHARS, `${summary.length}`);
    const { listed, more, counts } = splitTail(summary);
    assert.equal(listed.length + more, 3000);
    assert.deepEqual(Object.keys(counts), ['privileged', 'unknown', 'ddl', 'write', 'read'].filter((c) => counts[c] !== undefined), 'strictest first');
    assert.ok(listed.every((s) => s.endsWith('(privileged)')), 'only the strictest are named when nothing else fits');
  });
});
