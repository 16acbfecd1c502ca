import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, startDaemon, tempHome } from '../helpers/daemon-process.js';

describe('daemon lifecycle (real airlock process)', () => {
  const home = tempHome();
  after(() => home.cleanup());

  test('up --detach returns once the API answers; status, stop', async () => {
    const up = await runCli(home.dir, ['up', '--detach']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /airlockd started \(pid \d+\), control API on http:\/\/127\.0\.0\.1:\d+/);

    const infoFile = path.join(home.dir, 'daemon.json');
    assert.equal(statSync(infoFile).mode & 0o777, 0o600, 'daemon.json must be readable by its owner only');
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as { port: number; token: string; pid: number };
    assert.ok(info.token.length >= 32);

    const health = await fetch(`http://127.0.0.1:${info.port}/v1/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(((await health.json()) as { ok: boolean }).ok, true);
    const noToken = await fetch(`http://127.0.0.1:${info.port}/v1/status`);
    assert.equal(noToken.status, 401);
    const wrongToken = await fetch(`http://127.0.0.1:${info.port}/v1/status`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrongToken.status, 401);
    assert.match(((await wrongToken.json()) as { error: string }).error, /bearer token/);

    const again = await runCli(home.dir, ['up', '--detach']);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /^airlock: airlockd is already running/);
    assert.equal(again.stderr.trim().split('\n').length, 1, 'one line');

    const status = await runCli(home.dir, ['status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const parsed = JSON.parse(status.stdout) as { running: boolean; pid: number; policy: { sources: { kind: string }[] } };
    assert.equal(parsed.running, true);
    assert.equal(parsed.pid, info.pid);
    assert.equal(parsed.policy.sources[0]?.kind, 'default');

    const stop = await runCli(home.dir, ['stop']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /airlockd stopped/);
    assert.equal(existsSync(infoFile), false, 'daemon.json removed on clean stop');

    const down = await runCli(home.dir, ['status']);
    assert.equal(down.code, 3);
    assert.match(down.stdout, /not running/);
  });

  test('SIGTERM: exit 0, open logs sealed', async () => {
    const daemon = await startDaemon(home.dir);
    const created = await daemon.api('POST', '/v1/agent-sessions', { name: 'sigterm-agent' });
    const token = (created.json as { token: string }).token;
    const submitted = await daemon.api('POST', '/v1/test/actions', {
      token,
      target: 'db',
      protocol: 'postgres',
      kind: 'sql.query',
      summary: 'select 1',
      attributes: { class: 'read' },
    });
    assert.equal(submitted.status, 200, JSON.stringify(submitted.json));
    const code = await daemon.stop();
    assert.equal(code, 0, daemon.output());
    const verify = await runCli(home.dir, ['verify', '--all']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    const sessions = JSON.parse((await runCli(home.dir, ['sessions', '--json'])).stdout) as { recordings: { state: string; agentSessionName: string }[] };
    const mine = sessions.recordings.find((r) => r.agentSessionName === 'sigterm-agent');
    assert.equal(mine?.state, 'sealed');
  });

  test('an invalid config file stops the start with one line naming the file and path', async () => {
    const bad = tempHome();
    try {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(path.join(bad.dir, 'config.yaml'), 'targets:\n  - name: db\n    protocol: postgres\n    upstream: postgres://u@h/db\n    listen: { port: 70000 }\n');
      const up = await runCli(bad.dir, ['up']);
      assert.notEqual(up.code, 0);
      assert.match(up.stderr, /config\.yaml: targets\[0\]\.listen\.port: .*65535/);
    } finally {
      bad.cleanup();
    }
  });
});
