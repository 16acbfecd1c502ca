import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EffectivePolicy } from '@airlock/shared';
import { writeFileAtomic } from '../../src/config/files.js';
import { DEFAULT_POLICY } from '../../src/policy/defaults.js';
import { policyHash } from '../../src/policy/hash.js';
import { PolicyStore } from '../../src/policy/store.js';
import type { PolicyRejection } from '../../src/policy/store.js';

const DEBOUNCE_MS = 50;
const EVENT_TIMEOUT_MS = 5_000;
/** long enough for a watch event and the debounce to have fired had there been one */
const QUIET_MS = 500;

const DENY_ALL = 'default: deny\n';
const ALLOW_READS = `default: review
rules:
  - id: reads
    decision: allow
    match:
      attributes:
        class: read
`;
const read = { protocol: 'postgres' as const, target: 'db', kind: 'sql.query', attributes: { class: 'read' } };

let dir: string;
let localFile: string;
let centralFile: string;
let store: PolicyStore | undefined;

function newStore(): PolicyStore {
  store = new PolicyStore({ localFile, centralCacheFile: centralFile, defaultReviewTimeoutMs: 60_000, debounceMs: DEBOUNCE_MS });
  return store;
}

function withTimeout<T>(event: string, wait: (resolve: (value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" event within ${EVENT_TIMEOUT_MS} ms`)), EVENT_TIMEOUT_MS);
    wait((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

function nextChanged(emitter: PolicyStore): Promise<EffectivePolicy> {
  return withTimeout('changed', (resolve) => emitter.once('changed', resolve));
}

function nextRejected(emitter: PolicyStore): Promise<PolicyRejection> {
  return withTimeout('rejected', (resolve) => emitter.once('rejected', resolve));
}

function countEvents(emitter: PolicyStore): { changed: number; rejected: number } {
  const counts = { changed: 0, rejected: 0 };
  emitter.on('changed', () => counts.changed++);
  emitter.on('rejected', () => counts.rejected++);
  return counts;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'airlock-policy-'));
  localFile = path.join(dir, 'policy.yaml');
  centralFile = path.join(dir, 'central-policy.json');
});

afterEach(async () => {
  store?.close();
  store = undefined;
  await fs.rm(dir, { recursive: true, force: true });
});

describe('policy store: load', () => {
  test('no files → the embedded default', async () => {
    const { effective } = await newStore().load();
    assert.equal(effective.hash, policyHash(DEFAULT_POLICY));
    assert.deepEqual(effective.sources.map((s) => s.kind), ['default']);
  });

  test('a local file is read and compiled', async () => {
    await fs.writeFile(localFile, ALLOW_READS);
    const s = newStore();
    await s.load();
    assert.deepEqual(s.current().effective.sources, [{ kind: 'local', file: localFile, hash: s.current().effective.hash }]);
    assert.equal(s.current().compiled.evaluate(read).ruleId, 'reads');
  });

  test('central and local are merged', async () => {
    await fs.writeFile(centralFile, JSON.stringify({ default: 'allow', rules: [] }));
    await fs.writeFile(localFile, 'rules:\n  - id: no-reads\n    decision: deny\n    match: { attributes: { class: read } }\n');
    const { effective, compiled } = await newStore().load();
    assert.deepEqual(effective.sources.map((s) => s.kind), ['central', 'local']);
    assert.equal(effective.policy.default, 'review');
    assert.equal(compiled.evaluate(read).decision, 'deny');
  });

  test('invalid YAML: the message names the file and the line', async () => {
    await fs.writeFile(localFile, 'default: deny\nrules:\n  - id: a\n    decision: [deny\n');
    await assert.rejects(newStore().load(), (err: Error) => {
      assert.ok(err.message.startsWith(`${localFile}: `), err.message);
      assert.match(err.message, /line \d+/);
      return true;
    });
  });

  test('a bad field: the message names the file, the path and what was expected', async () => {
    await fs.writeFile(localFile, 'rules:\n  - id: a\n    decision: deny\n  - id: b\n    decision: maybe\n');
    await assert.rejects(newStore().load(), (err: Error) => {
      assert.ok(err.message.startsWith(`${localFile}: `), err.message);
      assert.match(err.message, /rules\[1\]\.decision/);
      assert.match(err.message, /expected one of/);
      assert.match(err.message, /"review"/);
      return true;
    });
  });

  test('a zero timeout: the message names the file and the path', async () => {
    await fs.writeFile(localFile, 'rules:\n  - id: a\n    decision: review\n    timeout: 0s\n');
    await assert.rejects(newStore().load(), (err: Error) => {
      assert.match(err.message, new RegExp(`^${escape(localFile)}: rules\\[0\\]\\.timeout: expected a duration longer than zero`));
      return true;
    });
  });

  test('an invalid central cache is named too', async () => {
    await fs.writeFile(centralFile, JSON.stringify({ rules: [{ id: 'x', decision: 'allow', match: { colour: 'red' } }] }));
    await assert.rejects(newStore().load(), (err: Error) => {
      assert.ok(err.message.startsWith(`${centralFile}: `), err.message);
      assert.match(err.message, /rules\[0\]\.match/);
      return true;
    });
  });

  test('current() before load() throws rather than deciding anything', () => {
    assert.throws(() => newStore().current(), /before load/);
  });
});

describe('policy store: explicit reload', () => {
  test('a valid change swaps; the same content again changes nothing', async () => {
    await fs.writeFile(localFile, DENY_ALL);
    const s = newStore();
    await s.load();
    const counts = countEvents(s);
    await fs.writeFile(localFile, ALLOW_READS);
    assert.deepEqual(await s.reload(), { changed: true, staged: false, rejected: [] });
    assert.equal(s.current().compiled.evaluate(read).decision, 'allow');
    await fs.writeFile(localFile, `# only a comment differs\n${ALLOW_READS}`);
    assert.deepEqual(await s.reload(), { changed: false, staged: false, rejected: [] });
    assert.deepEqual(counts, { changed: 1, rejected: 0 });
  });

  test('an invalid file is reported once per distinct error and the previous policy stays', async () => {
    await fs.writeFile(localFile, ALLOW_READS);
    const s = newStore();
    const before = await s.load();
    const counts = countEvents(s);
    await fs.writeFile(localFile, 'default: sometimes\n');
    const first = await s.reload();
    assert.equal(first.changed, false);
    assert.equal(first.rejected.length, 1);
    assert.equal(first.rejected[0]!.file, localFile);
    assert.match(first.rejected[0]!.error, /default/);
    assert.equal(s.current(), before);
    await s.reload();
    assert.equal(counts.rejected, 1);
  });
});

describe('policy store: watching', () => {
  test('a valid change is swapped in and announced', async () => {
    await fs.writeFile(localFile, DENY_ALL);
    const s = newStore();
    await s.load();
    s.watch();
    assert.equal(s.current().compiled.evaluate(read).decision, 'deny');
    const changed = nextChanged(s);
    await fs.writeFile(localFile, ALLOW_READS);
    await changed;
    assert.equal(s.current().compiled.evaluate(read).decision, 'allow');
    assert.equal(s.current().effective.policy.rules[0]?.id, 'reads');
  });

  test('an atomic replace (rename over the file) is seen', async () => {
    await fs.writeFile(localFile, DENY_ALL);
    const s = newStore();
    await s.load();
    s.watch();
    const changed = nextChanged(s);
    await writeFileAtomic(localFile, ALLOW_READS);
    await changed;
    assert.equal(s.current().compiled.evaluate(read).decision, 'allow');
  });

  test('an invalid change is rejected and the previous policy stays in force', async () => {
    await fs.writeFile(localFile, ALLOW_READS);
    const s = newStore();
    const before = await s.load();
    s.watch();
    const rejected = nextRejected(s);
    await fs.writeFile(localFile, 'rules:\n  - id: a\n    decision: deny\n  - id: b\n    decision: nope\n');
    const rejection = await rejected;
    assert.equal(rejection.file, localFile);
    assert.match(rejection.error, /rules\[1\]\.decision/);
    assert.equal(s.current(), before);
    assert.equal(s.current().compiled.evaluate(read).decision, 'allow');

    // and a later valid change is taken again
    const changed = nextChanged(s);
    await fs.writeFile(localFile, DENY_ALL);
    await changed;
    assert.equal(s.current().compiled.evaluate(read).decision, 'deny');
  });

  test('a deleted local file falls back to the default policy', async () => {
    await fs.writeFile(localFile, DENY_ALL);
    const s = newStore();
    await s.load();
    s.watch();
    const changed = nextChanged(s);
    await fs.rm(localFile);
    await changed;
    assert.deepEqual(s.current().effective.sources.map((source) => source.kind), ['default']);
    assert.equal(s.current().effective.hash, policyHash(DEFAULT_POLICY));
  });

  test('a deleted local file falls back to central alone when central is known', async () => {
    await fs.writeFile(centralFile, JSON.stringify({ default: 'allow' }));
    await fs.writeFile(localFile, DENY_ALL);
    const s = newStore();
    await s.load();
    assert.equal(s.current().compiled.evaluate(read).decision, 'deny');
    s.watch();
    const changed = nextChanged(s);
    await fs.rm(localFile);
    await changed;
    assert.deepEqual(s.current().effective.sources.map((source) => source.kind), ['central']);
    assert.equal(s.current().compiled.evaluate(read).decision, 'allow');
  });

  test('a central cache written later is merged in', async () => {
    await fs.writeFile(localFile, ALLOW_READS);
    const s = newStore();
    await s.load();
    s.watch();
    const changed = nextChanged(s);
    await writeFileAtomic(centralFile, JSON.stringify({ default: 'deny', rules: [{ id: 'no-reads', decision: 'deny', match: { attributes: { class: 'read' } } }] }));
    await changed;
    assert.deepEqual(s.current().effective.sources.map((source) => source.kind), ['central', 'local']);
    assert.equal(s.current().compiled.evaluate(read).ruleId, 'no-reads');
  });

  test('a rewrite that leaves the policy the same emits nothing', async () => {
    await fs.writeFile(localFile, ALLOW_READS);
    const s = newStore();
    const before = await s.load();
    s.watch();
    const counts = countEvents(s);
    await fs.writeFile(localFile, `# a comment\n${ALLOW_READS.replace('default: review', 'default: review   # spelled out')}`);
    await fs.writeFile(path.join(dir, 'unrelated.txt'), 'x');
    await sleep(QUIET_MS);
    assert.deepEqual(counts, { changed: 0, rejected: 0 });
    assert.equal(s.current(), before);
  });

  test('after close() changes are no longer followed', async () => {
    await fs.writeFile(localFile, DENY_ALL);
    const s = newStore();
    await s.load();
    s.watch();
    s.close();
    const counts = countEvents(s);
    await fs.writeFile(localFile, ALLOW_READS);
    await sleep(QUIET_MS);
    assert.deepEqual(counts, { changed: 0, rejected: 0 });
    assert.equal(s.current().compiled.evaluate(read).decision, 'deny');
  });

  test('a file in a directory that does not exist yet is polled', async () => {
    localFile = path.join(dir, 'later', 'policy.yaml');
    const s = newStore();
    await s.load();
    s.watch();
    const changed = nextChanged(s);
    await fs.mkdir(path.dirname(localFile));
    await fs.writeFile(localFile, DENY_ALL);
    await changed;
    assert.equal(s.current().compiled.evaluate(read).decision, 'deny');
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('policy store: a gate stages changes that loosen', () => {
  const ALLOW_ALL = 'default: allow\n';
  const gated = () => {
    store = new PolicyStore({
      localFile,
      centralCacheFile: centralFile,
      defaultReviewTimeoutMs: 60_000,
      debounceMs: DEBOUNCE_MS,
      // the daemon's gate compares the policies; here: only a deny default may be applied at once
      gate: (_current, next) => next.policy.default === 'deny',
    });
    return store;
  };

  test('a refused change is staged and the old policy decides; applyStaged names it exactly', async () => {
    await fs.writeFile(localFile, ALLOW_READS);
    const s = gated();
    const before = await s.load();
    const events: string[] = [];
    s.on('staged', () => events.push('staged'));
    s.on('unstaged', (_w, reason) => events.push(`unstaged: ${reason}`));
    s.on('changed', () => events.push('changed'));

    await fs.writeFile(localFile, ALLOW_ALL);
    assert.deepEqual(await s.reload(), { changed: false, staged: true, rejected: [] });
    assert.equal(s.current(), before, 'the previous policy stays in force');
    assert.equal(s.current().compiled.evaluate({ ...read, attributes: { class: 'write' } }).decision, 'review');
    const staged = s.staged();
    assert.ok(staged);
    // the same staged content read again is not staged twice
    assert.deepEqual(await s.reload(), { changed: false, staged: true, rejected: [] });

    assert.throws(() => s.applyStaged('0'.repeat(64)), /not the 000000000000 that was confirmed/);
    assert.equal(s.current(), before);
    s.applyStaged(staged.effective.hash);
    assert.equal(s.current().compiled.evaluate({ ...read, attributes: { class: 'write' } }).decision, 'allow');
    assert.equal(s.staged(), null);
    assert.throws(() => s.applyStaged(staged.effective.hash), /no policy change is staged/);
    assert.deepEqual(events, ['staged', 'changed']);
  });

  test('an edit back to the policy in force withdraws the staged change; an allowed edit replaces it', async () => {
    await fs.writeFile(localFile, ALLOW_READS);
    const s = gated();
    await s.load();
    const events: string[] = [];
    s.on('staged', () => events.push('staged'));
    s.on('unstaged', (_w, reason) => events.push(`unstaged: ${reason}`));
    s.on('changed', () => events.push('changed'));
    await fs.writeFile(localFile, ALLOW_ALL);
    await s.reload();
    await fs.writeFile(localFile, `# back again\n${ALLOW_READS}`);
    assert.deepEqual(await s.reload(), { changed: false, staged: false, rejected: [] });
    assert.equal(s.staged(), null);
    await fs.writeFile(localFile, ALLOW_ALL);
    await s.reload();
    await fs.writeFile(localFile, DENY_ALL);
    assert.deepEqual(await s.reload(), { changed: true, staged: false, rejected: [] });
    assert.equal(s.staged(), null);
    assert.deepEqual(events, ['staged', 'unstaged: the policy files are back to the policy in force', 'staged', 'unstaged: a newer edit that does not loosen enforcement replaced it', 'changed']);
  });

  test('at start, what was in force is held and files that loosen it are staged', async () => {
    await fs.writeFile(localFile, ALLOW_READS);
    const first = gated();
    await first.load();
    const enforced = first.inputsInForce();
    first.close();

    await fs.writeFile(localFile, ALLOW_ALL);
    const s = gated();
    await s.load();
    assert.equal(s.holdBack(enforced), true);
    assert.equal(s.current().compiled.evaluate({ ...read, attributes: { class: 'write' } }).decision, 'review', 'the policy last in force decides');
    assert.equal(s.staged()?.effective.policy.default, 'allow');
    assert.deepEqual(s.inputsInForce(), enforced);

    await fs.writeFile(localFile, DENY_ALL);
    const t = gated();
    await t.load();
    assert.equal(t.holdBack(enforced), false, 'files that tighten are applied');
    assert.equal(t.current().effective.policy.default, 'deny');
    t.close();
  });
});
