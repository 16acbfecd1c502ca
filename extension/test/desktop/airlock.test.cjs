/* global suite, suiteSetup, suiteTeardown, test */
// The extension-host checks in desktop VS Code (@vscode/test-cli, mocha tdd): a real daemon started
// here in AIRLOCK_HOME (set by .vscode-test.mjs), the machine's PostgreSQL (127.0.0.1:5432, trust
// auth for postgres, as on the CI machines) behind it, approvals decided through the extension's commands.
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const vscode = require('vscode');
const { activate, commandsRegistered, terminalRoutesPsql, sleep } = require('../host/suite/checks.cjs');
const { freePort } = require('../host/free-port.cjs');

const home = process.env.AIRLOCK_HOME;
const cli = path.resolve(__dirname, '../../../daemon/dist/src/cli/main.js');
const database = `airlock_desktop_${process.pid}`;

const admin = (sql, db = 'postgres') => spawnSync('psql', ['-X', '-q', '-h', '127.0.0.1', '-U', 'postgres', '-d', db, '-c', sql], { encoding: 'utf8' });

suite('Airlock in desktop VS Code', () => {
  let daemon;
  let info;
  const api = async (method, p, body) => {
    const res = await fetch(`http://${info.host}:${info.port}${p}`, { method, headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    return res.json();
  };

  suiteSetup(async () => {
    fs.mkdirSync(home, { recursive: true });
    for (const [sql, db] of [[`CREATE DATABASE ${database}`], ["CREATE TABLE customers (id int PRIMARY KEY, name text, email text, card text); INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', '4111 1111 1111 1111')", database]]) {
      const r = admin(sql, db);
      if (r.status !== 0) throw new Error(`this suite needs PostgreSQL on 127.0.0.1:5432 with trust auth: ${r.stderr || r.error?.message}`);
    }
    fs.writeFileSync(path.join(home, 'config.yaml'), `targets:\n  - { name: db, protocol: postgres, upstream: "postgres://postgres@127.0.0.1:5432/${database}?sslmode=disable", listen: { host: 127.0.0.1, port: ${await freePort()} } }\n`);
    daemon = spawn(process.execPath, [cli, '--home', home, 'up'], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', AIRLOCK_TEST_ACTION_SOURCE: '1' }, stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    while (!info) {
      try {
        const i = JSON.parse(fs.readFileSync(path.join(home, 'daemon.json'), 'utf8'));
        if (i.pid === daemon.pid) info = i;
      } catch {
        // not written yet
      }
      if (Date.now() > deadline) throw new Error('the daemon did not start');
      await sleep(100);
    }
  });

  suiteTeardown(() => {
    daemon?.kill('SIGTERM');
    admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });

  test('activates quickly and registers its commands', async () => {
    const { activatedMs, ownMs } = await activate();
    console.log(`activated in ${ownMs.toFixed(1)} ms of activate() (${activatedMs.toFixed(1)} ms awaiting ext.activate())`);
    await commandsRegistered();
  });

  test('routes terminals (psql) through the daemon, results masked', async () => {
    const { core } = await activate();
    await terminalRoutesPsql(core);
  });

  test('approves a held action through the extension command', async () => {
    const { token } = await api('POST', '/v1/agent-sessions', { name: 'desktop-agent' });
    const verdict = api('POST', '/v1/test/actions', { token, target: 'db', protocol: 'postgres', kind: 'sql.query', summary: 'UPDATE orders SET x = 1 WHERE id = 1', attributes: { class: 'write', tables: ['orders'] } });
    let pending;
    for (let i = 0; i < 100 && !pending; i++) {
      pending = (await api('GET', '/v1/approvals')).approvals.find((a) => a.action.summary.startsWith('UPDATE orders'));
      if (!pending) await sleep(100);
    }
    assert.ok(pending, 'the action is held');
    await vscode.commands.executeCommand('airlock.approve', pending);
    const result = await verdict;
    assert.equal(result.verdict.allowed, true);
    assert.equal(result.verdict.decidedBy.via, 'extension');
  });
});
