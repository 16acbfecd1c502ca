import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TargetStatus } from '@airlock/shared';
import { defaultPostgresTarget, httpEnvironment, httpTargets, postgresEnvironment, shellWord, sshEnvironment, sshTargets, targetUrlVariable } from '../../src/state/terminal-env.js';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

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

const httpStatus = (name: string, protocol: 'http' | 'egress', address: string | undefined, state: TargetStatus['state'] = 'listening'): TargetStatus => ({
  target: { name, protocol, ...(protocol === 'http' ? { upstream: 'https://api.github.com' } : {}), listen: { host: '127.0.0.1', port: 1 } },
  state,
  ...(address ? { address } : {}),
});

describe('HTTP routing variables', () => {
  const token = 'alk_t/+:@%x';

  test('egress: HTTPS_PROXY and HTTP_PROXY, lowercase too, with the token as the Basic password; NO_PROXY names loopback', () => {
    const env = httpEnvironment([httpStatus('egress', 'egress', '127.0.0.1:3128')], token);
    const proxy = 'http://agent:alk_t%2F%2B%3A%40%25x@127.0.0.1:3128';
    assert.deepEqual(
      [env.HTTPS_PROXY, env.HTTP_PROXY, env.https_proxy, env.http_proxy],
      [proxy, proxy, proxy, proxy],
    );
    const url = new URL(env.HTTPS_PROXY!);
    assert.deepEqual([decodeURIComponent(url.username), decodeURIComponent(url.password), url.host], ['agent', token, '127.0.0.1:3128'], 'a URL parser gets the token back exactly');
    assert.equal(env.NO_PROXY, '127.0.0.1,localhost,::1');
    assert.equal(env.no_proxy, env.NO_PROXY);
    assert.equal(env.AIRLOCK_TOKEN, token);
  });

  test('NO_PROXY adds the daemon\'s other listeners that are not on loopback, by host and port only', () => {
    const targets = [
      httpStatus('egress', 'egress', '127.0.0.1:3128'),
      status('db', '10.0.0.5:6432'),
      status('db-local', '127.0.0.1:6432'),
      httpStatus('gh', 'http', '[fd00::5]:8080'),
    ];
    assert.equal(httpEnvironment(targets, 't').NO_PROXY, '127.0.0.1,localhost,::1,10.0.0.5:6432,[fd00::5]:8080');
  });

  test('API targets: AIRLOCK_<TARGET>_URL per listening http target; names that map to one variable keep the first', () => {
    assert.equal(targetUrlVariable('gh'), 'AIRLOCK_GH_URL');
    assert.equal(targetUrlVariable('git-server.prod'), 'AIRLOCK_GIT_SERVER_PROD_URL');
    assert.equal(targetUrlVariable('$(x)'), 'AIRLOCK___X__URL', 'nothing a shell would expand');
    const env = httpEnvironment([httpStatus('my_api', 'http', '127.0.0.1:9001'), httpStatus('gh', 'http', '[::1]:9000'), httpStatus('my-api', 'http', '127.0.0.1:9002'), httpStatus('down', 'http', undefined, 'error')], token);
    assert.equal(env.HTTPS_PROXY, undefined, 'no egress target: no proxy variables');
    assert.deepEqual(env, { AIRLOCK_GH_URL: 'http://[::1]:9000', AIRLOCK_MY_API_URL: 'http://127.0.0.1:9002', AIRLOCK_TOKEN: token });
  });

  test('nothing without a listening HTTP or egress target', () => {
    assert.deepEqual(httpEnvironment([status('db', '127.0.0.1:1'), httpStatus('egress', 'egress', undefined, 'unsupported')], token), {});
    assert.deepEqual(httpTargets([httpStatus('egress', 'egress', undefined, 'unsupported')]), []);
  });

  test('curl with the variables: CONNECT through the proxy with the token as the Basic password, loopback straight to the listener', async () => {
    const seen: string[] = [];
    const proxy = createServer((req, res) => {
      seen.push(`plain ${req.url}`);
      res.writeHead(403).end();
    });
    proxy.on('connect', (req, socket) => {
      seen.push(`CONNECT ${req.url} ${req.headers['proxy-authorization'] ?? '(none)'}`);
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
    });
    const direct = createServer((req, res) => {
      seen.push(`direct ${req.url}`);
      res.end('ok');
    });
    await Promise.all([new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r)), new Promise<void>((r) => direct.listen(0, '127.0.0.1', r))]);
    try {
      const env = httpEnvironment([httpStatus('egress', 'egress', `127.0.0.1:${(proxy.address() as AddressInfo).port}`)], token);
      const curl = (url: string) =>
        new Promise<number | null>((resolve) => {
          const child = spawn('curl', ['-s', '-o', '/dev/null', '--max-time', '10', url], { env: { PATH: process.env.PATH, ...env }, stdio: 'ignore' });
          child.on('close', resolve);
        });
      // the proxy refuses: curl fails, after asking it
      assert.notEqual(await curl('https://registry.example.test/pkg'), 0);
      assert.equal(await curl(`http://127.0.0.1:${(direct.address() as AddressInfo).port}/local`), 0);
      const basic = `Basic ${Buffer.from(`agent:${token}`).toString('base64')}`;
      assert.deepEqual(seen, [`CONNECT registry.example.test:443 ${basic}`, 'direct /local']);
    } finally {
      proxy.close();
      direct.close();
    }
  });
});
