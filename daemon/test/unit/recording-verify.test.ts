import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RecordBody, VerifyResult } from '@airlock/shared';
import { buildRecord, hashLine, serializeRecord } from '../../src/recording/chain.js';
import type { ChainBody } from '../../src/recording/chain.js';
import { describeVerifyResult, scanLog, verifyLog } from '../../src/recording/verify.js';
import { RecordingWriter } from '../../src/recording/writer.js';

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'airlock-recording-verify-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function actionBody(i: number): RecordBody {
  return {
    type: 'action',
    action: {
      id: `act_${i}`,
      sessionId: 'ses_a',
      target: 'prod-db',
      protocol: 'postgres',
      kind: 'sql.query',
      summary: `SELECT id, email FROM users WHERE id = ${i}`,
      risk: 'low',
      attributes: { class: 'read', tables: ['users'], statementCount: 1 },
      detail: { sql: `SELECT id, email FROM users WHERE id = ${i}` },
      at: '2025-03-01T09:00:00.000Z',
    },
    decision: { decision: 'allow', ruleId: 'reads', reason: 'reads are fine' },
  };
}

function headerBody(recordingId: string): ChainBody {
  return { type: 'header', version: 1, recordingId, agentSessionId: 'ses_a', agentSessionName: 'claude', nonce: 'ab'.repeat(16) };
}

let counter = 0;
/** A real log written by RecordingWriter: header, `actions` action records and (by default) a seal. Returns its path and lines. */
async function writeLog(actions: number, options: { seal?: boolean } = {}): Promise<{ file: string; lines: string[]; id: string }> {
  counter += 1;
  const id = `rec-verify-${counter}`;
  const file = path.join(dir, `${id}.jsonl`);
  const writer = new RecordingWriter({ recordingId: id, file, mode: 'async', queueLimit: 100 });
  await writer.append(headerBody(id));
  for (let i = 0; i < actions; i++) await writer.append(actionBody(i));
  if (options.seal ?? true) await writer.seal('closed');
  else {
    await writer.flush();
    await writer.abort('test done');
  }
  return { file, lines: await readLines(file), id };
}

async function readLines(file: string): Promise<string[]> {
  const text = await fs.readFile(file, 'utf8');
  assert.ok(text.endsWith('\n'), 'a finished log ends with a newline');
  return text.slice(0, -1).split('\n');
}

async function writeLines(file: string, lines: string[], trailer = '\n'): Promise<void> {
  await fs.writeFile(file, lines.join('\n') + trailer);
}

/** A chain built by hand, for logs the writer would never produce. */
function chainLines(bodies: ChainBody[]): string[] {
  const lines: string[] = [];
  let prev: string | null = null;
  bodies.forEach((body, seq) => {
    const line = serializeRecord(buildRecord(body, seq, '2025-03-01T09:00:00.000Z', prev));
    lines.push(line);
    prev = hashLine(line);
  });
  return lines;
}

function expectError(result: VerifyResult, line: number, reason: RegExp): void {
  assert.equal(result.ok, false, `expected a verification error, got ${JSON.stringify(result)}`);
  assert.equal(result.error?.line, line, `error line: ${JSON.stringify(result.error)}`);
  assert.match(result.error?.reason ?? '', reason);
}

describe('verifyLog: intact logs', () => {
  test('a sealed log written by the writer verifies, with and without the index view', async () => {
    const { file, lines, id } = await writeLog(10);
    assert.equal(lines.length, 12);
    const plain = await verifyLog(file);
    assert.deepEqual(plain, { recordingId: id, ok: true, records: 12, sealed: true, torn: false });
    const withIndex = await verifyLog(file, { records: 12, head: hashLine(lines[11] as string), recordingId: id });
    assert.equal(withIndex.ok, true);
    assert.equal(withIndex.sealed, true);
  });

  test('an unsealed log verifies up to its last line, not sealed', async () => {
    const { file } = await writeLog(5, { seal: false });
    const result = await verifyLog(file);
    assert.equal(result.ok, true);
    assert.equal(result.sealed, false);
    assert.equal(result.records, 6);
  });

  test('an index that lags the log (fewer records) is fine', async () => {
    const { file, lines } = await writeLog(8);
    const result = await verifyLog(file, { records: 4, head: hashLine(lines[3] as string) });
    assert.equal(result.ok, true);
    assert.equal(result.records, 10);
  });

  test('an empty log verifies as zero records', async () => {
    const file = path.join(dir, 'empty.jsonl');
    await fs.writeFile(file, '');
    const result = await verifyLog(file);
    assert.equal(result.ok, true);
    assert.equal(result.records, 0);
    assert.equal(result.sealed, false);
  });
});

describe('verifyLog: tampering', () => {
  test('an edited record breaks the next line’s prev', async () => {
    const { file, lines } = await writeLog(10);
    const edited = lines.slice();
    edited[4] = (edited[4] as string).replace('SELECT id, email', 'SELECT id, phone');
    assert.notEqual(edited[4], lines[4]);
    await writeLines(file, edited);
    const result = await verifyLog(file);
    expectError(result, 6, /^prev does not match the SHA-256 of line 5 — the log was edited, reordered or lines were removed$/);
    assert.equal(result.error?.seq, 5);
    assert.match(describeVerifyResult(result), /: line 6 \(seq 5\): prev does not match the SHA-256 of line 5/);
    assert.equal(result.records, 5);
    assert.equal(result.sealed, false);
  });

  test('a single changed byte anywhere is caught', async () => {
    const { file, lines } = await writeLog(6);
    const original = await fs.readFile(file);
    // Flip one digit inside line 3 (the second action's id), keeping the line valid JSON.
    const offset = original.indexOf(Buffer.from('"act_1"')) + 5;
    const tampered = Buffer.from(original);
    tampered[offset] = '7'.charCodeAt(0);
    await fs.writeFile(file, tampered);
    const result = await verifyLog(file);
    expectError(result, 4, /prev does not match the SHA-256 of line 3/);
    assert.equal(lines.length, 8);
  });

  test('a deleted middle record is caught', async () => {
    const { file, lines } = await writeLog(10);
    await writeLines(file, [...lines.slice(0, 4), ...lines.slice(5)]);
    const result = await verifyLog(file);
    expectError(result, 5, /expected seq 4/);
    assert.equal(result.error?.seq, 5);
  });

  test('a deleted record with seqs renumbered is still caught by the chain', async () => {
    const { file, lines } = await writeLog(6);
    const kept = [...lines.slice(0, 3), ...lines.slice(4)].map((line, seq) => {
      const record = JSON.parse(line) as Record<string, unknown>;
      record.seq = seq;
      if (record.type === 'seal') record.records = seq;
      return JSON.stringify(record);
    });
    await writeLines(file, kept);
    const result = await verifyLog(file);
    expectError(result, 4, /prev does not match the SHA-256 of line 3/);
  });

  test('reordered records are caught', async () => {
    const { file, lines } = await writeLog(10);
    const swapped = lines.slice();
    [swapped[3], swapped[4]] = [swapped[4] as string, swapped[3] as string];
    await writeLines(file, swapped);
    const result = await verifyLog(file);
    expectError(result, 4, /expected seq 3/);
  });

  test('removing the seal is caught when the index knows the head', async () => {
    const { file, lines, id } = await writeLog(10);
    const expected = { records: lines.length, head: hashLine(lines[lines.length - 1] as string), recordingId: id };
    await writeLines(file, lines.slice(0, -1));
    const plain = await verifyLog(file);
    assert.equal(plain.ok, true, 'without the index, a log cut at a line boundary is a valid unsealed prefix');
    assert.equal(plain.sealed, false);
    const result = await verifyLog(file, expected);
    expectError(result, 12, /truncated: the index recorded 12 complete lines but the log has 11/);
    assert.equal(result.records, 11);
  });

  test('removing the last N lines is caught with the index counts', async () => {
    const { file, lines } = await writeLog(10);
    await writeLines(file, lines.slice(0, -4));
    const result = await verifyLog(file, { records: lines.length, head: hashLine(lines[lines.length - 1] as string) });
    expectError(result, 9, /truncated/);
  });

  test('truncation that leaves a torn line is still truncation', async () => {
    const { file, lines } = await writeLog(10);
    const cut = lines.slice(0, -3).join('\n') + '\n' + (lines[lines.length - 3] as string).slice(0, 20);
    await fs.writeFile(file, cut);
    const result = await verifyLog(file, { records: lines.length, head: null });
    expectError(result, 10, /truncated.*torn line/);
  });

  test('an edited last line is caught by the index head', async () => {
    const { file, lines } = await writeLog(4);
    const head = hashLine(lines[lines.length - 1] as string);
    const edited = lines.slice();
    edited[edited.length - 1] = (edited[edited.length - 1] as string).replace('"closed"', '"revoked"');
    assert.notEqual(edited[edited.length - 1], lines[lines.length - 1]);
    await writeLines(file, edited);
    assert.equal((await verifyLog(file)).ok, true, 'the chain alone cannot see an edit of its last line');
    const result = await verifyLog(file, { records: lines.length, head });
    expectError(result, lines.length, /head mismatch/);
  });

  test('a log under another recording’s name is caught', async () => {
    const { file, lines } = await writeLog(2);
    const result = await verifyLog(file, { records: lines.length, head: null, recordingId: 'rec-someone-else' });
    expectError(result, 1, /header names recording/);
  });

  test('a record appended after the seal is caught', async () => {
    const { file, lines } = await writeLog(3);
    const extra = serializeRecord(buildRecord({ type: 'note', message: 'late' }, lines.length, '2025-03-01T09:00:00.000Z', hashLine(lines[lines.length - 1] as string)));
    await writeLines(file, [...lines, extra]);
    const result = await verifyLog(file);
    expectError(result, lines.length + 1, /after the seal on line 5/);
  });

  test('a seal that miscounts the records before it is caught', async () => {
    const file = path.join(dir, 'miscount.jsonl');
    await writeLines(file, chainLines([headerBody('miscount'), actionBody(0), { type: 'seal', records: 5, reason: 'closed' }]));
    const result = await verifyLog(file);
    expectError(result, 3, /seal counts 5 records before it but there are 2/);
  });

  test('a log that does not start with its header is caught', async () => {
    const file = path.join(dir, 'headless.jsonl');
    await writeLines(file, chainLines([actionBody(0), actionBody(1)]));
    const result = await verifyLog(file);
    expectError(result, 1, /not a valid record|first record must be the header/);
  });

  test('a second header (logs spliced together) is caught', async () => {
    const file = path.join(dir, 'spliced.jsonl');
    await writeLines(file, chainLines([headerBody('spliced'), actionBody(0), headerBody('other')]));
    const result = await verifyLog(file);
    expectError(result, 3, /not a valid record|header may only be the first line/);
  });

  test('a line that is JSON but not a record is caught', async () => {
    const { file, lines } = await writeLog(3);
    const broken = lines.slice();
    broken[2] = JSON.stringify({ seq: 2, hello: 'world' });
    await writeLines(file, broken);
    const result = await verifyLog(file);
    expectError(result, 3, /not a valid record/);
    assert.equal(result.error?.seq, 2);
  });

  test('a missing log is an error naming the file', async () => {
    const file = path.join(dir, 'nope.jsonl');
    const result = await verifyLog(file);
    assert.equal(result.ok, false);
    assert.match(result.error?.reason ?? '', /cannot read .*nope\.jsonl: ENOENT/);
  });
});

describe('verifyLog: crash debris', () => {
  test('a torn last line (no newline) is reported as torn; everything before verifies', async () => {
    const { file, lines } = await writeLog(6, { seal: false });
    const torn = (JSON.stringify(actionBody(99)) as string).slice(0, 40);
    await fs.appendFile(file, torn);
    const scan = await scanLog(file, { records: lines.length, head: hashLine(lines[lines.length - 1] as string) });
    assert.deepEqual({ ok: scan.result.ok, torn: scan.result.torn, records: scan.result.records, error: scan.result.error }, {
      ok: true,
      torn: true,
      records: lines.length,
      error: undefined,
    });
    assert.equal(scan.lines, lines.length);
    assert.equal(scan.head, hashLine(lines[lines.length - 1] as string));
  });

  test('a complete-looking last line without its newline is still torn', async () => {
    const { file, lines } = await writeLog(3, { seal: false });
    const nextLine = serializeRecord(buildRecord(actionBody(3), lines.length, '2025-03-01T09:00:00.000Z', hashLine(lines[lines.length - 1] as string)));
    await fs.appendFile(file, nextLine);
    const result = await verifyLog(file);
    assert.equal(result.ok, true);
    assert.equal(result.torn, true);
    assert.equal(result.records, lines.length);
  });

  test('a last line that is not JSON (even with a newline) is torn', async () => {
    const { file, lines } = await writeLog(3, { seal: false });
    await fs.appendFile(file, '\0\0\0\0\n');
    const scan = await scanLog(file);
    assert.equal(scan.result.ok, true);
    assert.equal(scan.result.torn, true);
    assert.equal(scan.result.records, lines.length);
    assert.equal(scan.head, hashLine(lines[lines.length - 1] as string), 'the head is the last complete record, not the debris');
  });

  test('a torn line followed by more lines is corruption', async () => {
    const { file, lines } = await writeLog(8);
    const broken = lines.slice();
    broken[4] = (broken[4] as string).slice(0, 30);
    await writeLines(file, broken);
    const result = await verifyLog(file);
    expectError(result, 5, /not valid JSON, and more lines follow/);
    assert.equal(result.torn, false);
    assert.equal(result.records, 4);
  });

  test('a torn fragment after a seal is corruption', async () => {
    const { file, lines } = await writeLog(2);
    await fs.appendFile(file, '{"seq":');
    const result = await verifyLog(file);
    expectError(result, lines.length + 1, /data after the seal/);
  });
});
