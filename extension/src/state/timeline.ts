import { MaskReport, parseResultDetail, policyChangeLine, type RecordingRecord, type Verdict, type VerifyResult } from '@airlock/shared';
import type { Timeline, TimelineEntry } from '../protocol/webview-messages.js';
import { castDurationMs, parseAsciicast } from './asciicast.js';
import { actionDetail } from './kinds.js';

/** Idle stretches longer than this play as this long: a session with an hour of silence still replays briskly. */
export const DEFAULT_IDLE_LIMIT_MS = 2_000;

/**
 * Builds the replay timeline of one recording from its records (in log order). Pure: the replay
 * webview plays what this returns. Records the builder does not know are skipped, not fatal, so an
 * older extension still replays a newer daemon's logs.
 */
export function buildTimeline(records: readonly RecordingRecord[], idleLimitMs = DEFAULT_IDLE_LIMIT_MS): Timeline {
  const header = records.find((r) => r.type === 'header');
  const timeline: Timeline = {
    recordingId: header?.type === 'header' ? header.recordingId : '',
    agentSessionName: header?.type === 'header' ? header.agentSessionName : '',
    startedAt: records[0]?.ts,
    endedAt: records.at(-1)?.ts,
    duration: 0,
    entries: [],
    protocols: [],
    terminals: [],
    notes: [],
    sealed: false,
  };
  const byAction = new Map<string, TimelineEntry>();
  let lastMs: number | undefined;
  let t = 0;
  for (const record of records) {
    const ms = Date.parse(record.ts);
    if (lastMs !== undefined && ms > lastMs) t += Math.min(ms - lastMs, idleLimitMs);
    if (lastMs === undefined || ms > lastMs) lastMs = ms;
    switch (record.type) {
      case 'action': {
        const a = record.action;
        const entry: TimelineEntry = {
          actionId: a.id,
          seq: record.seq,
          at: record.ts,
          t,
          target: a.target,
          protocol: a.protocol,
          kind: a.kind,
          risk: a.risk,
          summary: a.summary,
          detail: actionDetail(a),
          attributes: a.attributes,
          decision: record.decision.decision,
          ruleId: record.decision.ruleId,
          reason: record.decision.reason,
          status: record.decision.decision === 'allow' ? 'allowed' : record.decision.decision === 'deny' ? 'denied' : 'held',
        };
        // an action settled at once by policy carries its verdict in the same line (no outcome line follows)
        if (record.verdict) applyVerdict(entry, record.verdict);
        byAction.set(a.id, entry);
        timeline.entries.push(entry);
        if (!timeline.protocols.includes(a.protocol)) timeline.protocols.push(a.protocol);
        break;
      }
      case 'approval.requested': {
        const entry = byAction.get(record.actionId);
        if (entry) entry.approval = { approvalId: record.approvalId, ruleId: record.ruleId, requestedT: t, status: 'pending' };
        break;
      }
      case 'approval.resolved': {
        const entry = byAction.get(record.actionId);
        if (entry?.approval) {
          Object.assign(entry.approval, {
            resolvedT: t,
            status: record.status,
            by: record.resolution.by,
            via: record.resolution.via,
            scope: record.resolution.scope,
            reason: record.resolution.reason,
          });
        }
        break;
      }
      case 'outcome': {
        const entry = byAction.get(record.verdict.actionId);
        if (entry) applyVerdict(entry, record.verdict);
        break;
      }
      case 'result': {
        const entry = byAction.get(record.actionId);
        if (!entry) break;
        // typed by the action's kind: a SQL result's masked rows, an SSH session's or a kubectl exec's exit and terminal output, an sftp transfer, an HTTP or Kubernetes response, a tunnel's bytes
        const parsed = parseResultDetail(entry.kind, record.detail);
        // what the pipeline adds to any result, whatever its kind
        const report = MaskReport.safeParse(record.detail.maskReport);
        entry.result = {
          summary: record.summary,
          durationMs: record.durationMs,
          error: record.error,
          maskReport: report.success ? report.data : undefined,
        };
        if (parsed.kind === 'sql.query' || parsed.kind === 'sql.function-call') {
          const sample = parsed.detail;
          if (sample.rowCount !== undefined) entry.result.rowCount = sample.rowCount;
          if (sample.rows.length > 0 || sample.columns) entry.result.sample = { columns: sample.columns, rows: sample.rows, truncated: sample.truncated, masks: sample.masks };
        } else if (parsed.kind === 'ssh.exec' || parsed.kind === 'ssh.shell') {
          const { asciicast, ...session } = parsed.detail;
          entry.result.session = session;
          if (asciicast !== undefined) {
            timeline.terminals.push({
              actionId: entry.actionId,
              t: entry.t,
              duration: terminalDuration(asciicast),
              cast: asciicast,
              truncated: session.truncated ?? false,
              exitStatus: session.exitStatus,
              ...(session.exitSignal !== undefined ? { exitSignal: session.exitSignal } : {}),
            });
          }
        } else if (parsed.kind === 'ssh.sftp') entry.result.sftp = parsed.detail;
        else if (parsed.kind === 'http.request') entry.result.http = parsed.detail;
        else if (parsed.kind === 'http.connect' || parsed.kind === 'http.websocket') entry.result.tunnel = parsed.detail;
        else if (parsed.kind === 'k8s.request') entry.result.k8s = parsed.detail;
        else if (parsed.kind === 'k8s.exec') {
          // a kubectl exec plays in the terminal lane like an SSH session: the same clip, its exit from the error channel
          const { asciicast, ...ended } = parsed.detail;
          entry.result.k8sExec = ended;
          if (asciicast !== undefined) {
            timeline.terminals.push({ actionId: entry.actionId, t: entry.t, duration: terminalDuration(asciicast), cast: asciicast, truncated: ended.asciicastCut !== undefined, exitStatus: ended.exitCode ?? null });
          }
        } else if (parsed.kind === 'k8s.portforward') entry.result.k8sPortForward = parsed.detail;
        break;
      }
      case 'note':
        timeline.notes.push({ t, message: record.message });
        break;
      case 'policy.change':
        timeline.notes.push({ t, message: policyChangeLine(record) });
        break;
      case 'seal':
        timeline.sealed = true;
        timeline.sealReason = record.reason;
        break;
      default:
        break;
    }
  }
  // a terminal session plays its own length, which can outlast the last record
  timeline.duration = Math.max(t, ...timeline.terminals.map((c) => c.t + c.duration));
  return timeline;
}

/** A cast that does not parse plays as nothing (the lane shows why when selected). */
function terminalDuration(cast: string): number {
  try {
    return castDurationMs(parseAsciicast(cast));
  } catch {
    return 0;
  }
}

function applyVerdict(entry: TimelineEntry, verdict: Verdict): void {
  entry.status = verdict.allowed ? 'allowed' : 'denied';
  entry.via = verdict.via;
  entry.decidedBy = verdict.decidedBy?.by;
  if (!verdict.allowed) entry.reason = verdict.reason;
}

/** Which action a record belongs to, if any. */
export function recordActionId(record: RecordingRecord): string | undefined {
  switch (record.type) {
    case 'action':
      return record.action.id;
    case 'outcome':
      return record.verdict.actionId;
    case 'approval.requested':
    case 'approval.resolved':
    case 'result':
      return record.actionId;
    default:
      return undefined;
  }
}

/** The last entry at or before playback time `t` (-1 before the first): what the player highlights. */
export function entryIndexAt(entries: readonly Pick<TimelineEntry, 't'>[], t: number): number {
  let lo = 0;
  let hi = entries.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid]!.t <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

export const PLAYBACK_SPEEDS = [0.25, 0.5, 1, 2, 4] as const;

/** One line for the integrity badge: what `airlock verify` says about the log, in words. */
export function integrityLabel(verify: VerifyResult | undefined): { text: string; ok: boolean | undefined } {
  if (!verify) return { text: 'integrity not checked yet', ok: undefined };
  if (!verify.ok && verify.ledgerProblems?.length) return { text: `TAMPERED: ${verify.ledgerProblems.join('; ')}`, ok: false };
  if (!verify.ok) return { text: `TAMPERED: line ${verify.error?.line ?? '?'}: ${verify.error?.reason ?? 'chain broken'}`, ok: false };
  if (verify.torn) return { text: `verified ${verify.records} records; the last line was cut short by a crash`, ok: true };
  return { text: `verified ${verify.records} records${verify.sealed ? ', sealed' : ', still open'}`, ok: true };
}
