// Checks that run inside a VS Code extension host, shared by the VS Code server run (index.cjs,
// driven by run.mjs) and the desktop run (../../desktop, through @vscode/test-cli).
const vscode = require('vscode');
const { spawnSync } = require('node:child_process');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Activates the extension, measures it, and waits for its core. */
async function activate() {
  const ext = vscode.extensions.all.find((e) => e.id === 'airlock.airlock-vscode');
  if (!ext) throw new Error('the Airlock extension is not installed in the host');
  const started = performance.now();
  const api = await ext.activate();
  const activatedMs = performance.now() - started;
  const core = await api.ready();
  return { core, activatedMs, ownMs: api.activationMs, readyMs: performance.now() - started };
}

async function commandsRegistered() {
  const commands = await vscode.commands.getCommands(true);
  for (const id of ['airlock.approve', 'airlock.approveForSession', 'airlock.deny', 'airlock.startDaemon', 'airlock.openPolicy', 'airlock.showApproval', 'airlock.showAction', 'airlock.openReplay', 'airlock.openSshTerminal']) {
    if (!commands.includes(id)) throw new Error(`command ${id} is not registered`);
  }
}

/** The terminal environment the extension set routes a real psql through the daemon. */
async function terminalRoutesPsql(core, { pii = true } = {}) {
  const deadline = Date.now() + 30_000;
  while (!core.terminalEnvironment().PGPORT) {
    if (Date.now() > deadline) throw new Error('no terminal environment for the database target');
    await sleep(200);
  }
  const env = core.terminalEnvironment();
  const psql = spawnSync('psql', ['-X', '-At', '-c', 'SELECT 41 + 1'], { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (psql.stdout.trim() !== '42') throw new Error(`psql with the terminal environment failed: ${psql.stderr}`);
  if (pii) {
    // a result holding PII: the agent's psql sees it masked
    const rows = spawnSync('psql', ['-X', '-At', '-c', 'SELECT name, email, card FROM customers ORDER BY id'], { env: { ...process.env, ...env }, encoding: 'utf8' });
    if (rows.status !== 0 || !rows.stdout.includes('[EMAIL]') || rows.stdout.includes('ada@example.com') || !rows.stdout.includes('****1111')) {
      throw new Error(`psql through the daemon did not get masked rows: ${rows.stdout} ${rows.stderr}`);
    }
  }
  return env;
}

/**
 * The terminal environment routes a real curl through the daemon's HTTP listeners: the API target
 * at AIRLOCK_<TARGET>_URL with the session token as a bearer token, and the egress proxy from
 * HTTPS_PROXY / http_proxy (`-p`: a CONNECT even for http://) to a host the target lists, while
 * loopback (NO_PROXY) goes direct. `listed` is that host:port.
 */
async function terminalRoutesHttp(core, apiVariable, listed) {
  const deadline = Date.now() + 30_000;
  while (!core.terminalEnvironment().HTTPS_PROXY || !core.terminalEnvironment()[apiVariable]) {
    if (Date.now() > deadline) throw new Error(`no HTTP routing in the terminal environment: ${Object.keys(core.terminalEnvironment()).join(', ')}`);
    await sleep(200);
  }
  const env = core.terminalEnvironment();
  const proxy = new URL(env.HTTPS_PROXY);
  if (decodeURIComponent(proxy.password) !== env.AIRLOCK_TOKEN || env.http_proxy !== env.HTTPS_PROXY || !env.NO_PROXY.split(',').includes('127.0.0.1')) {
    throw new Error('HTTPS_PROXY does not carry the session token, or http_proxy / NO_PROXY are missing');
  }
  const curl = (args) => spawnSync('curl', ['-sS', '--max-time', '20', ...args], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
  const viaApi = curl(['-H', `Authorization: Bearer ${env.AIRLOCK_TOKEN}`, `${env[apiVariable]}/customers?page=1`]);
  if (viaApi.status !== 0 || !viaApi.stdout.includes('"Ada"') || viaApi.stdout.includes('ada@example.com')) {
    throw new Error(`curl through the API target did not get the masked body: ${viaApi.stdout} ${viaApi.stderr}`);
  }
  const viaEgress = curl(['-p', `http://${listed}/through-egress`]);
  if (viaEgress.status !== 0 || viaEgress.stdout !== 'listed host reached') throw new Error(`curl through the egress proxy failed: ${viaEgress.stdout} ${viaEgress.stderr}`);
  const refused = curl(['-o', '/dev/null', '-w', '%{http_code}', `${env[apiVariable]}/customers`]);
  if (refused.stdout !== '401') throw new Error(`without the token the API target must answer 401, not ${refused.stdout}`);
  return env;
}

/**
 * The KUBECONFIG the extension set for new terminals takes a real kubectl through the daemon's
 * Kubernetes listener (TLS verified through the daemon's CA, no flag), and a Secret read that way
 * keeps its keys, never its values.
 */
async function terminalRoutesKubectl(core, { pod, secret, secretValue }) {
  const deadline = Date.now() + 30_000;
  while (!core.terminalEnvironment().KUBECONFIG) {
    if (Date.now() > deadline) throw new Error(`no KUBECONFIG in the terminal environment: ${JSON.stringify(Object.keys(core.terminalEnvironment()))}`);
    await sleep(200);
  }
  // kubectl's discovery cache in the test's scratch home, not the user's ~/.kube
  const env = { ...process.env, ...core.terminalEnvironment(), KUBECACHEDIR: require('node:path').join(process.env.AIRLOCK_HOME ?? require('node:os').tmpdir(), 'kube-cache') };
  const pods = spawnSync('kubectl', ['get', 'pods', '-n', 'default', '-o', 'name'], { env, encoding: 'utf8', timeout: 20_000 });
  if (pods.status !== 0 || pods.stdout.trim() !== `pod/${pod}`) throw new Error(`kubectl get pods with the terminal's KUBECONFIG: ${pods.stdout} ${pods.stderr}`);
  const data = spawnSync('kubectl', ['get', 'secret', secret, '-n', 'default', '-o', 'jsonpath={.data}'], { env, encoding: 'utf8', timeout: 20_000 });
  const values = data.status === 0 ? JSON.parse(data.stdout) : undefined;
  const masked = Buffer.from('[REDACTED]').toString('base64');
  if (!values || Object.keys(values).join() !== 'password' || values.password !== masked || data.stdout.includes(Buffer.from(secretValue).toString('base64'))) {
    throw new Error(`kubectl get secret through the daemon did not keep the key with a masked value: ${data.stdout} ${data.stderr}`);
  }
  return env.KUBECONFIG;
}

module.exports = { activate, commandsRegistered, terminalRoutesPsql, terminalRoutesHttp, terminalRoutesKubectl, sleep };
