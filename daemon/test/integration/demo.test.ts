import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, tempHome } from '../helpers/daemon-process.js';
import { run, waitForApproval } from '../helpers/pg-proxy.js';
import type { RunningDaemon } from '../helpers/daemon-process.js';

describe('the README\'s main command: airlock up --demo (real daemon, psql)', () => {
  const home = tempHome('airlock-demo-');
  const embeddedHome = tempHome('airlock-demo-embedded-');
  after(async () => {
    await runCli(home.dir, ['stop']);
    await runCli(embeddedHome.dir, ['stop']);
    home.cleanup();
    embeddedHome.cleanup();
  });

  test('without a reachable PostgreSQL: an embedded one (PGlite) serves the demo database', async () => {
    const up = await runCli(embeddedHome.dir, ['up', '--demo', '--detach'], { PGPORT: '1' });
    assert.equal(up.code, 0, up.stderr);
    const m = /PGPASSWORD=(alk_\S+) psql -h (\S+) -p (\d+) -U agent airlock_demo/.exec(up.stdout);
    assert.ok(m, up.stdout);
    const env = { ...process.env, PGPASSWORD: m[1], PGHOST: m[2], PGPORT: m[3], PGUSER: 'agent', PGDATABASE: 'airlock_demo', PGSSLMODE: 'disable' };
    const select = await run('psql', ['-X', '-At', '-c', 'SELECT email, card_number, version() LIKE \'%PGlite%\' FROM customers WHERE id = 2'], env);
    assert.equal(select.code, 0, select.stderr);
    assert.equal(select.stdout.trim(), '[EMAIL]|****5559|t');
  });

  test('with the machine\'s PostgreSQL: a SELECT comes back masked, an UPDATE waits for approval', async () => {
    const up = await runCli(home.dir, ['up', '--demo', '--detach']);
    assert.equal(up.code, 0, up.stderr);
    const m = /PGPASSWORD=(alk_\S+) psql -h (\S+) -p (\d+) -U agent airlock_demo -c 'SELECT \* FROM customers'/.exec(up.stdout);
    assert.ok(m, up.stdout);
    const env = { ...process.env, PGPASSWORD: m[1], PGHOST: m[2], PGPORT: m[3], PGUSER: 'agent', PGDATABASE: 'airlock_demo', PGSSLMODE: 'disable' };

    const select = await run('psql', ['-X', '-At', '-c', 'SELECT email, card_number, ssn, password_hash FROM customers WHERE id = 1'], env);
    assert.equal(select.code, 0, select.stderr);
    assert.equal(select.stdout.trim(), '[EMAIL]|****1111|[REDACTED]|[REDACTED]');

    const update = run('psql', ['-X', '-At', '-c', "UPDATE orders SET status = 'open' WHERE id = 1"], env);
    const { DaemonInfo } = await import('@airlock/shared');
    const { readFileSync } = await import('node:fs');
    const info = DaemonInfo.parse(JSON.parse(readFileSync(`${home.dir}/daemon.json`, 'utf8')));
    const daemon = {
      api: async (method: string, path: string) => {
        const res = await fetch(`http://${info.host}:${info.port}${path}`, { method, headers: { authorization: `Bearer ${info.token}` } });
        return { status: res.status, json: await res.json() };
      },
    } as unknown as RunningDaemon;
    const approval = await waitForApproval(daemon, "UPDATE orders SET status = 'open'");
    const approved = await runCli(home.dir, ['approve', approval.id]);
    assert.equal(approved.code, 0, approved.stderr);
    const done = await update;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /UPDATE 1/);
  });
});
