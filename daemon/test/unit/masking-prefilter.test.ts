import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DETECTORS, MaskingPolicy } from '@airlock/shared';
import type { DetectorName } from '@airlock/shared';
import { MaskReportBuilder, NOTHING_TO_MASK, compileMasking } from '../../src/masking/index.js';
import { EVERY_FEATURE, HAS_AT, isIsoDateTimeAscii, isUuidAscii, textFeatures, textFeaturesAscii } from '../../src/masking/features.js';
import { RowMasker } from '../../src/proxies/postgres/results.js';
import { luhnValid } from '../../src/masking/validators.js';
import { seededRandom } from '../helpers/seeded-random.js';

/**
 * Masker.screenBytes lets the PostgreSQL proxy skip decoding cells no detector could touch. It must
 * never skip a value a detector would change: checked here on every detector's matches, on
 * near-misses and on seeded random text built from the characters the detectors care about.
 */

const key = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const jwt = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"1"}').toString('base64url')}.c2lnbmF0dXJlc2lnbmF0dXJl`;

/** Things each detector masks, and look-alikes it leaves alone. */
const SAMPLES = [
  'alice@example.com',
  'mail a.b+c@sub.example.co.uk now',
  'user@localhost',
  'a@b.co',
  '4111 1111 1111 1111',
  '4111111111111111',
  '5500-0055-5555-5559',
  'card 378282246310005 exp',
  '4111 1111 1111 1112',
  'DE89370400440532013000',
  'GB82 WEST 1234 5698 7654 32',
  'iban FR1420041010050500013M02606.',
  'de89370400440532013000',
  '+44 20 7946 0958',
  '(415) 555-2671',
  '+14155552671',
  '030 1234567',
  '2024-01-31',
  '10.0.0.1',
  'ssn 123-45-6789',
  '123 45 6789',
  '666-45-6789',
  'AB 12 34 56 C',
  'nino AB123456C',
  '12345678Z',
  'NIE X1234567L',
  'key AKIAIOSFODNN7EXAMPLE',
  `aws_secret_access_key = ${key}`,
  `{"SecretAccessKey": "${key}"}`,
  'AIzaSyA1234567890abcdefghijklmnopqrstuv',
  'DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy;EndpointSuffix=core.windows.net',
  'ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8',
  'glpat-x1Y2z3a4B5c6D7e8F9g0',
  'xoxb-1234567890-abcdefghij',
  'sk_live_a1b2c3d4e5f6g7h8i9j0',
  'Authorization: Bearer abcdef0123456789abcdef',
  'bearer abcdef0123456789abcdef',
  jwt,
  '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----',
  'postgres://app:s3cret@db.internal:5432/app',
  'password=hunter2 host=db',
  'PASSWORD: hunter2',
  'pwd=hunter2',
  'Customer 1 called from +44 20 7946 0001 about invoice 100001; reach them at contact1@example.org. Paid with card 4111 1111 1111 1111, refund to IBAN DE89 3704 0044 0532 0130 00.',
  'Bruno Smith',
  '101 Market Street, Apt 1',
  'c4ca4238a0b923820dcc509a6f75849b',
  '550e8400-e29b-41d4-a716-446655440000',
  '2025-03-01 09:00:00.123+00',
  '12345.67',
  '4155552671',
  '14155552671',
  '5500005555555559',
  '4111111111111112',
  '1234567890123',
  '',
  'x',
  'Zoë Müller <zoë@example.com>',
  'naïve 4111 1111 1111 1111',
  'employee EMP-1234',
  // the formats the detectors were widened to, and their near misses
  'Password: correct horse battery staple',
  '{"password": "x"}',
  '{"Password" : "s3cr\\"et"}',
  '{\\"db_password\\": \\"abc def\\"}',
  'pwd=x',
  'pwd:x',
  'secret=hunter2',
  '{"client_secret": "abc"}',
  'api_key=abc123&x=1',
  'X-Api-Key: 9f8e7d6c5b4a3210',
  'AUTH_TOKEN\t=\tabc',
  'Authorization: Basic dXNlcjpwYXNz',
  'authorization: Bearer abc',
  'Invalid token: expired',
  'the token is valid',
  '{"max_tokens": 4096}',
  'card4111111111111111x',
  '4111.1111.1111.1111',
  '4111_1111_1111_1111',
  '4111/1111/1111/1111',
  '4111  1111  1111  1111',
  '4111.1111.1111.1112',
  'de89370400440532013000',
  'de89 3704 0044 0532 0130 00',
  'DE89-3704-0044-0532-0130-00',
  'de89-3704-0044-0532-0130-01',
  '123.45.6789',
  '123–45–6789',
  'SSN123-45-6789',
  '1.2.3.4',
  '"john doe"@example.com',
  'jürgen@müller.de',
  '用户@例子.中国',
  'akiaiosfodnn7example',
  'asiapacificregionsxy',
  '"415-555-2671"',
  "'+44 20 7946 0958'",
  '{"SecretAccessKey" : "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}',
  '<password>hunter2</password>',
  '<ns:api_key type="x" >abc</ns:api_key>',
  '<password a=b>x</password>',
  "o'brien@example.com",
];


/** Text made of digits, separators, `@`, upper- and lowercase letters and pieces of the detectors' keywords. */
function randomTexts(count: number, seed: number): string[] {
  const pieces = ['0', '1', '4', '5', '9', ' ', '-', '.', '/', '(', ')', '+', '@', ':', '_', '=', '"', 'A', 'B', 'C', 'D', 'E', 'K', 'S', 'I', 'J', 'X', 'Z', 'a', 'e', 'k', 't', 'x', 'o', 'b', 'p', 'r', 'y', 'ey', 'earer', 'Bearer ', 'AKIA', 'ASIA', 'AIza', 'pass', 'password=', 'Pwd', 'sk-', 'xoxb-', 'ghp_', '://', '-----BEGIN', 'DE89', 'GB82', '4111', '1111 ', '123-45-', 'é', '\n'];
  const next = seededRandom(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let text = '';
    const length = 1 + Math.floor(next() * 40);
    for (let k = 0; k < length; k++) text += pieces[Math.floor(next() * pieces.length)];
    out.push(text);
  }
  return out;
}

/** Text made of the pieces of the wider formats: key-value labels and quotes, new separators, lower case, non-ASCII. */
function randomWideTexts(count: number, seed: number): string[] {
  const pieces = [
    '0', '1', '2', '4', '5', '7', '9', ' ', '  ', '\t', '-', '–', '.', '_', '/', ':', '=', '=>', '"', "'", '\\', '\\"', '{', '}', ',', ';', '&', '?', '@', '\n',
    'a', 'd', 'e', 'i', 'k', 'n', 's', 't', 'y', 'x', 'A', 'D', 'N', 'T', 'Y', 'Password', 'pwd', 'passphrase', 'secret', 'TOKEN', 'token', 'api_key', 'X-Api-Key', 'key',
    'Authorization', 'Basic ', 'Bearer ', 'null', 'abc123def456', 'akia', 'asia', 'iosfodnn7example', 'de89', 'DE89', '3704', '0044', '0532', '0130', '00', 'ssn', 'SSN',
    '123', '45', '6789', '4111', '1111', 'card', 'ü', '用户', '例子', '.中国', 'müller.de', 'john doe', 'example.com', '<', '>', '</', '<password>', ' a="b"',
    "o'",
  ];
  const next = seededRandom(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let text = '';
    const length = 1 + Math.floor(next() * 30);
    for (let k = 0; k < length; k++) text += pieces[Math.floor(next() * pieces.length)];
    out.push(text);
  }
  return out;
}

/** Dates and timestamps in the shapes isIsoDateTimeAscii accepts, with random digits. */
function randomTimestamps(count: number, seed: number): string[] {
  const next = seededRandom(seed);
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(next() * 10)).join('');
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)] as T;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let text = `${digits(4)}-${digits(2)}-${digits(2)}`;
    if (next() < 0.85) {
      text += `${pick([' ', 'T'])}${digits(2)}:${digits(2)}`;
      if (next() < 0.8) text += `:${digits(2)}${next() < 0.6 ? `.${digits(1 + Math.floor(next() * 9))}` : ''}`;
      text += pick(['', 'Z', `+${digits(2)}`, `-${digits(2)}`, `+${digits(2)}:${digits(2)}`, `-${digits(2)}${digits(2)}`, `+${digits(2)}:${digits(2)}:${digits(2)}`]);
    }
    if (next() < 0.05) text += ' BC';
    out.push(text);
  }
  return out;
}

const TIMESTAMPS = randomTimestamps(5_000, 11);

/** UUIDs with random hex digits, either case; a third of them nearly all decimal digits (the shapes cards and phone numbers take). */
function randomUuids(count: number, seed: number): string[] {
  const next = seededRandom(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const alphabet = i % 3 === 0 ? '0123456789012345678901234567890123456789abcdef' : '0123456789abcdef';
    let text = '';
    for (let k = 0; k < 32; k++) {
      if (k === 8 || k === 12 || k === 16 || k === 20) text += '-';
      text += alphabet[Math.floor(next() * alphabet.length)];
    }
    out.push(i % 4 === 1 ? text.toUpperCase() : text);
  }
  // and some that do look like card numbers and IBANs in part
  out.push('41111111-1111-1111-1111-111111111111', '41111111-1111-1111-1111-411111111111', 'de893704-0044-0532-0130-000000000000', 'DE893704-0044-0532-0130-00AB12345678');
  return out;
}

const UUIDS = randomUuids(10_000, 23);

/** Digits only, 1 to 20 of them, a quarter of them Luhn-valid card-length numbers. */
function randomDigitStrings(count: number, seed: number): string[] {
  const next = seededRandom(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let text = '';
    const length = 1 + Math.floor(next() * 20);
    for (let k = 0; k < length; k++) text += String(Math.floor(next() * 10));
    if (i % 4 === 0) text = withLuhnDigit(`4${text.slice(0, 14)}`);
    out.push(text);
  }
  return out;
}

/** The payload and its Luhn check digit. */
function withLuhnDigit(payload: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(payload + d, 0, payload.length + 1)) return payload + d;
  throw new Error('unreachable');
}

const CORPUS = [...SAMPLES, ...randomTexts(20_000, 7), ...randomWideTexts(20_000, 17), ...TIMESTAMPS, ...UUIDS, ...randomDigitStrings(5_000, 13)];

const MASKERS: [string, ReturnType<typeof compileMasking>][] = [
  ['all detectors', compileMasking(MaskingPolicy.parse({}), 'db')],
  ['no detectors', compileMasking(MaskingPolicy.parse({ detectors: [] }), 'db')],
  ...DETECTORS.map((d): [string, ReturnType<typeof compileMasking>] => [d, compileMasking(MaskingPolicy.parse({ detectors: [d] satisfies DetectorName[] }), 'db')]),
  ['email and phone', compileMasking(MaskingPolicy.parse({ detectors: ['email', 'phone'] }), 'db')],
  ['a custom detector', compileMasking(MaskingPolicy.parse({ detectors: [], custom: [{ name: 'emp', regex: 'EMP-\\d+' }] }), 'db')],
];

describe('textFeaturesAscii', () => {
  test('the features of textFeatures, read from the bytes, plus whether there is an @', () => {
    for (const text of CORPUS) {
      if ([...text].some((ch) => ch.charCodeAt(0) > 0x7f)) continue;
      // framed by bytes that would change the features were they read: only [start, end) counts
      const bytes = Buffer.from(`@4111 1111 1111 1111 Bearer ${text}earer AKIA 4111 1111 1111 1111@`, 'latin1');
      const start = '@4111 1111 1111 1111 Bearer '.length;
      const features = textFeaturesAscii(bytes, start, start + text.length);
      assert.equal(features & ~HAS_AT, textFeatures(text), JSON.stringify(text));
      assert.equal((features & HAS_AT) !== 0, text.includes('@'), JSON.stringify(text));
    }
  });

  test('-1 for text that is not all ASCII', () => {
    const bytes = Buffer.from('Zoë 4111 1111 1111 1111', 'utf8');
    assert.equal(textFeaturesAscii(bytes, 0, bytes.length), -1);
    assert.notEqual(textFeaturesAscii(bytes, 4, bytes.length), -1, 'the range after the non-ASCII character is ASCII');
  });
});

describe('isUuidAscii', () => {
  test('random UUIDs: recognised, and no built-in detector changes any of them, whichever detectors run', () => {
    for (const text of UUIDS) {
      const bytes = Buffer.from(text, 'latin1');
      assert.equal(isUuidAscii(bytes, 0, bytes.length), true, text);
      // what makes passing over them safe
      for (const [name, masker] of MASKERS) {
        if (name === 'a custom detector') continue;
        assert.equal(masker.maskCell(text, undefined, new MaskReportBuilder(), EVERY_FEATURE), text, `${name}: ${text}`);
      }
    }
  });

  test('anything more or less than a UUID is not one', () => {
    for (const text of [
      '550e8400-e29b-41d4-a716-44665544000',
      '550e8400-e29b-41d4-a716-4466554400000',
      '550e8400e29b-41d4-a716-446655440000-',
      '{550e8400-e29b-41d4-a716-446655440000}',
      '550e8400-e29b-41d4-a716-44665544000g',
      '550e8400 e29b 41d4 a716 446655440000',
      '550e8400e29b41d4a716446655440000',
    ]) {
      const bytes = Buffer.from(text, 'latin1');
      assert.equal(isUuidAscii(bytes, 0, bytes.length), false, text);
    }
    const framed = Buffer.from('x550e8400-e29b-41d4-a716-446655440000x', 'latin1');
    assert.equal(isUuidAscii(framed, 1, 37), true, 'only the range counts');
    assert.equal(isUuidAscii(framed, 0, 36), false);
  });
});

describe('isIsoDateTimeAscii', () => {
  test('random dates and timestamps: recognised, and no built-in detector changes any of them', () => {
    const masker = MASKERS[0]![1];
    for (const text of TIMESTAMPS) {
      const bytes = Buffer.from(text, 'latin1');
      assert.equal(isIsoDateTimeAscii(bytes, 0, bytes.length), true, text);
      // what makes passing over them safe
      assert.equal(masker.maskCell(text, undefined, new MaskReportBuilder()), text, text);
    }
  });

  test('anything more or less than a date or timestamp is not one', () => {
    for (const text of [
      '2025-03-01 call +44 20 7946 0958',
      '2025-03-01 09:00:00 4111 1111 1111 1111',
      '2025-03-01 ',
      '2025-03-01T',
      '2025-03-01 09',
      '2025-03-01 09:00:00.',
      '2025-03-01 09:00:00.1234567890',
      '2025-3-01',
      '20250301',
      '+2025-03-01',
      '2025-03-01 09:00:00+1',
      '2025-03-01 09:00:00+01:2',
      '2025-03-01 AD',
      'x2025-03-01',
      '415-555-0100',
      '123-45-6789',
    ]) {
      const bytes = Buffer.from(text, 'latin1');
      assert.equal(isIsoDateTimeAscii(bytes, 0, bytes.length), false, text);
    }
  });

  test('reads nothing outside its range', () => {
    // bytes after `end` that would complete the shape must not count
    const bytes = Buffer.from('2025-03-01 09:00:00+0100 BC', 'latin1');
    assert.equal(isIsoDateTimeAscii(bytes, 0, 24), true);
    assert.equal(isIsoDateTimeAscii(bytes, 0, 8), false);
    assert.equal(isIsoDateTimeAscii(bytes, 0, 13), false, '"2025-03-01 09" is cut before its minutes');
    assert.equal(isIsoDateTimeAscii(bytes, 0, 20), false, 'a zone sign without its hours');
  });
});

describe('textFeatures', () => {
  for (const [name, masker] of MASKERS) {
    test(`rules out no detector that would change a cell: the same result as with every gate open (${name})`, () => {
      let changed = 0;
      for (const text of CORPUS) {
        const report = new MaskReportBuilder();
        const masked = masker.maskCell(text, undefined, report);
        const ungated = new MaskReportBuilder();
        const reference = masker.maskCell(text, undefined, ungated, EVERY_FEATURE);
        assert.equal(masked, reference, `${name}: ${JSON.stringify(text)}: features ${textFeatures(text).toString(2)} ruled out what every gate open finds`);
        assert.deepEqual(report.toReport(), ungated.toReport(), JSON.stringify(text));
        if (masked !== text) changed++;
      }
      if (name !== 'no detectors') assert.ok(changed > 0, `${name}: the corpus exercises the detector`);
    });
  }
});

describe('Masker.screenBytes', () => {
  for (const [name, masker] of MASKERS) {
    test(`never rules out a cell that maskCell would change (${name})`, () => {
      let changed = 0;
      for (const text of CORPUS) {
        const report = new MaskReportBuilder();
        const masked = masker.maskCell(text, undefined, report);
        if (masked === text && !report.changed) continue;
        changed++;
        const bytes = Buffer.from(text, 'utf8');
        const screened = masker.screenBytes(bytes, 0, bytes.length);
        assert.notEqual(screened, NOTHING_TO_MASK, `${name}: ${JSON.stringify(text)} is masked to ${JSON.stringify(masked)}`);
        const again = new MaskReportBuilder();
        assert.equal(masker.maskCell(text, undefined, again, screened), masked, 'the same result with the screened features');
        assert.deepEqual(again.toReport(), report.toReport());
      }
      if (name !== 'no detectors') assert.ok(changed > 0, `${name}: the corpus exercises the detector`);
    });
  }

  test('rules out plain text, ids and numbers with all detectors on', () => {
    const masker = MASKERS[0]![1];
    for (const text of [
      'Bruno Smith',
      'Berlin',
      'Company 42 Ltd',
      '101 Market Street, Apt 1',
      'c4ca4238a0b923820dcc509a6f75849b',
      'x',
      '2026-11-25 04:41:18.605635+00',
      '2026-11-25',
      '2026-11-25T04:41:18Z',
      '1234567890',
      '123456789012',
      '550e8400-e29b-41d4-a716-446655440000',
      '41111111-1111-1111-1111-411111111111',
      'a659a869-de47-63cf-2a63-38d67d81c164',
      'https://shop.example.com/products/42?ref=list',
      'status: shipped',
    ]) {
      const bytes = Buffer.from(text);
      assert.equal(masker.screenBytes(bytes, 0, bytes.length), NOTHING_TO_MASK, text);
    }
  });
});

describe('RowMasker with the prefilter', () => {
  test('a row is masked exactly as maskCell masks each of its cells', () => {
    const masker = MASKERS[0]![1];
    const texts = CORPUS.slice(0, 2000);
    for (let i = 0; i < texts.length; i += 5) {
      const cells = texts.slice(i, i + 5);
      const rowMasker = new RowMasker(cells.map((_, k) => ({ name: `c${k}`, typeOid: 25, format: 0 })), masker);
      const parts: Buffer[] = [Buffer.from([cells.length >> 8, cells.length & 0xff])];
      for (const cell of cells) {
        const value = Buffer.from(cell, 'utf8');
        const length = Buffer.alloc(4);
        length.writeInt32BE(value.length);
        parts.push(length, value);
      }
      const body = Buffer.concat(parts);
      const rebuilt = rowMasker.maskRow(body, new MaskReportBuilder());
      const expected = cells.map((cell) => masker.maskCell(cell, undefined, new MaskReportBuilder()));
      const out = rebuilt ? rebuilt.subarray(5) : body;
      const got: string[] = [];
      let offset = 2;
      for (let k = 0; k < cells.length; k++) {
        const length = out.readInt32BE(offset);
        got.push(out.toString('utf8', offset + 4, offset + 4 + length));
        offset += 4 + length;
      }
      assert.deepEqual(got, expected);
      assert.equal(rebuilt === null, expected.every((e, k) => e === cells[k]), 'rebuilt only when something changed');
    }
  });
});
