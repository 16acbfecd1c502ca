import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordingRecord } from '@airlock/shared';
import { buildRecord, hashLine, linksTo, serializeChained, serializeRecord } from '../../src/recording/chain.js';
import type { ChainBody } from '../../src/recording/chain.js';

const TS = '2025-03-01T09:00:00.000Z';

describe('chain helpers', () => {
  test('records keep the {seq, ts, type, …, prev} key order and chain fields win over the body', () => {
    const record = buildRecord({ type: 'note', message: 'hi', seq: 99, ts: 'x' } as unknown as ChainBody, 3, TS, 'a'.repeat(64));
    assert.equal(serializeRecord(record), `{"seq":3,"ts":"${TS}","type":"note","message":"hi","prev":"${'a'.repeat(64)}"}`);
  });

  test('serializeChained writes exactly the line of the built record', () => {
    const bodies: ChainBody[] = [
      { type: 'header', version: 1, recordingId: 'r', agentSessionId: 's', agentSessionName: 'n "quoted"', nonce: 'c'.repeat(32) },
      { type: 'note', message: 'ünïcode \u2028 and "quotes"' },
      { type: 'result', actionId: 'a', summary: '3 rows', durationMs: undefined, detail: { rows: [[1, null]] } },
      { type: 'seal', records: 4, reason: 'closed' },
      { type: 'note', message: 'carries its own seq', seq: 7 } as unknown as ChainBody,
    ];
    bodies.forEach((body, seq) => {
      const prev = seq === 0 ? null : hashLine(String(seq));
      assert.equal(serializeChained(body, seq, TS, prev), serializeRecord(buildRecord(body, seq, TS, prev)));
    });
  });

  test('a serialized record is one line even when its text has newlines', () => {
    const line = serializeRecord(buildRecord({ type: 'note', message: 'a\nb\r\nc' }, 1, TS, 'b'.repeat(64)));
    assert.equal(line.includes('\n'), false);
    assert.equal((JSON.parse(line) as { message: string }).message, 'a\nb\r\nc');
  });

  test('hashLine is SHA-256 hex of the UTF-8 bytes; strings and bytes agree', () => {
    assert.equal(hashLine(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(hashLine('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(hashLine('grüße'), hashLine(Buffer.from('grüße', 'utf8')));
    assert.notEqual(hashLine('grüße'), hashLine('grusse'));
  });

  test('linksTo compares a record’s prev with the previous line’s hash', () => {
    const header = buildRecord({ type: 'header', version: 1, recordingId: 'r', agentSessionId: 's', agentSessionName: 'n', nonce: 'c'.repeat(32) }, 0, TS, null);
    const headerHash = hashLine(serializeRecord(header));
    const next: RecordingRecord = buildRecord({ type: 'note', message: 'x' }, 1, TS, headerHash);
    assert.equal(linksTo(header, null), true);
    assert.equal(linksTo(next, headerHash), true);
    assert.equal(linksTo(next, hashLine(serializeRecord(next))), false);
    assert.equal(linksTo(next, null), false);
  });
});
