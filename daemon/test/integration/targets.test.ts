import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, startDaemon, tempHome, type RunningDaemon } from '../helpers/daemon-process.js';

interface TargetStatus {
  target: { name: string };
  state: string;
  error?: string;
}

/** A new target is a new path to a system: it is staged until confirmed; a person confirms it here (API). */
async function confirmStaged(daemon: RunningDaemon, name: string): Promise<void> {
  type Pending = { hash: string; differences: { subject: string }[] };
  let pending = null as Pending | null;
  for (let i = 0; i < 100 && !pending?.differences.some((d) => d.subject === `target ${name}`); i++) {
    pending = ((await daemon.api('GET', '/v1/policy/pending')).json as { pending: Pending | null }).pending;
    if (!pending) await new Promise((r) => setTimeout(r, 30));
  }
  assert.ok(pending, `adding target "${name}" was staged`);
  const applied = await daemon.api('POST', '/v1/policy/pending/apply', { hash: pending.hash, by: 'tester', via: 'api' });
  assert.equal(applied.status, 200, JSON.stringify(applied.json));
}

describe('targets through the CLI, picked up by the running daemon', () => {
  const home = tempHome();
  after(() => home.cleanup());

  test('add (staged until confirmed), list, remove; invalid input refused with one line', async () => {
    const daemon = await startDaemon(home.dir);
    try {
      const add = await runCli(home.dir, ['target', 'add', 'app-db', '--protocol', 'postgres', '--upstream', 'postgres://app@127.0.0.1:5432/app', '--password-env', 'APP_DB_PASSWORD', '--listen', '127.0.0.1:0']);
      assert.equal(add.code, 0, add.stderr);
      assert.match(add.stdout, /added target "app-db"/);
      const config = readFileSync(path.join(home.dir, 'config.yaml'), 'utf8');
      assert.match(config, /APP_DB_PASSWORD/);
      assert.match(add.stdout, /waits for confirmation/);
      await confirmStaged(daemon, 'app-db');

      let statuses: TargetStatus[] = [];
      for (let i = 0; i < 100 && !statuses.some((s) => s.target.name === 'app-db'); i++) {
        statuses = ((await daemon.api('GET', '/v1/targets')).json as { targets: TargetStatus[] }).targets;
        await new Promise((r) => setTimeout(r, 30));
      }
      const appDb = statuses.find((s) => s.target.name === 'app-db');
      assert.ok(appDb, 'the daemon picked up the new target without a restart');
      assert.equal(appDb.state, 'listening', appDb.error);

      // a protocol whose proxy this build does not have yet: nothing listens, and the status says so
      const ssh = await runCli(home.dir, ['target', 'add', 'jump', '--protocol', 'ssh', '--upstream', 'ssh://deploy@10.0.0.1:22', '--listen', '127.0.0.1:0']);
      assert.equal(ssh.code, 0, ssh.stderr);
      await confirmStaged(daemon, 'jump');
      let jump: TargetStatus | undefined;
      for (let i = 0; i < 100 && !jump; i++) {
        jump = ((await daemon.api('GET', '/v1/targets')).json as { targets: TargetStatus[] }).targets.find((s) => s.target.name === 'jump');
        if (!jump) await new Promise((r) => setTimeout(r, 30));
      }
      assert.equal(jump?.state, 'unsupported');
      assert.match(jump?.error ?? '', /no ssh proxy/);
      assert.equal((await runCli(home.dir, ['target', 'remove', 'jump'])).code, 0);

      const list = await runCli(home.dir, ['target', 'list', '--json']);
      assert.equal((JSON.parse(list.stdout) as { targets: TargetStatus[] }).targets[0]?.target.name, 'app-db');

      const dup = await runCli(home.dir, ['target', 'add', 'app-db', '--protocol', 'postgres', '--upstream', 'postgres://app@h/app', '--listen', '127.0.0.1:0']);
      assert.notEqual(dup.code, 0);
      assert.match(dup.stderr, /already exists/);

      const secret = await runCli(home.dir, ['target', 'add', 'leaky', '--protocol', 'postgres', '--upstream', 'postgres://app:hunter2@h/app', '--listen', '127.0.0.1:0']);
      assert.notEqual(secret.code, 0);
      assert.match(secret.stderr, /upstream: the upstream URL must not contain a password/);
      assert.doesNotMatch(readFileSync(path.join(home.dir, 'config.yaml'), 'utf8'), /hunter2/);

      const badListen = await runCli(home.dir, ['target', 'add', 'x', '--protocol', 'postgres', '--upstream', 'postgres://h/db', '--listen', 'nonsense']);
      assert.notEqual(badListen.code, 0);
      assert.match(badListen.stderr, /expected HOST:PORT/);
      const badProtocol = await runCli(home.dir, ['target', 'add', 'x', '--protocol', 'ftp', '--upstream', 'ftp://h/', '--listen', '127.0.0.1:1']);
      assert.notEqual(badProtocol.code, 0);
      assert.match(badProtocol.stderr, /protocol/);

      const remove = await runCli(home.dir, ['target', 'remove', 'app-db']);
      assert.equal(remove.code, 0, remove.stderr);
      for (let i = 0; i < 100 && statuses.some((s) => s.target.name === 'app-db'); i++) {
        statuses = ((await daemon.api('GET', '/v1/targets')).json as { targets: TargetStatus[] }).targets;
        await new Promise((r) => setTimeout(r, 30));
      }
      assert.equal(statuses.length, 0);
      const missing = await runCli(home.dir, ['target', 'remove', 'app-db']);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /no target named "app-db"/);
    } finally {
      await daemon.stop();
    }
  });
});
