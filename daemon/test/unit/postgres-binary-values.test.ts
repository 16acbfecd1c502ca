import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MaskingPolicy } from '@airlock/shared';
import { BUILTIN_BINARY_TYPES, BinaryTypes, encodeRewritten, floatText, userTypesFromCatalog } from '../../src/proxies/postgres/binary-values.js';
import { ResultSample, RowMasker, UNINSPECTABLE, type CellMark, type ResultColumn } from '../../src/proxies/postgres/results.js';
import { readDataRow } from '../../src/proxies/postgres/protocol.js';
import { MaskReportBuilder, compileMasking } from '../../src/masking/index.js';

const TEXT = 25;
const INT4 = 23;
const INT8 = 20;
const JSONB = 3802;
const TEXT_ARRAY = 1009;
const INT4_ARRAY = 1007;
const RECORD = 2249;
const NUMERIC = 1700;
const TIMESTAMPTZ = 1184;

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function int16s(...ns: number[]): Buffer {
  const b = Buffer.alloc(2 * ns.length);
  ns.forEach((n, i) => b.writeInt16BE(n, 2 * i));
  return b;
}

/** array_send's layout: one dimension of `elements` with lower bound 1. */
function array(elementOid: number, elements: (Buffer | null)[], dims = [elements.length], lower = 1): Buffer {
  const parts = [int32(dims.length), int32(elements.some((e) => e === null) ? 1 : 0), int32(elementOid)];
  for (const d of dims) parts.push(int32(d), int32(lower));
  for (const e of elements) parts.push(e === null ? int32(-1) : Buffer.concat([int32(e.length), e]));
  return Buffer.concat(parts);
}

/** record_send's layout. */
function record(fields: [number, Buffer | null][]): Buffer {
  const parts = [int32(fields.length)];
  for (const [oid, value] of fields) parts.push(int32(oid), value === null ? int32(-1) : Buffer.concat([int32(value.length), value]));
  return Buffer.concat(parts);
}

function dataRow(values: (Buffer | null)[]): Buffer {
  const parts = [int16s(values.length)];
  for (const v of values) parts.push(v === null ? int32(-1) : Buffer.concat([int32(v.length), v]));
  return Buffer.concat(parts);
}

function inspectText(oid: number, value: Buffer): string | undefined {
  const inspection = BUILTIN_BINARY_TYPES.inspect(oid, value);
  return inspection.kind === 'text' ? inspection.text : undefined;
}

describe('binary value decoding: malformed and hostile values are uninspectable, never guessed', () => {
  test('fixed-size types of the wrong size', () => {
    assert.equal(BUILTIN_BINARY_TYPES.inspect(INT4, Buffer.alloc(3)).kind, 'uninspectable');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(INT8, Buffer.alloc(9)).kind, 'uninspectable');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(TIMESTAMPTZ, Buffer.alloc(4)).kind, 'uninspectable');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(2950, Buffer.alloc(15)).kind, 'uninspectable');
  });

  test('unknown type OIDs, and a jsonb of another version', () => {
    assert.match(JSON.stringify(BUILTIN_BINARY_TYPES.inspect(99999, Buffer.from('ada@example.com'))), /not one Airlock can decode/);
    assert.equal(BUILTIN_BINARY_TYPES.inspect(JSONB, Buffer.from('\x02{"a":1}')).kind, 'uninspectable');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(JSONB, Buffer.alloc(0)).kind, 'uninspectable');
  });

  test('arrays: element type other than the column says, lengths past the end, trailing bytes, too many dimensions', () => {
    const good = array(TEXT, [Buffer.from('a'), null, Buffer.from('b c')]);
    assert.equal(inspectText(TEXT_ARRAY, good), '{a,NULL,"b c"}');
    // an int4[] column whose value claims text elements: not decoded by the claim
    assert.match(JSON.stringify(BUILTIN_BINARY_TYPES.inspect(INT4_ARRAY, good)), /where 23 was expected/);
    assert.equal(BUILTIN_BINARY_TYPES.inspect(TEXT_ARRAY, good.subarray(0, good.length - 1)).kind, 'uninspectable');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(TEXT_ARRAY, Buffer.concat([good, Buffer.from('x')])).kind, 'uninspectable');
    const lying = Buffer.from(good);
    lying.writeInt32BE(1_000_000, 12); // dimension size far beyond the bytes
    assert.equal(BUILTIN_BINARY_TYPES.inspect(TEXT_ARRAY, lying).kind, 'uninspectable');
    const sevenDims = Buffer.concat([int32(7), int32(0), int32(TEXT), ...Array.from({ length: 7 }, () => Buffer.concat([int32(1), int32(1)])), int32(1), Buffer.from('x')]);
    assert.equal(BUILTIN_BINARY_TYPES.inspect(TEXT_ARRAY, sevenDims).kind, 'uninspectable');
  });

  test('an array of a type Airlock cannot decode is uninspectable as a whole', () => {
    const record2287 = array(99999, [Buffer.from('ada@example.com')]);
    assert.equal(BUILTIN_BINARY_TYPES.inspect(2287, record2287).kind, 'uninspectable');
  });

  test('records: a field of an unknown type withholds the whole record; text fields are quoted as record_out does', () => {
    assert.equal(inspectText(RECORD, record([[TEXT, Buffer.from('a b')], [INT4, int32(7)], [TEXT, null], [TEXT, Buffer.from('q"\\')]])), '("a b",7,,"q""\\\\")');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(RECORD, record([[TEXT, Buffer.from('x')], [99999, Buffer.from('ada@example.com')]])).kind, 'uninspectable');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(RECORD, Buffer.concat([int32(2), int32(TEXT), int32(1), Buffer.from('x')])).kind, 'uninspectable', 'fewer fields than announced');
  });

  test('nesting is bounded: a record nested past the limit is uninspectable, not a stack overflow', () => {
    let value = record([[TEXT, Buffer.from('ada@example.com')]]);
    for (let i = 0; i < 40; i++) value = record([[RECORD, value]]);
    assert.match(JSON.stringify(BUILTIN_BINARY_TYPES.inspect(RECORD, value)), /nested too deep/);
    let shallow = record([[TEXT, Buffer.from('x')]]);
    for (let i = 0; i < 5; i++) shallow = record([[RECORD, shallow]]);
    assert.equal(BUILTIN_BINARY_TYPES.inspect(RECORD, shallow).kind, 'text');
  });

  test('ranges and tsvectors: bounds and lexemes past the end, or bytes after them, are uninspectable', () => {
    const INT4RANGE = 3904;
    const TSVECTOR = 3614;
    const range = Buffer.concat([Buffer.from([0x02]), int32(4), int32(1), int32(4), int32(5)]);
    assert.equal(inspectText(INT4RANGE, range), '[1,5)');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(INT4RANGE, range.subarray(0, range.length - 1)).kind, 'uninspectable');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(INT4RANGE, Buffer.concat([range, Buffer.from([0])])).kind, 'uninspectable');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(INT4RANGE, Buffer.from([0x01, 0])).kind, 'uninspectable', 'empty, with a byte after it');
    const lexemes = Buffer.concat([int32(1), Buffer.from("it's\0"), int16s(2, 1, -0x4000 | 3)]);
    assert.equal(inspectText(TSVECTOR, lexemes), "'it''s':1,3A");
    assert.equal(BUILTIN_BINARY_TYPES.inspect(TSVECTOR, lexemes.subarray(0, lexemes.length - 1)).kind, 'uninspectable');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(TSVECTOR, Buffer.concat([int32(1), Buffer.from('no terminator')])).kind, 'uninspectable');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(TSVECTOR, Buffer.concat([int32(1000), Buffer.from('a\0')])).kind, 'uninspectable');
  });

  test('numeric: the header must match the digits, digits must be base-10000', () => {
    assert.equal(inspectText(NUMERIC, int16s(2, 1, 0, 2, 1, 2345)), '12345.00');
    assert.equal(inspectText(NUMERIC, int16s(1, -2, 0x4000, 8, 12)), '-0.00000012');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(NUMERIC, int16s(3, 0, 0, 0, 1)).kind, 'uninspectable');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(NUMERIC, int16s(1, 0, 0, 0, 10000)).kind, 'uninspectable');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(NUMERIC, int16s(0, 0, 0x1234, 0)).kind, 'uninspectable');
  });

  test('floats print as float4out/float8out do at the default extra_float_digits', () => {
    assert.equal(floatText(4111111111111111, false), '4.111111111111111e+15');
    assert.equal(floatText(100000000000000, false), '100000000000000');
    assert.equal(floatText(0.00001, false), '1e-05');
    assert.equal(floatText(Math.fround(1234567), true), '1.234567e+06');
    assert.equal(floatText(Math.fround(123456), true), '123456');
    assert.equal(floatText(Math.fround(0.1), true), '0.1');
  });

  test('a catalog definition does not change the built-in set, and a domain over an unknown base stays uninspectable', () => {
    const types = new BinaryTypes().with(70000, { kind: 'domain', base: 99999 }).with(70001, { kind: 'text' });
    assert.equal(types.inspect(70000, Buffer.from('x')).kind, 'uninspectable');
    assert.equal(types.rewriteForm(70001), 'utf8');
    assert.equal(BUILTIN_BINARY_TYPES.inspect(70001, Buffer.from('x')).kind, 'uninspectable');
    assert.deepEqual(encodeRewritten('jsonb', '"[EMAIL]"'), Buffer.from('\x01"[EMAIL]"'));
    assert.throws(() => new BinaryTypes().with(TEXT, { kind: 'composite' }), /built in/);
  });

  test('user types by send function: unknown send functions, built-in OIDs and element-less arrays are left out', () => {
    const found = userTypesFromCatalog([
      { oid: 70000, typtype: 'e', send: 'enum_send', typelem: 0, typbasetype: 0 },
      { oid: 70001, typtype: 'b', send: 'hstore_send', typelem: 0, typbasetype: 0 },
      { oid: 70002, typtype: 'd', send: 'int4send', typelem: 0, typbasetype: INT4 },
      { oid: 70003, typtype: 'b', send: 'array_send', typelem: 0, typbasetype: 0 },
      { oid: TEXT, typtype: 'b', send: 'textsend', typelem: 0, typbasetype: 0 },
      { oid: 70004, typtype: 'd', send: 'citextsend', typelem: 0, typbasetype: 70005 },
    ]);
    assert.deepEqual(found, [
      [70000, { kind: 'enum' }],
      [70002, { kind: 'sent-as', send: 'int4send' }],
    ]);
    const types = BUILTIN_BINARY_TYPES.withAll(found);
    assert.deepEqual(types.inspect(70002, int32(-5)), { kind: 'text', text: '-5', rewritable: undefined });
    assert.equal(types.inspect(70001, Buffer.from('x')).kind, 'uninspectable');
  });

  test('bytea: valid UTF-8 is read as UTF-8, anything else byte for byte as latin1', () => {
    assert.equal(inspectText(17, Buffer.from('José <jose@example.com>')), 'José <jose@example.com>');
    assert.equal(inspectText(17, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('ada@example.com')])), 'ÿþada@example.com');
  });
});

describe('RowMasker with binary columns', () => {
  const masker = compileMasking(MaskingPolicy.parse({ columns: [{ columns: '*secret*', label: 'SECRET' }] }), 'db');
  const col = (name: string, typeOid: number, format = 1): ResultColumn => ({ name, typeOid, format });

  function mask(columns: ResultColumn[], values: (Buffer | null)[], using = masker) {
    const report = new MaskReportBuilder();
    const marks: CellMark[] = [];
    const rebuilt = new RowMasker(columns, using).maskRow(dataRow(values), report, marks);
    return { rebuilt, values: rebuilt ? readDataRow(rebuilt.subarray(5)) : values, report: report.toReport(), marks };
  }

  test('an unknown binary type is withheld as NULL and counted under uninspectable, even when it looks harmless', () => {
    const r = mask([col('id', INT4), col('shape', 99999)], [int32(1), Buffer.from('anything')]);
    assert.deepEqual(r.values, [int32(1), null]);
    assert.deepEqual(r.marks, [{ column: 1, by: [UNINSPECTABLE], nulled: true }]);
    assert.equal(r.report.nulled, 1);
    assert.equal(r.report.byDetector[UNINSPECTABLE], 1);
  });

  test('with masking off nothing is decoded or withheld', () => {
    const off = compileMasking(MaskingPolicy.parse({ detectors: [] }), 'db');
    assert.equal(mask([col('shape', 99999)], [Buffer.from('x')], off).rebuilt, null);
  });

  test('a card number held as int8 is withheld; a plain int8 passes as its bytes', () => {
    const card = Buffer.alloc(8);
    card.writeBigInt64BE(4111111111111111n);
    const plain = Buffer.alloc(8);
    plain.writeBigInt64BE(42n);
    const r = mask([col('n', INT8), col('m', INT8)], [card, plain]);
    assert.deepEqual(r.values, [null, plain]);
    assert.deepEqual(r.marks, [{ column: 0, by: ['payment-card'], nulled: true }]);
  });

  test('jsonb: rewritten with its version byte; a column rule gives the label form; a bad version is withheld', () => {
    const doc = Buffer.from('\x01{"e": "ada@example.com"}');
    const r = mask([col('doc', JSONB), col('secret_doc', JSONB), col('odd', JSONB)], [doc, Buffer.from('\x01{"k": 1}'), Buffer.from('\x07{}')]);
    assert.equal(r.values[0]!.toString('utf8'), '\x01{"e": "[EMAIL]"}');
    assert.equal(r.values[1]!.toString('utf8'), '\x01[SECRET]');
    assert.equal(r.values[2], null);
    assert.equal(r.report.nulled, 1);
  });

  test('a clean type under a column rule is withheld, not passed', () => {
    const r = mask([col('secret_at', TIMESTAMPTZ), col('seen', TIMESTAMPTZ)], [Buffer.alloc(8), Buffer.alloc(8)]);
    assert.deepEqual(r.values, [null, Buffer.alloc(8)]);
    assert.deepEqual(r.marks, [{ column: 0, by: ['SECRET'], nulled: true }]);
  });

  test('an email inside a binary text[] or record withholds the value; the same text format value is rewritten', () => {
    const emails = array(TEXT, [Buffer.from('x'), Buffer.from('ada@example.com')]);
    const row = record([[TEXT, Buffer.from('grace@navy.example')]]);
    const r = mask([col('a', TEXT_ARRAY), col('r', RECORD), col('t', TEXT_ARRAY, 0)], [emails, row, Buffer.from('{x,ada@example.com}')]);
    assert.equal(r.values[0], null);
    assert.equal(r.values[1], null);
    assert.equal(r.values[2]!.toString('utf8'), '{x,[EMAIL]}');
    assert.equal(r.report.nulled, 2);
  });

  test('binary text-like columns are rewritten in place; empty and NULL values pass', () => {
    const r = mask([col('v', 1043), col('e', TEXT), col('n', TEXT)], [Buffer.from('mail ada@example.com'), Buffer.alloc(0), null]);
    assert.deepEqual(r.values.map((v) => v?.toString('utf8') ?? null), ['mail [EMAIL]', '', null]);
  });

  test('a value past the described columns is withheld, never read as text', () => {
    const body = dataRow([Buffer.from('ada@example.com'), int32(7), Buffer.from('plain')]);
    const report = new MaskReportBuilder();
    const undescribed = new RowMasker([], masker).maskRow(body, report)!;
    assert.deepEqual(readDataRow(undescribed.subarray(5)), [null, null, null]);
    assert.equal(report.toReport().nulled, 3);
    const partly = new RowMasker([col('e', TEXT)], masker).maskRow(body, new MaskReportBuilder())!;
    assert.deepEqual(readDataRow(partly.subarray(5)), [Buffer.from('[EMAIL]'), null, null]);
  });

  test('the recording sample shows decoded binary values, and hex for what cannot be decoded', () => {
    const columns = [col('n', INT4), col('doc', JSONB), col('shape', 99999)];
    const sample = new ResultSample(10, 10_000);
    sample.add([int32(42), Buffer.from('\x01{"a": 1}'), Buffer.from([0xab])], columns);
    assert.deepEqual(sample.rows[0], ['42', '{"a": 1}', '\\xab']);
  });
});
