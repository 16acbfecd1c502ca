import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Action, Approval, RecordingRecord } from '@airlock/shared';
import { actionDetail, mainText, type ParsedOf } from '../../src/state/kinds.js';
import { httpBodyView, httpConnectView, httpLaneRows, httpRequestView, httpResponseView, reindentJson, shortOid, tunnelLine } from '../../src/state/http-views.js';
import { actionHeadline, activityItem, approvalItem, approvalNotice, approvalPrompt, parsedHeadline } from '../../src/state/view-models.js';
import { approvalPanelState, maskedResultFromRecords } from '../../src/state/panel-models.js';
import { buildTimeline } from '../../src/state/timeline.js';
import { HostMessage } from '../../src/protocol/webview-messages.js';
import { maskSegments } from '../../src/webview/models.js';
import { formatGraphql } from '../../src/webview/graphql.js';

const at = '2026-12-05T01:00:00.000Z';
const request = (detail: Record<string, unknown>, summary = 'a summary the adapter wrote', attributes: Action['attributes'] = { class: 'write' }): Action => ({
  id: 'act_h1',
  sessionId: 'ses_1',
  target: 'gh',
  protocol: 'http',
  kind: 'http.request',
  summary,
  risk: 'medium',
  attributes,
  detail: { via: 'api', connectionId: 'conn_1', headers: {}, ...detail },
  at,
});
const connect = (host: string, port: number, destination = 'public', addresses = ['104.16.0.35']): Action => ({
  id: 'act_c1',
  sessionId: 'ses_1',
  target: 'egress',
  protocol: 'egress',
  kind: 'http.connect',
  summary: `CONNECT ${host}:${port}`,
  risk: 'medium',
  attributes: { host, port, destination },
  detail: { via: 'egress', connectionId: 'conn_2', host, port, addresses, destination },
  grantKey: `${host}:${port}`,
  at,
});
const held = (action: Action, ruleId = 'writes-review'): Approval => ({ id: 'apr_h1', action, ruleId, reason: 'held', requestedAt: at, expiresAt: '2026-12-05T01:05:00.000Z', status: 'pending' });
function parsedRequest(action: Action): ParsedOf<'http.request'> {
  const parsed = actionDetail(action);
  assert.equal(parsed.kind, 'http.request', JSON.stringify(parsed));
  return parsed as ParsedOf<'http.request'>;
}

const pulls = request({ method: 'POST', url: 'https://api.github.com/repos/a/b/pulls', host: 'api.github.com', path: '/repos/a/b/pulls', headers: { 'content-type': 'application/json', accept: ['application/json', 'text/plain'] } });
const star = request({
  method: 'POST',
  url: 'https://api.github.com/graphql',
  host: 'api.github.com',
  path: '/graphql',
  graphql: { operations: [{ type: 'mutation', name: 'addStar', fields: ['addStar'] }], document: 'mutation addStar { addStar(input: {starrableId: "R_1"}) { clientMutationId } }' },
});
const push = request({
  method: 'POST',
  url: 'http://git.internal/org/repo.git/git-receive-pack',
  host: 'git.internal',
  path: '/org/repo.git/git-receive-pack',
  git: { service: 'git-receive-pack', refs: [{ ref: 'refs/heads/main', oldOid: 'a'.repeat(40), newOid: 'b'.repeat(40), change: 'force' }] },
});

describe('HTTP actions in the views', () => {
  test('the line names what the request does: method and path, GraphQL operations, pushed refs, CONNECT host:port', () => {
    assert.equal(actionHeadline(pulls, 80), 'POST api.github.com/repos/a/b/pulls');
    assert.equal(actionHeadline(star, 80), 'GraphQL mutation addStar');
    assert.equal(actionHeadline(push, 80), 'git push refs/heads/main (force)');
    assert.equal(actionHeadline(connect('registry.npmjs.org', 443), 80), 'CONNECT registry.npmjs.org:443');
    assert.equal(actionHeadline(connect('2606:4700::1', 443), 80), 'CONNECT [2606:4700::1]:443');
    const fetch = request({ method: 'POST', url: 'http://git.internal/r.git/git-upload-pack', host: 'git.internal', path: '/r.git/git-upload-pack', git: { service: 'git-upload-pack' } });
    assert.equal(actionHeadline(fetch, 80), 'git fetch git.internal/r.git/git-upload-pack');
    const batch = request({ method: 'POST', url: 'u', host: 'h', path: '/graphql', graphql: { operations: [{ type: 'query', fields: ['viewer'] }, { type: 'mutation', name: 'deleteRepo', fields: ['deleteRepository'] }] } });
    assert.equal(actionHeadline(batch, 80), 'GraphQL query viewer; mutation deleteRepo', 'every operation of a batch, an anonymous one by its fields');
  });

  test('the daemon\'s summary does not stand in for the request: a misleading summary is not shown', () => {
    const sneaky = request({ method: 'DELETE', url: 'https://api.github.com/repos/a/b', host: 'api.github.com', path: '/repos/a/b' }, 'GET api.github.com/rate_limit');
    assert.equal(approvalItem(held(sneaky), Date.parse(at)).label, 'DELETE api.github.com/repos/a/b');
  });

  test('a method override shows as what the upstream may act on; control characters in a path are escaped', () => {
    const override = request({ method: 'POST', url: 'https://h/x', host: 'h', path: '/x', methodOverride: 'DELETE' });
    assert.equal(actionHeadline(override, 80), 'POST (as DELETE) h/x');
    const hidden = request({ method: 'GET', url: 'https://h/a\u202eb', host: 'h', path: '/a\u202eb\nX' });
    assert.equal(actionHeadline(hidden, 80), 'GET h/a\\u{202e}b X');
  });

  test('tooltips carry the URL, override, refs and body; icons per kind', () => {
    const item = activityItem({ action: push, status: 'denied' });
    assert.match(item.tooltip, /refs\/heads\/main: aaaaaaa → bbbbbbb \(force\)/);
    assert.equal(item.icon, 'git-commit');
    assert.equal(activityItem({ action: star, status: 'allowed' }).icon, 'symbol-namespace');
    assert.equal(activityItem({ action: pulls, status: 'allowed' }).icon, 'globe', "a plain request: the protocol's icon");
    assert.equal(activityItem({ action: connect('a.example', 443), status: 'held' }).icon, 'arrow-swap');
    assert.match(activityItem({ action: connect('a.example', 443), status: 'held' }).tooltip, /TLS inside is not intercepted\nresolved to 104\.16\.0\.35/);
    assert.equal(mainText(pulls), 'POST https://api.github.com/repos/a/b/pulls');
  });
});

describe('the approval panel of an HTTP request', () => {
  test('method, URL, headers one row per value, the GraphQL operations with their class', () => {
    const v = httpRequestView(parsedRequest(star).detail, true);
    assert.deepEqual(v.graphql?.operations, [{ type: 'mutation', name: 'addStar', fields: ['addStar'], class: 'write' }]);
    const h = httpRequestView(parsedRequest(pulls).detail, true);
    assert.deepEqual([h.method, h.url], ['POST', 'https://api.github.com/repos/a/b/pulls']);
    assert.deepEqual(h.headers, [
      { name: 'content-type', value: 'application/json' },
      { name: 'accept', value: 'application/json' },
      { name: 'accept', value: 'text/plain' },
    ]);
    assert.equal(h.overrideWarning, undefined);
    assert.match(h.via, /API target/);
  });

  test('a method override is a warning naming both methods; an override to the same method is not', () => {
    const v = httpRequestView(parsedRequest(request({ method: 'POST', url: 'u', host: 'h', path: '/', methodOverride: 'DELETE' })).detail, true);
    assert.match(v.overrideWarning!, /treat it as DELETE, not POST/);
    assert.equal(httpRequestView(parsedRequest(request({ method: 'POST', url: 'u', host: 'h', path: '/', methodOverride: 'post' })).detail, true).overrideWarning, undefined);
  });

  test('git ref updates with short ids; a created ref has no old object', () => {
    const create = request({ method: 'POST', url: 'u', host: 'h', path: '/r.git/git-receive-pack', git: { service: 'git-receive-pack', refs: [{ ref: 'refs/tags/v1', oldOid: '0'.repeat(40), newOid: '1234567890abcdef1234567890abcdef12345678', change: 'create' }] } });
    assert.deepEqual(httpRequestView(parsedRequest(create).detail, true).git, { operation: 'push', refs: [{ ref: 'refs/tags/v1', oldId: 'none', newId: '1234567', change: 'create' }] });
    assert.equal(shortOid('0'.repeat(64)), 'none', 'sha256 repositories too');
  });

  test('JSON bodies are laid out token by token: a duplicated key shows twice and big numbers stay exact', () => {
    const body = '{"title":"x","admin":false,"admin":true,"id":12345678901234567890,"tags":[],"o":{},"s":"a,b:{c}\\"]"}';
    const laid = reindentJson(body);
    assert.equal(laid.match(/"admin"/g)?.length, 2, laid);
    assert.match(laid, /"id": 12345678901234567890/);
    assert.match(laid, /"tags": \[\],/);
    assert.match(laid, /"s": "a,b:\{c\}\\"\]"\n\}$/, 'punctuation inside strings untouched');
    assert.equal(laid.replace(/\s+/g, ''), body.replace(/\s+/g, ''), 'nothing added or lost but whitespace');
    const v = httpBodyView({ text: body, bytes: body.length, contentType: 'application/json', treatment: 'json' }, true);
    assert.equal(v.pretty, true);
    assert.equal(v.text, laid);
    assert.equal(httpBodyView({ text: body, bytes: body.length, treatment: 'json' }, false).text, body, 'as sent when not formatted');
  });

  test('a cut JSON body is laid out as far as it goes and says it was cut; text that is not JSON is left alone', () => {
    const sha256 = 'ab'.repeat(32);
    const v = httpBodyView({ text: '{"items":[{"id":1},{"id"', cut: { bytes: 10_000_000, keptBytes: 24, sha256 }, bytes: 10_000_000, contentType: 'application/json', treatment: 'json' }, true);
    assert.equal(v.pretty, true);
    assert.match(v.cutNotice!, /9\.5 MiB body, first 24 bytes shown/);
    const text = httpBodyView({ text: 'name=a&x={"b":1}', bytes: 16, contentType: 'application/x-www-form-urlencoded', treatment: 'text' }, true);
    assert.deepEqual([text.pretty, text.text], [false, 'name=a&x={"b":1}']);
    assert.equal(httpBodyView({ text: 'a\u0000b\nc', bytes: 5, treatment: 'text' }, true).text, 'a\\u{0}b\nc', 'control characters escaped, lines kept');
    assert.equal(httpBodyView({ bytes: null, treatment: 'binary' }, true).size, 'did not end');
  });

  test('GraphQL documents are printed by graphql itself; one that does not parse is shown as recorded', () => {
    assert.equal(formatGraphql('mutation addStar{addStar(input:{starrableId:"R_1"}){clientMutationId}}'), 'mutation addStar {\n  addStar(input: {starrableId: "R_1"}) {\n    clientMutationId\n  }\n}');
    // a second operation hidden after a comment is printed as an operation of its own
    assert.match(formatGraphql('query a { viewer { login } } # hi\nmutation b { deleteRepository(id: 1) { id } }'), /\n\nmutation b \{/);
    const cut = 'mutation { addStar(input: {starrableId: "R_';
    assert.equal(formatGraphql(cut), cut);
  });

  test('the panel state of an HTTP request and a CONNECT passes the webview protocol', () => {
    for (const action of [pulls, star, push, connect('registry.npmjs.org', 443)]) {
      const state = approvalPanelState(held(action), []);
      assert.equal(HostMessage.safeParse({ type: 'approval.state', state }).success, true, action.kind);
    }
  });
});

describe('the egress approval prompt', () => {
  test('CONNECT asks about the host and port and offers the session grant first, then once; Deny comes after', () => {
    const prompt = approvalPrompt(held(connect('registry.npmjs.org', 443), 'egress-unlisted-review'));
    assert.equal(prompt.question, 'Allow the agent to reach registry.npmjs.org:443 for this session?');
    assert.deepEqual(prompt.choices.map((c) => [c.scope, c.label]), [['session', 'Allow for the session'], ['once', 'Allow once']]);
    assert.deepEqual(prompt.notify.map((c) => c.scope), ['session', 'once'], 'the notification offers both, session first');
    assert.equal(approvalItem(held(connect('registry.npmjs.org', 443)), Date.parse(at)).contextValue, 'airlock.pendingApproval.sessionFirst', "the view's inline buttons in the same order");
    assert.equal(approvalItem(held(pulls), Date.parse(at)).contextValue, 'airlock.pendingApproval');
    assert.match(approvalNotice(held(connect('registry.npmjs.org', 443), 'egress-unlisted-review')), /^Allow the agent to reach registry\.npmjs\.org:443 for this session\? \(http\.connect on "egress", held by rule "egress-unlisted-review"\)$/);
  });

  test('other kinds keep Approve first; the session choice names the grant key when there is one', () => {
    const prompt = approvalPrompt(held(pulls));
    assert.equal(prompt.question, undefined);
    assert.deepEqual(prompt.choices.map((c) => c.scope), ['once', 'session']);
    assert.deepEqual(prompt.notify.map((c) => c.label), ['Approve']);
    assert.match(approvalPrompt(held({ ...pulls, grantKey: 'api.github.com:443' })).choices[1]!.explains, /for api\.github\.com:443 under rule writes-review/);
  });

  test('the CONNECT view: resolved addresses, destination, and that TLS inside is not intercepted', () => {
    const parsed = actionDetail(connect('metadata.evil.example', 80, 'internal', ['169.254.169.254']));
    assert.equal(parsed.kind, 'http.connect');
    const v = httpConnectView((parsed as ParsedOf<'http.connect'>).detail);
    assert.deepEqual([v.hostPort, v.destination, v.addresses], ['metadata.evil.example:80', 'internal', ['169.254.169.254']]);
    assert.match(v.destinationText, /metadata endpoint/);
    assert.match(v.note, /TLS inside it is not intercepted/);
  });
});

describe('HTTP results: the masked-data view and the replay lane', () => {
  const sha = (n: number) => String(n).padStart(64, '0');
  const body = '{"user":{"email":"[EMAIL]","token":"[TOKEN]","note":"[PHONE] is not masked here","card":"****1111"}}';
  const records: RecordingRecord[] = [
    { type: 'header', seq: 0, ts: at, prevHash: sha(0), hash: sha(1), recordingId: 'rec_1', agentSessionId: 'ses_1', agentSessionName: 'claude', daemonVersion: '0.1.0', policyHash: 'p' } as unknown as RecordingRecord,
    { type: 'action', seq: 1, ts: at, prevHash: sha(1), hash: sha(2), action: pulls, decision: { decision: 'allow', ruleId: 'r', reason: 'ok' }, verdict: { actionId: pulls.id, allowed: true, via: 'policy', ruleId: 'r', reason: 'ok' } } as unknown as RecordingRecord,
    {
      type: 'result', seq: 2, ts: '2026-12-05T01:00:00.040Z', prevHash: sha(2), hash: sha(3), actionId: pulls.id, summary: '201 Created', durationMs: 38.25,
      detail: { status: 201, headers: { 'content-type': 'application/json' }, body: { text: body, bytes: 2048, contentType: 'application/json', treatment: 'json' }, requestBytes: 120, maskReport: { cells: 3, byDetector: { email: 1, token: 1, 'payment-card': 1 }, nulled: 0 } },
    } as unknown as RecordingRecord,
    { type: 'action', seq: 3, ts: '2026-12-05T01:00:01.000Z', prevHash: sha(3), hash: sha(4), action: connect('registry.npmjs.org', 443), decision: { decision: 'allow', ruleId: 'egress-listed-allow', reason: 'listed' }, verdict: { actionId: 'act_c1', allowed: true, via: 'policy', ruleId: 'egress-listed-allow', reason: 'listed' } } as unknown as RecordingRecord,
    { type: 'result', seq: 4, ts: '2026-12-05T01:00:03.000Z', prevHash: sha(4), hash: sha(5), actionId: 'act_c1', summary: 'tunnel closed', durationMs: 2000, detail: { bytesUp: 2048, bytesDown: 5 * 1024 * 1024, closedBy: 'agent' } } as unknown as RecordingRecord,
    { type: 'action', seq: 5, ts: '2026-12-05T01:00:04.000Z', prevHash: sha(5), hash: sha(6), action: { ...push, id: 'act_p1' }, decision: { decision: 'deny', ruleId: 'git-force-push-deny', reason: 'force push' }, verdict: { actionId: 'act_p1', allowed: false, via: 'policy', ruleId: 'git-force-push-deny', reason: 'force push' } } as unknown as RecordingRecord,
  ];

  test('the timeline carries the response and the tunnel typed by kind', () => {
    const timeline = buildTimeline(records);
    const [req, tunnel] = timeline.entries;
    assert.equal(req?.result?.http?.status, 201);
    assert.equal(tunnel?.result?.tunnel?.bytesDown, 5 * 1024 * 1024);
    assert.deepEqual(timeline.protocols, ['http', 'egress']);
    assert.equal(HostMessage.safeParse({ type: 'replay.state', state: { timeline, truncated: false } }).success, true);
  });

  test('lane rows: method, host and path, status, duration, bytes; tunnels with bytes each way; a refused push', () => {
    const rows = httpLaneRows(buildTimeline(records).entries);
    assert.deepEqual(
      rows.map((r) => [r.method, r.where, r.status, r.failed, r.duration, r.bytes]),
      [
        ['POST', 'api.github.com/repos/a/b/pulls', '201', false, '38.3 ms', '2 KiB'],
        ['CONNECT', 'registry.npmjs.org:443', 'tunnel', false, '2000.0 ms', '↑ 2 KiB ↓ 5 MiB'],
        ['POST', 'git.internal/org/repo.git/git-receive-pack', 'denied', true, undefined, ''],
      ],
    );
  });

  test('the masked-data view of a response: status, headers, the body with only the marks its report counts', () => {
    const state = maskedResultFromRecords(pulls, records, 'allowed');
    const http = state.result?.http;
    assert.ok(http);
    const v = httpResponseView(http, true);
    assert.deepEqual([v.status, v.ok, v.transfer], ['201', true, '120 bytes up, 2 KiB down']);
    const segments = maskSegments(v.body!.text!, state.result?.maskReport);
    assert.deepEqual(segments.filter((s) => s.maskedBy).map((s) => [s.text, s.maskedBy]), [['[EMAIL]', 'email'], ['[TOKEN]', 'token'], ['****1111', 'payment-card']], 'the [PHONE] the upstream wrote is not a mark: no phone was masked');
    assert.equal(segments.map((s) => s.text).join(''), v.body!.text, 'the text is kept whole');
    assert.equal(HostMessage.safeParse({ type: 'masked.state', state }).success, true);
  });

  test('column-rule and custom labels are marks too; nothing masked, no marks', () => {
    assert.deepEqual(maskSegments('{"ssn":"[customer-ssn]"}', { cells: 1, byDetector: { 'customer-ssn': 1 }, nulled: 0 }).filter((s) => s.maskedBy).map((s) => s.text), ['[customer-ssn]']);
    assert.deepEqual(maskSegments('[EMAIL] ****1234', undefined), [{ text: '[EMAIL] ****1234' }]);
    assert.equal(tunnelLine({ bytesUp: 10, bytesDown: 0, closedBy: 'limit' }), '↑ 10 bytes ↓ 0 bytes, closed by a limit');
  });

  test('a response that never came says so', () => {
    assert.match(httpResponseView({ requestBytes: 0 }, true).status, /no response/);
    const headerOnly = httpResponseView({ status: 200, headers: { 'Content-Type': 'application/json' }, body: { text: '{"a":1}', bytes: 7, treatment: 'json' }, requestBytes: 0 }, true);
    assert.deepEqual([headerOnly.body?.contentType, headerOnly.body?.text], ['application/json', '{\n  "a": 1\n}'], "the header's content type when the body has none");
  });
});

describe('the replay list names HTTP entries like the views do', () => {
  test('a timeline entry reads by its parsed detail; a short SQL summary stays as written', () => {
    assert.equal(parsedHeadline(actionDetail(star), star, 200), 'GraphQL mutation addStar');
    const sql: Action = { ...pulls, protocol: 'postgres', kind: 'sql.query', summary: 'SELECT 1', detail: { sql: 'SELECT 1' } };
    assert.equal(parsedHeadline(actionDetail(sql), sql, 200), 'SELECT 1');
  });
});

describe('HTTP details an agent could shape to mislead', () => {
  test('a header value carrying a line break shows on its one row, not as a header of its own', () => {
    const sneaky = request({ method: 'GET', url: 'u', host: 'h', path: '/', headers: { 'x-note': 'fine\r\nX-Approved-By: security-team' } });
    const rows = httpRequestView(parsedRequest(sneaky).detail, true).headers;
    assert.deepEqual(rows, [{ name: 'x-note', value: 'fine X-Approved-By: security-team' }]);
  });

  test('a WebSocket upgrade reads as one, with its subprotocols; its frames are said to pass uninspected', () => {
    const ws: Action = { ...pulls, kind: 'http.websocket', detail: { ...pulls.detail, method: 'GET', url: 'wss://api.example/socket', host: 'api.example', path: '/socket', protocols: ['graphql-ws'] } };
    assert.equal(actionHeadline(ws, 80), 'WebSocket api.example/socket');
    const parsed = actionDetail(ws);
    assert.equal(parsed.kind, 'http.websocket');
    assert.deepEqual(httpRequestView((parsed as ParsedOf<'http.websocket'>).detail, true).protocols, ['graphql-ws']);
    assert.match(activityItem({ action: ws, status: 'denied' }).tooltip, /frames are not inspected/);
    assert.equal(activityItem({ action: ws, status: 'denied' }).icon, 'radio-tower');
  });

  test('an HTTP detail that does not match its schema is shown as recorded, never dropped', () => {
    const broken = request({ method: 7, url: 'u', host: 'h', path: '/' });
    const parsed = actionDetail(broken);
    assert.equal(parsed.kind, 'other');
    assert.equal(actionHeadline(broken, 80), 'a summary the adapter wrote', "the daemon's summary is all there is");
  });
});
