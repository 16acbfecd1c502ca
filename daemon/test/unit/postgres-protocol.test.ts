import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from 'pg-protocol';
import { MessageFramer, ProtocolError, parseStartupPacket, readBind, readDataRow, readParse } from '../../src/proxies/postgres/protocol.js';
import { ScramClientExchange, ScramServerExchange } from '../../src/proxies/postgres/scram.js';
import { scramVerifier } from '../../src/sessions/scram-verifier.js';
import { cacheKey } from '../../src/proxies/postgres/classification.js';
import { ResultSample, RowMasker, type CellMark } from '../../src/proxies/postgres/results.js';
import { MaskReportBuilder, compileMasking } from '../../src/masking/index.js';

describe('PostgreSQL framing and frontend messages', () => {
  test('messages split across chunks and several in one chunk', () => {
    const framer = new MessageFramer(1024, false);
    const bytes = Buffer.concat([serialize.query('SELECT 1'), serialize.sync(), serialize.query('SELECT 2')]);
    framer.push(bytes.subarray(0, 3));
    assert.equal(framer.next(), null);
    framer.push(bytes.subarray(3, 20));
    assert.equal(framer.next()?.type, 'Q');
    framer.push(bytes.subarray(20));
    assert.equal(framer.next()?.type, 'S');
    assert.equal(framer.next()?.body.toString('utf8'), 'SELECT 2\0');
    assert.equal(framer.next(), null);
  });

  test('an oversized or negative length is a protocol error before its body is buffered', () => {
    const framer = new MessageFramer(1024, false);
    const head = Buffer.from([0x51, 0, 0x10, 0, 0]);
    framer.push(head);
    assert.throws(() => framer.next(), (e: unknown) => e instanceof ProtocolError && e.code === '08P01' && /exceeds the limit of 1024 bytes/.test(e.message));
    const bad = new MessageFramer(1024, false);
    bad.push(Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff]));
    assert.throws(() => bad.next(), /invalid message length/);
  });

  test('startup, SSLRequest and CancelRequest packets', () => {
    const startup = parseStartupPacket(serialize.startup({ user: 'agent', database: 'app' }));
    assert.equal(startup.kind, 'startup');
    assert.equal(startup.kind === 'startup' && startup.params.get('database'), 'app');
    assert.deepEqual(parseStartupPacket(serialize.requestSsl()), { kind: 'ssl' });
    assert.deepEqual(parseStartupPacket(serialize.cancel(42, -7)), { kind: 'cancel', processId: 42, secretKey: -7 });
    const framer = new MessageFramer(1024, true);
    framer.push(Buffer.from([0, 0, 0, 3, 1, 2, 3]));
    assert.throws(() => framer.nextStartup(), /invalid startup packet length/);
  });

  test('Parse and Bind round-trip with pg-protocol\'s serializer; a short body is an error', () => {
    const parse = readParse(serialize.parse({ name: 's1', text: 'SELECT $1', types: [23] }).subarray(5));
    assert.deepEqual(parse, { name: 's1', sql: 'SELECT $1', paramTypes: [23] });
    const bind = readBind(serialize.bind({ portal: 'p', statement: 's1', values: ['x', null] }).subarray(5));
    assert.equal(bind.portal, 'p');
    assert.equal(bind.params[0]?.toString(), 'x');
    assert.equal(bind.params[1], null);
    assert.throws(() => readParse(Buffer.from('s1\0SELECT')), ProtocolError);
  });

  test('a masked DataRow keeps its column count and recomputes every length (-1 is NULL)', () => {
    const masker = compileMasking({ columns: [{ columns: '*secret*', label: 'REDACTED' }], custom: [] }, 'db');
    const row = dataRow([Buffer.from('a@example.com'), null, Buffer.from(''), Buffer.from([0, 0, 0, 7]), Buffer.from('plain')]);
    const columns = [
      { name: 'email', typeOid: 25, format: 0 },
      { name: 'n', typeOid: 25, format: 0 },
      { name: 'e', typeOid: 25, format: 0 },
      { name: 'secret_id', typeOid: 23, format: 1 },
      { name: 'p', typeOid: 25, format: 0 },
    ];
    const report = new MaskReportBuilder();
    const rebuilt = new RowMasker(columns, masker).maskRow(row.subarray(5), report)!;
    assert.equal(rebuilt[0], 0x44);
    assert.equal(rebuilt.readInt32BE(1), rebuilt.length - 1);
    const back = readDataRow(rebuilt.subarray(5));
    assert.equal(back.length, 5);
    assert.equal(back[0]?.toString(), '[EMAIL]');
    assert.equal(back[1], null);
    assert.equal(back[2]?.length, 0);
    assert.equal(back[3], null, 'a binary int a column rule wants masked is sent as NULL');
    assert.equal(back[4]?.toString(), 'plain');
    assert.deepEqual(report.toReport(), { cells: 2, byDetector: { email: 1, REDACTED: 1 }, nulled: 1 });
    const untouched = dataRow([Buffer.from('nothing here')]);
    assert.equal(new RowMasker([columns[4]!], masker).maskRow(untouched.subarray(5), report), null);
    assert.throws(() => readDataRow(Buffer.from([0, 1, 0, 0, 0, 9, 1])), /longer than the message/);
  });

  test('the recorded sample marks each masked cell with its rule or detectors, never the original', () => {
    const masker = compileMasking({ columns: [{ columns: '*secret*', label: 'REDACTED' }], custom: [] }, 'db');
    const columns = [
      { name: 'email', typeOid: 25, format: 0 },
      { name: 'note', typeOid: 25, format: 0 },
      { name: 'secret_id', typeOid: 23, format: 1 },
      { name: 'p', typeOid: 25, format: 0 },
    ];
    const rowMasker = new RowMasker(columns, masker);
    const sample = new ResultSample(10, 65536);
    const report = new MaskReportBuilder();
    for (const values of [
      [Buffer.from('a@example.com'), Buffer.from('card 4111 1111 1111 1111 to b@example.org'), Buffer.from([0, 0, 0, 7]), Buffer.from('plain')],
      [Buffer.from('nobody'), null, null, Buffer.from('plain')],
    ]) {
      const marks: CellMark[] = [];
      const raw = dataRow(values);
      const rebuilt = rowMasker.maskRow(raw.subarray(5), report, marks);
      sample.add(readDataRow((rebuilt ?? raw).subarray(5)), columns, marks);
    }
    const sorted = sample.masks.map((m) => ({ ...m, by: [...m.by].sort() }));
    assert.deepEqual(sorted, [
      { row: 0, column: 0, by: ['email'] },
      { row: 0, column: 1, by: ['email', 'payment-card'] },
      { row: 0, column: 2, by: ['REDACTED'], nulled: true },
    ]);
    assert.equal(sample.rows[0]![0], '[EMAIL]');
    assert.ok(!JSON.stringify(sample).includes('a@example.com') && !JSON.stringify(sample).includes('4111 1111'), 'no original value is kept');
    assert.deepEqual(sample.rows[1], ['nobody', null, null, 'plain']);
  });
});

function dataRow(values: (Buffer | null)[]): Buffer {
  const parts = values.map((v) => {
    const len = Buffer.alloc(4);
    len.writeInt32BE(v === null ? -1 : v.length);
    return v === null ? len : Buffer.concat([len, v]);
  });
  const count = Buffer.alloc(2);
  count.writeInt16BE(values.length);
  const body = Buffer.concat([count, ...parts]);
  const head = Buffer.alloc(5);
  head[0] = 0x44;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

describe('SCRAM-SHA-256 both ways', () => {
  const salt = Buffer.from('0123456789abcdef');
  const token = 'alk_example-token';
  const verifier = scramVerifier(token, salt, 4096);

  test('the right token is found among candidates and the server proves itself', () => {
    const client = new ScramClientExchange(token);
    const server = new ScramServerExchange(salt, 4096);
    const serverFirst = server.start('SCRAM-SHA-256', client.clientFirst());
    const other = scramVerifier('alk_other', salt, 4096);
    const match = server.finish(client.clientFinal(serverFirst), [other, verifier]);
    assert.equal(match?.index, 1);
    client.verifyServerFinal(match!.serverFinal);
  });

  test('an upstream asking for more key-derivation rounds than Airlock computes is refused before any work', () => {
    const client = new ScramClientExchange(token);
    const nonce = /r=([^,]+)/.exec(client.clientFirst())![1]!;
    const serverFirst = `r=${nonce}server,s=${salt.toString('base64')},i=2000000000`;
    assert.throws(() => client.clientFinal(serverFirst), /asked for 2000000000 SCRAM iterations; Airlock computes at most 409600/);
    assert.match(client.clientFinal(serverFirst.replace('i=2000000000', 'i=409600')), /,p=/, 'the largest count Airlock accepts still logs in');
  });

  test('a wrong token matches nothing; channel binding and other mechanisms are refused', () => {
    const client = new ScramClientExchange('alk_wrong');
    const server = new ScramServerExchange(salt, 4096);
    const serverFirst = server.start('SCRAM-SHA-256', client.clientFirst());
    assert.equal(server.finish(client.clientFinal(serverFirst), [verifier]), null);
    assert.throws(() => new ScramServerExchange(salt, 4096).start('SCRAM-SHA-256-PLUS', 'p=tls-server-end-point,,n=,r=x'), /not supported/);
    assert.throws(() => new ScramServerExchange(salt, 4096).start('SCRAM-SHA-256', 'p=tls-server-end-point,,n=,r=x'), /channel binding/);
  });

  test('a forged server signature is rejected by the client', () => {
    const client = new ScramClientExchange(token);
    const server = new ScramServerExchange(salt, 4096);
    client.clientFinal(server.start('SCRAM-SHA-256', client.clientFirst()));
    assert.throws(() => client.verifyServerFinal('v=' + Buffer.alloc(32).toString('base64')), /could not prove/);
    assert.throws(() => client.verifyServerFinal('v=AAAA'), /could not prove/);
  });
});

describe('classification cache key', () => {
  test('numeric constants share a key; quoted text, identifiers and parameters do not change', () => {
    assert.equal(cacheKey('SELECT abalance FROM pgbench_accounts WHERE aid = 12345;'), 'SELECT abalance FROM pgbench_accounts WHERE aid = 0;');
    assert.equal(cacheKey("SELECT '123' FROM t1 WHERE x = 1.5e3 AND y = $2"), "SELECT '123' FROM t1 WHERE x = 0 AND y = $2");
    assert.equal(cacheKey('SELECT * FROM "1"'), 'SELECT * FROM "1"');
    assert.equal(cacheKey('SELECT 1 -- 42\n, 2'), 'SELECT 0 -- 42\n, 0');
  });

  test('dollar quotes and backslashes are keyed by the exact text', () => {
    const body = 'DO $$ BEGIN PERFORM 1; END $$';
    assert.equal(cacheKey(body), body);
    const escaped = "SELECT E'it\\'s' , 5";
    assert.equal(cacheKey(escaped), escaped);
  });
});
