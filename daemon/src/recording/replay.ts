import { parseActionDetail, policyChangeLine, type RecordingRecord, type RecordingSummary, type VerifyResult } from '@airlock/shared';

type ActionRecordData = Extract<RecordingRecord, { type: 'action' }>;
type RequestedRecordData = Extract<RecordingRecord, { type: 'approval.requested' }>;
type ResolvedRecordData = Extract<RecordingRecord, { type: 'approval.resolved' }>;
type OutcomeRecordData = Extract<RecordingRecord, { type: 'outcome' }>;
type ResultRecordData = Extract<RecordingRecord, { type: 'result' }>;

/** What happened to one action, gathered from records that may interleave with other actions'. */
interface ActionStory {
  actionId: string;
  action?: ActionRecordData;
  requested: RequestedRecordData[];
  resolved: ResolvedRecordData[];
  /** from the outcome record, or from the action record when it carries the verdict of an action settled at once */
  outcome?: Pick<OutcomeRecordData, 'verdict'>;
  result?: ResultRecordData;
  /** ts of the first record about this action, for ordering and for actions whose own record is missing */
  firstTs: string;
}

type Block = { kind: 'action'; story: ActionStory } | { kind: 'note'; ts: string; message: string };

const INDENT = '    ';

/**
 * A recording as text a person reads top to bottom: a header line, one block per action (what was asked,
 * what policy said, who approved it, how it went, what came back), notes in between, and the seal.
 * Pure: the same records always give the same text.
 */
export function formatReplay(summary: RecordingSummary, records: readonly RecordingRecord[]): string {
  const out: string[] = [];
  const header = records.find((r) => r.type === 'header');
  const seal = records.find((r): r is Extract<RecordingRecord, { type: 'seal' }> => r.type === 'seal');
  const sessionName = header?.agentSessionName ?? summary.agentSessionName;
  const sessionId = header?.agentSessionId ?? summary.agentSessionId;
  const ended = summary.endedAt ? `ended ${formatTime(summary.endedAt)}` : 'still open';
  out.push(`Recording ${summary.id} — agent session "${sessionName}" (${sessionId})`);
  out.push(`started ${formatTime(header?.ts ?? summary.startedAt)}, ${ended}; ${summary.state}; ${summary.actions} action(s), ${summary.records} record(s)`);

  for (const block of gatherBlocks(records)) {
    out.push('');
    if (block.kind === 'note') {
      out.push(`[${formatTime(block.ts)}] note: ${indentRest(block.message)}`);
      continue;
    }
    out.push(...formatStory(block.story));
  }

  out.push('');
  if (seal) out.push(`[${formatTime(seal.ts)}] sealed (${seal.reason}) after ${seal.records} record(s)`);
  else if (summary.state === 'interrupted') out.push('not sealed: the recording was interrupted (daemon crash or write failure)');
  else if (summary.state === 'open') out.push('not sealed yet: the recording is still open');
  else out.push('not sealed: no seal record in what was read');
  return out.join('\n') + '\n';
}

function gatherBlocks(records: readonly RecordingRecord[]): Block[] {
  const blocks: Block[] = [];
  const stories = new Map<string, ActionStory>();
  const storyFor = (actionId: string, ts: string): ActionStory => {
    let story = stories.get(actionId);
    if (!story) {
      story = { actionId, requested: [], resolved: [], firstTs: ts };
      stories.set(actionId, story);
      blocks.push({ kind: 'action', story });
    }
    return story;
  };
  for (const record of records) {
    switch (record.type) {
      case 'action': {
        const story = storyFor(record.action.id, record.ts);
        story.action = record;
        if (record.verdict) story.outcome = { verdict: record.verdict };
        break;
      }
      case 'approval.requested':
        storyFor(record.actionId, record.ts).requested.push(record);
        break;
      case 'approval.resolved':
        storyFor(record.actionId, record.ts).resolved.push(record);
        break;
      case 'outcome':
        storyFor(record.verdict.actionId, record.ts).outcome = record;
        break;
      case 'result':
        storyFor(record.actionId, record.ts).result = record;
        break;
      case 'note':
        blocks.push({ kind: 'note', ts: record.ts, message: record.message });
        break;
      case 'policy.change':
        blocks.push({ kind: 'note', ts: record.ts, message: policyChangeLine(record) });
        break;
      case 'header':
      case 'seal':
        break;
    }
  }
  return blocks;
}

function formatStory(story: ActionStory): string[] {
  const lines: string[] = [];
  const { action: actionRecord } = story;
  if (actionRecord) {
    const { action, decision } = actionRecord;
    lines.push(`[${formatTime(actionRecord.ts)}] ${action.kind} on ${action.target} (${action.protocol}, risk ${action.risk}) — action ${action.id}`);
    lines.push(`${INDENT}${indentRest(action.summary)}`);
    // a SQL summary names the statements; a replay also shows what was sent, unless the summary already reads as it
    const parsed = parseActionDetail(action);
    const text = parsed.kind === 'sql.query' ? parsed.detail.sql : parsed.kind === 'ssh.exec' ? parsed.detail.command : undefined;
    if (text !== undefined && !action.summary.startsWith(text.replace(/\s+/g, ' ').trim())) lines.push(`${INDENT}text: ${indentRest(text)}`);
    lines.push(`${INDENT}decision: ${decision.decision} by rule ${decision.ruleId} — ${decision.reason}`);
  } else {
    lines.push(`[${formatTime(story.firstTs)}] action ${story.actionId} (its action record is not in this recording)`);
  }
  for (const requested of story.requested) {
    lines.push(`${INDENT}approval requested ${formatTime(requested.ts)} (${requested.approvalId}, rule ${requested.ruleId}, expires ${formatTime(requested.expiresAt)})`);
  }
  for (const resolved of story.resolved) {
    const { resolution } = resolved;
    let line = `${INDENT}approval ${resolved.status} by ${resolution.by} via ${resolution.via} at ${formatTime(resolution.at)}`;
    if (resolution.scope) line += `, scope ${resolution.scope === 'session' ? 'session (grant for the rest of the session)' : 'once'}`;
    if (resolution.grantId) line += `, grant ${resolution.grantId}`;
    if (resolution.reason) line += ` — ${resolution.reason}`;
    lines.push(line);
  }
  if (story.outcome) {
    const { verdict } = story.outcome;
    let line = `${INDENT}outcome: ${verdict.allowed ? 'allowed' : 'denied'} via ${verdict.via} (rule ${verdict.ruleId}) — ${verdict.reason}`;
    if (verdict.decidedBy) line += `; decided by ${verdict.decidedBy.by} via ${verdict.decidedBy.via}`;
    if (verdict.grantId) line += `; grant ${verdict.grantId}`;
    lines.push(line);
  } else {
    lines.push(`${INDENT}outcome: not recorded`);
  }
  if (story.result) {
    const { result } = story;
    const duration = result.durationMs === undefined ? '' : ` in ${result.durationMs} ms`;
    lines.push(`${INDENT}result${duration}: ${indentRest(result.summary)}`);
    if (result.error) lines.push(`${INDENT}error: ${indentRest(result.error)}`);
  }
  return lines;
}

/** "2025-01-01 12:00:01.123Z": the ISO time, easier on the eye; anything unparseable is shown as is. */
function formatTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return new Date(ms).toISOString().replace('T', ' ');
}

/** Keeps multi-line text (SQL, command output) inside its block. */
function indentRest(text: string): string {
  return text.replace(/\r?\n/g, `\n${INDENT}${INDENT}`);
}

/** The document `airlock export` writes: everything needed to replay and re-verify a recording elsewhere. */
export interface RecordingExport {
  format: 'airlock.recording';
  version: 1;
  recording: RecordingSummary;
  verify: VerifyResult;
  records: RecordingRecord[];
}

export function buildExport(summary: RecordingSummary, records: readonly RecordingRecord[], verify: VerifyResult): RecordingExport {
  return { format: 'airlock.recording', version: 1, recording: { ...summary }, verify: { ...verify }, records: [...records] };
}
