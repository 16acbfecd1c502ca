import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TargetStatus } from '@airlock/shared';
import { defaultPostgresTarget, postgresEnvironment } from '../../src/state/terminal-env.js';

const status = (name: string, address: string | undefined, state: TargetStatus['state'] = 'listening', protocol: TargetStatus['target']['protocol'] = 'postgres'): TargetStatus => ({
  target: { name, protocol, upstream: 'postgres://app@db.internal:5432/shop?sslmode=verify-full', listen: { host: '127.0.0.1', port: 6432 }},
  state,
  ...(address ? { address } : {}),
});

describe('terminal routing variables', () => {
  test('PG* and DATABASE_URL point at the listener with the token; the database comes from the upstream', () => {
    const env = postgresEnvironment(status('app', '127.0.0.1:6432'), 'alk_t/+ok')!;
    assert.deepEqual(
      { host: env.PGHOST, port: env.PGPORT, user: env.PGUSER, password: env.PGPASSWORD, db: env.PGDATABASE, ssl: env.PGSSLMODE },
      { host: '127.0.0.1', port: '6432', user: 'agent', password: 'alk_t/+ok', db: 'shop', ssl: 'prefer' },
    );
    assert.equal(env.DATABASE_URL, 'postgres://agent:alk_t%2F%2Bok@127.0.0.1:6432/shop');
    assert.equal(postgresEnvironment(status('v6', '[::1]:7000'), 't')!.DATABASE_URL, 'postgres://agent:t@[::1]:7000/shop');
  });

  test('only listening postgres targets; the setting picks one', () => {
    assert.equal(postgresEnvironment(status('down', undefined, 'error'), 't'), undefined);
    const targets = [status('ssh', undefined, 'unsupported', 'ssh'), status('a', '127.0.0.1:1'), status('b', '127.0.0.1:2')];
    assert.equal(defaultPostgresTarget(targets, undefined)?.target.name, 'a');
    assert.equal(defaultPostgresTarget(targets, 'b')?.target.name, 'b');
    assert.equal(defaultPostgresTarget(targets, 'missing')?.target.name, 'a');
  });
});
