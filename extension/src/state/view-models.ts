import type { Approval, Protocol } from '@airlock/shared';
import type { ActivityEntry } from './airlock-state.js';

/** Codicon per protocol (tree items and webviews); a protocol added later gets the generic plug until it has its own. */
const PROTOCOL_ICONS: Record<Protocol, string> = { postgres: 'database', ssh: 'terminal', kubernetes: 'server-environment', http: 'globe' };

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

export function oneLine(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

export function approvalItem(approval: Approval, now: number): TreeItemModel {
  const a = approval.action;
  return {
    id: approval.id,
    label: oneLine(a.summary),
    description: `${a.target} · ${approval.ruleId} · ${timeLeft(approval.expiresAt, now)}`,
    tooltip: `${a.kind} on ${a.target} held by rule "${approval.ruleId}": ${approval.reason}\n\n${a.summary}`,
    icon: protocolCodicon(a.protocol),
    contextValue: 'airlock.pendingApproval',
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
    label: oneLine(a.summary),
    description: parts.join(' · '),
    tooltip: `${a.kind} on ${a.target} at ${a.at}\n${decisionLabel(entry)}${entry.verdict ? ` — ${entry.verdict.reason}` : ''}${entry.result ? `\nresult: ${entry.result.summary}` : ''}`,
    icon: protocolCodicon(a.protocol),
    contextValue: entry.status === 'held' ? 'airlock.heldAction' : 'airlock.action',
  };
}

/** The status bar: connected / N pending / disconnected. */
export function statusBarText(connected: boolean, pending: number): { text: string; tooltip: string } {
  if (!connected) return { text: '$(debug-disconnect) Airlock', tooltip: 'Airlock: no daemon running. Click to start it.' };
  if (pending > 0) return { text: `$(shield) Airlock: ${pending} pending`, tooltip: `${pending} agent action(s) wait for your approval` };
  return { text: '$(shield) Airlock', tooltip: 'Airlock: connected to the daemon' };
}
