import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HostMessage, WebviewMessage } from '../../src/protocol/webview-messages.js';
import { MessageBuffer } from '../../src/webviews/message-buffer.js';
import { clock, detectorCounts, maskTooltip, tableModel, visibleRange } from '../../src/webview/models.js';
import { castDurationMs, framesUntil, parseAsciicast } from '../../src/state/asciicast.js';

describe('host/webview message protocol', () => {
  test('webview messages are validated: a deny needs a reason, unknown types and bad scopes are refused', () => {
    assert.equal(WebviewMessage.safeParse({ type: 'ready' }).success, true);
    assert.equal(WebviewMessage.safeParse({ type: 'approve', approvalId: 'a1', scope: 'session' }).success, true);
    assert.equal(WebviewMessage.safeParse({ type: 'approve', approvalId: 'a1', scope: 'forever' }).success, false);
    assert.equal(WebviewMessage.safeParse({ type: 'deny', approvalId: 'a1', reason: '   ' }).success, false);
    assert.equal(WebviewMessage.safeParse({ type: 'deny', approvalId: 'a1', reason: 'no' }).success, true);
    assert.equal(WebviewMessage.safeParse({ type: 'runShell', command: 'rm -rf /' }).success, false);
    assert.equal(WebviewMessage.safeParse('ready').success, false);
  });

  test('host messages are validated before a webview renders them', () => {
    assert.equal(HostMessage.safeParse({ type: 'error', message: 'daemon down' }).success, true);
    assert.equal(HostMessage.safeParse({ type: 'replay.state', state: { timeline: {}, truncated: false } }).success, false);
    assert.equal(HostMessage.safeParse({ type: 'masked.state', state: { outcome: 'allowed' } }).success, false);
  });

  test('buffered messages: a newer state replaces the older one of its kind, others queue in order, bounded', () => {
    const buffer = new MessageBuffer(3);
    buffer.push({ type: 'error', message: 'one' });
    buffer.push({ type: 'masked.state', state: { action: undefined as never, outcome: 'old' } });
    buffer.push({ type: 'masked.state', state: { action: undefined as never, outcome: 'new' } });
    buffer.push({ type: 'error', message: 'two' });
    assert.equal(buffer.size, 3);
    const drained = buffer.drain();
    assert.deepEqual(drained.map((m) => (m.type === 'error' ? m.message : m.type === 'masked.state' ? m.state.outcome : '')), ['one', 'new', 'two']);
    assert.equal(buffer.size, 0);
    for (let i = 0; i < 5; i++) buffer.push({ type: 'error', message: String(i) });
    assert.deepEqual(buffer.drain().map((m) => (m.type === 'error' ? m.message : '')), ['2', '3', '4']);
  });
});

describe('webview view models', () => {
  test('the masked table marks exactly the recorded masked cells, with their detectors in the tooltip', () => {
    const model = tableModel({
      columns: ['name', 'email', 'blob'],
      rows: [
        ['Ada', '[EMAIL]', null],
        ['Grace', 'x [EMAIL] and ****1111', 'ok'],
      ],
      truncated: false,
      masks: [
        { row: 0, column: 1, by: ['email'] },
        { row: 0, column: 2, by: ['SECRET'], nulled: true },
        { row: 1, column: 1, by: ['email', 'payment-card'] },
      ],
    });
    assert.deepEqual(model.columns, ['name', 'email', 'blob']);
    assert.equal(model.maskedCells, 3);
    assert.equal(model.rows[0]![0]!.maskedBy, undefined);
    assert.equal(maskTooltip(model.rows[0]![1]!), 'masked by email');
    assert.equal(model.rows[0]![2]!.isNull, true);
    assert.match(maskTooltip(model.rows[0]![2]!)!, /masked by SECRET \(a binary value.*NULL\)/);
    assert.equal(maskTooltip(model.rows[1]![1]!), 'masked by email, payment-card');
    assert.equal(model.rows[1]![2]!.maskedBy, undefined);
  });

  test('rows without a RowDescription get numbered columns', () => {
    assert.deepEqual(tableModel({ rows: [['a', 'b']], truncated: false, masks: [] }).columns, ['column 1', 'column 2']);
  });

  test('detector counts, largest first', () => {
    assert.deepEqual(detectorCounts({ cells: 5, byDetector: { phone: 1, email: 3, iban: 1 }, nulled: 0 }).map((c) => c.label), ['email', 'iban', 'phone']);
    assert.deepEqual(detectorCounts(undefined), []);
  });

  test('the player clock and the virtual list window', () => {
    assert.equal(clock(0), '00:00.0');
    assert.equal(clock(61_250), '01:01.3');
    assert.equal(clock(3_723_000), '1:02:03.0');
    assert.deepEqual(visibleRange(0, 260, 26, 1000, 0), { start: 0, end: 10 });
    assert.deepEqual(visibleRange(2600, 260, 26, 1000, 5), { start: 95, end: 115 });
    assert.deepEqual(visibleRange(26_000, 260, 26, 1000, 5), { start: 995, end: 1000 });
  });

  test('asciicast v2: output frames in order; a bad header or line is an error naming it', () => {
    const cast = parseAsciicast('{"version": 2, "width": 80, "height": 24}\n[0.1, "o", "$ ls\\r\\n"]\n[0.2, "i", "x"]\n[1.5, "o", "a b\\r\\n"]\n');
    assert.deepEqual(cast.frames, [{ time: 0.1, data: '$ ls\r\n' }, { time: 1.5, data: 'a b\r\n' }]);
    assert.equal(framesUntil(cast, 0), 0);
    assert.equal(framesUntil(cast, 1), 1);
    assert.equal(framesUntil(cast, 99), 2);
    assert.equal(castDurationMs(cast), 1_500);
    assert.throws(() => parseAsciicast('{"version": 1}'), /line 1/);
    assert.throws(() => parseAsciicast('{"version": 2, "width": 80, "height": 24}\nnot json'), /line 2 is not JSON/);
    assert.throws(() => parseAsciicast(''), /empty/);
  });
});
