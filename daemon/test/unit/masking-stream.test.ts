import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MaskingPolicy } from '@airlock/shared';
import { MaskReportBuilder, StreamMasker, compileMasking } from '../../src/masking/index.js';
import type { StreamMaskerOptions } from '../../src/masking/index.js';

const masker = compileMasking(MaskingPolicy.parse({}), 'host-1');

/** Streams the chunks through a fresh StreamMasker; returns what each push and the flush emitted. */
function stream(chunks: readonly string[], options?: StreamMaskerOptions) {
  const report = new MaskReportBuilder();
  const streamMasker = new StreamMasker(masker, report, options);
  const pushed = chunks.map((chunk) => streamMasker.push(chunk));
  const flushed = streamMasker.flush();
  return { pushed, flushed, output: pushed.join('') + flushed, report: report.toReport() };
}

function maskedWhole(text: string) {
  const report = new MaskReportBuilder();
  return { output: masker.maskText(text, report), report: report.toReport() };
}

describe('StreamMasker across chunk boundaries', () => {
  const text = 'contact alice@example.com, card 4111 1111 1111 1111\nphone +1 (415) 555-2671 ok\n';

  test('an email split at every position is masked as in one piece', () => {
    const expected = maskedWhole(text);
    assert.equal(expected.output, 'contact [EMAIL], card ****1111\nphone [PHONE] ok\n');
    for (let cut = 1; cut < text.length; cut++) {
      const result = stream([text.slice(0, cut), text.slice(cut)]);
      assert.equal(result.output, expected.output, `cut at ${cut}`);
      assert.deepEqual(result.report, expected.report, `cut at ${cut}`);
    }
  });

  test('one character at a time', () => {
    const result = stream([...text]);
    assert.equal(result.output, maskedWhole(text).output);
    assert.deepEqual(result.report.byDetector, { email: 1, 'payment-card': 1, phone: 1 });
  });

  test('the start of a possible match is held back, the rest goes out at once', () => {
    const report = new MaskReportBuilder();
    const streamMasker = new StreamMasker(masker, report);
    assert.equal(streamMasker.push('write to alice@exa'), 'write to ');
    assert.equal(streamMasker.held, 'alice@exa'.length);
    assert.equal(streamMasker.push('mple.com today\n'), '[EMAIL] today\n');
    assert.equal(streamMasker.push('card 4111 1111 '), 'card ');
    assert.equal(streamMasker.push('1111 1111 done\n'), '****1111 done\n');
    assert.deepEqual(report.toReport().byDetector, { email: 1, 'payment-card': 1 });
  });

  test('a prompt ending in a space is not held back', () => {
    const streamMasker = new StreamMasker(masker, new MaskReportBuilder());
    assert.equal(streamMasker.push('user@host:~$ '), 'user@host:~$ ');
    assert.equal(streamMasker.held, 0);
  });

  test('flush emits what was held, masked', () => {
    const report = new MaskReportBuilder();
    const streamMasker = new StreamMasker(masker, report);
    assert.equal(streamMasker.push('id AKIA'), 'id ');
    assert.equal(streamMasker.push('IOSFODNN7EXAMPLE'), '');
    assert.equal(streamMasker.flush(), '[CLOUD-KEY]');
    assert.equal(streamMasker.flush(), '');
    assert.deepEqual(report.toReport().byDetector, { 'cloud-key': 1 });
  });

  test('a label that already went out still anchors its value', () => {
    const result = stream(['Authorization: Bearer ', 'abc123def456ghi789\n', 'host=db password = ', 'hunter2 dbname=x\n']);
    assert.equal(result.output, 'Authorization: Bearer [TOKEN]\nhost=db password = [PASSWORD] dbname=x\n');
  });

  test('random chunkings give the same output and counts as masking the whole text', () => {
    const pieces = [
      'alice@example.com',
      '4111-1111-1111-1111',
      'DE89 3704 0044 0532 0130 00',
      '+44 20 7946 0958',
      '123-45-6789',
      'ghp_' + 'a1B2'.repeat(9),
      'postgres://bob:s3cret@db.example.com/app',
      "password='se cret'",
      '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBx\nabc=\n-----END EC PRIVATE KEY-----',
      '2024-03-15 10:30:00',
      '550e8400-e29b-41d4-a716-446655440000',
      'plain words',
      'Password: correct horse battery staple',
      '{"api_key": "abc def", "x": 1}',
      '{\\"db_password\\": \\"a b c\\"}',
      'Authorization: Digest username="bob", response="6629fae4"',
      'Authorization: Basic dXNlcjpwYXNz',
      '<password>s3 cret</password>',
      'card4111111111111111x',
      '4111.1111.1111.1111',
      'de89-3704-0044-0532-0130-00',
      '123–45–6789',
      'jürgen@müller.de',
      '"john doe"@example.com',
      "ALTER ROLE app PASSWORD 'se cret'",
      "PASSWORD 'it''s x'",
    ];
    const separators = [' ', '\n', ', ', '\t'];
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 300; round++) {
      let text = '';
      for (let i = 0, count = 1 + random(10); i < count; i++) text += (pieces[random(pieces.length)] as string) + separators[random(separators.length)];
      const chunks: string[] = [];
      for (let i = 0; i < text.length; ) {
        const size = 1 + random(24);
        chunks.push(text.slice(i, i + size));
        i += size;
      }
      const expected = maskedWhole(text);
      const result = stream(chunks);
      assert.equal(result.output, expected.output, JSON.stringify(chunks));
      assert.deepEqual(result.report, expected.report, JSON.stringify(chunks));
    }
  });
});

describe('StreamMasker and values that run on', () => {
  test('a password after a colon is held until its line ends: no word of it goes out', () => {
    const result = stream(['wifi password: blue ', 'monkey ', '42\nnext line\n']);
    assert.equal(result.output, 'wifi password: [PASSWORD]\nnext line\n');
    for (const out of result.pushed) assert.ok(!/blue|monkey|42/.test(out), `part of the password went out: ${JSON.stringify(out)}`);
    assert.deepEqual(result.report.byDetector, { 'connection-password': 1 });
  });

  test('a value that opened in text already sent holds all that is pending', () => {
    // the opening quote and the tag go out with the space after them; the value's words must not
    for (const chunks of [
      ["password=' ", 'se ', "cret' x\n"],
      ['<password> ', 'se ', 'cret</password>\n'],
    ]) {
      const result = stream(chunks);
      assert.equal(result.output, maskedWhole(chunks.join('')).output, JSON.stringify(chunks));
      for (const out of result.pushed) assert.ok(!/se|cret/.test(out), `part of the password went out: ${JSON.stringify(result.pushed)}`);
    }
  });

  test('a quoted email local part is held until its domain is complete', () => {
    const result = stream(['mail "john ', 'doe"', '@exam', 'ple.com ok\n']);
    assert.equal(result.output, 'mail [EMAIL] ok\n');
    for (const out of result.pushed) assert.ok(!/john|doe/.test(out), `part of the address went out: ${JSON.stringify(result.pushed)}`);
  });

  test('a quoted JSON value cut by a chunk is held until its quote closes', () => {
    const result = stream(['{"client_secret": "abc ', 'def", "x": 1}\n']);
    assert.equal(result.output, '{"client_secret": "[TOKEN]", "x": 1}\n');
    assert.ok(!result.pushed[0]?.includes('abc'), JSON.stringify(result.pushed));
  });

  test('a JSON value inside a JSON string, cut after its escaped quote', () => {
    const result = stream(['{\\"password\\": \\"a ', 'b\\"}\n']);
    assert.equal(result.output, '{\\"password\\": \\"[PASSWORD]\\"}\n');
    assert.ok(!result.pushed[0]?.includes('a '), JSON.stringify(result.pushed));
  });
});

describe('StreamMasker and private keys', () => {
  const key = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nQUJDREVGR0hJSktM\n-----END RSA PRIVATE KEY-----';

  test('a block arriving line by line becomes one [PRIVATE-KEY]', () => {
    const text = `$ cat id_rsa\n${key}\n$ `;
    const result = stream(text.split(/(?<=\n)/));
    assert.equal(result.output, '$ cat id_rsa\n[PRIVATE-KEY]\n$ ');
    assert.deepEqual(result.report.byDetector, { 'private-key': 1 });
    for (const out of result.pushed) assert.ok(!out.includes('MIIE'), `key material went out: ${JSON.stringify(out)}`);
  });

  test('a partial BEGIN line at the end of a chunk is held back', () => {
    const streamMasker = new StreamMasker(masker, new MaskReportBuilder());
    assert.equal(streamMasker.push('key: -----BEGIN RSA PRIV'), 'key: ');
    assert.equal(streamMasker.push('ATE KEY-----\nMIIEowIBAAKCAQEA\n'), '');
    assert.equal(streamMasker.push('-----END RSA PRIVATE KEY-----\nok\n'), '[PRIVATE-KEY]\nok\n');
  });

  test('a block longer than the hold limit is replaced early and the rest dropped through its END', () => {
    const body = 'QUJDREVGR0hJSktM\n'.repeat(40);
    const result = stream(['x\n-----BEGIN PRIVATE KEY-----\n', body.slice(0, 300), body.slice(300), '-----END PRIVATE KEY-----\nafter\n'], { keyHoldLimit: 200 });
    assert.equal(result.output, 'x\n[PRIVATE-KEY]\nafter\n');
    assert.ok(result.pushed[1]?.endsWith('[PRIVATE-KEY]'), `replaced before the END arrived: ${JSON.stringify(result.pushed)}`);
    assert.deepEqual(result.report.byDetector, { 'private-key': 1 });
  });

  test('without an END, dropping stops at the first line that is not key material', () => {
    const result = stream(['-----BEGIN PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n', 'QUJDREVG\n', 'user@host:~$ ls\n'], { keyHoldLimit: 20 });
    assert.equal(result.output, '[PRIVATE-KEY]\nuser@host:~$ ls\n');
  });

  test('a flush inside a block replaces it and keeps dropping its body', () => {
    const report = new MaskReportBuilder();
    const streamMasker = new StreamMasker(masker, report);
    assert.equal(streamMasker.push('-----BEGIN PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n'), '');
    assert.equal(streamMasker.flush(), '[PRIVATE-KEY]');
    assert.equal(streamMasker.push('QUJDREVG\n'), '');
    assert.equal(streamMasker.push('-----END PRIVATE KEY-----\ndone\n'), '\ndone\n');
    assert.deepEqual(report.toReport().byDetector, { 'private-key': 1 });
  });
});

describe('StreamMasker bounds', () => {
  test('a long line without spaces is not held beyond the hold limit', () => {
    const streamMasker = new StreamMasker(masker, new MaskReportBuilder(), { holdLimit: 1024 });
    let out = '';
    for (let i = 0; i < 20; i++) {
      out += streamMasker.push('a'.repeat(1000));
      assert.ok(streamMasker.held <= 1024 + 1000, `held ${streamMasker.held}`);
    }
    out += streamMasker.flush();
    assert.equal(out, 'a'.repeat(20_000));
  });

  test('a long run of NUL bytes (binary output, /dev/zero) is held exactly to the hold limit, chunk after chunk', () => {
    const streamMasker = new StreamMasker(masker, new MaskReportBuilder(), { holdLimit: 64 });
    let out = '';
    for (let i = 0; i < 10; i++) {
      out += streamMasker.push('\0'.repeat(500));
      assert.equal(streamMasker.held, 64, `after chunk ${i}`);
    }
    out += streamMasker.flush();
    assert.equal(out, '\0'.repeat(5000));
  });

  test('an open value that began before the hold limit still holds the tail from the limit on', () => {
    // the last word is short, but <password> opened a value further back than the limit
    const text = `<password>${'a'.repeat(40)} bbbb`;
    const streamMasker = new StreamMasker(masker, new MaskReportBuilder(), { holdLimit: 16 });
    assert.equal(streamMasker.push(text), text.slice(0, text.length - 16));
    assert.equal(streamMasker.held, 16);
  });

  test('an inactive masker passes chunks straight through', () => {
    const inactive = compileMasking(MaskingPolicy.parse({ detectors: [] }), 'host-1');
    const streamMasker = new StreamMasker(inactive, new MaskReportBuilder());
    assert.equal(streamMasker.push('alice@exa'), 'alice@exa');
    assert.equal(streamMasker.held, 0);
    assert.equal(streamMasker.flush(), '');
  });
});
