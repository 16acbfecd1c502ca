import { html, nothing, type TemplateResult } from 'lit';
import { sshForwardView, type ParsedOf } from '../../state/kinds.js';
import { fact, type DetailContext } from './context.js';

/** A port, socket or agent forward: what is forwarded and to where. */
export function sshForwardDetail(p: ParsedOf<'ssh.forward'>, _ctx: DetailContext): TemplateResult {
  const v = sshForwardView(p);
  return html`<section class="facts" id="forward">
    ${fact('Forward', v.what, 'forward-what')}
    ${v.address ? fact('Address', html`<code>${v.address}</code>`, 'forward-address') : nothing}
    ${fact('Connection', v.endpoint)}
  </section>`;
}
