import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { runCli, startDaemon, tempHome, type RunningDaemon } from '../helpers/daemon-process.js';
import { AgentSessionStore } from '../../src/sessions/store.js';

/** A port nothing listens on now (the OS picks it, then it is freed). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function keygen(file: string, passphrase = ''): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', file]);
  return file;
}

/** ssh-keygen -lf FILE → the SHA256 fingerprint. */
function fingerprintOf(pubFile: string): string {
  return execFileSync('ssh-keygen', ['-lf', pubFile], { encoding: 'utf8' }).split(/\s+/)[1]!;
}

/** What `ssh -G` (real OpenSSH) resolves for a host under a config file: lower-case keys. */
function sshResolved(configFile: string, host: string): Map<string, string[]> {
  const out = execFileSync('ssh', ['-G', '-F', configFile, host], { encoding: 'utf8' });
  const resolved = new Map<string, string[]>();
  for (const line of out.split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0) continue;
    const key = line.slice(0, space);
    resolved.set(key, [...(resolved.get(key) ?? []), line.slice(space + 1)]);
  }
  return resolved;
}

interface NewSession {
  id: string;
  token: string;
  sshIdentity?: string;
  session: { sshPublicKey?: string };
}

describe('agent sessions get SSH keys; the daemon host key persists', () => {
  const home = tempHome('airlock-sshid-');
  let daemon: RunningDaemon | undefined;
  after(async () => {
    await daemon?.stop();
    home.cleanup();
  });

  test('session new --json gives sshIdentity: a 0600 key ssh-keygen reads, whose public half the session carries; revoke deletes it', async () => {
    daemon = await startDaemon(home.dir);
    const created = await runCli(home.dir, ['session', 'new', '--name', 'agent', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const session = JSON.parse(created.stdout) as NewSession;
    assert.ok(session.sshIdentity, created.stdout);
    assert.equal(session.sshIdentity, path.join(home.dir, 'ssh', 'sessions', session.id));
    assert.equal(statSync(session.sshIdentity).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(session.sshIdentity)).mode & 0o777, 0o700);
    const derived = execFileSync('ssh-keygen', ['-y', '-f', session.sshIdentity], { encoding: 'utf8' }).trim();
    assert.equal(derived.split(' ').slice(0, 2).join(' '), session.session.sshPublicKey);

    const list = await runCli(home.dir, ['session', 'list']);
    assert.match(list.stdout, /SSH KEY/);
    writeFileSync(path.join(home.dir, 'agent.pub'), `${derived}\n`);
    assert.ok(list.stdout.includes(fingerprintOf(path.join(home.dir, 'agent.pub'))), list.stdout);

    const revoked = await runCli(home.dir, ['session', 'revoke', session.id]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(existsSync(session.sshIdentity), false, 'a revoked session\'s private key is deleted');
  });

  test('the host key is made once: same fingerprint after a restart, as ssh-keygen prints it', async () => {
    const keyFile = path.join(home.dir, 'ssh', 'host_ed25519_key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const before = fingerprintOf(`${keyFile}.pub`);
    const keyText = readFileSync(keyFile, 'utf8');
    const session = JSON.parse((await runCli(home.dir, ['session', 'new', '--name', 'kept', '--json'])).stdout) as NewSession;
    const first = (await daemon!.api('POST', '/v1/ssh-config', { sessionId: session.id })).json as { hostKeyFingerprint: string };
    assert.equal(first.hostKeyFingerprint, before);

    assert.equal(await daemon!.stop(), 0);
    daemon = await startDaemon(home.dir);
    assert.equal(readFileSync(keyFile, 'utf8'), keyText, 'the key file is not rewritten');
    const second = await daemon.api('POST', '/v1/ssh-config', { sessionId: session.id });
    assert.equal(second.status, 200, JSON.stringify(second.json));
    assert.equal((second.json as { hostKeyFingerprint: string }).hostKeyFingerprint, before);
    await daemon.stop();
    daemon = undefined;
  });
});

describe('target add --protocol ssh: credential forms, pins and warnings', () => {
  const home = tempHome('airlock-sshtarget-');
  after(() => home.cleanup());
  const config = () => YAML.parse(readFileSync(path.join(home.dir, 'config.yaml'), 'utf8')) as { targets: Record<string, unknown>[] };
  const targetNamed = (name: string) => config().targets.find((t) => t.name === name);
  const add = (name: string, ...args: string[]) => runCli(home.dir, ['target', 'add', name, '--protocol', 'ssh', '--upstream', 'ssh://deploy@box.internal:2200', '--listen', '127.0.0.1:0', ...args]);
  const PIN = 'SHA256:' + 'Q'.repeat(43);

  test('--key-file: stored absolute; a 0600 private key with a pin adds quietly', async () => {
    const key = keygen(path.join(home.dir, 'upstream_key'));
    const result = await runCli(home.dir, ['target', 'add', 'quiet', '--protocol', 'ssh', '--upstream', 'ssh://deploy@box.internal', '--listen', '127.0.0.1:0', '--key-file', path.relative(process.cwd(), key), '--host-key', PIN]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.deepEqual(targetNamed('quiet'), { name: 'quiet', protocol: 'ssh', upstream: 'ssh://deploy@box.internal', listen: { host: '127.0.0.1', port: 0 }, credential: { file: key }, hostKey: PIN });
  });

  test('--key-file others can read: added with the chmod warning; without a pin: the unpinned warning naming the pin command', async () => {
    const key = keygen(path.join(home.dir, 'loose_key'));
    chmodSync(key, 0o644);
    const result = await add('loose', '--key-file', key);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`warning: target "loose": the credential file ${key} can be read or changed by other users \\(mode 0644\\).*run chmod 600`));
    assert.match(result.stderr, /warning: target "loose": no upstream host key is pinned .*the first connection will fail and print the fingerprint and the command to pin it \(airlock target pin loose SHA256:…\)/);
  });

  test('an encrypted, public or missing key file is refused and nothing is written', async () => {
    const encrypted = keygen(path.join(home.dir, 'enc_key'), 'a passphrase');
    const refusals: [string, RegExp][] = [
      [encrypted, /protected by a passphrase, which airlockd cannot enter/],
      [`${encrypted}.pub`, /holds a public key, not a private one/],
      [path.join(home.dir, 'missing'), /cannot read the key file .*missing: ENOENT/],
    ];
    for (const [file, message] of refusals) {
      const result = await add('refused', '--key-file', file, '--host-key', PIN);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stderr, message);
      assert.equal(targetNamed('refused'), undefined);
    }
  });

  test('--key-env and --agent-socket (a real socket, then a path with none)', async () => {
    const env = await add('from-env', '--key-env', 'BOX_SSH_KEY', '--host-key', PIN);
    assert.equal(env.code, 0, env.stderr);
    assert.deepEqual(targetNamed('from-env')?.credential, { env: 'BOX_SSH_KEY' });

    const socketPath = path.join(home.dir, 'agent.sock');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const withSocket = await add('agent', '--agent-socket', socketPath, '--host-key', PIN);
      assert.equal(withSocket.code, 0, withSocket.stderr);
      assert.equal(withSocket.stderr, '');
      assert.deepEqual(targetNamed('agent')?.credential, { agentSocket: socketPath });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    const gone = await add('agent-gone', '--agent-socket', path.join(home.dir, 'no.sock'), '--host-key', PIN);
    assert.equal(gone.code, 0, gone.stderr);
    assert.match(gone.stderr, /no\.sock is not a socket now; airlockd signs through it at each connection/);
  });

  test('--known-hosts: a file naming the host adds quietly; one that does not is warned about', async () => {
    const key = keygen(path.join(home.dir, 'kh_key'));
    const hostPub = readFileSync(`${keygen(path.join(home.dir, 'fake_host_key'))}.pub`, 'utf8').trim();
    const good = path.join(home.dir, 'known_hosts_good');
    writeFileSync(good, `[box.internal]:2200 ${hostPub}\n`);
    const ok = await add('kh-good', '--key-file', key, '--known-hosts', good);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stderr, '');
    assert.equal(targetNamed('kh-good')?.knownHosts, good);

    const other = path.join(home.dir, 'known_hosts_other');
    writeFileSync(other, `box.internal ${hostPub}\n`);
    const warned = await add('kh-other', '--key-file', key, '--known-hosts', other);
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /lists no host key for \[box\.internal\]:2200: connections will fail until it does/);
  });

  test('option mistakes are refused with one line', async () => {
    const key = path.join(home.dir, 'upstream_key');
    const cases: [string[], RegExp][] = [
      [[], /an ssh target needs the key airlockd logs in to the upstream with/],
      [['--key-file', key, '--key-env', 'K'], /give one of --key-file, --key-env and --agent-socket, not --key-file and --key-env/],
      [['--key-file', key, '--host-key', PIN, '--known-hosts', key], /give --host-key or --known-hosts, not both/],
      [['--password-env', 'PW'], /an ssh target logs in with a key/],
      [['--key-file', key, '--host-key', 'SHA256:short'], /--host-key "SHA256:short": expected SHA256: and 43 base64 characters/],
    ];
    for (const [args, message] of cases) {
      const result = await add('mistake', ...args);
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stdout}`);
      assert.match(result.stderr, message);
    }
    const pg = await runCli(home.dir, ['target', 'add', 'pg', '--protocol', 'postgres', '--upstream', 'postgres://app@db/app', '--listen', '127.0.0.1:0', '--key-file', key]);
    assert.equal(pg.code, 1);
    assert.match(pg.stderr, /--key-file apply to ssh targets only/);
  });
});

describe('target pin and ssh-config against the running daemon', () => {
  const home = tempHome('airlock-sshcfg-');
  let daemon: RunningDaemon | undefined;
  let boxPort = 0;
  let otherPort = 0;
  let legacyId = '';
  before(async () => {
    boxPort = await freePort();
    otherPort = await freePort();
    const upstreamKey = keygen(path.join(home.dir, 'upstream_key'));
    // the first start takes the files as they are: no confirmation needed for these targets
    writeFileSync(
      path.join(home.dir, 'config.yaml'),
      YAML.stringify({
        targets: [
          { name: 'box', protocol: 'ssh', upstream: 'ssh://deploy@box.internal:22', listen: { host: '127.0.0.1', port: boxPort }, credential: { file: upstreamKey } },
          { name: 'other', protocol: 'ssh', upstream: 'ssh://other.internal', listen: { host: '127.0.0.1', port: otherPort }, credential: { file: upstreamKey } },
        ],
      }),
      { mode: 0o600 },
    );
    // a session made before sessions had SSH keys
    const legacy = new AgentSessionStore(path.join(home.dir, 'agent-sessions.json'));
    legacyId = (await legacy.create({ name: 'legacy', ttlMs: 3_600_000 })).session.id;
    daemon = await startDaemon(home.dir);
  });
  after(async () => {
    await daemon?.stop();
    home.cleanup();
  });

  test('pinning an unpinned target applies at once; changing the pin waits for a person', async () => {
    const FIRST = 'SHA256:' + 'A'.repeat(43);
    const pinned = await runCli(home.dir, ['target', 'pin', 'box', FIRST]);
    assert.equal(pinned.code, 0, pinned.stderr);
    let hostKey: unknown;
    for (let i = 0; i < 100 && hostKey !== FIRST; i++) {
      const targets = ((await daemon!.api('GET', '/v1/targets')).json as { targets: { target: { name: string; hostKey?: string } }[] }).targets;
      hostKey = targets.find((t) => t.target.name === 'box')?.target.hostKey;
      if (hostKey !== FIRST) await new Promise((r) => setTimeout(r, 30));
    }
    assert.equal(hostKey, FIRST, 'a pin where none was tightens: in force without confirmation');

    const changed = await runCli(home.dir, ['target', 'pin', 'box', 'SHA256:' + 'B'.repeat(43)]);
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stdout, /waits for confirmation/);
    type Pending = { differences: { direction: string; subject: string; text: string }[] } | null;
    let pending: Pending = null;
    for (let i = 0; i < 100 && pending === null; i++) {
      pending = ((await daemon!.api('GET', '/v1/policy/pending')).json as { pending: Pending }).pending;
      if (pending === null) await new Promise((r) => setTimeout(r, 30));
    }
    assert.ok(pending?.differences.some((d) => d.direction === 'loosening' && d.subject === 'target box' && /host key pin changed/.test(d.text)), JSON.stringify(pending));

    const notSsh = await runCli(home.dir, ['target', 'pin', 'nothere', FIRST]);
    assert.equal(notSsh.code, 1);
    assert.match(notSsh.stderr, /no target named "nothere"/);
  });

  test('ssh-config: real OpenSSH resolves each target to its listener, the session key and the pinned daemon key', async () => {
    const session = JSON.parse((await runCli(home.dir, ['session', 'new', '--name', 'agent', '--json'])).stdout) as NewSession;
    const result = await runCli(home.dir, ['ssh-config', '--session', session.id]);
    assert.equal(result.code, 0, result.stderr);
    const file = result.stdout.trim();
    assert.equal(file, path.join(home.dir, 'ssh', 'sessions', `${session.id}.config`));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(result.stderr, /Host box, other/);

    const knownHosts = path.join(home.dir, 'ssh', 'known_hosts');
    const box = sshResolved(file, 'box');
    assert.deepEqual(box.get('hostname'), ['127.0.0.1']);
    assert.deepEqual(box.get('port'), [String(boxPort)]);
    assert.deepEqual(box.get('user'), ['deploy']);
    assert.deepEqual(box.get('identityfile'), [session.sshIdentity]);
    assert.deepEqual(box.get('identitiesonly'), ['yes']);
    assert.deepEqual(box.get('stricthostkeychecking'), ['true']);
    assert.deepEqual(box.get('userknownhostsfile'), [knownHosts]);
    assert.deepEqual(box.get('passwordauthentication'), ['no']);
    assert.deepEqual(box.get('forwardagent'), ['no']);
    assert.deepEqual(box.get('hostkeyalgorithms'), ['ssh-ed25519']);
    assert.deepEqual(sshResolved(file, 'other').get('port'), [String(otherPort)]);

    // ssh's own lookup finds the daemon's host key for each listener, and nothing else
    const hostPub = readFileSync(path.join(home.dir, 'ssh', 'host_ed25519_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    for (const port of [boxPort, otherPort]) {
      const found = execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${port}`, '-f', knownHosts], { encoding: 'utf8' });
      assert.ok(found.includes(hostPub), found);
    }
    assert.equal(readFileSync(knownHosts, 'utf8').trim().split('\n').length, 2);

    const out = path.join(home.dir, 'elsewhere.config');
    const copied = await runCli(home.dir, ['ssh-config', '--session', session.id, '--out', out]);
    assert.equal(copied.code, 0, copied.stderr);
    assert.equal(copied.stdout.trim(), out);
    assert.equal(readFileSync(out, 'utf8'), readFileSync(file, 'utf8'));
  });

  test('a session scoped to one target gets one Host; sessions without a key, revoked or unknown are refused', async () => {
    const scoped = JSON.parse((await runCli(home.dir, ['session', 'new', '--name', 'scoped', '--targets', 'other', '--json'])).stdout) as NewSession;
    const file = (await runCli(home.dir, ['ssh-config', '--session', scoped.id])).stdout.trim();
    assert.doesNotMatch(readFileSync(file, 'utf8'), /^Host box$/m);
    assert.deepEqual(sshResolved(file, 'box').get('hostname'), ['box'], 'no block: ssh takes the alias as the host name');
    assert.deepEqual(sshResolved(file, 'other').get('port'), [String(otherPort)]);

    const legacy = await runCli(home.dir, ['ssh-config', '--session', legacyId]);
    assert.equal(legacy.code, 1);
    assert.match(legacy.stderr, /has no SSH key \(it was made before agent sessions had them\): create a new one with "airlock session new"/);
    const listed = await runCli(home.dir, ['session', 'list']);
    assert.match(listed.stdout, /legacy .*none \(made before SSH keys; token only\)/);

    assert.equal((await runCli(home.dir, ['session', 'revoke', scoped.id])).code, 0);
    const revoked = await runCli(home.dir, ['ssh-config', '--session', scoped.id]);
    assert.equal(revoked.code, 1);
    assert.match(revoked.stderr, /was revoked: create a new one/);

    const unknown = await daemon!.api('POST', '/v1/ssh-config', { sessionId: 'ses_nope' });
    assert.equal(unknown.status, 404);
    const bad = await daemon!.api('POST', '/v1/ssh-config', { session: 'x' });
    assert.equal(bad.status, 400);
    const missingFlag = await runCli(home.dir, ['ssh-config']);
    assert.notEqual(missingFlag.code, 0);
    assert.match(missingFlag.stderr, /--session/);
  });
});
