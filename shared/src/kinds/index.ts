import { z } from 'zod';
import { SqlFunctionCallDetail, SqlQueryDetail, SqlResultDetail } from './sql.js';
import { HttpConnectDetail, HttpRequestDetail, HttpResponseResultDetail, HttpTunnelResultDetail, HttpWebsocketDetail } from './http.js';
import { K8sExecDetail, K8sExecResultDetail, K8sPortForwardDetail, K8sPortForwardResultDetail, K8sRequestDetail, K8sResponseResultDetail } from './k8s.js';
import { SshExecDetail, SshForwardDetail, SshRequestDetail, SshSessionResultDetail, SshSftpDetail, SshSftpResultDetail, SshShellDetail } from './ssh.js';

export * from './sql.js';
export * from './ssh.js';
export * from './http.js';
export * from './k8s.js';

/** A result detail this build has no schema for yet: shown as recorded. */
const UntypedResultDetail = z.record(z.string(), z.unknown());

/**
 * Every action kind this build knows, with the schema of its `Action.detail` and of its result
 * record's `detail`. A protocol adds its kinds here (http.request, k8s.request, k8s.exec ...) and
 * the parsed union, the wire schema of the parsed union and
 * every renderer map keyed by kind follow from this one table: a renderer map that lacks the new
 * kind stops compiling.
 *
 * On the wire `Action.detail` stays a plain record, so recordings written before a schema existed
 * (or by a newer daemon) still load; the typing happens when a reader parses it, once.
 */
export const ACTION_KINDS = {
  'sql.query': { detail: SqlQueryDetail, result: SqlResultDetail },
  'sql.function-call': { detail: SqlFunctionCallDetail, result: SqlResultDetail },
  'ssh.exec': { detail: SshExecDetail, result: SshSessionResultDetail },
  'ssh.shell': { detail: SshShellDetail, result: SshSessionResultDetail },
  'ssh.sftp': { detail: SshSftpDetail, result: SshSftpResultDetail },
  'ssh.forward': { detail: SshForwardDetail, result: UntypedResultDetail },
  'ssh.request': { detail: SshRequestDetail, result: UntypedResultDetail },
  'http.request': { detail: HttpRequestDetail, result: HttpResponseResultDetail },
  'http.connect': { detail: HttpConnectDetail, result: HttpTunnelResultDetail },
  'http.websocket': { detail: HttpWebsocketDetail, result: HttpTunnelResultDetail },
  'k8s.request': { detail: K8sRequestDetail, result: K8sResponseResultDetail },
  'k8s.exec': { detail: K8sExecDetail, result: K8sExecResultDetail },
  'k8s.portforward': { detail: K8sPortForwardDetail, result: K8sPortForwardResultDetail },
} as const satisfies Record<string, { detail: z.ZodType<Record<string, unknown>>; result: z.ZodType<Record<string, unknown>> }>;

export type KnownActionKind = keyof typeof ACTION_KINDS;
export const KNOWN_ACTION_KINDS = Object.keys(ACTION_KINDS) as KnownActionKind[];
export type ActionDetailOf<K extends KnownActionKind> = z.output<(typeof ACTION_KINDS)[K]['detail']>;
export type ResultDetailOf<K extends KnownActionKind> = z.output<(typeof ACTION_KINDS)[K]['result']>;

export function isKnownActionKind(kind: string): kind is KnownActionKind {
  return Object.prototype.hasOwnProperty.call(ACTION_KINDS, kind);
}

/**
 * A detail of a kind this build does not know, or one that does not match its kind's schema: it is
 * still shown (as recorded, field by field), never dropped and never a crash. `problem` says why it
 * is not typed, for the person reading it.
 */
export interface OtherDetail {
  kind: 'other';
  /** the action's own kind */
  actionKind: string;
  detail: Record<string, unknown>;
  problem?: string;
}

export type ParsedActionDetail = { [K in KnownActionKind]: { kind: K; detail: ActionDetailOf<K> } }[KnownActionKind] | OtherDetail;
export type ParsedResultDetail = { [K in KnownActionKind]: { kind: K; detail: ResultDetailOf<K> } }[KnownActionKind] | OtherDetail;

function problemOf(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'does not match its schema';
  return `${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`;
}

function parseBy(which: 'detail' | 'result', kind: string, detail: Record<string, unknown>): ParsedActionDetail | ParsedResultDetail {
  if (!isKnownActionKind(kind)) return { kind: 'other', actionKind: kind, detail };
  const parsed = ACTION_KINDS[kind][which].safeParse(detail);
  if (!parsed.success) return { kind: 'other', actionKind: kind, detail, problem: `the ${kind} ${which === 'detail' ? 'detail' : 'result detail'} does not match its schema (${problemOf(parsed.error)})` };
  return { kind, detail: parsed.data } as ParsedActionDetail | ParsedResultDetail;
}

/** An action's detail typed by its kind; unknown kinds and details that fail their schema are `other`. */
export function parseActionDetail(action: { kind: string; detail: Record<string, unknown> }): ParsedActionDetail {
  return parseBy('detail', action.kind, action.detail) as ParsedActionDetail;
}

/** A result record's detail typed by its action's kind, the same way. */
export function parseResultDetail(kind: string, detail: Record<string, unknown>): ParsedResultDetail {
  return parseBy('result', kind, detail) as ParsedResultDetail;
}

const OtherDetailSchema = z.object({ kind: z.literal('other'), actionKind: z.string(), detail: z.record(z.string(), z.unknown()), problem: z.string().optional() });

/**
 * The wire schema of a parsed detail, for messages that carry one already parsed (the extension
 * host to its webviews): the kind decides the detail's schema.
 */
export const ParsedActionDetailSchema = z.discriminatedUnion('kind', [
  ...KNOWN_ACTION_KINDS.map((kind) => z.object({ kind: z.literal(kind), detail: ACTION_KINDS[kind].detail })),
  OtherDetailSchema,
] as unknown as [typeof OtherDetailSchema]) as unknown as z.ZodType<ParsedActionDetail>;
