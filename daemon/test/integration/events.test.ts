import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDaemon, tempHome, type RunningDaemon } from '../helpers/daemon-process.js';
import { SseTestClient } from '../helpers/sse-client.js';
import { defaultPolicyYaml } from '../../src/policy/defaults.js';

describe('GET /v1/events (SSE) from the real daemon', () => {
  const home = tempHome();
  let daemon: RunningDaemon;
  let token: string;
  const read = (summary: string) => ({ token, target: 'db', protocol: 'postgres', kind: 'sql.query', summary, attributes: { class: 'read' } });

  before(async () => {
    daemon = await startDaemon(home.dir, { AIRLOCK_SSE_HEARTBEAT_MS: '150' });
    token = ((await daemon.api('POST', '/v1/agent-sessions', { name: 'sse-agent' })).json as { token: string }).token;
  });
  after(async () => {
    await daemon.stop();
    home.cleanup();
  });

  test('needs the bearer token', async () => {
    const res = await fetch(`${daemon.base}/v1/events`);
    assert.equal(res.status, 401);
  });

  test('actions, decisions and approvals arrive as typed events; heartbeats keep the stream alive', async () => {
    const client = new SseTestClient(`${daemon.base}/v1/events`, daemon.info.token);
    await client.open();
    try {
      assert.equal(client.status, 200);
      await daemon.api('POST', '/v1/test/actions', read('select 42'));
      const decided = await client.waitFor((m) => m.event === 'action.decided');
      const event = JSON.parse(decided.data) as { type: string; data: { action: { summary: string }; decision: { decision: string } } };
      assert.equal(event.type, 'action.decided');
      assert.equal(event.data.action.summary, 'select 42');
      assert.equal(event.data.decision.decision, 'allow');
      await client.waitFor((m) => m.event === 'action.completed');

      const held = daemon.api('POST', '/v1/test/actions', { ...read('update t set a = 1'), attributes: { class: 'write' } });
      const requested = await client.waitFor((m) => m.event === 'approval.requested');
      const approvalId = (JSON.parse(requested.data) as { data: { approval: { id: string } } }).data.approval.id;
      await daemon.api('POST', `/v1/approvals/${approvalId}/approve`, { by: 'tester' });
      const resolved = await client.waitFor((m) => m.event === 'approval.resolved');
      assert.equal((JSON.parse(resolved.data) as { data: { approval: { status: string } } }).data.approval.status, 'approved');
      await held;
      await new Promise((r) => setTimeout(r, 400));
      assert.ok(client.heartbeats >= 1, 'heartbeat comments');
    } finally {
      client.close();
    }
  });

  test('Last-Event-ID resumes without gaps; an id from another run asks for a resync', async () => {
    const first = new SseTestClient(`${daemon.base}/v1/events`, daemon.info.token);
    await first.open();
    await daemon.api('POST', '/v1/test/actions', read('select 1 -- before disconnect'));
    await first.waitFor((m) => m.event === 'action.completed' && m.data.includes('before disconnect'));
    const lastId = first.lastId!;
    first.close();

    for (let i = 0; i < 5; i++) await daemon.api('POST', '/v1/test/actions', read(`select ${i} -- while away`));

    const resumed = new SseTestClient(`${daemon.base}/v1/events`, daemon.info.token, lastId);
    await resumed.open();
    try {
      await resumed.waitFor((m) => m.event === 'action.completed' && m.data.includes('select 4 -- while away'));
      const ids = resumed.messages.filter((m) => m.id).map((m) => Number(m.id!.split('.')[1]));
      const start = Number(lastId.split('.')[1]);
      assert.equal(ids[0], start + 1, 'first replayed event follows the last seen one');
      ids.forEach((id, i) => assert.equal(id, start + 1 + i, 'no gaps, no duplicates'));
      assert.ok(ids.length >= 10, 'two events per action while away');
    } finally {
      resumed.close();
    }

    const stale = new SseTestClient(`${daemon.base}/v1/events`, daemon.info.token, 'deadbeef.5');
    await stale.open();
    try {
      const resync = await stale.waitFor((m) => m.event === 'resync');
      assert.match(resync.data, /restarted/);
    } finally {
      stale.close();
    }
  });

  test('policy hot reload: a valid change applies, an invalid one is refused and published', async () => {
    const client = new SseTestClient(`${daemon.base}/v1/events`, daemon.info.token);
    await client.open();
    try {
      const file = path.join(home.dir, 'policy.yaml');
      // the default policy plus a deny rule: a change that only tightens is applied at once
      writeFileSync(file, defaultPolicyYaml().replace('\nrules:\n', '\nrules:\n  - { id: no-reads-today, decision: deny, match: { attributes: { class: read } } }\n'));
      await client.waitFor((m) => m.event === 'policy.changed');
      const denied = await daemon.api('POST', '/v1/test/actions', read('select 7'));
      assert.equal((denied.json as { verdict: { allowed: boolean; ruleId: string } }).verdict.ruleId, 'no-reads-today');

      writeFileSync(file, 'version: 1\nrules:\n  - { id: broken, decision: maybe }\n');
      const rejected = await client.waitFor((m) => m.event === 'policy.rejected');
      assert.match(rejected.data, /rules\[0\]\.decision/);
      const still = await daemon.api('POST', '/v1/test/actions', read('select 8'));
      assert.equal((still.json as { verdict: { ruleId: string } }).verdict.ruleId, 'no-reads-today', 'previous policy stays in force');

      const effective = await daemon.api('GET', '/v1/policy');
      assert.equal((effective.json as { policy: { rules: { id: string }[] } }).policy.rules[0]?.id, 'no-reads-today');
    } finally {
      client.close();
    }
  });
});
