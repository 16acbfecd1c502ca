import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from 'pg-protocol';
import { SqlClassifier } from '../../src/proxies/postgres/classification.js';
import { compileMasking } from '../../src/masking/index.js';
import { FUZZ_SCHEMA, SessionDriver, randomProgram } from '../helpers/pg-session-fuzz.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { createDatabase, dropDatabase, psqlDirect, startPgProxy, type PgProxyHarness } from '../helpers/pg-proxy.js';
import { RawPgClient } from '../helpers/pg-raw.js';

/**
 * The proxy's model of prepared statements and portals against the real server. Writes all go into
 * `log`; the policy allows reads only, so a row in `log` means a statement ran that was decided on
 * some other text. Random interleavings run through the session directly (fast, many) and through
 * the daemon's sockets (the shell's waiting and holding), then named attacks through the daemon.
 */

const DB = 'airlock_session_model';
const READS_ONLY = `
version: 1
default: deny
rules:
  - { id: reads, decision: allow, match: { attributes: { class: read } } }
`;

const STRICTNESS: Record<string, number> = { read: 0, write: 1, ddl: 2, unknown: 3, privileged: 4 };

function logCount(): number {
  return Number(psqlDirect(DB, 'SELECT count(*) FROM log'));
}

describe('PostgreSQL session model against the real server', () => {
  let classifier: SqlClassifier;

  before(async () => {
    createDatabase(DB, FUZZ_SCHEMA);
    classifier = await SqlClassifier.create();
  });
  after(() => dropDatabase(DB));

  it('random interleavings through the session: nothing but reads runs, and every name the model holds is what the server holds or nothing', async () => {
    const masker = compileMasking({ columns: [], custom: [] }, "fuzz");
    let rounds = 0;
    let decided = 0;
    let checkedNames = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const rand = seededRandom(seed);
      const driver = await SessionDriver.connect(DB, classifier, masker);
      try {
        for (let round = 0; round < 60; round++) {
          const program = randomProgram(rand, 3 + Math.floor(rand() * 10));
          const trail = program.map((m) => m.label).join('\n  ');
          await driver.run(program.map((m) => m.bytes));
          await driver.settle();
          rounds++;
          assert.equal(logCount(), 0, `a write ran (seed ${seed}, round ${round}):\n  ${trail}`);
          if (driver.status === 'E') continue;
          // what the server holds, read past the session
          const server = new Map((await driver.direct('SELECT name, statement, from_sql FROM pg_prepared_statements')).map(([name, statement, fromSql]) => [name!, { statement: statement!, fromSql: fromSql === 't' }]));
          for (const [name, held] of driver.session.statements.confirmed) {
            if (name === '') continue;
            const actual = server.get(name);
            if (!actual) continue;
            checkedNames++;
            if (!actual.fromSql) assert.equal(held.sql, actual.statement, `statement "${name}" (seed ${seed}, round ${round}):\n  ${trail}`);
            else {
              const prepared = classifier.classify(actual.statement).statements.find((s) => s.prepares?.name === name)?.prepares?.statement;
              const serverClass = prepared ? classifier.wrap(prepared).class : 'unknown';
              assert.ok(STRICTNESS[held.classification.class]! >= STRICTNESS[serverClass]!, `statement "${name}" is ${serverClass} on the server, ${held.classification.class} in the model (seed ${seed}, round ${round}):\n  ${trail}`);
            }
          }
          const cursors = new Map((await driver.direct('SELECT name, statement FROM pg_cursors')).map(([name, statement]) => [name!, statement!]));
          for (const [name, portal] of driver.session.portals.confirmed) {
            const actual = cursors.get(name);
            if (!actual || name === '') continue;
            checkedNames++;
            if (portal.statement) assert.equal(portal.statement.sql, actual, `portal "${name}" (seed ${seed}, round ${round}):\n  ${trail}`);
          }
        }
        decided += driver.decided.length;
      } finally {
        driver.close();
      }
    }
    // the run must have exercised something: decisions made and names compared with the server
    assert.ok(rounds === 360 && decided > 300 && checkedNames > 50, `rounds ${rounds}, decisions ${decided}, names compared ${checkedNames}`);
  });

  it('after code Airlock cannot see (an approved DO block) no name is trusted: a statement it re-prepared is not run as the old one', async () => {
    const driver = await SessionDriver.connect(DB, classifier, undefined, (q) => q.classification.class === 'read' || q.classification.commands.includes('DO'));
    try {
      await driver.run([serialize.parse({ name: 'r', text: 'SELECT 1', types: [] }), serialize.sync()]);
      await driver.settle();
      // the DO block's dynamic SQL swaps what r holds; its text is computed, so the classifier cannot see the PREPARE
      await driver.run([serialize.query("DO $$ BEGIN EXECUTE 'DEALLOCATE r'; EXECUTE 'PREPARE r AS INSERT INTO log VALUES (' || 9 || ')'; END $$")]);
      await driver.settle();
      assert.equal(driver.decided.at(-1)?.allowed, true, 'the DO block was allowed by this test policy');
      await driver.run([serialize.bind({ statement: 'r', portal: '' }), serialize.execute({ portal: '' }), serialize.sync()]);
      await driver.settle();
      const last = driver.decided.at(-1)!;
      assert.equal(last.class, 'unknown');
      assert.equal(last.allowed, false);
      assert.equal(logCount(), 0);
    } finally {
      driver.close();
    }
  });

  it('a name Airlock never saw the server confirm is refused even where policy would allow anything', async () => {
    const driver = await SessionDriver.connect(DB, classifier, undefined, () => true);
    try {
      // code Airlock cannot see prepares z and declares a cursor; the model holds neither
      await driver.run([serialize.query("DO $$ BEGIN EXECUTE 'PREPARE z AS INSERT INTO log VALUES (' || 5 || ')'; END $$")]);
      await driver.settle();
      await driver.run([serialize.bind({ statement: 'z', portal: '' }), serialize.execute({ portal: '' }), serialize.sync()]);
      await driver.settle();
      await driver.run([serialize.query('EXECUTE z')]);
      await driver.settle();
      await driver.run([serialize.query('FETCH ALL FROM nowhere')]);
      await driver.settle();
      const refused = driver.decided.slice(-3);
      assert.deepEqual(refused.map((d) => d.allowed), [false, false, false]);
      assert.equal(logCount(), 0, 'the statement the DO block prepared never ran');
      const errors = driver.seen.filter((m) => m.type === 'E').map((m) => m.body.toString('utf8'));
      assert.ok(errors.some((e) => /not one Airlock saw the server confirm/.test(e)), errors.join('\n'));
    } finally {
      driver.close();
      psqlDirect(DB, 'DELETE FROM log');
    }
  });

  describe('through the daemon', () => {
    let proxy: PgProxyHarness;
    before(async () => {
      proxy = await startPgProxy({ database: DB, policy: READS_ONLY });
    });
    after(async () => {
      await proxy?.stop();
    });

    async function login(): Promise<RawPgClient> {
      return RawPgClient.login(proxy.port, proxy.token, DB);
    }

    /** Sends the messages, then a marker query, and waits for the marker: everything before it has been answered. */
    async function exchange(client: RawPgClient, messages: Buffer[], marker: string): Promise<void> {
      client.write([...messages, serialize.sync(), serialize.query('ROLLBACK'), serialize.query(`SELECT '${marker}' AS marker`)]);
      await client.waitFor((m) => m.name === 'dataRow' && (m as unknown as { fields: string[] }).fields[0] === marker, 15_000);
    }

    it('random interleavings through the socket shell: no write runs and the connection keeps answering', async () => {
      const client = await login();
      try {
        const rand = seededRandom(42);
        for (let round = 0; round < 80; round++) {
          const program = randomProgram(rand, 3 + Math.floor(rand() * 10));
          await exchange(client, program.map((m) => m.bytes), `done-${round}`);
          assert.equal(logCount(), 0, `a write ran through the daemon (round ${round}):\n  ${program.map((m) => m.label).join('\n  ')}`);
        }
        assert.ok(!client.closed);
      } finally {
        client.end();
      }
    });

    it('a Parse the server rejects as a duplicate does not change what the name runs (the original bypass)', async () => {
      const client = await login();
      try {
        // s1 is a DELETE on the server (Parse is not decided; its Execute is)
        client.write([serialize.parse({ name: 's1', text: 'INSERT INTO log VALUES (1)', types: [] }), serialize.sync()]);
        await client.waitFor((m) => m.name === 'readyForQuery');
        client.messages.length = 0;
        // a second Parse of s1 as a read fails on the server (duplicate name)
        client.write([serialize.parse({ name: 's1', text: 'SELECT 1', types: [] }), serialize.sync()]);
        const dup = (await client.waitFor((m) => m.name === 'error')) as unknown as { code: string };
        assert.equal(dup.code, '42P05');
        await client.waitFor((m) => m.name === 'readyForQuery');
        client.messages.length = 0;
        client.write([serialize.bind({ statement: 's1', portal: '' }), serialize.execute({ portal: '' }), serialize.sync()]);
        const refused = (await client.waitFor((m) => m.name === 'error')) as unknown as { code: string; message: string };
        assert.equal(refused.code, '42501', refused.message);
        assert.equal(logCount(), 0);
      } finally {
        client.end();
      }
    });

    it('a Parse ignored while the server skips to Sync does not count', async () => {
      const client = await login();
      try {
        client.write([serialize.parse({ name: 'w', text: 'INSERT INTO log VALUES (2)', types: [] }), serialize.sync()]);
        await client.waitFor((m) => m.name === 'readyForQuery');
        client.messages.length = 0;
        // the first Parse fails, so the server ignores the Close and Parse after it; then w still holds the INSERT
        client.write([serialize.parse({ name: '', text: 'SELEC 1', types: [] }), serialize.close({ type: 'S', name: 'w' }), serialize.parse({ name: 'w', text: 'SELECT 2', types: [] }), serialize.sync()]);
        await client.waitFor((m) => m.name === 'readyForQuery');
        client.messages.length = 0;
        client.write([serialize.bind({ statement: 'w', portal: 'p' }), serialize.execute({ portal: 'p' }), serialize.sync()]);
        const refused = (await client.waitFor((m) => m.name === 'error')) as unknown as { code: string };
        assert.equal(refused.code, '42501');
        assert.equal(logCount(), 0);
      } finally {
        client.end();
      }
    });

    it('SQL PREPARE names fold like the server: quoted names keep their case and share the namespace with Parse', async () => {
      const client = await login();
      try {
        // "Q" (quoted) holds the write; q (unquoted, folded) is a read
        client.write(serialize.parse({ name: 'Q', text: 'INSERT INTO log VALUES (3)', types: [] }));
        client.write([serialize.sync(), serialize.query('PREPARE q AS SELECT 1')]);
        await client.waitFor((m) => m.name === 'commandComplete' && (m as unknown as { text: string }).text === 'PREPARE');
        await new Promise((r) => setTimeout(r, 50));
        client.messages.length = 0;
        client.write(serialize.query('EXECUTE "Q"'));
        const refused = (await client.waitFor((m) => m.name === 'error')) as unknown as { code: string };
        assert.equal(refused.code, '42501');
        client.messages.length = 0;
        client.write(serialize.query('EXECUTE Q'));
        await client.waitFor((m) => m.name === 'commandComplete');
        assert.ok(!client.messages.some((m) => m.name === 'error'), 'EXECUTE Q runs q, the read');
        assert.equal(logCount(), 0);
      } finally {
        client.end();
      }
    });

    it('FETCH from a portal bound to a write is that write', async () => {
      const client = await login();
      try {
        client.write([serialize.query('BEGIN'), serialize.parse({ name: 'ins', text: 'INSERT INTO log VALUES (4) RETURNING v', types: [] }), serialize.bind({ statement: 'ins', portal: 'held' }), serialize.sync()]);
        await client.waitFor((m) => m.name === 'bindComplete');
        await new Promise((r) => setTimeout(r, 50));
        client.messages.length = 0;
        for (const sql of ['FETCH ALL FROM held', 'MOVE ALL IN held']) {
          client.write(serialize.query(sql));
          const refused = (await client.waitFor((m) => m.name === 'error')) as unknown as { code: string };
          assert.equal(refused.code, '42501', sql);
          client.messages.length = 0;
          client.write(serialize.query('ROLLBACK'));
          await client.waitFor((m) => m.name === 'readyForQuery');
          client.messages.length = 0;
        }
        assert.equal(logCount(), 0);
        // a cursor declared for a read is fetched as a read
        client.write(serialize.query("BEGIN; DECLARE c CURSOR FOR SELECT 'x' AS v; FETCH ALL FROM c; COMMIT"));
        await client.waitFor((m) => m.name === 'dataRow');
        assert.ok(!client.messages.some((m) => m.name === 'error'));
      } finally {
        client.end();
      }
    });

    it('a name longer than the server compares is refused, so two names the server confuses cannot be told apart; Airlock\'s own portal prefix is reserved', async () => {
      const client = await login();
      try {
        client.write([serialize.parse({ name: 'a'.repeat(64), text: 'SELECT 1', types: [] }), serialize.sync()]);
        const refused = (await client.waitFor((m) => m.name === 'error')) as unknown as { message: string };
        assert.match(refused.message, /at most 63 bytes/);
      } finally {
        client.end();
      }
      // the portal name Airlock executes in place of a refused Execute cannot be the client's
      const other = await login();
      try {
        other.write([serialize.parse({ name: '', text: 'INSERT INTO log VALUES (7) RETURNING v', types: [] }), serialize.bind({ statement: '', portal: 'airlock_refused_0' }), serialize.sync()]);
        const refused = (await other.waitFor((m) => m.name === 'error')) as unknown as { message: string };
        assert.match(refused.message, /are Airlock's own/);
        assert.equal(logCount(), 0);
      } finally {
        other.end();
      }
    });

    it('a statement prepared in a batch still unanswered is not assumed: the Execute after the Sync waits for the answer', async () => {
      const client = await login();
      try {
        // the first batch's Parse fails (the name exists), the second batch binds the name at once, pipelined in one write
        client.write([serialize.parse({ name: 'dup', text: 'INSERT INTO log VALUES (5)', types: [] }), serialize.sync()]);
        await client.waitFor((m) => m.name === 'readyForQuery');
        client.messages.length = 0;
        client.write([
          serialize.parse({ name: 'dup', text: 'SELECT 5', types: [] }),
          serialize.sync(),
          serialize.bind({ statement: 'dup', portal: '' }),
          serialize.execute({ portal: '' }),
          serialize.sync(),
        ]);
        await client.waitFor((m) => m.name === 'error' && (m as unknown as { code: string }).code === '42501');
        assert.equal(logCount(), 0);
      } finally {
        client.end();
      }
    });
  });
});
