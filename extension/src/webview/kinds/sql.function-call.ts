import { html, type TemplateResult } from 'lit';
import type { ParsedOf } from '../../state/kinds.js';
import { fact, type DetailContext } from './context.js';

/** A FunctionCall message names a function by OID with binary arguments: there is no text to show, only who sent it. */
export function sqlFunctionCallDetail(p: ParsedOf<'sql.function-call'>, ctx: DetailContext): TemplateResult {
  return html`<section>
    <pre class="statement" id="statement">${ctx.summary}</pre>
    <div class="facts">${fact('Connection', `${p.detail.user ?? '?'}@${p.detail.database ?? '?'}`)}</div>
  </section>`;
}
