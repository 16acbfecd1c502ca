import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MaskingPolicy } from '@airlock/shared';
import { BUILTIN_BINARY_TYPES, BinaryTypes, USER_TYPES_QUERY, userTypesFromCatalog } from '../../src/proxies/postgres/binary-values.js';
import { RowMasker, UNINSPECTABLE, type CellMark } from '../../src/proxies/postgres/results.js';
import { MaskReportBuilder, compileMasking } from '../../src/masking/index.js';
import { readDataRow } from '../../src/proxies/postgres/protocol.js';
import { serialize } from 'pg-protocol';
import { createDatabase, dropDatabase, psqlDirect, startPgProxy, type PgProxyHarness } from '../helpers/pg-proxy.js';
import { RawPgClient } from '../helpers/pg-raw.js';
import { TEST_POLICY } from '../helpers/pg-fixtures.js';
import { WireClient } from '../helpers/pg-wire.js';

const DB = 'airlock_it_binary_values';

/** Expressions whose binary value must decode to exactly the server's text output. */
const SAME_AS_TEXT = [
  `'hello ada@example.com'::text`,
  `'tab\there, newline\nthere'::text`,
  `'ünïcödé ✓'::varchar(20)`,
  `'ab'::char(5)`,
  `'pg_class'::name`,
  `'{"a": [1, "x"],   "b": null}'::json`,
  `'<a href="mailto:ada@example.com">b</a>'::xml`,
  `'a'::"char"`,
  `'{"email": "ada@example.com", "n": [1, 2.5, -0.1e3], "nested": {"k": true}}'::jsonb`,
  `'$.a[*] ? (@ > 1)'::jsonpath`,
  `true`,
  `false`,
  `(-32768)::int2`,
  `2147483647::int4`,
  `(-9223372036854775808)::int8`,
  `4111111111111111::int8`,
  `4294967295::oid`,
  `1.5::float4`,
  `3.4028235e38::float4`,
  `1e-7::float4`,
  `123456::float4`,
  `1234567::float4`,
  `0.1::float4`,
  `(-0.0)::float4`,
  `'NaN'::float4`,
  `'-Infinity'::float4`,
  `0.1::float8`,
  `1e15::float8`,
  `123456789012345::float8`,
  `1e-5::float8`,
  `0.0001::float8`,
  `4111111111111111::float8`,
  `5e-324::float8`,
  `1.7976931348623157e308::float8`,
  `(-1.5)::float8`,
  `'Infinity'::float8`,
  `0::numeric`,
  `0.00::numeric`,
  `(-123.4500)::numeric`,
  `12345678901234567890.123456789::numeric`,
  `0.0001::numeric`,
  `1e-20::numeric`,
  `10000::numeric`,
  `100000000::numeric`,
  `4111111111111111::numeric`,
  `'NaN'::numeric`,
  `'Infinity'::numeric`,
  `'-Infinity'::numeric`,
  `'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid`,
  `ARRAY['a', 'b c', '', NULL, 'NULL', 'q"uote', 'back\\slash', '{brace}', 'ada@example.com']::text[]`,
  `ARRAY[[1, 2], [3, 4]]`,
  `'[0:1]={7,8}'::int[]`,
  `'[2:3][5:5]={{a},{b}}'::text[]`,
  `ARRAY[]::int[]`,
  `ARRAY[1.5::numeric, NULL]`,
  `ARRAY['{"a": 1}'::jsonb, '[]'::jsonb]`,
  `ARRAY[true, false]`,
  `ARRAY['x'::varchar, 'y z'::varchar, E'v\\ttab', E'nb\u00a0sp']`,
  `ROW(E'nb\u00a0sp', E'new\\nline')`,
  `ROW(1, 'ada@example.com', NULL, '', 'a b', 'q"u', 'b\\s', ARRAY[1, 2], ROW('x', 'y (z)'))`,
  `ARRAY[ROW(1, 'x'), ROW(2, 'y')]`,
  `ROW(ARRAY['a,b', 'c'], '{"k": "v"}'::jsonb)`,
  `to_tsvector('simple', 'Mail ada@example.com or ada@example.com, it''s a\\b test')`,
  `setweight(to_tsvector('english', 'the fat cats sat'), 'A') || 'plain:3B'::tsvector`,
  `''::tsvector`,
  `ARRAY['a:1'::tsvector, 'b'::tsvector]`,
  `int4range(1, 5)`,
  `int4range(NULL, 5)`,
  `'empty'::int4range`,
  `int8range(4111111111111111, NULL, '[]')`,
  `numrange(-1.50, 2.25, '(]')`,
  `ARRAY[numrange(1, 2), 'empty']`,
];

/** Types whose values cannot hold text a detector looks for: decoded as clean, whatever the bytes. */
const CLEAN = [
  `'2024-02-29'::date`,
  `'infinity'::date`,
  `'13:45:01.5'::time`,
  `'13:45:01+02'::timetz`,
  `'2024-02-29 13:45:01.123456'::timestamp`,
  `'2024-02-29 13:45:01+00'::timestamptz`,
  `'1 year 2 mons 3 days 04:05:06'::interval`,
  `'192.168.0.1/24'::inet`,
  `'::1'::inet`,
  `'10.0.0.0/8'::cidr`,
  `'08:00:2b:01:02:03'::macaddr`,
  `'08:00:2b:01:02:03:04:05'::macaddr8`,
  `'(1.5,2)'::point`,
  `tstzrange('2024-01-01', '2024-02-01')`,
  `daterange('2024-01-01', NULL)`,
  `ARRAY['2024-01-01'::date, NULL]`,
  `ROW('2024-01-01'::date, NULL)`,
];

/** Types Airlock does not decode: withheld while masking is on. */
const UNINSPECTABLE_TYPES = [`int4multirange(int4range(1, 5))`, `'fat & cat'::tsquery`, `'((0,0),(1,1))'::box`, `'a=>b'::hstore`, `'red'::mood`, `ROW('x')::pair_like`, `'x'::email_domain`, `'b'::text::citext`];

describe('binary values decoded from the real server', () => {
  let wire: WireClient;

  before(async () => {
    createDatabase(
      DB,
      `CREATE EXTENSION hstore; CREATE EXTENSION citext;
       CREATE TYPE mood AS ENUM ('red', 'ada@example.com');
       CREATE TYPE pair_like AS (a text);
       CREATE DOMAIN email_domain AS text;
       CREATE DOMAIN small_count AS int4 CHECK (VALUE < 100);
       CREATE TABLE people (id int, email text, doc jsonb, card8 int8, emails text[], seen timestamptz, search tsvector, password text, note email_domain);
       INSERT INTO people VALUES (1, 'ada@example.com', '{"contact": "ada@example.com", "n": 1}', 4111111111111111, ARRAY['x', 'alan@example.org'], '2024-01-01', 'ada@example.com words', 'hunter2', 'grace@example.net'),
                                 (2, 'no pii', '{"n": 2}', 42, ARRAY['x'], NULL, NULL, NULL, 'none');`,
    );
    wire = await WireClient.connect(DB);
  });
  after(() => {
    wire.end();
    dropDatabase(DB);
  });

  async function binaryAndText(expression: string): Promise<{ binary: Buffer; typeOid: number; text: string }> {
    const binary = await wire.extended(`SELECT ${expression} AS v`, 1);
    const text = await wire.extended(`SELECT ${expression} AS v`, 0);
    assert.equal(binary.error, undefined, `${expression}: ${binary.error}`);
    assert.equal(binary.columns[0]!.format, 1);
    return { binary: binary.rows[0]![0]!, typeOid: binary.columns[0]!.typeOid, text: text.rows[0]![0]!.toString('utf8') };
  }

  test('every decodable type: the binary value decodes to the text the server prints for it', async () => {
    for (const expression of SAME_AS_TEXT) {
      const { binary, typeOid, text } = await binaryAndText(expression);
      const inspection = BUILTIN_BINARY_TYPES.inspect(typeOid, binary);
      assert.deepEqual(inspection.kind === 'text' ? inspection.text : inspection, text, `${expression} (type ${typeOid})`);
    }
  });

  test('bytea is looked at as its raw bytes read as latin1 (its text form is hex)', async () => {
    for (const expression of [`'\\x00ff41'::bytea`, `convert_to('mail ada@example.com', 'UTF8')`, `''::bytea`]) {
      const { binary, typeOid, text } = await binaryAndText(expression);
      assert.equal(typeOid, 17);
      const inspection = BUILTIN_BINARY_TYPES.inspect(typeOid, binary);
      assert.equal(inspection.kind === 'text' && inspection.text, Buffer.from(text.slice(2), 'hex').toString('latin1'), expression);
    }
  });

  test('money is looked at as its integer amount (its text depends on lc_monetary)', async () => {
    const { binary, typeOid } = await binaryAndText(`12.34::money`);
    const inspection = BUILTIN_BINARY_TYPES.inspect(typeOid, binary);
    assert.equal(inspection.kind === 'text' && inspection.text, '1234');
  });

  test('date, time, timestamp, interval, network addresses and points are clean at their fixed sizes', async () => {
    for (const expression of CLEAN) {
      const { binary, typeOid } = await binaryAndText(expression);
      assert.deepEqual(BUILTIN_BINARY_TYPES.inspect(typeOid, binary), { kind: 'clean' }, expression);
      // one byte too many is not the type's value any more
      assert.equal(BUILTIN_BINARY_TYPES.inspect(typeOid, Buffer.concat([binary, Buffer.from([0])])).kind, 'uninspectable', expression);
    }
  });

  test('a record with a date field is decoded with the date left out of the text', async () => {
    const { binary, typeOid, text } = await binaryAndText(`ROW('2024-01-01'::date, 'ada@example.com')`);
    assert.equal(text, '(2024-01-01,ada@example.com)');
    const inspection = BUILTIN_BINARY_TYPES.inspect(typeOid, binary);
    assert.equal(inspection.kind === 'text' && inspection.text, '(,ada@example.com)');
  });

  test('multiranges, tsquery, box, hstore, enums, user composites, domains in records and citext are uninspectable by default', async () => {
    for (const expression of UNINSPECTABLE_TYPES) {
      const wrapped = expression === `'x'::email_domain` ? `ROW('x'::email_domain)` : expression;
      const { binary, typeOid } = await binaryAndText(wrapped);
      assert.equal(BUILTIN_BINARY_TYPES.inspect(typeOid, binary).kind, 'uninspectable', `${wrapped} (type ${typeOid})`);
    }
  });

  test('a domain column arrives with its base type, so it is decoded as text', async () => {
    const { binary, typeOid } = await binaryAndText(`'grace@example.net'::email_domain`);
    assert.equal(typeOid, 25);
    assert.deepEqual(BUILTIN_BINARY_TYPES.inspect(typeOid, binary), { kind: 'text', text: 'grace@example.net', rewritable: 'utf8' });
  });

  test('user types the catalog defines are decoded: enum labels, citext, composites, domains inside records', async () => {
    const oid = (name: string) => Number(psqlDirect(DB, `SELECT '${name}'::regtype::oid`));
    const types = new BinaryTypes()
      .with(oid('mood'), { kind: 'enum' })
      .with(oid('citext'), { kind: 'text' })
      .with(oid('pair_like'), { kind: 'composite' })
      .with(oid('email_domain'), { kind: 'domain', base: 25 })
      .with(oid('mood[]'), { kind: 'array', element: oid('mood') });
    for (const expression of [`'ada@example.com'::mood`, `'Ada@Example.com'::citext`, `ROW('x y')::pair_like`, `ROW('grace@example.net'::email_domain, 1)`, `ARRAY['red'::mood, 'ada@example.com'::mood]`]) {
      const { binary, typeOid, text } = await binaryAndText(expression);
      const inspection = types.inspect(typeOid, binary);
      assert.equal(inspection.kind === 'text' && inspection.text, text, expression);
    }
    // the built-in set stays as it was
    const { binary, typeOid } = await binaryAndText(`'red'::mood`);
    assert.equal(BUILTIN_BINARY_TYPES.inspect(typeOid, binary).kind, 'uninspectable');
  });

  test('user types read from the catalog by their send functions: enums, citext, composites, domains, arrays of them; hstore stays uninspectable', async () => {
    const catalog = await wire.query(USER_TYPES_QUERY);
    assert.equal(catalog.error, undefined, catalog.error);
    const rows = catalog.rows.map((r) => ({ oid: Number(r[0]!.toString()), typtype: r[1]!.toString(), send: r[2]!.toString(), typelem: Number(r[3]!.toString()), typbasetype: Number(r[4]!.toString()) }));
    const types = BUILTIN_BINARY_TYPES.withAll(userTypesFromCatalog(rows));
    for (const expression of [
      `'ada@example.com'::mood`,
      `ARRAY['red'::mood, 'ada@example.com'::mood]`,
      `'Ada@Example.com'::citext`,
      `ARRAY['x'::citext, 'y z'::citext]`,
      `ROW('x y')::pair_like`,
      `ARRAY[ROW('a')::pair_like]`,
      `ROW('grace@example.net'::email_domain, 7::small_count)`,
      `ARRAY[7::small_count]`,
    ]) {
      const { binary, typeOid, text } = await binaryAndText(expression);
      const inspection = types.inspect(typeOid, binary);
      assert.equal(inspection.kind === 'text' && inspection.text, text, `${expression} (type ${typeOid})`);
    }
    const citext = await binaryAndText(`'x'::citext`);
    assert.equal(types.rewriteForm(citext.typeOid), 'utf8', 'citext is sent as its text and can be rewritten');
    const mood = await binaryAndText(`'red'::mood`);
    assert.equal(types.rewriteForm(mood.typeOid), undefined, 'a masked label is no label of the enum: withheld, not rewritten');
    const hstore = await binaryAndText(`'a=>b'::hstore`);
    assert.equal(types.inspect(hstore.typeOid, hstore.binary).kind, 'uninspectable');
  });

  test('RowMasker on real binary rows: text and jsonb rewritten, other types nulled when masking changes them, unreadable ones withheld', async () => {
    const result = await wire.extended('SELECT id, email, doc, card8, emails, seen, search, password, note FROM people ORDER BY id', 1);
    const masker = compileMasking(MaskingPolicy.parse({ columns: [{ columns: '*password*', label: 'SECRET' }] }), 'db');
    const rowMasker = new RowMasker(result.columns, masker);
    const report = new MaskReportBuilder();
    const marks: CellMark[] = [];
    const first = rowMasker.maskRow(result.rowBodies[0]!, report, marks);
    assert.ok(first, 'the first row holds PII and is rebuilt');
    assert.equal(first.readInt32BE(1), first.length - 1);
    const values = readDataRow(first.subarray(5));
    const original = result.rows[0]!;
    assert.deepEqual(values[0], original[0], 'the id passes as its bytes');
    assert.equal(values[1]!.toString('utf8'), '[EMAIL]');
    assert.equal(values[2]![0], 1, 'jsonb keeps its version byte');
    assert.deepEqual(JSON.parse(values[2]!.toString('utf8', 1)), { contact: '[EMAIL]', n: 1 });
    assert.equal(values[3], null, 'a card number held as int8 cannot be rewritten as one: NULL');
    assert.equal(values[4], null, 'an array with an email: NULL');
    assert.deepEqual(values[5], original[5], 'a timestamp passes');
    assert.equal(values[6], null, 'a tsvector holding an email cannot be rewritten as one');
    assert.equal(values[7]!.toString('utf8'), '[SECRET]', 'a column rule on a binary text column: rewritten to its label form');
    assert.equal(values[8]!.toString('utf8'), '[EMAIL]', 'a domain over text is its base type on the wire');
    assert.deepEqual(
      marks.map((m) => [m.column, m.by.join('+'), m.nulled === true]),
      [
        [1, 'email', false],
        [2, 'email', false],
        [3, 'payment-card', true],
        [4, 'email', true],
        [6, 'email', true],
        [7, 'SECRET', false],
        [8, 'email', false],
      ],
    );
    const summary = report.toReport();
    assert.equal(summary.nulled, 3);
    assert.equal(summary.byDetector[UNINSPECTABLE], undefined);

    // the second row: nothing to mask; the id, 'no pii' and 42 pass untouched
    assert.equal(rowMasker.maskRow(result.rowBodies[1]!, new MaskReportBuilder()), null);
  });
});

describe('binary results through the running proxy', () => {
  const PROXY_DB = 'airlock_it_binary_proxy';
  let h: PgProxyHarness;

  before(async () => {
    createDatabase(
      PROXY_DB,
      `CREATE TABLE people (id int, email text, doc jsonb, card8 int8, emails text[], seen timestamptz, area box);
       INSERT INTO people VALUES (1, 'ada@example.com', '{"contact": "ada@example.com"}', 4111111111111111, ARRAY['alan@example.org'], '2024-01-01', '((0,0),(1,1))');`,
    );
    h = await startPgProxy({ database: PROXY_DB, policy: TEST_POLICY });
  });
  after(async () => {
    await h.stop();
    dropDatabase(PROXY_DB);
  });

  /** Sends the messages up to Sync and returns the one DataRow's values (pg-protocol reads them as strings). */
  async function exchange(raw: RawPgClient, messages: Buffer[]): Promise<(string | null)[]> {
    raw.messages.length = 0;
    raw.write(messages);
    await raw.waitFor((m) => m.name === 'readyForQuery');
    const row = raw.messages.find((m) => m.name === 'dataRow') as unknown as { fields: (string | null)[] } | undefined;
    return row?.fields ?? [];
  }

  function assertMasked(fields: (string | null)[]): void {
    const [id, email, doc, card8, emails, seen, area] = fields;
    assert.equal(id?.length, 4, 'the int4 id passes as its four bytes');
    assert.equal(email, '[EMAIL]');
    assert.equal(doc, '\x01{"contact": "[EMAIL]"}');
    assert.equal(card8, null, 'a card number held as bigint cannot be rewritten as one');
    assert.equal(emails, null, 'a text[] with an email in it');
    assert.notEqual(seen, null, 'a timestamp passes');
    assert.equal(area, null, 'a box cannot be read, so it is withheld');
    assert.doesNotMatch(JSON.stringify(fields), /ada@|alan@/);
  }

  test('a statement described before it is bound for binary results: text and jsonb masked, the bigint card and the array NULL, the box withheld', async () => {
    const raw = await RawPgClient.login(h.port, h.token, PROXY_DB);
    try {
      await exchange(raw, [serialize.parse({ name: 'people', text: 'SELECT id, email, doc, card8, emails, seen, area FROM people' }), serialize.describe({ type: 'S', name: 'people' }), serialize.sync()]);
      assertMasked(await exchange(raw, [serialize.bind({ statement: 'people', binary: true }), serialize.execute({}), serialize.sync()]));
    } finally {
      raw.end();
    }
  });
  // The RowMasker of an Execute is made at its first DataRow, after the pipelined Describe's
  // RowDescription (the client's, or Airlock's own when the client sent none): it has the types.
  test('pipelined Parse/Bind(binary)/Describe/Execute: the same masking', async () => {
    const raw = await RawPgClient.login(h.port, h.token, PROXY_DB);
    try {
      assertMasked(
        await exchange(raw, [
          serialize.parse({ text: 'SELECT id, email, doc, card8, emails, seen, area FROM people' }),
          serialize.bind({ binary: true }),
          serialize.describe({ type: 'P' }),
          serialize.execute({}),
          serialize.sync(),
        ]),
      );
    } finally {
      raw.end();
    }
  });

  test('binary results with no Describe at all: no value Airlock could not type reaches the agent', async () => {
    const raw = await RawPgClient.login(h.port, h.token, PROXY_DB);
    try {
      const fields = await exchange(raw, [serialize.parse({ text: 'SELECT card8, emails, area FROM people' }), serialize.bind({ binary: true }), serialize.execute({}), serialize.sync()]);
      assert.deepEqual(fields, [null, null, null]);
    } finally {
      raw.end();
    }
  });
});
