import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { K8sPortForwardResultDetail, MaskingPolicy, type Action } from '@airlock/shared';
import { compileMasking } from '../../src/masking/index.js';
import type { ActionResult } from '../../src/pipeline/pipeline.js';
import { resolveLimits } from '../../src/proxies/limits.js';
import { EXEC_CHANNEL } from '../../src/proxies/kubernetes/streams/codec.js';
import { ExecSession } from '../../src/proxies/kubernetes/streams/exec-session.js';
import { StreamIdleTimer, idleStreamMessage } from '../../src/proxies/kubernetes/streams/idle-timer.js';
import { relayPortForward } from '../../src/proxies/kubernetes/streams/portforward-relay.js';
import type { K8sUpgradeContext } from '../../src/proxies/kubernetes/streams/types.js';
import { lineLogger } from '../../src/util/logger.js';
import { manualClock } from '../helpers/manual-clock.js';

/** limits.idleTimeout on exec/attach/port-forward streams, with a clock the test moves. */
describe('StreamIdleTimer', () => {
  test('fires once after idleMs with no traffic', () => {
    const clock = manualClock();
    let fired = 0;
    new StreamIdleTimer(clock, 30_000, () => fired++);
    clock.advance(29_999);
    assert.equal(fired, 0);
    clock.advance(1);
    assert.equal(fired, 1);
    clock.advance(60_000);
    assert.equal(fired, 1, 'never twice');
    assert.equal(clock.pending, 0);
  });

  test('traffic moves the deadline: idle counts from the last message', () => {
    const clock = manualClock();
    let fired = 0;
    const timer = new StreamIdleTimer(clock, 30_000, () => fired++);
    clock.advance(20_000);
    timer.touch();
    clock.advance(10_000);
    assert.equal(fired, 0, 'only 10s quiet at the first deadline');
    clock.advance(19_999);
    assert.equal(fired, 0);
    clock.advance(1);
    assert.equal(fired, 1);
  });

  test('a busy stream (a side paused for backpressure) is not idle', () => {
    const clock = manualClock();
    let fired = 0;
    let busy = true;
    new StreamIdleTimer(clock, 1_000, () => fired++, () => busy);
    clock.advance(1_000);
    clock.advance(5_000);
    assert.equal(fired, 0);
    busy = false;
    clock.advance(1_000);
    assert.equal(fired, 1);
  });

  test('0 is off; stop() cancels', () => {
    const clock = manualClock();
    let fired = 0;
    new StreamIdleTimer(clock, 0, () => fired++);
    assert.equal(clock.pending, 0);
    const timer = new StreamIdleTimer(clock, 1_000, () => fired++);
    timer.stop();
    clock.advance(10_000);
    assert.equal(fired, 0);
  });

  test('the message names the target, the stream, the duration and the limit', () => {
    assert.equal(idleStreamMessage('staging', 'exec', 30_000), 'target "staging" closed the exec stream: no traffic for 30s (limits.idleTimeout)');
    assert.equal(idleStreamMessage('db', 'port-forward', 90_000), 'target "db" closed the port-forward stream: no traffic for 1m30s (limits.idleTimeout)');
  });
});

describe('ExecSession.endWithStatus', () => {
  test('held output first, then a Failure Status on the error channel; the record keeps the message', () => {
    const masker = compileMasking(MaskingPolicy.parse({}), 'staging');
    const session = new ExecSession({ protocol: 'v5.channel.k8s.io', masker, secrets: [], agentMaxBytes: 1024, upstreamMaxBytes: 1024, clipBytes: 4096, startMs: 0, title: 'cat' });
    const message = idleStreamMessage('staging', 'exec', 30_000);
    const frames = session.endWithStatus(message, 'Timeout', 30_000);
    const last = frames.at(-1)!;
    assert.equal(last[0], EXEC_CHANNEL.error);
    assert.deepEqual(JSON.parse(last.subarray(1).toString()), { metadata: {}, status: 'Failure', message, reason: 'Timeout' });
    const result = session.result(30_000, 'limit');
    assert.equal(result.error, message);
    assert.equal(result.closedBy, 'limit');
    assert.equal(result.exitCode, undefined);
  });
});

describe('relayPortForward with limits.idleTimeout (v4 WebSocket, local sockets, the test moves the clock)', () => {
  test('no bytes either way for the limit: both sides closed normally with the reason, the result closed by limit', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const accepted: WebSocket[] = [];
    server.on('connection', (ws) => accepted.push(ws));
    const agentClient = new WebSocket(url);
    const upstream = new WebSocket(url);
    await Promise.all([agentClient, upstream].map((ws) => new Promise((resolve) => ws.once('open', resolve))));
    while (accepted.length < 2) await new Promise((r) => setTimeout(r, 5));
    const [agent, upstreamServerSide] = accepted as [WebSocket, WebSocket];

    const clock = manualClock(1_000);
    const recorded: ActionResult[] = [];
    const limits = resolveLimits({ name: 'staging', protocol: 'kubernetes', listen: { host: '127.0.0.1', port: 0 }, upstream: 'https://127.0.0.1:1', limits: { idleTimeout: '30s' } } as never, {}, { resultRows: 10, resultBytes: 1024 });
    const ctx = {
      target: { name: 'staging' },
      session: { id: 'ses_idle' },
      described: { info: { name: 'web-0' }, classification: { ports: ['8080'] } },
      context: { clock, limits, logger: lineLogger(() => undefined), pipeline: { recordResult: (_s: unknown, _a: unknown, r: ActionResult) => (recorded.push(r), Promise.resolve()) } },
    } as unknown as K8sUpgradeContext;
    const agentClosed = new Promise<[number, string]>((resolve) => agentClient.once('close', (code, reason) => resolve([code, reason.toString()])));
    const upstreamClosed = new Promise<number>((resolve) => upstreamServerSide.once('close', (code) => resolve(code)));
    const done = relayPortForward(agent, upstream, 'v4.channel.k8s.io', ctx, { id: 'act_1' } as Action);

    clock.advance(29_999);
    assert.equal(recorded.length, 0);
    clock.advance(1);
    const message = 'target "staging" closed the port-forward stream: no traffic for 30s (limits.idleTimeout)';
    assert.deepEqual(await agentClosed, [1000, message]);
    assert.equal(await upstreamClosed, 1000);
    await done;
    assert.equal(recorded.length, 1);
    assert.equal(recorded[0]!.error, message);
    assert.equal(K8sPortForwardResultDetail.parse(recorded[0]!.detail).closedBy, 'limit');
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
