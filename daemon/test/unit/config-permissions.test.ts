import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UnsafeDataDirError, checkDataDirPermissions, unsafeReason } from '../../src/config/permissions.js';

describe('data dir permissions: the pure check', () => {
  const table: [string, { uid: number; mode: number }, RegExp | null][] = [
    ['owner-only file', { uid: 1000, mode: 0o100600 }, null],
    ['readable by all, writable by the owner only', { uid: 1000, mode: 0o100644 }, null],
    ['private directory', { uid: 1000, mode: 0o040700 }, null],
    ['group-writable', { uid: 1000, mode: 0o100664 }, /writable by its group \(mode 0664\); fix with: chmod go-w \/d\/policy.yaml$/],
    ['world-writable', { uid: 1000, mode: 0o100646 }, /writable by others .*chmod go-w/],
    ['both', { uid: 1000, mode: 0o040777 }, /group and others/],
    ['owned by another user', { uid: 0, mode: 0o100600 }, /owned by uid 0, not by the daemon's user \(uid 1000\); fix with: chown alice \/d\/policy.yaml$/],
    ['owned by another user and writable', { uid: 0, mode: 0o100666 }, /chown alice \/d\/policy.yaml && chmod go-w \/d\/policy.yaml$/],
  ];
  for (const [name, facts, expected] of table) {
    test(name, () => {
      const reason = unsafeReason({ path: '/d/policy.yaml', ...facts }, 1000, 'alice');
      if (expected === null) assert.equal(reason, null);
      else assert.match(reason ?? '', expected);
    });
  }
});

describe('data dir permissions: real files', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-perm-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('missing files are fine, owner-only files are fine, a group-writable one is refused with the fix', async () => {
    const file = path.join(dir, 'config.yaml');
    await checkDataDirPermissions([dir, file]);
    writeFileSync(file, 'targets: []\n', { mode: 0o600 });
    await checkDataDirPermissions([dir, file]);
    chmodSync(file, 0o664);
    await assert.rejects(checkDataDirPermissions([dir, file]), (err: Error) => {
      assert.ok(err instanceof UnsafeDataDirError);
      assert.match(err.message, /^airlockd refuses to start: .*config\.yaml is writable by its group \(mode 0664\); fix with: chmod go-w .*config\.yaml$/);
      return true;
    });
  });
});
