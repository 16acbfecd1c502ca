import type { Action, AgentSession, SshEndpoint, SshSftpDetail, SshSftpResultDetail } from '@airlock/shared';
import type { ActionPipeline, ActionRequest } from '../../pipeline/pipeline.js';
import type { Logger } from '../../util/logger.js';
import { refusalMessage, type SftpBridgeOptions, type SftpVerdict } from './sftp-bridge.js';
import type { SftpOp } from './sftp-session.js';

/**
 * The sftp bridge's two callbacks over the action pipeline: each governed operation is an `ssh.sftp`
 * action (submitNow when policy settles it, submit when it is held), and its outcome the action's
 * result. The adapter passes what it knows of the connection.
 */

/** The action of one sftp operation. Policy matches `class`, `operation` and `paths` (the path, then toPath). */
export function sftpActionRequest(op: SftpOp, target: string, endpoint: SshEndpoint): ActionRequest {
  const detail: SshSftpDetail = { ...endpoint, operation: op.operation, path: op.path };
  if (op.toPath !== undefined) detail.toPath = op.toPath;
  if (op.flags) detail.flags = op.flags;
  if (op.attrs) detail.attrs = op.attrs;
  if (op.extension !== undefined) detail.extension = op.extension;
  const attributes: ActionRequest['attributes'] = {
    class: op.class,
    operation: op.extension ?? op.operation,
    paths: op.toPath === undefined ? [op.path] : [op.path, op.toPath],
  };
  if (op.flags) attributes.flags = op.flags;
  return {
    target,
    protocol: 'ssh',
    kind: 'ssh.sftp',
    summary: summaryOf(op),
    risk: op.class === 'read' ? 'low' : 'medium',
    attributes,
    detail,
  };
}

function summaryOf(op: SftpOp): string {
  const verb = op.extension ?? op.operation;
  const to = op.toPath === undefined ? '' : ` → ${op.toPath}`;
  const flags = op.flags ? ` (${op.flags.join(', ')})` : '';
  return `sftp ${verb} ${op.path}${to}${flags}`;
}

export interface PipelineGovernance {
  pipeline: ActionPipeline;
  session: AgentSession;
  target: string;
  endpoint: SshEndpoint;
  logger: Logger;
}

/** `govern` and `recordResult` for startSftpBridge, through the pipeline. */
export function governThroughPipeline(context: PipelineGovernance): Pick<SftpBridgeOptions<Action>, 'govern' | 'recordResult'> {
  const { pipeline, session, target, endpoint, logger } = context;
  const verdictOf = (outcome: { action: Action; verdict: { allowed: boolean; ruleId: string; reason: string } }): SftpVerdict<Action> =>
    outcome.verdict.allowed ? { allowed: true, action: outcome.action } : { allowed: false, message: refusalMessage(outcome.verdict.ruleId, outcome.verdict.reason), action: outcome.action };
  return {
    govern(op, signal) {
      const request = sftpActionRequest(op, target, endpoint);
      // the hot path: realpath and stat of '.' come with every client command
      const now = pipeline.submitNow(session, request);
      if (now) return verdictOf(now);
      return pipeline.submit(session, request, { signal }).then(verdictOf);
    },
    recordResult(op: SftpOp, result: SshSftpResultDetail, action: Action | undefined) {
      if (!action) return;
      const summary = result.bytes !== undefined ? `${result.status}, ${result.bytes} bytes` : result.entries !== undefined ? `${result.status}, ${result.entries} entries` : result.status;
      const error = result.status === 'ok' ? undefined : (result.message ?? result.status);
      pipeline.recordResult(session, action, { summary, error, detail: result }).catch((err: Error) => {
        logger.error(`sftp: recording the result of ${op.operation} ${op.path} failed: ${err.message}`);
      });
    },
  };
}
