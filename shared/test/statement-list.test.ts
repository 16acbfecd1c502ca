import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlStatementDigest, digestLabel, listStatements, oneLineText, printable, relationDisplayName, statementLabel, type ListedStatement } from '../src/index.js';

const read = (label: string): ListedStatement => ({ label, class: 'read' });

describe('statement lists', () => {
  test('every statement in order, its class when not a read, identical neighbours once with a count', () => {
    const list = [read('SELECT FROM a'), read('SELECT FROM a'), { label: 'DROP TABLE v', class: 'ddl' as const }, read('SELECT FROM a')];
    assert.equal(listStatements(list, 500), 'SELECT FROM a ×2; DROP TABLE v (ddl); SELECT FROM a');
    assert.equal(listStatements([], 500), '(no statement)');
  });

  test('over the bound: strictest named first, the rest counted by class, strictest first', () => {
    const list: ListedStatement[] = [
      ...Array.from({ length: 30 }, (_, i) => read(`SELECT FROM t${i}`)),
      { label: 'UPDATE w', class: 'write' },
      ...Array.from({ length: 30 }, (_, i) => read(`SELECT FROM u${i}`)),
      { label: 'GRANT ON x', class: 'privileged' },
    ];
    const text = listStatements(list, 120);
    assert.ok(text.length <= 120, text);
    assert.match(text, /^SELECT FROM t0; .*UPDATE w \(write\); .*GRANT ON x \(privileged\); … and (\d+) more: \1 read$/);
    const named = text.split('; … and ')[0]!.split('; ').length;
    assert.equal(named + Number(/and (\d+) more/.exec(text)![1]), 62);
  });

  test('a stricter statement that does not fit is not replaced by a read that would', () => {
    const list: ListedStatement[] = [{ label: `DROP TABLE ${'x'.repeat(100)}`, class: 'ddl' }, read('SELECT'), { label: 'UPDATE w', class: 'write' }];
    assert.equal(listStatements(list, 60), '3 statements: 1 ddl, 1 write, 1 read');
  });

  test('a bound that is not a positive whole number is refused', () => {
    assert.throws(() => listStatements([read('SELECT')], 0), /maxChars/);
    assert.throws(() => listStatements([read('SELECT')], Number.NaN), /maxChars/);
  });

  test('labels: command, preposition, up to three names, quoted when not plain', () => {
    assert.equal(statementLabel('SELECT', ['orders', 'public.customers']), 'SELECT FROM orders, public.customers');
    assert.equal(statementLabel('UPDATE', ['orders']), 'UPDATE orders');
    assert.equal(statementLabel('CREATE INDEX', ['orders']), 'CREATE INDEX ON orders');
    assert.equal(statementLabel('DROP TABLE', ['a', 'b', 'c', 'd']), 'DROP TABLE a, b, c, +1');
    assert.equal(statementLabel('SHOW', []), 'SHOW');
    assert.equal(relationDisplayName('Orders'), '"Orders"');
    assert.equal(relationDisplayName('x"; DROP'), '"x""; DROP"');
    assert.equal(relationDisplayName('n'.repeat(100)).length, 64, 'a name is bounded');
  });

  test('a digest names what it writes, else what it reads', () => {
    const digest = SqlStatementDigest.parse({ command: 'UPDATE', class: 'write', tables: ['orders', 'customers'], writesTables: ['orders'], reasons: ['UPDATE writes rows'] });
    assert.equal(digestLabel(digest), 'UPDATE orders');
    assert.equal(digestLabel({ ...digest, writesTables: undefined }), 'UPDATE orders, customers', 'older records without writesTables');
    assert.equal(SqlStatementDigest.safeParse({ ...digest, class: 'harmless' }).success, false, 'an unknown class is not accepted');
  });

  test('unprintable characters are escaped: terminal escapes, bidirectional overrides, zero-width', () => {
    assert.equal(printable('a\x1b[2Kb'), 'a\\u{1b}[2Kb');
    assert.equal(printable('a\u202eb\u200bc\u2066d'), 'a\\u{202e}b\\u{200b}c\\u{2066}d');
    assert.equal(printable('tab\tand\nnewline café'), 'tab\tand\nnewline café');
    assert.equal(oneLineText('  a\n\n b\r\n\u2028c  '), 'a b c');
    // the same regular expression object is reused: a second call must not start mid-string
    assert.equal(printable('\x07'), '\\u{7}');
    assert.equal(printable('\x07'), '\\u{7}');
  });
});
