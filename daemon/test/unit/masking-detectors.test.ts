import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DETECTORS, MaskingPolicy } from '@airlock/shared';
import type { DetectorName } from '@airlock/shared';
import { MASK_FORMS, MaskReportBuilder, compileMasking } from '../../src/masking/index.js';
import { SECRET_DETECTORS } from '../../src/masking/detectors.js';
import { ibanChecksumValid, isSecretValue, looksLikeSecret, luhnValid, plausibleCardIssuer, spanishIdLetterValid, ssnValid } from '../../src/masking/validators.js';
import { seededRandom } from '../helpers/seeded-random.js';

/** Masks free text with the given detectors (all by default); returns the output and per-detector counts. */
function mask(text: string, detectors?: DetectorName[]): { out: string; counts: Record<string, number> } {
  const masker = compileMasking(MaskingPolicy.parse(detectors === undefined ? {} : { detectors }), 'test-db');
  const report = new MaskReportBuilder();
  const out = masker.maskText(text, report);
  return { out, counts: report.toReport().byDetector };
}

function masksTo(text: string, expected: string, detector: DetectorName): void {
  const { out, counts } = mask(text);
  assert.equal(out, expected, `masking ${JSON.stringify(text)}`);
  assert.ok((counts[detector] ?? 0) > 0, `${JSON.stringify(text)} should be counted under ${detector}, got ${JSON.stringify(counts)}`);
}

function leftAlone(text: string): void {
  const { out, counts } = mask(text);
  assert.equal(out, text, `${JSON.stringify(text)} should not be masked`);
  assert.deepEqual(counts, {});
}

/** A near-miss for one detector that another may rightly take (a card-like run that is a phone number). */
function notFoundBy(detector: DetectorName, text: string): void {
  assert.equal(mask(text, [detector]).out, text, `${detector} should leave ${JSON.stringify(text)} alone`);
}

/** A Luhn-valid number: the payload and its check digit. */
function withLuhnDigit(payload: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(payload + d, 0, payload.length + 1)) return payload + d;
  throw new Error('unreachable');
}

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('mask forms', () => {
  test('every detector has a documented form', () => {
    for (const name of DETECTORS) assert.ok(MASK_FORMS[name].form.length > 0, name);
    assert.equal(MASK_FORMS.email.form, '[EMAIL]');
    assert.equal(MASK_FORMS['connection-password'].form, '[PASSWORD]');
  });
});

describe('email', () => {
  test('addresses are replaced, surrounding text kept', () => {
    masksTo('alice@example.com', '[EMAIL]', 'email');
    masksTo('mail bob.smith+tag@mail.example.co.uk.', 'mail [EMAIL].', 'email');
    masksTo('to:alice@example.com,bob@example.org', 'to:[EMAIL],[EMAIL]', 'email');
  });

  test('overlapping candidates are masked once', () => {
    masksTo('x@example.com@example.org', '[EMAIL]@example.org', 'email');
  });

  test('counts each address in free text', () => {
    assert.equal(mask('a1@example.com and a2@example.com').counts.email, 2);
  });

  test('things with an @ that are not addresses are left alone', () => {
    leftAlone('user@localhost');
    leftAlone('@mention in a chat');
    leftAlone('foo@bar.c');
    leftAlone('postgres://alice@db.example.com/app');
  });

  test('a quoted local part, also inside a JSON string', () => {
    masksTo('"john doe"@example.com', '[EMAIL]', 'email');
    masksTo('to: "j.doe@work"@example.org;', 'to: [EMAIL];', 'email');
    masksTo('{"to": "\\"john doe\\"@example.com"}', '{"to": "[EMAIL]"}', 'email');
  });

  test("an apostrophe inside the local part belongs to it; quotes around the address do not", () => {
    masksTo("o'brien@example.com", '[EMAIL]', 'email');
    masksTo("'bob@example.com'", "'[EMAIL]'", 'email');
    masksTo("x '' bob@example.com", "x '' [EMAIL]", 'email');
  });

  test('internationalised local parts and domains', () => {
    masksTo('jürgen@müller.de', '[EMAIL]', 'email');
    masksTo('用户@例子.中国', '[EMAIL]', 'email');
    masksTo('contact: почта@пример.рф.', 'contact: [EMAIL].', 'email');
    masksTo('Zoë <zoë@example.com>', 'Zoë <[EMAIL]>', 'email');
    masksTo('ops@例子.xn--fiqs8s', '[EMAIL]', 'email');
    masksTo('δοκιμή@παράδειγμα.δοκιμή', '[EMAIL]', 'email');
  });

  test('quotes and non-ASCII text near an @ that make no address are left alone', () => {
    leftAlone('""@example.com');
    leftAlone('say "hi"@ home');
    leftAlone('jürgen@localhost');
    leftAlone('用户@例子');
    leftAlone('Preis: 5 € @ Müller');
  });
});

describe('payment-card', () => {
  test('well-known test numbers keep their last four digits', () => {
    masksTo('4111 1111 1111 1111', '****1111', 'payment-card');
    masksTo('4111-1111-1111-1111', '****1111', 'payment-card');
    masksTo('card 4111111111111111 exp 12/29', 'card ****1111 exp 12/29', 'payment-card');
    masksTo('5555555555554444', '****4444', 'payment-card');
    masksTo('3782 822463 10005', '****0005', 'payment-card');
  });

  test('a reference number before it or a year after it does not hide the card', () => {
    masksTo('ref 12 4111 1111 1111 1111', 'ref 12 ****1111', 'payment-card');
    masksTo('4111 1111 1111 1111 2029', '****1111 2029', 'payment-card');
  });

  test('Luhn-invalid numbers are left alone', () => {
    leftAlone('4111 1111 1111 1112');
    leftAlone('4111111111111112');
  });

  test('Luhn-valid numbers outside card issuer ranges are left alone', () => {
    const number = withLuhnDigit('123456789012345');
    assert.equal(number.length, 16);
    leftAlone(number);
  });

  test('ids, glued digits, mixed separators and long runs are left alone', () => {
    leftAlone('ORD-4111111111111111');
    leftAlone('41111111111111111111');
    leftAlone('4111-1111 1111-1111');
    notFoundBy('payment-card', '4111.1111-1111_1111');
    notFoundBy('payment-card', '4111  1111.1111.1111');
  });

  test('dots, underscores, slashes and double spaces between the groups', () => {
    masksTo('4111.1111.1111.1111', '****1111', 'payment-card');
    masksTo('card 4111_1111_1111_1111 exp', 'card ****1111 exp', 'payment-card');
    masksTo('5555/5555/5555/4444', '****4444', 'payment-card');
    masksTo('4111  1111  1111  1111', '****1111', 'payment-card');
    masksTo('4111 1111  1111 1111', '****1111', 'payment-card');
    masksTo('3782.822463.10005', '****0005', 'payment-card');
    masksTo('12/29 4111.1111.1111.1111', '12/29 ****1111', 'payment-card');
  });

  test('glued to letters', () => {
    masksTo('card4111111111111111x', 'card****1111x', 'payment-card');
    masksTo('x4111111111111111', 'x****1111', 'payment-card');
    masksTo('cc_4111111111111111_exp', 'cc_****1111_exp', 'payment-card');
    masksTo('PAN:4111 1111 1111 1111EUR', 'PAN:****1111EUR', 'payment-card');
  });

  test('with the new separators, Luhn, issuer, decimals and versions still rule out', () => {
    leftAlone('4111.1111.1111.1112');
    leftAlone('4111_1111_1111_1112');
    leftAlone('card4111111111111112x');
    leftAlone(withLuhnDigit('123456789012345').replace(/(\d{4})(?=\d)/g, '$1.'));
    // a decimal or a version is tied to the digits before it
    leftAlone('0.4111111111111111');
    leftAlone('1.4111.1111.1111.1111');
    leftAlone('v1.2.3.4');
    leftAlone('2024/01/15');
    leftAlone('amount 12345678.9012345');
  });

  test('UUIDs whose leading groups are all digits are not cards', () => {
    // 3964 0828 3495 5946 passes Luhn and sits in the Diners range
    leftAlone('39640828-3495-5946-5b2f-212bb9e597e7');
    leftAlone('41111111-1111-1111-1111-123456789012');
  });
});

describe('iban', () => {
  test('valid IBANs, printed or unbroken', () => {
    masksTo('DE89 3704 0044 0532 0130 00', '[IBAN]', 'iban');
    masksTo('GB82 WEST 1234 5698 7654 32', '[IBAN]', 'iban');
    masksTo('IBAN:DE89370400440532013000', 'IBAN:[IBAN]', 'iban');
    masksTo('pay to GB82 WEST 1234 5698 7654 32 EUR', 'pay to [IBAN] EUR', 'iban');
  });

  test('a bad checksum, wrong length or unknown country is left alone', () => {
    leftAlone('DE89 3704 0044 0532 0130 01');
    leftAlone('DE89 3704 0044 0532 0130 0');
    leftAlone('XX89370400440532013000');
  });

  test('lower case and dash-grouped', () => {
    masksTo('de89370400440532013000', '[IBAN]', 'iban');
    masksTo('iban de89 3704 0044 0532 0130 00.', 'iban [IBAN].', 'iban');
    masksTo('gb82west12345698765432', '[IBAN]', 'iban');
    masksTo('DE89-3704-0044-0532-0130-00', '[IBAN]', 'iban');
    masksTo('gb82-west-1234-5698-7654-32', '[IBAN]', 'iban');
    masksTo('FR14-2004-1010-0505-0001-3M02-606', '[IBAN]', 'iban');
  });

  test('lower case and dashes keep the checks: checksum, length, one separator kind, groups of four, one case in the country code', () => {
    leftAlone('de89370400440532013001');
    leftAlone('de89-3704-0044-0532-0130-01');
    notFoundBy('iban', 'DE89-3704 0044-0532-0130-00');
    leftAlone('DE89-37040-044-0532-0130-00');
    leftAlone('DE89--3704-0044-0532-0130-00');
    leftAlone('De89370400440532013000');
    leftAlone('xde89370400440532013000');
  });
});

describe('phone', () => {
  test('E.164 and national formats with separators', () => {
    for (const number of ['+1 (415) 555-2671', '+14155552671', '+44 20 7946 0958', '415-555-2671', '(415) 555-2671', '415.555.2671', '020 7946 0958', '030 123456', '06 12 34 56 78']) {
      masksTo(`call ${number} now`, 'call [PHONE] now', 'phone');
    }
    masksTo('tel:+1-415-555-2671', 'tel:[PHONE]', 'phone');
  });

  test('dates, times, versions, IP addresses, ids and plain integers are left alone', () => {
    for (const text of [
      '2024-03-15',
      '2024-03-15 10:30:00',
      '2024-03-15T10:30:00Z',
      '15.03.2024',
      '03/15/2024',
      '1.2.3',
      'v2.10.1234',
      '192.168.100.200',
      '1234567890',
      '550e8400-e29b-41d4-a716-446655440000',
      'ORD-2024-000123',
      '12 345 678',
      '1.234.567',
      '+12',
    ]) {
      leftAlone(text);
    }
  });
});

describe('national-id', () => {
  test('US SSNs within the SSA rules', () => {
    masksTo('ssn 123-45-6789', 'ssn [NATIONAL-ID]', 'national-id');
    masksTo('123 45 6789', '[NATIONAL-ID]', 'national-id');
  });

  test('SSNs with an invalid area, group or serial are left alone (and not taken for phone numbers)', () => {
    for (const text of ['000-45-6789', '666-45-6789', '900-45-6789', '999-45-6789', '123-00-6789', '123-45-0000']) leftAlone(text);
  });

  test('dots, Unicode dashes and a glued prefix', () => {
    masksTo('123.45.6789', '[NATIONAL-ID]', 'national-id');
    masksTo('ssn 123–45–6789', 'ssn [NATIONAL-ID]', 'national-id');
    masksTo('123—45—6789', '[NATIONAL-ID]', 'national-id');
    masksTo('123‑45‑6789', '[NATIONAL-ID]', 'national-id');
    masksTo('SSN123-45-6789', 'SSN[NATIONAL-ID]', 'national-id');
    masksTo('ssn#123.45.6789', 'ssn#[NATIONAL-ID]', 'national-id');
    masksTo('x123-45-6789', 'x[NATIONAL-ID]', 'national-id');
  });

  test('the variants keep the SSA rules and stay apart from longer numbers', () => {
    notFoundBy('national-id', '0123-45-6789');
    notFoundBy('national-id', '123-45-67890');
    notFoundBy('national-id', '10.123.45.6789');
    for (const text of [
      '000.45.6789',
      '666–45–6789',
      '912.45.6789',
      '123.00.6789',
      'SSN123-45-0000',
      '123.45-6789',
      '123–45-6789',
      '1.123.45.6789',
      '123.45.6789.1',
      'SSN123-45-6789x',
    ]) {
      leftAlone(text);
    }
  });

  test('UK National Insurance numbers', () => {
    masksTo('AB 12 34 56 C', '[NATIONAL-ID]', 'national-id');
    masksTo('nino AB123456C', 'nino [NATIONAL-ID]', 'national-id');
    leftAlone('GB123456C');
    leftAlone('DA123456C');
    leftAlone('AB123456E');
  });

  test('Spanish DNI and NIE with their check letter', () => {
    masksTo('12345678Z', '[NATIONAL-ID]', 'national-id');
    masksTo('NIE X1234567L', 'NIE [NATIONAL-ID]', 'national-id');
    leftAlone('12345678A');
    leftAlone('X1234567A');
  });
});

describe('cloud-key', () => {
  test('AWS access key ids', () => {
    masksTo(`key ${'AKIA' + 'IOSFODNN7EXAMPLE'}`, 'key [CLOUD-KEY]', 'cloud-key');
    masksTo('ASIA' + 'ABCDEFGHIJKLMNOP', '[CLOUD-KEY]', 'cloud-key');
    leftAlone('AKIA' + 'SHORT');
  });

  test('AWS access key ids in lower case: base32 with a digit', () => {
    masksTo('key akia' + 'iosfodnn7example', 'key [CLOUD-KEY]', 'cloud-key');
    masksTo('asia' + '2ogybah6stmmnxnv', '[CLOUD-KEY]', 'cloud-key');
    // words of the shape, no digit of base32 (2-7), the wrong length, or glued
    leftAlone('asiapacificregions');
    leftAlone('asiapacificregionsxy');
    leftAlone('akia' + 'iosfodnn8example');
    leftAlone('akia' + 'iosfodnn7exampl');
    leftAlone('xakia' + 'iosfodnn7example');
    leftAlone('Akia' + 'iosfodnn7example');
  });

  test('a labelled AWS secret with a space before the colon', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/' + 'bPxRfiCYEXAMPLEKEY';
    masksTo(`{"SecretAccessKey" : "${secret}"}`, '{"SecretAccessKey" : "[CLOUD-KEY]"}', 'cloud-key');
  });

  test('AWS secret keys only when labelled', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/' + 'bPxRfiCYEXAMPLEKEY';
    masksTo(`aws_secret_access_key = ${secret}`, 'aws_secret_access_key = [CLOUD-KEY]', 'cloud-key');
    masksTo(`{"SecretAccessKey": "${secret}"}`, '{"SecretAccessKey": "[CLOUD-KEY]"}', 'cloud-key');
    leftAlone(`blob ${secret}`);
  });

  test('GCP API keys and Azure storage account keys', () => {
    masksTo('AIza' + 'SyA1234567890abcdefghijklmnopqrstuv', '[CLOUD-KEY]', 'cloud-key');
    const connection = `DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=${'Zm9v'.repeat(22)}==;EndpointSuffix=core.windows.net`;
    masksTo(connection, 'DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=[CLOUD-KEY];EndpointSuffix=core.windows.net', 'cloud-key');
  });
});

describe('token', () => {
  test('provider tokens by prefix', () => {
    for (const token of [
      'ghp_' + 'a1B2'.repeat(9),
      'gho_' + 'x'.repeat(36),
      'ghs_' + 'Z9'.repeat(18),
      'github_pat_' + '11ABCDEFG0_' + 'abcdefghijklmnop',
      'glpat-' + 'x1Y2z3'.repeat(4),
      'xoxb-' + '1234567890-abcdefghij',
      'sk_live_' + 'a1'.repeat(12),
      'rk_live_' + 'abcdef0123456789',
      'npm_' + 'A1'.repeat(18),
      'sk-proj-' + 'ab12'.repeat(6),
      'sk-ant-api03-' + 'abcdEFGH1234ijklMNOP',
    ]) {
      masksTo(`token: ${token}`, 'token: [TOKEN]', 'token');
    }
  });

  test('Bearer tokens keep the scheme', () => {
    masksTo('Authorization: Bearer ' + 'abc123def456ghi789', 'Authorization: Bearer [TOKEN]', 'token');
  });

  test('look-alikes without a key in them are left alone', () => {
    leftAlone('sk-this-is-a-long-slug-name');
    leftAlone('Bearer authentication-required');
    leftAlone('ghp_short');
  });

  test('Authorization headers: the credentials of any known scheme, the scheme kept', () => {
    masksTo('Authorization: Bearer abc', 'Authorization: Bearer [TOKEN]', 'token');
    masksTo('Authorization: Basic dXNlcjpwYXNz', 'Authorization: Basic [TOKEN]', 'token');
    masksTo('authorization:basic dXNlcjpwYXNz\r\nHost: x', 'authorization:basic [TOKEN]\r\nHost: x', 'token');
    masksTo('Proxy-Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l', 'Proxy-Authorization: Basic [TOKEN]', 'token');
    masksTo('{"headers": {"Authorization": "Bearer abc.def"}}', '{"headers": {"Authorization": "Bearer [TOKEN]"}}', 'token');
    masksTo("{'authorization': 'Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b'}", "{'authorization': 'Token [TOKEN]'}", 'token');
    masksTo('Authorization: abc123def456ghi789', 'Authorization: [TOKEN]', 'token');
    masksTo(
      'Authorization: Digest username="bob", realm="x", response="6629fae49393a05397450978507c4ef1"',
      'Authorization: Digest [TOKEN]',
      'token',
    );
  });

  test('Authorization in prose, or with nothing after the scheme, is left alone', () => {
    leftAlone('authorization: pending review by manager');
    leftAlone('Authorization: Bearer');
    leftAlone('Authorization: required');
    leftAlone('Authorization: Bearer [TOKEN]');
    leftAlone('the authorization header was missing');
  });

  test('values labelled secret, token or key, the label kept', () => {
    masksTo('{"client_secret": "abc", "x": 1}', '{"client_secret": "[TOKEN]", "x": 1}', 'token');
    masksTo('{"API_KEY":"k"}', '{"API_KEY":"[TOKEN]"}', 'token');
    masksTo('apikey: "k"', 'apikey: "[TOKEN]"', 'token');
    masksTo('access_token=abc&state=x', 'access_token=[TOKEN]&state=x', 'token');
    masksTo('https://api.example.com/v1?token=abc&page=2', 'https://api.example.com/v1?token=[TOKEN]&page=2', 'token');
    masksTo('secret=hunter2', 'secret=[TOKEN]', 'token');
    masksTo('AUTH_TOKEN = s3cr3tvalue', 'AUTH_TOKEN = [TOKEN]', 'token');
    masksTo('X-Api-Key: 9f8e7d6c5b4a3210', 'X-Api-Key: [TOKEN]', 'token');
    masksTo('session_key: 8c1f4e2a9b', 'session_key: [TOKEN]', 'token');
    masksTo('jwtSecret: "correct horse"', 'jwtSecret: "[TOKEN]"', 'token');
    masksTo('private_key => "abc"', 'private_key => "[TOKEN]"', 'token');
    masksTo('{"refresh_token": "a\\"b"}', '{"refresh_token": "[TOKEN]"}', 'token');
  });

  test('a provider token under a token label is one [TOKEN], counted once', () => {
    const { out, counts } = mask('token: ghp_' + 'a1B2'.repeat(9));
    assert.equal(out, 'token: [TOKEN]');
    assert.deepEqual(counts, { token: 1 });
  });

  test('prose with the word token, counts, booleans, nulls and similar keys are left alone', () => {
    for (const text of [
      'the token is valid',
      'Invalid token: expired',
      'token: abc123',
      'secret: santa',
      '{"max_tokens": 4096, "prompt_tokens": 12}',
      '{"token_type": "bearer", "expires_in": 3600}',
      'secret=true',
      '"secret": false',
      '{"api_key": null}',
      'keyboard: qwerty',
      'monkey: 12345678',
      '{"token": ""}',
      'token_count=5',
      '{"token": "[TOKEN]"}',
    ]) {
      leftAlone(text);
    }
  });
});

describe('jwt', () => {
  test('three base64url segments whose header names an algorithm', () => {
    const jwt = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url({ sub: '1234567890' })}.${Buffer.from('signature').toString('base64url')}`;
    masksTo(`token ${jwt} end`, 'token [JWT] end', 'jwt');
    masksTo(`${base64url({ alg: 'none' })}.${base64url({ sub: '1' })}.`, '[JWT]', 'jwt');
  });

  test('a header that is not JSON with alg is left alone', () => {
    leftAlone(`${base64url({ foo: 1 })}.${base64url({ sub: '1' })}.c2ln`);
  });
});

describe('private-key', () => {
  test('whole BEGIN … END blocks of any key type', () => {
    for (const kind of ['RSA ', 'EC ', 'OPENSSH ', 'ENCRYPTED ', '']) {
      const block = `-----BEGIN ${kind}PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nQUJDREVG==\n-----END ${kind}PRIVATE KEY-----`;
      masksTo(`key:\n${block}\ndone`, 'key:\n[PRIVATE-KEY]\ndone', 'private-key');
    }
    masksTo('-----BEGIN PGP PRIVATE KEY BLOCK-----\nxcA\n-----END PGP PRIVATE KEY BLOCK-----', '[PRIVATE-KEY]', 'private-key');
  });

  test('a block cut off before its END is masked to the end', () => {
    masksTo('cut: -----BEGIN PRIVATE KEY-----\nMIIFHzBJBgkqhkiG9w0BBQ0w', 'cut: [PRIVATE-KEY]', 'private-key');
  });

  test('certificates and public keys are left alone', () => {
    leftAlone('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----');
    leftAlone('-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----');
  });
});

describe('connection-password', () => {
  test('only the password of a URL', () => {
    masksTo('postgres://alice:s3cr3t@db.example.com:5432/app', 'postgres://alice:[PASSWORD]@db.example.com:5432/app', 'connection-password');
    masksTo('mysql://root:p@ss:w0rd@10.0.0.5:3306/db', 'mysql://root:[PASSWORD]@10.0.0.5:3306/db', 'connection-password');
    masksTo('redis://:topsecret@cache:6379', 'redis://:[PASSWORD]@cache:6379', 'connection-password');
  });

  test('password= in connection strings, quotes kept', () => {
    masksTo('host=db user=app password=hunter2 dbname=x', 'host=db user=app password=[PASSWORD] dbname=x', 'connection-password');
    masksTo('Server=db;User Id=sa;Password=Str0ng!Pass;', 'Server=db;User Id=sa;Password=[PASSWORD];', 'connection-password');
    masksTo('jdbc:postgresql://db/x?user=a&password=b3c&ssl=true', 'jdbc:postgresql://db/x?user=a&password=[PASSWORD]&ssl=true', 'connection-password');
    masksTo("password='se cret'", "password='[PASSWORD]'", 'connection-password');
    masksTo('PGPASSWORD=abc123 psql', 'PGPASSWORD=[PASSWORD] psql', 'connection-password');
    masksTo("password='cut off", "password='[PASSWORD]", 'connection-password');
    // keys in any casing, as the detector reads them: the triggers in front of it must see them too
    masksTo('PassWord=hunter2', 'PassWord=[PASSWORD]', 'connection-password');
    masksTo('db pAsSwD = "x y"', 'db pAsSwD = "[PASSWORD]"', 'connection-password');
    // passwd is a key the detector reads: the trigger that lets secret detectors run must see it too
    masksTo('passwd=hunter2 host=db', 'passwd=[PASSWORD] host=db', 'connection-password');
    masksTo('DB_PASSWD=abc123', 'DB_PASSWD=[PASSWORD]', 'connection-password');
  });

  test('password: and JSON keys, the key and quotes kept', () => {
    masksTo('Password: hunter2', 'Password: [PASSWORD]', 'connection-password');
    masksTo('wifi password: correct horse battery staple', 'wifi password: [PASSWORD]', 'connection-password');
    masksTo('password: hunter2, user: bob', 'password: [PASSWORD], user: bob', 'connection-password');
    masksTo('Password: hunter2.\nNext line', 'Password: [PASSWORD].\nNext line', 'connection-password');
    masksTo('{"password": "x"}', '{"password": "[PASSWORD]"}', 'connection-password');
    masksTo('{"Password":"s3cr\\"et", "user": "bob"}', '{"Password":"[PASSWORD]", "user": "bob"}', 'connection-password');
    masksTo('{"db_password" : 12345678, "user": "bob"}', '{"db_password" : [PASSWORD], "user": "bob"}', 'connection-password');
    masksTo('{\\"password\\": \\"abc def\\"}', '{\\"password\\": \\"[PASSWORD]\\"}', 'connection-password');
    masksTo("{'PASSWORD': 'x'}", "{'PASSWORD': '[PASSWORD]'}", 'connection-password');
    masksTo('spring.datasource.password=hunter2', 'spring.datasource.password=[PASSWORD]', 'connection-password');
    masksTo('User{name=bob, password=abc}', 'User{name=bob, password=[PASSWORD]}', 'connection-password');
    masksTo('--password=hunter2 --host=db', '--password=[PASSWORD] --host=db', 'connection-password');
    masksTo('passphrase: my long pass phrase', 'passphrase: [PASSWORD]', 'connection-password');
    masksTo(':password => "x"', ':password => "[PASSWORD]"', 'connection-password');
    masksTo('pwd=x', 'pwd=[PASSWORD]', 'connection-password');
    masksTo('password:\t"x"', 'password:\t"[PASSWORD]"', 'connection-password');
  });

  test("SQL's PASSWORD 'x', as pg_stat_activity and server logs show CREATE and ALTER ROLE", () => {
    masksTo("ALTER ROLE app WITH PASSWORD 'hunter2' VALID UNTIL 'infinity'", "ALTER ROLE app WITH PASSWORD '[PASSWORD]' VALID UNTIL 'infinity'", 'connection-password');
    masksTo("create user bob password 'it''s'", "create user bob password '[PASSWORD]'", 'connection-password');
    masksTo('the password "hunter2" was rejected', 'the password "[PASSWORD]" was rejected', 'connection-password');
    leftAlone("ALTER ROLE app PASSWORD NULL");
    leftAlone("ALTER ROLE app WITH LOGIN PASSWORD ''");
    leftAlone("passphrase 'x' stays: only keys ending in d take a value after a space");
  });

  test('XML elements, the tags kept', () => {
    masksTo('<password>hunter2</password>', '<password>[PASSWORD]</password>', 'connection-password');
    masksTo('<row><id>1</id><db_password>s3 cret</db_password></row>', '<row><id>1</id><db_password>[PASSWORD]</db_password></row>', 'connection-password');
    masksTo('<ns:Password type="plain" >x</ns:Password>', '<ns:Password type="plain" >[PASSWORD]</ns:Password>', 'connection-password');
    masksTo('<apiKey>abc</apiKey>', '<apiKey>[TOKEN]</apiKey>', 'token');
    masksTo('<client_secret> abc </client_secret>', '<client_secret> [TOKEN] </client_secret>', 'token');
    leftAlone('<password></password>');
    leftAlone('<password>null</password>');
    leftAlone('<password_policy>strict</password_policy>');
    leftAlone('<p>Reset your password</p>');
  });

  test('password keys without a value, with a null-like one, or another key are left alone', () => {
    for (const text of [
      'password: null',
      '{"password": null}',
      'Password: None',
      '{"password": ""}',
      'password:',
      'Password: [PASSWORD]',
      '{"password_hash": "x", "password_changed_at": "2024-01-01"}',
      'passwords: 3',
      'Forgot your password? Reset it here',
      '{"password": {"min_length": 8}}',
    ]) {
      leftAlone(text);
    }
  });

  test('a URL with an @ but no password in its user info is left alone', () => {
    leftAlone('https://example.com/orders/123?page=3');
    leftAlone('https://example.com/@alice/posts');
    leftAlone('ssh://git@github.com/acme/repo.git');
  });

  test('URLs without a password, prose and masked text are left alone', () => {
    leftAlone('postgres://alice@db.example.com/app');
    leftAlone('password reset requested');
    leftAlone('postgres://u:[PASSWORD]@h/db');
  });
});

describe('detector selection', () => {
  test('only the listed detectors run', () => {
    const text = 'alice@example.com 4111 1111 1111 1111';
    assert.equal(mask(text, ['email']).out, '[EMAIL] 4111 1111 1111 1111');
    assert.equal(mask(text, ['payment-card']).out, 'alice@example.com ****1111');
    assert.equal(mask(text, []).out, text);
  });
});

describe('validators', () => {
  test('Luhn', () => {
    assert.equal(luhnValid('4111 1111 1111 1111', 0, 19), true);
    assert.equal(luhnValid('4111 1111 1111 1112', 0, 19), false);
  });

  test('card issuer ranges and lengths', () => {
    assert.equal(plausibleCardIssuer(4111, 16), true);
    assert.equal(plausibleCardIssuer(4111, 15), false);
    assert.equal(plausibleCardIssuer(3782, 15), true);
    assert.equal(plausibleCardIssuer(1234, 16), false);
    assert.equal(plausibleCardIssuer(2221, 16), true);
  });

  test('IBAN mod-97', () => {
    const iban = 'GB82 WEST 1234 5698 7654 32';
    assert.equal(ibanChecksumValid(iban, 0, iban.length), true);
    for (const same of ['gb82 west 1234 5698 7654 32', 'GB82-WEST-1234-5698-7654-32']) assert.equal(ibanChecksumValid(same, 0, same.length), true, same);
    const altered = 'GB82 WEST 1234 5698 7654 33';
    assert.equal(ibanChecksumValid(altered, 0, altered.length), false);
  });

  test('SSN rules', () => {
    assert.equal(ssnValid('123', '45', '6789'), true);
    assert.equal(ssnValid('666', '45', '6789'), false);
    assert.equal(ssnValid('912', '45', '6789'), false);
    assert.equal(ssnValid('123', '00', '6789'), false);
    assert.equal(ssnValid('123', '45', '0000'), false);
  });

  test('secret-looking values', () => {
    assert.equal(looksLikeSecret('abc123de'), true);
    assert.equal(looksLikeSecret('abcdefghijklmnop'), true);
    assert.equal(looksLikeSecret('abc123d'), false);
    assert.equal(looksLikeSecret('expiredtoken'), false);
    assert.equal(isSecretValue('NULL'), false);
    assert.equal(isSecretValue('False'), false);
    assert.equal(isSecretValue(''), false);
    assert.equal(isSecretValue('nullable'), true);
  });

  test('Spanish check letter', () => {
    assert.equal(spanishIdLetterValid(undefined, '12345678', 'Z'), true);
    assert.equal(spanishIdLetterValid('X', '1234567', 'L'), true);
    assert.equal(spanishIdLetterValid(undefined, '12345678', 'A'), false);
  });
});

describe('secret detector triggers', () => {
  const pieces = [
    '://', '@', ':', '=', '=>', ' ', '\t', '"', "'", '\\"', '{', '}', ',', 'a', 'Z', '0', '7', '/', 'user', 'PassWord', 'pwd', 'PWD', 'passwd', 'pAsS', 'wOrD',
    'passphrase', 'db_', 'AKIA', 'ASIA', 'akia', 'asia', 'iosfodnn7example', 'ABCDEFGHIJKLMNOP', 'AIza', 'AccountKey', 'SharedAccessKey', 'secret_access_key',
    'SECRET_Access', 'Key', 'aws_', 'eyJ', 'hbGciOiJIUzI1NiJ9', '.', '-----BEGIN ', 'RSA ', 'PRIVATE KEY-----', 'ghp_', 'glpat-', 'xoxb-', 'sk-', 'sk_live_', 'npm_',
    'Bearer ', 'bearer ', 'Basic ', 'Authorization', 'AUTHORIZATION', 'secret', 'Secret', 'TOKEN', 'token', 'api_key', 'X-Api-Key', 'client', 'null', 'x1Y2z3a4B5c6D7e8F9g0h1',
    'Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.', 'aws_secret_access_key = ', 'AccountKey=',
    '<', '>', '</', '<password>', '<api_key', '<secret>', ' a="b"', 'hunter2',
  ];

  test("every match of a scan's pattern contains its keyword and its detector's trigger: a trigger never hides a secret", () => {
    const next = seededRandom(3);
    let matched = 0;
    const matchedScans = new Set<RegExp>();
    for (let i = 0; i < 40_000; i++) {
      let text = '';
      const length = 1 + Math.floor(next() * 14);
      for (let k = 0; k < length; k++) text += pieces[Math.floor(next() * pieces.length)];
      for (const detector of SECRET_DETECTORS) {
        for (const scan of detector.scans) {
          scan.pattern.lastIndex = 0;
          const match = scan.pattern.exec(text);
          scan.pattern.lastIndex = 0;
          if (!match) continue;
          matched++;
          matchedScans.add(scan.pattern);
          assert.ok(scan.keyword.test(match[0]), `${detector.name}: ${JSON.stringify(match[0])} (in ${JSON.stringify(text)}) matched ${scan.pattern} without its keyword`);
          assert.ok(detector.trigger.test(match[0]), `${detector.name}: ${JSON.stringify(match[0])} matched without the trigger`);
          if (scan.mayMatch !== undefined) assert.ok(scan.mayMatch(text), `${detector.name}: ${JSON.stringify(text)} matched ${scan.pattern} where mayMatch says it cannot`);
        }
      }
    }
    assert.ok(matched > 1000, `the corpus exercises the patterns (${matched} matches)`);
    const scans = SECRET_DETECTORS.flatMap((d) => d.scans);
    assert.equal(matchedScans.size, scans.length, `every scan matched at least once: missing ${scans.filter((s) => !matchedScans.has(s.pattern)).map((s) => String(s.pattern).slice(0, 40)).join(', ')}`);
  });
});
