import { spawn } from 'node:child_process';
import { openSync, closeSync, promises as fs } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CreateAgentSessionResponse, StatusResponse, TargetsResponse, describeUpstream } from '@airlock/shared';
import { DEMO_TARGET, demoInstructions, prepareDemo } from '../../demo/demo.js';
import { homePaths } from '../../config/paths.js';
import { Daemon } from '../../daemon/daemon.js';
import { processAlive, runningDaemon } from '../../daemon/daemon-info.js';
import { builtInProxies } from '../../proxies/index.js';
import { DaemonClient } from '../daemon-client.js';
import { CliError } from '../errors.js';
import { printJson, printTable } from '../output.js';
import type { CliContext } from '../context.js';

export function registerLifecycle(program: Command, ctx: CliContext): void {
  program
    .command('up')
    .description('start airlockd in the foreground (or in the background with --detach)')
    .option('-d, --detach', 'start in the background and return once the control API answers')
    .option('--demo', 'also set up the demo: a database with synthetic PII (on the local PostgreSQL, else an embedded one), a "demo" target and an agent session')
    .action(async (opts: { detach?: boolean; demo?: boolean }) => {
      const home = ctx.home();
      if (opts.detach) {
        // the daemon process prepares the demo itself: an embedded PostgreSQL must live in it
        await detach(home, opts.demo ?? false);
        if (opts.demo) await printDemo(home);
        return;
      }
      const demo = opts.demo ? await prepareDemo(home) : undefined;
      for (const note of demo?.notes ?? []) console.error(`airlock: ${note}`);
      try {
        await runForeground(home, demo !== undefined);
      } finally {
        await demo?.embedded?.close();
      }
    });

  program
    .command('status')
    .description('show whether airlockd runs, its API address, targets, policy and pending approvals')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const home = ctx.home();
      const info = await runningDaemon(homePaths(home).daemonInfo);
      if (!info) {
        if (opts.json) printJson({ running: false, home });
        else console.log(`airlockd is not running (data dir ${home})`);
        process.exitCode = 3;
        return;
      }
      const client = await DaemonClient.connect(home);
      const status = await client.get('/v1/status', StatusResponse);
      if (opts.json) return printJson({ running: true, ...status });
      console.log(`airlockd ${status.version} running, pid ${status.pid}, since ${status.startedAt}`);
      console.log(`  control API   ${status.api}`);
      console.log(`  data dir      ${status.home}`);
      console.log(`  recording     ${status.recordingMode}`);
      console.log(`  policy        ${status.policy.rules} rules from ${status.policy.sources.map((s) => s.kind + (s.file ? ` (${s.file})` : '')).join(' + ')}, ${status.policy.hash.slice(0, 12)}`);
      if (status.pendingPolicyChange) {
        const loosening = status.pendingPolicyChange.differences.filter((d) => d.direction === 'loosening').length;
        console.log(`  policy change WAITING for confirmation (loosens enforcement in ${loosening} way(s)); the previous policy stays in force: see "airlock policy status"`);
      }
      console.log(`  approvals     ${status.pendingApprovals} pending`);
      console.log(`  sessions      ${status.activeSessions} active agent session(s)`);
      if (status.targets.length === 0) console.log('  targets       none (add one with "airlock target add")');
      else {
        console.log('  targets');
        printTable(
          ['    NAME', 'PROTOCOL', 'STATE', 'LISTEN', 'UPSTREAM'],
          status.targets.map((t) => ['    ' + t.target.name, t.target.protocol, t.state, t.address ?? `${t.target.listen.host}:${t.target.listen.port}`, t.error ?? describeUpstream(t.target)]),
        );
      }
    });

  program
    .command('stop')
    .description('stop airlockd: held requests are cancelled, logs sealed')
    .option('--timeout <seconds>', 'how long to wait before giving up', '30')
    .action(async (opts: { timeout: string }) => {
      const home = ctx.home();
      const info = await runningDaemon(homePaths(home).daemonInfo);
      if (!info) {
        console.log(`airlockd is not running (data dir ${home})`);
        return;
      }
      process.kill(info.pid, 'SIGTERM');
      const deadline = Date.now() + Number(opts.timeout) * 1000;
      while (processAlive(info.pid)) {
        if (Date.now() > deadline) throw new CliError(`airlockd (pid ${info.pid}) did not stop within ${opts.timeout}s`);
        await sleep(50);
      }
      console.log(`airlockd stopped (pid ${info.pid})`);
    });
}

async function runForeground(home: string, demo: boolean): Promise<void> {
  const daemon = await Daemon.start({
    home,
    proxies: builtInProxies(),
    testActionSource: process.env.AIRLOCK_TEST_ACTION_SOURCE === '1',
    sseHeartbeatMs: process.env.AIRLOCK_SSE_HEARTBEAT_MS ? Number(process.env.AIRLOCK_SSE_HEARTBEAT_MS) : undefined,
  });
  // a detached daemon's parent prints the demo's instructions to the user's terminal instead
  if (demo && process.env.AIRLOCK_DETACHED !== '1') await printDemo(home).catch((err: Error) => console.error(`airlock: demo: ${err.message}`));
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      console.error(`airlockd: ${signal}: stopping`);
      daemon.stop().then(resolve, (err: Error) => {
        console.error(`airlockd: error while stopping: ${err.message}`);
        process.exitCode = 1;
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** An agent session for the demo and what to type; works against the running daemon. */
async function printDemo(home: string): Promise<void> {
  const client = await DaemonClient.connect(home);
  const created = await client.post('/v1/agent-sessions', { name: 'demo-agent', ttl: '8h' }, CreateAgentSessionResponse);
  const { targets } = await client.get('/v1/targets', TargetsResponse);
  const demo = targets.find((t) => t.target.name === DEMO_TARGET);
  if (!demo?.address) throw new CliError(`the demo target is not listening: ${demo?.error ?? 'no such target'}`);
  console.log(demoInstructions(demo.address, created.token));
}

async function detach(home: string, demo: boolean): Promise<void> {
  const paths = homePaths(home);
  const already = await runningDaemon(paths.daemonInfo);
  if (already) throw new CliError(`airlockd is already running for ${home} (pid ${already.pid}, API ${already.host}:${already.port})`);
  await fs.mkdir(home, { recursive: true, mode: 0o700 });
  const logFd = openSync(paths.daemonLog, 'a', 0o600);
  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  const child = spawn(process.execPath, [main, '--home', home, 'up', ...(demo ? ['--demo'] : [])], { detached: true, stdio: ['ignore', logFd, logFd], env: { ...process.env, AIRLOCK_DETACHED: '1' } });
  closeSync(logFd);
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? 1));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const info = await runningDaemon(paths.daemonInfo);
    if (info && info.pid === child.pid && (await healthy(info.host, info.port))) {
      child.unref();
      console.log(`airlockd started (pid ${info.pid}), control API on http://${info.host}:${info.port}, log ${paths.daemonLog}`);
      return;
    }
    if (exited !== null) {
      const tail = (await fs.readFile(paths.daemonLog, 'utf8').catch(() => '')).trim().split('\n').slice(-1)[0] ?? '';
      throw new CliError(`airlockd exited during start (code ${exited}): ${tail.replace(/^airlock(d)?: /, '')}`);
    }
    if (Date.now() > deadline) throw new CliError(`airlockd did not answer within 20s; see ${paths.daemonLog}`);
    await sleep(50);
  }
}

async function healthy(host: string, port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://${host}:${port}/v1/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
