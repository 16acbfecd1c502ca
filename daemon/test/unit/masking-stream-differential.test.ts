import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MaskingPolicy } from '@airlock/shared';
import { MaskReportBuilder, StreamMasker, compileMasking } from '../../src/masking/index.js';
import type { Masker } from '../../src/masking/index.js';
import { SpanList } from '../../src/masking/spans.js';
import { ReferenceStreamMasker } from './reference-stream-masker.js';

/**
 * The stream masker finds its spans line by line (Masker.findSpansStream) with finer gates than a
 * cell; these tests hold it to what masking the whole text at once finds (Masker.findSpans), and
 * the stream masker to the one it replaced (ReferenceStreamMasker: findSpans over every held text),
 * over texts made of each detector's positives and near misses, cut into chunks at random.
 */

const POSITIVES = [
  'alice@example.com',
  'o\'brien+tag@mail.example.co.uk',
  'jürgen@müller.de',
  '"john doe"@example.com',
  '{\\"email\\": \\"bob@example.org\\"}',
  '4111 1111 1111 1111',
  '4111-1111-1111-1111',
  '4111.1111.1111.1111',
  'card4111111111111111x',
  '5500 0000 0000 0004',
  '378282246310005',
  'DE89 3704 0044 0532 0130 00',
  'de89-3704-0044-0532-0130-00',
  'GB82WEST12345698765432',
  '+44 20 7946 0958',
  '+1 (415) 555-2671',
  '(415) 555-2671',
  '415-555-2671',
  '+4915123456789',
  '030 12345678',
  '123-45-6789',
  '123–45–6789',
  'AB 12 34 56 C',
  'JG103759A',
  '12345678Z',
  'X1234567L',
  'AKIAIOSFODNN7EXAMPLE',
  'akiaiosfodnn7exampl2',
  'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  'AIzaSyA1234567890abcdefghijklmnopqrstuv',
  'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=dGVzdGtleXRlc3RrZXl0ZXN0a2V5dGVzdGtleQ==;EndpointSuffix=core',
  'ghp_' + 'a1B2'.repeat(9),
  'github_pat_' + 'A1b2C3d4E5'.repeat(3),
  'glpat-' + 'x1Y2z3W4v5U6t7S8r9Q0',
  'xoxb-1234567890-abcdefghij',
  'sk_live_' + 'abcd1234'.repeat(3),
  'npm_' + 'a1B2'.repeat(9),
  'sk-proj-' + 'abc123DEF456ghi789JKL0',
  'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  'postgres://bob:s3cret@db.example.com/app',
  'https://user:p@ss:w0rd@host.example.com/x',
  'host=db password=hunter2 dbname=app',
  "password='se cret'",
  'Password: correct horse battery staple',
  'DB_PASSWORD="a b c"',
  '{"api_key": "abc def", "x": 1}',
  '{\\"db_password\\": \\"a b c\\"}',
  'client_secret: Zm9vYmFyYmF6MTIzNDU2',
  'X-Api-Key: 0123456789abcdef0123',
  'Authorization: Digest username="bob", response="6629fae4"',
  'Authorization: Basic dXNlcjpwYXNz',
  'authorization=Bearer abc123def456ghi789',
  'Bearer abcdef0123456789abcdef',
  '<password>s3 cret</password>',
  '<ns:api_key type="x">k3y value</ns:api_key>',
  "ALTER ROLE app PASSWORD 'se cret'",
  "PASSWORD 'it''s x'",
  '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBx\nabc=\n-----END EC PRIVATE KEY-----',
  '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nQk9CQk9C',
];

const NEAR_MISSES = [
  '2024-03-15 10:30:00',
  '2026-12-05T01:23:45.123Z INFO api request id=42 path=/v1/items/7 status=200 took=5ms',
  'Dec  5 01:23:45 web-3 sshd[1234]: Accepted publickey for deploy from 10.0.3.4 port 40001 ssh2',
  '{"ts":"2026-12-05T01:23:45Z","level":"info","request_id":"9f86d081884c7d65","duration_ms":120}',
  '550e8400-e29b-41d4-a716-446655440000',
  'version 1.2.3.4 build 20240315',
  '192.168.10.200',
  '12 345 678',
  '4111 1111 1111 1112',
  'ORD-4111111111111111',
  'Invalid token: expired',
  'Bearer authentication-required',
  'sk-my-slug-name-here-ok-fine',
  'asiapacificregions',
  'password: null',
  'secret=true',
  'user@host:~$ ',
  'scheme://host/path@v2',
  'mailto:@nobody',
  '-rw-r--r-- 1 deploy deploy 4096 Dec  5 01:23 file.log',
  '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
  'QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB',
  'plain words, nothing here',
  '\x1b[1;32mgreen\x1b[0m \x1b]0;title\x07',
  'const token = await getToken(); // key: value',
  'DE00 0000 0000 0000 0000 00',
  'tel. 0800 123',
];

const SEPARATORS = [' ', '\n', '\r\n', ', ', '\t', '', ': ', '\n\n', '=', '"'];

function seeded(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * n;
  };
}

function randomText(random: (n: number) => number): string {
  let text = '';
  for (let i = 0, count = 1 + Math.floor(random(16)); i < count; i++) {
    const pool = random(1) < 0.5 ? POSITIVES : NEAR_MISSES;
    text += (pool[Math.floor(random(pool.length))] as string) + (SEPARATORS[Math.floor(random(SEPARATORS.length))] as string);
  }
  return text;
}

function randomChunks(text: string, random: (n: number) => number): string[] {
  const chunks: string[] = [];
  const big = random(1) < 0.3;
  for (let i = 0; i < text.length; ) {
    const size = 1 + Math.floor(random(big ? 400 : 40));
    chunks.push(text.slice(i, i + size));
    i += size;
  }
  return chunks;
}

function spansOf(list: SpanList): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const span = list.at(i);
    out.push(`${span.start}-${span.end} ${span.detector} ${span.replacement}`);
  }
  return out;
}

function streamWith(make: (report: MaskReportBuilder) => { push(chunk: string): string; flush(): string }, chunks: readonly string[]) {
  const report = new MaskReportBuilder();
  const stream = make(report);
  let output = '';
  for (const chunk of chunks) output += stream.push(chunk);
  output += stream.flush();
  return { output, report: report.toReport() };
}

const maskers: [string, Masker][] = [
  ['all detectors', compileMasking(MaskingPolicy.parse({}), 'host-1')],
  ['no private-key, no email', compileMasking(MaskingPolicy.parse({ detectors: ['payment-card', 'iban', 'phone', 'national-id', 'cloud-key', 'token', 'jwt', 'connection-password'] }), 'host-1')],
  ['a custom detector across lines', compileMasking(MaskingPolicy.parse({ custom: [{ name: 'ticket', regex: 'TICKET-\\d+(?:\\n\\d+)?' }] }), 'host-1')],
];

describe('line-by-line stream masking finds what whole-text masking finds', () => {
  for (const [name, masker] of maskers) {
    test(`findSpansStream equals findSpans on whole texts (${name})`, () => {
      const random = seeded(11);
      const expected = new SpanList();
      const actual = new SpanList();
      for (let round = 0; round < 3000; round++) {
        let text = randomText(random);
        if (name.startsWith('a custom')) text = text.replace(/\n/, ' TICKET-12\n34 ');
        masker.findSpans(text, expected);
        masker.findSpansStream(text, actual);
        assert.deepEqual(spansOf(actual), spansOf(expected), JSON.stringify(text));
      }
    });

    test(`random chunkings stream as the previous stream masker did (${name})`, () => {
      const random = seeded(23);
      for (let round = 0; round < 1500; round++) {
        const text = randomText(random);
        const chunks = randomChunks(text, random);
        const expected = streamWith((report) => new ReferenceStreamMasker(masker, report), chunks);
        const actual = streamWith((report) => new StreamMasker(masker, report), chunks);
        assert.equal(actual.output, expected.output, JSON.stringify(chunks));
        assert.deepEqual(actual.report, expected.report, JSON.stringify(chunks));
      }
    });
  }

  test('every positive is masked when streamed in 32 KiB chunks of log text', () => {
    const masker = maskers[0]![1];
    const filler = 'Dec  5 01:23:45 web-3 sshd[1234]: Accepted publickey for deploy from 10.0.3.4 port 40001 ssh2\n'.repeat(400);
    for (const positive of POSITIVES) {
      const text = filler + positive + '\n' + filler;
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += 32 * 1024) chunks.push(text.slice(i, i + 32 * 1024));
      const expected = streamWith((report) => new ReferenceStreamMasker(masker, report), chunks);
      const actual = streamWith((report) => new StreamMasker(masker, report), chunks);
      assert.equal(actual.output, expected.output, positive);
      assert.ok(Object.keys(actual.report.byDetector).length > 0, positive);
    }
  });
});
