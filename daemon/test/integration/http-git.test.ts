import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HttpRequestDetail } from '@airlock/shared';
import { git, gitTestEnv, runGit, startGitHttpServer, type GitHttpServer, type GitRepo } from '../helpers/git-http.js';
import { actionsAndResults, request, startHttpProxy, type HttpProxyHarness } from '../helpers/http-proxy.js';
import { pendingApproval } from '../helpers/daemon-harness.js';

/**
 * git over smart HTTP through an Airlock http target, end to end with real parts: the git client,
 * the daemon (default policy), and `git http-backend` upstream requiring the real credential.
 * Clones and fetches are reads (allowed); a push is a write (held for a human); a push Airlock
 * cannot show to be a fast-forward is refused by git-force-push-deny, and git prints why (the
 * refusal goes as a receive-pack result: git shows no body of a failed receive-pack POST).
 */

const UPSTREAM_USER = 'deploy-bot';
const UPSTREAM_PASSWORD = 'ghp_realUpstreamSecret9Xq2Lm7Vt4';
const REAL_BASIC = `Basic ${Buffer.from(`${UPSTREAM_USER}:${UPSTREAM_PASSWORD}`).toString('base64')}`;

function pkt(text: string): Buffer {
  const payload = Buffer.from(text, 'latin1');
  return Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, '0')), payload]);
}

/** A pack object entry of type commit (1): the size in 4 + 7n bits, then the zlib stream. */
function commitEntry(data: Buffer): Buffer {
  const header = [];
  let byte = (1 << 4) | (data.length & 0x0f);
  let rest = data.length >> 4;
  while (rest > 0) {
    header.push(byte | 0x80);
    byte = rest & 0x7f;
    rest >>= 7;
  }
  header.push(byte);
  return Buffer.concat([Buffer.from(header), deflateSync(data)]);
}

function packOf(entries: Buffer[]): Buffer {
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(entries.length, 8);
  const body = Buffer.concat([header, ...entries]);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

interface Approval {
  id: string;
  ruleId?: string;
  action: { summary: string; kind: string; attributes: Record<string, unknown>; detail: unknown };
}

describe('git smart HTTP through an Airlock http target (basic credential upstream)', () => {
  let upstream: GitHttpServer;
  let h: HttpProxyHarness;
  let repo: GitRepo;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let clone: string;
  let agentUrl: string;
  const run = (...args: string[]): Promise<string> => git(args, { cwd: clone, env });

  async function commit(file: string, content: string | Buffer): Promise<string> {
    writeFileSync(path.join(clone, file), content);
    await run('add', file);
    await run('commit', '--quiet', '-m', `change ${file}`);
    return run('rev-parse', 'HEAD');
  }

  const receivePackPosts = (): number => upstream.requests.filter((request) => request.method === 'POST' && request.url.endsWith('/git-receive-pack')).length;

  async function approvalOf(): Promise<Approval> {
    const pending = await pendingApproval(h.daemon);
    const listed = ((await h.daemon.api('GET', '/v1/approvals')).json as { approvals: Approval[] }).approvals;
    return listed.find((approval) => approval.id === pending.id)!;
  }

  before(async () => {
    upstream = await startGitHttpServer({ requireAuthorization: REAL_BASIC });
    repo = await upstream.createRepo('repo.git');
    h = await startHttpProxy({ upstream: upstream.url, auth: 'basic', secret: `${UPSTREAM_USER}:${UPSTREAM_PASSWORD}` });
    work = mkdtempSync(path.join(os.tmpdir(), 'airlock-http-git-'));
    env = gitTestEnv(work);
    agentUrl = `http://agent:${h.token}@127.0.0.1:${h.port}/repo.git`;
    clone = path.join(work, 'clone');
  });
  after(async () => {
    await h?.stop();
    await upstream?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('a clone is a read: allowed, with the real credential upstream and never the agent token', async () => {
    await git(['clone', '--quiet', agentUrl, clone], { cwd: work, env });
    assert.equal(readFileSync(path.join(clone, 'README.md'), 'utf8'), '# repo.git\n');
    assert.equal(await run('rev-parse', 'HEAD'), repo.head);
    const seen = upstream.seenAuthorizations;
    assert.ok(seen.length >= 2, 'the advertisement and the upload-pack reached the upstream');
    assert.ok(seen.every((value) => value === REAL_BASIC), `the upstream saw only the real credential: ${JSON.stringify(seen)}`);
    assert.ok(upstream.requests.every((request) => !JSON.stringify(request.headers).includes(h.token)), 'the agent token never reached the upstream');
    const fetches = actionsAndResults(await h.records()).filter((pair) => pair.action.kind === 'http.request');
    const uploadPack = fetches.find((pair) => HttpRequestDetail.parse(pair.action.detail).path === '/repo.git/git-upload-pack');
    assert.ok(uploadPack, 'the upload-pack request was recorded');
    assert.equal(HttpRequestDetail.parse(uploadPack.action.detail).git?.service, 'git-upload-pack');
  });

  test('a fetch is a read too', async () => {
    const fetched = await runGit(['fetch', 'origin'], { cwd: clone, env });
    assert.equal(fetched.code, 0, fetched.stderr);
  });

  test('a fast-forward push is held, goes upstream once approved, and its record carries git.refs', async () => {
    const old = await run('rev-parse', 'HEAD');
    const next = await commit('held.txt', 'held\n');
    const posts = receivePackPosts();
    const pushing = runGit(['push', 'origin', 'main'], { cwd: clone, env });
    const approval = await approvalOf();
    assert.equal(receivePackPosts(), posts, 'nothing reached git-receive-pack while held');
    assert.equal(approval.ruleId, 'writes-review');
    assert.equal(approval.action.attributes.forcePush, false);
    assert.match(approval.action.summary, /git push refs\/heads\/main/);
    const detail = HttpRequestDetail.parse(approval.action.detail);
    assert.deepEqual(detail.git, { service: 'git-receive-pack', refs: [{ ref: 'refs/heads/main', oldOid: old, newOid: next, change: 'fast-forward' }] });
    assert.equal((await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, { by: 'alice', via: 'api' })).status, 200);
    const pushed = await pushing;
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.equal(await git(['rev-parse', 'main'], { cwd: repo.dir, env }), next);

    const pairs = actionsAndResults(await h.records()).filter((pair) => pair.action.kind === 'http.request');
    const recorded = pairs.find((pair) => HttpRequestDetail.parse(pair.action.detail).git?.refs.some((ref) => ref.newOid === next));
    assert.ok(recorded, 'the push is recorded');
    assert.deepEqual(HttpRequestDetail.parse(recorded.action.detail).git?.refs, [{ ref: 'refs/heads/main', oldOid: old, newOid: next, change: 'fast-forward' }]);
    assert.ok(recorded.result, 'with its result');
    assert.ok(upstream.seenAuthorizations.every((value) => value === REAL_BASIC));
  });

  test('a push bigger than git\'s post buffer (sent chunked) is held on its commits, then streams upstream whole', async () => {
    const old = await run('rev-parse', 'HEAD');
    // bytes zlib cannot shrink, so the pack is bigger than http.postBuffer (1 MiB) and git sends it chunked
    const blocks: Buffer[] = [];
    let block = createHash('sha256').update('big push').digest();
    for (let total = 0; total < 3 * 1024 * 1024; total += block.length) {
      blocks.push(block);
      block = createHash('sha256').update(block).digest();
    }
    const next = await commit('big.bin', Buffer.concat(blocks));
    const pushing = runGit(['push', 'origin', 'main'], { cwd: clone, env });
    // before a body bigger than its post buffer git probes with an empty command list ("0000"), which
    // changes nothing: it passes as a read, and the one hold is for the push with its refs
    const approval = await approvalOf();
    assert.deepEqual(HttpRequestDetail.parse(approval.action.detail).git?.refs, [{ ref: 'refs/heads/main', oldOid: old, newOid: next, change: 'fast-forward' }]);
    await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, { by: 'alice', via: 'api' });
    const pushed = await pushing;
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.equal(await git(['rev-parse', 'main'], { cwd: repo.dir, env }), next);
    const post = upstream.requests.filter((request) => request.method === 'POST' && request.url.endsWith('/git-receive-pack')).at(-1)!;
    assert.ok(post.body.length > 3 * 1024 * 1024, 'the whole pack reached the upstream');
    const probes = upstream.requests.filter((request) => request.method === 'POST' && request.url.endsWith('/git-receive-pack') && request.body.toString('latin1') === '0000');
    assert.ok(probes.length > 0, 'git\'s probe went through without a hold');
  });

  test('a push held then denied: git fails and prints the refusal, nothing reaches the upstream, the record keeps the reason', async () => {
    const before = await git(['rev-parse', 'main'], { cwd: repo.dir, env });
    const denied = await commit('denied.txt', 'denied\n');
    const posts = receivePackPosts();
    const pushing = runGit(['push', 'origin', 'main'], { cwd: clone, env });
    const approval = await approvalOf();
    await h.daemon.api('POST', `/v1/approvals/${approval.id}/deny`, { by: 'alice', via: 'api', reason: 'not before the release' });
    const pushed = await pushing;
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /remote: airlock: .*not before the release/);
    assert.match(pushed.stderr, /! \[remote rejected\] main -> main \(airlock: /);
    assert.equal(receivePackPosts(), posts, 'the denied push never reached the upstream');
    assert.equal(await git(['rev-parse', 'main'], { cwd: repo.dir, env }), before);
    const pairs = actionsAndResults(await h.records()).filter((pair) => pair.action.kind === 'http.request');
    const recorded = pairs.find((pair) => HttpRequestDetail.parse(pair.action.detail).git?.refs.some((ref) => ref.newOid === denied));
    assert.ok(recorded?.verdict, 'the denied push and its verdict are recorded');
    assert.equal((recorded.verdict as { allowed?: boolean }).allowed, false);
    assert.match(JSON.stringify(recorded.verdict), /not before the release/);
  });

  test('a force push is refused by git-force-push-deny without a hold, and git shows Airlock\'s reason', async () => {
    // the denied commit above is still local: amend it and force it over the server's main
    await run('reset', '--quiet', '--hard', 'origin/main');
    await commit('forced.txt', 'one\n');
    const posts = receivePackPosts();
    // first make the server's main point at it (approved), then rewrite it
    const pushing = runGit(['push', 'origin', 'main'], { cwd: clone, env });
    const approval = await approvalOf();
    await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, { by: 'alice', via: 'api' });
    assert.equal((await pushing).code, 0);
    const serverMain = await git(['rev-parse', 'main'], { cwd: repo.dir, env });
    writeFileSync(path.join(clone, 'forced.txt'), 'rewritten\n');
    await run('commit', '--quiet', '--amend', '-a', '-m', 'rewritten');
    const forced = await runGit(['push', '--force', 'origin', 'main'], { cwd: clone, env });
    assert.notEqual(forced.code, 0);
    assert.match(forced.stderr, /remote: airlock: /);
    assert.match(forced.stderr, /git-force-push-deny/);
    assert.match(forced.stderr, /! \[remote rejected\] main -> main \(airlock: git-force-push-deny\)/);
    assert.doesNotMatch(forced.stderr, /RPC failed/);
    assert.equal(receivePackPosts(), posts + 1, 'only the approved push reached git-receive-pack');
    assert.equal(await git(['rev-parse', 'main'], { cwd: repo.dir, env }), serverMain);
    const approvals = ((await h.daemon.api('GET', '/v1/approvals')).json as { approvals: Array<{ status?: string }> }).approvals;
    assert.ok(approvals.every((pending) => pending.status !== undefined && pending.status !== 'pending'), 'no hold was made for the force push');

    const pairs = actionsAndResults(await h.records()).filter((pair) => pair.action.kind === 'http.request');
    const refused = pairs.find((pair) => HttpRequestDetail.parse(pair.action.detail).git?.refs.some((ref) => ref.change === 'force'));
    assert.ok(refused, 'the refused push is recorded');
    assert.equal((refused.verdict as { allowed?: boolean } | undefined)?.allowed, false);
    assert.equal((refused.verdict as { ruleId?: string } | undefined)?.ruleId, 'git-force-push-deny');
    assert.equal((refused.action.attributes as { forcePush?: boolean }).forcePush, true);
    await run('reset', '--quiet', '--hard', 'origin/main');
  });

  test('a branch deletion is held (and shown as a deletion); approved, the branch is gone', async () => {
    await run('checkout', '--quiet', '-b', 'feature');
    const feature = await commit('feature.txt', 'feature\n');
    const creating = runGit(['push', 'origin', 'feature'], { cwd: clone, env });
    const createApproval = await approvalOf();
    assert.deepEqual(HttpRequestDetail.parse(createApproval.action.detail).git?.refs, [{ ref: 'refs/heads/feature', oldOid: '0'.repeat(40), newOid: feature, change: 'create' }]);
    await h.daemon.api('POST', `/v1/approvals/${createApproval.id}/approve`, { by: 'alice', via: 'api' });
    assert.equal((await creating).code, 0);
    await run('checkout', '--quiet', 'main');

    const deleting = runGit(['push', 'origin', ':feature'], { cwd: clone, env });
    const approval = await approvalOf();
    assert.equal(approval.action.attributes.deletesRef, true);
    assert.deepEqual(HttpRequestDetail.parse(approval.action.detail).git?.refs, [{ ref: 'refs/heads/feature', oldOid: feature, newOid: '0'.repeat(40), change: 'delete' }]);
    await h.daemon.api('POST', `/v1/approvals/${approval.id}/approve`, { by: 'alice', via: 'api' });
    const deleted = await deleting;
    assert.equal(deleted.code, 0, deleted.stderr);
    const listed = await runGit(['show-ref', '--verify', 'refs/heads/feature'], { cwd: repo.dir, env });
    assert.notEqual(listed.code, 0, 'the branch is gone upstream');
  });

  test('adversarial: a hand-made push whose commit names the old tip only in a forged parent line is refused as a force push', async () => {
    const main = await git(['rev-parse', 'main'], { cwd: repo.dir, env });
    const tree = await git(['rev-parse', 'main^{tree}'], { cwd: repo.dir, env });
    // git reads parents only right after the tree line: this commit has none, whatever it says later
    const forged = Buffer.from(`tree ${tree}\nauthor A <a@example.invalid> 1700000000 +0000\ncommitter A <a@example.invalid> 1700000000 +0000\nparent ${main}\n\nlooks like a child of main\n`);
    const forgedOid = createHash('sha1').update(`commit ${forged.length}\0`).update(forged).digest('hex');
    const body = Buffer.concat([pkt(`${main} ${forgedOid} refs/heads/main\0report-status side-band-64k agent=git/2.39.5`), Buffer.from('0000'), packOf([commitEntry(forged)])]);
    const posts = receivePackPosts();
    const response = await request(`${h.url}/repo.git/git-receive-pack`, { method: 'POST', token: h.token, body, headers: { 'content-type': 'application/x-git-receive-pack-request' } });
    // the body asks for report-status over a side band, so the refusal is a receive-pack result:
    // every ref rejected with the rule, as git would print it
    assert.equal(response.status, 200);
    assert.equal(response.headers['x-airlock-decision'], 'deny');
    assert.match(response.body, /ng refs\/heads\/main airlock: git-force-push-deny/);
    assert.equal(receivePackPosts(), posts);
    assert.equal(await git(['rev-parse', 'main'], { cwd: repo.dir, env }), main);
  });

  test('adversarial: a push body that cannot be read is held as unknown, never let through unseen', async () => {
    const main = await git(['rev-parse', 'main'], { cwd: repo.dir, env });
    const posts = receivePackPosts();
    const pending = request(`${h.url}/repo.git/git-receive-pack`, { method: 'POST', token: h.token, body: Buffer.from(`00zz${main} ${'1'.repeat(40)} refs/heads/main\n0000`), headers: { 'content-type': 'application/x-git-receive-pack-request' } });
    const approval = await approvalOf();
    assert.equal(approval.action.attributes.class, 'unknown');
    assert.equal(receivePackPosts(), posts, 'nothing went upstream while held');
    await h.daemon.api('POST', `/v1/approvals/${approval.id}/deny`, { by: 'alice', via: 'api', reason: 'unreadable push' });
    assert.equal((await pending).status, 403);
    assert.equal(receivePackPosts(), posts);
  });

  test('adversarial: a zero old id with a zero new id is a deletion of an existing branch, held as one', async () => {
    const pending = request(`${h.url}/repo.git/git-receive-pack`, { method: 'POST', token: h.token, body: Buffer.concat([pkt(`${'0'.repeat(40)} ${'0'.repeat(40)} refs/heads/main\0report-status`), Buffer.from('0000')]), headers: { 'content-type': 'application/x-git-receive-pack-request' } });
    const approval = await approvalOf();
    assert.equal(approval.action.attributes.deletesRef, true);
    assert.deepEqual(HttpRequestDetail.parse(approval.action.detail).git?.refs.map((ref) => ref.change), ['delete']);
    await h.daemon.api('POST', `/v1/approvals/${approval.id}/deny`, { by: 'alice', via: 'api', reason: 'no' });
    assert.equal((await pending).status, 403);
  });

  test('the agent token is refused as an upstream credential, and a wrong token never reaches the upstream', async () => {
    const before = upstream.requests.length;
    const wrong = await runGit(['ls-remote', `http://agent:not-a-session-token@127.0.0.1:${h.port}/repo.git`], { cwd: work, env });
    assert.notEqual(wrong.code, 0);
    const anonymous = await runGit(['ls-remote', `http://127.0.0.1:${h.port}/repo.git`], { cwd: work, env });
    assert.notEqual(anonymous.code, 0);
    assert.match(anonymous.stderr, /Authentication failed|could not read Username/);
    assert.equal(upstream.requests.length, before, 'an unauthenticated agent request is answered by Airlock alone');
    assert.deepEqual(h.filesContaining(UPSTREAM_PASSWORD), [], 'the real credential is in no record or log');
  });
});

describe('git smart HTTP through an Airlock http target (bearer credential upstream)', () => {
  let upstream: GitHttpServer;
  let h: HttpProxyHarness;
  let work: string;

  before(async () => {
    upstream = await startGitHttpServer({ requireAuthorization: 'Bearer upstream-bearer-Kd93mX' });
    h = await startHttpProxy({ upstream: upstream.url, auth: 'bearer', secret: 'upstream-bearer-Kd93mX' });
    work = mkdtempSync(path.join(os.tmpdir(), 'airlock-http-git-bearer-'));
  });
  after(async () => {
    await h?.stop();
    await upstream?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('a clone with the session token as the Basic password reaches an upstream that wants a bearer token', async () => {
    const repo = await upstream.createRepo('bearer.git');
    const env = gitTestEnv(work);
    await git(['clone', '--quiet', `http://agent:${h.token}@127.0.0.1:${h.port}/bearer.git`, 'clone'], { cwd: work, env });
    assert.equal(await git(['rev-parse', 'HEAD'], { cwd: path.join(work, 'clone'), env }), repo.head);
    assert.ok(upstream.seenAuthorizations.length > 0);
    assert.ok(upstream.seenAuthorizations.every((value) => value === 'Bearer upstream-bearer-Kd93mX'));
  });
});
