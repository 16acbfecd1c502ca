import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { SFTPWrapper } from 'ssh2';
import { refusalMessage, type SftpLimits, type SftpVerdict } from '../../src/proxies/ssh/sftp-bridge.js';
import { FX, type SftpOp } from '../../src/proxies/ssh/sftp-session.js';
import { runOpenSsh, startSftpHarness, startSftpUpstream, type SftpHarness, type SftpUpstream } from '../helpers/sftp-upstream.js';

/**
 * The sftp bridge with real parts: a throw-away OpenSSH sshd as the upstream, the OpenSSH `sftp` and
 * `scp` clients (and ssh2's client) as agents. The harness (helpers/sftp-upstream.ts) stands in for
 * the Airlock SSH listener: it logs agents in with a password and hands the sftp subsystem to the
 * bridge, as the adapter does; the policy here is a callback that allows reads and refuses writes.
 */

const LIMITS: SftpLimits = {
  maxOutstanding: 64,
  maxBytesPerRequest: 256 * 1024,
  maxBytesInFlight: 4 * 1024 * 1024,
  opTimeoutMs: 10_000,
  maxHandles: 32,
  maxDigestAheadBytes: 4 * 1024 * 1024,
};

let counter = 0;
const READS_ONLY = (op: SftpOp): SftpVerdict<string> =>
  op.class === 'read' ? { allowed: true, action: `act-${++counter}` } : { allowed: false, message: refusalMessage('no-writes', `sftp ${op.operation} of ${op.path} is a write`) };

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('sftp bridge: OpenSSH sftp through the bridge to a real sshd', () => {
  let upstream: SftpUpstream;
  let harness: SftpHarness;
  let local: string;
  const governed: SftpOp[] = [];

  before(async () => {
    upstream = await startSftpUpstream();
    harness = await startSftpHarness({
      upstream,
      limits: LIMITS,
      govern: (op) => {
        governed.push(op);
        // writes under allowed/ pass: "a later allowed op works" in the same session
        if (op.class === 'write' && (op.path.includes('/allowed/') || op.path.endsWith('/allowed'))) return { allowed: true, action: `act-${++counter}` };
        return READS_ONLY(op);
      },
    });
    local = mkdtempSync(path.join(os.tmpdir(), 'airlock-sftp-local-'));
  });
  after(async () => {
    await harness?.stop();
    await upstream?.stop();
    if (local) rmSync(local, { recursive: true, force: true });
  });

  test('reads are allowed, writes are refused with the rule, and the session goes on', async () => {
    const remote = upstream.dir;
    const content = randomBytes(100_000);
    writeFileSync(path.join(remote, 'readme.bin'), content);
    mkdirSync(path.join(remote, 'allowed'));
    writeFileSync(path.join(local, 'upload.txt'), 'not to be written\n');
    const batch = [
      `ls -l ${remote}`,
      `get ${remote}/readme.bin ${local}/readme.bin`,
      // the leading '-' lets the batch go on after a refusal, as a person at the prompt would
      `-put ${local}/upload.txt ${remote}/upload.txt`,
      `-mkdir ${remote}/newdir`,
      `-rm ${remote}/readme.bin`,
      `-rename ${remote}/readme.bin ${remote}/renamed.bin`,
      `put ${local}/upload.txt ${remote}/allowed/upload.txt`,
      `ls ${remote}/allowed`,
      '',
    ].join('\n');
    const run = await runOpenSsh('sftp', ['-b', '-', `agent@127.0.0.1`], harness, { input: batch, key: true });
    assert.equal(run.code, 0, `sftp failed: ${run.stderr}`);
    // reads went
    assert.deepEqual(readFileSync(path.join(local, 'readme.bin')), content);
    assert.match(run.stdout, /readme\.bin/);
    // each write was refused as SSH_FX_PERMISSION_DENIED (OpenSSH's sftp prints the status code's
    // text, not the server's message; the ssh2 test below reads the message naming the rule)
    assert.match(run.stderr, /dest open ".*\/upload\.txt": Permission denied/);
    assert.match(run.stderr, /remote mkdir ".*\/newdir": Permission denied/);
    assert.match(run.stderr, /remote delete .*\/readme\.bin: Permission denied/);
    assert.match(run.stderr, /remote rename ".*readme\.bin" to ".*renamed\.bin": Permission denied/);
    // nothing was written upstream
    assert.equal(existsSync(path.join(remote, 'upload.txt')), false);
    assert.equal(existsSync(path.join(remote, 'newdir')), false);
    assert.equal(existsSync(path.join(remote, 'readme.bin')), true);
    assert.equal(existsSync(path.join(remote, 'renamed.bin')), false);
    // the later allowed write went, in the same session
    assert.equal(readFileSync(path.join(remote, 'allowed', 'upload.txt'), 'utf8'), 'not to be written\n');
    assert.match(run.stdout, /upload\.txt/);

    // governed per path-level operation, with flags in words
    const open = governed.find((op) => op.operation === 'open' && op.path === `${remote}/readme.bin`);
    assert.deepEqual(open?.flags, ['read']);
    assert.equal(open?.class, 'read');
    const put = governed.find((op) => op.operation === 'open' && op.path === `${remote}/upload.txt`);
    assert.deepEqual(put?.flags, ['write', 'create', 'truncate']);
    assert.ok(governed.some((op) => op.operation === 'rename' && op.toPath === `${remote}/renamed.bin`));
    assert.ok(governed.every((op) => op.operation !== 'read' && op.operation !== 'write'), 'READ/WRITE packets are covered by their open');

    // the download's result: bytes and the file's sha256, recorded when its handle closed
    const download = harness.results.find((r) => r.op === open);
    assert.ok(download, 'the open of readme.bin has a recorded result');
    assert.equal(download.result.status, 'ok');
    assert.equal(download.result.bytes, content.length);
    assert.equal(download.result.sha256, sha256(content));
    const upload = harness.results.find((r) => r.op.operation === 'open' && r.op.path === `${remote}/allowed/upload.txt`);
    assert.equal(upload?.result.sha256, sha256(Buffer.from('not to be written\n')));
    assert.ok(upload?.action?.startsWith('act-'), 'the result carries the action govern returned');
  });
});

