import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createHash } from 'node:crypto';
import { DEFAULT_LIMITS, type Action } from '@airlock/shared';
import { createDatabase, dropDatabase, startPgProxy, type PgProxyHarness } from '../helpers/pg-proxy.js';
import { RawPgClient } from '../helpers/pg-raw.js';
import { DEMO_SCHEMA } from '../helpers/pg-fixtures.js';

/**
 * The adversarial review's attack, against the real daemon process: many connections over a few
 * agent sessions send the largest statements the proxy accepts (16 MiB, nearly all comment, allowed
 * by policy), back to back, for a while. Before: ~100 such statements killed the daemon (heap out of
 * memory), wrote gigabytes of recording, and each parse stalled every other session.
 */
const DB = 'airlock_memory_flood';
const SESSIONS = 3;
const CONNECTIONS_PER_SESSION = 10;
const CONNECTIONS = SESSIONS * CONNECTIONS_PER_SESSION;
const FLOOD_MS = Number(process.env.AIRLOCK_FLOOD_SECONDS ?? 20) * 1000;
const MAX_MESSAGE = DEFAULT_LIMITS.maxMessageBytes;
const MiB = 1024 * 1024;
/**
 * Peak RSS bound: a base of 384 MiB (the daemon idles near 130 MB; each parse thread, one or two,
 * holds a huge statement's text and its parser's copy, about 120 MB) plus, per flooding connection,
 * two of the largest messages (the message as it arrived, waiting its turn at a parse thread, and
 * its decoded text while it runs). Measured on a 2-CPU machine: 950–1,030 MiB of 1,344.
 */
const RSS_BOUND = 384 * MiB + CONNECTIONS * 2 * MAX_MESSAGE;
/** Per statement, the recording holds its action (with at most actionTextBytes of text) and its result. */
const RECORD_BYTES_PER_STATEMENT = DEFAULT_LIMITS.actionTextBytes + 16 * 1024;
/** A `select 1` of another session may wait this long while the flood runs (generous: the machine is shared). */
const PROBE_BOUND_MS = 5_000;

const POLICY = [
  'version: 1',
  'default: deny',
  'rules:',
  '  - { id: reads, decision: allow, match: { attributes: { class: read } } }',
  'masking:',
  '  columns:',
  '    - { columns: "*password*", label: REDACTED }',
].join('\n');

function queryMessage(sql: string): Buffer {
  const text = Buffer.from(`${sql}\0`, 'utf8');
  const head = Buffer.alloc(5);
  head[0] = 'Q'.charCodeAt(0);
  head.writeInt32BE(4 + text.length, 1);
  return Buffer.concat([head, text]);
}

/** VmRSS and VmHWM (peak) of a process, in bytes. */
function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

function recordingBytes(home: string): number {
  const dir = path.join(home, 'recordings');
  if (!existsSync(dir)) return 0;
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
}

describe('memory under hostile input: a flood of 16 MiB statements', () => {
  let h: PgProxyHarness;

  before(async () => {
    createDatabase(DB, DEMO_SCHEMA);
    h = await startPgProxy({ database: DB, policy: POLICY });
  });
  after(async () => {
    await h?.stop();
    dropDatabase(DB);
  });

  test('a statement parsed off the main thread is judged on what it runs, and recorded as its head, length and SHA-256', async () => {
    const client = new pg.Client({ connectionString: h.connectionString.replace(encodeURIComponent(h.token), encodeURIComponent(await h.newToken('huge-one'))) });
    await client.connect();
    const pad = `/* ${'pad '.repeat(256 * 1024)} */`;
    const drop = `${pad} DROP TABLE IF EXISTS victim`;
    const select = `select $1::int as v ${pad}`;
    try {
      // a 1 MiB Query: the DROP after the padding is seen, and policy (reads only) refuses it
      await assert.rejects(client.query(drop), /blocked by Airlock/);
      // a 1 MiB Parse (extended protocol), then Bind/Execute of it: allowed as the read it is
      assert.equal((await client.query(select, [7])).rows[0].v, 7);
      // a computed column of a masked one, read past 1 MiB of padding: the columns it reads come from the parse thread
      const computed = await client.query(`SELECT id, lower(password_hash) AS h FROM customers WHERE id = 1 ${pad}`);
      assert.notEqual(computed.rows[0].h, 'bcrypt$2b$12$abcdefghijk', 'the password hash is masked');
      const prepared = await client.query(`SELECT id, lower(password_hash) AS h FROM customers WHERE id = $1 ${pad}`, [1]);
      assert.notEqual(prepared.rows[0].h, 'bcrypt$2b$12$abcdefghijk', 'the password hash is masked through a huge prepared statement too');
    } finally {
      await client.end();
    }
    const sessions = (await h.daemon.api('GET', '/v1/sessions')).json as { recordings: { id: string; agentSessionName: string }[] };
    const recording = sessions.recordings.find((r) => r.agentSessionName === 'huge-one');
    assert.ok(recording, 'the session was recorded');
    const page = (await h.daemon.api('GET', `/v1/sessions/${recording.id}/records?limit=100`)).json as { records: { type: string; action?: Action; decision?: { decision: string } }[] };
    const actions = page.records.filter((r) => r.type === 'action');
    const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
    const dropped = actions.find((r) => r.action!.summary.includes('DROP TABLE'));
    assert.ok(dropped, `the DROP is named in a summary: ${actions.map((r) => r.action!.summary).join(' | ')}`);
    assert.equal(dropped.decision!.decision, 'deny');
    assert.deepEqual(dropped.action!.detail.sqlCut, { bytes: Buffer.byteLength(drop), keptBytes: DEFAULT_LIMITS.actionTextBytes, sha256: sha256(drop) });
    assert.equal(dropped.action!.detail.sql, drop.slice(0, DEFAULT_LIMITS.actionTextBytes));
    const read = actions.find((r) => r.action!.detail.protocol === 'extended');
    assert.ok(read);
    assert.equal(read.decision!.decision, 'allow');
    assert.deepEqual(read.action!.detail.sqlCut, { bytes: Buffer.byteLength(select), keptBytes: DEFAULT_LIMITS.actionTextBytes, sha256: sha256(select) });
    assert.deepEqual(read.action!.detail.params, ['7']);
  });

  test(`${CONNECTIONS} connections over ${SESSIONS} sessions: the daemon lives, stays under its RSS bound, records each statement's head, and another session keeps answering`, async (t) => {
    const pid = h.daemon.info.pid;
    const recordedBefore = recordingBytes(h.home);
    // the largest message the proxy accepts: type, length, text, NUL
    const comment = MAX_MESSAGE - 64;
    const flood = queryMessage(`select 1 /* ${'x'.repeat(comment)} */`);
    assert.ok(flood.length <= MAX_MESSAGE && flood.length > MAX_MESSAGE - 128, `a message of ${flood.length} bytes, just under ${MAX_MESSAGE}`);

    const clients: RawPgClient[] = [];
    for (let s = 0; s < SESSIONS; s++) {
      const token = await h.newToken(`flood-${s}`);
      for (let c = 0; c < CONNECTIONS_PER_SESSION; c++) clients.push(await RawPgClient.login(h.port, token, DB));
    }
    const probe = new pg.Client({ connectionString: h.connectionString.replace(encodeURIComponent(h.token), encodeURIComponent(await h.newToken('probe'))) });
    await probe.connect();

    let peakRss = memoryOf(pid).rss;
    const sampler = setInterval(() => {
      try {
        peakRss = Math.max(peakRss, memoryOf(pid).rss);
      } catch {
        // the process is gone: asserted below
      }
    }, 100);

    const deadline = Date.now() + FLOOD_MS;
    let statements = 0;
    const failures: string[] = [];
    const floods = clients.map(async (client, i) => {
      while (Date.now() < deadline) {
        client.messages.length = 0;
        client.write(flood);
        const answer = await client.waitFor((m) => m.name === 'readyForQuery' || m.name === 'error', 120_000);
        if (answer.name === 'error') {
          failures.push(`connection ${i}: ${(answer as unknown as { message: string }).message}`);
          return;
        }
        const rows = client.messages.filter((m) => m.name === 'dataRow').length;
        if (rows !== 1) failures.push(`connection ${i}: ${rows} rows for select 1`);
        statements++;
      }
    });

    const probeTimes: number[] = [];
    const probing = (async () => {
      while (Date.now() < deadline) {
        const started = Date.now();
        const result = await Promise.race([
          probe.query('select 1 as one'),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`another session's select 1 got no answer within ${PROBE_BOUND_MS} ms during the flood`)), PROBE_BOUND_MS)),
        ]);
        assert.equal(result.rows[0].one, 1);
        probeTimes.push(Date.now() - started);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    try {
      await probing;
      await Promise.all(floods);
    } finally {
      clearInterval(sampler);
      for (const client of clients) client.end();
      await probe.end().catch(() => undefined);
    }

    assert.deepEqual(failures, []);
    assert.equal(h.daemon.process.exitCode, null, `the daemon exited during the flood: ${h.daemon.output()}`);
    const { hwm } = memoryOf(pid);
    const sessions = await h.daemon.api('GET', '/v1/sessions');
    assert.equal(sessions.status, 200, 'the daemon still answers its API');
    t.diagnostic(`${statements} statements of ${(flood.length / MiB).toFixed(1)} MiB in ${FLOOD_MS / 1000} s over ${CONNECTIONS} connections`);
    t.diagnostic(`peak RSS ${(Math.max(hwm, peakRss) / MiB).toFixed(0)} MiB (bound ${(RSS_BOUND / MiB).toFixed(0)} MiB)`);
    t.diagnostic(`probe select 1: ${probeTimes.length} answers, slowest ${Math.max(...probeTimes)} ms, median ${probeTimes.sort((a, b) => a - b)[Math.floor(probeTimes.length / 2)]} ms`);
    assert.ok(statements >= CONNECTIONS, `every connection had at least one statement answered (${statements} in all)`);
    assert.ok(probeTimes.length >= 5, `the probe answered ${probeTimes.length} times`);
    assert.ok(Math.max(hwm, peakRss) <= RSS_BOUND, `peak RSS ${Math.max(hwm, peakRss)} bytes is above the bound of ${RSS_BOUND}`);

    // the recording holds each statement's head, not its 16 MiB: sealed on stop, so everything is on disk
    await h.daemon.stop();
    const recorded = recordingBytes(h.home) - recordedBefore;
    t.diagnostic(`recording grew by ${(recorded / MiB).toFixed(1)} MiB for ${statements} statements (${(recorded / Math.max(1, statements) / 1024).toFixed(1)} KiB each)`);
    assert.ok(recorded >= statements * DEFAULT_LIMITS.actionTextBytes, `each statement's first ${DEFAULT_LIMITS.actionTextBytes} bytes are recorded (${recorded} bytes for ${statements})`);
    assert.ok(recorded <= (statements + probeTimes.length) * RECORD_BYTES_PER_STATEMENT + MiB, `the recording grew by ${recorded} bytes for ${statements} statements`);
  });
});
