import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CLI, runCli, startDaemon, tempHome, type RunningDaemon } from '../helpers/daemon-process.js';
import { SseTestClient } from '../helpers/sse-client.js';

const TIGHT = `version: 1
default: review
rules:
  - { id: privileged-deny, decision: deny, match: { attributes: { class: privileged } } }
  - { id: reads-allow, decision: allow, match: { attributes: { class: read } } }
masking:
  columns: [{ columns: ["*password*"] }]
`;
/** the review's incident: everything allowed, masking off */
const LOOSE = `version: 1
default: allow
masking: { detectors: [] }
`;
const TIGHTER = TIGHT.replace('rules:\n', 'rules:\n  - { id: secrets-deny, decision: deny, match: { attributes: { tables: "secret.*" } } }\n');

interface Pending {
  hash: string;
  files: string[];
  differences: { direction: string; subject: string; text: string }[];
}
interface Verdict {
  allowed: boolean;
  ruleId?: string;
}

describe('policy changes that loosen enforcement are staged until a person confirms them (real daemon)', () => {
  const home = tempHome();
  const policyFile = path.join(home.dir, 'policy.yaml');
  let daemon: RunningDaemon;
  let events: SseTestClient;
  let token: string;
  const submit = async (klass: string, tables: string[] = []) =>
    ((await daemon.api('POST', '/v1/test/actions', { token, target: 'db', protocol: 'postgres', kind: 'sql.query', summary: `a ${klass} statement`, attributes: { class: klass, tables } })).json as { verdict: Verdict }).verdict;
  const pending = async () => ((await daemon.api('GET', '/v1/policy/pending')).json as { pending: Pending | null }).pending;
  const nextEvent = (type: string) => {
    const from = events.messages.length;
    return events.waitFor((m) => events.messages.indexOf(m) >= from && m.event === type);
  };

  before(async () => {
    writeFileSync(policyFile, TIGHT, { mode: 0o600 });
    daemon = await startDaemon(home.dir);
    token = ((await daemon.api('POST', '/v1/agent-sessions', { name: 'staging-agent' })).json as { token: string }).token;
    events = new SseTestClient(`${daemon.base}/v1/events`, daemon.info.token);
    await events.open();
    // the agent session's recording is open from its first action
    assert.equal((await submit('read')).allowed, true);
  });
  after(async () => {
    events.close();
    await daemon.stop();
    home.cleanup();
  });

  test('a loosening edit is staged: the old policy still decides, status and API show the difference', async () => {
    const staged = nextEvent('policy.staged');
    writeFileSync(policyFile, LOOSE);
    const change = (JSON.parse((await staged).data) as { data: { change: Pending } }).data.change;
    assert.ok(change.differences.some((d) => d.direction === 'loosening' && d.subject === 'rule privileged-deny'), JSON.stringify(change.differences));
    assert.ok(change.differences.some((d) => d.direction === 'loosening' && d.subject === 'masking'));
    assert.deepEqual(change.files, [policyFile]);

    const denied = await submit('privileged');
    assert.equal(denied.allowed, false, 'what was denied stays denied');
    assert.equal(denied.ruleId, 'privileged-deny');
    assert.equal((await pending())?.hash, change.hash);
    const status = (await daemon.api('GET', '/v1/status')).json as { pendingPolicyChange: Pending | null };
    assert.equal(status.pendingPolicyChange?.hash, change.hash);

    const cliStatus = await runCli(home.dir, ['policy', 'status']);
    assert.equal(cliStatus.code, 0, cliStatus.stderr);
    assert.match(cliStatus.stdout, /is waiting for confirmation/);
    assert.match(cliStatus.stdout, /Loosens:\n {2}- default: an action no rule matches is allowed instead of held for review/);
    const overall = await runCli(home.dir, ['status']);
    assert.match(overall.stdout, /policy change WAITING for confirmation/);
  });

  test('"airlock policy apply" refuses without an interactive terminal; the API refuses a hash it did not stage', async () => {
    const apply = await runCli(home.dir, ['policy', 'apply']);
    assert.notEqual(apply.code, 0);
    assert.match(apply.stderr, /^airlock: "airlock policy apply" asks a person to confirm, so it needs an interactive terminal/);
    assert.equal(apply.stderr.trim().split('\n').length, 1);
    const wrong = await daemon.api('POST', '/v1/policy/pending/apply', { hash: 'a'.repeat(64), via: 'api' });
    assert.equal(wrong.status, 409);
    assert.match((wrong.json as { error: string }).error, /files changed after it was shown/);
    assert.equal((await submit('privileged')).allowed, false);
  });

  test('a tightening edit applies at once and replaces the staged change', async () => {
    const unstaged = nextEvent('policy.unstaged');
    const changed = nextEvent('policy.changed');
    writeFileSync(policyFile, TIGHTER);
    await changed;
    assert.match((await unstaged).data, /does not loosen/);
    assert.equal(await pending(), null);
    const secret = await submit('read', ['secret.keys']);
    assert.equal(secret.allowed, false);
    assert.equal(secret.ruleId, 'secrets-deny');
  });

  test('an edit back to the policy in force withdraws a staged change', async () => {
    const staged = nextEvent('policy.staged');
    writeFileSync(policyFile, LOOSE);
    await staged;
    const unstaged = nextEvent('policy.unstaged');
    writeFileSync(policyFile, `# back\n${TIGHTER}`);
    assert.match((await unstaged).data, /back to the policy in force/);
    assert.equal(await pending(), null);
  });

  test('confirmed at a terminal (a pseudo-terminal), the staged change is applied', async () => {
    const staged = nextEvent('policy.staged');
    writeFileSync(policyFile, LOOSE);
    const change = (JSON.parse((await staged).data) as { data: { change: Pending } }).data.change;
    const applied = nextEvent('policy.applied');
    // script(1) gives the command a pseudo-terminal; its input is what a person types
    const out = await inPseudoTerminal(`${process.execPath} ${CLI} --home ${home.dir} policy apply`, 'apply\n');
    assert.match(out, /Loosens:/);
    assert.match(out, /applied policy change/);
    const { data } = JSON.parse((await applied).data) as { data: { change: Pending; via: string } };
    assert.equal(data.change.hash, change.hash);
    assert.equal(data.via, 'cli');
    assert.equal(await pending(), null);
    assert.equal((await submit('privileged')).allowed, true, 'the confirmed policy is in force');
  });

  test('a target added to the config is staged, and applied when confirmed through the API', async () => {
    const staged = nextEvent('policy.staged');
    const add = await runCli(home.dir, ['target', 'add', 'extra', '--protocol', 'ssh', '--upstream', 'ssh://deploy@10.0.0.1:22', '--key-env', 'EXTRA_SSH_KEY', '--listen', '127.0.0.1:0']);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /waits for confirmation/);
    const change = (JSON.parse((await staged).data) as { data: { change: Pending } }).data.change;
    assert.ok(change.differences.some((d) => d.direction === 'loosening' && d.subject === 'target extra' && /new path/.test(d.text)));
    const targets = async () => ((await daemon.api('GET', '/v1/targets')).json as { targets: { target: { name: string } }[] }).targets.map((t) => t.target.name);
    assert.deepEqual(await targets(), []);
    const applied = await daemon.api('POST', '/v1/policy/pending/apply', { hash: change.hash, by: 'tester', via: 'api' });
    assert.equal(applied.status, 200, JSON.stringify(applied.json));
    assert.deepEqual(await targets(), ['extra']);
    // removing it tightens: applied at once through the API
    const removed = await daemon.api('DELETE', '/v1/targets/extra');
    assert.equal(removed.status, 200, JSON.stringify(removed.json));
    assert.deepEqual(await targets(), []);
    assert.equal(await pending(), null);
  });

  test("every stage is in the open session's log: the attempt, the withdrawal, the tightening, the confirmation", async () => {
    const recordings = ((await daemon.api('GET', '/v1/sessions')).json as { recordings: { id: string; agentSessionName: string }[] }).recordings;
    const mine = recordings.find((r) => r.agentSessionName === 'staging-agent')!;
    const page = (await daemon.api('GET', `/v1/sessions/${mine.id}/records?limit=1000`)).json as { records: { type: string; stage?: string; by?: string; via?: string; differences?: Pending['differences'] }[] };
    const stages = page.records.filter((r) => r.type === 'policy.change').map((r) => r.stage);
    assert.deepEqual(stages, ['staged', 'withdrawn', 'tightened', 'staged', 'withdrawn', 'staged', 'confirmed', 'staged', 'confirmed', 'tightened']);
    const confirmed = page.records.filter((r) => r.stage === 'confirmed');
    assert.equal(confirmed[0]?.via, 'cli');
    assert.ok(confirmed[0]?.differences?.some((d) => d.subject === 'rule privileged-deny'));
    assert.equal(confirmed[1]?.by, 'tester');
    const replay = await runCli(home.dir, ['replay', mine.id]);
    assert.match(replay.stdout, /policy: a change that loosens enforcement was staged \(not in force until a person confirms it\); loosens: .*rule privileged-deny/);
    assert.match(replay.stdout, /policy: a staged policy change was confirmed and applied by tester \(api\)/);
    const verify = await runCli(home.dir, ['verify', mine.id]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });
});

describe('a restart does not put an unconfirmed loosening in force', () => {
  test('files loosened while the daemon was stopped are staged at start; once confirmed they survive the next restart', async () => {
    const home = tempHome();
    const file = path.join(home.dir, 'policy.yaml');
    writeFileSync(file, TIGHT, { mode: 0o600 });
    writeFileSync(path.join(home.dir, 'config.yaml'), 'targets:\n  - { name: db, protocol: ssh, upstream: "ssh://deploy@10.0.0.1:22", listen: { port: 0 } }\n', { mode: 0o600 });
    let daemon = await startDaemon(home.dir);
    try {
      const privileged = async () => {
        const { token } = (await daemon.api('POST', '/v1/agent-sessions', { name: 'restart-agent' })).json as { token: string };
        const res = await daemon.api('POST', '/v1/test/actions', { token, target: 'db', protocol: 'postgres', kind: 'sql.query', summary: 'ALTER ROLE x SUPERUSER', attributes: { class: 'privileged' } });
        return (res.json as { verdict: Verdict }).verdict;
      };
      assert.equal((await privileged()).allowed, false);
      assert.equal(await daemon.stop(), 0);

      // the agent's attempt: loosen the files and restart the daemon
      writeFileSync(file, LOOSE);
      writeFileSync(path.join(home.dir, 'config.yaml'), 'targets:\n  - { name: db, protocol: ssh, upstream: "ssh://deploy@10.0.0.1:22", listen: { port: 0 } }\n  - { name: prod, protocol: ssh, upstream: "ssh://root@10.0.0.9:22", listen: { port: 0 } }\n');
      daemon = await startDaemon(home.dir);
      assert.match(daemon.output(), /loosens enforcement, so it is staged/);
      const denied = await privileged();
      assert.equal(denied.allowed, false, 'the policy last in force decides');
      assert.equal(denied.ruleId, 'privileged-deny');
      const targets = ((await daemon.api('GET', '/v1/targets')).json as { targets: { target: { name: string } }[] }).targets.map((t) => t.target.name);
      assert.deepEqual(targets, ['db'], 'the new target is not listening');
      const { pending } = (await daemon.api('GET', '/v1/policy/pending')).json as { pending: Pending };
      assert.ok(pending.differences.some((d) => d.subject === 'rule privileged-deny'));
      assert.ok(pending.differences.some((d) => d.subject === 'target prod'));
      const status = await runCli(home.dir, ['policy', 'status']);
      assert.match(status.stdout, /is waiting for confirmation/);

      const applied = await daemon.api('POST', '/v1/policy/pending/apply', { hash: pending.hash, by: 'tester', via: 'api' });
      assert.equal(applied.status, 200, JSON.stringify(applied.json));
      assert.equal((await privileged()).allowed, true);
      assert.equal(await daemon.stop(), 0);

      daemon = await startDaemon(home.dir);
      assert.equal(((await daemon.api('GET', '/v1/policy/pending')).json as { pending: Pending | null }).pending, null, 'a confirmed change is not asked again');
      assert.equal((await privileged()).allowed, true);
    } finally {
      await daemon.stop();
      home.cleanup();
    }
  });
});

describe('the data dir must be writable by the daemon user only', () => {
  test('a group-writable policy file stops the start, with the fix in the message', async () => {
    const home = tempHome();
    try {
      const file = path.join(home.dir, 'policy.yaml');
      writeFileSync(file, TIGHT);
      chmodSync(file, 0o664);
      const up = await runCli(home.dir, ['up']);
      assert.notEqual(up.code, 0);
      assert.match(up.stderr, /airlockd refuses to start: another user could change what Airlock enforces: .*policy\.yaml is writable by its group \(mode 0664\); fix with: chmod go-w .*policy\.yaml/);
      chmodSync(home.dir, 0o777);
      chmodSync(file, 0o600);
      const dir = await runCli(home.dir, ['up']);
      assert.match(dir.stderr, /writable by group and others \(mode 0777\); fix with: chmod go-w /);
    } finally {
      home.cleanup();
    }
  });
});

/** Runs a command under script(1), so its stdin and stdout are a terminal, typing `input`. */
function inPseudoTerminal(command: string, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // answer once the question is asked, as a person would
      if (out.includes('Type "apply"') && input !== '') {
        child.stdin.write(input);
        input = '';
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${out}`))));
  });
}
