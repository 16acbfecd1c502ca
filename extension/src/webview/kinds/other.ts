import { html, nothing, type TemplateResult } from 'lit';
import { otherView, type ParsedOf } from '../../state/kinds.js';
import { fact, warning, type DetailContext } from './context.js';

/**
 * A kind this build has no view for, or a detail that does not match its kind's schema (an older
 * or newer daemon): the summary, then every field as recorded, and why it is shown this way.
 */
export function otherDetail(p: ParsedOf<'other'>, ctx: DetailContext): TemplateResult {
  const v = otherView(p);
  return html`<section>
    ${v.problem ? warning(`${v.problem}; it is shown as recorded.`, 'detail-problem') : nothing}
    <pre class="statement" id="statement">${ctx.summary}</pre>
    ${v.fields.length > 0 ? html`<div class="facts" id="detail-fields">${v.fields.map(([k, val]) => fact(k, html`<code>${val}</code>`))}</div>` : nothing}
  </section>`;
}
