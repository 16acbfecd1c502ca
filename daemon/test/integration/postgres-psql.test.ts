import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PgResultDetail } from '@airlock/shared';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createDatabase, dropDatabase, psqlDirect, run, startPgProxy, waitForApproval, type PgProxyHarness } from '../helpers/pg-proxy.js';
import { DEMO_SCHEMA, TEST_POLICY } from '../helpers/pg-fixtures.js';

const DB = 'airlock_it_psql';

describe('PostgreSQL proxy with psql (real server, real client)', () => {
  let h: PgProxyHarness;
  const psql = (args: string[], input?: string, env: NodeJS.ProcessEnv = h.env) => run('psql', ['-X', '-v', 'VERBOSITY=verbose', ...args], env, input);

  before(async () => {
    createDatabase(DB, DEMO_SCHEMA);
    h = await startPgProxy({ database: DB, policy: TEST_POLICY });
  });
  after(async () => {
    await h.stop();
    dropDatabase(DB);
  });

  test('psql -c: a read goes through with PII masked and the credential never leaves the daemon', async () => {
    const r = await psql(['-At', '-c', 'SELECT id, name, email, phone, card, iban, password_hash FROM customers ORDER BY id']);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.trim().split('\n').map((l) => l.split('|'));
    assert.equal(rows.length, 3);
    assert.equal(rows[0]![1], 'Ada Lovelace');
    assert.equal(rows[0]![2], '[EMAIL]');
    assert.match(rows[0]![4]!, /1111$/);
    assert.doesNotMatch(r.stdout, /ada@example\.com|4111 1111 1111 1111|GB82 WEST|bcrypt/);
    assert.equal(rows[0]![6], '[REDACTED]', 'column rule *password*');
  });

  test('psql -f: several statements in one file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-psql-'));
    try {
      const file = path.join(dir, 'q.sql');
      writeFileSync(file, 'SELECT count(*) FROM customers;\nSELECT name FROM customers WHERE id = 2;\nSHOW server_version;\n');
      const r = await psql(['-At', '-f', file]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines[0], '3');
      assert.equal(lines[1], 'Alan Turing');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('denied statements get SQLSTATE 42501 naming the rule; the connection stays usable', async () => {
    const r = await psql(['-At'], 'ALTER SYSTEM SET work_mem = \'1MB\';\nDELETE FROM customers;\nCREATE TABLE x (a int);\nSELECT 42;\n');
    assert.match(r.stderr, /ERROR:\s+42501: blocked by Airlock policy \(rule no-privileged\)/);
    assert.match(r.stderr, /42501: blocked by Airlock policy \(rule no-unbounded-writes\)/);
    assert.match(r.stderr, /42501: blocked by Airlock policy \(rule no-ddl\)/);
    assert.match(r.stdout, /^42$/m, 'the same connection answers the next query');
    assert.equal(psqlDirect(DB, 'SELECT count(*) FROM customers'), '3', 'nothing was deleted');
  });

  test('a refusal inside a transaction block is an error in it: client and server agree', async () => {
    const r = await psql(['-At', '-q'], 'BEGIN;\nSELECT 1;\nDROP TABLE customers;\nSELECT 2;\nROLLBACK;\nSELECT count(*) FROM customers;\n');
    assert.match(r.stderr, /blocked by Airlock policy \(rule no-ddl\)/);
    assert.match(r.stderr, /25P02: current transaction is aborted/, 'the server also sees the transaction as failed');
    const out = r.stdout.trim().split('\n');
    assert.deepEqual(out, ['1', '3']);
  });

  test('a held UPDATE in a transaction: approved through the API, committed', async () => {
    const client = psql(['-At'], "BEGIN;\nUPDATE customers SET notes = 'approved change' WHERE id = 1;\nCOMMIT;\n");
    const approval = await waitForApproval(h.daemon, "SET notes = 'approved change'");
    assert.equal(approval.ruleId, 'writes');
    const res = await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, { by: 'reviewer', via: 'extension' });
    assert.equal(res.status, 200);
    const r = await client;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /UPDATE 1|^$/m);
    assert.equal(psqlDirect(DB, 'SELECT notes FROM customers WHERE id = 1'), 'approved change');
  });

  test('a held UPDATE denied by a reviewer: the agent sees the reason, nothing changes', async () => {
    const client = psql(['-At'], "BEGIN;\nUPDATE customers SET notes = 'denied change' WHERE id = 2;\nCOMMIT;\n");
    const approval = await waitForApproval(h.daemon, "SET notes = 'denied change'");
    await h.daemon.api('POST', `/v1/approvals/${approval.id}/deny`, { reason: 'not during the freeze', by: 'reviewer' });
    const r = await client;
    assert.match(r.stderr, /42501: blocked by Airlock policy \(rule writes\): denied by reviewer via api: not during the freeze/);
    assert.match(r.stdout + r.stderr, /ROLLBACK/);
    assert.notEqual(psqlDirect(DB, 'SELECT notes FROM customers WHERE id = 2'), 'denied change');
  });

  test('no decision before the rule timeout: refused', async () => {
    const started = Date.now();
    const r = await psql(['-At', '-c', "INSERT INTO audit_log (entry) VALUES ('x')"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /42501: blocked by Airlock policy \(rule audit-writes\)/);
    assert.ok(Date.now() - started >= 1400);
    assert.equal(psqlDirect(DB, 'SELECT count(*) FROM audit_log'), '0');
  });

  test('\\copy out is masked; \\copy in waits for approval and loads', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-copy-'));
    try {
      const out = path.join(dir, 'out.csv');
      const r = await psql(['-c', `\\copy (SELECT id, email, card FROM customers ORDER BY id) TO '${out}' WITH (FORMAT csv)`]);
      assert.equal(r.code, 0, r.stderr);
      const csv = readFileSync(out, 'utf8');
      assert.match(csv, /^1,\[EMAIL\],/m);
      assert.doesNotMatch(csv, /ada@example\.com|4111 1111 1111 1111/);

      const input = path.join(dir, 'in.csv');
      writeFileSync(input, '10,new@example.com\n11,other@example.com\n');
      const copyIn = psql(['-c', `\\copy imports FROM '${input}' WITH (FORMAT csv)`]);
      const approval = await waitForApproval(h.daemon, 'COPY');
      await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, {});
      const ci = await copyIn;
      assert.equal(ci.code, 0, ci.stderr);
      assert.equal(psqlDirect(DB, 'SELECT count(*) FROM imports'), '2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('binary COPY TO STDOUT is withheld (its values cannot be masked); the session goes on', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-copy-bin-'));
    try {
      const out = path.join(dir, 'out.bin');
      const r = await psql(['-At', '-c', `\\copy (SELECT id, email, card FROM customers) TO '${out}' WITH (FORMAT binary)`, '-c', 'SELECT 40 + 2']);
      assert.match(r.stderr, /0A000.*binary values cannot be masked/);
      assert.match(r.stdout, /^42$/m, 'the next statement on the same connection runs');
      const written = readFileSync(out);
      assert.ok(!written.includes('ada@example.com') && !written.includes('4111 1111'), 'no unmasked value reached the client');
      // the recording says what happened
      await new Promise((resolve) => setTimeout(resolve, 300));
      const { json } = await h.daemon.api('GET', '/v1/sessions');
      const rec = (json as { recordings: { id: string; agentSessionName: string }[] }).recordings.find((x) => x.agentSessionName === 'pg-agent')!;
      const page = await h.daemon.api('GET', `/v1/sessions/${rec.id}/records?limit=1000`);
      const results = (page.json as { records: { type: string; error?: string }[] }).records.filter((x) => x.type === 'result');
      assert.ok(results.some((x) => /binary values cannot be masked/.test(x.error ?? '')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a scripted interactive session: variables, \\d, transactions', async () => {
    const r = await psql(['-At'], "\\set id 3\nSELECT name FROM customers WHERE id = :id;\n\\d customers\nBEGIN;\nSELECT email FROM customers WHERE id = :id;\nCOMMIT;\n\\q\n");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Grace Hopper$/m);
    assert.match(r.stdout, /password_hash/, '\\d runs catalog queries through the proxy');
    assert.match(r.stdout, /^\[EMAIL\]$/m);
  });

  test('CancelRequest from psql (SIGINT) cancels pg_sleep through the proxy', async () => {
    const child = spawn('psql', ['-X', '-At', '-c', 'SELECT pg_sleep(30)'], { env: h.env });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.notEqual(code, 0);
    assert.match(stderr, /canceling statement due to user request/);
    assert.ok(Date.now() - started < 15_000);
  });

  test('a wrong token fails SCRAM with a clear FATAL; a revoked token names the reason', async () => {
    const wrong = await psql(['-At', '-c', 'SELECT 1'], undefined, { ...h.env, PGPASSWORD: 'alk_wrong' });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /password authentication failed for user "agent": the password is not a valid Airlock agent session token/);

    const token = await h.newToken('to-revoke');
    const { json } = await h.daemon.api('GET', '/v1/agent-sessions');
    const id = (json as { sessions: { id: string; name: string }[] }).sessions.find((s) => s.name === 'to-revoke')!.id;
    await h.daemon.api('DELETE', `/v1/agent-sessions/${id}`);
    const revoked = await psql(['-At', '-c', 'SELECT 1'], undefined, { ...h.env, PGPASSWORD: token });
    assert.equal(revoked.code, 2);
    assert.match(revoked.stderr, /was revoked/);
  });

  test('the recording holds statements, decisions, approvers and masked result rows', async () => {
    await psql(['-At', '-c', 'SELECT email FROM customers WHERE id = 1']);
    await new Promise((r) => setTimeout(r, 400));
    const { json } = await h.daemon.api('GET', '/v1/sessions');
    const rec = (json as { recordings: { id: string; agentSessionName: string }[] }).recordings.find((r) => r.agentSessionName === 'pg-agent')!;
    const page = await h.daemon.api('GET', `/v1/sessions/${rec.id}/records?limit=1000`);
    const records = (page.json as { records: { type: string; summary?: string; detail?: { rows?: unknown[][]; maskReport?: { byDetector: Record<string, number> } } }[] }).records;
    const result = records.filter((r) => r.type === 'result').find((r) => JSON.stringify(r.detail?.rows) === JSON.stringify([['[EMAIL]']]));
    assert.ok(result, 'masked rows in the result record');
    assert.equal(result.summary, 'SELECT 1');
    assert.equal(result.detail?.maskReport?.byDetector.email, 1);
    // the viewer's cell marks: which sample cell was masked, by what (the shared schema parses it)
    assert.deepEqual(PgResultDetail.parse(result.detail).masks, [{ row: 0, column: 0, by: ['email'] }]);
    assert.doesNotMatch(JSON.stringify(records), /ada@example\.com/);
    assert.ok(records.some((r) => r.type === 'approval.resolved'));
  });
});
