import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { git, gitTestEnv, runGit, startGitHttpServer, type GitHttpServer, type GitRepo } from '../helpers/git-http.js';
import { startHttpProxy, type HttpProxyHarness } from '../helpers/http-proxy.js';
import { pendingApproval } from '../helpers/daemon-harness.js';

const SECRET = 'git-pw-Lr93kQz7Xw';

describe('http target in front of git smart HTTP (git http-backend), with the real git client', () => {
  let server: GitHttpServer;
  let repo: GitRepo;
  let h: HttpProxyHarness;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let remote: string;
  before(async () => {
    server = await startGitHttpServer({ requireAuthorization: `Basic ${Buffer.from(`gituser:${SECRET}`).toString('base64')}` });
    repo = await server.createRepo('project.git');
    // the default policy: reads allowed, writes held, force pushes refused
    h = await startHttpProxy({ upstream: `http://gituser@127.0.0.1:${server.port}`, auth: 'basic', secret: SECRET });
    work = mkdtempSync(path.join(os.tmpdir(), 'airlock-git-agent-'));
    env = gitTestEnv(work);
    remote = `http://agent:${h.token}@127.0.0.1:${h.port}/${repo.name}`;
  });
  after(async () => {
    await h?.stop();
    await server?.close();
  });

  test('git clone with the token as the Basic password (git retries after the 401 challenge)', async () => {
    const out = await runGit(['clone', remote, 'clone'], { cwd: work, env });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(await git(['rev-parse', 'HEAD'], { cwd: path.join(work, 'clone'), env }), repo.head);
    assert.ok(server.seenAuthorizations.every((a) => a === `Basic ${Buffer.from(`gituser:${SECRET}`).toString('base64')}`), 'the upstream saw only the real credential');
  });

  test('git without a token is told to authenticate and fails', async () => {
    const out = await runGit(['ls-remote', `http://127.0.0.1:${h.port}/${repo.name}`], { cwd: work, env });
    assert.notEqual(out.code, 0);
    assert.match(out.stderr, /Authentication failed|could not read Username/);
  });

  test('a fast-forward push is held, then pushed once approved', async () => {
    const clone = path.join(work, 'clone');
    writeFileSync(path.join(clone, 'a.txt'), 'a\n');
    await git(['add', 'a.txt'], { cwd: clone, env });
    await git(['commit', '-m', 'add a'], { cwd: clone, env });
    const pushing = runGit(['push', 'origin', 'HEAD:main'], { cwd: clone, env });
    const approval = await pendingApproval(h.daemon, 20_000);
    assert.match(approval.action.summary, /git push refs\/heads\/main/);
    await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, { by: 'alice', via: 'api' });
    const out = await pushing;
    assert.equal(out.code, 0, out.stderr);
    assert.equal((await git(['ls-remote', remote, 'refs/heads/main'], { cwd: work, env })).split('\t')[0], await git(['rev-parse', 'HEAD'], { cwd: clone, env }));
  });

  test('a force push is refused by git-force-push-deny and git prints why; the branch is unchanged', async () => {
    const clone = path.join(work, 'clone');
    const before = await git(['ls-remote', remote, 'refs/heads/main'], { cwd: work, env });
    await git(['reset', '--hard', 'HEAD~1'], { cwd: clone, env });
    writeFileSync(path.join(clone, 'b.txt'), 'b\n');
    await git(['add', 'b.txt'], { cwd: clone, env });
    await git(['commit', '-m', 'rewrite'], { cwd: clone, env });
    const out = await runGit(['push', '--force', 'origin', 'HEAD:main'], { cwd: clone, env });
    assert.notEqual(out.code, 0);
    assert.match(out.stderr, /airlock/, out.stderr);
    assert.match(out.stderr, /git-force-push-deny/, out.stderr);
    assert.match(out.stderr, /remote: airlock: /, out.stderr);
    assert.match(out.stderr, /! \[remote rejected\] HEAD -> main \(airlock: git-force-push-deny\)/, out.stderr);
    assert.equal(await git(['ls-remote', remote, 'refs/heads/main'], { cwd: work, env }), before);
  });
});
