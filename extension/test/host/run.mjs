#!/usr/bin/env node
// `npm run test:vscode`: the extension in a real VS Code extension host (the VS Code server from
// code-server@4.100.3, see ../../../../shared/vscode-host-tests.md) against a real daemon,
// driven through the rendered workbench in Debian's chromium with playwright-core.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { freePort } from './free-port.cjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const extensionDir = path.resolve(here, '../..');
const repo = path.resolve(extensionDir, '..');
const hostDir = process.env.AIRLOCK_VSCODE_HOST ?? path.join(extensionDir, '.vscode-test-host');
const serverMain = path.join(hostDir, 'node_modules/code-server/lib/vscode/out/server-main.js');
const cli = path.join(repo, 'daemon/dist/src/cli/main.js');
const outputDir = path.join(extensionDir, 'test-output');

const results = [];
async function step(name, fn) {
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok - ${name}`);
  } catch (err) {
    results.push({ name, ok: false, error: err });
    console.log(`not ok - ${name}: ${err.message}`);
    throw err;
  }
}
const check = (cond, message) => {
  if (!cond) throw new Error(message);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(probe, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

if (!existsSync(serverMain)) {
  console.error(`test:vscode: no VS Code server at ${serverMain}; run "bash extension/test/host/setup.sh" first`);
  process.exit(2);
}
if (!existsSync(path.join(extensionDir, 'out/extension.cjs'))) {
  console.error('test:vscode: the extension is not bundled; run "npm run bundle -w airlock-vscode" first');
  process.exit(2);
}

const scratch = mkdtempSync(path.join(os.tmpdir(), 'airlock-vscode-'));
const home = path.join(scratch, 'home');
const userData = path.join(scratch, 'user-data');
mkdirSync(path.join(userData, 'User'), { recursive: true });
writeFileSync(path.join(userData, 'User/settings.json'), JSON.stringify({ 'security.workspace.trust.enabled': false, 'workbench.startupEditor': 'none', 'workbench.colorTheme': 'Default Light Modern' }));
mkdirSync(outputDir, { recursive: true });

const children = [];
const servers = [];
const database = `airlock_host_${process.pid}`;
let databaseCreated = false;
let browser;
let exitCode;
const hostLog = [];
const pageLog = [];
try {
  // a database target for terminal routing: a scratch database with synthetic PII on the machine's
  // PostgreSQL, behind the daemon
  const dbPort = await freePort();
  const psqlAdmin = (sql, db = 'postgres') => {
    const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-U', 'postgres', '-d', db, '-c', sql], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
  };
  psqlAdmin(`CREATE DATABASE ${database}`);
  databaseCreated = true;
  psqlAdmin("CREATE TABLE customers (id int PRIMARY KEY, name text, email text, card text); INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', '4111 1111 1111 1111'), (2, 'Grace', 'grace@example.org', '5555 5555 5555 4444')", database);
  // an HTTP API behind an API target (plain HTTP on loopback, so --plaintext) and, on 127.0.0.2, the
  // same server as a host the egress target lists: real curl in the extension host goes through both
  const apiSecret = `host-test-upstream-secret-${process.pid}`;
  const upstreamSeen = [];
  const upstreamApi = createServer((req, res) => {
    upstreamSeen.push({ host: req.socket.localAddress, url: req.url, authorization: req.headers.authorization });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ customers: [{ id: 1, name: 'Ada', email: 'ada@example.com' }], path: req.url }));
  });
  const upstreamPort = await freePort();
  const listenOn = (host) => new Promise((resolve, reject) => upstreamApi.listen(upstreamPort, host, resolve).once('error', reject));
  await listenOn('127.0.0.1');
  const listedUpstream = createServer((req, res) => {
    upstreamSeen.push({ host: req.socket.localAddress, url: req.url, authorization: req.headers.authorization });
    res.end('listed host reached');
  });
  await new Promise((resolve, reject) => listedUpstream.listen(upstreamPort, '127.0.0.2', resolve).once('error', reject));
  servers.push(upstreamApi, listedUpstream);
  const apiPort = await freePort();
  const egressPort = await freePort();
  // a kubernetes target for KUBECONFIG routing: the in-test API server (daemon/test/helpers: the real
  // wire format, no cluster can run here) with a pod and a Secret, reached with its own kubeconfig
  const { makeTestCa } = await import(path.join(repo, 'daemon/dist/test/helpers/test-ca.js'));
  const { startFakeKubeApiServer } = await import(path.join(repo, 'daemon/dist/test/helpers/fake-kube-apiserver.js'));
  const { writeKubeconfig } = await import(path.join(repo, 'daemon/dist/test/helpers/kubectl.js'));
  const clusterCa = await makeTestCa();
  const cluster = await startFakeKubeApiServer({ tls: await clusterCa.leaf() });
  children.push({ kill: () => void cluster.close() });
  const kubeFixture = { pod: 'web-1', secret: 'db-credentials', secretValue: `hunter2-${process.pid}` };
  cluster.create('pods', 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: kubeFixture.pod, namespace: 'default' }, spec: { containers: [{ name: 'app', image: 'nginx' }] } });
  cluster.create('secrets', 'default', { apiVersion: 'v1', kind: 'Secret', metadata: { name: kubeFixture.secret, namespace: 'default' }, type: 'Opaque', data: { password: Buffer.from(kubeFixture.secretValue).toString('base64') } });
  mkdirSync(path.join(scratch, 'cluster'));
  const clusterKubeconfig = writeKubeconfig(path.join(scratch, 'cluster'), { server: cluster.url, caPem: clusterCa.certPem, token: cluster.token, context: 'fake' });
  const kubePort = await freePort();
  mkdirSync(home, { recursive: true });
  writeFileSync(
    path.join(home, 'config.yaml'),
    [
      'targets:',
      `  - { name: db, protocol: postgres, upstream: "postgres://postgres@127.0.0.1:5432/${database}?sslmode=disable", listen: { host: 127.0.0.1, port: ${dbPort} } }`,
      `  - { name: shop-api, protocol: http, upstream: "http://127.0.0.1:${upstreamPort}", plaintext: true, auth: bearer, credential: { env: HOST_TEST_API_SECRET }, listen: { host: 127.0.0.1, port: ${apiPort} } }`,
      `  - { name: egress, protocol: egress, allowHosts: ["127.0.0.2"], listen: { host: 127.0.0.1, port: ${egressPort} } }`,
      `  - { name: staging, protocol: kubernetes, kubeconfig: "${clusterKubeconfig}", listen: { host: 127.0.0.1, port: ${kubePort} } }`,
      '',
    ].join('\n'),
  );
  const daemon = spawn(process.execPath, [cli, '--home', home, 'up'], { env: { ...process.env, AIRLOCK_TEST_ACTION_SOURCE: '1', HOST_TEST_API_SECRET: apiSecret }, stdio: 'ignore' });
  children.push(daemon);
  const info = await until(() => {
    try {
      const i = JSON.parse(readFileSync(path.join(home, 'daemon.json'), 'utf8'));
      return i.pid === daemon.pid ? i : undefined;
    } catch {
      return undefined;
    }
  }, 'the daemon');
  const api = async (method, p, body) => {
    const res = await fetch(`http://${info.host}:${info.port}${p}`, { method, headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    return res.json();
  };

  const port = await freePort();
  const server = spawn(process.execPath, [serverMain, '--host', '127.0.0.1', '--port', String(port), '--without-connection-token', '--accept-server-license-terms', '--extensions-dir', path.join(scratch, 'extensions'), '--user-data-dir', userData], { env: { ...process.env, AIRLOCK_HOME: home, AIRLOCK_HOST_TEST_LISTED: `127.0.0.2:${upstreamPort}`, AIRLOCK_HOST_TEST_KUBE: JSON.stringify(kubeFixture) }, stdio: 'ignore' });
  children.push(server);
  await until(() => fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok, () => false), 'the VS Code server');

  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // the webviews' strict CSP must hold for everything they render: any refusal is a failure
  const cspViolations = [];
  page.on('console', (m) => {
    pageLog.push(`${m.type()}: ${m.text()}`);
    if (/Content Security Policy|Refused to (apply|load|execute)/.test(m.text())) cspViolations.push(m.text());
  });
  await page.exposeFunction('codeAutomationLog', (_type, args) => hostLog.push(String(Array.isArray(args) ? args.join(' ') : args)));
  await page.exposeFunction('codeAutomationExit', (code) => (exitCode = code));
  const payload = [
    ['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${port}${extensionDir}`],
    ['extensionTestsPath', `vscode-remote://127.0.0.1:${port}${path.join(here, 'suite/index.cjs')}`],
    ['skipWelcome', 'true'],
  ];
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(scratch)}&payload=${encodeURIComponent(JSON.stringify(payload))}`);

  try {
    await step('the extension activates, registers its commands and routes terminals (psql, and kubectl through KUBECONFIG) through the daemon', () => until(() => hostLog.some((l) => l.includes('[airlock-host] ready')) || exitCode !== undefined, 'activation', 90_000).then(() => check(exitCode === undefined, `the host exited early: ${hostLog.join(' | ')}`)));
    await step('the status bar shows the connected daemon', () => until(() => page.locator('.statusbar-item', { hasText: 'Airlock' }).count(), 'the status bar item'));

    const { token } = await api('POST', '/v1/agent-sessions', { name: 'host-test-agent' });
    // a sql.query detail as the PostgreSQL adapter records it (typed by shared/src/kinds/sql.ts), so the panels render it as SQL
    const submit = (summary) => api('POST', '/v1/test/actions', { token, target: 'db', protocol: 'postgres', kind: 'sql.query', summary, attributes: { class: 'write', tables: ['orders'] }, detail: { sql: summary, protocol: 'simple' } });

    const first = "UPDATE orders SET status = 'shipped' WHERE id = 7";
    const firstVerdict = submit(first);
    firstVerdict.catch(() => undefined);
    await step('a held action raises a notification; its Approve button approves it in the daemon', async () => {
      const toast = page.locator('.notification-toast', { hasText: 'status = \'shipped\'' });
      await toast.waitFor({ timeout: 20_000 });
      await toast.getByRole('button', { name: 'Approve' }).click();
      const { verdict } = await firstVerdict;
      check(verdict.allowed === true && verdict.via === 'approval' && verdict.decidedBy?.via === 'extension', `verdict ${JSON.stringify(verdict)}`);
    });

    const second = "DELETE FROM orders WHERE id = 8";
    const secondVerdict = submit(second);
    secondVerdict.catch(() => undefined);
    await step("a pending approval's inline Deny asks for a reason and denies it in the daemon", async () => {
      // the row in the Pending approvals view (the Live activity view lists the same action)
      const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /pending approvals/i }) });
      const row = pane.locator('.monaco-list-row', { hasText: 'DELETE FROM orders WHERE id = 8' });
      await row.waitFor({ timeout: 20_000 });
      await row.hover();
      const deny = row.locator('.action-label[aria-label="Deny"]');
      await deny.waitFor({ state: 'visible', timeout: 10_000 });
      await deny.click();
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ timeout: 10_000 });
      await input.fill('not on a Friday');
      await input.press('Enter');
      const { verdict } = await secondVerdict;
      check(verdict.allowed === false && /not on a Friday/.test(verdict.reason) && verdict.decidedBy?.via === 'extension', `verdict ${JSON.stringify(verdict)}`);
    });

    await step('the views show the decisions', async () => {
      await until(() => page.locator('.monaco-list-row', { hasText: 'approved by' }).count(), 'an "approved by" activity row');
      await until(() => page.locator('.monaco-list-row', { hasText: 'host-test-agent' }).filter({ hasNotText: ' 0 records' }).count(), 'the recorded session with its record count');
      await until(() => page.locator('.monaco-list-row', { hasText: 'host-test-agent' }).filter({ hasText: 'verified' }).count(), 'the recorded session with its integrity');
      await page.screenshot({ path: path.join(outputDir, 'workbench.png') });
    });

    // ---- webviews: their documents live in nested iframes; find one by the kind its page declares
    // several panels of a kind can be open: `accept` picks the one wanted (a detached frame never is)
    const webview = (kind, timeoutMs, accept = async () => true) =>
      until(async () => {
        for (const frame of page.frames()) {
          const found = await frame.evaluate('document.body?.dataset.kind').catch(() => undefined);
          if (found === kind && !frame.isDetached() && (await Promise.resolve().then(() => accept(frame)).catch(() => false))) return frame;
        }
        return undefined;
      }, `the ${kind} webview`, timeoutMs);
    // a click on a tree row can land while the view re-renders (the daemon's events refresh it), as a
    // person's can: click again, as they would, until the panel is there
    const openFromRow = (row, kind, accept) =>
      until(async () => {
        await row.click();
        return webview(kind, 8_000, accept).catch(() => undefined);
      }, `the ${kind} webview from a click`, 45_000);

    await step('terminal routing for HTTP: curl with the variables reaches the API target (the upstream gets the real credential, the agent a masked body) and the egress proxy (a CONNECT to a listed host); both show in Live activity by what they did', async () => {
      const routed = hostLog.find((l) => l.includes('[airlock-host] http routing'));
      check(routed, `the suite's HTTP routing check ran: ${hostLog.slice(-3).join(' | ')}`);
      const viaApi = upstreamSeen.filter((r) => r.url === '/customers?page=1');
      check(viaApi.length === 1 && viaApi[0].authorization === `Bearer ${apiSecret}`, `the upstream saw the real credential, once: ${JSON.stringify(upstreamSeen.map((r) => ({ ...r, authorization: r.authorization === `Bearer ${apiSecret}` ? 'the real secret' : r.authorization })))}`);
      check(upstreamSeen.some((r) => r.host === '127.0.0.2' && r.url === '/through-egress' && r.authorization === undefined), 'the listed host was reached through the tunnel, with no credential added');
      const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /live activity/i }) });
      await pane.locator('.monaco-list-row', { hasText: `CONNECT 127.0.0.2:${upstreamPort}` }).first().waitFor({ timeout: 20_000 });
      const apiRow = pane.locator('.monaco-list-row', { hasText: /GET 127\.0\.0\.1(:\d+)?\/customers/ }).first();
      await apiRow.waitFor({ timeout: 20_000 });
      const frame = await openFromRow(apiRow, 'masked', async (f) => (await f.locator('#result-body').count()) > 0);
      const body = await frame.locator('#result-body').innerText();
      check(body.includes('"name": "Ada"') && !body.includes('ada@example.com'), `the recorded response, masked and laid out: ${body}`);
      check((await frame.locator('#result-body mark.mask-mark').count()) >= 1, 'the masked email is marked');
      check((await frame.locator('#result-status').innerText()).trim() === '200', 'the status');
      await page.screenshot({ path: path.join(outputDir, 'masked-http-real.png') });
    });

    // as the daemon summarises a padded statement: by its parsed statements, the whole text in the detail
    const third = 'UPDATE orders (write); DROP TABLE orders (ddl)';
    const thirdSql = `UPDATE orders SET total = 1 WHERE id = 3; /* ${'padding '.repeat(400)} */ DROP TABLE orders`;
    const thirdVerdict = api('POST', '/v1/test/actions', {
      token, target: 'db', protocol: 'postgres', kind: 'sql.query', summary: third, attributes: { class: 'write', tables: ['orders'] },
      detail: { sql: thirdSql, statements: [
        { command: 'UPDATE', class: 'write', tables: ['orders'], reasons: ['UPDATE writes rows'] },
        { command: 'DROP TABLE', class: 'ddl', tables: ['orders'], reasons: ['DROP TABLE changes the schema'] },
      ] },
    });
    thirdVerdict.catch(() => undefined);
    await step("a notification's Details opens the approval panel (statement, rule, time left); denying there with a reason reaches the daemon", async () => {
      const toast = page.locator('.notification-toast', { hasText: third });
      await toast.waitFor({ timeout: 20_000 });
      await toast.getByRole('button', { name: 'Details' }).click();
      const frame = await webview('approval');
      await frame.locator('#statement', { hasText: 'DROP TABLE orders' }).waitFor({ timeout: 15_000 });
      // every statement listed with its class, the DROP after 3,000 characters of padding too
      check((await frame.locator('#statements li').count()) === 2, 'both statements are listed');
      check((await frame.locator('#statements [data-class="ddl"]').count()) === 1, 'the DROP is marked ddl');
      await page.screenshot({ path: path.join(outputDir, 'approval.png') });
      check((await frame.locator('#rule').textContent()).trim().length > 0, 'the rule is shown');
      check(/left/.test(await frame.locator('#time-left').textContent()), 'time left is shown');
      await frame.locator('#deny').click();
      await frame.locator('#reason textarea').fill('tables stay');
      await frame.locator('#confirm-deny').click();
      const { verdict } = await thirdVerdict;
      check(verdict.allowed === false && /tables stay/.test(verdict.reason) && verdict.decidedBy?.via === 'extension', `verdict ${JSON.stringify(verdict)}`);
      await frame.locator('#approval-status', { hasText: 'denied by' }).waitFor({ timeout: 10_000 });
      check((await frame.locator('#approve').count()) === 0, 'no decision buttons once decided');
    });

    const fourth = "UPDATE orders SET total = 0 WHERE id = 9";
    const fourthVerdict = submit(fourth);
    fourthVerdict.catch(() => undefined);
    await step('a decision made elsewhere (the CLI) shows in an open approval panel at once', async () => {
      const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /pending approvals/i }) });
      const row = pane.locator('.monaco-list-row', { hasText: 'total = 0' });
      await row.waitFor({ timeout: 20_000 });
      // the panel of the earlier approval may be found first: it is not the answer (nor a detached frame)
      const frame = await openFromRow(row, 'approval', async (f) => (await f.locator('#statement', { hasText: 'total = 0' }).count()) > 0);
      const approvals = await api('GET', '/v1/approvals');
      const pending = approvals.approvals.find((a) => a.action.summary === fourth);
      await api('POST', `/v1/approvals/${pending.id}/approve`, { by: 'lead', via: 'cli' });
      await fourthVerdict;
      await frame.locator('#approval-status', { hasText: 'approved by lead (cli)' }).waitFor({ timeout: 10_000 });
    });

    await step('the masked-data view shows the query result as the agent saw it, masked cells marked with their detector', async () => {
      const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /live activity/i }) });
      const frame = await openFromRow(pane.locator('.monaco-list-row', { hasText: 'FROM customers' }).first(), 'masked', () => true);
      await frame.locator('#result .cell.masked').first().waitFor({ timeout: 15_000 });
      const marks = await frame.locator('#result .cell.masked').evaluateAll((cells) => cells.map((c) => ({ by: c.dataset.maskedBy, title: c.title, text: c.textContent.trim() })));
      check(marks.length === 4, `4 masked cells (2 emails, 2 cards), saw ${JSON.stringify(marks)}`);
      check(marks.filter((m) => m.by === 'email' && m.text === '[EMAIL]' && /masked by email/.test(m.title)).length === 2, `emails marked: ${JSON.stringify(marks)}`);
      check(marks.filter((m) => m.by === 'payment-card' && /^\*{4}\d{4}$/.test(m.text)).length === 2, `cards marked: ${JSON.stringify(marks)}`);
      const text = await frame.locator('body').innerText();
      check(text.includes('Ada') && text.includes('Grace'), 'unmasked cells are shown');
      check(!text.includes('ada@example.com') && !text.includes('4111 1111'), 'no original value anywhere in the view');
      check(/email\s*2/.test(await frame.locator('#detectors').innerText()), 'per-detector counts');
      await page.screenshot({ path: path.join(outputDir, 'masked-data.png') });
    });

    await step('the session replay shows the timeline, integrity and masked rows, plays, and keeps its state across hide/show', async () => {
      const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /^sessions/i }) });
      const frame = await openFromRow(pane.locator('.monaco-list-row', { hasText: 'vscode:' }).first(), 'replay', () => true);
      await frame.locator('#integrity', { hasText: 'verified' }).waitFor({ timeout: 15_000 });
      await frame.locator('.lane[data-lane="postgres"]').waitFor();
      check((await frame.locator('.lane[data-lane="approvals"]').count()) === 1 && (await frame.locator('.lane[data-lane="terminal"]').count()) === 1, 'approval and terminal lanes');
      const row = frame.locator('.row', { hasText: 'FROM customers' });
      await row.click();
      await frame.locator('#detail-result', { hasText: 'SELECT 2' }).waitFor({ timeout: 10_000 });
      check((await frame.locator('#details .cell.masked').count()) === 4, 'masked rows in the details');
      check(!(await frame.locator('body').innerText()).includes('ada@example.com'), 'no original value in the replay');
      await frame.locator('#play').click();
      await sleep(400);
      await page.screenshot({ path: path.join(outputDir, 'replay.png') });
      // hide (another editor in front) and show again: the selection survives the reload of its document
      const selected = await frame.locator('.row.selected').getAttribute('data-action');
      await page.locator('.tab', { hasText: /^Result:/ }).first().click();
      await page.locator('.tab', { hasText: /^Replay:/ }).first().click();
      const again = await webview('replay', 10_000, async (f) => (await f.locator('.row', { hasText: 'FROM customers' }).count()) > 0);
      await again.locator('.row.selected').waitFor({ timeout: 10_000 });
      check((await again.locator('.row.selected').getAttribute('data-action')) === selected, 'the selected action is kept across hide/show');
    });
    // an SSH command as the SSH adapter records it (SshExecDetail, shared/src/kinds/ssh.ts): the shell
    // classifier's parts, the inner command under its wrapper chain, the file the redirection writes
    const sshEndpoint = { agentUser: 'host-test-agent', upstream: 'deploy@web-1:22', connectionId: 'conn_host_1', channel: 0 };
    const execLine = 'sudo systemctl restart nginx > /tmp/nginx-restart.log';
    const execCast = ['{"version": 2, "width": 80, "height": 6}', '[0.0, "o", "nginx restarted on web-1\\r\\n"]'].join('\n');
    const execVerdict = api('POST', '/v1/test/actions', {
      token, target: 'db', protocol: 'ssh', kind: 'ssh.exec', summary: execLine, risk: 'high',
      attributes: { class: 'write', commands: ['sudo', 'systemctl'], sudo: true, paths: ['/tmp/nginx-restart.log'] },
      detail: {
        ...sshEndpoint,
        command: execLine,
        parts: [
          { program: 'sudo', argv: ['sudo', 'systemctl', 'restart', 'nginx'], class: 'privileged', via: [], reasons: ['sudo runs its command as root'] },
          { program: 'systemctl', argv: ['systemctl', 'restart', 'nginx'], class: 'write', via: ['sudo'], reasons: ['systemctl restart changes a service'] },
        ],
        pathsWritten: ['/tmp/nginx-restart.log'],
        env: { LANG: 'C.UTF-8' },
        pty: false,
      },
      result: { summary: 'exit 0', durationMs: 840, detail: { exitStatus: 0, asciicast: execCast, truncated: false, bytesOut: 25, bytesIn: 0 } },
    });
    execVerdict.catch(() => undefined);
    await step('an ssh.exec held for review is in Pending approvals; its panel shows the command line, each part with its wrapper chain and the file it writes; Approve there lets it run', async () => {
      const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /pending approvals/i }) });
      const row = pane.locator('.monaco-list-row', { hasText: 'sudo systemctl restart nginx' });
      await row.waitFor({ timeout: 20_000 });
      const frame = await openFromRow(row, 'approval', async (f) => (await f.locator('#ssh-command').count()) > 0);
      check((await frame.locator('#ssh-command').innerText()).trim() === execLine, `the command line exactly: ${await frame.locator('#ssh-command').innerText()}`);
      const parts = await frame.locator('#ssh-parts li').evaluateAll((items) => items.map((li) => ({ chain: li.dataset.chain, cls: li.querySelector('[data-class]')?.dataset.class, text: li.textContent.replace(/\s+/g, ' ').trim() })));
      check(parts.length === 2, `two parts: ${JSON.stringify(parts)}`);
      check(parts[0].chain === 'sudo' && parts[0].cls === 'privileged', `sudo, privileged: ${JSON.stringify(parts[0])}`);
      check(parts[1].chain === 'sudo → systemctl' && parts[1].cls === 'write' && parts[1].text.includes('systemctl restart nginx'), `the inner command under its wrapper: ${JSON.stringify(parts[1])}`);
      check((await frame.locator('#ssh-paths-written').innerText()).includes('/tmp/nginx-restart.log'), 'the file the line writes');
      check((await frame.locator('h2 [data-class="write"]').count()) === 1, "the line's class from the policy attributes");
      check((await frame.locator('#ssh-env').innerText()).includes('LANG=C.UTF-8'), 'the environment it asked for');
      check((await frame.locator('#statements').count()) === 0, 'no SQL statement list for an SSH command');
      await page.screenshot({ path: path.join(outputDir, 'approval-ssh-exec.png') });
      await frame.locator('#approve').click();
      const { verdict } = await execVerdict;
      check(verdict.allowed === true && verdict.via === 'approval' && verdict.decidedBy?.via === 'extension', `verdict ${JSON.stringify(verdict)}`);
      await frame.locator('#approval-status', { hasText: 'approved by' }).waitFor({ timeout: 10_000 });
    });

    await step("the replay's terminal lane plays recorded SSH sessions (typed results with an asciicast) in xterm.js, with their exit", async () => {
      // an interactive shell as the SSH adapter records it: SshShellDetail, and an SshSessionResultDetail with its cast
      const cast = ['{"version": 2, "width": 80, "height": 12}', '[0.2, "o", "web-1$ uptime\\r\\n"]', '[0.9, "o", " 10:00:01 up 3 days,  load average: 0.42\\r\\n"]', '[1.4, "o", "web-1$ exit\\r\\n"]'].join('\n');
      const shell = await api('POST', '/v1/test/actions', {
        token, target: 'db', protocol: 'ssh', kind: 'ssh.shell', summary: 'interactive shell on web-1', attributes: { class: 'read' },
        detail: { ...sshEndpoint, channel: 1, pty: { term: 'xterm-256color', cols: 80, rows: 12 } },
        result: { summary: 'shell closed (exit 0)', detail: { exitStatus: 0, asciicast: cast, truncated: true, bytesOut: 96, bytesIn: 14 } },
      });
      check(shell.verdict?.allowed === true, `the shell was allowed: ${JSON.stringify(shell)}`);
      const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /^sessions/i }) });
      const frame = await openFromRow(pane.locator('.monaco-list-row', { hasText: 'host-test-agent' }).first(), 'replay', async (f) => (await f.locator('.row', { hasText: 'interactive shell' }).count()) > 0);
      check((await frame.locator('canvas.track[data-lane="terminal"]').getAttribute('data-count')) === '2', 'two clips on the terminal lane: the exec and the shell');
      // the exec: its output plays from its own time, its exit and the parsed command in the details
      await frame.locator('.row', { hasText: 'sudo systemctl restart nginx' }).click();
      await frame.locator('.xterm-rows', { hasText: 'nginx restarted on web-1' }).waitFor({ timeout: 10_000 });
      check((await frame.locator('#terminal-exit').innerText()).trim() === 'exit 0', 'the exec\'s exit status');
      check((await frame.locator('#details [data-chain="sudo → systemctl"]').count()) === 1, 'the replay renders the exec by its kind too');
      // the shell: every frame up to the end, and the notice that the recording was cut at the daemon's limit
      await frame.locator('.row', { hasText: 'interactive shell' }).click();
      check((await frame.locator('#ssh-shell-note').innerText()).includes('whole session is recorded'), 'the shell view says the whole session is recorded');
      await frame.locator('#entries').press('End');
      // xterm.js paints only a terminal in view, as a person would scroll to it
      await frame.locator('#terminal-slot').scrollIntoViewIfNeeded();
      // what the lane shows, in the failure message when it is not the shell's output
      const lane = () => frame.locator('#terminal-slot').evaluate((slot) => ({ terminals: slot.querySelectorAll('.xterm').length, text: slot.querySelector('.xterm-rows')?.textContent ?? slot.textContent, clock: slot.ownerDocument.getElementById('clock')?.textContent, selected: slot.ownerDocument.querySelector('.row.selected')?.textContent?.trim() })).catch((err) => ({ error: err.message }));
      await until(async () => (await lane()).text?.includes('up 3 days'), 'the shell\'s output in the terminal lane', 10_000).catch(async (err) => {
        throw new Error(`${err.message}: ${JSON.stringify(await lane())}`);
      });
      check((await frame.locator('.xterm-rows').innerText()).includes('web-1$ exit'), 'every frame up to the end is shown');
      check((await frame.locator('#terminal-truncated').count()) === 1, 'a cut recording says so');
      check(/exit 0 · 96 bytes out, 14 bytes in/.test(await frame.locator('#detail-exit').innerText()), 'the exit and byte counts in the details');
      await page.screenshot({ path: path.join(outputDir, 'replay-terminal.png') });
    });

    await step('an update that arrives while the replay is hidden is shown when it is shown again', async () => {
      await page.locator('.tab', { hasText: /^Result:/ }).first().click();
      const late = await api('POST', '/v1/test/actions', { token, target: 'db', protocol: 'postgres', kind: 'sql.query', summary: 'SELECT 1 AS while_hidden', attributes: { class: 'read' } });
      check(late.verdict?.allowed === true, 'the action went through');
      await sleep(3_000); // the panel reloads a live recording every 2 s: this update finds it hidden
      await page.locator('.tab', { hasText: /^Replay: host-test-agent/ }).first().click();
      const again = await webview('replay', 15_000, async (f) => (await f.locator('.row', { hasText: 'interactive shell' }).count()) > 0);
      await again.locator('.row', { hasText: 'while_hidden' }).waitFor({ timeout: 10_000 });
    });

    await step('the webviews follow the colour theme (high contrast)', async () => {
      const frame = await webview('replay', 10_000, async (f) => (await f.locator('.row', { hasText: 'interactive shell' }).count()) > 0);
      const background = () => frame.evaluate('getComputedStyle(document.body).backgroundColor').catch(() => '');
      const before = await background();
      writeFileSync(path.join(home, 'host-test-theme'), 'Default High Contrast');
      await until(async () => (await background()) === 'rgb(0, 0, 0)', `a black webview background (was ${before})`);
      check(before !== 'rgb(0, 0, 0)', 'the light theme was not black already');
      await page.screenshot({ path: path.join(outputDir, 'replay-high-contrast.png') });
    });
    // ---- HTTP and egress: actions as the HTTP adapters record them (HttpRequestDetail, HttpConnectDetail,
    // shared/src/kinds/http.ts), through the test action source; the daemon side is tested with real clients
    const graphqlDocument = 'mutation addStar{addStar(input:{starrableId:"R_kgDOAirlock"}){starrable{stargazerCount}}}';
    const graphqlBody = JSON.stringify({ query: graphqlDocument, variables: { dryRun: false }, dryRun: true });
    const responseBody = '{"data":{"addStar":{"starrable":{"stargazerCount":42}}},"viewer":{"login":"ada","email":"[EMAIL]"}}';
    const starVerdict = api('POST', '/v1/test/actions', {
      token, target: 'db', protocol: 'http', kind: 'http.request', summary: 'POST /graphql',
      attributes: { class: 'write', method: 'POST', path: '/graphql', host: 'api.github.com', graphqlOperation: 'mutation' },
      detail: {
        via: 'api', connectionId: 'conn_http_1', method: 'POST', url: 'https://api.github.com/graphql', host: 'api.github.com', path: '/graphql',
        headers: { 'content-type': 'application/json', accept: ['application/json', 'application/vnd.github+json'], 'user-agent': 'gh/2.60' },
        body: { text: graphqlBody, bytes: graphqlBody.length, contentType: 'application/json', treatment: 'json' },
        graphql: { operations: [{ type: 'mutation', name: 'addStar', fields: ['addStar'] }], document: graphqlDocument },
      },
      result: { summary: '200 OK', durationMs: 42.5, detail: { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: { text: responseBody, bytes: responseBody.length, contentType: 'application/json', treatment: 'json' }, requestBytes: graphqlBody.length, maskReport: { cells: 1, byDetector: { email: 1 }, nulled: 0 } } },
    });
    starVerdict.catch(() => undefined);
    await step('an http.request held for review reads "GraphQL mutation addStar"; its panel shows method, URL, the headers table, the JSON body laid out, the operations and the document printed by graphql; Approve lets it through', async () => {
      const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /pending approvals/i }) });
      const row = pane.locator('.monaco-list-row', { hasText: 'GraphQL mutation addStar' });
      await row.waitFor({ timeout: 20_000 });
      const frame = await openFromRow(row, 'approval', async (f) => (await f.locator('#http-request-line').count()) > 0);
      check((await frame.locator('#http-method').innerText()).trim() === 'POST', 'the method');
      check((await frame.locator('#http-request-line').innerText()).includes('https://api.github.com/graphql'), 'the URL');
      const headers = await frame.locator('#http-headers vscode-table-row').evaluateAll((rows) => rows.map((r) => r.dataset.header));
      check(JSON.stringify(headers) === JSON.stringify(['content-type', 'accept', 'accept', 'user-agent']), `a row per header value: ${JSON.stringify(headers)}`);
      const body = await frame.locator('#http-body').innerText();
      check(body.includes('\n  "variables": {\n    "dryRun": false\n  },') && (body.match(/"dryRun"/g) ?? []).length === 2, `the body laid out, every key kept: ${body}`);
      const ops = await frame.locator('#graphql-operations li').evaluateAll((items) => items.map((li) => ({ op: li.dataset.operation, cls: li.querySelector('[data-class]')?.dataset.class, text: li.textContent.replace(/\s+/g, ' ').trim() })));
      check(ops.length === 1 && ops[0].op === 'mutation' && ops[0].cls === 'write' && ops[0].text.includes('addStar'), `the operation with its type and class: ${JSON.stringify(ops)}`);
      check((await frame.locator('#graphql-document').innerText()).includes('mutation addStar {\n  addStar(input: {starrableId: "R_kgDOAirlock"}) {'), 'the document printed by graphql');
      check((await frame.locator('#http-method-override').count()) === 0, 'no override warning without an override');
      await page.screenshot({ path: path.join(outputDir, 'approval-http-request.png') });
      check((await frame.locator('.actions vscode-button').first().getAttribute('id')) === 'approve', 'Approve first for a request');
      await frame.locator('#approve').click();
      const { verdict } = await starVerdict;
      check(verdict.allowed === true && verdict.via === 'approval' && verdict.decidedBy?.via === 'extension', `verdict ${JSON.stringify(verdict)}`);
    });

    await step('the masked-data view shows the response: status, headers and the JSON body laid out with its mask marks', async () => {
      const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /live activity/i }) });
      const frame = await openFromRow(pane.locator('.monaco-list-row', { hasText: 'GraphQL mutation addStar' }).first(), 'masked', async (f) => (await f.locator('#result-body').count()) > 0);
      check((await frame.locator('#result-status').innerText()).trim() === '200', 'the status');
      const marks = await frame.locator('#result-body mark.mask-mark').evaluateAll((m) => m.map((x) => ({ by: x.dataset.maskedBy, text: x.textContent })));
      check(marks.length === 1 && marks[0].by === 'email' && marks[0].text === '[EMAIL]', `the mark: ${JSON.stringify(marks)}`);
      check((await frame.locator('#result-body').innerText()).includes('\n    "login": "ada",'), 'laid out');
      check(/email\s*1/.test(await frame.locator('#detectors').innerText()), 'per-detector counts');
      await page.screenshot({ path: path.join(outputDir, 'masked-http-body.png') });
    });

    // a CONNECT through the egress proxy to a host nobody listed: the egress-unlisted-review rule holds it
    const connectTo = (host, port, result) => api('POST', '/v1/test/actions', {
      token, target: 'db', protocol: 'egress', kind: 'http.connect', summary: `CONNECT ${host}:${port}`,
      attributes: { host, port, destination: 'public' }, grantKey: `${host}:${port}`,
      detail: { via: 'egress', connectionId: `conn_${host}`, host, port, addresses: ['104.16.24.35', '104.16.25.35'], destination: 'public' },
      ...(result ? { result } : {}),
    });
    const tunnelResult = { summary: 'tunnel closed by the agent', durationMs: 1800, detail: { bytesUp: 2048, bytesDown: 3 * 1024 * 1024, closedBy: 'agent' } };
    const npmVerdict = connectTo('registry.npmjs.org', 443, tunnelResult);
    npmVerdict.catch(() => undefined);
    await step('an egress CONNECT asks "Allow the agent to reach registry.npmjs.org:443 for this session?" with the session grant as its first (primary) choice; it covers later CONNECTs to that host only', async () => {
      const toast = page.locator('.notification-toast', { hasText: 'Allow the agent to reach registry.npmjs.org:443 for this session?' });
      await toast.waitFor({ timeout: 20_000 });
      const buttons = await toast.locator('.notification-list-item-buttons-container .monaco-button').evaluateAll((bs) => bs.map((b) => ({ text: b.textContent.trim(), secondary: b.classList.contains('secondary') })));
      check(JSON.stringify(buttons.map((b) => b.text)) === JSON.stringify(['Allow for the session', 'Allow once', 'Deny', 'Details']), `the choices in order: ${JSON.stringify(buttons)}`);
      check(buttons[0].secondary === false && buttons.slice(1).every((b) => b.secondary), `the session grant is the primary button: ${JSON.stringify(buttons)}`);
      await page.screenshot({ path: path.join(outputDir, 'egress-connect-prompt.png') });
      await toast.getByRole('button', { name: 'Allow for the session', exact: true }).click();
      const { verdict } = await npmVerdict;
      check(verdict.allowed === true && verdict.via === 'approval' && verdict.decidedBy?.via === 'extension', `verdict ${JSON.stringify(verdict)}`);
      const again = await connectTo('registry.npmjs.org', 443, tunnelResult);
      check(again.verdict.allowed === true && again.verdict.via === 'grant', `the same host again goes through by the grant: ${JSON.stringify(again.verdict)}`);
    });

    const otherVerdict = connectTo('evil.example', 443);
    otherVerdict.catch(() => undefined);
    await step('another host asks again; its approval panel asks the question, offers the session grant first, shows the resolved addresses; Deny there refuses it', async () => {
      const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /pending approvals/i }) });
      const row = pane.locator('.monaco-list-row', { hasText: 'CONNECT evil.example:443' });
      await row.waitFor({ timeout: 20_000 });
      await row.hover();
      await row.locator('.action-label[aria-label="Deny"]').waitFor({ state: 'visible', timeout: 10_000 });
      const inline = await row.locator('.action-label').evaluateAll((as) => as.map((a) => a.getAttribute('aria-label')));
      check(inline.indexOf('Approve for the session') >= 0 && inline.indexOf('Approve for the session') < inline.indexOf('Approve') && inline.indexOf('Approve') < inline.indexOf('Deny'), `the view's inline buttons offer the session grant first: ${JSON.stringify(inline)}`);
      const frame = await openFromRow(row, 'approval', async (f) => (await f.locator('#approval-question', { hasText: 'evil.example:443' }).count()) > 0);
      check((await frame.locator('#approval-question').innerText()).startsWith('Allow the agent to reach evil.example:443 for this session?'), 'the question');
      const buttons = await frame.locator('.actions vscode-button').evaluateAll((bs) => bs.map((b) => ({ id: b.id, secondary: b.hasAttribute('secondary'), text: b.textContent.trim() })));
      check(buttons[0]?.id === 'approve-session' && !buttons[0].secondary && buttons[0].text === 'Allow for the session' && buttons[1]?.id === 'approve' && buttons[1].text === 'Allow once' && buttons[2]?.id === 'deny', `session first, then once, then deny: ${JSON.stringify(buttons)}`);
      check((await frame.locator('#connect-addresses').innerText()).includes('104.16.24.35, 104.16.25.35'), 'the resolved addresses');
      check((await frame.locator('[data-destination="public"]').count()) === 1, 'the destination');
      check(/not intercepted/.test(await frame.locator('#connect-note').innerText()), 'TLS inside is not intercepted, said plainly');
      await page.screenshot({ path: path.join(outputDir, 'approval-egress-connect.png') });
      await frame.locator('#deny').click();
      await frame.locator('#reason textarea').fill('not a host this task needs');
      await frame.locator('#confirm-deny').click();
      const { verdict } = await otherVerdict;
      check(verdict.allowed === false && /not a host this task needs/.test(verdict.reason), `verdict ${JSON.stringify(verdict)}`);
    });

    await step("the replay's HTTP lane lists requests (method, path, status, duration, bytes) and tunnels (host:port, bytes each way); a row opens to headers and the masked body", async () => {
      const forced = await api('POST', '/v1/test/actions', {
        token, target: 'db', protocol: 'http', kind: 'http.request', summary: 'git push', attributes: { class: 'write', forcePush: true, method: 'POST', path: '/org/repo.git/git-receive-pack' },
        detail: { via: 'api', connectionId: 'conn_git', method: 'POST', url: 'http://127.0.0.1:9418/org/repo.git/git-receive-pack', host: 'git.internal', path: '/org/repo.git/git-receive-pack', headers: { 'content-type': 'application/x-git-receive-pack-request' }, git: { service: 'git-receive-pack', refs: [{ ref: 'refs/heads/main', oldOid: 'a1b2c3d4'.repeat(5), newOid: 'f0e1d2c3'.repeat(5), change: 'force' }] } },
      });
      check(forced.verdict.allowed === false && forced.verdict.ruleId === 'git-force-push-deny', `a force push is refused by default: ${JSON.stringify(forced.verdict)}`);
      await page.locator('.tab', { hasText: /^Replay: host-test-agent/ }).first().click();
      const frame = await webview('replay', 20_000, async (f) => (await f.locator('.http-row', { hasText: 'git.internal' }).count()) > 0);
      const rows = await frame.locator('#http-lane .http-row').evaluateAll((rs) => rs.map((r) => [...r.children].map((c) => c.textContent.trim())));
      const star = rows.find((r) => r[2] === 'api.github.com/graphql');
      check(star && star[1] === 'POST' && star[3] === '200' && star[4] === '42.5 ms' && star[5] === `${responseBody.length} bytes`, `the request row: ${JSON.stringify(rows)}`);
      const tunnels = rows.filter((r) => r[1] === 'CONNECT' && r[2] === 'registry.npmjs.org:443');
      check(tunnels.length === 2 && tunnels.every((r) => r[5] === '↑ 2 KiB ↓ 3 MiB'), `the tunnels with bytes each way: ${JSON.stringify(rows)}`);
      check(rows.some((r) => r[1] === 'CONNECT' && r[2] === 'evil.example:443' && r[3] === 'denied'), `the refused CONNECT: ${JSON.stringify(rows)}`);
      check(rows.some((r) => r[2] === 'git.internal/org/repo.git/git-receive-pack' && r[3] === 'denied'), `the refused push: ${JSON.stringify(rows)}`);
      await frame.locator('.http-row', { hasText: 'api.github.com/graphql' }).click();
      await frame.locator('#http-expanded').waitFor({ timeout: 10_000 });
      check((await frame.locator('#http-lane-request-headers vscode-table-row').count()) === 4, 'the request headers');
      check((await frame.locator('#http-lane-body mark.mask-mark[data-masked-by="email"]').count()) === 1, 'the response body with its mark');
      check((await frame.locator('#details #graphql-operations').count()) === 1, 'the details render the request by its kind');
      await frame.locator('.http-row', { hasText: 'git.internal' }).click();
      const refs = await frame.locator('#details #git-refs li').evaluateAll((items) => items.map((li) => ({ ref: li.dataset.ref, change: li.dataset.change, text: li.textContent.replace(/\s+/g, ' ').trim() })));
      check(refs.length === 1 && refs[0].ref === 'refs/heads/main' && refs[0].change === 'force' && refs[0].text.includes('a1b2c3d → f0e1d2c'), `the ref update with short ids and its badge: ${JSON.stringify(refs)}`);
      check(!(await frame.locator('body').innerText()).includes('viewer@') , 'nothing unmasked');
      await page.screenshot({ path: path.join(outputDir, 'replay-http-lane.png') });
    });

    // ---- Kubernetes: actions as the Kubernetes adapter records them (K8sRequestDetail, K8sExecDetail and
    // their results, shared/src/kinds/k8s.ts), decided by the embedded default policy
    const k8sDelete = 'delete deployment/api -n prod';
    const deleteOptions = { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Foreground', gracePeriodSeconds: 30 };
    const k8sDeleteVerdict = api('POST', '/v1/test/actions', {
      token, target: 'db', protocol: 'kubernetes', kind: 'k8s.request', summary: k8sDelete, risk: 'high',
      attributes: { class: 'write', verb: 'delete', resource: 'deployments', apiGroup: 'apps', namespace: 'prod', name: 'api', dryRun: false },
      detail: {
        connectionId: 'conn_k8s_1', method: 'DELETE', verb: 'delete', apiGroup: 'apps', apiVersion: 'v1', resource: 'deployments', namespace: 'prod', name: 'api',
        path: '/apis/apps/v1/namespaces/prod/deployments/api', dryRun: false, impersonate: ['group:system:masters'],
        body: { text: JSON.stringify(deleteOptions), bytes: JSON.stringify(deleteOptions).length, contentType: 'application/json', treatment: 'json' }, bodyKind: 'DeleteOptions',
      },
      result: { summary: '200 Status', durationMs: 12, detail: { status: 200, kind: 'Status', requestBytes: JSON.stringify(deleteOptions).length } },
    });
    k8sDeleteVerdict.catch(() => undefined);
    await step('a k8s.request delete held for review reads as kubectl would say it; its panel shows verb, resource, namespace/name, the impersonation warning and the body as YAML; Approve lets it through', async () => {
      const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /pending approvals/i }) });
      const row = pane.locator('.monaco-list-row', { hasText: k8sDelete });
      await row.waitFor({ timeout: 20_000 });
      const frame = await openFromRow(row, 'approval', async (f) => (await f.locator('#k8s-request-line').count()) > 0);
      check((await frame.locator('#k8s-request-line').innerText()).trim() === 'delete deployment/api -n prod as group:system:masters', `the request line: ${await frame.locator('#k8s-request-line').innerText()}`);
      check((await frame.locator('#k8s-verb').innerText()).trim() === 'delete', 'the verb');
      check((await frame.locator('#k8s-resource').innerText()).trim() === 'apps/v1 deployments', 'the resource with its group');
      check((await frame.locator('#k8s-object').innerText()).trim() === 'prod/api', 'namespace/name');
      check((await frame.locator('#k8s-dry-run-fact').innerText()).trim() === 'no', 'not a dry run');
      check(/act as group:system:masters/.test(await frame.locator('#k8s-impersonation-0').innerText()), 'the impersonation warning');
      const yaml = await frame.locator('#k8s-body').innerText();
      check((await frame.locator('#k8s-body').getAttribute('data-format')) === 'yaml', 'the body is shown as YAML');
      check(/^kind: DeleteOptions\napiVersion: v1\npropagationPolicy: Foreground\ngracePeriodSeconds: 30\s*$/.test(yaml), `the body as YAML: ${JSON.stringify(yaml)}`);
      check((await frame.locator('#statements').count()) === 0, 'no SQL statement list for a Kubernetes request');
      await page.screenshot({ path: path.join(outputDir, 'approval-k8s-delete.png') });
      await frame.locator('#approve').click();
      const { verdict } = await k8sDeleteVerdict;
      check(verdict.allowed === true && verdict.via === 'approval' && verdict.ruleId === 'writes-review' && verdict.decidedBy?.via === 'extension', `verdict ${JSON.stringify(verdict)}`);
      await frame.locator('#approval-status', { hasText: 'approved by' }).waitFor({ timeout: 10_000 });
    });

    const k8sExecSummary = 'exec pod/web-1 -n default -c app: sh -c "cat /etc/hostname"';
    const k8sCast = ['{"version": 2, "width": 80, "height": 8}', '[0.1, "o", "web-1-7f9c\\r\\n"]', '[0.3, "i", "exit\\r"]', '[0.4, "o", "pod session ended\\r\\n"]'].join('\n');
    const k8sExecVerdict = api('POST', '/v1/test/actions', {
      token, target: 'db', protocol: 'kubernetes', kind: 'k8s.exec', summary: k8sExecSummary, risk: 'high',
      attributes: { class: 'exec', verb: 'get', resource: 'pods', subresource: 'exec', namespace: 'default', name: 'web-1', connect: 'exec', command: ['sh', '-c', 'cat /etc/hostname'], container: 'app', stdin: true, tty: true },
      detail: { connectionId: 'conn_k8s_2', operation: 'exec', pod: 'web-1', namespace: 'default', container: 'app', command: ['sh', '-c', 'cat /etc/hostname'], stdin: true, tty: true, protocol: 'v5.channel.k8s.io', path: '/api/v1/namespaces/default/pods/web-1/exec' },
      result: { summary: 'exit 0', durationMs: 400, detail: { exitCode: 0, asciicast: k8sCast, bytesIn: 5, bytesOut: 30, closedBy: 'upstream' } },
    });
    k8sExecVerdict.catch(() => undefined);
    await step('a k8s.exec held by k8s-exec-review shows pod, container, the argv as a list and stdin/tty; approved, its clip plays in the replay\'s terminal lane with its exit', async () => {
      const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /pending approvals/i }) });
      const row = pane.locator('.monaco-list-row', { hasText: 'exec pod/web-1 -n default' });
      await row.waitFor({ timeout: 20_000 });
      const frame = await openFromRow(row, 'approval', async (f) => (await f.locator('#k8s-exec-line').count()) > 0);
      check((await frame.locator('#rule').innerText()).includes('k8s-exec-review'), `held by the default policy's exec rule: ${await frame.locator('#rule').innerText()}`);
      const argv = await frame.locator('#k8s-argv li').evaluateAll((items) => items.map((li) => li.textContent.trim()));
      check(JSON.stringify(argv) === JSON.stringify(['sh', '-c', 'cat /etc/hostname']), `the argv, one word per entry: ${JSON.stringify(argv)}`);
      check((await frame.locator('#k8s-pod').innerText()).trim() === 'web-1' && (await frame.locator('#k8s-container').innerText()).trim() === 'app' && (await frame.locator('#k8s-namespace').innerText()).trim() === 'default', 'pod, container, namespace');
      check(/stdin attached/.test(await frame.locator('#k8s-stdin').innerText()) && (await frame.locator('#k8s-tty').innerText()).trim() === 'tty', 'stdin and tty');
      await page.screenshot({ path: path.join(outputDir, 'approval-k8s-exec.png') });
      await frame.locator('#approve').click();
      const { verdict } = await k8sExecVerdict;
      check(verdict.allowed === true && verdict.ruleId === 'k8s-exec-review', `verdict ${JSON.stringify(verdict)}`);
      // the replay (live: it reloads the open recording) plays the exec's clip in the terminal lane
      const sessions = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /^sessions/i }) });
      const replay = await openFromRow(sessions.locator('.monaco-list-row', { hasText: 'host-test-agent' }).first(), 'replay', async (f) => (await f.locator('.row', { hasText: 'exec pod/web-1' }).count()) > 0);
      await replay.locator('.row', { hasText: 'exec pod/web-1' }).click();
      // to the end of the timeline (the exec is its last action), so the whole clip has played; xterm.js paints only a terminal in view
      await replay.locator('#entries').press('End');
      await replay.locator('#terminal-slot').scrollIntoViewIfNeeded();
      const lane = () => replay.locator('#terminal-slot').evaluate((slot) => slot.querySelector('.xterm-rows')?.textContent ?? slot.textContent).catch((err) => err.message);
      await until(async () => (await lane()).includes('pod session ended'), 'the exec\'s output in the terminal lane', 10_000).catch(async (err) => {
        throw new Error(`${err.message}: ${JSON.stringify(await lane())}`);
      });
      check((await lane()).includes('web-1-7f9c'), 'every output frame is shown');
      check(!(await lane()).includes('exit'), 'the input frame ("exit") is recorded, not played as output');
      check((await replay.locator('#terminal-exit').innerText()).trim() === 'exit 0', 'the exec\'s exit from the error channel');
      check(/exit 0 · 30 bytes out, 5 bytes in/.test(await replay.locator('#detail-exit').innerText()), `the exit and byte counts: ${await replay.locator('#detail-exit').innerText()}`);
      check((await replay.locator('#details #k8s-argv li').count()) === 3, 'the replay renders the exec by its kind');
      await page.screenshot({ path: path.join(outputDir, 'replay-k8s-exec.png') });
    });

    const secretBody = JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db-credentials', namespace: 'prod' }, type: 'Opaque', data: { password: 'W1JFREFDVEVEXQ==', username: 'W1JFREFDVEVEXQ==' } });
    const secretRead = await api('POST', '/v1/test/actions', {
      token, target: 'db', protocol: 'kubernetes', kind: 'k8s.request', summary: 'get secret/db-credentials -n prod',
      attributes: { class: 'read', verb: 'get', resource: 'secrets', namespace: 'prod', name: 'db-credentials' },
      detail: { connectionId: 'conn_k8s_3', method: 'GET', verb: 'get', apiGroup: '', apiVersion: 'v1', resource: 'secrets', namespace: 'prod', name: 'db-credentials', path: '/api/v1/namespaces/prod/secrets/db-credentials' },
      result: { summary: '200 Secret', durationMs: 4, detail: { status: 200, kind: 'Secret', body: { text: secretBody, bytes: secretBody.length, contentType: 'application/json', treatment: 'json' }, requestBytes: 0, maskReport: { cells: 2, byDetector: { 'k8s-secret': 2 } } } },
    });
    check(secretRead.verdict?.allowed === true && secretRead.verdict.ruleId === 'reads-allow', `the Secret read was allowed: ${JSON.stringify(secretRead.verdict)}`);
    await step('the masked-data view of a Secret read lists its keys, each value the marker the agent got', async () => {
      const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /live activity/i }) });
      const frame = await openFromRow(pane.locator('.monaco-list-row', { hasText: 'get secret/db-credentials' }).first(), 'masked', async (f) => (await f.locator('#k8s-response').count()) > 0);
      const rows = await frame.locator('#k8s-secret-0 vscode-table-row').evaluateAll((rs) => rs.map((r) => [...r.querySelectorAll('vscode-table-cell')].map((c) => ({ text: c.textContent.trim(), by: c.dataset.maskedBy ?? null }))));
      check(JSON.stringify(rows) === JSON.stringify([[{ text: 'password', by: null }, { text: '[REDACTED]', by: 'k8s-secret' }], [{ text: 'username', by: null }, { text: '[REDACTED]', by: 'k8s-secret' }]]), `keys with masked values: ${JSON.stringify(rows)}`);
      check((await frame.locator('#k8s-response-line').innerText()).trim() === '200 Secret', 'the response line');
      check(/kind: Secret/.test(await frame.locator('#k8s-response-body').innerText()), 'the masked body as YAML');
      await page.screenshot({ path: path.join(outputDir, 'masked-k8s-secret.png') });
    });

    // the review's incident: a same-user process rewrites policy.yaml to allow everything, masking off
    const privileged = () => api('POST', '/v1/test/actions', { token, target: 'db', protocol: 'postgres', kind: 'sql.query', summary: 'ALTER ROLE agent SUPERUSER', attributes: { class: 'privileged' } });
    await step('a policy edit that loosens enforcement is staged: the status bar says a change is waiting, the old policy still decides', async () => {
      writeFileSync(path.join(home, 'policy.yaml'), 'version: 1\ndefault: allow\nmasking: { detectors: [] }\n', { mode: 0o600 });
      await until(() => page.locator('.statusbar-item', { hasText: 'policy change waiting' }).count(), 'the "policy change waiting" status bar item');
      const { pending } = await api('GET', '/v1/policy/pending');
      check(pending?.differences.some((d) => d.direction === 'loosening' && d.subject === 'rule privileged-deny'), `the pending change: ${JSON.stringify(pending)}`);
      const { verdict } = await privileged();
      check(verdict.allowed === false && verdict.ruleId === 'privileged-deny', `still denied by the policy in force: ${JSON.stringify(verdict)}`);
    });
    // VS Code refuses modal dialogs while extension tests run: the suite answers the extension's
    // modal through files, after this driver checked what it would have shown
    const modalAsked = path.join(home, 'host-test-modal.json');
    const answerModal = async (answer) => {
      // the suite may be midway through writing the file: a read that is not whole JSON yet is tried again
      const request = await until(() => {
        try {
          return existsSync(modalAsked) ? JSON.parse(readFileSync(modalAsked, 'utf8')) : undefined;
        } catch {
          return undefined;
        }
      }, 'the modal');
      writeFileSync(path.join(home, 'host-test-modal-answer'), answer);
      await until(() => !existsSync(modalAsked), 'the modal to be answered');
      return request;
    };
    await step("the notification's Review asks in a modal showing the difference; Keep current keeps the policy in force", async () => {
      const toast = page.locator('.notification-toast', { hasText: 'loosens enforcement' });
      await toast.waitFor({ timeout: 20_000 });
      await page.screenshot({ path: path.join(outputDir, 'policy-change-waiting.png') });
      await toast.getByRole('button', { name: 'Review…' }).click();
      const request = await answerModal('Keep current');
      check(request.confirm === 'Apply' && request.cancel === 'Keep current', `the buttons: ${JSON.stringify(request)}`);
      check(/loosens what Airlock enforces/.test(request.message), `the question: ${request.message}`);
      check(/^Loosens:/.test(request.detail) && request.detail.includes('rule privileged-deny') && /masking: detectors? .*switched off/.test(request.detail), `the difference: ${request.detail}`);
      await sleep(500);
      check((await api('GET', '/v1/policy/pending')).pending !== null, 'still waiting after Keep current');
      check((await privileged()).verdict.allowed === false, 'still denied after Keep current');
    });
    await step('the status bar item asks again; Apply puts exactly that change in force, recorded in the open log', async () => {
      await page.locator('.statusbar-item', { hasText: 'policy change waiting' }).click();
      await answerModal('Apply');
      await until(async () => (await api('GET', '/v1/policy/pending')).pending === null, 'the change to be applied');
      const { verdict } = await privileged();
      check(verdict.allowed === true, `the confirmed policy is in force: ${JSON.stringify(verdict)}`);
      await until(async () => (await page.locator('.statusbar-item', { hasText: 'policy change waiting' }).count()) === 0, 'the status bar item to go');
      await page.screenshot({ path: path.join(outputDir, 'policy-change-applied.png') });
      const { recordings } = await api('GET', '/v1/sessions');
      const mine = recordings.find((r) => r.agentSessionName === 'host-test-agent' && r.state === 'open');
      const { records } = await api('GET', `/v1/sessions/${mine.id}/records?limit=1000`);
      const stages = records.filter((r) => r.type === 'policy.change').map((r) => `${r.stage}${r.via ? ` via ${r.via}` : ''}`);
      check(stages.includes('staged') && stages.includes('confirmed via extension'), `recorded in the open session's log: ${stages.join(', ')}`);
    });
    await step("the webviews ran under their CSP without a refusal", () => check(cspViolations.length === 0, cspViolations.slice(0, 3).join(' | ')));
    writeFileSync(path.join(home, 'host-test-done'), 'ok');
  } catch (err) {
    await page.screenshot({ path: path.join(outputDir, 'failure.png') }).catch(() => undefined);
    if (process.env.AIRLOCK_HOST_DEBUG) {
      for (const r of (await api('GET', '/v1/sessions').catch(() => ({ recordings: [] }))).recordings) console.log(`# ${r.agentSessionName}: ${JSON.stringify(await api('GET', `/v1/sessions/${r.id}/verify`).catch((e) => e.message))}`);
    }
    writeFileSync(path.join(home, 'host-test-done'), err.message);
  }
  await until(() => exitCode !== undefined, 'the extension host suite to finish', 60_000).catch(() => undefined);
  if (process.env.AIRLOCK_HOST_DEBUG) console.log(hostLog.join('\n'), '\n--- page console ---\n', pageLog.join('\n'));
  const activation = hostLog.find((l) => l.includes('activated in'));
  if (activation) console.log(`# ${activation.replace('[airlock-host] ', '')}`);
  if (exitCode !== 0) results.push({ name: 'extension host suite', ok: false, error: new Error(`exit code ${exitCode}: ${hostLog.slice(-5).join(' | ')}`) });
} finally {
  await browser?.close().catch(() => undefined);
  for (const c of children) c.kill('SIGTERM');
  for (const s of servers) s.close();
  await sleep(500);
  if (databaseCreated) spawnSync('psql', ['-X', '-q', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`]);
  rmSync(scratch, { recursive: true, force: true });
}
const failed = results.filter((r) => !r.ok);
console.log(`${results.length - failed.length} passed, ${failed.length} failed`);
process.exit(failed.length === 0 ? 0 : 1);
