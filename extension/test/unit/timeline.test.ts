import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordingRecord } from '@airlock/shared';
import { buildTimeline, entryIndexAt, integrityLabel, recordActionId } from '../../src/state/timeline.js';
import { Timeline } from '../../src/protocol/webview-messages.js';

const t0 = Date.parse('2026-11-25T10:00:00.000Z');
const ts = (ms: number) => new Date(t0 + ms).toISOString();
const prev = 'a'.repeat(64);
let seq = 0;

function action(id: string, at: number, decision: 'allow' | 'deny' | 'review', summary = `SELECT ${id}`): RecordingRecord {
  return {
    seq: ++seq,
    ts: ts(at),
    type: 'action',
    prev,
    action: { id, sessionId: 's1', target: 'db', protocol: 'postgres', kind: 'sql.query', summary, risk: 'low', attributes: { class: 'read', tables: ['t'] }, detail: {}, at: ts(at) },
    decision: { decision, ruleId: `rule-${decision}`, reason: `because ${decision}` },
  };
}

function session(): RecordingRecord[] {
  seq = 0;
  return [
    { seq: 0, ts: ts(0), type: 'header', prev: null, version: 1, recordingId: 'rec1', agentSessionId: 's1', agentSessionName: 'agent', nonce: 'b'.repeat(32) },
    action('a1', 100, 'allow'),
    { seq: ++seq, ts: ts(105), type: 'outcome', prev, verdict: { actionId: 'a1', allowed: true, via: 'policy', ruleId: 'rule-allow', reason: 'ok' } },
    {
      seq: ++seq,
      ts: ts(110),
      type: 'result',
      prev,
      actionId: 'a1',
      summary: 'SELECT 1',
      durationMs: 2,
      detail: { columns: ['email'], rows: [['[EMAIL]']], truncated: false, masks: [{ row: 0, column: 0, by: ['email'] }], rowCount: 1, maskReport: { cells: 1, byDetector: { email: 1 }, nulled: 0 } },
    },
    // an hour of silence, then a held write approved after 3 s
    action('a2', 3_600_110, 'review', 'UPDATE t SET x = 1'),
    { seq: ++seq, ts: ts(3_600_111), type: 'approval.requested', prev, approvalId: 'ap2', actionId: 'a2', ruleId: 'rule-review', expiresAt: ts(3_900_000) },
    { seq: ++seq, ts: ts(3_603_111), type: 'approval.resolved', prev, approvalId: 'ap2', actionId: 'a2', status: 'approved', resolution: { at: ts(3_603_111), by: 'ada', via: 'cli', scope: 'session' } },
    { seq: ++seq, ts: ts(3_603_112), type: 'outcome', prev, verdict: { actionId: 'a2', allowed: true, via: 'approval', ruleId: 'rule-review', reason: 'approved', decidedBy: { by: 'ada', via: 'cli' } } },
    action('a3', 3_603_200, 'deny', 'DROP TABLE t'),
    { seq: ++seq, ts: ts(3_603_201), type: 'outcome', prev, verdict: { actionId: 'a3', allowed: false, via: 'policy', ruleId: 'rule-deny', reason: 'no DDL' } },
    { seq: ++seq, ts: ts(3_603_300), type: 'note', prev, message: 'agent disconnected' },
    { seq: ++seq, ts: ts(3_603_400), type: 'seal', prev, records: seq, reason: 'closed' },
  ];
}

describe('replay timeline', () => {
  test('collects each action with its decision, approval, outcome and masked result', () => {
    const timeline = buildTimeline(session());
    assert.equal(timeline.recordingId, 'rec1');
    assert.equal(timeline.agentSessionName, 'agent');
    assert.deepEqual(timeline.entries.map((e) => [e.actionId, e.status]), [['a1', 'allowed'], ['a2', 'allowed'], ['a3', 'denied']]);
    const [a1, a2, a3] = timeline.entries;
    assert.deepEqual(a1!.result?.sample?.masks, [{ row: 0, column: 0, by: ['email'] }]);
    assert.equal(a1!.result?.maskReport?.cells, 1);
    assert.equal(a1!.result?.rowCount, 1);
    assert.deepEqual({ ...a2!.approval, requestedT: undefined, resolvedT: undefined }, { approvalId: 'ap2', ruleId: 'rule-review', requestedT: undefined, resolvedT: undefined, status: 'approved', by: 'ada', via: 'cli', scope: 'session', reason: undefined });
    assert.equal(a2!.decidedBy, 'ada');
    assert.equal(a3!.reason, 'no DDL');
    assert.deepEqual(timeline.protocols, ['postgres']);
    assert.equal(timeline.notes[0]?.message, 'agent disconnected');
    assert.equal(timeline.sealed, true);
    assert.equal(timeline.sealReason, 'closed');
    // what the host sends is what the webview's schema accepts
    assert.equal(Timeline.safeParse(timeline).success, true);
  });

  test('idle stretches play shortened; real waits below the limit keep their length', () => {
    const timeline = buildTimeline(session(), 2_000);
    const [a1, a2, a3] = timeline.entries;
    assert.equal(a1!.t, 100);
    assert.equal(a2!.t, 110 + 2_000, 'short gaps keep their length, the hour of silence plays as 2 s');
    assert.equal(a2!.approval!.resolvedT! - a2!.approval!.requestedT, 2_000, 'a 3 s wait is capped at the limit too');
    assert.ok(a3!.t > a2!.t);
    assert.equal(timeline.duration, a3!.t + 200);
  });

  test('a log that stops before a verdict leaves the action held; unknown lines are skipped', () => {
    seq = 0;
    const records = [...session().slice(0, 6), { seq: 99, ts: ts(3_600_200), type: 'future-kind', prev } as unknown as RecordingRecord];
    const timeline = buildTimeline(records);
    assert.equal(timeline.entries[1]?.status, 'held');
    assert.equal(timeline.entries[1]?.approval?.status, 'pending');
    assert.equal(timeline.sealed, false);
  });

  test('an action line that carries its verdict (settled at once by policy) needs no outcome line', () => {
    seq = 0;
    const folded = action('a9', 50, 'deny', 'DROP TABLE t');
    if (folded.type !== 'action') throw new Error('not an action');
    folded.verdict = { actionId: 'a9', allowed: false, via: 'policy', ruleId: 'rule-deny', reason: 'no DDL here' };
    const timeline = buildTimeline([folded]);
    assert.equal(timeline.entries[0]?.status, 'denied');
    assert.equal(timeline.entries[0]?.via, 'policy');
    assert.equal(timeline.entries[0]?.reason, 'no DDL here');
  });

  const endpoint = { agentUser: 'agent', upstream: 'deploy@web-1:22', connectionId: 'c1', channel: 0 };
  function sshAction(id: string, at: number, kind: string, summary: string, detail: Record<string, unknown>): RecordingRecord {
    const r = action(id, at, 'allow', summary);
    if (r.type !== 'action') throw new Error('not an action');
    return { ...r, action: { ...r.action, protocol: 'ssh', kind, detail: { ...endpoint, ...detail } } };
  }
  const cast = '{"version": 2, "width": 80, "height": 24}\n[0.5, "o", "$ uptime\\r\\n"]\n[4.25, "o", "up 3 days\\r\\n"]\n';

  test("an SSH session's terminal output (its typed result's asciicast) goes on the terminal lane with its exit, and the timeline lasts as long as it plays", () => {
    seq = 0;
    const shell = sshAction('s1', 0, 'ssh.shell', 'interactive shell on web-1', { pty: { term: 'xterm-256color', cols: 80, rows: 24 } });
    const timeline = buildTimeline([
      shell,
      { seq: ++seq, ts: ts(20), type: 'result', prev, actionId: 's1', summary: 'shell closed (exit 0)', detail: { exitStatus: 0, asciicast: cast, truncated: true, bytesOut: 30, bytesIn: 7 } },
    ]);
    assert.deepEqual(timeline.terminals.map((c) => [c.actionId, c.t, c.duration, c.truncated, c.exitStatus]), [['s1', 0, 4_250, true, 0]]);
    assert.equal(timeline.duration, 4_250);
    assert.deepEqual(timeline.entries[0]?.result?.session, { exitStatus: 0, truncated: true, bytesOut: 30, bytesIn: 7 }, 'the exit is in the details, the cast only on the lane');
    assert.equal(timeline.entries[0]?.detail.kind, 'ssh.shell');
    assert.equal(Timeline.safeParse(timeline).success, true);
  });

  test('an exec killed by a signal; a result that is not its kind\'s shape plays nothing rather than a guess', () => {
    seq = 0;
    const exec = sshAction('e1', 0, 'ssh.exec', 'tail -f /var/log/syslog', { command: 'tail -f /var/log/syslog' });
    const killed = buildTimeline([exec, { seq: ++seq, ts: ts(20), type: 'result', prev, actionId: 'e1', summary: 'killed', detail: { exitStatus: null, exitSignal: 'TERM', asciicast: cast, bytesOut: 30, bytesIn: 0 } }]);
    assert.deepEqual(killed.terminals.map((c) => [c.exitStatus, c.exitSignal, c.truncated]), [[null, 'TERM', false]]);
    seq = 0;
    // an SQL action's result with a cast, and an exec's result without its byte counts: neither is a terminal session
    const sql = buildTimeline([action('q1', 0, 'allow'), { seq: ++seq, ts: ts(20), type: 'result', prev, actionId: 'q1', summary: 'SELECT 1', detail: { asciicast: cast } }]);
    assert.equal(sql.terminals.length, 0);
    seq = 0;
    const partial = buildTimeline([sshAction('e2', 0, 'ssh.exec', 'ls', { command: 'ls' }), { seq: ++seq, ts: ts(20), type: 'result', prev, actionId: 'e2', summary: 'exit 0', detail: { exitStatus: 0, asciicast: cast } }]);
    assert.equal(partial.terminals.length, 0);
    assert.equal(partial.entries[0]?.result?.summary, 'exit 0', 'the result itself is still shown');
  });

  test('sftp operations are actions of the timeline, with their transfer', () => {
    seq = 0;
    const write = sshAction('f1', 0, 'ssh.sftp', 'sftp write /etc/nginx/nginx.conf', { operation: 'write', path: '/etc/nginx/nginx.conf' });
    const sha256 = 'c'.repeat(64);
    const timeline = buildTimeline([write, { seq: ++seq, ts: ts(5), type: 'result', prev, actionId: 'f1', summary: 'wrote 2 KiB', detail: { status: 'ok', bytes: 2048, sha256 } }]);
    assert.equal(timeline.entries[0]?.detail.kind, 'ssh.sftp');
    assert.deepEqual(timeline.entries[0]?.result?.sftp, { status: 'ok', bytes: 2048, sha256 });
    assert.deepEqual(timeline.protocols, ['ssh']);
    assert.equal(Timeline.safeParse(timeline).success, true);
  });

  test('entryIndexAt finds the last action at or before a time', () => {
    const entries = [{ t: 0 }, { t: 100 }, { t: 100 }, { t: 500 }];
    assert.equal(entryIndexAt(entries, -1), -1);
    assert.equal(entryIndexAt(entries, 0), 0);
    assert.equal(entryIndexAt(entries, 100), 2);
    assert.equal(entryIndexAt(entries, 499), 2);
    assert.equal(entryIndexAt(entries, 10_000), 3);
    assert.equal(entryIndexAt([], 5), -1);
  });

  test('every record of an action is found by its action id', () => {
    const ids = session().map(recordActionId);
    assert.deepEqual(ids.filter((id) => id === 'a2').length, 4);
    assert.equal(ids[0], undefined);
  });

  test('integrity in words', () => {
    assert.equal(integrityLabel(undefined).ok, undefined);
    assert.deepEqual(integrityLabel({ recordingId: 'r', ok: true, records: 12, sealed: true, torn: false }), { text: 'verified 12 records, sealed', ok: true });
    const bad = integrityLabel({ recordingId: 'r', ok: false, records: 3, sealed: false, torn: false, error: { line: 4, seq: 3, reason: 'prev does not match' } });
    assert.equal(bad.ok, false);
    assert.match(bad.text, /TAMPERED: line 4: prev does not match/);
    assert.match(integrityLabel({ recordingId: 'r', ok: true, records: 3, sealed: false, torn: true }).text, /cut short/);
    const rewritten = integrityLabel({ recordingId: 'r', ok: false, records: 8, sealed: true, torn: false, ledgerProblems: ['r.jsonl does not end at the seal the ledger recorded'] });
    assert.deepEqual(rewritten, { text: 'TAMPERED: r.jsonl does not end at the seal the ledger recorded', ok: false });
  });
});
