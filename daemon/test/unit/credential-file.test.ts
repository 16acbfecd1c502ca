import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkCredentialFile, readCredentialFile } from '../../src/config/credential-file.js';

/** Real files with real modes; the daemon's user is this test process's. */
describe('credential files: only the daemon user may read them', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-cred-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function secretFile(name: string, mode: number): string {
    const file = path.join(dir, name);
    writeFileSync(file, 's3cret\n');
    chmodSync(file, mode);
    return file;
  }

  test('0644 and 0640 are refused at load and at read, with chmod 600 in the message', () => {
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      const file = secretFile(`pw-${mode.toString(8)}`, mode);
      const message = `target "app": the credential file ${file} can be read or changed by other users (mode 0${mode.toString(8)}); Airlock uses it only if no one but its own user can, as ssh does for private keys (run chmod 600 ${file})`;
      assert.throws(() => checkCredentialFile('app', file), { name: 'CredentialFileError', message });
      assert.throws(() => readCredentialFile('app', file), { name: 'CredentialFileError', message });
    }
  });

  test('0600 and 0400 are read (one trailing newline dropped); a missing file is reported when read', () => {
    for (const mode of [0o600, 0o400]) {
      const file = secretFile(`ok-${mode.toString(8)}`, mode);
      assert.doesNotThrow(() => checkCredentialFile('app', file));
      assert.equal(readCredentialFile('app', file), 's3cret');
    }
    const missing = path.join(dir, 'missing');
    assert.doesNotThrow(() => checkCredentialFile('app', missing), 'it may be created before the first connection');
    assert.throws(() => readCredentialFile('app', missing), /^CredentialFileError: target "app": cannot read the credential file .*missing: ENOENT$/);
  });

  test('a file of another user is refused, whatever its mode', () => {
    const uid = process.getuid!();
    // as root, a file given to nobody; otherwise /etc/hostname, which belongs to root
    let file = '/etc/hostname';
    if (uid === 0) {
      file = secretFile('other', 0o600);
      chownSync(file, 65534, 65534);
    }
    const owner = uid === 0 ? 65534 : 0;
    const message = new RegExp(`^CredentialFileError: target "app": the credential file ${file} belongs to uid ${owner}, not to airlockd's user \\(uid ${uid}\\); .*\\(chown it to that user and run chmod 600 ${file}\\)$`);
    assert.throws(() => checkCredentialFile('app', file), message);
    assert.throws(() => readCredentialFile('app', file), message);
  });
});
