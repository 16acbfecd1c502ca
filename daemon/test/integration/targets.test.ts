import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
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

      // a target whose credential the daemon cannot read: nothing listens, and the status says why
      const ssh = await runCli(home.dir, ['target', 'add', 'jump', '--protocol', 'kubernetes', '--upstream', 'https://k8s.internal:6443', '--token-env', 'AIRLOCK_TEST_UNSET_TOKEN', '--listen', '127.0.0.1:0']);
      assert.equal(ssh.code, 0, ssh.stderr);
      await confirmStaged(daemon, 'jump');
      let jump: TargetStatus | undefined;
      for (let i = 0; i < 100 && !jump; i++) {
        jump = ((await daemon.api('GET', '/v1/targets')).json as { targets: TargetStatus[] }).targets.find((s) => s.target.name === 'jump');
        if (!jump) await new Promise((r) => setTimeout(r, 30));
      }
      for (let i = 0; i < 100 && jump?.state !== 'error'; i++) {
        await new Promise((r) => setTimeout(r, 30));
        jump = ((await daemon.api('GET', '/v1/targets')).json as { targets: TargetStatus[] }).targets.find((s) => s.target.name === 'jump');
      }
      assert.equal(jump?.state, 'error');
      assert.match(jump?.error ?? '', /AIRLOCK_TEST_UNSET_TOKEN is not set/);
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

      const capped = await runCli(home.dir, ['target', 'add', 'capped', '--protocol', 'postgres', '--upstream', 'postgres://h/db', '--listen', '127.0.0.1:0', '--max-connections', '8', '--max-connections-per-session', '3']);
      assert.equal(capped.code, 0, capped.stderr);
      const written = readFileSync(path.join(home.dir, 'config.yaml'), 'utf8');
      assert.match(written, /name: capped[\s\S]*limits:\s+maxConnections: 8\s+maxConnectionsPerSession: 3/);
      assert.equal((await runCli(home.dir, ['target', 'remove', 'capped'])).code, 0);
      const badCap = await runCli(home.dir, ['target', 'add', 'y', '--protocol', 'postgres', '--upstream', 'postgres://h/db', '--listen', '127.0.0.1:0', '--max-connections', 'lots']);
      assert.notEqual(badCap.code, 0);
      assert.match(badCap.stderr, /--max-connections "lots": expected a whole number above zero/);
      const inverted = await runCli(home.dir, ['target', 'add', 'y', '--protocol', 'postgres', '--upstream', 'postgres://h/db', '--listen', '127.0.0.1:0', '--max-connections', '2', '--max-connections-per-session', '5']);
      assert.notEqual(inverted.code, 0);
      assert.match(inverted.stderr, /--max-connections-per-session 5 is above --max-connections 2/);

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

describe('target add: settings weaker than the defaults are said on stderr', () => {
  const home = tempHome();
  after(() => home.cleanup());

  test('sslmode without verification outside loopback, require_auth=password, channel_binding=disable, an open credential file: one warning each; an unusable setting is an error', async () => {
    const add = (name: string, upstream: string, extra: string[] = []) => runCli(home.dir, ['target', 'add', name, '--protocol', 'postgres', '--upstream', upstream, '--listen', '127.0.0.1:0', ...extra]);

    const strict = await add('strict', 'postgres://app@db.internal:5432/app');
    assert.equal(strict.code, 0, strict.stderr);
    assert.equal(strict.stderr, '', 'the defaults need no warning');

    const weak = await add('weak', 'postgres://app@db.internal:5432/app?sslmode=require');
    assert.equal(weak.code, 0, weak.stderr);
    assert.equal(weak.stderr, `warning: target "weak": sslmode=require does not verify the certificate of db.internal, so whoever answers at that address gets the agents' queries and results (the default for a host outside loopback is verify-full)\n`);
    assert.match(readFileSync(path.join(home.dir, 'config.yaml'), 'utf8'), /sslmode=require/, 'the explicit choice is kept');

    const optIn = await add('opt-in', 'postgres://app@127.0.0.1:5433/app?require_auth=password&channel_binding=disable');
    assert.equal(optIn.code, 0, optIn.stderr);
    assert.deepEqual(optIn.stderr.trim().split('\n'), [
      `warning: target "opt-in": require_auth=password lets the server ask for the password in cleartext without a verified TLS connection, so whoever answers at 127.0.0.1 can capture it (set sslmode=verify-full, or use scram-sha-256)`,
      `warning: target "opt-in": channel_binding=disable turns off SCRAM's proof that the TLS connection ends at the server that knows the password (the default is prefer)`,
    ]);

    const file = path.join(home.dir, 'db-password');
    writeFileSync(file, 'secret\n', { mode: 0o640 });
    const open = await add('open-file', 'postgres://app@127.0.0.1:5433/app', ['--password-file', file]);
    assert.equal(open.code, 0, open.stderr);
    assert.match(open.stderr, new RegExp(`^warning: target "open-file": the credential file ${file} can be read or changed by other users \\(mode 0640\\);.*\\(run chmod 600 ${file}\\); airlockd refuses the target until then\\n$`));

    const bad = await add('bad', 'postgres://app@db.internal/app?sslmode=verify');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /target "bad": sslmode "verify" is not one of disable, allow, prefer, require, verify-ca, verify-full/);
    assert.doesNotMatch(readFileSync(path.join(home.dir, 'config.yaml'), 'utf8'), /name: bad/);
  });

  test('http and egress targets: their options, and the options of other protocols refused with one line', async () => {
    const cli = (args: string[]) => runCli(home.dir, ['target', 'add', ...args]);
    const gh = await cli(['gh', '--protocol', 'http', '--upstream', 'https://api.github.com', '--auth', 'bearer', '--secret-env', 'GH_TOKEN', '--listen', '127.0.0.1:0']);
    assert.equal(gh.code, 0, gh.stderr);
    assert.match(gh.stdout, /added target "gh" \(http\).*-> https:\/\/api\.github\.com/);
    const egress = await cli(['out', '--protocol', 'egress', '--allow-host', 'registry.npmjs.org', '--allow-host', '*.pypi.org:443', '--listen', '127.0.0.1:0']);
    assert.equal(egress.code, 0, egress.stderr);
    assert.match(egress.stdout, /-> any host policy allows \(egress\)/);
    const config = readFileSync(path.join(home.dir, 'config.yaml'), 'utf8');
    assert.match(config, /auth: bearer/);
    assert.match(config, /GH_TOKEN/);
    assert.match(config, /\*\.pypi\.org:443/);

    const refusals: [string[], RegExp][] = [
      [['a', '--protocol', 'http', '--upstream', 'http://api.example.com', '--listen', '127.0.0.1:0'], /plain http:\/\/ upstream would receive the real credential unencrypted/],
      [['b', '--protocol', 'http', '--upstream', 'https://api.example.com', '--auth', 'basic', '--listen', '127.0.0.1:0'], /--auth basic needs the secret/],
      [['c', '--protocol', 'egress', '--upstream', 'https://x.example', '--listen', '127.0.0.1:0'], /egress target has no upstream/],
      [['d', '--protocol', 'egress', '--secret-env', 'T', '--listen', '127.0.0.1:0'], /apply to http targets, not egress/],
      [['e', '--protocol', 'postgres', '--upstream', 'postgres://h/db', '--allow-host', 'x', '--listen', '127.0.0.1:0'], /--allow-host apply to http and egress targets only/],
      [['f', '--protocol', 'http', '--upstream', 'https://api.example.com', '--password-env', 'P', '--listen', '127.0.0.1:0'], /takes --secret-env/],
    ];
    for (const [args, message] of refusals) {
      const result = await cli(args);
      assert.notEqual(result.code, 0, args.join(' '));
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    }
  });
});
