import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { runCli, startDaemon, tempHome, type RunningDaemon } from '../helpers/daemon-process.js';

interface Verdict {
  allowed: boolean;
  via: string;
  ruleId: string;
  reason: string;
  approvalId?: string;
  grantId?: string;
  decidedBy?: { by: string; via: string };
}
interface Approval {
  id: string;
  status: string;
  ruleId: string;
  action: { id: string; summary: string };
  resolution?: { by: string; via: string; reason?: string; scope?: string; grantId?: string };
}

const write = (summary: string) => ({ target: 'db', protocol: 'postgres', kind: 'sql.query', summary, attributes: { class: 'write', tables: ['public.orders'] } });

describe('approvals through the real daemon: API, CLI, timeout, grants, disconnect, restart', () => {
  const home = tempHome();
  let daemon: RunningDaemon;
  let token: string;

  before(async () => {
    writeFileSync(
      path.join(home.dir, 'policy.yaml'),
      [
        'version: 1',
        'default: review',
        'rules:',
        '  - { id: no-privileged, decision: deny, match: { attributes: { class: privileged } } }',
        '  - { id: slow-tables, decision: review, timeout: 700ms, match: { attributes: { tables: "audit.*" } } }',
        '  - { id: writes, decision: review, match: { attributes: { class: [write, ddl] } } }',
        '  - { id: reads, decision: allow, match: { attributes: { class: read } } }',
      ].join('\n'),
    );
    daemon = await startDaemon(home.dir);
    const created = await daemon.api('POST', '/v1/agent-sessions', { name: 'agent-1', ttl: '1h' });
    assert.equal(created.status, 201);
    token = (created.json as { token: string }).token;
    assert.match(token, /^alk_/);
  });
  after(async () => {
    await daemon.stop();
    home.cleanup();
  });

  const submit = (body: object, t = token) => daemon.api('POST', '/v1/test/actions', { token: t, ...body });
  async function waitPending(summary: string): Promise<Approval> {
    for (let i = 0; i < 200; i++) {
      const { json } = await daemon.api('GET', '/v1/approvals');
      const found = (json as { approvals: Approval[] }).approvals.find((a) => a.action.summary === summary);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no pending approval for ${summary}`);
  }

  test('read allowed and privileged denied by policy, with rule and reason', async () => {
    const read = await submit({ target: 'db', protocol: 'postgres', kind: 'sql.query', summary: 'select 1', attributes: { class: 'read' } });
    assert.equal(read.status, 200);
    assert.equal((read.json as { verdict: Verdict }).verdict.allowed, true);
    assert.equal((read.json as { verdict: Verdict }).verdict.ruleId, 'reads');
    const priv = await submit({ target: 'db', protocol: 'postgres', kind: 'sql.query', summary: 'alter system set x = 1', attributes: { class: 'privileged' } });
    const verdict = (priv.json as { verdict: Verdict }).verdict;
    assert.equal(verdict.allowed, false);
    assert.equal(verdict.via, 'policy');
    assert.equal(verdict.ruleId, 'no-privileged');
  });

  test('a bad or revoked token is refused with a clear message', async () => {
    const bad = await submit({ ...write('x') }, 'alk_not-a-token');
    assert.equal(bad.status, 401);
    assert.match((bad.json as { error: string }).error, /unknown agent session token/);
  });

  test('held write approved through the CLI reaches the agent as allowed, with the approver', async () => {
    const pending = submit(write('update orders set paid = true where id = 1'));
    const approval = await waitPending('update orders set paid = true where id = 1');
    assert.equal(approval.status, 'pending');
    assert.equal(approval.ruleId, 'writes');

    const listed = await runCli(home.dir, ['approvals', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok((JSON.parse(listed.stdout) as { approvals: Approval[] }).approvals.some((a) => a.id === approval.id));

    const approved = await runCli(home.dir, ['approve', approval.id]);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, new RegExp(`approved ${approval.id}`));

    const result = await pending;
    const verdict = (result.json as { verdict: Verdict }).verdict;
    assert.equal(verdict.allowed, true);
    assert.equal(verdict.via, 'approval');
    assert.equal(verdict.decidedBy?.via, 'cli');

    const again = await runCli(home.dir, ['deny', approval.id, '--reason', 'too late']);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /already/);
    const conflict = await daemon.api('POST', `/v1/approvals/${approval.id}/deny`, { reason: 'too late' });
    assert.equal(conflict.status, 409);
    const unknown = await daemon.api('POST', '/v1/approvals/apr_doesnotexist/approve', {});
    assert.equal(unknown.status, 404);
  });

  test('deny through the API needs a reason, and the agent sees it', async () => {
    const pending = submit(write('delete from orders where id = 2'));
    const approval = await waitPending('delete from orders where id = 2');
    const missing = await daemon.api('POST', `/v1/approvals/${approval.id}/deny`, { by: 'dev' });
    assert.equal(missing.status, 400);
    assert.match((missing.json as { error: string }).error, /reason/);
    const malformed = await daemon.api('POST', `/v1/approvals/${approval.id}/deny`, '{not json');
    assert.equal(malformed.status, 400);
    const denied = await daemon.api('POST', `/v1/approvals/${approval.id}/deny`, { reason: 'not on a Friday', by: 'dev', via: 'extension' });
    assert.equal(denied.status, 200);
    const verdict = ((await pending).json as { verdict: Verdict }).verdict;
    assert.equal(verdict.allowed, false);
    assert.equal(verdict.via, 'approval');
    assert.match(verdict.reason, /not on a Friday/);
    assert.deepEqual(verdict.decidedBy, { by: 'dev', via: 'extension' });
  });

  test('no decision before the rule timeout means deny', async () => {
    const started = Date.now();
    const result = await submit({ target: 'db', protocol: 'postgres', kind: 'sql.query', summary: 'select * from audit.log', attributes: { class: 'read', tables: ['audit.log'] } });
    const verdict = (result.json as { verdict: Verdict }).verdict;
    assert.equal(verdict.allowed, false);
    assert.equal(verdict.via, 'timeout');
    assert.equal(verdict.ruleId, 'slow-tables');
    assert.ok(Date.now() - started >= 600, 'held until the timeout');
  });

  test('approve for the session: a grant lets later matching actions through, recorded as such', async () => {
    const first = submit(write('insert into orders values (3)'));
    const waiting = submit(write('insert into orders values (3b)'));
    const approval = await waitPending('insert into orders values (3)');
    await waitPending('insert into orders values (3b)');
    const cli = await runCli(home.dir, ['approve', approval.id, '--session']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /grant grt_/);
    const firstVerdict = ((await first).json as { verdict: Verdict }).verdict;
    assert.equal(firstVerdict.allowed, true);
    assert.ok(firstVerdict.grantId);
    // what the same session was already waiting on under the same rule is released by the grant too
    const waitingVerdict = ((await waiting).json as { verdict: Verdict }).verdict;
    assert.equal(waitingVerdict.allowed, true);
    assert.equal(waitingVerdict.decidedBy?.via, 'cli');

    const second = await submit(write('insert into orders values (4)'));
    const verdict = (second.json as { verdict: Verdict }).verdict;
    assert.equal(verdict.allowed, true);
    assert.equal(verdict.via, 'grant');
    assert.equal(verdict.grantId, firstVerdict.grantId);
    assert.match(verdict.reason, /allowed by grant grt_/);

    // a grant is per session: another agent session is still held
    const other = await daemon.api('POST', '/v1/agent-sessions', { name: 'agent-2' });
    const otherToken = (other.json as { token: string }).token;
    const held = submit(write('insert into orders values (5)'), otherToken);
    const otherApproval = await waitPending('insert into orders values (5)');
    await daemon.api('POST', `/v1/approvals/${otherApproval.id}/deny`, { reason: 'no' });
    assert.equal(((await held).json as { verdict: Verdict }).verdict.allowed, false);
  });

  const freshToken = async (name: string) => ((await daemon.api('POST', '/v1/agent-sessions', { name })).json as { token: string }).token;

  test('an agent that disconnects cancels its approval', async () => {
    // a new agent session: agent-1 holds a grant for "writes" since the previous test
    const body = JSON.stringify({ token: await freshToken('agent-3'), ...write('update orders set x = 1 where id = 9') });
    const req = http.request(`${daemon.base}/v1/test/actions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${daemon.info.token}` } });
    req.on('error', () => undefined);
    req.end(body);
    const approval = await waitPending('update orders set x = 1 where id = 9');
    req.destroy();
    for (let i = 0; i < 100; i++) {
      const { json } = await daemon.api('GET', `/v1/approvals/${approval.id}`);
      if ((json as { approval: Approval }).approval.status !== 'pending') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const { json } = await daemon.api('GET', `/v1/approvals/${approval.id}`);
    const final = (json as { approval: Approval }).approval;
    assert.equal(final.status, 'cancelled');
    assert.match(final.resolution?.reason ?? '', /disconnect/);
  });

  test('revoking the agent session: its token stops working', async () => {
    const created = await daemon.api('POST', '/v1/agent-sessions', { name: 'short-lived' });
    const { token: t, session } = created.json as { token: string; session: { id: string } };
    const revoke = await runCli(home.dir, ['session', 'revoke', session.id]);
    assert.equal(revoke.code, 0, revoke.stderr);
    const refused = await submit(write('x'), t);
    assert.equal(refused.status, 401);
    assert.match((refused.json as { error: string }).error, /revoked/);
  });

  test('restart with a pending approval: recorded as cancelled after kill -9', async () => {
    const held = submit(write('truncate orders'), await freshToken('agent-4')).catch(() => undefined);
    const approval = await waitPending('truncate orders');
    // The pending list reaches disk a moment after the approval is visible (async, batched); a crash
    // inside that moment loses it as async recording loses its last records. Kill after it landed.
    const pendingFile = path.join(home.dir, 'pending-approvals.json');
    for (let i = 0; i < 200 && !(existsSync(pendingFile) && readFileSync(pendingFile, 'utf8').includes(approval.id)); i++) await new Promise((r) => setTimeout(r, 25));
    await daemon.kill9();
    await held;
    daemon = await startDaemon(home.dir);
    const { status, json } = await daemon.api('GET', `/v1/approvals/${approval.id}`);
    assert.equal(status, 200);
    const recovered = (json as { approval: Approval }).approval;
    assert.equal(recovered.status, 'cancelled');
    assert.match(recovered.resolution?.reason ?? '', /restart/);
    const pending = await daemon.api('GET', '/v1/approvals');
    assert.equal((pending.json as { approvals: Approval[] }).approvals.length, 0);

    // the cancellation is in the session's log
    const sessions = await daemon.api('GET', '/v1/sessions');
    const recordings = (sessions.json as { recordings: { id: string; agentSessionName: string; state: string }[] }).recordings.filter((r) => r.agentSessionName === 'agent-4');
    let found = false;
    for (const r of recordings) {
      const page = await daemon.api('GET', `/v1/sessions/${r.id}/records?limit=1000`);
      const records = (page.json as { records: { type: string; approvalId?: string; status?: string }[] }).records;
      if (records.some((rec) => rec.type === 'approval.resolved' && rec.approvalId === approval.id && rec.status === 'cancelled')) found = true;
    }
    assert.ok(found, 'approval.resolved cancelled recorded');
    assert.ok(recordings.some((r) => r.state === 'interrupted'), 'the crashed run left an interrupted recording');
  });
});
