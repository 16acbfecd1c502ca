import { html, type TemplateResult } from 'lit';
import { sshRequestView, type ParsedOf } from '../../state/kinds.js';
import { fact, type DetailContext } from './context.js';

/** A subsystem other than sftp, or an environment variable outside LANG/LC_*. */
export function sshRequestDetail(p: ParsedOf<'ssh.request'>, _ctx: DetailContext): TemplateResult {
  const v = sshRequestView(p);
  return html`<section class="facts" id="ssh-request">${fact(v.request === 'subsystem' ? 'Subsystem' : 'Environment', html`<code>${v.line}</code>`)} ${fact('Connection', v.endpoint)}</section>`;
}
