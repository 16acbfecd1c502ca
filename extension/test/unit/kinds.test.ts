import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Action, Approval } from '@airlock/shared';
import {
  actionDetail,
  mainText,
  otherView,
  sqlQueryView,
  sshExecView,
  sshForwardView,
  sshRequestView,
  sshSftpView,
  sshShellView,
  type ActionDetailKind,
  type ParsedOf,
} from '../../src/state/kinds.js';
import { activityItem, approvalItem } from '../../src/state/view-models.js';
import { approvalPanelState } from '../../src/state/panel-models.js';
import { HostMessage } from '../../src/protocol/webview-messages.js';

const at = '2026-12-05T01:00:00.000Z';
const endpoint = { agentUser: 'claude', upstream: 'deploy@web-1:22', connectionId: 'conn_1', channel: 0 };
const sshAction = (kind: string, summary: string, detail: Record<string, unknown>, attributes: Action['attributes'] = { class: 'write' }): Action => ({
  id: 'act_1',
  sessionId: 'ses_1',
  target: 'web',
  protocol: 'ssh',
  kind,
  summary,
  risk: 'high',
  attributes,
  detail: { ...endpoint, ...detail },
  at,
});

function parsedAs<K extends ActionDetailKind>(action: Action, kind: K): ParsedOf<K> {
  const parsed = actionDetail(action);
  assert.equal(parsed.kind, kind, JSON.stringify(parsed));
  return parsed as ParsedOf<K>;
}

const wrapped = sshAction('ssh.exec', "sudo bash -c 'rm -rf /var/cache/app' > /tmp/out.log", {
  command: "sudo bash -c 'rm -rf /var/cache/app' > /tmp/out.log",
  parts: [
    { program: 'sudo', argv: ['sudo', 'bash', '-c', 'rm -rf /var/cache/app'], class: 'privileged', reasons: ['sudo runs as another user'] },
    { program: 'bash', argv: ['bash', '-c', 'rm -rf /var/cache/app'], class: 'write', via: ['sudo'] },
    { program: 'rm', argv: ['rm', '-rf', '/var/cache/app'], class: 'write', via: ['sudo', 'bash -c'], reasons: ['rm deletes files'] },
  ],
  pathsWritten: ['/var/cache/app', '/tmp/out.log'],
  env: { DEPLOY_ENV: 'prod' },
  pty: true,
}, { class: 'privileged' });

describe('per-kind view models', () => {
  test('ssh.exec: the line exactly, its class, each part under its wrapper chain, paths written, pty and env', () => {
    const view = sshExecView(parsedAs(wrapped, 'ssh.exec'), wrapped.attributes);
    assert.equal(view.command, "sudo bash -c 'rm -rf /var/cache/app' > /tmp/out.log");
    assert.equal(view.class, 'privileged');
    assert.deepEqual(
      view.parts.map((p) => [p.chain, p.class, p.wrapped]),
      [
        ['sudo', 'privileged', false],
        ['sudo → bash', 'write', true],
        ['sudo → bash -c → rm', 'write', true],
      ],
    );
    assert.equal(view.parts[2]?.argv, 'rm -rf /var/cache/app');
    assert.deepEqual(view.parts[2]?.reasons, ['rm deletes files']);
    assert.deepEqual(view.pathsWritten, ['/var/cache/app', '/tmp/out.log']);
    assert.deepEqual(view.env, [['DEPLOY_ENV', 'prod']]);
    assert.equal(view.pty, true);
    assert.equal(view.endpoint, 'as claude to deploy@web-1:22');
  });

  test('ssh.exec: characters that could hide part of the line are shown escaped; a cut line says so; a parse error is kept', () => {
    const sha256 = 'cd'.repeat(32);
    const sneaky = sshAction('ssh.exec', 'ls', { command: 'ls \u202e; rm -rf ~\u202c', commandCut: { bytes: 2_000_000, keptBytes: 65_536, sha256 }, parseError: 'unterminated quote', parts: [{ program: null, argv: ['$CMD'], class: 'unknown' }] });
    const view = sshExecView(parsedAs(sneaky, 'ssh.exec'));
    assert.equal(view.command, 'ls \\u{202e}; rm -rf ~\\u{202c}');
    assert.equal(view.cutNotice, `1.9 MiB command, first 64 KiB shown, sha256 ${sha256}`);
    assert.equal(view.parseError, 'unterminated quote');
    assert.equal(view.parts[0]?.chain, '(computed)', 'a program that is a variable is not named as one');
    assert.equal(view.class, undefined, 'no class attribute: none is claimed');
  });

  test('sql.query: the whole text with the cut notice, bound parameters with their cuts, the connection', () => {
    const sha256 = 'ef'.repeat(32);
    const q: Action = { ...wrapped, protocol: 'postgres', kind: 'sql.query', detail: { sql: 'UPDATE t SET a = $1 WHERE b = $2', sqlCut: { bytes: 2048, keptBytes: 1024, sha256 }, protocol: 'extended', params: ['x', null], paramCuts: [{ index: 0, bytes: 900, keptBytes: 1, sha256 }], user: 'app', database: 'shop' } };
    const view = sqlQueryView(parsedAs(q, 'sql.query'));
    assert.equal(view.text, `-- … 2 KiB statement, first 1 KiB shown, sha256 ${sha256}\nUPDATE t SET a = $1 WHERE b = $2`);
    assert.deepEqual(view.params, [`$1 = x (900 bytes value, first 1 bytes shown, sha256 ${sha256})`, '$2 = NULL']);
    assert.equal(view.connection, 'app@shop');
    assert.equal(view.note, undefined, 'no statement list recorded (an older daemon): no note claiming it is empty');
  });

  test('ssh.shell, ssh.sftp, ssh.forward, ssh.request', () => {
    const shell = sshShellView(parsedAs(sshAction('ssh.shell', 'interactive shell', { pty: { term: 'xterm-256color', cols: 120, rows: 40 } }), 'ssh.shell'));
    assert.equal(shell.pty, 'xterm-256color 120×40');
    assert.match(shell.note, /whole session is recorded/);
    const sftp = sshSftpView(parsedAs(sshAction('ssh.sftp', 'sftp setstat', { operation: 'setstat', path: '/srv/app/run.sh', flags: ['write', 'create'], attrs: { mode: 0o755, uid: 0 } }), 'ssh.sftp'));
    assert.deepEqual([sftp.operation, sftp.path, sftp.toPath, sftp.flags, sftp.attrs], ['setstat', '/srv/app/run.sh', undefined, ['write', 'create'], [['mode', '0755'], ['uid', '0']]]);
    const rename = sshSftpView(parsedAs(sshAction('ssh.sftp', 'sftp rename', { operation: 'rename', path: '/a', toPath: '/b' }), 'ssh.sftp'));
    assert.equal(rename.toPath, '/b');
    const forward = sshForwardView(parsedAs(sshAction('ssh.forward', 'ssh -L', { forward: 'direct-tcpip', host: 'db.internal', port: 5432 }), 'ssh.forward'));
    assert.deepEqual([forward.what, forward.address], ['local port forward (ssh -L) to', 'db.internal:5432']);
    const v6 = sshForwardView(parsedAs(sshAction('ssh.forward', 'ssh -R', { forward: 'tcpip-forward', host: '::1', port: 8080 }), 'ssh.forward'));
    assert.equal(v6.address, '[::1]:8080');
    const agent = sshForwardView(parsedAs(sshAction('ssh.forward', 'ssh -A', { forward: 'auth-agent' }), 'ssh.forward'));
    assert.deepEqual([agent.what, agent.address], ['agent forwarding (ssh -A)', undefined]);
    const env = sshRequestView(parsedAs(sshAction('ssh.request', 'env', { request: 'env', name: 'AWS_PROFILE', value: 'prod' }), 'ssh.request'));
    assert.equal(env.line, 'env AWS_PROFILE=prod');
    const subsystem = sshRequestView(parsedAs(sshAction('ssh.request', 'subsystem', { request: 'subsystem', name: 'netconf' }), 'ssh.request'));
    assert.equal(subsystem.line, 'subsystem netconf');
  });

  test('other: every field as recorded (JSON when not text, bounded), and why', () => {
    const odd = sshAction('ssh.exec', 'x', { command: 7, note: 'x'.repeat(5_000) });
    const view = otherView(parsedAs(odd, 'other'));
    assert.match(view.problem!, /ssh\.exec detail does not match its schema \(command:/);
    assert.deepEqual(view.fields.find(([k]) => k === 'command'), ['command', '7']);
    assert.equal(view.fields.find(([k]) => k === 'note')?.[1].length, 4_000);
    const future = otherView(parsedAs({ ...odd, kind: 'nfs.mount', detail: { pod: 'web-1' } }, 'other'));
    assert.deepEqual(future, { fields: [['pod', 'web-1']] });
  });

  test('the text a view leads with, per kind', () => {
    assert.equal(mainText(wrapped), wrapped.detail.command);
    assert.equal(mainText(sshAction('ssh.sftp', 's', { operation: 'remove', path: '/etc/passwd' })), 'sftp remove /etc/passwd');
    assert.equal(mainText({ ...wrapped, kind: 'nfs.mount', summary: 'mount web-1:/data' }), 'mount web-1:/data');
  });
});

describe('tree items and the approval panel render by kind', () => {
  const held: Approval = { id: 'apr_1', action: wrapped, ruleId: 'writes-review', reason: 'writes wait', requestedAt: at, expiresAt: '2026-12-05T01:05:00.000Z', status: 'pending' };

  test('Pending approvals: an exec names its line, the files it writes and where it runs in the tooltip', () => {
    const item = approvalItem(held, Date.parse(at));
    assert.equal(item.label, "sudo bash -c 'rm -rf /var/cache/app' > /tmp/out.log");
    assert.match(item.tooltip, /\n\$ sudo bash -c 'rm -rf \/var\/cache\/app' > \/tmp\/out\.log\n/);
    assert.match(item.tooltip, /\nwrites \/var\/cache\/app, \/tmp\/out\.log\n/);
    assert.match(item.tooltip, /as claude to deploy@web-1:22$/);
    assert.equal(item.icon, 'terminal');
  });

  test('Live activity: sftp and forward items say what they touch; icons per kind, else per protocol', () => {
    const sftp = activityItem({ action: sshAction('ssh.sftp', 'sftp write /etc/hosts', { operation: 'write', path: '/etc/hosts', flags: ['write', 'truncate'] }), status: 'allowed' });
    assert.match(sftp.tooltip, /\nsftp write \/etc\/hosts \(write, truncate\)\n/);
    assert.equal(sftp.icon, 'files');
    const fwd = activityItem({ action: sshAction('ssh.forward', 'ssh -L 5432', { forward: 'direct-tcpip', host: 'db', port: 5432 }), status: 'held' });
    assert.match(fwd.tooltip, /local port forward \(ssh -L\) to db:5432/);
    assert.equal(fwd.icon, 'plug');
    const broken = activityItem({ action: sshAction('ssh.sftp', 'sftp ???', { operation: 'format' }), status: 'denied' });
    assert.match(broken.tooltip, /does not match its schema/);
    assert.equal(broken.icon, 'terminal', 'the protocol\'s icon');
  });

  test('the approval panel state carries the parsed detail, which the webview protocol accepts', () => {
    const state = approvalPanelState(held, []);
    assert.equal(state.detail.kind, 'ssh.exec');
    assert.equal(HostMessage.safeParse({ type: 'approval.state', state }).success, true);
    // parsed once: the same action yields the same parsed object
    assert.equal(actionDetail(wrapped), actionDetail(wrapped));
  });
});
