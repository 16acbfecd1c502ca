import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AirlockEvent, DaemonInfo } from '@airlock/shared';
import { discoverDaemon } from '../../src/daemon/discovery.js';
import { DaemonClient, DaemonRequestError } from '../../src/daemon/client.js';
import { EventStream } from '../../src/daemon/event-stream.js';
import { AirlockState } from '../../src/state/airlock-state.js';
import { sshEnvironment } from '../../src/state/terminal-env.js';

/** The real daemon (the daemon workspace's CLI), started the way the extension's "Start daemon" will. */
const CLI = fileURLToPath(new URL('../../../../daemon/dist/src/cli/main.js', import.meta.url));

async function waitUntil<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('extension daemon client and event stream against the real daemon', () => {
  let home: string;
  let daemon: ChildProcess;
  let info: DaemonInfo;

  before(async () => {
    home = mkdtempSync(path.join(os.tmpdir(), 'airlock-ext-it-'));
    daemon = spawn(process.execPath, [CLI, '--home', home, 'up'], { env: { ...process.env, AIRLOCK_TEST_ACTION_SOURCE: '1', AIRLOCK_SSE_HEARTBEAT_MS: '200' }, stdio: 'ignore' });
    info = await waitUntil(async () => {
      const found = await discoverDaemon(home);
      return found.state === 'running' && found.info.pid === daemon.pid ? found.info : undefined;
    }, 'the daemon');
  });
  after(() => {
    daemon.kill('SIGTERM');
    rmSync(home, { recursive: true, force: true });
  });

  test('snapshot + live events keep the state in step; approving through the client resolves the hold', async () => {
    const client = new DaemonClient(info);
    const state = new AirlockState();
    const events: AirlockEvent[] = [];
    let connected = 0;
    const stream = new EventStream(info, {
      onEvent: (e) => {
        events.push(e);
        state.apply(e);
      },
      onConnected: () => connected++,
      onDisconnected: () => undefined,
    });
    stream.start();
    try {
      await waitUntil(() => (connected > 0 ? true : undefined), 'the event stream');
      const snapshot = await client.approvals();
      state.reset({ pending: snapshot.approvals, recordings: (await client.recordings()).recordings });

      const { token } = await client.createAgentSession({ name: 'ext-agent' });
      const submit = (summary: string, cls: string) =>
        fetch(`http://${info.host}:${info.port}/v1/test/actions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ token, target: 'db', protocol: 'postgres', kind: 'sql.query', summary, attributes: { class: cls } }),
        }).then((r) => r.json() as Promise<{ verdict: { allowed: boolean } }>);

      const held = submit('update t set a = 1 where id = 1', 'write');
      const pending = await waitUntil(() => state.pending()[0], 'the pending approval in the state');
      assert.equal(pending.action.summary, 'update t set a = 1 where id = 1');
      await client.approve(pending.id, { by: 'dev', via: 'extension' });
      assert.equal((await held).verdict.allowed, true);
      await waitUntil(() => (state.activity()[0]?.verdict ? true : undefined), 'the verdict');
      assert.equal(state.pending().length, 0);
      assert.equal(state.activity()[0]!.verdict!.decidedBy?.via, 'extension');

      await assert.rejects(client.approve(pending.id, { by: 'dev', via: 'extension' }), (err: unknown) => err instanceof DaemonRequestError && err.status === 409);
      const ids = events.map((e) => e.id);
      ids.forEach((id, i) => i > 0 && assert.equal(id, ids[i - 1]! + 1, 'no gaps'));
    } finally {
      stream.dispose();
    }
  });

  test('the ssh config the terminals are routed with: the daemon writes it for a session and says where; an unknown session is a 404', async () => {
    const client = new DaemonClient(info);
    const { session } = await client.createAgentSession({ name: 'ext-ssh-agent' });
    const config = await client.sshConfig({ sessionId: session.id });
    assert.ok(config.path.startsWith(home), `written under the data dir: ${config.path}`);
    const text = readFileSync(config.path, 'utf8');
    assert.equal(text, config.config);
    assert.match(text, new RegExp(session.id));
    // the variables a terminal gets from it name that file, quoted for git's shell when it needs it
    assert.equal(sshEnvironment(config.path).AIRLOCK_SSH_CONFIG, config.path);
    assert.deepEqual(config.hosts, [], 'no SSH target configured: no Host block');
    await assert.rejects(client.sshConfig({ sessionId: 'ses_nobody' }), (err: unknown) => err instanceof DaemonRequestError && err.status === 404);
  });
});
