import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ACTION_KINDS, KNOWN_ACTION_KINDS, ParsedActionDetailSchema, parseActionDetail, parseResultDetail, type ParsedActionDetail } from '../src/index.js';

const endpoint = { agentUser: 'agent', upstream: 'deploy@web-1:22', connectionId: 'conn_1', channel: 0 };
const sha256 = 'ab'.repeat(32);

/** One valid detail per known kind, as its adapter records it, and one that breaks its schema. */
const CASES: Record<string, { valid: Record<string, unknown>; invalid: Record<string, unknown>; problem: RegExp }> = {
  'sql.query': {
    valid: {
      sql: "UPDATE orders SET status = $1 WHERE id = 7",
      sqlCut: { bytes: 9_000_000, keptBytes: 65_536, sha256 },
      protocol: 'extended',
      statement: 's1',
      portal: '',
      params: ['shipped', null],
      paramCuts: [{ index: 0, bytes: 70_000, keptBytes: 100, sha256 }],
      maxRows: 0,
      user: 'app',
      database: 'shop',
      applicationName: 'psql',
      statements: [{ command: 'UPDATE', class: 'write', tables: ['orders'], writesTables: ['orders'], reasons: ['UPDATE writes rows'] }],
      statementsOmitted: 3,
    },
    invalid: { sql: 'SELECT 1', protocol: 'copy' },
    problem: /protocol/,
  },
  'sql.function-call': { valid: { protocol: 'function-call', user: 'app', database: 'shop' }, invalid: { protocol: 'simple' }, problem: /protocol/ },
  'ssh.exec': {
    valid: {
      ...endpoint,
      command: 'sudo systemctl restart nginx',
      parts: [
        { program: 'sudo', argv: ['sudo', 'systemctl', 'restart', 'nginx'], class: 'privileged', reasons: ['sudo runs as root'] },
        { program: 'systemctl', argv: ['systemctl', 'restart', 'nginx'], class: 'write', via: ['sudo'], reasons: ['systemctl restart changes a service'] },
      ],
      pathsWritten: [],
      env: { LANG: 'C' },
      pty: false,
    },
    invalid: { ...endpoint, command: ['rm', '-rf', '/'] },
    problem: /command/,
  },
  'ssh.shell': { valid: { ...endpoint, pty: { term: 'xterm-256color', cols: 120, rows: 40 } }, invalid: { ...endpoint, pty: { term: 'xterm', cols: '120', rows: 40 } }, problem: /pty\.cols/ },
  'ssh.sftp': { valid: { ...endpoint, operation: 'rename', path: '/srv/a', toPath: '/srv/b' }, invalid: { ...endpoint, operation: 'format', path: '/' }, problem: /operation/ },
  'ssh.forward': { valid: { ...endpoint, forward: 'direct-tcpip', host: 'db.internal', port: 5432 }, invalid: { ...endpoint, forward: 'direct-tcpip', port: 'postgres' }, problem: /port/ },
  'ssh.request': { valid: { ...endpoint, request: 'env', name: 'AWS_PROFILE', value: 'prod' }, invalid: { ...endpoint, request: 'exec', name: 'x' }, problem: /request/ },
  'http.request': {
    valid: {
      via: 'api',
      connectionId: 'conn_1',
      method: 'POST',
      url: 'https://api.github.com/graphql',
      host: 'api.github.com',
      path: '/graphql',
      headers: { 'content-type': 'application/json', accept: ['application/json', 'text/plain'] },
      body: { text: '{"query":"mutation { addStar }"}', bytes: 31, contentType: 'application/json', treatment: 'json' },
      graphql: { operations: [{ type: 'mutation', fields: ['addStar'] }] },
    },
    invalid: { via: 'api', connectionId: 'conn_1', method: 'GET', url: '/', host: 'h', path: '/', headers: { a: 1 } },
    problem: /headers/,
  },
  'http.connect': {
    valid: { via: 'egress', connectionId: 'conn_2', host: 'registry.npmjs.org', port: 443, addresses: ['104.16.0.35'], destination: 'listed' },
    invalid: { via: 'egress', connectionId: 'conn_2', host: 'x', port: 70000, addresses: [], destination: 'public' },
    problem: /port/,
  },
  'http.websocket': {
    valid: { via: 'api', connectionId: 'conn_3', method: 'GET', url: 'https://chat.internal/ws', host: 'chat.internal', path: '/ws', headers: {}, protocols: ['chat'] },
    invalid: { via: 'api', connectionId: 'conn_3', method: 'GET', url: '/ws', host: 'h', path: '/ws', headers: {}, protocols: 'chat' },
    problem: /protocols/,
  },
  'k8s.request': {
    valid: {
      connectionId: 'conn_4',
      method: 'DELETE',
      verb: 'delete',
      apiGroup: 'apps',
      apiVersion: 'v1',
      resource: 'deployments',
      subresource: '',
      namespace: 'prod',
      name: 'api',
      path: '/apis/apps/v1/namespaces/prod/deployments/api',
      query: [['dryRun', 'All']],
      dryRun: true,
      impersonate: ['user:alice'],
      body: { text: '{"kind":"DeleteOptions","dryRun":["All"]}', bytes: 40, contentType: 'application/json', treatment: 'json' },
      bodyKind: 'DeleteOptions',
    },
    invalid: { connectionId: 'conn_4', method: 'DELETE', verb: 'delete', apiGroup: 'apps', apiVersion: 'v1', resource: 'deployments', path: '/x', dryRun: 'All' },
    problem: /dryRun/,
  },
  'k8s.exec': {
    valid: { connectionId: 'conn_5', operation: 'exec', pod: 'web-1', namespace: 'default', container: 'app', command: ['sh', '-c', 'ls /'], stdin: true, stdout: true, stderr: true, tty: true, protocol: 'v5.channel.k8s.io', path: '/api/v1/namespaces/default/pods/web-1/exec' },
    invalid: { connectionId: 'conn_5', operation: 'exec', pod: 'web-1', namespace: 'default', command: 'sh -c "ls /"', stdin: false, tty: false, path: '/x' },
    problem: /command/,
  },
  'k8s.portforward': {
    valid: { connectionId: 'conn_6', pod: 'db-0', namespace: 'data', ports: ['5432'], protocol: 'v2.portforward.k8s.io', path: '/api/v1/namespaces/data/pods/db-0/portforward' },
    invalid: { connectionId: 'conn_6', pod: 'db-0', namespace: 'data', ports: [5432], path: '/x' },
    problem: /ports/,
  },
};

describe('typed action details: one schema per kind, parsed once', () => {
  test('every kind in the registry has a case here (a kind added without one fails this test)', () => {
    assert.deepEqual([...KNOWN_ACTION_KINDS].sort(), Object.keys(CASES).sort());
  });

  for (const [kind, c] of Object.entries(CASES)) {
    test(`${kind}: a valid detail is typed by its kind`, () => {
      const parsed = parseActionDetail({ kind, detail: c.valid });
      assert.equal(parsed.kind, kind);
      // the schema keeps every field the adapter wrote (none is stripped on the way)
      for (const key of Object.keys(c.valid)) assert.ok(key in parsed.detail, `${kind} keeps ${key}`);
      assert.equal(ParsedActionDetailSchema.safeParse(parsed).success, true, 'and crosses the webview boundary');
    });

    test(`${kind}: a detail that breaks its schema is "other", kept whole, with the reason`, () => {
      const parsed = parseActionDetail({ kind, detail: c.invalid });
      assert.equal(parsed.kind, 'other');
      if (parsed.kind !== 'other') return;
      assert.equal(parsed.actionKind, kind);
      assert.equal(parsed.detail, c.invalid, 'the recorded detail as it was');
      assert.match(parsed.problem ?? '', c.problem);
      assert.match(parsed.problem ?? '', new RegExp(`^the ${kind.replace('.', '\\.')} detail does not match its schema`));
    });
  }

  test('defaults are filled in once parsed: an exec without parts has none, not undefined', () => {
    const parsed = parseActionDetail({ kind: 'ssh.exec', detail: { ...endpoint, command: 'uptime' } });
    assert.ok(parsed.kind === 'ssh.exec');
    assert.deepEqual([parsed.detail.parts, parsed.detail.pathsWritten, parsed.detail.pty], [[], [], false]);
  });

  test('an unknown kind (a newer daemon, or a protocol still to come) is "other" without a problem', () => {
    const detail = { method: 'DELETE', path: '/api/v1/namespaces/prod/pods/web-1' };
    const parsed = parseActionDetail({ kind: 'nfs.request', detail });
    assert.deepEqual(parsed, { kind: 'other', actionKind: 'nfs.request', detail });
    // a name that only looks like a registry key (an Object.prototype property) is not one
    assert.equal(parseActionDetail({ kind: 'constructor', detail: {} }).kind, 'other');
  });

  test('the wire schema refuses a parsed detail whose fields do not match the kind it claims', () => {
    const forged = { kind: 'ssh.exec', detail: { ...endpoint, command: 42 } } as unknown as ParsedActionDetail;
    assert.equal(ParsedActionDetailSchema.safeParse(forged).success, false);
    assert.equal(ParsedActionDetailSchema.safeParse({ kind: 'other', actionKind: 'x.y', detail: { a: 1 }, problem: 'p' }).success, true);
  });

  test('result details: an SSH session with its cast, an sftp transfer, a SQL sample; a broken one is "other"', () => {
    const session = parseResultDetail('ssh.shell', { exitStatus: 0, asciicast: '{"version":2,"width":80,"height":24}\n', truncated: true, bytesOut: 10, bytesIn: 2 });
    assert.ok(session.kind === 'ssh.shell' && session.detail.truncated === true && session.detail.exitStatus === 0);
    const sftp = parseResultDetail('ssh.sftp', { status: 'ok', bytes: 2048, sha256 });
    assert.ok(sftp.kind === 'ssh.sftp' && sftp.detail.bytes === 2048);
    const rows = parseResultDetail('sql.query', { columns: ['email'], rows: [['[EMAIL]']], rowCount: 1, maskReport: { cells: 1, byDetector: { email: 1 } } });
    assert.ok(rows.kind === 'sql.query' && rows.detail.rowCount === 1 && rows.detail.maskReport?.nulled === 0);
    const broken = parseResultDetail('ssh.exec', { exitStatus: 'zero', bytesOut: 0, bytesIn: 0 });
    assert.ok(broken.kind === 'other' && /result detail does not match its schema \(exitStatus/.test(broken.problem ?? ''), JSON.stringify(broken));
    assert.ok(Object.values(ACTION_KINDS).every((k) => k.result !== undefined), 'every kind names its result schema');
  });
});
