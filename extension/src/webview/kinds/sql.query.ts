import { html, nothing, type TemplateResult } from 'lit';
import { unsafeHTML } from 'lit/directives/unsafe-html.js';
import { sqlQueryView, type ParsedOf } from '../../state/kinds.js';
import { formatSql, highlightSql } from '../sql.js';
import { classBadge, fact, warning, type DetailContext } from './context.js';

/**
 * A SQL query: every statement with its command, class and tables above the text, so what runs is
 * read here, not guessed from text that comments or a long first statement can pad (non-reads stand
 * out); then the whole text, highlighted, with the cut notice of a text the daemon kept the head of.
 */
export function sqlQueryDetail(p: ParsedOf<'sql.query'>, ctx: DetailContext): TemplateResult {
  const v = sqlQueryView(p);
  const shown = ctx.formatted ? formatSql(v.text) : v.text;
  return html`
    ${v.statements.length > 0 || v.note !== undefined
      ? html`<section>
          <h2>Statements ${v.tally ? html`<span class="muted tally" id="statement-tally">${v.tally}</span>` : nothing}</h2>
          ${v.note ? warning(v.note, 'statements-note') : nothing}
          ${v.statements.length > 0
            ? html`<ol class="statements" id="statements">
                ${v.statements.map(
                  (st) => html`<li class=${st.class === 'read' ? 'read' : 'not-read'} title=${st.reasons.join('\n')}>
                    <code class="command">${st.command}</code>
                    ${classBadge(st.class)}
                    <span class="tables">${st.tables.length > 0 ? st.tables.join(', ') : html`<span class="muted">no table</span>`}</span>
                  </li>`,
                )}
              </ol>`
            : nothing}
        </section>`
      : nothing}
    <section>
      <h2>
        ${v.statements.length > 1 ? 'Text' : 'Statement'}
        ${ctx.toggleFormat ? html`<vscode-button secondary class="small" @click=${ctx.toggleFormat}>${ctx.formatted ? 'Show as sent' : 'Format'}</vscode-button>` : nothing}
      </h2>
      <pre class="statement" id="statement"><code class="hljs">${unsafeHTML(highlightSql(shown))}</code></pre>
      ${v.params.length > 0 ? html`<ul class="params" id="sql-params">${v.params.map((p) => html`<li><code>${p}</code></li>`)}</ul>` : nothing}
      ${v.connection ? html`<div class="facts">${fact('Connection', v.connection)}</div>` : nothing}
    </section>
  `;
}
