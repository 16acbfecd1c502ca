// Runs inside the VS Code extension host (loaded through the "payload" extensionTestsPath). It
// checks activation from the inside, then keeps the host alive while run.mjs drives the rendered
// workbench, until run.mjs writes <AIRLOCK_HOME>/host-test-done.
const vscode = require('vscode');
const fs = require('node:fs');
const path = require('node:path');
const { activate, commandsRegistered, terminalRoutesPsql, terminalRoutesHttp, terminalRoutesKubectl, sleep } = require('./checks.cjs');

exports.run = async function run() {
  const { core, activatedMs, ownMs, readyMs } = await activate();
  console.log(`[airlock-host] activated in ${ownMs.toFixed(1)} ms of activate() (${activatedMs.toFixed(1)} ms awaiting ext.activate() with VS Code's own work; core loaded after ${readyMs.toFixed(1)} ms), VS Code ${vscode.version}`);
  await commandsRegistered();
  await vscode.commands.executeCommand('workbench.view.extension.airlock');
  // run.mjs configures a kubernetes target "staging" in front of an in-test API server (AIRLOCK_HOST_TEST_KUBE names its pod, Secret and the Secret's value);
  // first, so that kubectl's discovery requests do not push the psql rows the UI driver opens out of the Live activity view
  if (process.env.AIRLOCK_HOST_TEST_KUBE) {
    const kubeconfig = await terminalRoutesKubectl(core, JSON.parse(process.env.AIRLOCK_HOST_TEST_KUBE));
    console.log(`[airlock-host] KUBECONFIG ${kubeconfig} takes kubectl through the daemon; the Secret's value came back masked`);
  }
  const env = await terminalRoutesPsql(core);
  console.log(`[airlock-host] terminal environment routes psql through ${env.PGHOST}:${env.PGPORT}`);
  // run.mjs configures an API target "shop-api" and an egress target listing AIRLOCK_HOST_TEST_LISTED's host
  if (process.env.AIRLOCK_HOST_TEST_LISTED) {
    const httpEnv = await terminalRoutesHttp(core, 'AIRLOCK_SHOP_API_URL', process.env.AIRLOCK_HOST_TEST_LISTED);
    console.log(`[airlock-host] http routing: curl through ${httpEnv.AIRLOCK_SHOP_API_URL} and the egress proxy`);
  }
  // a second agent session from the command: its connection string (on the clipboard) logs in through the daemon
  const extra = await vscode.commands.executeCommand('airlock.createAgentSession', 'host-suite-extra-agent');
  if (!extra || extra.name !== 'host-suite-extra-agent') throw new Error(`createAgentSession returned ${JSON.stringify(extra)}`);
  const url = await vscode.env.clipboard.readText();
  const { spawnSync } = require('node:child_process');
  const viaExtra = spawnSync('psql', ['-X', '-At', url, '-c', 'SELECT 7 * 6'], { encoding: 'utf8' });
  if (viaExtra.stdout.trim() !== '42' || url.includes(env.PGPASSWORD)) throw new Error(`the new session's connection string did not work: ${viaExtra.stderr}`);
  // VS Code refuses modal dialogs while extension tests run: the UI driver answers them through
  // files, after checking what the modal would have shown
  core.answerModalsWith(async (request) => {
    const asked = path.join(process.env.AIRLOCK_HOME, 'host-test-modal.json');
    const answered = path.join(process.env.AIRLOCK_HOME, 'host-test-modal-answer');
    fs.writeFileSync(asked, JSON.stringify(request));
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(answered)) {
      if (Date.now() > deadline) throw new Error('the UI driver never answered the modal');
      await sleep(100);
    }
    const answer = fs.readFileSync(answered, 'utf8').trim();
    fs.rmSync(answered);
    fs.rmSync(asked);
    return answer === request.confirm;
  });
  console.log('[airlock-host] ready');
  const done = path.join(process.env.AIRLOCK_HOME, 'host-test-done');
  const deadline = Date.now() + 120_000;
  const themeRequest = path.join(process.env.AIRLOCK_HOME, 'host-test-theme');
  while (!fs.existsSync(done)) {
    if (Date.now() > deadline) throw new Error('the UI driver never finished');
    // the UI driver asks for a colour theme (the webviews must follow it)
    if (fs.existsSync(themeRequest)) {
      const theme = fs.readFileSync(themeRequest, 'utf8').trim();
      fs.rmSync(themeRequest);
      await vscode.workspace.getConfiguration('workbench').update('colorTheme', theme, vscode.ConfigurationTarget.Global);
    }
    await sleep(200);
  }
  const verdict = fs.readFileSync(done, 'utf8').trim();
  if (verdict !== 'ok') throw new Error(`UI steps failed: ${verdict}`);
};
