import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { MaskingPolicy } from '@airlock/shared';
import { initSqlClassifier } from '../../src/classify/sql/index.js';
import { MaskReportBuilder, compileMasking } from '../../src/masking/index.js';
import { CopyRowMasker, copyOutStatements, encodeCsvField, planCopyOut, readCopyRows, type CopyOptions, type CopySampleRow } from '../../src/proxies/postgres/copy-format.js';
import { ProtocolError } from '../../src/proxies/postgres/protocol.js';

function optionsOf(sql: string): CopyOptions {
  const [statement] = copyOutStatements(sql);
  assert.ok(statement, `no COPY TO STDOUT in ${sql}`);
  assert.equal(statement.refuse, undefined, statement.refuse);
  return statement.options!;
}

function refusalOf(sql: string): string {
  const [statement] = copyOutStatements(sql);
  assert.ok(statement?.refuse, `expected ${sql} to be refused`);
  return statement.refuse;
}

function values(options: CopyOptions, row: string): (string | null)[][] {
  return readCopyRows(options, Buffer.from(row)).map((fields) => fields.map((f) => f.value));
}

describe('COPY options read from the statement', () => {
  before(() => initSqlClassifier());

  test('defaults: text with tab and \\N; csv with comma, empty NULL and double quotes', () => {
    const text = optionsOf('COPY t TO STDOUT');
    assert.deepEqual([text.format, text.delimiter, text.null, text.header], ['text', '\t', '\\N', false]);
    assert.deepEqual(text.source, { relation: 't' });
    const csv = optionsOf('COPY s.t (a, b) TO STDOUT (FORMAT csv)');
    assert.deepEqual([csv.format, csv.delimiter, csv.null, csv.quote, csv.escape], ['csv', ',', '', '"', '"']);
    assert.deepEqual(csv.source, { relation: 't', schema: 's' });
    assert.deepEqual(csv.columns, ['a', 'b']);
  });

  test('the new syntax and the old one give the same options', () => {
    const modern = optionsOf(`COPY t TO STDOUT (FORMAT csv, HEADER, QUOTE '''', ESCAPE '\\', DELIMITER '|', FORCE_QUOTE (a, b), NULL 'nil', ENCODING 'UTF8')`);
    const old = optionsOf(`COPY t TO STDOUT WITH CSV HEADER QUOTE AS '''' ESCAPE AS '\\' FORCE QUOTE a, b DELIMITER AS '|' NULL AS 'nil' ENCODING 'utf-8'`);
    for (const o of [modern, old]) {
      assert.deepEqual([o.format, o.header, o.quote, o.escape, o.delimiter, o.null, o.forceQuote], ['csv', true, "'", '\\', '|', 'nil', ['a', 'b']]);
    }
    assert.equal(optionsOf('COPY t TO STDOUT (FORMAT csv, FORCE_QUOTE *)').forceQuote, '*');
    assert.equal(optionsOf(`COPY t TO STDOUT (FORMAT csv, HEADER false)`).header, false);
    assert.equal(optionsOf(`COPY t TO STDOUT (FORMAT csv, HEADER 1)`).header, true);
    assert.equal(optionsOf(`COPY t TO STDOUT (FORMAT csv, ESCAPE '\\')`).quote, '"');
  });

  test('a query source is the text between its parentheses, however many parentheses its strings hold', () => {
    const o = optionsOf(`COPY (SELECT ')' AS x, f((1)) FROM t WHERE y = '(') TO STDOUT WITH CSV`);
    assert.deepEqual(o.source, { query: `SELECT ')' AS x, f((1)) FROM t WHERE y = '(' ` .trim() });
  });

  test('column names from the statement where they are certain, as RowDescription would give them', () => {
    const names = (sql: string) => optionsOf(sql).columnNames;
    assert.deepEqual(names('COPY t (a, "B") TO STDOUT'), ['a', 'B']);
    assert.deepEqual(names('COPY (SELECT a, t.b, c AS d, e::text, (f), "G" FROM t) TO STDOUT'), ['a', 'b', 'd', 'e', 'f', 'G']);
    assert.deepEqual(names('COPY (DELETE FROM t WHERE id = 1 RETURNING a, b AS c) TO STDOUT'), ['a', 'c']);
    // a star, an expression or a set operation: the server's names are not certain from here
    for (const sql of ['COPY t TO STDOUT', 'COPY (SELECT * FROM t) TO STDOUT', 'COPY (SELECT t.* FROM t) TO STDOUT', 'COPY (SELECT lower(email) FROM t) TO STDOUT', 'COPY (SELECT (SELECT password FROM u)) TO STDOUT', 'COPY (SELECT a FROM t UNION SELECT b FROM u) TO STDOUT', 'COPY (VALUES (1)) TO STDOUT']) {
      assert.equal(names(sql), undefined, sql);
    }
  });

  test('only COPY TO STDOUT counts, in order: COPY FROM, TO a file and TO PROGRAM send no CopyOutResponse', () => {
    const statements = copyOutStatements(`COPY a FROM STDIN; SELECT 1; COPY b TO STDOUT; COPY c TO '/tmp/x'; COPY d TO PROGRAM 'cat'; COPY (SELECT 'é') TO STDOUT (FORMAT csv)`);
    assert.deepEqual(
      statements.map((s) => s.options?.source),
      [{ relation: 'b' }, { query: `SELECT 'é'` }],
    );
  });

  test('what cannot be read exactly is refused, each with its reason', () => {
    const cases: [string, RegExp][] = [
      ['COPY t TO STDOUT (FORMAT binary)', /binary COPY values carry no types/],
      ['COPY t TO STDOUT BINARY', /binary/],
      [`COPY t TO STDOUT (FORMAT csv, ENCODING 'LATIN1')`, /ENCODING 'LATIN1'/],
      [`COPY t TO STDOUT (FORMAT csv, ENCODING 'SQL_ASCII')`, /only UTF8/],
      [`COPY t TO STDOUT (DELIMITER '||')`, /single one-byte character/],
      [`COPY t TO STDOUT (DELIMITER 'é')`, /single one-byte character/],
      [`COPY t TO STDOUT (FORMAT csv, QUOTE 'ab')`, /quote must be a single/],
      [`COPY t TO STDOUT (FORMAT csv, ESCAPE '')`, /escape must be a single/],
      [`COPY t TO STDOUT (DELIMITER 'a')`, /delimiter cannot be "a"/],
      [`COPY t TO STDOUT (DELIMITER '\\')`, /delimiter cannot be/],
      [`COPY t TO STDOUT (QUOTE '"')`, /only in CSV mode/],
      [`COPY t TO STDOUT (FORCE_QUOTE *)`, /only in CSV mode/],
      [`COPY t TO STDOUT (NULL 'a|b', DELIMITER '|')`, /must not appear in the NULL/],
      [`COPY t TO STDOUT (FORMAT csv, NULL '"')`, /quote character must not appear/],
      [`COPY t TO STDOUT (FORMAT csv, DELIMITER '"')`, /delimiter and quote must be different/],
      [`COPY t TO STDOUT (NULL 'x\\y')`, /backslash/],
      [`COPY t TO STDOUT (FORMAT csv, FORMAT text)`, /given twice/],
      [`COPY t TO STDOUT (FORMAT xml)`, /not one Airlock knows/],
      [`COPY t TO STDOUT (FORMAT 'CSV')`, /"CSV" is not one Airlock knows/],
      [`COPY t TO STDOUT (FORMAT csv, FORCE_NOT_NULL (a))`, /FORCE_NOT_NULL is not one Airlock can read/],
      [`COPY t TO STDOUT (FORMAT csv, HEADER match)`, /Boolean/],
      [`COPY t TO STDOUT (WHATEVER 1)`, /WHATEVER/],
      [`COPY t TO STDOUT (DELIMITER E'\\n')`, /newline/],
    ];
    for (const [sql, reason] of cases) assert.match(refusalOf(sql), reason, sql);
  });

  test('a string that does not parse is refused, not read as no COPY', () => {
    assert.match(refusalOf('COPY t TO STDOUT (FORMAT csv'), /could not parse/);
  });
});

describe('COPY rows read exactly', () => {
  before(() => initSqlClassifier());

  test('text format: every escape COPY FROM knows, the delimiter escaped, NULL compared before unescaping', () => {
    const o = optionsOf(`COPY t TO STDOUT (DELIMITER '|')`);
    assert.deepEqual(values(o, 'a\\|b|\\N|\\\\N|\\b\\f\\n\\r\\t\\v|\\101\\x41\\x4|\\xZ|\\303\\251|\\q\n'), [['a|b', null, '\\N', '\b\f\n\r\t\v', 'AA\x04', 'xZ', 'é', 'q']]);
  });

  test('csv: a quote may open mid-field, the escape escapes only a quote or itself, newlines inside quotes', () => {
    const o = optionsOf(`COPY t TO STDOUT (FORMAT csv, QUOTE '''', ESCAPE '\\', NULL 'nil')`);
    assert.deepEqual(values(o, `ab'c,d'e,'it\\'s','a\\b\\\\','multi\nline',nil,'nil',\n`), [['abc,de', "it's", 'a\\b\\', 'multi\nline', null, 'nil', '']]);
  });

  test('several rows in one CopyData are read; a row cut short is an error', () => {
    const o = optionsOf('COPY t TO STDOUT (FORMAT csv)');
    assert.deepEqual(values(o, 'a,b\n"c\nd",e\n'), [['a', 'b'], ['c\nd', 'e']]);
    assert.throws(() => values(o, 'a,b'), ProtocolError);
    assert.throws(() => values(o, '"a,b\n'), /unterminated quoted field/);
    assert.throws(() => values(optionsOf('COPY t TO STDOUT'), 'a\tb'), /without its end of line/);
  });

  test('csv output quotes what COPY FROM would misread: the NULL string, \\. alone, delimiters, quotes, line ends', () => {
    const o = optionsOf(`COPY t TO STDOUT (FORMAT csv, NULL 'nil')`);
    assert.equal(encodeCsvField(o, 'nil', false, false), '"nil"');
    assert.equal(encodeCsvField(o, '\\.', false, true), '"\\."');
    assert.equal(encodeCsvField(o, '\\.', false, false), '\\.');
    assert.equal(encodeCsvField(o, 'a"b', false, false), '"a""b"');
    assert.equal(encodeCsvField(o, 'plain', false, false), 'plain');
    assert.equal(encodeCsvField(o, 'plain', true, false), '"plain"');
  });
});

describe('CopyRowMasker', () => {
  before(() => initSqlClassifier());
  const masker = compileMasking(MaskingPolicy.parse({ columns: [{ columns: '*password*', label: 'SECRET' }] }), 'db');

  function maskAll(sql: string, rows: string[], columns?: string[], columnCount?: number): { out: string[]; sample: CopySampleRow[]; report: MaskReportBuilder } {
    const plan = planCopyOut(copyOutStatements(sql)[0]!, masker, columns, columnCount);
    assert.ok(plan.masker, plan.refuse);
    const report = new MaskReportBuilder();
    const sample: CopySampleRow[] = [];
    const out = rows.map((r) => (plan.masker!.maskData(Buffer.from(r), report, sample) ?? Buffer.from(r)).toString('utf8'));
    return { out, sample, report };
  }

  test('an email the delimiter was escaped inside is found (read naively it would pass)', () => {
    const { out } = maskAll(`COPY t TO STDOUT (DELIMITER '@')`, ['1@ada\\@example.com@x\n'], ['id', 'email', 'note']);
    assert.deepEqual(out, ['1@[EMAIL]@x\n']);
  });

  test('a card split by escaped delimiters, and one whose groups the quote character separates', () => {
    const spaced = maskAll(`COPY t TO STDOUT (DELIMITER ' ')`, ['1 4111\\ 1111\\ 1111\\ 1111\n'], ['id', 'card']);
    assert.match(spaced.out[0]!, /^1 \*+1111\n$/);
    const quoted = maskAll(`COPY t TO STDOUT (FORMAT csv, QUOTE '@')`, ['1,@ada@@example.com@\n'], ['id', 'email']);
    assert.deepEqual(quoted.out, ['1,@[EMAIL]@\n']);
  });

  test('a masked value is written back with the options: quoted if it was, its delimiter escaped in text format', () => {
    const csv = maskAll(`COPY t TO STDOUT (FORMAT csv, FORCE_QUOTE *)`, ['"1","ada@example.com, or grace@navy.example"\n'], ['id', 'email']);
    assert.deepEqual(csv.out, ['"1","[EMAIL], or [EMAIL]"\n']);
    const text = maskAll(`COPY t TO STDOUT (DELIMITER ',')`, ['1,ada@example.com\\, hi\n'], ['id', 'email']);
    assert.deepEqual(text.out, ['1,[EMAIL]\\, hi\n']);
  });

  test('column rules apply by field position; the header row keeps its names and is not sampled', () => {
    const { out, sample, report } = maskAll(`COPY t TO STDOUT (FORMAT csv, HEADER)`, ['id,password\n', '1,hunter2\n', '2,\n', '3,"multi\nline"\n'], ['id', 'password']);
    assert.deepEqual(out, ['id,password\n', '1,[SECRET]\n', '2,\n', '3,"[SECRET]"\n'], 'a quoted field stays quoted');
    assert.deepEqual(
      sample.map((r) => r.fields),
      [
        ['1', '[SECRET]'],
        ['2', null],
        ['3', '[SECRET]'],
      ],
    );
    assert.deepEqual(sample[0]!.marks, [{ column: 1, by: ['SECRET'] }]);
    assert.equal(report.toReport().byDetector.SECRET, 2);
  });

  test('unchanged rows give null, so the original bytes go on', () => {
    const plan = planCopyOut(copyOutStatements('COPY t TO STDOUT')[0]!, masker, ['a', 'b']);
    assert.equal(plan.masker!.maskData(Buffer.from('1\tno pii\n'), new MaskReportBuilder()), null);
  });

  test('a row with more or fewer fields than announced is an error, not a shifted column rule', () => {
    const plan = planCopyOut(copyOutStatements('COPY t TO STDOUT')[0]!, masker, ['id', 'password'], 2);
    assert.throws(() => plan.masker!.maskData(Buffer.from('1\thunter2\textra\n'), new MaskReportBuilder()), /3 fields where 2 columns/);
    assert.throws(() => plan.masker!.maskData(Buffer.from('hunter2\n'), new MaskReportBuilder()), /1 fields where 2 columns/);
  });

  test('refused plans: column rules without column names, names that do not match the count, binary', () => {
    assert.match(planCopyOut(copyOutStatements('COPY t TO STDOUT')[0]!, masker).refuse!, /column names are not known/);
    assert.match(planCopyOut(copyOutStatements('COPY t TO STDOUT')[0]!, masker, ['a'], 2).refuse!, /do not match its column count/);
    assert.match(planCopyOut(copyOutStatements('COPY t TO STDOUT BINARY')[0]!, masker, ['a']).refuse!, /^Airlock cannot mask this COPY: binary/);
    const contentOnly = compileMasking(MaskingPolicy.parse({}), 'db');
    assert.ok(planCopyOut(copyOutStatements('COPY t TO STDOUT')[0]!, contentOnly).masker, 'no column rules: names are not needed');
    assert.match(planCopyOut(copyOutStatements('COPY t TO STDOUT')[0]!, contentOnly, undefined, undefined, 'SJIS').refuse!, /client encoding is SJIS/);
    assert.ok(planCopyOut(copyOutStatements(`COPY t TO STDOUT (ENCODING 'UTF8')`)[0]!, contentOnly, undefined, undefined, 'SJIS').masker, 'ENCODING overrides the client encoding');
    assert.ok(planCopyOut(copyOutStatements('COPY t TO STDOUT')[0]!, contentOnly, undefined, undefined, 'UTF8').masker);
    assert.throws(() => new CopyRowMasker({ ...optionsOf('COPY t TO STDOUT'), format: 'binary' }, masker));
  });
});
