import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser } from '../src/index.js';

describe('text/event-stream parser', () => {
  test('messages split anywhere, multi-line data, comments, CRLF, last id', () => {
    const text = 'retry: 1000\n\n: heartbeat\n\nid: r.1\nevent: a\ndata: {"x":\ndata: 1}\n\r\nid: r.2\nevent: b\ndata: two\n\n';
    for (let cut = 0; cut < text.length; cut++) {
      const p = new SseParser();
      const got = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      assert.deepEqual(got, [
        { id: 'r.1', event: 'a', data: '{"x":\n1}' },
        { id: 'r.2', event: 'b', data: 'two' },
      ]);
      assert.equal(p.comments, 1);
      assert.equal(p.lastEventId, 'r.2');
    }
  });
});
