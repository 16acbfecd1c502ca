import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuditFinding, RecordingSummary } from '@airlock/shared';
import { hashLine } from '../../src/recording/chain.js';
import { auditRecordings } from '../../src/recording/audit.js';
import type { LogFacts } from '../../src/recording/audit.js';
import { checkLedger, serializeLedgerEntry } from '../../src/recording/ledger-chain.js';
import type { LedgerBody, LedgerCheck, LedgerLine } from '../../src/recording/ledger-chain.js';
import { RecordingLedger, readLedger } from '../../src/recording/ledger.js';

const T0 = '2026-01-01T10:00:00.000Z';
const T1 = '2026-01-01T11:00:00.000Z';
const START = { type: 'start', version: 1, nonce: 'ab'.repeat(16) } as const;
const H = (c: string) => c.repeat(64);

/** The lines of a ledger with these entries after its start, chained as the daemon chains them. */
function ledgerLines(bodies: LedgerBody[]): string[] {
  const lines = [serializeLedgerEntry(START, 0, T0, null)];
  for (const [i, body] of bodies.entries()) lines.push(serializeLedgerEntry(body, i + 1, T1, hashLine(lines[i]!)));
  return lines;
}
const asLines = (texts: string[]): LedgerLine[] => texts.map((t) => ({ bytes: Buffer.from(t), complete: true }));

describe('ledger chain', () => {
  const bodies: LedgerBody[] = [
    { type: 'created', recordingId: 'rec-a', file: 'rec-a.jsonl', headerHash: H('1') },
    { type: 'sealed', recordingId: 'rec-a', lastSeq: 4, head: H('2') },
  ];

  test('an intact ledger checks, with every line hashed', () => {
    const lines = ledgerLines(bodies);
    const check = checkLedger(asLines(lines));
    assert.equal(check.error, undefined);
    assert.equal(check.torn, false);
    assert.deepEqual(check.entries.map((e) => e.type), ['start', 'created', 'sealed']);
    assert.deepEqual(check.hashes, lines.map((l) => hashLine(l)));
  });

  test('an edited entry breaks the link from the next one', () => {
    const lines = ledgerLines(bodies);
    lines[1] = lines[1]!.replace('rec-a.jsonl', 'rec-b.jsonl');
    assert.deepEqual(checkLedger(asLines(lines)).error, { line: 3, reason: 'prev does not match the SHA-256 of line 2 — the ledger was edited or entries were removed' });
  });

  test('a removed entry is named by its seq', () => {
    const lines = ledgerLines(bodies);
    lines.splice(1, 1);
    assert.match(checkLedger(asLines(lines)).error?.reason ?? '', /expected seq 1, found 2 — entries were removed/);
  });

  test('a ledger whose beginning was cut off does not check', () => {
    const lines = ledgerLines(bodies).slice(1);
    assert.match(checkLedger(asLines(lines)).error?.reason ?? '', /the first entry must be the ledger's start, found "created"/);
  });

  test('a last line cut short by a crash is torn, not tampering; a broken line with more after it is tampering', () => {
    const lines = ledgerLines(bodies);
    const torn = checkLedger([...asLines(lines.slice(0, 2)), { bytes: Buffer.from(lines[2]!.slice(0, 20)), complete: false }]);
    assert.equal(torn.error, undefined);
    assert.equal(torn.torn, true);
    assert.equal(torn.hashes.length, 2);
    const unparsedLast = checkLedger(asLines([...lines.slice(0, 2), lines[2]!.slice(0, 20)]));
    assert.equal(unparsedLast.error, undefined);
    assert.equal(unparsedLast.torn, true);
    const unparsedMiddle = checkLedger(asLines([lines[0]!, lines[1]!.slice(0, 20), lines[2]!]));
    assert.deepEqual(unparsedMiddle.error, { line: 2, reason: 'not valid JSON, and more lines follow — the ledger was edited or corrupted' });
  });

  test('an entry that fails the schema is named', () => {
    const lines = ledgerLines(bodies);
    lines[2] = lines[2]!.replace('"lastSeq":4', '"lastSeq":"4"');
    assert.match(checkLedger(asLines(lines)).error?.reason ?? '', /^not a valid ledger entry \(lastSeq: /);
  });
});

describe('audit: logs, index and ledger against one another', () => {
  /** A ledger of one sealed recording a (header pointing at entry 0), and b created after it (pointing at entry 2). */
  function world() {
    const lines = ledgerLines([
      { type: 'created', recordingId: 'a', file: 'a.jsonl', headerHash: H('a') },
      { type: 'sealed', recordingId: 'a', lastSeq: 3, head: H('e') },
      { type: 'created', recordingId: 'b', file: 'b.jsonl', headerHash: H('b') },
      { type: 'sealed', recordingId: 'b', lastSeq: 5, head: H('f') },
    ]);
    const ledger: LedgerCheck = checkLedger(asLines(lines));
    const hashes = ledger.hashes;
    const logs: LogFacts[] = [
      { file: 'a.jsonl', recordingId: 'a', header: { recordingId: 'a', ts: T1, ledger: { seq: 0, head: hashes[0]! } }, headerHash: H('a'), lines: 4, head: H('e'), sealed: true },
      { file: 'b.jsonl', recordingId: 'b', header: { recordingId: 'b', ts: T1, ledger: { seq: 2, head: hashes[2]! } }, headerHash: H('b'), lines: 6, head: H('f'), sealed: true },
    ];
    const summary = (id: string): RecordingSummary => ({ id, agentSessionId: 's', agentSessionName: 'n', file: `${id}.jsonl`, startedAt: T1, endedAt: T1, records: 1, head: null, state: 'sealed', actions: 0 });
    return { ledger, logs, index: [summary('a'), summary('b')], lines };
  }
  const errors = (findings: AuditFinding[]) => findings.filter((f) => f.severity === 'error').map((f) => f.message);
  const audit = (w: ReturnType<typeof world>) => auditRecordings({ ledger: w.ledger, ledgerFile: 'ledger.jsonl', index: w.index, logs: w.logs });

  test('a consistent data dir has no findings', () => {
    assert.deepEqual(audit(world()), []);
  });

  test('a missing log fails, named once', () => {
    const w = world();
    w.logs.shift();
    assert.deepEqual(errors(audit(w)), ['recording a: the ledger records its creation (entry 1) but its log a.jsonl is missing — it was deleted']);
  });

  test('a log that does not end at the sealed head fails; one appended to after an interrupted head fails', () => {
    const w = world();
    w.logs[1]!.head = H('0');
    assert.deepEqual(errors(audit(w)), ['recording b: b.jsonl does not end at the seal the ledger recorded (line 6, entry 4) — the log was rewritten or truncated']);
    const v = world();
    v.ledger.entries[4] = { seq: 4, ts: T1, type: 'interrupted', recordingId: 'b', lastSeq: 4, head: H('f'), prev: v.ledger.hashes[3]! };
    assert.match(errors(audit(v))[0] ?? '', /^recording b: b\.jsonl does not end at line 5 with the hash the ledger recorded when it was interrupted/);
  });

  test('created but never ended is interrupted, not an error', () => {
    const w = world();
    w.ledger.entries.pop();
    const findings = audit(w);
    assert.deepEqual(errors(findings), []);
    assert.deepEqual(findings.map((f) => [f.severity, f.recordingId]), [['interrupted', 'b']]);
  });

  test('a crash after the recording was registered and before its log was created is interrupted, not a deletion', () => {
    const w = world();
    w.ledger.entries.pop();
    w.logs.pop();
    w.index[1] = { ...w.index[1]!, state: 'open', records: 0, endedAt: null };
    const findings = audit(w);
    assert.deepEqual(errors(findings), []);
    assert.deepEqual(findings.map((f) => f.message), ['recording b: registered, but its log was never created: the daemon stopped before it could write the first line']);
    // but a sealed one cannot be excused that way
    const v = world();
    v.logs.pop();
    v.index[1] = { ...v.index[1]!, state: 'open', records: 0, endedAt: null };
    assert.equal(errors(audit(v)).length, 1);
  });

  test('a log whose header points past the end of the ledger means the ledger was truncated', () => {
    const w = world();
    const cut = checkLedger(asLines(w.lines.slice(0, 2)));
    const findings = auditRecordings({ ledger: cut, ledgerFile: 'ledger.jsonl', index: w.index, logs: w.logs });
    assert.deepEqual(errors(findings), ['recording b: its header refers to ledger entry 2, but the ledger ends at entry 1 — the ledger was truncated']);
    assert.deepEqual(findings.filter((f) => f.severity === 'interrupted').map((f) => f.recordingId), ['a']);
  });

  test('a ledger re-chained without an entry is caught by the header of a later log', () => {
    const w = world();
    const rewritten = ledgerLines([
      { type: 'created', recordingId: 'b', file: 'b.jsonl', headerHash: H('b') },
      { type: 'sealed', recordingId: 'b', lastSeq: 5, head: H('f') },
    ]);
    w.logs.shift();
    w.index.shift();
    const findings = auditRecordings({ ledger: checkLedger(asLines(rewritten)), ledgerFile: 'ledger.jsonl', index: w.index, logs: w.logs });
    assert.deepEqual(errors(findings), ['recording b: its header refers to ledger entry 2 with a hash the ledger does not have there — the ledger was rewritten or truncated']);
  });

  test('no ledger: logs pointing into one fail; logs without a reference pass with a note', () => {
    const w = world();
    const findings = auditRecordings({ ledger: null, ledgerFile: 'ledger.jsonl', index: w.index, logs: w.logs });
    assert.equal(errors(findings).length, 2);
    assert.match(errors(findings)[0]!, /^recording a: its header refers to entry 0 of the recordings ledger, but there is no ledger ledger\.jsonl — the ledger was deleted$/);
    for (const log of w.logs) delete log.header!.ledger;
    const old = auditRecordings({ ledger: null, ledgerFile: 'ledger.jsonl', index: w.index, logs: w.logs });
    assert.deepEqual(errors(old), []);
    assert.match(old.at(-1)!.message, /there is no recordings ledger/);
  });

  test('a log from after the ledger started that the ledger does not know fails; one from before is a note', () => {
    const w = world();
    const stray: LogFacts = { file: 'c.jsonl', recordingId: 'c', header: { recordingId: 'c', ts: T1 }, headerHash: H('c'), lines: 2, head: H('d'), sealed: true };
    w.logs.push(stray);
    assert.deepEqual(errors(audit(w)), [`recording c: c.jsonl was started after the ledger (${T0}) but is not in it — the log was made or rewritten outside the daemon`]);
    stray.header!.ts = '2025-01-01T00:00:00.000Z';
    const findings = audit(w);
    assert.deepEqual(errors(findings), []);
    assert.deepEqual(findings.map((f) => f.severity), ['note', 'note'], 'not in the index, and predating the ledger');
  });

  test('an index entry whose log is missing fails even when the ledger never knew it', () => {
    const w = world();
    w.index.push({ ...w.index[0]!, id: 'old', file: 'old.jsonl', startedAt: '2025-01-01T00:00:00.000Z' });
    assert.deepEqual(errors(audit(w)), ['recording old is in the session index but its log old.jsonl is missing — it was deleted']);
  });
});

describe('ledger file', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'airlock-ledger-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('starts a ledger, appends in order, and resumes after a crash that tore the last line', async () => {
    const file = path.join(dir, 'ledger.jsonl');
    const ledger = new RecordingLedger(file);
    assert.deepEqual(await ledger.open(), { started: true });
    const ref = ledger.ref;
    assert.equal(ref.seq, 0);
    await Promise.all([
      ledger.append({ type: 'created', recordingId: 'a', file: 'a.jsonl', headerHash: H('a') }),
      ledger.append({ type: 'created', recordingId: 'b', file: 'b.jsonl', headerHash: H('b') }),
    ]);
    assert.equal(ledger.ref.seq, 2);
    await ledger.close();
    // a crash mid-append leaves part of a line
    await fs.appendFile(file, '{"seq":3,"ts":"2026-01');
    const torn = await readLedger(file);
    assert.equal(torn?.torn, true);
    assert.equal(torn?.error, undefined);

    const again = new RecordingLedger(file);
    assert.deepEqual(await again.open(), { started: false });
    assert.equal(again.ref.seq, 2);
    await again.append({ type: 'sealed', recordingId: 'a', lastSeq: 3, head: H('e') });
    await again.close();
    const check = await readLedger(file);
    assert.equal(check?.error, undefined);
    assert.equal(check?.torn, false);
    assert.deepEqual(check?.entries.map((e) => [e.seq, e.type]), [[0, 'start'], [1, 'created'], [2, 'created'], [3, 'sealed']]);
    assert.equal(check?.hashes[0], ref.head);

    // debris with its newline (the text never reached the disk): dropped too, and the chain goes on from entry 3
    await fs.appendFile(file, '\u0000\u0000\u0000\n');
    const third = new RecordingLedger(file);
    await third.open();
    assert.equal(third.ref.seq, 3);
    await Promise.all([
      third.append({ type: 'sealed', recordingId: 'b', lastSeq: 2, head: H('f') }),
      third.append({ type: 'created', recordingId: 'c', file: 'c.jsonl', headerHash: H('c') }),
    ]);
    await third.close();
    const last = await readLedger(file);
    assert.equal(last?.error, undefined);
    assert.deepEqual(last?.entries.map((e) => e.seq), [0, 1, 2, 3, 4, 5]);
  });

  test('a held entry keeps its place in the chain, and holds back the entries after it until released', async () => {
    const file = path.join(dir, 'held.jsonl');
    const ledger = new RecordingLedger(file);
    await ledger.open();
    const held = ledger.appendHeld({ type: 'created', recordingId: 'a', file: 'a.jsonl', headerHash: H('a') });
    let laterWritten = false;
    const later = ledger.append({ type: 'created', recordingId: 'b', file: 'b.jsonl', headerHash: H('b') }).then(() => (laterWritten = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(laterWritten, false, 'nothing after the held entry is written');
    assert.equal((await readLedger(file))?.entries.length, 1);
    held.release();
    held.release();
    await Promise.all([held.written, later]);
    const check = await readLedger(file);
    assert.equal(check?.error, undefined);
    assert.deepEqual(check?.entries.map((e) => (e.type === 'created' ? e.recordingId : e.type)), ['start', 'a', 'b']);
    // a hold never released is written at close rather than lost with everything after it
    const stuck = ledger.appendHeld({ type: 'sealed', recordingId: 'a', lastSeq: 2, head: H('e') });
    await ledger.close();
    await stuck.written;
    assert.equal((await readLedger(file))?.entries.length, 4);
  });

  test('no ledger file reads as null', async () => {
    assert.equal(await readLedger(path.join(dir, 'none.jsonl')), null);
  });
});
