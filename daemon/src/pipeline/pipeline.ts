import type { Action, AgentSession, Approval, Decision, MaskReport, RecordBody, Verdict } from '@airlock/shared';
import type { ApprovalBroker, ApprovalOutcome } from '../approvals/broker.js';
import type { EventBus } from '../events/bus.js';
import type { Recorder } from '../recording/recorder.js';
import type { CompiledPolicy } from '../policy/engine.js';
import { newId } from '../util/ids.js';
import { isoNow } from '../util/time.js';

/** What a protocol adapter hands in: the action without the fields the pipeline assigns. */
export type ActionRequest = Omit<Action, 'id' | 'at' | 'sessionId'>;

/** A refusal an adapter makes whatever policy says, under a rule id of its own. */
export interface Refusal {
  ruleId: string;
  reason: string;
}

export interface ActionResult {
  summary: string;
  durationMs?: number;
  error?: string;
  rowCount?: number;
  maskReport?: MaskReport;
  detail?: Record<string, unknown>;
}

export interface PipelineDeps {
  policy: { current(): { compiled: CompiledPolicy } };
  broker: ApprovalBroker;
  /** tryAppendNow, when there, lets settled actions skip the promise round trips (submitNow) */
  recorder: Pick<Recorder, 'append'> & Partial<Pick<Recorder, 'tryAppendNow'>>;
  bus: EventBus;
}

/**
 * The path of one action: policy decides; a review is held by the approval broker; every step is
 * recorded and published. Fail closed: an error anywhere (evaluation, recording in sync mode)
 * ends in a refusal, never in an allow.
 */
export class ActionPipeline {
  constructor(private readonly deps: PipelineDeps) {}

  /**
   * `options.refuse`: the adapter cannot tell what the action would run (a prepared statement name
   * the server may hold under other text): it is recorded and refused whatever policy says. A
   * string is recorded under rule id "uninspectable"; a Refusal names its own (a built-in guard,
   * such as egress to an internal address).
   */
  async submit(session: AgentSession, request: ActionRequest, options: { signal?: AbortSignal; refuse?: string | Refusal } = {}): Promise<{ action: Action; verdict: Verdict }> {
    const evaluated = actionOf(request, session);
    const decision = this.evaluate(evaluated, options.refuse);
    const action = recordable(evaluated);

    try {
      await this.record(session, { type: 'action', action, decision });
    } catch (err) {
      const verdict = this.refuse(action, 'error', decision.ruleId, `refused because the recording failed (sync mode): ${(err as Error).message}`);
      this.deps.bus.publish({ type: 'action.completed', data: { action, verdict } });
      return { action, verdict };
    }
    this.deps.bus.publish({ type: 'action.decided', data: { action, decision } });

    const verdict = await this.decide(action, decision, options.signal);
    try {
      await this.record(session, { type: 'outcome', verdict });
    } catch (err) {
      const refused = verdict.allowed ? this.refuse(action, 'error', verdict.ruleId, `refused because the recording failed (sync mode): ${(err as Error).message}`) : verdict;
      this.deps.bus.publish({ type: 'action.completed', data: { action, verdict: refused } });
      return { action, verdict: refused };
    }
    this.deps.bus.publish({ type: 'action.completed', data: { action, verdict } });
    return { action, verdict };
  }

  /**
   * submit() for an action policy settles at once, without a promise: a proxy's hot path. An allow or
   * deny by policy is recorded as one action line that carries its verdict (no outcome line follows)
   * and published as action.decided and action.completed, as submit() would. Returns undefined,
   * having recorded and published nothing, when the action needs submit(): a review, sync recording,
   * a full queue, or a recording that failed (which submit() turns into a refusal).
   */
  submitNow(session: AgentSession, request: ActionRequest, refuse?: string | Refusal): { action: Action; verdict: Verdict } | undefined {
    const recorder = this.deps.recorder;
    if (!recorder.tryAppendNow) return undefined;
    const evaluated = actionOf(request, session);
    const decision = this.evaluate(evaluated, refuse);
    if (decision.decision === 'review') return undefined;
    const action = recordable(evaluated);
    const verdict: Verdict = { actionId: action.id, ruleId: decision.ruleId, allowed: decision.decision === 'allow', via: 'policy', reason: decision.reason };
    if (!recorder.tryAppendNow(session, { type: 'action', action, decision, verdict })) return undefined;
    this.deps.bus.publish({ type: 'action.decided', data: { action, decision } });
    this.deps.bus.publish({ type: 'action.completed', data: { action, verdict } });
    return { action, verdict };
  }

  /** What came back from upstream (already masked by the adapter). */
  recordResult(session: AgentSession, action: Pick<Action, 'id' | 'target'>, result: ActionResult): Promise<void> {
    // one copy, keys in the same order as before: the adapter's detail, then rowCount, then maskReport.
    // Object.assign, not a spread: properties added to a spread copy cost about a microsecond each (V8).
    const detail: Record<string, unknown> = Object.assign({}, result.detail);
    if (result.rowCount !== undefined) detail.rowCount = result.rowCount;
    if (result.maskReport) detail.maskReport = result.maskReport;
    this.deps.bus.publish({
      type: 'action.result',
      data: {
        actionId: action.id,
        sessionId: session.id,
        target: action.target,
        summary: result.summary,
        durationMs: result.durationMs,
        error: result.error,
        rowCount: result.rowCount,
        maskReport: result.maskReport,
      },
    });
    const body: RecordBody = { type: 'result', actionId: action.id, summary: result.summary, durationMs: result.durationMs, error: result.error, detail };
    try {
      if (this.deps.recorder.tryAppendNow?.(session, body)) return RECORDED;
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.record(session, body);
  }

  /** Fail closed: an evaluation error is a deny, and so is an action the adapter could not inspect. */
  private evaluate(action: Action, refuse?: string | Refusal): Decision {
    if (typeof refuse === 'string') return { decision: 'deny', ruleId: 'uninspectable', reason: refuse };
    if (refuse !== undefined) return { decision: 'deny', ruleId: refuse.ruleId, reason: refuse.reason };
    try {
      return this.deps.policy.current().compiled.evaluate(action);
    } catch (err) {
      return { decision: 'deny', ruleId: 'error', reason: `policy evaluation failed: ${(err as Error).message}` };
    }
  }

  private async decide(action: Action, decision: Decision, signal?: AbortSignal): Promise<Verdict> {
    const base = { actionId: action.id, ruleId: decision.ruleId };
    switch (decision.decision) {
      case 'allow':
        return { ...base, allowed: true, via: 'policy', reason: decision.reason };
      case 'deny':
        return { ...base, allowed: false, via: 'policy', reason: decision.reason };
      case 'review': {
        const grant = this.deps.broker.findGrant(action.sessionId, decision.ruleId, action.grantKey);
        if (grant) {
          return {
            ...base,
            allowed: true,
            via: 'grant',
            grantId: grant.id,
            approvalId: grant.approvalId,
            decidedBy: { by: grant.by, via: grant.via },
            reason: `allowed by grant ${grant.id} (approved for the session by ${grant.by})`,
          };
        }
        if (signal?.aborted) return this.refuse(action, 'cancelled', decision.ruleId, 'the agent disconnected before a decision');
        let outcome: ApprovalOutcome;
        try {
          outcome = await this.deps.broker.request(action, decision, signal).outcome;
        } catch (err) {
          return this.refuse(action, 'error', decision.ruleId, `the approval could not be held: ${(err as Error).message}`);
        }
        return verdictFromApproval(action, outcome.approval);
      }
    }
  }

  private refuse(action: Action, via: Verdict['via'], ruleId: string, reason: string): Verdict {
    return { actionId: action.id, allowed: false, via, ruleId, reason };
  }

  private async record(session: AgentSession, body: RecordBody): Promise<void> {
    await this.deps.recorder.append({ id: session.id, name: session.name }, body);
  }
}

const RECORDED = Promise.resolve();

/**
 * Attribute lists longer than this are recorded, published and shown as their first entries and a
 * count (`<name>Omitted`); policy has already matched on them whole. One statement naming 200,000
 * tables (1.5 MB of text) would otherwise put 2 MB in every record and event of it.
 */
export const RECORDED_LIST_ENTRIES = 1_000;

/** The action as it is recorded and published: itself, unless an attribute list is longer than RECORDED_LIST_ENTRIES. */
export function recordable(action: Action): Action {
  const attributes = action.attributes;
  let long = false;
  for (const key in attributes) {
    const value = attributes[key];
    if (Array.isArray(value) && value.length > RECORDED_LIST_ENTRIES) {
      long = true;
      break;
    }
  }
  if (!long) return action;
  const bounded: Action['attributes'] = {};
  for (const key in attributes) {
    const value = attributes[key]!;
    if (Array.isArray(value) && value.length > RECORDED_LIST_ENTRIES) {
      bounded[key] = value.slice(0, RECORDED_LIST_ENTRIES);
      bounded[`${key}Omitted`] = value.length - RECORDED_LIST_ENTRIES;
    } else bounded[key] = value;
  }
  return { ...action, attributes: bounded };
}

/**
 * The action of a request, with its id, session and time. Written out rather than as
 * `{ ...request, id, sessionId, at }`: in V8 (Node 20) a spread followed by more properties costs
 * about a microsecond per property, several microseconds per proxied statement. The keys keep the
 * spread's order (the request's, then id, sessionId, at), so recorded lines read as before.
 */
export function actionOf(request: ActionRequest, session: Pick<AgentSession, 'id'>): Action {
  return {
    target: request.target,
    protocol: request.protocol,
    kind: request.kind,
    summary: request.summary,
    risk: request.risk,
    attributes: request.attributes,
    detail: request.detail,
    ...(request.grantKey !== undefined ? { grantKey: request.grantKey } : {}),
    id: newId('act'),
    sessionId: session.id,
    at: isoNow(),
  };
}

export function verdictFromApproval(action: Action, approval: Approval): Verdict {
  const r = approval.resolution;
  const base = { actionId: action.id, ruleId: approval.ruleId, approvalId: approval.id };
  const decidedBy = r && r.via !== 'system' ? { by: r.by, via: r.via } : undefined;
  switch (approval.status) {
    case 'approved':
      return {
        ...base,
        allowed: true,
        via: 'approval',
        decidedBy,
        grantId: r?.grantId,
        reason: `approved by ${r?.by ?? 'unknown'} via ${r?.via ?? 'unknown'}${r?.scope === 'session' ? ' for the rest of the session' : ''}`,
      };
    case 'denied':
      return { ...base, allowed: false, via: 'approval', decidedBy, reason: `denied by ${r?.by ?? 'unknown'} via ${r?.via ?? 'unknown'}: ${r?.reason ?? 'no reason given'}` };
    case 'expired':
      return { ...base, allowed: false, via: 'timeout', reason: r?.reason ?? 'no decision before the approval timed out' };
    case 'cancelled':
    case 'pending':
      // a pending approval here would be a broker bug: fail closed
      return { ...base, allowed: false, via: 'cancelled', reason: r?.reason ?? 'the approval was cancelled' };
  }
}
