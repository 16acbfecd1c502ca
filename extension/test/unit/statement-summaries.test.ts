import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { digestLabel, listStatements, type Action, type Approval, type SqlStatementDigest } from '@airlock/shared';
import { actionHeadline, approvalItem, approvalNotice } from '../../src/state/view-models.js';
import { actionDetail, sqlQueryView, type SqlQueryView } from '../../src/state/kinds.js';
import { approvalPanelState } from '../../src/state/panel-models.js';
import { ApprovalPanelState, HostMessage } from '../../src/protocol/webview-messages.js';

const at = '2026-12-04T10:00:00.000Z';
const digest = (command: string, cls: SqlStatementDigest['class'], tables: string[], writesTables: string[] = cls === 'read' ? [] : tables): SqlStatementDigest => ({
  command,
  class: cls,
  tables,
  writesTables,
  reasons: [`${command} is ${cls}`],
});
const sqlAction = (summary: string, statements: unknown, extra: Record<string, unknown> = {}): Action => ({
  id: 'act_1',
  sessionId: 'ses_1',
  target: 'db',
  protocol: 'postgres',
  kind: 'sql.query',
  summary,
  risk: 'high',
  attributes: { class: 'ddl' },
  detail: { sql: summary, statements, ...extra },
  at,
});
/** The approval panel's SQL view of a held action, as its webview renders it from the state the host sends. */
function sqlView(state: ApprovalPanelState): SqlQueryView {
  assert.equal(state.detail.kind, 'sql.query', JSON.stringify(state.detail));
  return sqlQueryView(state.detail as Extract<ApprovalPanelState['detail'], { kind: 'sql.query' }>);
}
const held = (action: Action): Approval => ({ id: 'apr_1', action, ruleId: 'ddl', reason: 'DDL waits', requestedAt: at, expiresAt: '2026-12-04T10:05:00.000Z', status: 'pending' });

/** 500 statements, a DROP at 250, the reads on 499 different tables: no summary of them fits a notification. */
const fiveHundred = Array.from({ length: 500 }, (_, i) => (i === 250 ? digest('DROP TABLE', 'ddl', ['victim']) : digest('SELECT', 'read', [`t${i}`])));

describe('notifications, tree items and messages name statements, not the head of a text', () => {
  test('a summary that is only the head of a padded text: the notification still names the DROP from the statements', () => {
    // as an older daemon wrote it: 2,000 characters of comment, cut
    const padded = `/* ${'x'.repeat(1997)}…`;
    const a = sqlAction(padded, [digest('UPDATE', 'write', ['orders']), digest('DROP TABLE', 'ddl', ['victim'])]);
    assert.equal(approvalNotice(held(a)), 'Agent wants to run sql.query on "db": UPDATE orders (write); DROP TABLE victim (ddl) (held by rule "ddl")');
    assert.equal(approvalItem(held(a), Date.parse(at)).label, 'UPDATE orders (write); DROP TABLE victim (ddl)');
  });

  test('500 statements: the notification is bounded and names the DROP, the rest counted by class', () => {
    // what the daemon writes for them: 500 characters, over a notification's share
    const summary = listStatements(
      fiveHundred.map((d) => ({ label: digestLabel(d), class: d.class })),
      500,
    );
    assert.ok(summary.length > 400);
    const a = sqlAction(summary, fiveHundred);
    const notice = approvalNotice(held(a));
    assert.ok(notice.length <= 1_000, 'VS Code shows at most 1,000 characters of a notification');
    assert.match(notice, /DROP TABLE victim \(ddl\)/);
    const more = /… and (\d+) more: (\d+) read \(held/.exec(notice);
    assert.ok(more, notice);
    assert.equal(more[1], more[2], 'only reads are left unnamed');
    const item = approvalItem(held(a), Date.parse(at));
    assert.ok(item.label.length <= 80, item.label);
    assert.match(item.label, /DROP TABLE victim \(ddl\)/);
    assert.match(item.tooltip, /held by rule "ddl": DDL waits\n\n.*DROP TABLE victim \(ddl\)/);
    assert.match(actionHeadline(a, 40), /^(DROP TABLE victim \(ddl\); … and 499 more: 499 read|500 statements: 1 ddl, 499 read)$/);
  });

  test('a summary that fits is shown as the daemon wrote it, on one line, unprintable characters escaped', () => {
    const a = sqlAction('UPDATE orders\n  SET paid = true WHERE id = 1 (write)', [digest('UPDATE', 'write', ['orders'])]);
    assert.equal(actionHeadline(a, 80), 'UPDATE orders SET paid = true WHERE id = 1 (write)');
    const sneaky = sqlAction('SELECT 1 \u202e)lld( miv\u202c', [digest('SELECT', 'read', [])]);
    assert.equal(actionHeadline(sneaky, 80), 'SELECT 1 \\u{202e})lld( miv\\u{202c}');
  });

  test('another protocol has no statements: its summary is cut as before', () => {
    const ssh: Action = { ...sqlAction(`ls ${'-l '.repeat(100)}`, undefined), protocol: 'ssh', kind: 'ssh.exec', detail: {} };
    assert.equal(actionDetail(ssh).kind, 'other', 'an ssh.exec detail without its fields is not typed');
    const headline = actionHeadline(ssh, 50);
    assert.equal(headline.length, 50);
    assert.ok(headline.endsWith('…'));
  });

  test('a statement list this build cannot read is said to be unreadable, not taken as empty', () => {
    const odd = sqlAction('x'.repeat(300), [{ command: 'DROP TABLE', class: 'harmless', tables: [], reasons: [] }]);
    const found = actionDetail(odd);
    assert.ok(found.kind === 'other' && /statements\.0\.class/.test(found.problem ?? ''), JSON.stringify(found));
    assert.equal(actionHeadline(odd, 80), `${'x'.repeat(79)}…`, 'falls back to the daemon\'s summary');
    const state = approvalPanelState(held(odd), []);
    assert.equal(state.detail.kind, 'other', 'shown field by field, with why, rather than as a SQL action without statements');
  });
});

describe('approval panel: every statement with its command, class and tables', () => {
  test('listed in order with labels, classes, quoted tables and a tally, above the whole text', () => {
    const sql = `/* ${'pad '.repeat(800)} */ SELECT * FROM orders; UPDATE orders SET paid = true; DROP TABLE "Victim\u202e"`;
    const a = sqlAction('SELECT FROM orders; UPDATE orders (write); DROP TABLE "Victim\\u{202e}" (ddl)', [digest('SELECT', 'read', ['orders']), digest('UPDATE', 'write', ['orders']), digest('DROP TABLE', 'ddl', ['Victim\u202e'])], { sql });
    const state = approvalPanelState(held(a), []);
    const view = sqlView(state);
    assert.equal(view.text, sql, 'the whole text as sent');
    assert.deepEqual(
      view.statements.map((s) => [s.label, s.command, s.class, s.tables]),
      [
        ['SELECT FROM orders', 'SELECT', 'read', ['orders']],
        ['UPDATE orders', 'UPDATE', 'write', ['orders']],
        ['DROP TABLE "Victim\\u{202e}"', 'DROP TABLE', 'ddl', ['"Victim\\u{202e}"']],
      ],
    );
    assert.equal(view.tally, '3 statements: 1 ddl, 1 write, 1 read');
    assert.equal(view.note, undefined);
    assert.equal(ApprovalPanelState.safeParse(state).success, true);
    assert.equal(HostMessage.safeParse({ type: 'approval.state', state }).success, true);
  });

  test('all 500 statements are listed, the DROP among them', () => {
    const view = sqlView(approvalPanelState(held(sqlAction('summary', fiveHundred)), []));
    assert.equal(view.statements.length, 500);
    assert.equal(view.statements[250]?.label, 'DROP TABLE victim');
    assert.equal(view.tally, '500 statements: 1 ddl, 499 read');
  });

  test('text the parser rejected, empty text, another protocol', () => {
    const rejected = sqlView(approvalPanelState(held(sqlAction('unparseable SQL (unknown): DROP TABLE x; SELECT (', [], { parseError: 'syntax error at end of input' })), []));
    assert.deepEqual(rejected.statements, []);
    assert.equal(rejected.note, 'Not classified (unknown): syntax error at end of input');
    const empty = sqlView(approvalPanelState(held(sqlAction('(empty statement)', [])), []));
    assert.match(empty.note!, /No statement/);
    const ssh: Action = { ...sqlAction('rm -rf /tmp/x', undefined), protocol: 'ssh', kind: 'ssh.exec', detail: { command: 'rm -rf /tmp/x', agentUser: 'agent', upstream: 'deploy@web-1:22', connectionId: 'c1' } };
    const other = approvalPanelState(held(ssh), []);
    assert.equal(other.detail.kind, 'ssh.exec', 'rendered by the ssh.exec view, with no statement list');
  });

  test('the webview protocol refuses a statement whose class it does not know', () => {
    const state = approvalPanelState(held(sqlAction('DROP TABLE v (ddl)', [digest('DROP TABLE', 'ddl', ['v'])])), []);
    assert.equal(state.detail.kind, 'sql.query');
    const detail = state.detail.detail as { statements: SqlStatementDigest[] };
    const tampered = { ...state, detail: { ...state.detail, detail: { ...detail, statements: [{ ...detail.statements[0]!, class: 'harmless' }] } } };
    assert.equal(ApprovalPanelState.safeParse(tampered).success, false);
  });
});
