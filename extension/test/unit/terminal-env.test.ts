import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TargetStatus } from '@airlock/shared';
import { defaultPostgresTarget, postgresEnvironment, shellWord, sshEnvironment, sshTargets } from '../../src/state/terminal-env.js';
import { spawnSync } from 'node:child_process';

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

  test('SSH: AIRLOCK_SSH_CONFIG names the session\'s config and GIT_SSH_COMMAND uses it, quoted for the shell git runs it with', () => {
    assert.deepEqual(sshEnvironment('/home/ada/.airlock/ssh/sessions/ses_1.config'), {
      AIRLOCK_SSH_CONFIG: '/home/ada/.airlock/ssh/sessions/ses_1.config',
      GIT_SSH_COMMAND: 'ssh -F /home/ada/.airlock/ssh/sessions/ses_1.config',
    });
    const awkward = "/Users/Ada O'Brien/Airlock Data/ssh/ses_1.config";
    const env = sshEnvironment(awkward);
    assert.equal(env.GIT_SSH_COMMAND, `ssh -F '/Users/Ada O'\\''Brien/Airlock Data/ssh/ses_1.config'`);
    // what a shell makes of it: exactly the path, one word (git runs GIT_SSH_COMMAND with sh -c "$GIT_SSH_COMMAND" args)
    const words = spawnSync('sh', ['-c', `set -- ${env.GIT_SSH_COMMAND}; printf '%s\\n' "$@"`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    assert.deepEqual(words, ['ssh', '-F', awkward]);
    assert.equal(shellWord('$(rm -rf ~)'), "'$(rm -rf ~)'");
  });

  test('SSH routing needs a listening ssh target', () => {
    const targets = [status('db', '127.0.0.1:1'), status('web', '127.0.0.1:2222', 'listening', 'ssh'), status('bastion', undefined, 'error', 'ssh')];
    assert.deepEqual(sshTargets(targets).map((t) => t.target.name), ['web']);
    assert.deepEqual(sshTargets([status('db', '127.0.0.1:1')]), []);
  });
});
