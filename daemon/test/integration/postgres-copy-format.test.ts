import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MaskingPolicy } from '@airlock/shared';
import { initSqlClassifier } from '../../src/classify/sql/index.js';
import { MaskReportBuilder, compileMasking } from '../../src/masking/index.js';
import { copyOutStatements, encodeTextField, planCopyOut, readCopyRows, type CopySampleRow } from '../../src/proxies/postgres/copy-format.js';
import { createDatabase, dropDatabase } from '../helpers/pg-proxy.js';
import { WireClient } from '../helpers/pg-wire.js';

const DB = 'airlock_it_copy_format';
const COLUMNS = ['id', 'email', 'note', 'card', 'password'];

/** Values crafted to break field splitting and escapes: delimiters, quotes, escapes, newlines, NULL look-alikes. */
const SETUP = `
CREATE TABLE src (id int, email text, note text, card text, password text);
INSERT INTO src VALUES
 (1, 'ada@example.com', 'plain', '4111 1111 1111 1111', 'hunter2'),
 (2, 'alan.turing@example.org', E'tab\\there\\nnew line\\\\back|pipe,comma;semi"dq''sq@at-dash.dot', '4111-1111-1111-1111', NULL),
 (3, NULL, '', '5500005555555559', ''),
 (4, 'nil', 'nil', E'\\\\.', 'x'),
 (5, 'mail: grace@navy.example, call +44 20 7946 0958', E'email split: ada@exa\\tmple.com', '', 'p@ss'),
 (6, 'ünïcödé ✓ ada@example.com', E'\\\\x41 \\\\101 octal-looking', '4012888888881881', NULL),
 (7, 'ada@example.com@example.com', E'multi\\nline ada@example.com\\r\\n', ' ', '"quoted"'),
 (8, '''ada@example.com''', '@ada@@example.com@', 'a\\b', E'\\\\N');
CREATE TABLE back (id int, email text, note text, card text, password text);
`;

/** Each COPY TO STDOUT option set, with what COPY FROM STDIN reads back (FORCE_QUOTE is output only). */
const COMBINATIONS: { to: string; from: string }[] = [
  { to: '', from: '' },
  { to: `(FORMAT text, DELIMITER '|', NULL 'nil')`, from: `(FORMAT text, DELIMITER '|', NULL 'nil')` },
  { to: `(DELIMITER ' ')`, from: `(DELIMITER ' ')` },
  { to: `(DELIMITER '@', NULL '')`, from: `(DELIMITER '@', NULL '')` },
  { to: `(DELIMITER '-')`, from: `(DELIMITER '-')` },
  { to: `(FORMAT text, HEADER)`, from: `(FORMAT text, HEADER)` },
  { to: `WITH DELIMITER AS '@' NULL AS 'none'`, from: `WITH DELIMITER AS '@' NULL AS 'none'` },
  { to: `(FORMAT csv)`, from: `(FORMAT csv)` },
  { to: `(FORMAT csv, QUOTE '''', ESCAPE '\\', DELIMITER '|', FORCE_QUOTE *, NULL 'nil', HEADER)`, from: `(FORMAT csv, QUOTE '''', ESCAPE '\\', DELIMITER '|', NULL 'nil', HEADER)` },
  { to: `(FORMAT csv, QUOTE '@')`, from: `(FORMAT csv, QUOTE '@')` },
  { to: `(FORMAT csv, ESCAPE '.', FORCE_QUOTE *)`, from: `(FORMAT csv, ESCAPE '.')` },
  { to: `(FORMAT csv, DELIMITER '@', ESCAPE '@', QUOTE '"')`, from: `(FORMAT csv, DELIMITER '@', ESCAPE '@', QUOTE '"')` },
  { to: `(FORMAT csv, DELIMITER ';', FORCE_QUOTE (email, note), ENCODING 'utf-8')`, from: `(FORMAT csv, DELIMITER ';')` },
  { to: `(FORMAT csv, DELIMITER ' ', NULL 'NULL')`, from: `(FORMAT csv, DELIMITER ' ', NULL 'NULL')` },
  // the mask forms themselves hold these characters ([EMAIL], ****1111): a masked value must be quoted or escaped
  { to: `(DELIMITER '[')`, from: `(DELIMITER '[')` },
  { to: `(DELIMITER '*')`, from: `(DELIMITER '*')` },
  { to: `(FORMAT csv, QUOTE '*', DELIMITER '[')`, from: `(FORMAT csv, QUOTE '*', DELIMITER '[')` },
  { to: `(FORMAT csv, QUOTE '[', ESCAPE ']', DELIMITER '*')`, from: `(FORMAT csv, QUOTE '[', ESCAPE ']', DELIMITER '*')` },
  { to: `WITH CSV HEADER QUOTE AS '''' ESCAPE AS '\\' FORCE QUOTE email, card DELIMITER AS '|' NULL AS 'nil'`, from: `WITH CSV HEADER QUOTE AS '''' ESCAPE AS '\\' DELIMITER AS '|' NULL AS 'nil'` },
];

describe('COPY TO STDOUT rows from the real server, read and masked exactly', () => {
  let wire: WireClient;
  let held: (string | null)[][];
  const masker = compileMasking(MaskingPolicy.parse({ columns: [{ columns: '*password*', label: 'SECRET' }] }), 'db');

  before(async () => {
    await initSqlClassifier();
    createDatabase(DB, SETUP);
    wire = await WireClient.connect(DB);
    held = (await wire.query('SELECT * FROM src ORDER BY id')).rows.map((r) => r.map((v) => (v === null ? null : v.toString('utf8'))));
  });
  after(() => {
    wire.end();
    dropDatabase(DB);
  });

  /** What masking each held value must give: its column's rule, else the content detectors. */
  function expectedMasked(): (string | null)[][] {
    const report = new MaskReportBuilder();
    return held.map((row) => row.map((v, i) => (v === null || v === '' ? v : masker.maskCell(v, masker.columnRule(COLUMNS[i]!), report))));
  }

  for (const { to, from } of COMBINATIONS) {
    test(`COPY TO STDOUT ${to || '(defaults)'}: fields read as the server holds them; masked rows read back masked`, async () => {
      const sql = `COPY (SELECT * FROM src ORDER BY id) TO STDOUT ${to}`;
      const copied = await wire.query(sql);
      assert.equal(copied.error, undefined, copied.error);
      const [statement, ...others] = copyOutStatements(`SELECT 1; ${sql}`);
      assert.equal(others.length, 0);
      assert.equal(statement!.refuse, undefined, statement!.refuse);
      const options = statement!.options!;
      const text = options.format === 'text';

      // decoding: every field as the server holds it (text format cannot tell a value written as its NULL string from NULL)
      const asNull = (v: string | null) => (text && v !== null && encodeTextField(options, v) === options.null ? null : v);
      const decoded = copied.copyData.flatMap((body) => readCopyRows(options, body)).map((fields) => fields.map((f) => f.value));
      if (options.header) assert.deepEqual(decoded.shift(), COLUMNS);
      assert.deepEqual(
        decoded,
        held.map((row) => row.map(asNull)),
      );

      // masking: each CopyData rewritten, with the column rule applied by field position
      const plan = planCopyOut(statement!, masker, COLUMNS, copied.copyOut!.columns);
      assert.ok(plan.masker, plan.refuse);
      const report = new MaskReportBuilder();
      const sample: CopySampleRow[] = [];
      const masked = copied.copyData.map((body) => plan.masker!.maskData(body, report, sample) ?? body);
      assert.ok(report.changed);
      const expected = expectedMasked().map((row) => row.map(asNull));
      assert.deepEqual(
        sample.map((r) => r.fields),
        expected,
        'the recorded sample is what the agent was sent',
      );
      assert.ok(sample[0]!.marks.some((m) => m.column === 4 && m.by[0] === 'SECRET'));

      // the masked rows parse back, with the server's own COPY FROM, to the masked values in the same columns
      await wire.query('TRUNCATE back');
      const loadError = await wire.copyIn(`COPY back FROM STDIN ${from}`, masked);
      assert.equal(loadError, undefined, loadError);
      const loaded = (await wire.query('SELECT * FROM back ORDER BY id')).rows.map((r) => r.map((v) => (v === null ? null : v.toString('utf8'))));
      assert.deepEqual(loaded, expected);
      assert.doesNotMatch(JSON.stringify(loaded), /ada@example|4111|hunter2|grace@navy/);
    });
  }

  test('column names taken from the statement are the names the server gives the columns', async () => {
    for (const query of [`SELECT id, s.email, note AS "Note", card::text, (password) FROM src s`, `DELETE FROM back WHERE false RETURNING id, email AS e`, `SELECT "id" AS "PassWord" FROM src`]) {
      const fromStatement = copyOutStatements(`COPY (${query}) TO STDOUT`)[0]!.options!.columnNames;
      const described = await wire.extended(query, 0);
      assert.equal(described.error, undefined, described.error);
      assert.deepEqual(fromStatement, described.columns.map((c) => c.name), query);
    }
  });

  test('CopyOutResponse column count is checked against every row', async () => {
    const sql = `COPY (SELECT * FROM src ORDER BY id) TO STDOUT (FORMAT csv)`;
    const copied = await wire.query(sql);
    const plan = planCopyOut(copyOutStatements(sql)[0]!, masker, undefined, 4);
    assert.match(plan.refuse ?? '', /column names are not known/);
    const contentOnly = compileMasking(MaskingPolicy.parse({}), 'db');
    const wrongCount = planCopyOut(copyOutStatements(sql)[0]!, contentOnly, undefined, 4);
    assert.throws(() => wrongCount.masker!.maskData(copied.copyData[0]!, new MaskReportBuilder()), /5 fields where 4 columns/);
  });

  test('binary COPY and non-UTF8 encodings are refused with a sentence', async () => {
    for (const [sql, reason] of [
      ['COPY src TO STDOUT (FORMAT binary)', /binary COPY values carry no types/],
      ['COPY src TO STDOUT WITH BINARY', /binary COPY values carry no types/],
      [`COPY (SELECT * FROM src WHERE id <> 6) TO STDOUT (FORMAT csv, ENCODING 'LATIN1')`, /ENCODING 'LATIN1'/],
    ] as const) {
      const copied = await wire.query(sql);
      assert.equal(copied.error, undefined, 'the server runs it');
      const plan = planCopyOut(copyOutStatements(sql)[0]!, masker, COLUMNS, copied.copyOut!.columns);
      assert.equal(plan.masker, undefined);
      assert.match(plan.refuse!, /^Airlock cannot mask this COPY: /);
      assert.match(plan.refuse!, reason);
    }
  });
});
