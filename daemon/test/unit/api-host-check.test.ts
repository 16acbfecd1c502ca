import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isAllowedHost } from '../../src/api/host-check.js';

describe('control API Host check', () => {
  const allowed = (host: string | undefined, bound = '127.0.0.1') => isAllowedHost(host, bound, 7777);

  test('loopback names and the bound address, with the API port or none', () => {
    for (const host of ['localhost', 'LOCALHOST:7777', '127.0.0.1', '127.0.0.1:7777', '[::1]', '[::1]:7777']) assert.equal(allowed(host), true, host);
    assert.equal(allowed('10.0.0.5:7777', '10.0.0.5'), true);
    assert.equal(allowed('[fe80::1]:7777', 'fe80::1'), true);
    assert.equal(allowed('[FE80::1]', 'fe80::1'), true);
  });

  test('any other name, another port, or no Host is refused', () => {
    for (const host of [
      undefined,
      '',
      'evil.example',
      'evil.example:7777',
      'localhost:7778',
      '127.0.0.1:80',
      'localhost.',
      'localhost.evil.example',
      '127.0.0.1.nip.io:7777',
      '127.0.0.2:7777',
      '[::1]:7778',
      '::1',
      'localhost:7777:7777',
      'user@localhost:7777',
      '10.0.0.5:7777',
    ]) {
      assert.equal(allowed(host), false, String(host));
    }
  });
});
