// Runs inside the VS Code extension host (loaded through the "payload" extensionTestsPath). It
// checks activation from the inside, then keeps the host alive while run.mjs drives the rendered
// workbench, until run.mjs writes <AIRLOCK_HOME>/host-test-done.
const vscode = require('vscode');
const fs = require('node:fs');
const path = require('node:path');

exports.run = async function run() {
  const ext = vscode.extensions.all.find((e) => e.id === 'airlock.airlock-vscode');
  if (!ext) throw new Error('the Airlock extension is not installed in the host');
  const started = performance.now();
  const api = await ext.activate();
  const activated = performance.now() - started;
  const core = await api.ready();
  console.log(`[airlock-host] activated in ${activated.toFixed(1)} ms (core loaded after ${(performance.now() - started).toFixed(1)} ms), VS Code ${vscode.version}`);
  const commands = await vscode.commands.getCommands(true);
  for (const id of ['airlock.approve', 'airlock.approveForSession', 'airlock.deny', 'airlock.startDaemon', 'airlock.openPolicy']) {
    if (!commands.includes(id)) throw new Error(`command ${id} is not registered`);
  }
  await vscode.commands.executeCommand('workbench.view.extension.airlock');
  // terminals are routed through the daemon: the variables the extension set reach a real psql
  const deadline0 = Date.now() + 30_000;
  while (!core.terminalEnvironment().PGPORT) {
    if (Date.now() > deadline0) throw new Error('no terminal environment for the database target');
    await new Promise((r) => setTimeout(r, 200));
  }
  const env = core.terminalEnvironment();
  const { spawnSync } = require('node:child_process');
  const psql = spawnSync('psql', ['-X', '-At', '-c', 'SELECT 41 + 1'], { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (psql.stdout.trim() !== '42') throw new Error(`psql with the terminal environment failed: ${psql.stderr}`);
  console.log(`[airlock-host] terminal environment routes psql through ${env.PGHOST}:${env.PGPORT}`);
  // a query whose result holds PII: the agent's psql sees it masked (the UI steps then open its masked-data view)
  const pii = spawnSync('psql', ['-X', '-At', '-c', 'SELECT name, email, card FROM customers ORDER BY id'], { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (pii.status !== 0 || !pii.stdout.includes('[EMAIL]') || pii.stdout.includes('ada@example.com') || !pii.stdout.includes('****1111')) {
    throw new Error(`psql through the daemon did not get masked rows: ${pii.stdout} ${pii.stderr}`);
  }
  console.log('[airlock-host] ready');
  const done = path.join(process.env.AIRLOCK_HOME, 'host-test-done');
  const deadline = Date.now() + 120_000;
  while (!fs.existsSync(done)) {
    if (Date.now() > deadline) throw new Error('the UI driver never finished');
    await new Promise((r) => setTimeout(r, 200));
  }
  const verdict = fs.readFileSync(done, 'utf8').trim();
  if (verdict !== 'ok') throw new Error(`UI steps failed: ${verdict}`);
};
