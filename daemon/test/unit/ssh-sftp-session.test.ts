import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SshSftpDetail } from '@airlock/shared';
import { sftpActionRequest } from '../../src/proxies/ssh/sftp-governance.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { Digest, FX, PFLAGS, SftpSession, attrsInWords, flagsInWords, sshStrings, type SftpPlan, type SftpRequest } from '../../src/proxies/ssh/sftp-session.js';

const LIMITS = { maxHandles: 4, maxDigestAheadBytes: 1024 };

function sha256(...chunks: Buffer[]): string {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

function sshString(...parts: (string | Buffer)[]): Buffer {
  return Buffer.concat(
    parts.map((part) => {
      const bytes = Buffer.isBuffer(part) ? part : Buffer.from(part);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(bytes.length);
      return Buffer.concat([len, bytes]);
    }),
  );
}

/** Opens `path` as the bridge would after an allow: plan, then the upstream's handle comes back. */
function open(session: SftpSession, path: string, pflags: number, upstream = Buffer.from([0, 0, 0, 0])) {
  const plan = session.plan({ type: 'OPEN', path, pflags });
  assert.equal(plan.do, 'govern');
  return session.opened((plan as Extract<SftpPlan, { do: 'govern' }>).op, pflags, upstream);
}

describe('sftp session: requests to operations', () => {
  test('each path-level request is one governed operation with its class', () => {
    const session = new SftpSession(LIMITS);
    const cases: [SftpRequest, string, 'read' | 'write', Record<string, unknown>][] = [
      [{ type: 'OPEN', path: '/etc/hosts', pflags: PFLAGS.READ }, 'open', 'read', { flags: ['read'] }],
      [{ type: 'OPEN', path: '/tmp/x', pflags: PFLAGS.WRITE | PFLAGS.CREAT | PFLAGS.TRUNC, attrs: { mode: 0o100644 } }, 'open', 'write', { flags: ['write', 'create', 'truncate'], attrs: { mode: '0644' } }],
      [{ type: 'OPEN', path: '/tmp/log', pflags: PFLAGS.WRITE | PFLAGS.APPEND }, 'open', 'write', { flags: ['write', 'append'] }],
      [{ type: 'OPEN', path: '/tmp/new', pflags: PFLAGS.CREAT | PFLAGS.EXCL }, 'open', 'write', { flags: ['create', 'excl'] }],
      [{ type: 'OPEN', path: '/tmp/rw', pflags: PFLAGS.READ | PFLAGS.WRITE }, 'open', 'write', { flags: ['read', 'write'] }],
      // a bit the draft does not define fails closed: a write, named as unknown
      [{ type: 'OPEN', path: '/tmp/odd', pflags: PFLAGS.READ | 0x100 }, 'open', 'write', { flags: ['read', 'unknown 0x100'] }],
      [{ type: 'OPENDIR', path: '/var' }, 'opendir', 'read', {}],
      [{ type: 'STAT', path: '.' }, 'stat', 'read', {}],
      [{ type: 'LSTAT', path: '/l' }, 'lstat', 'read', {}],
      [{ type: 'REALPATH', path: '.' }, 'realpath', 'read', {}],
      [{ type: 'READLINK', path: '/l' }, 'readlink', 'read', {}],
      [{ type: 'REMOVE', path: '/f' }, 'remove', 'write', {}],
      [{ type: 'RMDIR', path: '/d' }, 'rmdir', 'write', {}],
      [{ type: 'MKDIR', path: '/d', attrs: { mode: 0o40755 } }, 'mkdir', 'write', { attrs: { mode: '0755' } }],
      [{ type: 'SETSTAT', path: '/f', attrs: { mode: 0o104755, uid: 0 } }, 'setstat', 'write', { attrs: { mode: '04755', uid: 0 } }],
      [{ type: 'RENAME', path: '/a', toPath: '/b' }, 'rename', 'write', { toPath: '/b' }],
      [{ type: 'SYMLINK', linkPath: '/link', targetPath: '/etc/shadow' }, 'symlink', 'write', { path: '/link', toPath: '/etc/shadow' }],
      [{ type: 'EXTENDED', name: 'posix-rename@openssh.com', data: sshString('/a', '/b') }, 'rename', 'write', { path: '/a', toPath: '/b' }],
      [{ type: 'EXTENDED', name: 'hardlink@openssh.com', data: sshString('/etc/passwd', '/tmp/pw') }, 'extended', 'write', { path: '/tmp/pw', toPath: '/etc/passwd', extension: 'hardlink@openssh.com' }],
    ];
    for (const [request, operation, cls, extra] of cases) {
      const plan = session.plan(request);
      assert.equal(plan.do, 'govern', `${request.type} is governed`);
      const op = (plan as Extract<SftpPlan, { do: 'govern' }>).op;
      assert.equal(op.operation, operation, JSON.stringify(request));
      assert.equal(op.class, cls, JSON.stringify(request));
      for (const [key, value] of Object.entries(extra)) assert.deepEqual((op as unknown as Record<string, unknown>)[key], value, `${request.type} ${key}`);
    }
  });

  test('flags and attributes in words', () => {
    assert.deepEqual(flagsInWords(0), []);
    assert.deepEqual(flagsInWords(0x3f), ['read', 'write', 'create', 'truncate', 'append', 'excl']);
    assert.deepEqual(flagsInWords(0x80000000), ['unknown 0x80000000']);
    assert.equal(attrsInWords(undefined), undefined);
    assert.equal(attrsInWords({}), undefined);
    assert.deepEqual(attrsInWords({ mode: 0o100600, atime: 1, mtime: 2, size: 0 }), { mode: '0600', size: 0, atime: 1, mtime: 2 });
  });

  test('reads and writes on a handle are covered by its open; its kind and flags bound what goes through', () => {
    const session = new SftpSession(LIMITS);
    const reader = open(session, '/r', PFLAGS.READ);
    const writer = open(session, '/w', PFLAGS.WRITE | PFLAGS.CREAT);
    assert.deepEqual(session.plan({ type: 'READ', handle: reader.id, offset: 0, length: 10 }), { do: 'forward', call: { type: 'READ', handle: reader, offset: 0, length: 10 } });
    assert.equal(session.plan({ type: 'WRITE', handle: writer.id, offset: 0, data: Buffer.from('x') }).do, 'forward');
    assert.equal(session.plan({ type: 'FSTAT', handle: reader.id }).do, 'forward');
    // a write through a read handle never reaches the upstream
    const refused = session.plan({ type: 'WRITE', handle: reader.id, offset: 0, data: Buffer.from('x') });
    assert.equal(refused.do, 'reply');
    assert.equal((refused as Extract<SftpPlan, { do: 'reply' }>).code, FX.PERMISSION_DENIED);
    assert.match((refused as Extract<SftpPlan, { do: 'reply' }>).message, /\/r was not opened for writing \(flags: read\)/);
    assert.equal(session.plan({ type: 'READ', handle: writer.id, offset: 0, length: 1 }).do, 'reply');
    assert.equal(session.plan({ type: 'READDIR', handle: reader.id }).do, 'reply');
    // fsetstat is not covered by the open: a mode change is governed on its own, with the handle's path
    const fsetstat = session.plan({ type: 'FSETSTAT', handle: writer.id, attrs: { mode: 0o104755 } });
    assert.equal(fsetstat.do, 'govern');
    assert.deepEqual((fsetstat as Extract<SftpPlan, { do: 'govern' }>).op, { operation: 'fsetstat', path: '/w', class: 'write', attrs: { mode: '04755' } });
    // fsync is forwarded on a known handle
    assert.equal(session.plan({ type: 'EXTENDED', name: 'fsync@openssh.com', data: sshString(writer.id) }).do, 'forward');
  });

  test('a handle the bridge did not issue is refused without touching the upstream', () => {
    const session = new SftpSession(LIMITS, Buffer.from('abcd'));
    const upstreamHandle = Buffer.from([0, 0, 0, 0]);
    const file = open(session, '/f', PFLAGS.READ, upstreamHandle);
    assert.notDeepEqual(file.id, upstreamHandle, 'the agent never sees the upstream handle');
    assert.deepEqual(file.id.subarray(0, 4), Buffer.from('abcd'));
    for (const handle of [upstreamHandle, Buffer.from('abcd00000001', 'hex'), Buffer.alloc(0), randomBytes(256)]) {
      for (const request of [
        { type: 'READ', handle, offset: 0, length: 1 },
        { type: 'WRITE', handle, offset: 0, data: Buffer.from('x') },
        { type: 'FSTAT', handle },
        { type: 'FSETSTAT', handle, attrs: {} },
        { type: 'READDIR', handle },
        { type: 'CLOSE', handle },
        { type: 'EXTENDED', name: 'fsync@openssh.com', data: sshString(handle) },
      ] as SftpRequest[]) {
        const plan = session.plan(request);
        assert.equal(plan.do, 'reply', `${request.type} on ${handle.toString('hex')}`);
        assert.equal((plan as Extract<SftpPlan, { do: 'reply' }>).code, FX.FAILURE);
        assert.match((plan as Extract<SftpPlan, { do: 'reply' }>).message, /never issued/);
      }
    }
    // a closed handle is gone at once
    assert.equal(session.plan({ type: 'CLOSE', handle: file.id }).do, 'forward');
    assert.equal(session.plan({ type: 'READ', handle: file.id, offset: 0, length: 1 }).do, 'reply');
    assert.equal(session.openHandles, 0);
  });

  test('unknown extensions are refused; malformed known ones are bad messages', () => {
    const session = new SftpSession(LIMITS);
    for (const name of ['statvfs@openssh.com', 'copy-data', 'home-directory', 'x']) {
      const plan = session.plan({ type: 'EXTENDED', name, data: sshString('/') });
      assert.equal(plan.do, 'reply');
      assert.equal((plan as Extract<SftpPlan, { do: 'reply' }>).code, FX.OP_UNSUPPORTED);
      assert.match((plan as Extract<SftpPlan, { do: 'reply' }>).message, new RegExp(`the sftp extension "${name}" is not supported`));
    }
    for (const data of [undefined, Buffer.alloc(3), sshString('/a'), Buffer.concat([sshString('/a', '/b'), Buffer.from([0])])]) {
      const plan = session.plan({ type: 'EXTENDED', name: 'posix-rename@openssh.com', data });
      assert.equal((plan as Extract<SftpPlan, { do: 'reply' }>).code, FX.BAD_MESSAGE);
    }
    assert.deepEqual(sshStrings(sshString('a', ''), 2), [Buffer.from('a'), Buffer.alloc(0)]);
  });

  test('opens past maxHandles are refused before policy is asked', () => {
    const session = new SftpSession(LIMITS);
    for (let i = 0; i < LIMITS.maxHandles; i++) open(session, `/f${i}`, PFLAGS.READ);
    const plan = session.plan({ type: 'OPENDIR', path: '/' });
    assert.equal(plan.do, 'reply');
    assert.match((plan as Extract<SftpPlan, { do: 'reply' }>).message, /too many open sftp handles on this channel \(limit 4\)/);
  });
});

describe('sftp session: bytes and their digest', () => {
  test('a download in chunks: bytes and the sha256 of the whole', () => {
    const session = new SftpSession(LIMITS);
    const content = randomBytes(10_000);
    const file = open(session, '/big', PFLAGS.READ);
    for (let offset = 0; offset < content.length; offset += 3000) session.read(file, offset, content.subarray(offset, offset + 3000));
    assert.deepEqual(session.result(file, 'ok'), { status: 'ok', bytes: content.length, sha256: sha256(content) });
  });

  test('chunks confirmed out of order wait for the gap within the budget', () => {
    const session = new SftpSession(LIMITS);
    const file = open(session, '/w', PFLAGS.WRITE | PFLAGS.CREAT);
    const [a, b, c] = [randomBytes(100), randomBytes(200), randomBytes(300)];
    session.wrote(file, 300, c);
    session.wrote(file, 100, b);
    session.wrote(file, 0, a);
    assert.equal(session.result(file, 'ok').sha256, sha256(a, b, c));
  });

  test('no digest when the bytes did not go in one pass, and the reason says why', () => {
    const twice = new Digest(1024);
    twice.add(0, Buffer.from('abc'));
    twice.add(0, Buffer.from('abc'));
    assert.match(twice.finish().sha256Skipped ?? '', /bytes at offset 0 went twice/);

    const gap = new Digest(1024);
    gap.add(10, Buffer.from('abc'));
    assert.match(gap.finish().sha256Skipped ?? '', /bytes from offset 0 never went/);

    const over = new Digest(8);
    over.add(100, Buffer.alloc(9));
    assert.match(over.finish().sha256Skipped ?? '', /beyond the 8-byte reorder budget/);

    const session = new SftpSession(LIMITS);
    const both = open(session, '/rw', PFLAGS.READ | PFLAGS.WRITE);
    session.read(both, 0, Buffer.from('a'));
    session.wrote(both, 1, Buffer.from('b'));
    assert.deepEqual(session.result(both, 'ok'), { status: 'ok', bytes: 2, sha256Skipped: 'the handle was both read and written' });
  });

  test('an empty file has the digest of nothing; a directory records its entries', () => {
    const session = new SftpSession(LIMITS);
    const empty = open(session, '/empty', PFLAGS.READ);
    assert.deepEqual(session.result(empty, 'ok'), { status: 'ok', bytes: 0, sha256: sha256() });
    const dir = session.opened({ operation: 'opendir', path: '/d', class: 'read' }, undefined, Buffer.from([1]));
    assert.equal(dir.kind, 'dir');
    session.listed(dir, 5);
    session.listed(dir, 2);
    assert.deepEqual(session.result(dir, 'ok'), { status: 'ok', entries: 7 });
    assert.deepEqual(session.drain(), [empty, dir]);
    assert.equal(session.openHandles, 0);
  });
});

describe('sftp session: cost', () => {
  test('planning a cheap operation is cheap (measured, reported as a diagnostic)', (t) => {
    const session = new SftpSession(LIMITS);
    const file = open(session, '/f', PFLAGS.READ);
    const rounds = 200_000;
    const requests: SftpRequest[] = [
      { type: 'REALPATH', path: '.' },
      { type: 'STAT', path: '/home/agent/project/file.txt' },
      { type: 'READ', handle: file.id, offset: 0, length: 32768 },
    ];
    for (let i = 0; i < rounds / 10; i++) session.plan(requests[i % 3]!);
    const started = performance.now();
    for (let i = 0; i < rounds; i++) session.plan(requests[i % 3]!);
    const perPlanUs = ((performance.now() - started) * 1000) / rounds;
    // reported for the record; the bound is loose so a slow CI machine does not fail it
    t.diagnostic(`sftp session: ${perPlanUs.toFixed(3)} µs per plan (realpath, stat, read)`);
    assert.ok(perPlanUs < 20, `planning took ${perPlanUs} µs per request`);
  });
});

describe('sftp governance: operations as ssh.sftp actions', () => {
  const endpoint = { agentUser: 'agent', upstream: 'deploy@box:22', connectionId: 'conn-1', channel: 0 };

  test('the detail fits the shared schema; policy sees class, operation and every path', () => {
    const session = new SftpSession(LIMITS);
    const plans = [
      session.plan({ type: 'OPEN', path: '/srv/app.env', pflags: PFLAGS.WRITE | PFLAGS.CREAT | PFLAGS.TRUNC, attrs: { mode: 0o100600 } }),
      session.plan({ type: 'RENAME', path: '/a', toPath: '/b' }),
      session.plan({ type: 'EXTENDED', name: 'hardlink@openssh.com', data: sshString('/etc/shadow', '/tmp/s') }),
      session.plan({ type: 'REALPATH', path: '.' }),
    ];
    const requests = plans.map((plan) => sftpActionRequest((plan as Extract<SftpPlan, { do: 'govern' }>).op, 'box', endpoint));
    for (const request of requests) {
      assert.equal(request.kind, 'ssh.sftp');
      assert.equal(request.protocol, 'ssh');
      SshSftpDetail.parse(request.detail);
    }
    assert.deepEqual(requests[0]!.attributes, { class: 'write', operation: 'open', paths: ['/srv/app.env'], flags: ['write', 'create', 'truncate'] });
    assert.equal(requests[0]!.summary, 'sftp open /srv/app.env (write, create, truncate)');
    assert.deepEqual(requests[0]!.detail, { ...endpoint, operation: 'open', path: '/srv/app.env', flags: ['write', 'create', 'truncate'], attrs: { mode: '0600' } });
    assert.deepEqual(requests[1]!.attributes.paths, ['/a', '/b']);
    assert.deepEqual(requests[2]!.attributes, { class: 'write', operation: 'hardlink@openssh.com', paths: ['/tmp/s', '/etc/shadow'] });
    assert.equal(requests[3]!.risk, 'low');
    assert.equal(requests[3]!.summary, 'sftp realpath .');
  });
});

describe('sftp session: random request sequences', () => {
  test('no request reaches the upstream on a handle the session did not issue, or beyond what its open allowed', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const random = seededRandom(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      const session = new SftpSession(LIMITS, Buffer.from([seed, 0, 0, 0]));
      const issued = new Map<string, { canRead: boolean; canWrite: boolean; dir: boolean }>();
      const handles = (): Buffer[] => [...issued.keys()].map((h) => Buffer.from(h, 'hex'));
      const anyHandle = (): Buffer =>
        random() < 0.6 && issued.size > 0 ? pick(handles()) : pick([Buffer.from([0, 0, 0, 0]), Buffer.from([seed, 0, 0, 1]), randomBytes(8), Buffer.alloc(0)]);
      for (let step = 0; step < 400; step++) {
        const kind = pick(['OPEN', 'OPENDIR', 'READ', 'WRITE', 'READDIR', 'FSTAT', 'FSETSTAT', 'CLOSE', 'FSYNC'] as const);
        let request: SftpRequest;
        switch (kind) {
          case 'OPEN':
            request = { type: 'OPEN', path: `/f${step}`, pflags: Math.floor(random() * 0x40) };
            break;
          case 'OPENDIR':
            request = { type: 'OPENDIR', path: `/d${step}` };
            break;
          case 'READ':
            request = { type: 'READ', handle: anyHandle(), offset: 0, length: 10 };
            break;
          case 'WRITE':
            request = { type: 'WRITE', handle: anyHandle(), offset: 0, data: Buffer.from('x') };
            break;
          case 'FSYNC':
            request = { type: 'EXTENDED', name: 'fsync@openssh.com', data: sshString(anyHandle()) };
            break;
          case 'FSETSTAT':
            request = { type: 'FSETSTAT', handle: anyHandle(), attrs: { mode: 0o644 } };
            break;
          default:
            request = { type: kind, handle: anyHandle() };
        }
        const plan = session.plan(request);
        if (plan.do === 'govern' && (request.type === 'OPEN' || request.type === 'OPENDIR')) {
          // the upstream answers with its own handle, which the agent never sees
          if (random() < 0.8) {
            const pflags = request.type === 'OPEN' ? request.pflags : undefined;
            const handle = session.opened(plan.op, pflags, Buffer.from([0, 0, 0, step & 0xff]));
            issued.set(handle.id.toString('hex'), { canRead: handle.canRead, canWrite: handle.canWrite, dir: handle.kind === 'dir' });
            assert.equal(plan.op.class, pflags !== undefined && (pflags & ~PFLAGS.READ) !== 0 ? 'write' : 'read');
          }
          continue;
        }
        const call = plan.do === 'reply' ? undefined : plan.call;
        if (!call || !('handle' in call)) continue;
        const handle = call.handle as { id: Buffer };
        const known = issued.get(handle.id.toString('hex'));
        assert.ok(known, `seed ${seed} step ${step}: ${request.type} reached the upstream on a handle never issued`);
        if (call.type === 'READ') assert.ok(known.canRead && !known.dir, `seed ${seed}: READ through a handle not opened for reading`);
        if (call.type === 'WRITE') assert.ok(known.canWrite && !known.dir, `seed ${seed}: WRITE through a handle not opened for writing`);
        if (call.type === 'READDIR') assert.ok(known.dir, `seed ${seed}: READDIR on a file handle`);
        if (call.type === 'CLOSE') issued.delete(handle.id.toString('hex'));
      }
      assert.equal(session.openHandles, issued.size);
      assert.ok(session.openHandles <= LIMITS.maxHandles);
    }
  });
});
