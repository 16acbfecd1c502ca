import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Approval } from '@airlock/shared';
import { loadPendingApprovals, PendingApprovalsFile, savePendingApprovals } from '../../src/approvals/pending-file.js';

function makeApproval(n: number): Approval {
  return {
    id: `apr_${n}`,
    action: {
      id: `act_${n}`,
      sessionId: 'ses_a',
      target: 'prod-db',
      protocol: 'postgres',
      kind: 'sql.query',
      summary: `DELETE FROM users WHERE id = ${n}`,
      risk: 'high',
      attributes: { class: 'delete', tables: ['users'], statementCount: 1, inTransaction: false },
      detail: { sql: `DELETE FROM users WHERE id = ${n}` },
      at: '2025-03-01T09:00:00.000Z',
    },
    ruleId: 'deletes-need-review',
    reason: 'deletes on prod need a human',
    requestedAt: '2025-03-01T09:00:00.000Z',
    expiresAt: '2025-03-01T09:05:00.000Z',
    status: 'pending',
  };
}

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'airlock-pending-approvals-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('loadPendingApprovals / savePendingApprovals', () => {
  test('round-trips the approvals, in a file only the owner can read', async () => {
    const file = path.join(dir, 'round-trip', 'pending-approvals.json');
    const approvals = [makeApproval(1), makeApproval(2)];
    await savePendingApprovals(file, approvals);
    const loaded = await loadPendingApprovals(file);
    assert.deepEqual(loaded, { approvals });
    const stat = await fs.stat(file);
    assert.equal(stat.mode & 0o777, 0o600);
    const leftovers = (await fs.readdir(path.dirname(file))).filter((name) => name.endsWith('.tmp'));
    assert.deepEqual(leftovers, []);
  });

  test('a missing file is no approvals and no warning', async () => {
    assert.deepEqual(await loadPendingApprovals(path.join(dir, 'does-not-exist.json')), { approvals: [] });
  });

  test('a corrupt file is no approvals plus a warning naming the file', async () => {
    const file = path.join(dir, 'corrupt.json');
    await fs.writeFile(file, '{"version":1,"approvals":[{"id":"apr_1", "act');
    const loaded = await loadPendingApprovals(file);
    assert.deepEqual(loaded.approvals, []);
    assert.match(loaded.warning ?? '', /corrupt\.json: pending approvals are not valid JSON/);
  });

  test('a file of the wrong shape is no approvals plus a warning', async () => {
    for (const [name, content] of [
      ['array.json', '[]'],
      ['null.json', 'null'],
      ['number.json', '42'],
      ['no-list.json', '{"version":1,"approvals":{}}'],
    ] as const) {
      const file = path.join(dir, name);
      await fs.writeFile(file, content);
      const loaded = await loadPendingApprovals(file);
      assert.deepEqual(loaded.approvals, [], name);
      assert.match(loaded.warning ?? '', /expected an object with an "approvals" list/, name);
    }
  });

  test('invalid entries are skipped with a warning; valid ones are kept', async () => {
    const file = path.join(dir, 'partly-valid.json');
    const broken = { ...makeApproval(2), status: 'maybe' };
    await fs.writeFile(file, JSON.stringify({ version: 1, approvals: [makeApproval(1), broken, makeApproval(3), {}] }));
    const loaded = await loadPendingApprovals(file);
    assert.deepEqual(
      loaded.approvals.map((a) => a.id),
      ['apr_1', 'apr_3'],
    );
    assert.match(loaded.warning ?? '', /partly-valid\.json: skipped 2 invalid pending approval\(s\): approvals\[1\]: status: .* \(and 1 more\)/);
  });

  test('an unreadable path is no approvals plus a warning, not a failure', async () => {
    const loaded = await loadPendingApprovals(dir); // a directory: EISDIR
    assert.deepEqual(loaded.approvals, []);
    assert.match(loaded.warning ?? '', /cannot read pending approvals \(EISDIR\)/);
  });
});

describe('PendingApprovalsFile', () => {
  test('coalesces saves: one write in flight at a time, and the file ends with the last state', async () => {
    const file = path.join(dir, 'coalesced.json');
    const written: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const pendingFile = new PendingApprovalsFile(file, {
      writeFile: async (target, content) => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        await savePendingApprovals(target, (JSON.parse(content) as { approvals: Approval[] }).approvals);
        written.push((JSON.parse(content) as { approvals: Approval[] }).approvals.length);
        inFlight -= 1;
      },
    });
    const states: Approval[][] = [];
    for (let n = 1; n <= 50; n++) states.push(Array.from({ length: n }, (_, i) => makeApproval(i + 1)));
    for (const state of states) pendingFile.save(state);
    await pendingFile.flush();
    assert.equal(maxInFlight, 1);
    // the first state starts writing at once; everything saved meanwhile collapses into one more write
    assert.deepEqual(written, [1, 50]);
    assert.deepEqual((await pendingFile.load()).approvals, states[49]);
  });

  test('saves made while a write is in flight are written after it', async () => {
    const file = path.join(dir, 'sequential.json');
    const pendingFile = new PendingApprovalsFile(file);
    pendingFile.save([makeApproval(1)]);
    await new Promise((resolve) => setImmediate(resolve));
    pendingFile.save([makeApproval(1), makeApproval(2)]);
    pendingFile.save([]);
    await pendingFile.flush();
    assert.deepEqual(await loadPendingApprovals(file), { approvals: [] });
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
  });

  test('the state is copied at save time, so later changes to the caller array are not written', async () => {
    const file = path.join(dir, 'copied.json');
    const pendingFile = new PendingApprovalsFile(file);
    // the first save occupies the writer, so the second state waits in the queue
    pendingFile.save([]);
    const state = [makeApproval(1)];
    pendingFile.save(state);
    state.push(makeApproval(2));
    await pendingFile.flush();
    assert.deepEqual(
      (await loadPendingApprovals(file)).approvals.map((a) => a.id),
      ['apr_1'],
    );
  });

  test('a failed write is reported and makes flush reject; a later successful write clears it', async () => {
    const blocker = path.join(dir, 'not-a-dir');
    await fs.writeFile(blocker, 'a file where a directory should be');
    const errors: string[] = [];
    const pendingFile = new PendingApprovalsFile(path.join(blocker, 'pending.json'), { onError: (error) => errors.push(error.message) });
    pendingFile.save([makeApproval(1)]);
    await assert.rejects(pendingFile.flush(), /not-a-dir[/\\]pending\.json: cannot save 1 pending approval\(s\)/);
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? '', /cannot save 1 pending approval/);

    await fs.rm(blocker);
    pendingFile.save([makeApproval(2)]);
    await pendingFile.flush();
    assert.deepEqual(
      (await pendingFile.load()).approvals.map((a) => a.id),
      ['apr_2'],
    );
    assert.equal(errors.length, 1);
  });

  test('flush with nothing saved resolves at once', async () => {
    const pendingFile = new PendingApprovalsFile(path.join(dir, 'never-written.json'));
    await pendingFile.flush();
    assert.deepEqual(await pendingFile.load(), { approvals: [] });
  });
});
