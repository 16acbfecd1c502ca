import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer as collect } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import zlib from 'node:zlib';
import { HttpBodyExcerpt, MaskingPolicy } from '@airlock/shared';
import { MaskReportBuilder, compileMasking } from '../../src/masking/index.js';
import {
  CREDENTIAL_FORM,
  DecodeLimitError,
  ZSTD_AVAILABLE,
  createBodyMasker,
  decoderFor,
  isCredentialName,
  maskResponseHeaders,
  maskUrlForRecord,
  planBody,
} from '../../src/proxies/http/body/index.js';
import type { BodyMaskerOptions, BodyPlan } from '../../src/proxies/http/body/index.js';
import { seededRandom } from '../helpers/seeded-random.js';

const masker = compileMasking(MaskingPolicy.parse({ columns: [{ columns: ['internal_*'], label: 'INTERNAL' }] }), 'api');
const JSON_PLAN = planBody({ contentType: 'application/json; charset=utf-8' });
const TOKEN = 'ghp_R3alCredentialValue0123456789abcdef';

function options(overrides: Partial<BodyMaskerOptions> = {}): BodyMaskerOptions {
  return { masker, excerptBytes: 4096, bufferBytes: 64 * 1024, secrets: [], ...overrides };
}

/** The body pushed in the given chunks; the output, the report and the excerpt. */
function maskChunks(plan: BodyPlan, chunks: readonly Uint8Array[], overrides: Partial<BodyMaskerOptions> = {}) {
  const bodyMasker = createBodyMasker(plan, options(overrides));
  const pushed = chunks.map((chunk) => Buffer.from(bodyMasker.push(chunk)));
  const ended = Buffer.from(bodyMasker.end());
  return { pushed, output: Buffer.concat([...pushed, ended]).toString('utf8'), report: bodyMasker.report(), excerpt: bodyMasker.excerpt() };
}

function mask(plan: BodyPlan, body: string | Buffer, overrides: Partial<BodyMaskerOptions> = {}) {
  return maskChunks(plan, [typeof body === 'string' ? Buffer.from(body) : body], overrides);
}

/** The JavaScript heap and the Buffers in use after a full collection: what is still held. */
function retainedBytes(): number {
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Cuts `bytes` at the given positions. */
function cutAt(bytes: Buffer, ...positions: number[]): Buffer[] {
  const parts: Buffer[] = [];
  let from = 0;
  for (const at of positions) {
    parts.push(bytes.subarray(from, at));
    from = at;
  }
  parts.push(bytes.subarray(from));
  return parts;
}

describe('planBody', () => {
  const cases: [string | undefined, string][] = [
    ['application/json', 'json'],
    ['application/problem+json', 'json'],
    ['application/vnd.github+json; charset=utf-8', 'json'],
    ['Application/JSON', 'json'],
    ['application/x-ndjson', 'ndjson'],
    ['application/jsonl', 'ndjson'],
    ['application/json-seq', 'ndjson'],
    ['text/event-stream', 'sse'],
    ['text/html; charset=utf-8', 'text'],
    ['text/plain', 'text'],
    ['application/xml', 'text'],
    ['application/atom+xml', 'text'],
    ['image/svg+xml', 'text'],
    ['application/javascript', 'text'],
    ['application/x-www-form-urlencoded', 'text'],
    ['application/graphql', 'text'],
    [undefined, 'text'],
    ['', 'text'],
    ['application/x-something-unknown', 'text'],
    ['image/png', 'binary'],
    ['audio/ogg', 'binary'],
    ['video/mp4', 'binary'],
    ['font/woff2', 'binary'],
    ['application/octet-stream', 'binary'],
    ['application/zip', 'binary'],
    ['application/pdf', 'binary'],
    ['application/x-git-upload-pack-result', 'binary'],
  ];
  for (const [contentType, treatment] of cases) {
    test(`${contentType ?? '(no content type)'} → ${treatment}`, () => {
      const plan = planBody(contentType === undefined ? {} : { contentType });
      assert.equal(plan.treatment, treatment);
      assert.equal(plan.withhold, undefined);
      assert.equal(plan.decode, undefined);
    });
  }

  test('gzip, x-gzip, deflate and br are decoded; identity is nothing to decode', () => {
    assert.equal(planBody({ contentType: 'application/json', contentEncoding: 'gzip' }).decode, 'gzip');
    assert.equal(planBody({ contentType: 'application/json', contentEncoding: 'X-GZIP' }).decode, 'gzip');
    assert.equal(planBody({ contentType: 'application/json', contentEncoding: 'deflate' }).decode, 'deflate');
    assert.equal(planBody({ contentType: 'application/json', contentEncoding: 'br' }).decode, 'br');
    assert.deepEqual(planBody({ contentType: 'application/json', contentEncoding: 'identity' }), { treatment: 'json', mediaType: 'application/json' });
  });

  test('stacked codings are undone last one first', () => {
    const plan = planBody({ contentType: 'text/plain', contentEncoding: 'gzip, br' });
    assert.deepEqual(plan.decodeSteps, ['br', 'gzip']);
    assert.equal(plan.withhold, undefined);
  });

  test('zstd is withheld where the runtime cannot decode it, and an unknown coding always is', () => {
    const zstd = planBody({ contentType: 'application/json', contentEncoding: 'zstd' });
    if (ZSTD_AVAILABLE) assert.equal(zstd.decode, 'zstd');
    else assert.match(zstd.withhold ?? '', /zstd.*withheld/);
    assert.match(planBody({ contentType: 'application/json', contentEncoding: 'compress' }).withhold ?? '', /"compress".*withheld/);
    assert.match(planBody({ contentType: 'application/json', contentEncoding: 'gzip, gzip, gzip' }).withhold ?? '', /3 times/);
  });

  test('a text charset the maskers cannot read withholds the body', () => {
    assert.match(planBody({ contentType: 'application/json; charset=UTF-16' }).withhold ?? '', /utf-16/);
    assert.equal(planBody({ contentType: 'text/html; charset="ISO-8859-1"' }).withhold, undefined);
  });
});

describe('JSON bodies', () => {
  const sample = JSON.stringify({
    users: [
      { id: 1, name: 'Zoë 😀 Müller', email: 'zoe@example.com', password: 'hunter2', note: 'smile \uD83D\uDE00 and \u00e9' },
      { id: 2, name: 'Bob', email: 'bob@example.org', credentials: { aws: { key: 'AKIA…', secret: 'x' }, list: [1, 2, { deep: 'y' }] } },
    ],
    total: 2,
    token: null,
    ok: true,
    internal_note: 'for staff only',
  }).replace('smile 😀', 'smile \\uD83D\\uDE00');

  const expected = JSON.stringify({
    users: [
      { id: 1, name: 'Zoë 😀 Müller', email: '[EMAIL]', password: '[REDACTED]', note: 'smile 😀 and \u00e9' },
      { id: 2, name: 'Bob', email: '[EMAIL]', credentials: '[REDACTED]' },
    ],
    total: 2,
    token: null,
    ok: true,
    internal_note: '[INTERNAL]',
  });

  test('credential keys are replaced whole, emails masked, the rest unchanged, still JSON', () => {
    const { output, report } = mask(JSON_PLAN, sample);
    assert.deepEqual(JSON.parse(output), JSON.parse(expected));
    assert.deepEqual(report.byDetector, { email: 2, REDACTED: 2, INTERNAL: 1 });
    // the escaped emoji in a string nothing was found in stays as written
    assert.ok(output.includes('smile \\uD83D\\uDE00'));
  });

  test('split at every byte position (inside \\u escapes, surrogate pairs and multi-byte UTF-8) the output is the same', () => {
    const bytes = Buffer.from(sample);
    const whole = mask(JSON_PLAN, bytes);
    for (let cut = 1; cut < bytes.length; cut++) {
      const split = maskChunks(JSON_PLAN, cutAt(bytes, cut));
      assert.equal(split.output, whole.output, `cut at ${cut}`);
      assert.deepEqual(split.report, whole.report, `cut at ${cut}`);
    }
  });

  test('one byte at a time, and in random cuts of three', () => {
    const bytes = Buffer.from(sample);
    const whole = mask(JSON_PLAN, bytes).output;
    assert.equal(maskChunks(JSON_PLAN, [...bytes].map((b) => Buffer.from([b]))).output, whole);
    const random = seededRandom(12);
    for (let round = 0; round < 200; round++) {
      const a = 1 + Math.floor(random() * (bytes.length - 2));
      const b = a + Math.floor(random() * (bytes.length - a));
      assert.equal(maskChunks(JSON_PLAN, cutAt(bytes, a, b)).output, whole, `cuts at ${a}, ${b}`);
    }
  });

  test('a body with nothing to mask comes out byte for byte, however it is cut', () => {
    const body = Buffer.from('{ "a" : [1, 2.5e3, -0, true, false, null, "x\\"y\\\\", {"nested": {"k": "v"}}],\n  "b": "\\u00e9t\\u00e9" }\n');
    assert.deepEqual(Buffer.from(mask(JSON_PLAN, body).output), body);
    for (let cut = 1; cut < body.length; cut++) assert.deepEqual(Buffer.from(maskChunks(JSON_PLAN, cutAt(body, cut)).output), body, `cut at ${cut}`);
  });

  test('arrays of users: every email masked, ids and names unchanged', () => {
    const users = Array.from({ length: 50 }, (_, i) => ({ id: i, name: `User ${i}`, email: `user${i}@example.com` }));
    const { output, report } = mask(JSON_PLAN, JSON.stringify(users));
    const parsed = JSON.parse(output) as { id: number; name: string; email: string }[];
    assert.equal(parsed.length, 50);
    for (const [i, user] of parsed.entries()) assert.deepEqual(user, { id: i, name: `User ${i}`, email: '[EMAIL]' });
    assert.equal(report.byDetector['email'], 50);
  });

  test('a nested credentials object is replaced by one marker, whatever is in it', () => {
    const body = '{"credentials":{"user":"a","pass":{"x":["}","]",{"y":"\\"}"}]}},"after":"alice@example.com"}';
    const { output } = mask(JSON_PLAN, body);
    assert.equal(output, '{"credentials":"[REDACTED]","after":"[EMAIL]"}');
  });

  test('a card number written as a JSON number becomes a masked string; other long numbers pass', () => {
    const { output } = mask(JSON_PLAN, '{"pan":4111111111111111,"ts":1733412345678,"big":12345678901234567890,"neg":-4111111111111111}');
    assert.equal(output, '{"pan":"****1111","ts":1733412345678,"big":12345678901234567890,"neg":-4111111111111111}');
  });

  test('the injected credential in a JSON body (as echoed by httpbin /headers) never comes back', () => {
    const echoed = JSON.stringify({ headers: { Authorization: `Bearer ${TOKEN}`, 'X-Echo': TOKEN, Escaped: TOKEN.replace('R', '\\u0052') } }).replace('\\\\u0052', '\\u0052');
    const bytes = Buffer.from(echoed);
    for (let cut = 1; cut < bytes.length; cut += 3) {
      const { output } = maskChunks(JSON_PLAN, cutAt(bytes, cut), { secrets: [TOKEN, `Bearer ${TOKEN}`] });
      assert.ok(!output.includes(TOKEN), `cut at ${cut}: ${output}`);
      assert.ok(!output.includes('3alCredentialValue'), `cut at ${cut}: ${output}`);
      assert.doesNotThrow(() => JSON.parse(output));
    }
    const { output, report } = mask(JSON_PLAN, echoed, { secrets: [TOKEN] });
    assert.ok(output.includes(CREDENTIAL_FORM));
    assert.ok((report.byDetector['airlock-credential'] ?? 0) >= 1);
  });

  test('a secret with / is caught in its JSON-escaped form too', () => {
    const secret = 'abc/def+ghi/jklmnop==';
    const { output } = mask(JSON_PLAN, `{"echo":"${secret.replaceAll('/', '\\/')}"}`, { secrets: [secret] });
    assert.equal(output, `{"echo":"${CREDENTIAL_FORM}"}`);
  });

  test('malformed JSON falls back to the text masker: an email after the error point is still masked', () => {
    const body = '{"a": "ok", "b": nope, "contact": "alice@example.com", "c": "card 4111 1111 1111 1111"}';
    for (let cut = 1; cut < body.length; cut++) {
      const { output, report } = maskChunks(JSON_PLAN, cutAt(Buffer.from(body), cut));
      assert.ok(!output.includes('alice@example.com'), `cut at ${cut}: ${output}`);
      assert.ok(output.includes('[EMAIL]'), `cut at ${cut}: ${output}`);
      assert.ok(output.includes('****1111'), `cut at ${cut}: ${output}`);
      assert.ok(output.startsWith('{"a": "ok", "b": '), `cut at ${cut}: ${output}`);
      assert.ok((report.byDetector['email'] ?? 0) >= 1);
    }
  });

  test('a body that stops being JSON after the top-level value, or is HTML, is still masked', () => {
    assert.equal(mask(JSON_PLAN, '{"a":1} trailing bob@example.com').output, '{"a":1} trailing [EMAIL]');
    assert.equal(mask(JSON_PLAN, '<html>mail bob@example.com</html>').output, '<html>mail [EMAIL]</html>');
  });

  test('a body cut off inside a string masks what it got', () => {
    const { output } = mask(JSON_PLAN, '{"a": "write to bob@example.com and');
    assert.equal(output, '{"a": "write to [EMAIL] and');
  });

  test('a string longer than bufferBytes is masked as a stream between its quotes', () => {
    const filler = 'lorem ipsum '.repeat(2000);
    const body = Buffer.from(JSON.stringify({ log: `${filler}contact carol@example.com ${filler}`, after: 'dave@example.com' }));
    const chunks: Buffer[] = [];
    for (let at = 0; at < body.length; at += 1000) chunks.push(body.subarray(at, at + 1000));
    const bodyMasker = createBodyMasker(JSON_PLAN, options({ bufferBytes: 4096 }));
    const pushed = chunks.map((chunk) => Buffer.from(bodyMasker.push(chunk)));
    const output = Buffer.concat([...pushed, Buffer.from(bodyMasker.end())]).toString();
    assert.deepEqual(JSON.parse(output), { log: `${filler}contact [EMAIL] ${filler}`, after: '[EMAIL]' });
    // output went out while the long string was still arriving: nothing near its whole length was held
    const before = pushed.slice(0, 10).reduce((sum, p) => sum + p.length, 0);
    assert.ok(before > 4000, `only ${before} bytes out after 10 000 in`);
  });

  test('a 20 MB JSON body is masked with bounded memory', () => {
    const record = (i: number) => JSON.stringify({ id: i, email: `user${i}@example.com`, password: `pw-${i}`, bio: 'x'.repeat(120) });
    const bodyMasker = createBodyMasker(JSON_PLAN, options());
    const chunkRecords = 256;
    let produced = 0;
    let emails = 0;
    let inputBytes = 0;
    const heapBefore = retainedBytes();
    let heapPeak = heapBefore;
    bodyMasker.push(Buffer.from('['));
    for (let i = 0; inputBytes < 20 * 1024 * 1024; i += chunkRecords) {
      const parts: string[] = [];
      for (let k = 0; k < chunkRecords; k++) parts.push((i + k === 0 ? '' : ',') + record(i + k));
      const chunk = Buffer.from(parts.join(''));
      inputBytes += chunk.length;
      const out = Buffer.from(bodyMasker.push(chunk)).toString();
      produced += out.length;
      emails += out.split('[EMAIL]').length - 1;
      assert.ok(!out.includes('@example.com'));
      if (i % (chunkRecords * 64) === 0) heapPeak = Math.max(heapPeak, retainedBytes());
    }
    produced += Buffer.from(bodyMasker.push(Buffer.from(']'))).length + bodyMasker.end().length;
    heapPeak = Math.max(heapPeak, retainedBytes());
    assert.ok(inputBytes >= 20 * 1024 * 1024);
    assert.ok(produced > inputBytes / 2);
    assert.ok(emails > 100_000);
    // generous, yet below the body's 20 MB: holding it (as bytes or as a string) would show
    assert.ok(heapPeak - heapBefore < 16 * 1024 * 1024, `memory grew by ${heapPeak - heapBefore} bytes`);
    assert.equal(bodyMasker.report().byDetector['REDACTED'], emails);
  });
});

describe('JSON: random documents against a reference', () => {
  const KEYS = ['id', 'name', 'email', 'note', 'password', 'PassWord', 'api_key', 'items', 'meta', 'credentials', 'token_type', 'max_tokens', 'internal_id', 'x'];
  const STRINGS = ['plain words', 'mail wendy@example.com now', '4111 1111 1111 1111', 'é ü 😀 漢字', 'quote " and \\ backslash', 'line\nbreak', '', 'call +1 (415) 555-2671', 'DE89 3704 0044 0532 0130 00'];

  function randomValue(random: () => number, depth: number): unknown {
    const roll = random();
    if (depth > 4 || roll < 0.45) {
      const kind = Math.floor(random() * 6);
      if (kind === 0) return STRINGS[Math.floor(random() * STRINGS.length)];
      if (kind === 1) return Math.floor(random() * 1e6) - 5e5;
      if (kind === 2) return random() < 0.5 ? 4111111111111111 : 3.25e-7;
      if (kind === 3) return random() < 0.5;
      if (kind === 4) return null;
      return `${STRINGS[Math.floor(random() * STRINGS.length)]} ${Math.floor(random() * 100)}`;
    }
    if (roll < 0.7) return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
    const object: Record<string, unknown> = {};
    for (let i = Math.floor(random() * 5); i > 0; i--) object[KEYS[Math.floor(random() * KEYS.length)] as string] = randomValue(random, depth + 1);
    return object;
  }

  /** What the masker should make of a parsed document, written plainly. */
  function reference(value: unknown): unknown {
    const report = new MaskReportBuilder();
    if (typeof value === 'string') return masker.maskCell(value, undefined, report);
    if (typeof value === 'number') {
      const text = String(value);
      if (!/^\d{13,}$/.test(text)) return value;
      const masked = masker.maskCell(text, undefined, report);
      return masked === text ? value : masked;
    }
    if (Array.isArray(value)) return value.map(reference);
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(value)) {
        const label = masker.columnRule(key) ?? (isCredentialName(key) ? 'REDACTED' : undefined);
        out[masker.maskCell(key, undefined, report)] = label !== undefined && inner !== null ? `[${label}]` : reference(inner);
      }
      return out;
    }
    return value;
  }

  test('whole and cut anywhere, the output parses to the reference', () => {
    const random = seededRandom(2024);
    for (let round = 0; round < 300; round++) {
      const document = { root: randomValue(random, 0) };
      const text = JSON.stringify(document, null, round % 3 === 0 ? 2 : undefined);
      const bytes = Buffer.from(text);
      const whole = mask(JSON_PLAN, bytes).output;
      assert.deepEqual(JSON.parse(whole), reference(JSON.parse(text)), text);
      const a = 1 + Math.floor(random() * (bytes.length - 1));
      const b = a + Math.floor(random() * (bytes.length - a));
      assert.equal(maskChunks(JSON_PLAN, cutAt(bytes, a, b)).output, whole, `${text} cut at ${a}, ${b}`);
    }
  });
});

describe('JSON: adversarial', () => {
  test('credential keys in any spelling: case, _ and -, escaped letters', () => {
    for (const key of ['PassWord', 'pass_word', 'PASS-WORD', 'to\\u006ben', '\\u0070assword', 'api_key', 'apiKey', 'X-Api-Key', 'client_secret', 'db_password', 'githubToken', 'Authorization', 'set-cookie', 'refresh_token']) {
      const { output } = mask(JSON_PLAN, `{"${key}":"s3cr3t-value","other":"kept"}`);
      assert.equal(output, `{"${key}":"[REDACTED]","other":"kept"}`, key);
    }
  });

  test('names that only look alike are not replaced', () => {
    const body = '{"max_tokens":256,"token_type":"Bearer","total_tokens":12,"password_policy_url":"/p","keyboard":"us"}';
    assert.equal(mask(JSON_PLAN, body).output, body);
  });

  test('duplicate keys: every occurrence is masked', () => {
    assert.equal(mask(JSON_PLAN, '{"password":"a","password":"b","password":{"c":1}}').output, '{"password":"[REDACTED]","password":"[REDACTED]","password":"[REDACTED]"}');
  });

  test('very deep nesting beyond the limit falls back to text masking, still masked', () => {
    const depth = 5000;
    const body = '['.repeat(depth) + '"eve@example.com"' + ']'.repeat(depth);
    const { output } = mask(JSON_PLAN, body, { maxDepth: 64 });
    assert.ok(!output.includes('eve@example.com'));
    assert.ok(output.includes('[EMAIL]'));
    const shallow = mask(JSON_PLAN, '[[["eve@example.com"]]]', { maxDepth: 64 });
    assert.equal(shallow.output, '[[["[EMAIL]"]]]');
  });

  test('deep nesting inside a credential value is dropped with it', () => {
    const body = '{"secret":' + '['.repeat(10_000) + ']'.repeat(10_000) + ',"a":"b"}';
    assert.equal(mask(JSON_PLAN, body, { maxDepth: 64 }).output, '{"secret":"[REDACTED]","a":"b"}');
  });

  test('a secret or an email in a key name is masked too', () => {
    const body = `{"${TOKEN}":1,"frank@example.com":{"role":"admin"}}`;
    const { output } = mask(JSON_PLAN, body, { secrets: [TOKEN] });
    assert.deepEqual(JSON.parse(output), { [CREDENTIAL_FORM]: 1, '[EMAIL]': { role: 'admin' } });
  });

  test('a key longer than bufferBytes falls back to text, still masked', () => {
    const key = 'k'.repeat(3000) + ' grace@example.com';
    const body = Buffer.from(`{"${key}":1}`);
    const { output } = maskChunks(JSON_PLAN, cutAt(body, 1000, 2000, 3010), { bufferBytes: 1024 });
    assert.ok(!output.includes('grace@example.com'));
  });

  test('a quote or a brace inside strings does not confuse the skipper or the tokenizer', () => {
    const body = '{"token":"a\\"},{\\"b","next":"heidi@example.com","s":"}]\\\\"}';
    assert.equal(mask(JSON_PLAN, body).output, '{"token":"[REDACTED]","next":"[EMAIL]","s":"}]\\\\"}');
  });

  test('invalid escapes and raw control characters in strings fall back to text', () => {
    const { output } = mask(JSON_PLAN, '{"a":"bad \\x escape ivan@example.com"}');
    assert.ok(!output.includes('ivan@example.com'));
  });

  test('JSON inside a JSON string (double-encoded) is masked by the detectors that know quoted keys', () => {
    const inner = JSON.stringify({ db_password: 'hunter2-and-more', contact: 'uma@example.com' });
    const { output } = mask(JSON_PLAN, JSON.stringify({ body: inner }));
    const body = (JSON.parse(output) as { body: string }).body;
    assert.ok(!body.includes('hunter2'), body);
    assert.ok(!body.includes('uma@example.com'), body);
  });

  test('a credential key hidden behind a BOM or leading garbage still reaches the text masker', () => {
    const { output } = mask(JSON_PLAN, '\uFEFF{"password": "hunter2", "mail": "vic@example.com"}');
    assert.ok(!output.includes('vic@example.com'));
    assert.ok(!output.includes('hunter2'), output);
  });

  test('a value under a credential key that never ends is dropped, not sent', () => {
    const { output } = mask(JSON_PLAN, '{"a":1,"secret":{"x":"walt@example.com", "y": [1,2,');
    assert.equal(output, '{"a":1,"secret":"[REDACTED]"');
  });

  test('a file sent as base64 (a contents API) is decoded, masked and encoded again', () => {
    const file = 'DATABASE_URL=postgres://app:s3cretpass@db.internal:5432/app\nADMIN_EMAIL=yara@example.com\nAWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n';
    const wrapped = Buffer.from(file).toString('base64').replace(/(.{60})/g, '$1\n');
    const body = JSON.stringify({ type: 'file', encoding: 'base64', path: '.env', content: wrapped, unwrapped: Buffer.from(file).toString('base64') });
    const bytes = Buffer.from(body);
    const whole = mask(JSON_PLAN, bytes).output;
    for (const field of ['content', 'unwrapped'] as const) {
      const decoded = Buffer.from((JSON.parse(whole) as Record<string, string>)[field] as string, 'base64').toString();
      assert.ok(!decoded.includes('s3cretpass'), decoded);
      assert.ok(!decoded.includes('yara@example.com'), decoded);
      assert.ok(!decoded.includes('AKIAIOSFODNN7EXAMPLE'), decoded);
      assert.ok(decoded.startsWith('DATABASE_URL=postgres://app:'), decoded);
    }
    for (let cut = 1; cut < bytes.length; cut += 7) assert.equal(maskChunks(JSON_PLAN, cutAt(bytes, cut)).output, whole, `cut at ${cut}`);
  });

  test('base64 of binary data, and ids that happen to be base64, pass unchanged', () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 1, 2, 3, 4, 5, 6, 7, 8]).toString('base64');
    const body = JSON.stringify({ image: png, id: 'MDQ6VXNlcjU4MzIzMQ==AAAAAAAA', plain: 'aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=' });
    assert.equal(mask(JSON_PLAN, body).output, body);
  });

  test('a custom key glob from the target replaces matching values', () => {
    const { output } = mask(JSON_PLAN, '{"ssn_last4":"1234","name":"x"}', { keyRules: ['ssn*'] });
    assert.equal(output, '{"ssn_last4":"[REDACTED]","name":"x"}');
  });
});

describe('NDJSON and SSE', () => {
  const NDJSON = planBody({ contentType: 'application/x-ndjson' });
  const SSE = planBody({ contentType: 'text/event-stream' });

  test('each NDJSON line is masked; a malformed line goes through the text masker and the next is JSON again', () => {
    const body = '{"email":"a@example.com","token":"t1"}\nnot json judy@example.com\n{"password":"p","n":1}\n';
    const expected = '{"email":"[EMAIL]","token":"[REDACTED]"}\nnot json [EMAIL]\n{"password":"[REDACTED]","n":1}\n';
    const bytes = Buffer.from(body);
    for (let cut = 1; cut < bytes.length; cut++) assert.equal(maskChunks(NDJSON, cutAt(bytes, cut)).output, expected, `cut at ${cut}`);
  });

  test('an SSE event goes out as soon as it is complete, before the next one arrives', () => {
    const bodyMasker = createBodyMasker(SSE, options());
    const first = Buffer.from(bodyMasker.push(Buffer.from('event: message\ndata: {"text":"mail kate@example.com","api_key":"k"}\n\n'))).toString();
    assert.equal(first, 'event: message\ndata: {"text":"mail [EMAIL]","api_key":"[REDACTED]"}\n\n');
    const partial = Buffer.from(bodyMasker.push(Buffer.from('data: plain leo@exa'))).toString();
    assert.equal(partial, '');
    const second = Buffer.from(bodyMasker.push(Buffer.from('mple.com\n\n'))).toString();
    assert.equal(second, 'data: plain [EMAIL]\n\n');
    assert.equal(Buffer.from(bodyMasker.end()).length, 0);
  });

  test('with the credential redactor on, an event still goes out whole as soon as it ends; the credential in it is replaced', () => {
    const bodyMasker = createBodyMasker(SSE, options({ secrets: [TOKEN, `Bearer ${TOKEN}`] }));
    const event = `data: {"echo":"Bearer ${TOKEN}"}\n\n`;
    const out = Buffer.from(bodyMasker.push(Buffer.from(event))).toString();
    assert.equal(out, `data: {"echo":"${CREDENTIAL_FORM}"}\n\n`);
    const split = Buffer.from(`data: ${TOKEN} again\n\n`);
    const parts = cutAt(split, 10, 20).map((chunk) => Buffer.from(bodyMasker.push(chunk)).toString());
    assert.equal(parts.join(''), `data: ${CREDENTIAL_FORM} again\n\n`);
    assert.equal(parts[2]?.endsWith('\n\n'), true);
  });

  test('JSON data spread over several data: lines is masked as one document', () => {
    const pretty = JSON.stringify({ user: 'cleo@example.com', credentials: { key: 'k', nested: ['a', 'b'] }, n: 1 }, null, 2);
    const body = 'event: update\n' + pretty.split('\n').map((line) => `data: ${line}\n`).join('') + '\nid: 2\ndata: [1,\ndata:  2]\n\n';
    const bytes = Buffer.from(body);
    const whole = mask(SSE, bytes);
    const [first, second] = whole.output.split('\n\n');
    const data = (first as string)
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => line.slice(6))
      .join('\n');
    assert.deepEqual(JSON.parse(data), { user: '[EMAIL]', credentials: '[REDACTED]', n: 1 });
    assert.ok((first as string).startsWith('event: update\n'));
    assert.equal(second, 'id: 2\ndata: [1,\ndata:  2]', 'data with nothing to mask goes out as it came');
    assert.deepEqual(whole.report.byDetector, { email: 1, REDACTED: 1 });
    for (let cut = 1; cut < bytes.length; cut++) assert.equal(maskChunks(SSE, cutAt(bytes, cut)).output, whole.output, `cut at ${cut}`);
  });

  test('JSON text sequences (RS before each record) are masked per record', () => {
    const plan = planBody({ contentType: 'application/json-seq' });
    const body = '\x1e{"email":"bea@example.com"}\n\x1e{"secret":"s"}\n';
    assert.equal(mask(plan, body).output, '\x1e{"email":"[EMAIL]"}\n\x1e{"secret":"[REDACTED]"}\n');
  });

  test('SSE with CRLF and CR line endings, comments and ids, cut anywhere', () => {
    const body = ': comment by mike@example.com\r\nid: 7\r\ndata: {"a":"nina@example.com"}\r\n\r\ndata: x\r\rdata: [1,"oscar@example.com"]\n\n';
    const expected = ': comment by [EMAIL]\r\nid: 7\r\ndata: {"a":"[EMAIL]"}\r\n\r\ndata: x\r\rdata: [1,"[EMAIL]"]\n\n';
    const bytes = Buffer.from(body);
    assert.equal(mask(SSE, bytes).output, expected);
    for (let cut = 1; cut < bytes.length; cut++) assert.equal(maskChunks(SSE, cutAt(bytes, cut)).output, expected, `cut at ${cut}`);
  });

  test('the CRLF that ends an event does not hold the event back', () => {
    const bodyMasker = createBodyMasker(SSE, options());
    assert.equal(Buffer.from(bodyMasker.push(Buffer.from('data: a\r\n\r'))).toString(), 'data: a\r\n\r');
    assert.equal(Buffer.from(bodyMasker.push(Buffer.from('\ndata: b\r\n\r\n'))).toString(), '\ndata: b\r\n\r\n');
  });

  test('an SSE event longer than bufferBytes is masked as a text stream, not held', () => {
    const bodyMasker = createBodyMasker(SSE, options({ bufferBytes: 1024 }));
    let out = '';
    for (let i = 0; i < 60; i++) out += Buffer.from(bodyMasker.push(Buffer.from(`data: line ${i} of a long event for pat${i}@example.com\n`))).toString();
    assert.ok(out.length > 500, 'the long event streamed out before it ended');
    out += Buffer.from(bodyMasker.push(Buffer.from('\n'))).toString() + Buffer.from(bodyMasker.end()).toString();
    assert.ok(!out.includes('@example.com'));
    assert.equal(out.split('[EMAIL]').length - 1, 60);
  });
});

describe('text and binary bodies, the injected credential', () => {
  const TEXT = planBody({ contentType: 'text/html' });
  const BINARY = planBody({ contentType: 'application/octet-stream' });

  test('text is masked as a stream', () => {
    assert.equal(mask(TEXT, '<p>Write to quinn@example.com or call +1 (415) 555-2671</p>').output, '<p>Write to [EMAIL] or call [PHONE]</p>');
  });

  test('the credential split across chunks is replaced in binary and text bodies, in every form', () => {
    const basic = Buffer.from(`agent:${TOKEN}`).toString('base64');
    const secrets = [TOKEN, `Bearer ${TOKEN}`, basic];
    for (const plan of [BINARY, TEXT]) {
      for (const secret of [TOKEN, basic]) {
        const body = Buffer.concat([Buffer.from([0, 1, 2, 255]), Buffer.from(`echo ${secret} end`), Buffer.from([254, 0])]);
        for (let cut = 1; cut < body.length; cut++) {
          const { output } = maskChunks(plan, cutAt(body, cut), { secrets });
          assert.ok(!output.includes(secret), `${plan.treatment}, cut at ${cut}`);
          assert.ok(output.includes(CREDENTIAL_FORM), `${plan.treatment}, cut at ${cut}`);
        }
      }
    }
  });

  test('a text file sent as application/octet-stream is masked as text, and recorded so', () => {
    const file = 'ADMIN_EMAIL=zack@example.com\nNOTE=' + 'plain text '.repeat(200) + '\nCARD=4111 1111 1111 1111\n';
    const bytes = Buffer.from(file);
    const bodyMasker = createBodyMasker(BINARY, options({ contentType: 'application/octet-stream' }));
    const first = Buffer.from(bodyMasker.push(bytes.subarray(0, 100)));
    assert.equal(first.length, 0, 'the first bytes are held until they decide');
    const output = Buffer.concat([first, Buffer.from(bodyMasker.push(bytes.subarray(100))), Buffer.from(bodyMasker.end())]).toString();
    assert.ok(!output.includes('zack@example.com'));
    assert.ok(output.includes('CARD=****1111'));
    const excerpt = HttpBodyExcerpt.parse(bodyMasker.excerpt());
    assert.equal(excerpt.treatment, 'text');
    assert.ok(excerpt.text?.startsWith('ADMIN_EMAIL=[EMAIL]'));
    // a short one decides at its end
    assert.equal(mask(BINARY, 'mail abe@example.com').output, 'mail [EMAIL]');
  });

  test('binary bytes pass unchanged where no credential is, and the excerpt has no text', () => {
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
    const bodyMasker = createBodyMasker(BINARY, options({ contentType: 'application/octet-stream' }));
    const out = Buffer.concat([Buffer.from(bodyMasker.push(bytes)), Buffer.from(bodyMasker.end())]);
    assert.deepEqual(out, bytes);
    const excerpt = HttpBodyExcerpt.parse(bodyMasker.excerpt());
    assert.equal(excerpt.text, undefined);
    assert.equal(excerpt.bytes, 4096);
    assert.equal(excerpt.treatment, 'binary');
  });

  test('the excerpt: first bytes of the masked body, cut at a character, with size and digest of the whole', () => {
    const body = `{"email":"rita@example.com","text":"${'é'.repeat(100)}"}`;
    const bodyMasker = createBodyMasker(JSON_PLAN, options({ excerptBytes: 40, contentType: 'application/json' }));
    const before = HttpBodyExcerpt.parse(bodyMasker.excerpt());
    assert.equal(before.bytes, null);
    const out = Buffer.concat([Buffer.from(bodyMasker.push(Buffer.from(body))), Buffer.from(bodyMasker.end())]);
    const excerpt = HttpBodyExcerpt.parse(bodyMasker.excerpt());
    assert.equal(excerpt.bytes, out.length);
    assert.ok(excerpt.text !== undefined && out.toString().startsWith(excerpt.text));
    assert.ok(!excerpt.text.includes('\uFFFD'));
    assert.equal(excerpt.cut?.bytes, out.length);
    assert.ok((excerpt.cut?.keptBytes ?? 0) <= 40 && (excerpt.cut?.keptBytes ?? 0) >= 39);
    assert.equal(excerpt.cut?.sha256, createHash('sha256').update(out).digest('hex'));
  });

  test('a withheld plan lets nothing through', () => {
    const plan = planBody({ contentType: 'text/plain', contentEncoding: 'compress' });
    const { output } = mask(plan, 'anything at all');
    assert.equal(output, '');
  });
});

describe('decoding', () => {
  const bounds = { maxBytes: 8 * 1024 * 1024, maxRatio: 100, ratioAfterBytes: 256 * 1024 };
  const body = JSON.stringify({ users: Array.from({ length: 200 }, (_, i) => ({ id: i, email: `u${i}@example.com` })) });

  async function decodeAndMask(plan: BodyPlan, encoded: Buffer): Promise<string> {
    const decoder = decoderFor(plan, bounds);
    assert.ok(decoder !== undefined);
    const decoded = await collect(Readable.from(chunksOf(encoded, 100)).pipe(decoder));
    return maskChunks(plan, chunksOf(decoded, 333)).output;
  }

  function chunksOf(bytes: Buffer, size: number): Buffer[] {
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
    return chunks;
  }

  test('gzip, deflate (zlib and raw), br and stacked gzip, br bodies are decoded, then masked', async () => {
    const cases: [string, Buffer][] = [
      ['gzip', zlib.gzipSync(body)],
      ['deflate', zlib.deflateSync(body)],
      ['deflate', zlib.deflateRawSync(body)],
      ['br', zlib.brotliCompressSync(body)],
      ['gzip, br', zlib.brotliCompressSync(zlib.gzipSync(body))],
    ];
    for (const [coding, encoded] of cases) {
      const plan = planBody({ contentType: 'application/json', contentEncoding: coding });
      const output = await decodeAndMask(plan, encoded);
      const parsed = JSON.parse(output) as { users: { email: string }[] };
      assert.equal(parsed.users.length, 200, coding);
      assert.ok(parsed.users.every((u) => u.email === '[EMAIL]'), coding);
    }
  });

  test('no decoder for an identity body', () => {
    assert.equal(decoderFor(planBody({ contentType: 'application/json' }), bounds), undefined);
  });

  test('a decompression bomb is refused with a sentence', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const plan = planBody({ contentType: 'application/json', contentEncoding: 'gzip' });
    const decoder = decoderFor(plan, bounds);
    assert.ok(decoder !== undefined);
    let received = 0;
    await assert.rejects(
      pipeline(Readable.from([bomb]), decoder, async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) received += chunk.length;
        yield* [];
      }),
      (error: unknown) => error instanceof DecodeLimitError && /decompression bomb/.test(error.message),
    );
    assert.ok(received <= bounds.maxBytes);
  });

  test('the total bound holds for a body that compresses honestly', async () => {
    const random = seededRandom(3);
    const text = Buffer.from(Array.from({ length: 2_000_000 }, () => 'abcdefghij'[Math.floor(random() * 10)]).join(''));
    const plan = planBody({ contentType: 'text/plain', contentEncoding: 'gzip' });
    const decoder = decoderFor(plan, { maxBytes: 1_000_000, maxRatio: 100, ratioAfterBytes: 256 * 1024 });
    assert.ok(decoder !== undefined);
    await assert.rejects(collect(Readable.from([zlib.gzipSync(text)]).pipe(decoder)), DecodeLimitError);
  });

  test('a reader that does not read holds the decoder back: decoded bytes are not piled up', async () => {
    const size = 32 * 1024 * 1024;
    const plan = planBody({ contentType: 'application/octet-stream', contentEncoding: 'gzip' });
    const decoder = decoderFor(plan, { maxBytes: 2 * size, maxRatio: 10_000, ratioAfterBytes: 1024 });
    assert.ok(decoder !== undefined);
    decoder.end(zlib.gzipSync(Buffer.alloc(size)));
    // long enough for an unbounded decoder to decode all of it (it would pile up the whole body)
    for (let i = 0; i < 200 && decoder.readableLength < 4 * 1024 * 1024; i++) await new Promise((resolve) => setTimeout(resolve, 2));
    assert.ok(decoder.readableLength < 4 * 1024 * 1024, `${decoder.readableLength} bytes piled up unread`);
    let total = 0;
    for await (const chunk of decoder) total += (chunk as Buffer).length;
    assert.equal(total, size);
  });

  test('a corrupt gzip body fails with a sentence', async () => {
    const plan = planBody({ contentType: 'application/json', contentEncoding: 'gzip' });
    const decoder = decoderFor(plan, bounds);
    assert.ok(decoder !== undefined);
    await assert.rejects(collect(Readable.from([Buffer.from('not gzip at all')]).pipe(decoder)), /could not be decoded/);
  });
});

describe('headers and URLs', () => {
  test('response headers: safe ones pass, data-carrying ones masked, credential-named ones replaced', () => {
    const report = new MaskReportBuilder();
    const headers = maskResponseHeaders(
      {
        'Content-Type': 'application/json',
        Date: 'Sat, 05 Dec 2026 21:00:00 GMT',
        Location: `https://api.example.com/next?page=2&access_token=abc123&sig=xyz`,
        'X-Owner': 'sam@example.com',
        'X-Echo-Auth': `Bearer ${TOKEN}`,
        'WWW-Authenticate': 'Bearer realm="api", error="invalid_token" contact=tina@example.com',
        'X-Auth-Token': 'upstream-session-value',
        'Set-Cookie': ['sid=abc123; Path=/; HttpOnly', 'theme=dark'],
        'Cache-Control': 'no-store',
      },
      masker,
      [TOKEN],
      report,
    );
    assert.equal(headers['Content-Type'], 'application/json');
    assert.equal(headers['Cache-Control'], 'no-store');
    assert.equal(headers['Date'], 'Sat, 05 Dec 2026 21:00:00 GMT');
    assert.equal(headers['Location'], 'https://api.example.com/next?page=2&access_token=[REDACTED]&sig=[REDACTED]');
    assert.equal(headers['X-Owner'], '[EMAIL]');
    assert.ok(!String(headers['X-Echo-Auth']).includes(TOKEN));
    assert.ok(!String(headers['WWW-Authenticate']).includes('tina@example.com'));
    assert.equal(headers['X-Auth-Token'], '[REDACTED]');
    assert.deepEqual(headers['Set-Cookie'], ['sid=[REDACTED]; Path=/; HttpOnly', 'theme=[REDACTED]']);
    assert.ok(report.changed);
  });

  test('the injected credential in a safe-listed header is still replaced', () => {
    const headers = maskResponseHeaders({ Vary: `Accept, ${TOKEN}` }, masker, [TOKEN], new MaskReportBuilder());
    assert.equal(headers['Vary'], `Accept, ${CREDENTIAL_FORM}`);
  });

  test('URLs for the record: userinfo stripped, credential query parameters masked, the rest as written', () => {
    assert.equal(maskUrlForRecord('https://agent:tok@api.example.com/a/b?x=1&token=abc&api_key=k&X-Amz-Signature=s&Code=c#f'), 'https://api.example.com/a/b?x=1&token=[REDACTED]&api_key=[REDACTED]&X-Amz-Signature=[REDACTED]&Code=[REDACTED]#f');
    assert.equal(maskUrlForRecord('/repos/o/r/pulls?state=open&per_page=100'), '/repos/o/r/pulls?state=open&per_page=100');
    assert.equal(maskUrlForRecord('/x?pass%77ord=a&client%5Fsecret=b'), '/x?pass%77ord=[REDACTED]&client%5Fsecret=[REDACTED]');
    assert.equal(maskUrlForRecord('/x?key=AIzaSyA&keyboard=us'), '/x?key=[REDACTED]&keyboard=us');
    assert.equal(maskUrlForRecord('https://app.example/cb#access_token=eyJabc&token_type=bearer&state=xyz'), 'https://app.example/cb#access_token=[REDACTED]&token_type=bearer&state=xyz');
    assert.equal(maskUrlForRecord('/users?email=xena@example.com&page=2', new MaskReportBuilder(), masker), '/users?email=[EMAIL]&page=2');
  });
});
