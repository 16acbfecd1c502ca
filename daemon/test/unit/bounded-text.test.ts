import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { BoundedText, describeCut } from '@airlock/shared';
import { boundBytes, boundText } from '../../src/pipeline/bounded-text.js';

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

describe('bounded text', () => {
  test('a text within the limit is kept whole, with no cut (no length, no hash)', () => {
    assert.deepEqual(boundText('select 1', 256), { text: 'select 1' });
    assert.deepEqual(boundText('', 256), { text: '' });
    // 256 bytes exactly, of two-byte characters: fits, though 128 × 3 > 256 takes the slow path
    const exact = 'é'.repeat(128);
    assert.deepEqual(boundText(exact, 256), { text: exact });
    assert.deepEqual(boundText('a'.repeat(256), 256), { text: 'a'.repeat(256) });
  });

  test('one byte over: cut at the limit, with the whole text\'s byte length and SHA-256', () => {
    const text = 'a'.repeat(257);
    const bounded = boundText(text, 256);
    assert.equal(bounded.text, 'a'.repeat(256));
    assert.deepEqual(bounded.cut, { bytes: 257, keptBytes: 256, sha256: sha256(text) });
    assert.equal(BoundedText.safeParse(bounded).success, true);
  });

  test('a cut never splits a character: 2-, 3- and 4-byte characters and surrogate pairs', () => {
    for (const [ch, size] of [
      ['é', 2],
      ['€', 3],
      ['😀', 4],
    ] as const) {
      for (let prefix = 0; prefix < size; prefix++) {
        const text = 'a'.repeat(prefix) + ch.repeat(200);
        const bounded = boundText(text, 256);
        const kept = Buffer.byteLength(bounded.text, 'utf8');
        assert.ok(kept <= 256 && kept > 256 - size, `${ch} after ${prefix} ASCII: kept ${kept} bytes`);
        assert.ok(text.startsWith(bounded.text), `${ch} after ${prefix}: the kept text is a head of the text`);
        assert.ok(!bounded.text.includes('\ufffd'), 'no replacement character from half a character');
        assert.deepEqual(bounded.cut, { bytes: Buffer.byteLength(text, 'utf8'), keptBytes: kept, sha256: sha256(text) });
      }
    }
  });

  test('a lone surrogate is hashed as the UTF-8 the text would be sent as', () => {
    const text = `${'a'.repeat(300)}\ud800`;
    const bounded = boundText(text, 256);
    assert.equal(bounded.text, 'a'.repeat(256));
    assert.equal(bounded.cut?.sha256, sha256(Buffer.from(text, 'utf8')));
    assert.equal(bounded.cut?.bytes, 303);
  });

  test('bytes: hashed as they are, only the head decoded, cut at a character boundary', () => {
    const bytes = Buffer.from(`${'a'.repeat(255)}€${'b'.repeat(1000)}`, 'utf8');
    const bounded = boundBytes(bytes, 256);
    assert.equal(bounded.text, 'a'.repeat(255));
    assert.deepEqual(bounded.cut, { bytes: bytes.length, keptBytes: 255, sha256: sha256(bytes) });
    assert.deepEqual(boundBytes(Buffer.from('€'), 3), { text: '€' });
  });

  test('a large text costs its head, and the note reads as a person would say it', () => {
    const text = `select 1 /* ${'x'.repeat(12 * 1024 * 1024)} */`;
    const bounded = boundText(text, 64 * 1024);
    assert.equal(bounded.text.length, 64 * 1024);
    assert.equal(describeCut(bounded.cut!, 'statement'), `12 MiB statement, first 64 KiB shown, sha256 ${sha256(text)}`);
  });
});
