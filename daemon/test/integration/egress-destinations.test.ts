import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runTool } from '../helpers/daemon-harness.js';
import { basicAuth, rawConnect, startEgressProxy, startWitness, waitForRecord, type EgressHarness } from '../helpers/egress-proxy.js';

/**
 * An agent that wants to reach inside: every spelling of loopback, names that resolve to it,
 * metadata endpoints, the daemon's own API, malformed authorities. Each is refused before any
 * connection is attempted (a witness listener on the loopback port counts what reached it), under
 * rule egress-internal, whatever policy says: the policy here allows every egress action.
 */

const ALLOW_ALL = `
version: 1
default: allow
rules:
  - { id: everything-egress, decision: allow, match: { protocols: egress } }
`;

describe('egress destinations: internal addresses refused on the resolved address (real daemon)', () => {
  let h: EgressHarness;
  let witness: Awaited<ReturnType<typeof startWitness>>;
  let listed: Awaited<ReturnType<typeof startWitness>>;
  let standIn: Awaited<ReturnType<typeof startWitness>>;

  const connect = async (authority: string) => {
    const r = await rawConnect(h.port, authority, { 'proxy-authorization': basicAuth(h.token) });
    r.socket.destroy();
    return { status: r.status, head: r.head, json: JSON.parse(r.body || '{}') as { error?: string; rule?: string; reason?: string; action?: string } };
  };

  before(async () => {
    witness = await startWitness();
    listed = await startWitness();
    standIn = await startWitness();
    h = await startEgressProxy({
      // rebind.example: public at the first lookup, loopback at every later one; the stand-in server answers for the public address
      dial: { [`192.0.2.50:${witness.port}`]: `127.0.0.1:${standIn.port}` },
      policy: ALLOW_ALL,
      allowHosts: [`127.0.0.1:${listed.port}`, 'intranet.example'],
      names: {
        'loopback.example': ['127.0.0.1'],
        'metadata.example': ['169.254.169.254'],
        'v6-metadata.example': ['fd00:ec2::254'],
        'private.example': ['10.1.2.3'],
        // one public answer and one internal: the name is refused (the connect could go to either)
        'mixed.example': ['192.0.2.14', '127.0.0.1'],
        'intranet.example': ['127.0.0.1'],
        'rebind.example': [['192.0.2.50'], ['127.0.0.1']],
      },
    });
  });
  after(async () => {
    await h?.stop();
    await witness?.close();
    await listed?.close();
    await standIn?.close();
  });

  const refusedCases: Array<[string, () => string, RegExp]> = [
    ['localhost (the system resolver says 127.0.0.1 or ::1)', () => `localhost:${witness.port}`, /loopback/],
    ['a name the resolver maps to 127.0.0.1', () => `loopback.example:${witness.port}`, /loopback/],
    ['127.0.0.1 itself', () => `127.0.0.1:${witness.port}`, /loopback/],
    ['2130706433 (127.0.0.1 as one number)', () => `2130706433:${witness.port}`, /loopback/],
    ['0x7f000001 (in hex)', () => `0x7f000001:${witness.port}`, /loopback/],
    ['0177.0.0.1 (in octal)', () => `0177.0.0.1:${witness.port}`, /loopback/],
    ['127.1 (short form)', () => `127.1:${witness.port}`, /loopback/],
    ['[::ffff:127.0.0.1] (IPv4-mapped IPv6)', () => `[::ffff:127.0.0.1]:${witness.port}`, /loopback/],
    ['[::1]', () => `[::1]:${witness.port}`, /loopback/],
    ['0.0.0.0 (this host)', () => `0.0.0.0:${witness.port}`, /./],
    ['169.254.169.254 (cloud metadata)', () => '169.254.169.254:80', /metadata/],
    ['a name for 169.254.169.254', () => 'metadata.example:80', /metadata/],
    ['[fd00:ec2::254] (AWS IPv6 metadata)', () => '[fd00:ec2::254]:80', /metadata/],
    ['a name for fd00:ec2::254', () => 'v6-metadata.example:80', /metadata/],
    ['a private address by name', () => 'private.example:443', /private/],
    ['10.0.0.1', () => '10.0.0.1:443', /private/],
    ['192.168.1.1', () => '192.168.1.1:443', /private/],
    ['a name with one public and one loopback address', () => `mixed.example:${witness.port}`, /loopback/],
  ];
  for (const [name, authority, reason] of refusedCases) {
    test(`refused: ${name}`, async () => {
      const before = witness.accepted();
      const r = await connect(authority());
      assert.equal(r.status, 403, JSON.stringify(r));
      assert.match(r.head, /x-airlock-decision: deny/i);
      assert.equal(r.json.error, 'airlock_policy');
      assert.equal(r.json.rule, 'egress-internal');
      assert.match(r.json.reason ?? '', reason);
      assert.equal(witness.accepted(), before, 'no connection was attempted');
      const record = await waitForRecord(h, (rs) => rs.find((x) => x.type === 'action' && x.action?.id === r.json.action));
      assert.equal(record.action!.attributes.destination, 'internal');
      assert.equal(record.decision?.ruleId, 'egress-internal');
    });
  }

  test('DNS rebinding: the tunnel goes to the address that was checked, never to a second lookup; the next lookup (now loopback) is refused', async () => {
    const before = { witness: witness.accepted(), standIn: standIn.accepted() };
    const first = await rawConnect(h.port, `rebind.example:${witness.port}`, { 'proxy-authorization': basicAuth(h.token) });
    assert.equal(first.status, 200, first.body);
    first.socket.resume();
    await new Promise<void>((resolve) => first.socket.once('close', () => resolve()));
    assert.equal(standIn.accepted(), before.standIn + 1, 'the checked public address was dialled');
    assert.equal(witness.accepted(), before.witness, 'loopback was never dialled');
    const second = await connect(`rebind.example:${witness.port}`);
    assert.equal(second.status, 403);
    assert.equal(second.json.rule, 'egress-internal');
    assert.equal(witness.accepted(), before.witness);
  });

  test("refused: the daemon's own control API port (on loopback, by its own port)", async () => {
    const r = await connect(`127.0.0.1:${h.daemon.info.port}`);
    assert.equal(r.status, 403);
    assert.equal(r.json.rule, 'egress-internal');
  });

  test("refused: the egress listener's own port (a loop through the proxy)", async () => {
    const r = await connect(`localhost:${h.port}`);
    assert.equal(r.status, 403);
    assert.equal(r.json.rule, 'egress-internal');
  });

  test('a listed internal address:port is allowed and tunnelled (allowHosts names it)', async () => {
    const before = listed.accepted();
    const r = await rawConnect(h.port, `127.0.0.1:${listed.port}`, { 'proxy-authorization': basicAuth(h.token) });
    assert.equal(r.status, 200);
    r.socket.resume();
    await new Promise<void>((resolve) => r.socket.once('close', () => resolve()));
    assert.equal(listed.accepted(), before + 1);
    const action = await waitForRecord(h, (rs) => rs.find((x) => x.type === 'action' && x.action?.attributes.port === listed.port));
    assert.equal(action.action!.attributes.destination, 'listed');
    // the listed entry names one port: the witness's port on the same address is still refused
    const other = await connect(`127.0.0.1:${witness.port}`);
    assert.equal(other.status, 403);
  });

  test('a listed name that resolves inside is allowed by name (the user listed it)', async () => {
    const before = listed.accepted();
    const r = await rawConnect(h.port, `intranet.example:${listed.port}`, { 'proxy-authorization': basicAuth(h.token) });
    r.socket.destroy();
    assert.equal(r.status, 200);
    assert.equal(listed.accepted() >= before, true);
  });

  test('an unresolvable name: 502 with the reason, no action allowed', async () => {
    const r = await connect('no-such-host.invalid:443');
    assert.equal(r.status, 502);
    assert.equal(r.json.error, 'airlock_upstream');
    assert.match(r.json.reason ?? '', /cannot resolve no-such-host\.invalid/);
  });

  test("the daemon's ports are known to the check: with localhost listed, a loopback server is reached but the daemon's API and listener ports are refused", async () => {
    const h2 = await startEgressProxy({ policy: ALLOW_ALL, allowHosts: ['localhost'], names: { localhost: ['127.0.0.1'] } });
    try {
      const ok = await rawConnect(h2.port, `localhost:${witness.port}`, { 'proxy-authorization': basicAuth(h2.token) });
      ok.socket.destroy();
      assert.equal(ok.status, 200, ok.body);
      for (const port of [h2.daemon.info.port, h2.port]) {
        const r = await rawConnect(h2.port, `localhost:${port}`, { 'proxy-authorization': basicAuth(h2.token) });
        r.socket.destroy();
        assert.equal(r.status, 403, `port ${port}: ${r.body}`);
        const json = JSON.parse(r.body) as { rule: string; reason: string };
        assert.equal(json.rule, 'egress-internal');
        assert.match(json.reason, /daemon's own/);
      }
    } finally {
      await h2.stop();
    }
  });

  test('a dead port on a listed address: 502 JSON naming the connect error, the failure recorded', async () => {
    const dead = await startWitness();
    const port = dead.port;
    await dead.close();
    const h2 = await startEgressProxy({ policy: ALLOW_ALL, allowHosts: [`127.0.0.1:${port}`] });
    try {
      const r = await rawConnect(h2.port, `127.0.0.1:${port}`, { 'proxy-authorization': basicAuth(h2.token) });
      r.socket.destroy();
      assert.equal(r.status, 502);
      const json = JSON.parse(r.body) as { error: string; reason: string; action: string };
      assert.equal(json.error, 'airlock_upstream');
      assert.match(json.reason, /ECONNREFUSED/);
      const result = await waitForRecord(h2, (rs) => rs.find((x) => x.type === 'result' && x.actionId === json.action));
      assert.match(result.error ?? '', /ECONNREFUSED/);
      assert.deepEqual(result.detail, { bytesUp: 0, bytesDown: 0, closedBy: 'error' });
    } finally {
      await h2.stop();
    }
  });

  const malformed: Array<[string, RegExp]> = [
    ['registry.example', /port is required/],
    ['registry.example:0', /1 to 65535/],
    ['registry.example:65536', /1 to 65535/],
    ['user:token@registry.example:443', /credentials in the authority/],
    ['[::1', /closing bracket/],
  ];
  for (const [authority, reason] of malformed) {
    test(`400 for CONNECT ${authority}`, async () => {
      const r = await connect(authority);
      assert.equal(r.status, 400);
      assert.equal(r.json.error, 'airlock_bad_request');
      assert.match(r.json.reason ?? '', reason);
    });
  }

  test('curl sees the refusal as the CONNECT status (403) for a name that resolves to loopback', async () => {
    const r = await runTool('curl', ['-sS', '--max-time', '10', '-x', h.proxyUrl(), `https://localhost:${witness.port}/`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /CONNECT tunnel failed, response 403/);
  });
});
