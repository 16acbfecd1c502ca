import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { GitRefUpdateDetail } from '@airlock/shared';
import { classifyGitPush, GitPushPrefixReader, gitPushPrefixSufficient, gitServiceOf, isGitReceivePack, type GitPushClassification } from '../../src/classify/http/git.js';
import { DEFAULT_GIT_PACK_BOUNDS } from '../../src/classify/http/git-pack.js';
import { PKT_MAX_LENGTH } from '../../src/classify/http/git-pktline.js';
import { git, gitTestEnv, startGitHttpServer, type GitHttpServer, type GitRepo } from '../helpers/git-http.js';

/**
 * Git smart HTTP classification against the bodies the real git client sends: pushes are made with
 * `git push` to a real `git http-backend` (test helper) that records each request body, then the
 * recorded body is classified. Hand-built bodies cover what git does not send by itself (push
 * certificates, REF_DELTA commits, malformed pkt-lines, forged parents, bombs).
 */

const ZERO = '0'.repeat(40);

// ---------------------------------------------------------------------------------------------
// building bodies by hand (independently of the code under test)

function pkt(payload: string | Buffer): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  return Buffer.concat([Buffer.from((bytes.length + 4).toString(16).padStart(4, '0')), bytes]);
}
const FLUSH = Buffer.from('0000');

function commandList(commands: Array<[old: string, next: string, ref: string]>, capabilities = 'report-status side-band-64k agent=git/2.39'): Buffer {
  return Buffer.concat([
    ...commands.map(([old, next, ref], i) => pkt(i === 0 ? `${old} ${next} ${ref}\0${capabilities}` : `${old} ${next} ${ref}\n`)),
    FLUSH,
  ]);
}

function objectHeader(type: number, size: number): Buffer {
  const bytes = [];
  let byte = (type << 4) | (size & 0x0f);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    bytes.push(byte | 0x80);
    byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  bytes.push(byte);
  return Buffer.from(bytes);
}

function entry(type: number, data: Buffer): Buffer {
  return Buffer.concat([objectHeader(type, data.length), deflateSync(data)]);
}

function refDeltaEntry(baseOid: string, delta: Buffer): Buffer {
  return Buffer.concat([objectHeader(7, delta.length), Buffer.from(baseOid, 'hex'), deflateSync(delta)]);
}

function pack(entries: Buffer[], count = entries.length, version = 2): Buffer {
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(version, 4);
  header.writeUInt32BE(count, 8);
  const body = Buffer.concat([header, ...entries]);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

function commitText(tree: string, parents: string[], message: string, extraHeaders = ''): Buffer {
  return Buffer.from(`tree ${tree}\n${parents.map((parent) => `parent ${parent}\n`).join('')}author A <a@example.invalid> 1700000000 +0000\ncommitter A <a@example.invalid> 1700000000 +0000\n${extraHeaders}\n${message}\n`);
}

function oidOf(type: string, data: Buffer, algorithm: 'sha1' | 'sha256' = 'sha1'): string {
  return createHash(algorithm).update(`${type} ${data.length}\0`).update(data).digest('hex');
}

/** A delta (gitformat-pack(5)) that copies the whole base and appends `tail`. */
function appendDelta(baseLength: number, tail: Buffer): Buffer {
  const varint = (value: number): number[] => {
    const out = [];
    do {
      let byte = value & 0x7f;
      value = Math.floor(value / 128);
      if (value > 0) byte |= 0x80;
      out.push(byte);
    } while (value > 0);
    return out;
  };
  const copy = [0x80 | 0x10 | 0x20, baseLength & 0xff, (baseLength >> 8) & 0xff]; // offset 0, size in two bytes
  return Buffer.concat([Buffer.from([...varint(baseLength), ...varint(baseLength + tail.length), ...copy, tail.length]), tail]);
}

const complete = (bytes: Buffer): { bytes: Buffer; complete: true } => ({ bytes, complete: true });

function refsOf(result: GitPushClassification): Array<[string, string]> {
  return result.refs.map((ref) => [ref.ref, ref.change]);
}

const TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904'; // the empty tree

// ---------------------------------------------------------------------------------------------

describe('gitServiceOf', () => {
  const cases: Array<[string, string, Array<[string, string]>, ReturnType<typeof gitServiceOf>]> = [
    ['GET', '/org/repo.git/info/refs', [['service', 'git-upload-pack']], { service: 'git-upload-pack', request: 'advertisement', class: 'read' }],
    ['GET', '/org/repo.git/info/refs', [['service', 'git-receive-pack']], { service: 'git-receive-pack', request: 'advertisement', class: 'read' }],
    ['HEAD', '/repo/info/refs', [['service', 'git-upload-pack']], { service: 'git-upload-pack', request: 'advertisement', class: 'read' }],
    // two service parameters: receive-pack's advertisement (both are reads; the stricter name is recorded)
    ['GET', '/repo.git/info/refs', [['service', 'git-upload-pack'], ['service', 'git-receive-pack']], { service: 'git-receive-pack', request: 'advertisement', class: 'read' }],
    ['POST', '/org/repo.git/git-upload-pack', [], { service: 'git-upload-pack', request: 'rpc', class: 'read' }],
    ['POST', '/org/repo.git/git-receive-pack', [], { service: 'git-receive-pack', request: 'rpc', class: 'write' }],
    // a case trick: a push is still a push
    ['POST', '/org/repo.git/Git-Receive-Pack', [], { service: 'git-receive-pack', request: 'rpc', class: 'write' }],
    // ... but a case trick never turns a POST into a read: only git's own spelling is a fetch
    ['POST', '/org/repo.git/Git-Upload-Pack', [], undefined],
    ['GET', '/repo.git/INFO/REFS', [['service', 'git-upload-pack']], undefined],
    // not smart HTTP: the dumb protocol, a wrong method, other services
    ['GET', '/repo.git/info/refs', [], undefined],
    ['GET', '/repo.git/info/refs', [['service', 'git-upload-archive']], undefined],
    ['GET', '/repo.git/git-receive-pack', [], undefined],
    ['POST', '/repo.git/info/refs', [['service', 'git-receive-pack']], undefined],
    ['POST', '/repo.git/git-receive-pack-extra', [], undefined],
    ['POST', '/repo.git/git-upload-archive', [], undefined],
    ['PUT', '/repo.git/git-receive-pack', [], undefined],
  ];
  for (const [method, requestPath, query, expected] of cases) {
    test(`${method} ${requestPath}${query.length > 0 ? `?${query.map(([k, v]) => `${k}=${v}`).join('&')}` : ''}`, () => {
      assert.deepEqual(gitServiceOf({ method, path: requestPath, query }), expected);
      assert.equal(isGitReceivePack({ method, path: requestPath, query }), expected?.service === 'git-receive-pack' && expected.request === 'rpc');
    });
  }
});

describe('git pushes as the real git client sends them', () => {
  let server: GitHttpServer;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let repo: GitRepo;
  let clone: string;
  const run = (...args: string[]): Promise<string> => git(args, { cwd: clone, env });

  async function commit(file: string, content: string, message = `change ${file}`): Promise<string> {
    writeFileSync(path.join(clone, file), content);
    await run('add', file);
    await run('commit', '--quiet', '-m', message);
    return run('rev-parse', 'HEAD');
  }

  /** pushes with the real client and returns the body it sent to git-receive-pack */
  async function push(...args: string[]): Promise<Buffer> {
    const before = server.requests.length;
    await run('push', '--quiet', ...args);
    const posts = server.requests.slice(before).filter((request) => request.method === 'POST' && request.url.endsWith('/git-receive-pack'));
    assert.equal(posts.length, 1, 'one receive-pack request per push');
    assert.equal(posts[0]!.status, 200, 'the upstream accepted the push');
    assert.equal(posts[0]!.headers['content-encoding'], undefined, 'git does not compress push bodies');
    return posts[0]!.body;
  }

  before(async () => {
    server = await startGitHttpServer();
    work = mkdtempSync(path.join(os.tmpdir(), 'airlock-http-git-unit-'));
    env = gitTestEnv(work);
    repo = await server.createRepo('unit.git');
    // push options need the server to advertise them
    execFileSync('git', ['config', 'receive.advertisePushOptions', 'true'], { cwd: repo.dir, env });
    clone = path.join(work, 'clone');
    await git(['clone', '--quiet', repo.url, clone], { cwd: work, env });
  });
  after(async () => {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('a fast-forward of main is shown from the pack, and only a prefix ending after its commits is needed', async () => {
    const old = await run('rev-parse', 'HEAD');
    await commit('a.txt', 'one\n');
    await commit('b.txt', 'two\n');
    const next = await commit('c.txt', 'three\n');
    const body = await push('origin', 'main');
    const result = classifyGitPush(complete(body));
    assert.deepEqual(result.refs, [{ ref: 'refs/heads/main', oldOid: old, newOid: next, change: 'fast-forward' }]);
    for (const ref of result.refs) GitRefUpdateDetail.parse(ref);
    assert.equal(result.forcePush, false);
    assert.equal(result.deletesRef, false);
    assert.equal(result.error, undefined);
    assert.deepEqual(result.reasons, []);
    assert.equal(gitPushPrefixSufficient(body), true);

    // the smallest sufficient prefix stops before the trees and blobs, and proves the same thing
    let sufficientAt = -1;
    for (let length = 0; length <= body.length; length++) {
      if (gitPushPrefixSufficient(body.subarray(0, length))) {
        sufficientAt = length;
        break;
      }
    }
    assert.ok(sufficientAt > 0 && sufficientAt < body.length, `sufficient at ${sufficientAt} of ${body.length}`);
    assert.deepEqual(classifyGitPush({ bytes: body.subarray(0, sufficientAt), complete: false }).refs, result.refs);
    // one byte less, read up to the limit: not shown, so force, with the reason
    const cut = classifyGitPush({ bytes: body.subarray(0, sufficientAt - 1), complete: false });
    assert.deepEqual(refsOf(cut), [['refs/heads/main', 'force']]);
    assert.equal(cut.forcePush, true);
    assert.match(cut.reasons[0]!, /refs\/heads\/main: not shown to be a fast-forward/);
  });

  test('a new branch is a create, sufficient as soon as the command list ends', async () => {
    await run('checkout', '--quiet', '-b', 'feature');
    const next = await commit('feature.txt', 'feature\n');
    const body = await push('origin', 'feature');
    const result = classifyGitPush(complete(body));
    assert.deepEqual(result.refs, [{ ref: 'refs/heads/feature', oldOid: ZERO, newOid: next, change: 'create' }]);
    assert.equal(result.forcePush, false);
    const flush = body.indexOf('PACK') - 4;
    assert.equal(body.subarray(flush, flush + 4).toString(), '0000');
    assert.equal(gitPushPrefixSufficient(body.subarray(0, flush + 3)), false);
    assert.equal(gitPushPrefixSufficient(body.subarray(0, flush + 4)), true);
    await run('checkout', '--quiet', 'main');
  });

  test('a force push after amending is force, with why', async () => {
    const old = await commit('amend.txt', 'before\n');
    await push('origin', 'main');
    writeFileSync(path.join(clone, 'amend.txt'), 'after\n');
    await run('commit', '--quiet', '--amend', '-a', '-m', 'amended');
    const next = await run('rev-parse', 'HEAD');
    const body = await push('--force', 'origin', 'main');
    const result = classifyGitPush(complete(body));
    assert.deepEqual(result.refs, [{ ref: 'refs/heads/main', oldOid: old, newOid: next, change: 'force' }]);
    assert.equal(result.forcePush, true);
    assert.equal(result.deletesRef, false);
    assert.match(result.reasons[0]!, /history in the pack does not reach the old commit/);
    assert.equal(gitPushPrefixSufficient(body), true);
  });

  test('a branch deletion is a delete, and nothing after the command list is needed', async () => {
    const feature = await run('rev-parse', 'feature');
    const body = await push('origin', ':feature');
    const result = classifyGitPush(complete(body));
    assert.deepEqual(result.refs, [{ ref: 'refs/heads/feature', oldOid: feature, newOid: ZERO, change: 'delete' }]);
    assert.equal(result.deletesRef, true);
    assert.equal(result.forcePush, false);
    assert.equal(gitPushPrefixSufficient(body), true);
  });

  test('several refs at once: each is judged on its own, and one forced update makes the push a force push', async () => {
    await run('checkout', '--quiet', '-b', 'one');
    const oneOld = await commit('one.txt', 'one\n');
    await run('checkout', '--quiet', '-b', 'two');
    const twoOld = await commit('two.txt', 'two\n');
    await push('origin', 'one', 'two');
    await run('checkout', '--quiet', 'one');
    const oneNew = await commit('one.txt', 'one, more\n');
    await run('checkout', '--quiet', 'two');
    await run('commit', '--quiet', '--amend', '-m', 'two, rewritten');
    const twoNew = await run('rev-parse', 'HEAD');
    await run('checkout', '--quiet', '-b', 'three');
    const three = await commit('three.txt', 'three\n');
    const body = await push('origin', 'one', '+two', 'three');
    const result = classifyGitPush(complete(body));
    const byRef = new Map(result.refs.map((ref) => [ref.ref, ref]));
    assert.deepEqual(byRef.get('refs/heads/one'), { ref: 'refs/heads/one', oldOid: oneOld, newOid: oneNew, change: 'fast-forward' });
    assert.deepEqual(byRef.get('refs/heads/two'), { ref: 'refs/heads/two', oldOid: twoOld, newOid: twoNew, change: 'force' });
    assert.deepEqual(byRef.get('refs/heads/three'), { ref: 'refs/heads/three', oldOid: ZERO, newOid: three, change: 'create' });
    assert.equal(result.refs.length, 3);
    assert.equal(result.forcePush, true);
    assert.equal(result.reasons.length, 1);
    assert.match(result.reasons[0]!, /^refs\/heads\/two: /);
    await run('checkout', '--quiet', 'main');
  });

  test('tags: a lightweight and an annotated tag are creates; moving a tag is force', async () => {
    const head = await run('rev-parse', 'HEAD');
    await run('tag', 'v1');
    await run('tag', '-a', 'v2', '-m', 'release 2');
    const annotated = await run('rev-parse', 'v2');
    const body = await push('origin', 'v1', 'v2');
    const result = classifyGitPush(complete(body));
    assert.deepEqual(result.refs, [
      { ref: 'refs/tags/v1', oldOid: ZERO, newOid: head, change: 'create' },
      { ref: 'refs/tags/v2', oldOid: ZERO, newOid: annotated, change: 'create' },
    ]);
    assert.equal(result.forcePush, false);
    const next = await commit('tagged.txt', 'tagged\n');
    await run('tag', '--force', 'v1');
    const moved = await push('--force', 'origin', 'v1');
    // the new tag target is a descendant, but a tag is not a branch: git itself asks for --force, and
    // the pack (commits written before the tag ref moves) shows the fast-forward of the commit
    const movedResult = classifyGitPush(complete(moved));
    assert.deepEqual(movedResult.refs, [{ ref: 'refs/tags/v1', oldOid: head, newOid: next, change: 'fast-forward' }]);
    await run('tag', '--force', '-a', 'v2', '-m', 'release 2 again');
    const retagged = await run('rev-parse', 'v2');
    const retagBody = await push('--force', 'origin', 'v2');
    const retag = classifyGitPush(complete(retagBody));
    // an annotated tag object is not a commit: its "history" cannot be shown
    assert.deepEqual(retag.refs, [{ ref: 'refs/tags/v2', oldOid: annotated, newOid: retagged, change: 'force' }]);
    assert.equal(retag.forcePush, true);
    await push('origin', 'main');
  });

  test('a rewind to a commit the server has is force (not shown), as is a fast-forward to a commit pushed before', async () => {
    const head = await run('rev-parse', 'HEAD');
    const parent = await run('rev-parse', 'HEAD~1');
    const rewind = await push('--force', 'origin', 'HEAD~1:main');
    const result = classifyGitPush(complete(rewind));
    assert.deepEqual(result.refs, [{ ref: 'refs/heads/main', oldOid: head, newOid: parent, change: 'force' }]);
    assert.match(result.reasons[0]!, /not a commit in the pack/);
    // back to head: a real fast-forward, but head is on the server already, so the pack is empty
    const forward = await push('origin', 'main');
    const forwardResult = classifyGitPush(complete(forward));
    assert.deepEqual(forwardResult.refs, [{ ref: 'refs/heads/main', oldOid: parent, newOid: head, change: 'force' }]);
    assert.equal(forwardResult.forcePush, true);
  });

  test('a merge is a fast-forward through either parent', async () => {
    const old = await run('rev-parse', 'HEAD');
    await run('checkout', '--quiet', '-b', 'side');
    await commit('side.txt', 'side\n');
    await run('checkout', '--quiet', 'main');
    await commit('main-side.txt', 'main\n');
    await run('merge', '--quiet', '--no-edit', 'side');
    const merge = await run('rev-parse', 'HEAD');
    const body = await push('origin', 'main');
    assert.deepEqual(classifyGitPush(complete(body)).refs, [{ ref: 'refs/heads/main', oldOid: old, newOid: merge, change: 'fast-forward' }]);
  });

  test('commits git delta-compresses (OFS_DELTA) are resolved from their base in the pack', async () => {
    const old = await run('rev-parse', 'HEAD');
    const longMessage = 'a long commit message line that repeats so git stores the next commit as a delta\n'.repeat(120);
    writeFileSync(path.join(work, 'message'), longMessage);
    await run('commit', '--quiet', '--allow-empty', '-F', path.join(work, 'message'));
    writeFileSync(path.join(work, 'message'), `${longMessage}one more line\n`);
    await run('commit', '--quiet', '--allow-empty', '-F', path.join(work, 'message'));
    const next = await run('rev-parse', 'HEAD');
    const body = await push('origin', 'main');
    const packStart = body.indexOf('PACK');
    assert.ok(hasObjectType(body.subarray(packStart), 6, clone, env), 'the pack has an OFS_DELTA object');
    assert.deepEqual(classifyGitPush(complete(body)).refs, [{ ref: 'refs/heads/main', oldOid: old, newOid: next, change: 'fast-forward' }]);
  });

  test('push options (git push -o) sit between the commands and the pack and are stepped over', async () => {
    const old = await run('rev-parse', 'HEAD');
    const next = await commit('options.txt', 'options\n');
    const body = await push('-o', 'ci.skip', '-o', 'reviewer=someone', 'origin', 'main');
    assert.ok(body.includes('ci.skip'), 'the options were sent');
    const result = classifyGitPush(complete(body));
    assert.deepEqual(result.refs, [{ ref: 'refs/heads/main', oldOid: old, newOid: next, change: 'fast-forward' }]);
    // cut inside the options: more is needed
    const optionsAt = body.indexOf('ci.skip');
    assert.equal(gitPushPrefixSufficient(body.subarray(0, optionsAt)), false);
  });

  test('a pack truncated mid-object is force when the body ended, and not yet enough while it may go on', async () => {
    const old = await run('rev-parse', 'HEAD');
    await commit('trunc.txt', 'truncated\n');
    const body = await push('origin', 'main');
    const packStart = body.indexOf('PACK');
    const cut = body.subarray(0, packStart + 12 + 10); // inside the first commit's zlib stream
    assert.equal(gitPushPrefixSufficient(cut), false);
    const result = classifyGitPush(complete(cut));
    assert.equal(result.refs[0]!.oldOid, old);
    assert.equal(result.refs[0]!.change, 'force');
    assert.match(result.reasons[0]!, /cut off/);
    // cut inside the pack header, then right before the pack
    assert.equal(classifyGitPush(complete(body.subarray(0, packStart + 6))).forcePush, true);
    assert.equal(classifyGitPush(complete(body.subarray(0, packStart))).forcePush, true);
  });

  test('REF_DELTA commits from git pack-objects: resolved when the base is in the pack, force when it is not', async () => {
    const old = await run('rev-parse', 'HEAD');
    const longMessage = 'another long message for a REF_DELTA commit, repeated so it deltas well\n'.repeat(120);
    writeFileSync(path.join(work, 'message'), longMessage);
    await run('commit', '--quiet', '--allow-empty', '-F', path.join(work, 'message'));
    const middle = await run('rev-parse', 'HEAD');
    writeFileSync(path.join(work, 'message'), `${longMessage}and a last line\n`);
    await run('commit', '--quiet', '--allow-empty', '-F', path.join(work, 'message'));
    const tip = await run('rev-parse', 'HEAD');
    const packed = execFileSync('git', ['pack-objects', '--revs', '--stdout', '--no-delta-base-offset'], { cwd: clone, env, input: `${tip}\n^${old}\n` });
    const objects = packObjects(packed, clone, env);
    const delta = objects.find((object) => object.deltaBase !== undefined);
    assert.ok(delta, 'git wrote one commit as a REF_DELTA');
    assert.equal(delta.type, 'commit');
    assert.equal((packed[delta.offset]! >> 4) & 7, 7, 'the delta is a REF_DELTA');
    const deltaOid = delta.oid;
    const deltaParent = deltaOid === middle ? old : middle;
    const commands = commandList([[deltaParent, deltaOid, 'refs/heads/main']]);
    assert.deepEqual(refsOf(classifyGitPush(complete(Buffer.concat([commands, packed])))), [['refs/heads/main', 'fast-forward']]);

    // the same delta alone: its base (the other commit) is not in the pack
    const alone = pack([packed.subarray(delta.offset, delta.offset + delta.packedSize)]);
    const result = classifyGitPush(complete(Buffer.concat([commands, alone])));
    assert.deepEqual(refsOf(result), [['refs/heads/main', 'force']]);
    assert.match(result.reasons[0]!, /not a commit in the pack/);
    assert.equal(gitPushPrefixSufficient(Buffer.concat([commands, alone])), true);
    await run('reset', '--quiet', '--hard', old);
  });

  test('a sha256 repository: commands and commit ids in the sha256 object format', async () => {
    const shaRoot = path.join(server.root, 'sha256.git');
    execFileSync('git', ['init', '--quiet', '--bare', '--object-format=sha256', '--initial-branch=main', shaRoot], { env });
    const shaClone = path.join(work, 'sha256');
    execFileSync('git', ['init', '--quiet', '--object-format=sha256', '--initial-branch=main', shaClone], { env });
    const shaRun = (...args: string[]): Promise<string> => git(args, { cwd: shaClone, env });
    writeFileSync(path.join(shaClone, 'f'), 'first\n');
    await shaRun('add', 'f');
    await shaRun('commit', '--quiet', '-m', 'first');
    const first = await shaRun('rev-parse', 'HEAD');
    await shaRun('remote', 'add', 'origin', `${server.url}/sha256.git`);
    await shaRun('push', '--quiet', 'origin', 'main');
    writeFileSync(path.join(shaClone, 'f'), 'second\n');
    await shaRun('commit', '--quiet', '-a', '-m', 'second');
    const second = await shaRun('rev-parse', 'HEAD');
    const before = server.requests.length;
    await shaRun('push', '--quiet', 'origin', 'main');
    const body = server.requests.slice(before).find((request) => request.url.endsWith('/sha256.git/git-receive-pack'))!.body;
    assert.equal(first.length, 64);
    const result = classifyGitPush(complete(body));
    assert.deepEqual(result.refs, [{ ref: 'refs/heads/main', oldOid: first, newOid: second, change: 'fast-forward' }]);
  });
});

/** The objects of a pack as git's own index-pack/verify-pack see them. */
function packObjects(packed: Buffer, cwd: string, env: NodeJS.ProcessEnv): Array<{ oid: string; type: string; offset: number; packedSize: number; deltaBase?: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-pack-'));
  try {
    const packFile = path.join(dir, 'p.pack');
    writeFileSync(packFile, packed);
    execFileSync('git', ['index-pack', packFile], { cwd, env });
    const listing = execFileSync('git', ['verify-pack', '-v', path.join(dir, 'p.idx')], { cwd, env }).toString();
    return listing
      .split('\n')
      .map((line) => line.split(/\s+/))
      .filter((fields) => /^[0-9a-f]{40}$/.test(fields[0]!) && fields.length >= 5)
      .map((fields) => ({ oid: fields[0]!, type: fields[1]!, packedSize: Number(fields[3]), offset: Number(fields[4]), deltaBase: fields[6] }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether some object of the pack, at the offsets git's own verify-pack lists, has this type in its header. */
function hasObjectType(packed: Buffer, type: number, cwd: string, env: NodeJS.ProcessEnv): boolean {
  return packObjects(packed, cwd, env).some((object) => ((packed[object.offset]! >> 4) & 7) === type);
}

// ---------------------------------------------------------------------------------------------

describe('hand-built pushes: what git does not send by itself', () => {
  const base = commitText(TREE, [], 'base');
  const baseOid = oidOf('commit', base);
  const child = commitText(TREE, [baseOid], 'child');
  const childOid = oidOf('commit', child);
  const grandchild = commitText(TREE, [childOid], 'grandchild');
  const grandchildOid = oidOf('commit', grandchild);
  const unrelated = commitText(TREE, [], 'unrelated');
  const unrelatedOid = oidOf('commit', unrelated);

  test('a fast-forward through two commits in the pack; the same commits for an unrelated old are force', () => {
    const body = Buffer.concat([commandList([[baseOid, grandchildOid, 'refs/heads/main']]), pack([entry(1, grandchild), entry(1, child)])]);
    assert.deepEqual(refsOf(classifyGitPush(complete(body))), [['refs/heads/main', 'fast-forward']]);
    const other = Buffer.concat([commandList([[unrelatedOid, grandchildOid, 'refs/heads/main']]), pack([entry(1, grandchild), entry(1, child)])]);
    assert.deepEqual(refsOf(classifyGitPush(complete(other))), [['refs/heads/main', 'force']]);
  });

  test('uppercase ids are read as git reads them (the same objects) and recorded lowercase', () => {
    const body = Buffer.concat([commandList([[baseOid.toUpperCase(), childOid.toUpperCase(), 'refs/heads/main']]), pack([entry(1, child)])]);
    assert.deepEqual(classifyGitPush(complete(body)).refs, [{ ref: 'refs/heads/main', oldOid: baseOid, newOid: childOid, change: 'fast-forward' }]);
  });

  test('a zero old id with a zero new id deletes an existing ref (receive-pack allows it): delete, not create', () => {
    const result = classifyGitPush(complete(commandList([[ZERO, ZERO, 'refs/heads/main']])));
    assert.deepEqual(refsOf(result), [['refs/heads/main', 'delete']]);
    assert.equal(result.deletesRef, true);
  });

  test('an unchanged ref (old = new) is a fast-forward without a pack', () => {
    assert.deepEqual(refsOf(classifyGitPush(complete(commandList([[baseOid, baseOid, 'refs/heads/main']])))), [['refs/heads/main', 'fast-forward']]);
  });

  test('a forged parent: a "parent" line after the author is not a parent to git, so not one here', () => {
    const forged = commitText(TREE, [], 'forged', `parent ${baseOid}\n`);
    const body = Buffer.concat([commandList([[baseOid, oidOf('commit', forged), 'refs/heads/main']]), pack([entry(1, forged)])]);
    assert.deepEqual(refsOf(classifyGitPush(complete(body))), [['refs/heads/main', 'force']]);
  });

  test('a commit whose content does not hash to the new id does not stand in for it', () => {
    // the pack has a commit whose parent is old, but the command names another id as new
    const body = Buffer.concat([commandList([[baseOid, 'ab'.repeat(20), 'refs/heads/main']]), pack([entry(1, child)])]);
    assert.deepEqual(refsOf(classifyGitPush(complete(body))), [['refs/heads/main', 'force']]);
  });

  test('a commit git would reject (no tree line first, malformed parent) has no parents', () => {
    const noTree = Buffer.from(`parent ${baseOid}\nauthor A <a@b> 0 +0000\n\nx\n`);
    const badParent = Buffer.from(`tree ${TREE}\nparent ${baseOid.slice(0, 39)}g\nparent ${baseOid}\n\nx\n`);
    for (const data of [noTree, badParent]) {
      const body = Buffer.concat([commandList([[baseOid, oidOf('commit', data), 'refs/heads/main']]), pack([entry(1, data)])]);
      assert.deepEqual(refsOf(classifyGitPush(complete(body))), [['refs/heads/main', 'force']]);
    }
  });

  test('REF_DELTA commit: resolved against a commit earlier in the pack; a base outside the pack is force', () => {
    const tail = Buffer.from('Signed-off-by: nobody\n');
    const extended = Buffer.concat([child, tail]);
    const extendedOid = oidOf('commit', extended);
    const delta = appendDelta(child.length, tail);
    const withBase = Buffer.concat([commandList([[baseOid, extendedOid, 'refs/heads/main']]), pack([entry(1, child), refDeltaEntry(childOid, delta)])]);
    assert.deepEqual(refsOf(classifyGitPush(complete(withBase))), [['refs/heads/main', 'fast-forward']]);
    const withoutBase = Buffer.concat([commandList([[baseOid, extendedOid, 'refs/heads/main']]), pack([refDeltaEntry(childOid, delta)])]);
    const result = classifyGitPush(complete(withoutBase));
    assert.deepEqual(refsOf(result), [['refs/heads/main', 'force']]);
  });

  test('a delta that declares a huge result is stopped by the bound before anything is allocated', () => {
    const bomb = Buffer.from([...[child.length & 0x7f | 0x80, child.length >> 7], 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x78]);
    const body = Buffer.concat([commandList([[baseOid, 'cd'.repeat(20), 'refs/heads/main']]), pack([entry(1, child), refDeltaEntry(childOid, bomb)])]);
    const result = classifyGitPush(complete(body));
    assert.deepEqual(refsOf(result), [['refs/heads/main', 'force']]);
    assert.match(result.reasons[0]!, /inflates to more than/);
  });

  test('a zlib bomb (a commit object inflating past the bound) is stopped by the bound', () => {
    const huge = Buffer.alloc(4 * 1024 * 1024, 0x61);
    const body = Buffer.concat([commandList([[baseOid, childOid, 'refs/heads/main']]), pack([entry(1, huge), entry(1, child)])]);
    const result = classifyGitPush(complete(body), { maxObjects: DEFAULT_GIT_PACK_BOUNDS.maxObjects, maxInflatedBytes: 1024 * 1024 });
    assert.deepEqual(refsOf(result), [['refs/heads/main', 'force']]);
    assert.match(result.reasons[0]!, /inflates to more than 1048576 bytes/);
    assert.equal(gitPushPrefixSufficient(body, { maxObjects: DEFAULT_GIT_PACK_BOUNDS.maxObjects, maxInflatedBytes: 1024 * 1024 }), true);
  });

  test('more commits than the object bound: not walked, so force', () => {
    const body = Buffer.concat([commandList([[baseOid, grandchildOid, 'refs/heads/main']]), pack([entry(1, grandchild), entry(1, child)])]);
    const result = classifyGitPush(complete(body), { maxObjects: 1, maxInflatedBytes: DEFAULT_GIT_PACK_BOUNDS.maxInflatedBytes });
    assert.deepEqual(refsOf(result), [['refs/heads/main', 'force']]);
    assert.match(result.reasons[0]!, /more than 1 objects/);
  });

  test('a huge declared object count with few objects: the pack is cut off, force', () => {
    const body = Buffer.concat([commandList([[baseOid, grandchildOid, 'refs/heads/main']]), pack([entry(1, grandchild)], 0xffffffff)]);
    const result = classifyGitPush(complete(body));
    assert.equal(result.forcePush, true);
  });

  test('not a pack, an unsupported version, an invalid object type: force, never an error that hides the refs', () => {
    const commands = commandList([[baseOid, childOid, 'refs/heads/main']]);
    const badPacks = [
      Buffer.from('PACX\0\0\0\x02\0\0\0\x01'),
      pack([entry(1, child)], 1, 4),
      pack([Buffer.concat([objectHeader(5, 3), deflateSync(Buffer.from('abc'))])]),
      pack([Buffer.concat([objectHeader(1, 5), Buffer.from('not zlib at all')])]),
      // the declared size does not match what the stream inflates to
      pack([Buffer.concat([objectHeader(1, child.length + 1), deflateSync(child)])]),
      // an OFS_DELTA pointing before the pack
      pack([Buffer.concat([objectHeader(6, 3), Buffer.from([0x7f]), deflateSync(Buffer.from('abc'))])]),
      Buffer.from('garbage after the flush'),
    ];
    for (const bad of badPacks) {
      const result = classifyGitPush(complete(Buffer.concat([commands, bad])));
      assert.equal(result.error, undefined);
      assert.deepEqual(refsOf(result), [['refs/heads/main', 'force']], bad.subarray(0, 16).toString('latin1'));
      assert.equal(gitPushPrefixSufficient(Buffer.concat([commands, bad])), true);
    }
  });

  test('garbage after the flush of a deletion-only push is ignored, as receive-pack reads no pack then', () => {
    const body = Buffer.concat([commandList([[baseOid, ZERO, 'refs/heads/old']]), Buffer.from('garbage')]);
    assert.deepEqual(refsOf(classifyGitPush(complete(body))), [['refs/heads/old', 'delete']]);
  });

  test('a push certificate: its commands are the ones executed', () => {
    const cert = [
      'certificate version 0.1\n',
      'pusher A <a@example.invalid> 1700000000 +0000\n',
      'pushee http://example.invalid/repo.git\n',
      'nonce 1700000000-abcdef\n',
      '\n',
      `${baseOid} ${childOid} refs/heads/main\n`,
      `${unrelatedOid} ${ZERO} refs/heads/gone\n`,
      '-----BEGIN PGP SIGNATURE-----\n',
      'iQEzBAABCAAdFiEE\n',
      '-----END PGP SIGNATURE-----\n',
    ];
    const body = Buffer.concat([pkt('push-cert\0report-status push-cert=1700000000-abcdef\n'), ...cert.map((line) => pkt(line)), pkt('push-cert-end\n'), FLUSH, pack([entry(1, child)])]);
    const result = classifyGitPush(complete(body));
    assert.deepEqual(result.refs, [
      { ref: 'refs/heads/main', oldOid: baseOid, newOid: childOid, change: 'fast-forward' },
      { ref: 'refs/heads/gone', oldOid: unrelatedOid, newOid: ZERO, change: 'delete' },
    ]);
    assert.equal(result.deletesRef, true);
    // a certificate beside unsigned commands: receive-pack dies, the push is unknown here
    const mixed = Buffer.concat([pkt(`${baseOid} ${childOid} refs/heads/other\0report-status\n`), pkt('push-cert\n'), ...cert.map((line) => pkt(line)), pkt('push-cert-end\n'), FLUSH]);
    assert.match(classifyGitPush(complete(mixed)).error ?? '', /both a push certificate and unsigned commands/);
    // a certificate whose flush comes before push-cert-end still ends the list, commands read
    const early = Buffer.concat([pkt('push-cert\0report-status\n'), ...cert.slice(0, 6).map((line) => pkt(line)), FLUSH, pack([entry(1, child)])]);
    assert.deepEqual(refsOf(classifyGitPush(complete(early))), [['refs/heads/main', 'fast-forward']]);
  });

  test('shallow lines before the commands are read and checked', () => {
    const body = Buffer.concat([pkt(`shallow ${baseOid}\n`), commandList([[baseOid, childOid, 'refs/heads/main']]), pack([entry(1, child)])]);
    assert.deepEqual(refsOf(classifyGitPush(complete(body))), [['refs/heads/main', 'fast-forward']]);
    const bad = Buffer.concat([pkt('shallow not-an-id\n'), commandList([[baseOid, childOid, 'refs/heads/main']])]);
    assert.match(classifyGitPush(complete(bad)).error ?? '', /malformed shallow line/);
  });

  test('two object formats in one push, or an unknown one, is an error', () => {
    const two = Buffer.concat([pkt(`${baseOid} ${childOid} refs/heads/a\0object-format=sha1\n`), pkt(`${baseOid} ${childOid} refs/heads/b\0object-format=sha256\n`), FLUSH]);
    assert.match(classifyGitPush(complete(two)).error ?? '', /more than one object format/);
    const unknown = commandList([[baseOid, childOid, 'refs/heads/a']], 'object-format=md5');
    assert.match(classifyGitPush(complete(unknown)).error ?? '', /unsupported object format "md5"/);
    // a sha256 push with sha1-length ids does not parse as commands
    const short = commandList([[baseOid, childOid, 'refs/heads/a']], 'object-format=sha256');
    assert.match(classifyGitPush(complete(short)).error ?? '', /not "old-id new-id ref"/);
  });

  describe('a malformed pkt-line corpus: each is an error (the push is unknown), never a partial allow', () => {
    const good = commandList([[baseOid, childOid, 'refs/heads/main']]);
    const corpus: Array<[name: string, body: Buffer, error: RegExp]> = [
      ['non-hex length', Buffer.concat([Buffer.from('00zz'), good]), /not four hex digits/],
      ['length below 4 (0003)', Buffer.concat([Buffer.from('0003'), good]), /invalid length 3/],
      ['delim packet (0001) in the command list', Buffer.concat([Buffer.from('0001'), good]), /unexpected delim packet/],
      ['response-end packet (0002)', Buffer.concat([Buffer.from('0002'), good]), /unexpected response-end packet/],
      ['empty data packet (0004)', Buffer.concat([Buffer.from('0004'), good]), /not "old-id new-id ref"/],
      ['declared length beyond git\'s maximum', Buffer.concat([Buffer.from((PKT_MAX_LENGTH + 1).toString(16)), Buffer.alloc(PKT_MAX_LENGTH)]), /more than git's maximum/],
      ['huge declared length (ffff)', Buffer.from('ffff' + 'x'.repeat(100)), /more than git's maximum/],
      ['declared length beyond the body', Buffer.concat([Buffer.from('0100'), Buffer.from(`${baseOid} ${childOid} refs/heads/main`)]), /ends before the flush-pkt/],
      ['truncated inside the length', Buffer.from('00'), /ends before the flush-pkt/],
      ['missing flush', good.subarray(0, good.length - 4), /ends before the flush-pkt/],
      ['empty body', Buffer.alloc(0), /ends before the flush-pkt/],
      ['a command with one id', Buffer.concat([pkt(`${baseOid} refs/heads/main\n`), FLUSH]), /not "old-id new-id ref"/],
      ['a command with a short id', Buffer.concat([pkt(`${baseOid.slice(1)} ${childOid} refs/heads/main\n`), FLUSH]), /not "old-id new-id ref"/],
      ['a command with a non-hex id', Buffer.concat([pkt(`${'g'.repeat(40)} ${childOid} refs/heads/main\n`), FLUSH]), /not "old-id new-id ref"/],
      ['a command with two spaces', Buffer.concat([pkt(`${baseOid}  ${childOid} refs/heads/main\n`), FLUSH]), /not "old-id new-id ref"/],
      ['a tab instead of a space', Buffer.concat([pkt(`${baseOid}\t${childOid} refs/heads/main\n`), FLUSH]), /not "old-id new-id ref"/],
      ['a second command that is garbage', Buffer.concat([good.subarray(0, good.length - 4), pkt('garbage\n'), FLUSH]), /not "old-id new-id ref"/],
      ['two push certificates', Buffer.concat([pkt('push-cert\n'), pkt('x\n\n'), pkt('push-cert-end\n'), pkt('push-cert\n'), pkt('y\n\n'), pkt('push-cert-end\n'), FLUSH]), /two push certificates/],
      ['a push certificate without a blank line', Buffer.concat([pkt('push-cert\n'), pkt('certificate version 0.1\n'), pkt('push-cert-end\n'), FLUSH]), /no blank line/],
      ['a push certificate cut off', Buffer.concat([pkt('push-cert\n'), pkt('certificate version 0.1\n')]), /inside its push certificate/],
    ];
    for (const [name, body, error] of corpus) {
      test(name, () => {
        const result = classifyGitPush(complete(body));
        assert.match(result.error ?? '(no error)', error);
        assert.deepEqual(result.refs, []);
        assert.equal(gitPushPrefixSufficient(body), /ends before|inside its push certificate/.test(result.error ?? '') ? false : true);
      });
    }
  });

  test('a command list longer than what was read (the limit) is an error naming the limit', () => {
    const body = commandList([[baseOid, childOid, 'refs/heads/main']]);
    const result = classifyGitPush({ bytes: body.subarray(0, body.length - 2), complete: false });
    assert.match(result.error ?? '', /longer than what was read.*maxMessageBytes/);
  });

  test('GitPushPrefixReader: however the body is chunked, it stops within half again the smallest sufficient prefix, or at the end', () => {
    const body = Buffer.concat([commandList([[baseOid, grandchildOid, 'refs/heads/main']]), pack([entry(1, grandchild), entry(1, child), entry(3, incompressible(64 * 1024))])]);
    const whole = classifyGitPush(complete(body));
    let smallest = 0;
    while (!gitPushPrefixSufficient(body.subarray(0, smallest))) smallest++;
    assert.ok(smallest < body.length / 2);
    for (const chunkSize of [1, 7, 64, 1000, body.length]) {
      const reader = new GitPushPrefixReader();
      let sufficient = false;
      for (let at = 0; at < body.length && !sufficient; at += chunkSize) sufficient = reader.push(body.subarray(at, at + chunkSize));
      // at the end of the body the shell classifies what it has, complete
      const result = classifyGitPush({ bytes: reader.bytes(), complete: !sufficient });
      assert.deepEqual(result.refs, whole.refs, `chunks of ${chunkSize}`);
      if (chunkSize < body.length) {
        assert.equal(sufficient, true, `chunks of ${chunkSize} stop before the end`);
        assert.ok(reader.length <= Math.ceil(smallest * 1.5) + chunkSize, `chunks of ${chunkSize}: ${reader.length} read, ${smallest} needed`);
      }
    }
  });

  test('GitPushPrefixReader: a large first commit sent in small chunks is still read to a decision', () => {
    const message = Array.from({ length: 300_000 }, (_, i) => String.fromCharCode(97 + ((i * 7919) % 26))).join('');
    const big = commitText(TREE, [baseOid], message);
    const body = Buffer.concat([commandList([[baseOid, oidOf('commit', big), 'refs/heads/main']]), pack([entry(1, big)])]);
    const reader = new GitPushPrefixReader();
    let sufficient = false;
    for (let at = 0; at < body.length && !sufficient; at += 512) sufficient = reader.push(body.subarray(at, at + 512));
    assert.deepEqual(refsOf(classifyGitPush({ bytes: reader.bytes(), complete: !sufficient })), [['refs/heads/main', 'fast-forward']]);
  });

  test('every prefix of a valid push is either not sufficient or classifies without a false fast-forward', () => {
    const body = Buffer.concat([commandList([[unrelatedOid, grandchildOid, 'refs/heads/x'], [baseOid, grandchildOid, 'refs/heads/main']]), pack([entry(1, grandchild), entry(1, child), entry(3, Buffer.from('a blob'))])]);
    const whole = classifyGitPush(complete(body));
    assert.deepEqual(refsOf(whole), [['refs/heads/x', 'force'], ['refs/heads/main', 'fast-forward']]);
    for (let length = 0; length < body.length; length++) {
      const prefix = body.subarray(0, length);
      const result = classifyGitPush({ bytes: prefix, complete: false });
      assert.notEqual(result.refs.find((ref) => ref.ref === 'refs/heads/x')?.change, 'fast-forward');
      if (gitPushPrefixSufficient(prefix)) assert.deepEqual(result.refs, whole.refs, `sufficient at ${length} gives the whole answer`);
    }
  });
});

/** Bytes zlib cannot shrink, the same on every run: a chain of SHA-256 digests. */
function incompressible(length: number): Buffer {
  const blocks: Buffer[] = [];
  let block = createHash('sha256').update('seed').digest();
  for (let total = 0; total < length; total += block.length) {
    blocks.push(block);
    block = createHash('sha256').update(block).digest();
  }
  return Buffer.concat(blocks).subarray(0, length);
}
