import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Target } from '@airlock/shared';
import { lineLogger } from '../../src/util/logger.js';
import { systemClock } from '../../src/util/time.js';
import { ListenerManager, type ProxyContext, type ProxyServices, type ProxyFactory } from '../../src/proxies/listeners.js';

/** A real TCP listener standing in for a protocol adapter: the manager's job is the lifecycle. */
const tcpFactory: ProxyFactory = async (target) => {
  const server = net.createServer((socket) => socket.end());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(target.listen.port, target.listen.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { address: `${target.listen.host}:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
};

const SERVICES = { logger: lineLogger(() => undefined), clock: systemClock } as unknown as ProxyServices;
const SETTINGS = { limits: {}, recording: { resultRows: 10, resultBytes: 1024 } };

const target = (name: string, port = 0, protocol: Target['protocol'] = 'postgres'): Target => ({
  name,
  protocol,
  upstream: 'postgres://u@127.0.0.1:5432/db',
  listen: { host: '127.0.0.1', port },
});

async function connects(address: string): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const s = net.connect(port, host, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

describe('listener manager', () => {
  test('starts, restarts on change and stops listeners as targets come and go', async () => {
    const manager = new ListenerManager({ postgres: tcpFactory }, SERVICES, SETTINGS);
    const [a] = await manager.reconcile([target('a')]);
    assert.equal(a?.state, 'listening');
    assert.ok(await connects(a!.address!));

    const changed = await manager.reconcile([{ ...target('a'), upstream: 'postgres://u@127.0.0.1:5433/db' }]);
    assert.equal(changed[0]?.state, 'listening');
    assert.equal(await connects(a!.address!), false, 'the old listener closed');
    assert.ok(await connects(changed[0]!.address!));

    await manager.reconcile([]);
    assert.equal(manager.statuses().length, 0);
    assert.equal(await connects(changed[0]!.address!), false);
  });

  test('each started target gets its own connection limiter, with the caps resolved for it', async () => {
    const contexts = new Map<string, ProxyContext>();
    const capturing: ProxyFactory = async (t, context) => {
      contexts.set(t.name, context);
      return tcpFactory(t, context);
    };
    const manager = new ListenerManager({ postgres: capturing }, SERVICES, { ...SETTINGS, limits: { maxConnections: 2 } });
    await manager.reconcile([target('a'), { ...target('b'), limits: { maxConnections: 1 } }]);
    const [a, b] = [contexts.get('a')!, contexts.get('b')!];
    assert.notEqual(a.connections, b.connections);
    assert.equal(a.limits.maxConnectionsPerSession, 2, 'the default per-session cap yields to the daemon-wide total');
    assert.equal(a.connections.admit().kind, 'admitted');
    assert.equal(a.connections.admit().kind, 'admitted');
    assert.equal(a.connections.admit().kind, 'refused');
    assert.equal(b.connections.admit().kind, 'admitted', "a's connections do not count against b");
    assert.equal(b.connections.admit().kind, 'refused');
    await manager.closeAll();
  });

  test('a per-session cap above the total set on the same target is an error; the target does not start', async () => {
    const manager = new ListenerManager({ postgres: tcpFactory }, SERVICES, SETTINGS);
    const [status] = await manager.reconcile([{ ...target('inverted'), limits: { maxConnections: 2, maxConnectionsPerSession: 3 } }]);
    assert.equal(status?.state, 'error');
    assert.equal(status?.error, 'target "inverted": limits.maxConnectionsPerSession (3) is above limits.maxConnections (2)');
    await manager.closeAll();
  });

  test('a protocol without an adapter is unsupported; a port in use is an error naming the target', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as AddressInfo).port;
    try {
      const manager = new ListenerManager({ postgres: tcpFactory }, SERVICES, SETTINGS);
      const statuses = await manager.reconcile([target('ssh-box', 0, 'ssh'), target('clash', taken)]);
      const ssh = statuses.find((s) => s.target.name === 'ssh-box');
      const clash = statuses.find((s) => s.target.name === 'clash');
      assert.equal(ssh?.state, 'unsupported');
      assert.match(ssh?.error ?? '', /no ssh proxy/);
      assert.equal(clash?.state, 'error');
      assert.match(clash?.error ?? '', new RegExp(`target "clash": cannot listen on 127.0.0.1:${taken}: .*EADDRINUSE`));
      await manager.closeAll();
    } finally {
      blocker.close();
    }
  });
});
