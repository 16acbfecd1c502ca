import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, startDaemon, tempHome } from '../helpers/daemon-process.js';

/**
 * The attacks of someone with the user's rights on the data dir, each against a copy of one real data dir
 * (two daemon runs, four sealed recordings), and what `airlock verify --all` says about each.
 */

const action = (token: string, i: number) => ({
  token,
  target: 'db',
  protocol: 'postgres',
  kind: 'sql.query',
  summary: `select * from orders where id = ${i}`,
  attributes: { class: 'read', tables: ['public.orders'] },
  detail: { sql: `select * from orders where id = ${i}` },
});

type Line = Record<string, unknown>;
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const readLines = (file: string): Line[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
/** What an attacker does after editing lines: recompute every prev, so the chain is whole again. */
function writeRechained(file: string, lines: Line[]): string {
  const texts: string[] = [];
  for (const [i, line] of lines.entries()) {
    if (i > 0) line.prev = sha256(texts[i - 1]!);
    if ('seq' in line) line.seq = i;
    texts.push(JSON.stringify(line));
  }
  writeFileSync(file, texts.map((t) => t + '\n').join(''));
  return sha256(texts.at(-1)!);
}

interface IndexFile {
  version: 1;
  recordings: Array<{ id: string; file: string; records: number; head: string | null }>;
}

describe('recordings ledger: verify --all against deletion and rewriting', () => {
  const base = tempHome('airlock-ledger-');
  const copies: Array<{ cleanup(): void }> = [];
  /** recording ids in creation order: three from the first daemon run, one from the second */
  const ids: string[] = [];
  after(() => {
    base.cleanup();
    for (const c of copies) c.cleanup();
  });

  async function recordSessions(home: string, names: string[]): Promise<string[]> {
    const daemon = await startDaemon(home);
    const made: string[] = [];
    for (const [n, name] of names.entries()) {
      const { token, session } = (await daemon.api('POST', '/v1/agent-sessions', { name })).json as { token: string; session: { id: string } };
      for (let i = 0; i < 3; i++) assert.equal((await daemon.api('POST', '/v1/test/actions', action(token, n * 10 + i))).status, 200);
      const listed = (await daemon.api('GET', '/v1/sessions')).json as { recordings: Array<{ id: string; agentSessionId: string }> };
      made.push(listed.recordings.find((r) => r.agentSessionId === session.id)!.id);
    }
    assert.equal(await daemon.stop(), 0);
    return made;
  }

  before(async () => {
    ids.push(...(await recordSessions(base.dir, ['alpha', 'bravo', 'charlie'])));
    ids.push(...(await recordSessions(base.dir, ['delta'])));
  });

  /** A fresh copy of the data dir to attack. */
  function copy(): { dir: string; log(id: string): string; index: string; ledger: string } {
    const home = tempHome('airlock-ledger-attack-');
    copies.push(home);
    rmSync(home.dir, { recursive: true, force: true });
    cpSync(base.dir, home.dir, { recursive: true });
    rmSync(path.join(home.dir, 'daemon.json'), { force: true });
    return {
      dir: home.dir,
      log: (id) => path.join(home.dir, 'recordings', `${id}.jsonl`),
      index: path.join(home.dir, 'sessions.json'),
      ledger: path.join(home.dir, 'ledger.jsonl'),
    };
  }

  async function verifyAll(dir: string) {
    const text = await runCli(dir, ['verify', '--all']);
    const json = await runCli(dir, ['verify', '--all', '--json']);
    const report = JSON.parse(json.stdout) as { ok: boolean; findings: Array<{ severity: string; recordingId: string | null; message: string }> };
    assert.equal(json.code, text.code, 'text and JSON agree on the outcome');
    return { code: text.code, out: text.stdout + text.stderr, report };
  }

  function removeFromIndex(indexFile: string, id: string): void {
    const index = JSON.parse(readFileSync(indexFile, 'utf8')) as IndexFile;
    index.recordings = index.recordings.filter((r) => r.id !== id);
    writeFileSync(indexFile, JSON.stringify(index));
  }

  test('a clean data dir verifies, and every log header points into the ledger', async () => {
    const dir = copy();
    const { code, out, report } = await verifyAll(dir.dir);
    assert.equal(code, 0, out);
    assert.equal(report.ok, true);
    assert.match(out, /recordings ledger: 9 entries since .*, chain intact/);
    assert.deepEqual(report.findings.filter((f) => f.severity !== 'note'), []);
    const header = readLines(dir.log(ids[3]!))[0] as { ledger?: { seq: number } };
    assert.equal(header.ledger?.seq, 6, 'the second run\'s log names the ledger head after the first run\'s three creations and seals');
    const one = await runCli(dir.dir, ['verify', ids[0]!]);
    assert.equal(one.code, 0, one.stdout + one.stderr);
    assert.match(one.stdout, /ok, 8 records verified, sealed/);
  });

  test('a deleted log is caught', async () => {
    const dir = copy();
    unlinkSync(dir.log(ids[1]!));
    const { code, out, report } = await verifyAll(dir.dir);
    assert.notEqual(code, 0);
    assert.match(out, new RegExp(`error: recording ${ids[1]}: the ledger records its creation \\(entry 2\\) but its log ${ids[1]}\\.jsonl is missing — it was deleted`));
    // one sentence per loss: the index's entry for it is not reported a second time
    assert.deepEqual(report.findings.filter((f) => f.severity === 'error').map((f) => f.recordingId), [ids[1]]);
  });

  test('a log deleted together with its index entry is caught by the ledger', async () => {
    const dir = copy();
    unlinkSync(dir.log(ids[1]!));
    removeFromIndex(dir.index, ids[1]!);
    const { code, out } = await verifyAll(dir.dir);
    assert.notEqual(code, 0);
    assert.match(out, new RegExp(`error: recording ${ids[1]}: the ledger records its creation \\(entry 2\\) but its log .* is missing — it was deleted`));
    const one = await runCli(dir.dir, ['verify', ids[1]!]);
    assert.notEqual(one.code, 0, 'verify ID names it too, from the ledger');
  });

  test('a log rewritten with a recomputed chain and an edited index is caught', async () => {
    const dir = copy();
    const id = ids[2]!;
    const lines = readLines(dir.log(id));
    const record = lines[1] as { action: { summary: string } };
    record.action.summary = 'select 1';
    const head = writeRechained(dir.log(id), lines);
    const index = JSON.parse(readFileSync(dir.index, 'utf8')) as IndexFile;
    const entry = index.recordings.find((r) => r.id === id)!;
    entry.head = head;
    writeFileSync(dir.index, JSON.stringify(index));
    // The chain and the index agree with the rewritten log: only the ledger can tell.
    const chainOnly = JSON.parse((await runCli(dir.dir, ['verify', '--all', '--json'])).stdout) as { recordings: Array<{ recordingId: string; ok: boolean }> };
    assert.equal(chainOnly.recordings.find((r) => r.recordingId === id)?.ok, true);

    const { code, out, report } = await verifyAll(dir.dir);
    assert.notEqual(code, 0);
    assert.match(out, new RegExp(`error: recording ${id}: ${id}\\.jsonl does not end at the seal the ledger recorded \\(line 8, entry \\d+\\) — the log was rewritten or truncated`));
    assert.deepEqual([...new Set(report.findings.filter((f) => f.severity === 'error').map((f) => f.recordingId))], [id]);
    const one = await runCli(dir.dir, ['verify', id]);
    assert.notEqual(one.code, 0);
    assert.match(one.stdout, /does not end at the seal the ledger recorded/);

    // the control API (the extension's integrity badge) asks the ledger too
    const daemon = await startDaemon(dir.dir);
    try {
      const verify = (await daemon.api('GET', `/v1/sessions/${id}/verify`)).json as { ok: boolean; ledgerProblems?: string[] };
      assert.equal(verify.ok, false);
      assert.match(verify.ledgerProblems?.join(' ') ?? '', /does not end at the seal the ledger recorded/);
      const clean = (await daemon.api('GET', `/v1/sessions/${ids[0]}/verify`)).json as { ok: boolean; ledgerProblems?: string[] };
      assert.equal(clean.ok, true, JSON.stringify(clean));
    } finally {
      await daemon.stop();
    }
  });

  test('a log rewritten from its header on (a new nonce) is caught', async () => {
    const dir = copy();
    const id = ids[0]!;
    const lines = readLines(dir.log(id));
    (lines[0] as { nonce: string }).nonce = 'f'.repeat(32);
    writeRechained(dir.log(id), lines);
    const { code, out } = await verifyAll(dir.dir);
    assert.notEqual(code, 0);
    assert.match(out, new RegExp(`error: recording ${id}: the header of ${id}\\.jsonl is not the one the ledger recorded at its creation \\(entry 1\\) — the log was rewritten or replaced`));
  });

  test('a truncated ledger is caught by the logs created after the cut', async () => {
    const dir = copy();
    const kept = readFileSync(dir.ledger, 'utf8').split('\n').slice(0, 4);
    writeFileSync(dir.ledger, kept.join('\n') + '\n');
    const { code, out } = await verifyAll(dir.dir);
    assert.notEqual(code, 0);
    assert.match(out, new RegExp(`error: recording ${ids[3]}: its header refers to ledger entry 6, but the ledger ends at entry 3 — the ledger was truncated`));
  });

  test('a deleted ledger is caught by every log that points into it', async () => {
    const dir = copy();
    unlinkSync(dir.ledger);
    const { code, out, report } = await verifyAll(dir.dir);
    assert.notEqual(code, 0);
    for (const id of ids) assert.match(out, new RegExp(`error: recording ${id}: its header refers to entry \\d+ of the recordings ledger, but there is no ledger .* — the ledger was deleted`));
    assert.equal(report.findings.filter((f) => f.severity === 'error').length, ids.length);
  });

  test('a ledger rewritten with a recomputed chain (a recording and its log removed) is caught by later logs', async () => {
    const dir = copy();
    const victim = ids[0]!;
    unlinkSync(dir.log(victim));
    removeFromIndex(dir.index, victim);
    const entries = readLines(dir.ledger).filter((e) => e.recordingId !== victim);
    writeRechained(dir.ledger, entries);
    const { code, out, report } = await verifyAll(dir.dir);
    assert.notEqual(code, 0);
    // The ledger's own chain is whole again; the logs created after the removed entries are not fooled.
    assert.ok(!report.findings.some((f) => f.recordingId === null && f.severity === 'error'), out);
    assert.match(out, new RegExp(`error: recording ${ids[3]}: its header refers to ledger entry 6 with a hash the ledger does not have there — the ledger was rewritten or truncated`));
    assert.match(out, new RegExp(`error: recording ${ids[1]}: its header refers to ledger entry 1 with a hash the ledger does not have there`));
  });

  test('an edited ledger line is named by the ledger\'s own chain', async () => {
    const dir = copy();
    const id = ids[1]!;
    // a different last character (an id may itself end in "0")
    const edited = `${id.slice(0, -1)}${id.endsWith('0') ? '1' : '0'}`;
    const before = readFileSync(dir.ledger, 'utf8');
    const text = before.replace(id, edited);
    assert.notEqual(text, before, 'the edit changed the ledger');
    writeFileSync(dir.ledger, text);
    const { code, out } = await verifyAll(dir.dir);
    assert.notEqual(code, 0);
    assert.match(out, /error: recordings ledger .*ledger\.jsonl: line 4: prev does not match the SHA-256 of line 3 — the ledger was edited or entries were removed/);
  });

  test('a data dir from before the ledger verifies with a note, and keeps verifying once the daemon starts a ledger', async () => {
    const dir = copy();
    // What an older version left: headers without a ledger reference, no ledger file.
    unlinkSync(dir.ledger);
    const index = JSON.parse(readFileSync(dir.index, 'utf8')) as IndexFile;
    for (const id of ids) {
      const lines = readLines(dir.log(id));
      delete lines[0]!.ledger;
      index.recordings.find((r) => r.id === id)!.head = writeRechained(dir.log(id), lines);
    }
    writeFileSync(dir.index, JSON.stringify(index));
    const old = await verifyAll(dir.dir);
    assert.equal(old.code, 0, old.out);
    assert.match(old.out, /note: there is no recordings ledger .*: the recordings here predate it/);
    const one = await runCli(dir.dir, ['verify', ids[0]!]);
    assert.equal(one.code, 0, one.stdout + one.stderr);

    const added = await recordSessions(dir.dir, ['echo']);
    const upgraded = await verifyAll(dir.dir);
    assert.equal(upgraded.code, 0, upgraded.out);
    assert.match(upgraded.out, /note: 4 recording\(s\) predate the recordings ledger \(started .*\): they are checked by their own chains and the index only/);
    assert.ok(!upgraded.report.findings.some((f) => f.recordingId === added[0]), upgraded.out);

    // and the old recordings are still covered by the index: deleting one is caught
    unlinkSync(dir.log(ids[0]!));
    const deleted = await verifyAll(dir.dir);
    assert.notEqual(deleted.code, 0);
    assert.match(deleted.out, new RegExp(`recording ${ids[0]} is in the session index but its log .* is missing — it was deleted`));
  });

  test('a log that is on disk but not in the index is reported, not failed', async () => {
    const dir = copy();
    removeFromIndex(dir.index, ids[0]!);
    const { code, out } = await verifyAll(dir.dir);
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`note: recording ${ids[0]}: ${ids[0]}\\.jsonl is not in the session index`));
  });
});
