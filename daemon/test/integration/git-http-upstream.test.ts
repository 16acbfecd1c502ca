import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { git, gitTestEnv, runGit, startGitHttpServer, type GitHttpServer } from '../helpers/git-http.js';

/**
 * The real git upstream the HTTP proxy tests stand in front of, tested on its own with the real git
 * client: clone and push over smart HTTP, a required credential (401 without it), chunked pushes.
 */

const BASIC = `Basic ${Buffer.from('git:real-upstream-secret').toString('base64')}`;

describe('git http-backend upstream (basic credential required)', () => {
  let server: GitHttpServer;
  let work: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    server = await startGitHttpServer({ requireAuthorization: BASIC });
    work = mkdtempSync(path.join(os.tmpdir(), 'airlock-git-upstream-test-'));
    env = gitTestEnv(work);
  });
  after(async () => {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('a clone with the credential gets the initial commit, and the server saw that credential', async () => {
    const repo = await server.createRepo('clone.git');
    const url = repo.url.replace('http://', 'http://git:real-upstream-secret@');
    await git(['clone', '--quiet', url, 'clone'], { cwd: work, env });
    assert.equal(readFileSync(path.join(work, 'clone', 'README.md'), 'utf8'), '# clone.git\n');
    assert.equal(await git(['rev-parse', 'HEAD'], { cwd: path.join(work, 'clone'), env }), repo.head);
    assert.ok(server.seenAuthorizations.includes(BASIC));
    const advertisement = server.requests.find((request) => request.url.endsWith('/info/refs?service=git-upload-pack') && request.status === 200);
    assert.ok(advertisement, 'the upload-pack advertisement was served');
  });

  test('a push with the credential updates the bare repository', async () => {
    const repo = await server.createRepo('push.git');
    const url = repo.url.replace('http://', 'http://git:real-upstream-secret@');
    const clone = path.join(work, 'push');
    await git(['clone', '--quiet', url, clone], { cwd: work, env });
    writeFileSync(path.join(clone, 'change.txt'), 'a change\n');
    await git(['add', 'change.txt'], { cwd: clone, env });
    await git(['commit', '--quiet', '-m', 'a change'], { cwd: clone, env });
    const pushed = await git(['rev-parse', 'HEAD'], { cwd: clone, env });
    await git(['push', '--quiet', 'origin', 'main'], { cwd: clone, env });
    assert.equal(await git(['rev-parse', 'main'], { cwd: repo.dir, env }), pushed);
    const receivePack = server.requests.find((request) => request.method === 'POST' && request.url.endsWith('/push.git/git-receive-pack'));
    assert.ok(receivePack && receivePack.body.length > 0, 'the push body was recorded');
    assert.equal(receivePack.status, 200);
  });

  test('without a credential, or with a wrong one, the server answers 401 and git fails', async () => {
    const repo = await server.createRepo('locked.git');
    const before = server.seenAuthorizations.length;
    const anonymous = await runGit(['clone', '--quiet', repo.url, 'anonymous'], { cwd: work, env });
    assert.notEqual(anonymous.code, 0);
    assert.match(anonymous.stderr, /Authentication failed|could not read Username|401/);
    const wrongUrl = repo.url.replace('http://', 'http://git:not-the-secret@');
    const wrong = await runGit(['clone', '--quiet', wrongUrl, 'wrong'], { cwd: work, env });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /Authentication failed|401/);
    const seen = server.seenAuthorizations.slice(before);
    assert.ok(seen.includes(undefined), 'a request without Authorization was seen');
    assert.ok(seen.includes(`Basic ${Buffer.from('git:not-the-secret').toString('base64')}`), 'the wrong credential was seen and refused');
    assert.ok(!seen.includes(BASIC));
    assert.ok(server.requests.filter((request) => request.url.includes('/locked.git/')).every((request) => request.status === 401));
  });

  test('a push bigger than git\'s post buffer goes chunked and http-backend reads it whole', async () => {
    const repo = await server.createRepo('big.git');
    const url = repo.url.replace('http://', 'http://git:real-upstream-secret@');
    const clone = path.join(work, 'big');
    await git(['clone', '--quiet', url, clone], { cwd: work, env });
    // random bytes do not compress: the pack is bigger than http.postBuffer (1 MiB by default)
    writeFileSync(path.join(clone, 'random.bin'), randomBytes(3 * 1024 * 1024));
    await git(['add', 'random.bin'], { cwd: clone, env });
    await git(['commit', '--quiet', '-m', 'a big file'], { cwd: clone, env });
    const pushed = await git(['rev-parse', 'HEAD'], { cwd: clone, env });
    await git(['push', '--quiet', 'origin', 'main'], { cwd: clone, env });
    assert.equal(await git(['rev-parse', 'main'], { cwd: repo.dir, env }), pushed);
    const receivePack = server.requests.filter((request) => request.method === 'POST' && request.url.endsWith('/big.git/git-receive-pack') && request.status === 200).at(-1);
    assert.ok(receivePack);
    assert.equal(receivePack.headers['transfer-encoding'], 'chunked');
    assert.ok(receivePack.body.length > 3 * 1024 * 1024);
  });
});

describe('git http-backend upstream (bearer credential required)', () => {
  let server: GitHttpServer;
  let work: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    server = await startGitHttpServer({ requireAuthorization: 'Bearer upstream-token' });
    work = mkdtempSync(path.join(os.tmpdir(), 'airlock-git-upstream-test-'));
    env = gitTestEnv(work);
  });
  after(async () => {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('the bearer credential is accepted and another one is not', async () => {
    const repo = await server.createRepo('bearer.git');
    await git(['-c', 'http.extraHeader=Authorization: Bearer upstream-token', 'clone', '--quiet', repo.url, 'ok'], { cwd: work, env });
    assert.equal(await git(['rev-parse', 'HEAD'], { cwd: path.join(work, 'ok'), env }), repo.head);
    const refused = await runGit(['-c', 'http.extraHeader=Authorization: Bearer some-other-token', 'clone', '--quiet', repo.url, 'refused'], { cwd: work, env });
    assert.notEqual(refused.code, 0);
    assert.ok(server.seenAuthorizations.includes('Bearer upstream-token'));
    assert.ok(server.seenAuthorizations.includes('Bearer some-other-token'));
  });

  test('an unknown repository is a 404 from http-backend, not a crash of the server', async () => {
    const missing = await runGit(['-c', 'http.extraHeader=Authorization: Bearer upstream-token', 'ls-remote', `${server.url}/nothing-here.git`], { cwd: work, env });
    assert.notEqual(missing.code, 0);
    assert.ok(server.requests.some((request) => request.url.startsWith('/nothing-here.git/') && request.status === 404));
  });
});
