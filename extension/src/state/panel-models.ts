import type { Action, Approval, RecordingRecord } from '@airlock/shared';
import type { ApprovalPanelState, MaskedResultState, TimelineEntry } from '../protocol/webview-messages.js';
import type { ActivityEntry } from './airlock-state.js';
import { actionDetail } from './kinds.js';
import { buildTimeline } from './timeline.js';
import { actionHeadline, approvalOutcome, decisionLabel } from './view-models.js';

/** What the approval panel shows: the held action, its session's latest other actions, and how it ended. */
export function approvalPanelState(approval: Approval, sessionActivity: readonly ActivityEntry[], recentLimit = 10): ApprovalPanelState {
  return {
    approval,
    detail: actionDetail(approval.action),
    recent: sessionActivity
      .filter((e) => e.action.id !== approval.action.id)
      .slice(0, recentLimit)
      .map((e) => ({ id: e.action.id, at: e.action.at, protocol: e.action.protocol, summary: actionHeadline(e.action, 160), outcome: decisionLabel(e) })),
    outcome: approval.status === 'pending' ? undefined : approvalOutcome(approval),
  };
}

/** The masked-data view of an action from its recorded lines (the result record holds the masked first rows). */
export function maskedResultFromRecords(action: Action, records: readonly RecordingRecord[], fallbackOutcome: string): MaskedResultState {
  const entry = buildTimeline(records).entries.find((e) => e.actionId === action.id);
  return maskedResultFromEntry(action, entry, fallbackOutcome);
}

export function maskedResultFromEntry(action: Action, entry: TimelineEntry | undefined, fallbackOutcome: string): MaskedResultState {
  const outcome = entry ? timelineOutcome(entry) : fallbackOutcome;
  if (!entry?.result) {
    const note = entry?.status === 'denied' ? 'The action was refused: no result reached the agent.' : entry?.status === 'held' ? 'The action is waiting for approval.' : 'No result is recorded for this action (yet).';
    return { action, outcome, note };
  }
  const sample = entry.result.sample;
  if (entry.result.http || entry.result.tunnel) {
    const http = entry.result.http;
    const note = http && !http.body ? 'The response had no body.' : http?.body?.treatment === 'binary' ? 'A binary body: it passed unmasked and is not recorded.' : undefined;
    return { action, outcome, result: entry.result, ...(note ? { note } : {}) };
  }
  if (entry.result.k8s || entry.result.k8sExec || entry.result.k8sPortForward) return { action, outcome, result: entry.result };
  const note = !sample || sample.rows.length === 0 ? (entry.result.error ? undefined : 'The result had no rows.') : sample.truncated ? `The first ${sample.rows.length} of ${entry.result.rowCount ?? 'more'} rows were recorded.` : undefined;
  return { action, outcome, result: entry.result, ...(note ? { note } : {}) };
}

/** How a recorded action ended, in the words of the live activity view. */
export function timelineOutcome(entry: TimelineEntry): string {
  if (entry.status === 'held') return 'held for approval';
  if (entry.approval && entry.approval.status !== 'pending') {
    const a = entry.approval;
    if (a.status === 'approved') return `approved ${a.scope === 'session' ? 'for the session ' : ''}by ${a.by ?? 'a reviewer'}`;
    if (a.status === 'denied') return `denied by ${a.by ?? 'a reviewer'}${a.reason ? `: ${a.reason}` : ''}`;
    if (a.status === 'expired') return 'denied: no decision in time';
    return 'cancelled';
  }
  if (entry.via === 'grant') return `allowed by grant${entry.decidedBy ? ` from ${entry.decidedBy}` : ''}`;
  return entry.status === 'allowed' ? 'allowed' : `denied by rule ${entry.ruleId}`;
}
