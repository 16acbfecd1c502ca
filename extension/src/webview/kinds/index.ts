import type { TemplateResult } from 'lit';
import type { ParsedActionDetail } from '@airlock/shared';
import type { ActionDetailKind, ParsedOf } from '../../state/kinds.js';
import type { DetailContext } from './context.js';
import { httpConnectDetail } from './http.connect.js';
import { httpRequestDetail } from './http.request.js';
import { httpWebsocketDetail } from './http.websocket.js';
import { k8sExecDetail } from './k8s.exec.js';
import { k8sPortForwardDetail } from './k8s.portforward.js';
import { k8sRequestDetail } from './k8s.request.js';
import { otherDetail } from './other.js';
import { sqlFunctionCallDetail } from './sql.function-call.js';
import { sqlQueryDetail } from './sql.query.js';
import { sshExecDetail } from './ssh.exec.js';
import { sshForwardDetail } from './ssh.forward.js';
import { sshRequestDetail } from './ssh.request.js';
import { sshShellDetail } from './ssh.shell.js';
import { sshSftpDetail } from './ssh.sftp.js';

export type { DetailContext } from './context.js';

/** The detail view of each kind, for the approval panel and the replay; a kind without one does not compile. */
const DETAIL_VIEWS: { [K in ActionDetailKind]: (parsed: ParsedOf<K>, ctx: DetailContext) => TemplateResult } = {
  'sql.query': sqlQueryDetail,
  'sql.function-call': sqlFunctionCallDetail,
  'ssh.exec': sshExecDetail,
  'ssh.shell': sshShellDetail,
  'ssh.sftp': sshSftpDetail,
  'ssh.forward': sshForwardDetail,
  'ssh.request': sshRequestDetail,
  'http.request': httpRequestDetail,
  'http.connect': httpConnectDetail,
  'http.websocket': httpWebsocketDetail,
  'k8s.request': k8sRequestDetail,
  'k8s.exec': k8sExecDetail,
  'k8s.portforward': k8sPortForwardDetail,
  other: otherDetail,
};

export function detailView(parsed: ParsedActionDetail, ctx: DetailContext): TemplateResult {
  return (DETAIL_VIEWS[parsed.kind] as (p: ParsedActionDetail, c: DetailContext) => TemplateResult)(parsed, ctx);
}
