import { describeDifferences, oneLineText, type Action, type Approval, type ApprovalScope, type ParsedActionDetail, type PendingPolicyChange, type Protocol } from '@airlock/shared';
import type { ActivityEntry } from './airlock-state.js';
import { actionDetail, headlineFromDetail, kindCodicon, oneLine, parsedLongHeadline, tooltipLines } from './kinds.js';
import { hostPort } from './http-views.js';

export { oneLine };

/** Codicon per protocol (tree items and webviews); a protocol added later gets the generic plug until it has its own. */
const PROTOCOL_ICONS: Record<Protocol, string> = { postgres: 'database', ssh: 'terminal', kubernetes: 'server-environment', http: 'globe', egress: 'cloud-upload' };

export function protocolCodicon(protocol: Protocol): string {
  return PROTOCOL_ICONS[protocol] ?? 'plug';
}

export interface TreeItemModel {
  id: string;
  label: string;
  description: string;
  tooltip: string;
  icon: string;
  contextValue: string;
}

export function timeLeft(expiresAt: string, now: number): string {
  const ms = Date.parse(expiresAt) - now;
  if (ms <= 0) return 'timing out';
  const s = Math.ceil(ms / 1000);
  return s < 60 ? `${s}s left` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s left`;
}

/**
 * An action in at most `max` characters that never hides a statement behind the head of a text:
 * the daemon's summary when it fits (a short statement as written, or its statement list), else
 * what its kind's renderer makes of it (for SQL, the statement list bounded to `max`, strictest
 * statements named first and the rest counted by class: "DROP TABLE victim (ddl); … and 499 more: 499 read").
 */
export function actionHeadline(action: Action, max: number): string {
  return parsedHeadline(actionDetail(action), action, max);
}

/** actionHeadline for a detail parsed already: what the replay's list shows for a timeline entry. */
export function parsedHeadline(parsed: ParsedActionDetail, action: Pick<Action, 'summary' | 'attributes'>, max: number): string {
  if (headlineFromDetail(parsed, action)) return parsedLongHeadline(parsed, action, max);
  const summary = oneLineText(action.summary);
  return summary.length <= max ? summary : parsedLongHeadline(parsed, action, max);
}

export interface ApprovalChoice {
  scope: ApprovalScope;
  label: string;
  /** what the choice lets through, for a tooltip */
  explains: string;
}

export interface ApprovalPrompt {
  /** the question a kind asks instead of "Agent wants to run …" (egress: may the agent reach this host?) */
  question?: string;
  /** the approving choices, the one to offer first (the primary button) first; Deny follows them */
  choices: ApprovalChoice[];
  /** of those, what a notification offers (a toast has room for few buttons) */
  notify: ApprovalChoice[];
}

/**
 * The approving answers an approval offers, in order. A CONNECT through the egress proxy asks
 * whether the agent may reach a host and port; the natural answer is "for this session" (the
 * session grant covers that host and port only, by the action's grant key), so it comes first.
 * Everything else offers once first.
 */
export function approvalPrompt(approval: Approval): ApprovalPrompt {
  const a = approval.action;
  const parsed = actionDetail(a);
  const granted = a.grantKey !== undefined ? oneLineText(a.grantKey) : undefined;
  const session: ApprovalChoice = {
    scope: 'session',
    label: 'Approve for the session',
    explains: granted !== undefined ? `Also let this session's later actions for ${granted} under rule ${approval.ruleId} through` : `Also let this session's later actions under rule ${approval.ruleId} through`,
  };
  if (parsed.kind === 'http.connect') {
    const where = hostPort(parsed.detail.host, parsed.detail.port);
    const choices: ApprovalChoice[] = [
      { ...session, label: 'Allow for the session', explains: `Let this agent session reach ${where} from now on (other hosts still ask)` },
      { scope: 'once', label: 'Allow once', explains: `Let this one connection to ${where} through; the next one asks again` },
    ];
    return { question: `Allow the agent to reach ${where} for this session?`, choices, notify: choices };
  }
  const once: ApprovalChoice = { scope: 'once', label: 'Approve', explains: 'Let this action through' };
  return { choices: [once, session], notify: [once] };
}

function actionIcon(action: Action): string {
  return kindCodicon(action) ?? protocolCodicon(action.protocol);
}

/** Tree labels are read at a glance; the tooltip carries the longer list. */
const TREE_LABEL_CHARS = 80;
const TOOLTIP_CHARS = 1_000;

export function approvalItem(approval: Approval, now: number): TreeItemModel {
  const a = approval.action;
  return {
    id: approval.id,
    label: actionHeadline(a, TREE_LABEL_CHARS),
    description: `${a.target} · ${approval.ruleId} · ${timeLeft(approval.expiresAt, now)}`,
    tooltip: [`${a.kind} on ${a.target} held by rule "${approval.ruleId}": ${oneLineText(approval.reason)}`, '', actionHeadline(a, TOOLTIP_CHARS), ...tooltipLines(a)].join('\n'),
    icon: actionIcon(a),
    // the view's inline buttons follow the kind's order: an egress CONNECT offers the session grant before once
    contextValue: approvalPrompt(approval).choices[0]?.scope === 'session' ? 'airlock.pendingApproval.sessionFirst' : 'airlock.pendingApproval',
  };
}

/** How a decided approval went, as a person would say it: "approved by ada (cli)". */
export function approvalOutcome(approval: Approval): string {
  const r = approval.resolution;
  const who = r ? `${r.by}${r.via !== 'system' ? ` (${r.via})` : ''}` : 'someone';
  switch (approval.status) {
    case 'pending':
      return 'waiting for approval';
    case 'approved':
      return `approved ${r?.scope === 'session' ? 'for the session ' : ''}by ${who}`;
    case 'denied':
      return `denied by ${who}${r?.reason ? `: ${r.reason}` : ''}`;
    case 'expired':
      return 'denied: nobody decided in time';
    case 'cancelled':
      return `cancelled${r?.reason ? ` (${r.reason})` : ''}`;
  }
}

/** How an action ended, as a person would say it. */
export function decisionLabel(entry: ActivityEntry): string {
  if (entry.status === 'held') return 'held for approval';
  const v = entry.verdict;
  if (!v) return entry.status;
  switch (v.via) {
    case 'grant':
      return `allowed by grant${v.decidedBy ? ` from ${v.decidedBy.by}` : ''}`;
    case 'approval':
      return `${v.allowed ? 'approved' : 'denied'} by ${v.decidedBy?.by ?? 'a reviewer'}`;
    case 'timeout':
      return 'denied: no decision in time';
    case 'cancelled':
      return 'cancelled';
    case 'error':
      return 'refused: error';
    case 'policy':
      return v.allowed ? 'allowed' : `denied by rule ${v.ruleId}`;
  }
}

export function activityItem(entry: ActivityEntry): TreeItemModel {
  const a = entry.action;
  const masked = entry.result?.maskReport?.cells ?? 0;
  const parts = [a.target, decisionLabel(entry)];
  if (masked > 0) parts.push(`${masked} masked`);
  return {
    id: a.id,
    label: actionHeadline(a, TREE_LABEL_CHARS),
    description: parts.join(' · '),
    tooltip: [
      `${a.kind} on ${a.target} at ${a.at}`,
      ...tooltipLines(a),
      `${decisionLabel(entry)}${entry.verdict ? ` — ${entry.verdict.reason}` : ''}`,
      ...(entry.result ? [`result: ${entry.result.summary}`] : []),
    ].join('\n'),
    icon: actionIcon(a),
    contextValue: entry.status === 'held' ? 'airlock.heldAction' : 'airlock.action',
  };
}

/** Notifications are one sentence; VS Code shows at most 1,000 characters of one. */
const NOTICE_ACTION_CHARS = 400;

/** The notification of a held action: what, where, every non-read statement (or their count by class), and the rule. */
export function approvalNotice(approval: Approval): string {
  const a = approval.action;
  const question = approvalPrompt(approval).question;
  if (question) return `${question} (${a.kind} on "${a.target}", held by rule "${approval.ruleId}")`;
  return `Agent wants to run ${a.kind} on "${a.target}": ${actionHeadline(a, NOTICE_ACTION_CHARS)} (held by rule "${approval.ruleId}")`;
}

/** The status bar: connected / N pending / disconnected. */
/** The notification, status bar and modal texts for a staged change that loosens enforcement. */
export function policyChangeTexts(change: PendingPolicyChange): { notice: string; statusBar: string; tooltip: string; question: string; detail: string } {
  const loosening = change.differences.filter((d) => d.direction === 'loosening').length;
  const files = change.files.map((f) => f.split(/[\\/]/).pop() ?? f).join(', ');
  const ways = `${loosening} way${loosening === 1 ? '' : 's'}`;
  return {
    notice: `Airlock: a change to ${files} loosens enforcement (${ways}). The previous policy stays in force until you confirm it.`,
    statusBar: '$(warning) Airlock: policy change waiting',
    tooltip: `A change to ${files} loosens enforcement in ${ways} and waits for your confirmation. Click to review it.`,
    question: `Apply the change to ${files}? It loosens what Airlock enforces.`,
    detail: `${describeDifferences(change.differences)}\n\nChange ${change.hash.slice(0, 12)}, staged ${change.stagedAt}. Whoever edited the file (you, or an agent running as you), applying it is recorded in every open session's log.`,
  };
}

export function statusBarText(connected: boolean, pending: number): { text: string; tooltip: string } {
  if (!connected) return { text: '$(debug-disconnect) Airlock', tooltip: 'Airlock: no daemon running. Click to start it.' };
  if (pending > 0) return { text: `$(shield) Airlock: ${pending} pending`, tooltip: `${pending} agent action(s) wait for your approval` };
  return { text: '$(shield) Airlock', tooltip: 'Airlock: connected to the daemon' };
}
