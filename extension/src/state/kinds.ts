import {
  classTally,
  describeCut,
  digestLabel,
  formatBytes,
  listStatements,
  oneLineText,
  parseActionDetail,
  printable,
  relationDisplayName,
  type Action,
  type AttributeValue,
  type ParsedActionDetail,
  type SqlStatementClass,
} from '@airlock/shared';
import { connectLine, hostPort, httpRequestLine, shortOid, websocketLine } from './http-views.js';
import { k8sExecLine, k8sPortForwardLine, k8sRequestLine } from './k8s.js';

/**
 * How each action kind reads to a person, from its detail as the shared schemas type it (STYLE.md
 * point 2). Pure: the tree views, notifications and both webviews render through these, so there
 * is one kind → renderer map and no probing of untyped details anywhere else.
 */

export type ActionDetailKind = ParsedActionDetail['kind'];
export type ParsedOf<K extends ActionDetailKind> = Extract<ParsedActionDetail, { kind: K }>;
/** A table with one entry per kind (and `other`): a kind added to the shared registry fails to compile until it has one. */
export type KindMap<R> = { [K in ActionDetailKind]: (parsed: ParsedOf<K>, action: Pick<Action, 'summary' | 'attributes'>) => R };

export function byKind<R>(map: KindMap<R>, parsed: ParsedActionDetail, action: Pick<Action, 'summary' | 'attributes'>): R {
  return (map[parsed.kind] as (p: ParsedActionDetail, a: Pick<Action, 'summary' | 'attributes'>) => R)(parsed, action);
}

// Parsed once per action object: the tree views re-render every item on every event, and the
// detail of an action never changes once the daemon has published it.
const parsedByDetail = new WeakMap<object, { kind: string; parsed: ParsedActionDetail }>();

/** The action's detail typed by its kind (`other` when the kind is unknown or the detail does not match its schema). */
export function actionDetail(action: Pick<Action, 'kind' | 'detail'>): ParsedActionDetail {
  const cached = parsedByDetail.get(action.detail);
  // keyed by the detail object, checked against the kind: a copy of an action may share its detail under another kind
  if (cached && cached.kind === action.kind) return cached.parsed;
  const parsed = parseActionDetail(action);
  parsedByDetail.set(action.detail, { kind: action.kind, parsed });
  return parsed;
}

/** One line, unprintable characters escaped, cut at `max`. */
export function oneLine(text: string, max = 80): string {
  const flat = oneLineText(text);
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

function endpointLine(d: { agentUser: string; upstream: string }): string {
  return `as ${oneLineText(d.agentUser)} to ${oneLineText(d.upstream)}`;
}

// ---- tree items and notifications ------------------------------------------------------------------

/**
 * An action in at most `max` characters when the daemon's summary does not fit. SQL never hides a
 * statement behind the head of a text: its statement list, strictest first; the others cut the
 * summary (an SSH summary is its command line, which the approval panel shows whole).
 */
const LONG_HEADLINES: KindMap<(max: number) => string> = {
  'sql.query': (p, a) => (max) =>
    p.detail.statements && p.detail.statements.length > 0 ? listStatements(p.detail.statements.map((s) => ({ label: digestLabel(s), class: s.class })), max) : oneLine(a.summary, max),
  'sql.function-call': (_p, a) => (max) => oneLine(a.summary, max),
  'ssh.exec': (_p, a) => (max) => oneLine(a.summary, max),
  'ssh.shell': (_p, a) => (max) => oneLine(a.summary, max),
  'ssh.sftp': (_p, a) => (max) => oneLine(a.summary, max),
  'ssh.forward': (_p, a) => (max) => oneLine(a.summary, max),
  'ssh.request': (_p, a) => (max) => oneLine(a.summary, max),
  'http.request': (p) => (max) => oneLine(httpRequestLine(p.detail), max),
  'http.connect': (p) => (max) => oneLine(connectLine(p.detail), max),
  'http.websocket': (p) => (max) => oneLine(websocketLine(p.detail), max),
  'k8s.request': (p, a) => (max) => oneLine(k8sRequestLine(p.detail, a.attributes), max),
  'k8s.exec': (p) => (max) => oneLine(k8sExecLine(p.detail), max),
  'k8s.portforward': (p) => (max) => oneLine(k8sPortForwardLine(p.detail), max),
  other: (_p, a) => (max) => oneLine(a.summary, max),
};

/** The kind's line for an action whose detail is parsed already (a replay timeline entry carries its detail parsed). */
export function parsedLongHeadline(parsed: ParsedActionDetail, action: Pick<Action, 'summary' | 'attributes'>, max: number): string {
  return byKind(LONG_HEADLINES, parsed, action)(max);
}

/**
 * Kinds whose line is made from their detail even when the daemon's summary fits: an HTTP action
 * reads by what it does (method and path, its GraphQL operations, the refs a push changes), and the
 * same words in every view, whichever adapter summarised it.
 */
const HEADLINE_FROM_DETAIL: KindMap<boolean> = {
  'sql.query': () => false,
  'sql.function-call': () => false,
  'ssh.exec': () => false,
  'ssh.shell': () => false,
  'ssh.sftp': () => false,
  'ssh.forward': () => false,
  'ssh.request': () => false,
  'http.request': () => true,
  'http.connect': () => true,
  'http.websocket': () => true,
  'k8s.request': () => false,
  'k8s.exec': () => false,
  'k8s.portforward': () => false,
  other: () => false,
};

export function headlineFromDetail(parsed: ParsedActionDetail, action: Pick<Action, 'summary' | 'attributes'>): boolean {
  return byKind(HEADLINE_FROM_DETAIL, parsed, action);
}

/** What a tree item's tooltip adds about the action, beyond kind, target and decision. */
const TOOLTIP_LINES: KindMap<string[]> = {
  'sql.query': (p) => (p.detail.user || p.detail.database ? [`as ${oneLineText(p.detail.user ?? '?')} on database ${oneLineText(p.detail.database ?? '?')}`] : []),
  'sql.function-call': () => ['a FunctionCall protocol message: a function called by OID'],
  'ssh.exec': (p) => [
    `$ ${oneLine(p.detail.command, 500)}${p.detail.commandCut ? ` (${describeCut(p.detail.commandCut, 'command')})` : ''}`,
    ...(p.detail.pathsWritten.length > 0 ? [`writes ${p.detail.pathsWritten.map((x) => oneLineText(x)).join(', ')}`] : []),
    endpointLine(p.detail),
  ],
  'ssh.shell': (p) => [`interactive shell${p.detail.pty ? ` (${shellPty(p.detail.pty)})` : ''}: the whole session is recorded`, endpointLine(p.detail)],
  'ssh.sftp': (p) => [`sftp ${sftpLine(p.detail)}`, endpointLine(p.detail)],
  'ssh.forward': (p) => [forwardLine(p.detail), endpointLine(p.detail)],
  'ssh.request': (p) => [requestLine(p.detail), endpointLine(p.detail)],
  'http.request': (p) => httpTooltip(p.detail),
  'http.connect': (p) => [`tunnel to ${hostPort(p.detail.host, p.detail.port)} (${p.detail.destination}); TLS inside is not intercepted`, ...(p.detail.addresses.length > 0 ? [`resolved to ${p.detail.addresses.map(oneLineText).join(', ')}`] : [])],
  'http.websocket': (p) => [...httpTooltip(p.detail), 'WebSocket: frames are not inspected, only counted'],
  'k8s.request': (p) => [
    oneLine(`${p.detail.method} ${p.detail.path}`, 500),
    ...(p.detail.dryRun ? ['server-side dry run: nothing is changed'] : []),
    ...(p.detail.impersonate.length > 0 ? [`asked to impersonate ${p.detail.impersonate.map((x) => oneLineText(x)).join(', ')} (headers removed)`] : []),
  ],
  'k8s.exec': (p) => [
    `${p.detail.operation} in pod ${oneLineText(p.detail.namespace)}/${oneLineText(p.detail.pod)}${p.detail.container !== undefined ? ` container ${oneLineText(p.detail.container)}` : ''}`,
    `${p.detail.stdin ? 'stdin' : 'no stdin'}, ${p.detail.tty ? 'tty' : 'no tty'}: the session is recorded as a terminal clip`,
  ],
  'k8s.portforward': (p) => [`ports ${p.detail.ports.map((x) => oneLineText(x)).join(', ')}: bytes are counted, content is not kept`],
  other: (p) => (p.problem ? [p.problem] : []),
};

export function tooltipLines(action: Action): string[] {
  return byKind(TOOLTIP_LINES, actionDetail(action), action);
}

/** Codicon per kind, for kinds that read better with their own than with their protocol's. */
const KIND_ICONS: KindMap<string | undefined> = {
  'sql.query': () => undefined,
  'sql.function-call': () => 'symbol-function',
  'ssh.exec': () => undefined,
  'ssh.shell': () => 'terminal-bash',
  'ssh.sftp': () => 'files',
  'ssh.forward': () => 'plug',
  'ssh.request': () => 'settings-gear',
  'http.request': (p) => (p.detail.git ? 'git-commit' : p.detail.graphql ? 'symbol-namespace' : undefined),
  'http.connect': () => 'arrow-swap',
  'http.websocket': () => 'radio-tower',
  'k8s.request': () => undefined,
  'k8s.exec': () => 'terminal',
  'k8s.portforward': () => 'plug',
  other: () => undefined,
};

export function kindCodicon(action: Action): string | undefined {
  return byKind(KIND_ICONS, actionDetail(action), action);
}

// ---- detail views (approval panel, replay) ----------------------------------------------------------

/** One statement of a held SQL action as the approval panel lists it; text made safe to show. */
export interface StatementView {
  /** "DROP TABLE victim", "SELECT FROM orders, customers" */
  label: string;
  command: string;
  class: SqlStatementClass;
  /** relations touched, quoted when not plain identifiers */
  tables: string[];
  /** why the statement has its class */
  reasons: string[];
}

export interface SqlQueryView {
  /** the whole statement; a text the daemon cut starts with a line saying so, how long it was and its SHA-256 */
  text: string;
  statements: StatementView[];
  /** "3 statements: 1 ddl, 1 write, 1 read" */
  tally?: string;
  /** why there is no statement list: the parser rejected the text, or it is empty */
  note?: string;
  /** extended protocol: the bound parameters ($1 = …), masked as recorded */
  params: string[];
  /** user@database · application */
  connection?: string;
}

export function sqlQueryView(p: ParsedOf<'sql.query'>): SqlQueryView {
  const d = p.detail;
  const text = d.sqlCut ? `-- … ${describeCut(d.sqlCut, 'statement')}\n${d.sql}` : d.sql;
  const statements = (d.statements ?? []).map(
    (s): StatementView => ({ label: digestLabel(s), command: oneLineText(s.command), class: s.class, tables: s.tables.map(relationDisplayName), reasons: s.reasons.map(oneLineText) }),
  );
  const omitted = d.statementsOmitted ? ` and ${d.statementsOmitted} more not listed` : '';
  let note: string | undefined;
  if (statements.length === 0) {
    if (d.parseError !== undefined) note = `Not classified (unknown): ${oneLineText(d.parseError)}`;
    else if (d.statements !== undefined) note = 'No statement: the text is empty or only comments.';
  }
  const params = (d.params ?? []).map((v, i) => {
    const cut = d.paramCuts?.find((c) => c.index === i);
    return `$${i + 1} = ${v === null ? 'NULL' : printable(v)}${cut ? ` (${describeCut(cut, 'value')})` : ''}`;
  });
  const connection = d.user || d.database ? `${d.user ?? '?'}@${d.database ?? '?'}${d.applicationName ? ` · ${d.applicationName}` : ''}` : undefined;
  return {
    text,
    statements,
    ...(statements.length > 0 ? { tally: `${classTally(statements)}${omitted}` } : {}),
    ...(note ? { note } : {}),
    params,
    ...(connection ? { connection: oneLineText(connection) } : {}),
  };
}

export interface SshPartView {
  /** the wrapper chain down to this command: "sudo → bash -c → rm" */
  chain: string;
  /** its words as written, on one line */
  argv: string;
  class: string;
  reasons: string[];
  /** run by a wrapper (sudo, bash -c, env, xargs, …) rather than by the line itself */
  wrapped: boolean;
}

export interface SshExecView {
  /** the command line exactly as the upstream runs it; characters that could hide text shown as \u{…} */
  command: string;
  cutNotice?: string;
  /** the line's class as policy saw it (the action's `class` attribute) */
  class?: string;
  parts: SshPartView[];
  pathsWritten: string[];
  env: [string, string][];
  pty: boolean;
  parseError?: string;
  endpoint: string;
}

export function sshExecView(p: ParsedOf<'ssh.exec'>, attributes: Record<string, AttributeValue> = {}): SshExecView {
  const d = p.detail;
  const cls = attributes['class'];
  return {
    command: printable(d.command),
    ...(d.commandCut ? { cutNotice: describeCut(d.commandCut, 'command') } : {}),
    ...(typeof cls === 'string' ? { class: cls } : {}),
    parts: d.parts.map((part) => ({
      chain: [...part.via, part.program ?? '(computed)'].map((w) => oneLineText(w)).join(' → '),
      argv: oneLineText(part.argv.join(' ')),
      class: part.class,
      reasons: part.reasons.map(oneLineText),
      wrapped: part.via.length > 0,
    })),
    pathsWritten: d.pathsWritten.map(printable),
    env: Object.entries(d.env ?? {}).map(([k, v]) => [printable(k), printable(v)]),
    pty: d.pty,
    ...(d.parseError !== undefined ? { parseError: oneLineText(d.parseError) } : {}),
    endpoint: endpointLine(d),
  };
}

function shellPty(pty: { term: string; cols: number; rows: number }): string {
  return `${oneLineText(pty.term)} ${pty.cols}×${pty.rows}`;
}

export interface SshShellView {
  pty?: string;
  note: string;
  endpoint: string;
}

export function sshShellView(p: ParsedOf<'ssh.shell'>): SshShellView {
  return { ...(p.detail.pty ? { pty: shellPty(p.detail.pty) } : {}), note: 'Interactive shell: the whole session is recorded (its output and input play in the replay\'s terminal lane).', endpoint: endpointLine(p.detail) };
}

function sftpLine(d: ParsedOf<'ssh.sftp'>['detail']): string {
  return `${d.operation} ${printable(d.path)}${d.toPath !== undefined ? ` → ${printable(d.toPath)}` : ''}${d.flags && d.flags.length > 0 ? ` (${d.flags.join(', ')})` : ''}`;
}

export interface SshSftpView {
  operation: string;
  path: string;
  toPath?: string;
  flags: string[];
  attrs: [string, string][];
  endpoint: string;
}

export function sshSftpView(p: ParsedOf<'ssh.sftp'>): SshSftpView {
  const d = p.detail;
  return {
    operation: d.operation,
    path: printable(d.path),
    ...(d.toPath !== undefined ? { toPath: printable(d.toPath) } : {}),
    flags: (d.flags ?? []).map(oneLineText),
    attrs: Object.entries(d.attrs ?? {}).map(([k, v]) => [oneLineText(k), k === 'mode' && typeof v === 'number' ? `0${v.toString(8)}` : oneLineText(String(v))]),
    endpoint: endpointLine(d),
  };
}

const FORWARD_NAMES: Record<ParsedOf<'ssh.forward'>['detail']['forward'], string> = {
  'direct-tcpip': 'local port forward (ssh -L) to',
  'tcpip-forward': 'remote port forward (ssh -R) on',
  streamlocal: 'unix socket forward to',
  'auth-agent': 'agent forwarding (ssh -A)',
  x11: 'X11 forwarding',
};

function forwardAddress(d: ParsedOf<'ssh.forward'>['detail']): string | undefined {
  if (d.socketPath !== undefined) return printable(d.socketPath);
  if (d.host === undefined && d.port === undefined) return undefined;
  const host = d.host ?? '*';
  return `${host.includes(':') ? `[${oneLineText(host)}]` : oneLineText(host)}:${d.port ?? '?'}`;
}

/** The request line, then what a tooltip adds: the override, GraphQL operations, pushed refs, the body. */
function httpTooltip(d: ParsedOf<'http.request'>['detail']): string[] {
  return [
    oneLine(`${d.method} ${d.url}`, 500),
    ...(d.methodOverride ? [`method override: ${oneLineText(d.methodOverride)}`] : []),
    ...(d.graphql?.parseError !== undefined ? [`GraphQL that does not parse (unknown): ${oneLine(d.graphql.parseError, 200)}`] : []),
    ...(d.git ? d.git.refs.map((r) => `${oneLineText(r.ref)}: ${shortOid(r.oldOid)} → ${shortOid(r.newOid)} (${r.change})`) : []),
    ...(d.body && d.body.treatment !== 'none' ? [`body: ${d.body.contentType ? `${oneLineText(d.body.contentType)}, ` : ''}${d.body.bytes === null ? 'did not end' : formatBytes(d.body.bytes)}`] : []),
    `via ${d.via === 'egress' ? 'the egress proxy' : 'an API target'}`,
  ];
}

function forwardLine(d: ParsedOf<'ssh.forward'>['detail']): string {
  const address = forwardAddress(d);
  return `${FORWARD_NAMES[d.forward]}${address ? ` ${address}` : ''}`;
}

export interface SshForwardView {
  what: string;
  address?: string;
  endpoint: string;
}

export function sshForwardView(p: ParsedOf<'ssh.forward'>): SshForwardView {
  const address = forwardAddress(p.detail);
  return { what: FORWARD_NAMES[p.detail.forward], ...(address ? { address } : {}), endpoint: endpointLine(p.detail) };
}

function requestLine(d: ParsedOf<'ssh.request'>['detail']): string {
  return d.request === 'subsystem' ? `subsystem ${oneLineText(d.name)}` : `env ${oneLineText(d.name)}=${oneLineText(d.value ?? '')}`;
}

export interface SshRequestView {
  request: string;
  line: string;
  endpoint: string;
}

export function sshRequestView(p: ParsedOf<'ssh.request'>): SshRequestView {
  return { request: p.detail.request, line: requestLine(p.detail), endpoint: endpointLine(p.detail) };
}

/** A field shown as recorded: strings as they are (escaped), anything else as JSON, bounded. */
const FIELD_CHARS = 4_000;

export interface OtherView {
  /** why this detail is not shown by its kind's view */
  problem?: string;
  fields: [string, string][];
}

export function otherView(p: ParsedOf<'other'>): OtherView {
  const fields = Object.entries(p.detail).map(([k, v]): [string, string] => {
    const text = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
    return [oneLineText(k), printable(text.length > FIELD_CHARS ? `${text.slice(0, FIELD_CHARS - 1)}…` : text)];
  });
  return { ...(p.problem ? { problem: p.problem } : {}), fields };
}

/** The text a detail view leads with (what a copy or a search would want): the statement, the command line, else the summary. */
const MAIN_TEXT: KindMap<string> = {
  'sql.query': (p) => sqlQueryView(p).text,
  'sql.function-call': (_p, a) => a.summary,
  'ssh.exec': (p) => p.detail.command,
  'ssh.shell': (_p, a) => a.summary,
  'ssh.sftp': (p) => `sftp ${sftpLine(p.detail)}`,
  'ssh.forward': (p) => forwardLine(p.detail),
  'ssh.request': (p) => requestLine(p.detail),
  'http.request': (p) => `${p.detail.method} ${p.detail.url}`,
  'http.connect': (p) => connectLine(p.detail),
  'http.websocket': (p) => `WebSocket ${p.detail.method} ${p.detail.url}`,
  'k8s.request': (p, a) => k8sRequestLine(p.detail, a.attributes),
  'k8s.exec': (p) => k8sExecLine(p.detail),
  'k8s.portforward': (p) => k8sPortForwardLine(p.detail),
  other: (_p, a) => a.summary,
};

export function mainText(action: Action): string {
  return byKind(MAIN_TEXT, actionDetail(action), action);
}
