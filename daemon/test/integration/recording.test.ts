import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, startDaemon, tempHome } from '../helpers/daemon-process.js';

const action = (token: string, i: number) => ({
  token,
  target: 'db',
  protocol: 'postgres',
  kind: 'sql.query',
  summary: `select * from orders where id = ${i}`,
  attributes: { class: 'read', tables: ['public.orders'] },
  detail: { sql: `select * from orders where id = ${i}`, padding: 'x'.repeat(200) },
});

describe('recordings of the real daemon: replay, export, verify, tampering, crash', () => {
  const home = tempHome();
  after(() => home.cleanup());

  test('replay and export show actions, decisions and approvers; verify passes; an edit is detected', async () => {
    const daemon = await startDaemon(home.dir);
    const { token, session } = (await daemon.api('POST', '/v1/agent-sessions', { name: 'replay-agent' })).json as { token: string; session: { id: string } };
    await daemon.api('POST', '/v1/test/actions', action(token, 1));
    const held = daemon.api('POST', '/v1/test/actions', { ...action(token, 2), summary: 'update orders set paid = true', attributes: { class: 'write' } });
    let approvalId: string | undefined;
    for (let i = 0; i < 200 && !approvalId; i++) {
      approvalId = ((await daemon.api('GET', '/v1/approvals')).json as { approvals: { id: string }[] }).approvals[0]?.id;
      if (!approvalId) await new Promise((r) => setTimeout(r, 20));
    }
    await daemon.api('POST', `/v1/approvals/${approvalId}/approve`, { by: 'alice', via: 'extension' });
    await held;

    const listed = (await daemon.api('GET', '/v1/sessions')).json as { recordings: { id: string; agentSessionId: string }[] };
    const recording = listed.recordings.find((r) => r.agentSessionId === session.id);
    assert.ok(recording);
    const page1 = (await daemon.api('GET', `/v1/sessions/${recording.id}/records?limit=2`)).json as { records: { seq: number }[]; nextAfter: number | null };
    assert.deepEqual(page1.records.map((r) => r.seq), [0, 1]);
    assert.equal(page1.nextAfter, 1);
    const page2 = (await daemon.api('GET', `/v1/sessions/${recording.id}/records?after=1&limit=1000`)).json as { records: { seq: number }[]; nextAfter: number | null };
    assert.equal(page2.records[0]?.seq, 2);
    const badQuery = await daemon.api('GET', `/v1/sessions/${recording.id}/records?limit=0`);
    assert.equal(badQuery.status, 400);
    assert.equal((await daemon.api('GET', '/v1/sessions/rec_nope')).status, 404);
    assert.equal(await daemon.stop(), 0);

    const replay = await runCli(home.dir, ['replay', recording.id]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /replay-agent/);
    assert.match(replay.stdout, /select \* from orders where id = 1/);
    assert.match(replay.stdout, /update orders set paid = true/);
    assert.match(replay.stdout, /alice/);
    assert.match(replay.stdout, /extension/);

    const exported = await runCli(home.dir, ['export', recording.id]);
    assert.equal(exported.code, 0, exported.stderr);
    const doc = JSON.parse(exported.stdout) as { verify: { ok: boolean; sealed: boolean }; records: { type: string }[] };
    assert.equal(doc.verify.ok, true);
    assert.equal(doc.verify.sealed, true);
    assert.equal(doc.records.at(-1)?.type, 'seal');

    const ok = await runCli(home.dir, ['verify', recording.id]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);

    // an agent (or anyone) edits the log: verify names the record
    const file = path.join(home.dir, 'recordings', `${recording.id}.jsonl`);
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[1] = lines[1]!.replace('where id = 1', 'where id = 9');
    writeFileSync(file, lines.join('\n'));
    const broken = await runCli(home.dir, ['verify', recording.id]);
    assert.notEqual(broken.code, 0);
    assert.match(broken.stdout + broken.stderr, /line 3/);
  });

  test('kill -9 during heavy recording: verify reports at most a torn last line', async () => {
    const crashHome = tempHome();
    try {
      const daemon = await startDaemon(crashHome.dir);
      const { token } = (await daemon.api('POST', '/v1/agent-sessions', { name: 'busy-agent' })).json as { token: string };
      let stop = false;
      let sent = 0;
      const workers = Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          sent++;
          await daemon.api('POST', '/v1/test/actions', action(token, w * 100_000 + i)).catch(() => undefined);
        }
      });
      await new Promise((r) => setTimeout(r, 1500));
      await daemon.kill9();
      stop = true;
      await Promise.all(workers);
      assert.ok(sent > 100, `enough load was sent (${sent})`);

      const logs = readdirSync(path.join(crashHome.dir, 'recordings')).filter((f) => f.endsWith('.jsonl'));
      assert.ok(logs.length >= 1);
      const verify = await runCli(crashHome.dir, ['verify', '--all', '--json']);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      const report = JSON.parse(verify.stdout) as { ok: boolean; recordings: { ok: boolean; torn: boolean; records: number; error?: unknown }[]; findings: { severity: string; message: string }[] };
      const results = report.recordings;
      // the crash left created-but-not-sealed recordings: reported as interrupted, not as tampering
      assert.ok(report.findings.some((f) => f.severity === 'interrupted'), JSON.stringify(report.findings));
      assert.ok(report.findings.every((f) => f.severity !== 'error'), JSON.stringify(report.findings));
      for (const r of results) {
        assert.equal(r.ok, true, JSON.stringify(r));
        assert.equal(r.error, undefined);
      }
      assert.ok(results.reduce((n, r) => n + r.records, 0) > 100, 'records before the crash verified');

      // and the next start marks the crashed recording interrupted, not open
      const again = await startDaemon(crashHome.dir);
      const sessions = (await again.api('GET', '/v1/sessions')).json as { recordings: { state: string }[] };
      assert.ok(sessions.recordings.every((r) => r.state !== 'open'));
      assert.equal(await again.stop(), 0);
      const after = await runCli(crashHome.dir, ['verify', '--all']);
      assert.equal(after.code, 0, after.stdout + after.stderr);
      // the restart recorded where each crashed log ends in the ledger, and the logs end there
      assert.match(after.stdout, /interrupted: recording \S+: interrupted \(not sealed\); its \d+ lines match the ledger/);
    } finally {
      crashHome.cleanup();
    }
  });
});
