import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS, LocalConfig, parseWith, type Target } from '@airlock/shared';
import { resolveLimits } from '../../src/proxies/limits.js';

const RECORDING = { resultRows: 50, resultBytes: 65_536 };

function target(limits?: Target['limits']): Target {
  return { name: 'app', protocol: 'postgres', upstream: 'postgres://app@db.internal:5432/app', listen: { host: '127.0.0.1', port: 6432 }, ...(limits ? { limits } : {}) };
}

describe('resolveLimits', () => {
  test('with nothing set, a target gets the built-in defaults, durations in milliseconds', () => {
    const limits = resolveLimits(target(), {}, RECORDING);
    assert.equal(limits.maxConnections, DEFAULT_LIMITS.maxConnections);
    assert.equal(limits.maxConnectionsPerSession, DEFAULT_LIMITS.maxConnectionsPerSession);
    assert.equal(limits.maxMessageBytes, DEFAULT_LIMITS.maxMessageBytes);
    assert.equal(limits.bufferBytes, DEFAULT_LIMITS.bufferBytes);
    assert.equal(limits.upstreamMessageBytes, DEFAULT_LIMITS.upstreamMessageBytes);
    assert.equal(limits.authTimeoutMs, 10_000);
    assert.equal(limits.idleTimeoutMs, 0, 'no idle timeout unless asked for');
    assert.equal(limits.connectTimeoutMs, 10_000);
    assert.equal(limits.resultRows, 50);
  });

  test('daemon-wide settings override the defaults, and a target overrides the daemon-wide ones field by field', () => {
    const daemonWide = { maxConnections: 30, maxConnectionsPerSession: 10, idleTimeout: '15m' };
    const plain = resolveLimits(target(), daemonWide, RECORDING);
    assert.equal(plain.maxConnections, 30);
    assert.equal(plain.maxConnectionsPerSession, 10);
    assert.equal(plain.idleTimeoutMs, 15 * 60_000);

    const own = resolveLimits(target({ maxConnectionsPerSession: 3, authTimeout: '300ms' }), daemonWide, RECORDING);
    assert.equal(own.maxConnections, 30, 'not set on the target: the daemon-wide value');
    assert.equal(own.maxConnectionsPerSession, 3);
    assert.equal(own.authTimeoutMs, 300);
    assert.equal(own.idleTimeoutMs, 15 * 60_000);
  });

  test('an inherited per-session cap above a total set closer to the target is lowered to that total', () => {
    assert.equal(resolveLimits(target({ maxConnections: 5 }), {}, RECORDING).maxConnectionsPerSession, 5, 'the default 20 yields to the target\'s 5');
    assert.equal(resolveLimits(target({ maxConnections: 5 }), { maxConnectionsPerSession: 8 }, RECORDING).maxConnectionsPerSession, 5);
    assert.equal(resolveLimits(target(), { maxConnections: 6 }, RECORDING).maxConnectionsPerSession, 6);
  });

  test('a per-session cap above the target total, set as close to the target, is an error naming the target and both limits', () => {
    assert.throws(() => resolveLimits(target(), { maxConnections: 5, maxConnectionsPerSession: 8 }, RECORDING), /^Error: target "app": limits\.maxConnectionsPerSession \(8\) is above limits\.maxConnections \(5\)$/);
    assert.throws(
      () => resolveLimits(target({ maxConnectionsPerSession: 8 }), { maxConnections: 5 }, RECORDING),
      (err: Error) => {
        assert.equal(err.message, 'target "app": limits.maxConnectionsPerSession (8) is above limits.maxConnections (5)');
        return true;
      },
    );
  });

  test('an invalid merged value is rejected with the target and the field named', () => {
    // a daemon-wide value is checked when the config is read; resolving checks the merge again
    assert.throws(() => resolveLimits(target(), { maxConnections: 0 }, RECORDING), /^ValidationError: target "app": limits: maxConnections: Too small: expected number to be >=1$/);
  });
});

describe('limits in the config schema', () => {
  const config = (limits: unknown, targetLimits?: unknown) => ({
    limits,
    targets: [{ name: 'app', protocol: 'postgres', upstream: 'postgres://app@db.internal:5432/app', listen: { port: 6432 }, ...(targetLimits ? { limits: targetLimits } : {}) }],
  });
  const message = (value: unknown): string => {
    try {
      parseWith(LocalConfig, value, 'config.yaml');
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };

  test('accepts daemon-wide and per-target limits', () => {
    const parsed = parseWith(LocalConfig, config({ maxConnections: 50, idleTimeout: '10m' }, { maxConnectionsPerSession: 5 }), 'config.yaml');
    assert.equal(parsed.limits.maxConnections, 50);
    assert.equal(parsed.targets[0]?.limits?.maxConnectionsPerSession, 5);
  });

  test('rejects bad values with the path and what was expected', () => {
    assert.equal(message(config({ maxConnections: -1 })), 'config.yaml: limits.maxConnections: Too small: expected number to be >=1');
    assert.equal(message(config({}, { maxConnectionsPerSession: 2.5 })), 'config.yaml: targets[0].limits.maxConnectionsPerSession: Invalid input: expected int, received number');
    assert.equal(message(config({ idleTimeout: '10 minutes' })), 'config.yaml: limits.idleTimeout: expected a duration such as "30s", "5m", "8h" or "7d"');
    assert.equal(message(config({ authTimeout: '0s' })), 'config.yaml: limits.authTimeout: expected a duration above zero, such as "10s"');
    assert.equal(message(config({}, { maxConections: 3 })), 'config.yaml: targets[0].limits: Unrecognized key: "maxConections"');
    assert.equal(message(config({ idleTimeout: '0s' })), 'accepted', '0s turns the idle timeout off');
  });
});
