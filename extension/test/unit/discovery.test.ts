import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { discoverDaemon, resolveAirlockHome } from '../../src/daemon/discovery.js';

describe('finding the daemon', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-ext-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the setting wins over $AIRLOCK_HOME, which wins over ~/.airlock', () => {
    assert.equal(resolveAirlockHome('/srv/airlock', { AIRLOCK_HOME: '/x' }), '/srv/airlock');
    assert.equal(resolveAirlockHome('', { AIRLOCK_HOME: '/x' }), '/x');
    assert.equal(resolveAirlockHome(undefined, {}), path.join(os.homedir(), '.airlock'));
    assert.equal(resolveAirlockHome('~/a', {}), path.join(os.homedir(), 'a'));
  });

  test('missing, corrupt and stale daemon.json mean no daemon; a live one is found', async () => {
    assert.equal((await discoverDaemon(dir)).state, 'absent');
    writeFileSync(path.join(dir, 'daemon.json'), '{not json');
    const corrupt = await discoverDaemon(dir);
    assert.equal(corrupt.state, 'absent');
    assert.match(corrupt.state === 'absent' ? corrupt.reason : '', /not valid JSON/);
    const info = { pid: 4242, host: '127.0.0.1', port: 1234, token: 'x'.repeat(32), version: '0.1.0', startedAt: new Date().toISOString() };
    writeFileSync(path.join(dir, 'daemon.json'), JSON.stringify(info));
    const stale = await discoverDaemon(dir, () => false);
    assert.equal(stale.state, 'absent');
    const live = await discoverDaemon(dir, (pid) => pid === 4242);
    assert.equal(live.state === 'running' && live.info.port, 1234);
  });
});
