import { html, nothing, type TemplateResult } from 'lit';
import type { HeaderRow, HttpBodyView, HttpRequestView } from '../../state/http-views.js';
import { formatGraphql } from '../graphql.js';
import { classBadge, fact, warning, type DetailContext } from './context.js';

/** Pieces the HTTP kinds' views share: the request line, headers table, body, GraphQL operations and git refs. */

export function headersTable(rows: HeaderRow[], id: string): TemplateResult {
  if (rows.length === 0) return html`<p class="muted" id=${id}>No headers.</p>`;
  return html`<vscode-table class="http-headers" id=${id} zebra bordered-columns resizable>
    <vscode-table-header slot="header"><vscode-table-header-cell>Header</vscode-table-header-cell><vscode-table-header-cell>Value</vscode-table-header-cell></vscode-table-header>
    <vscode-table-body slot="body">
      ${rows.map((r) => html`<vscode-table-row data-header=${r.name.toLowerCase()}><vscode-table-cell><code>${r.name}</code></vscode-table-cell><vscode-table-cell><code>${r.value}</code></vscode-table-cell></vscode-table-row>`)}
    </vscode-table-body>
  </vscode-table>`;
}

/** A body excerpt: its type, size and masking, the cut notice, then the text (laid out when JSON). */
export function bodyBlock(body: HttpBodyView, id: string, text: TemplateResult | string | undefined = body.text): TemplateResult {
  return html`<div class="http-body-facts muted" id=${`${id}-facts`}>
      ${body.contentType ?? 'no content type'} · ${body.size} · ${body.treatment}${body.pretty ? ' · laid out' : ''}
    </div>
    ${body.cutNotice ? warning(`${body.cutNotice}: the text below is its head.`, `${id}-cut`) : nothing}
    ${text !== undefined ? html`<pre class="statement http-body" id=${id}>${text}</pre>` : nothing}`;
}

/** The request line, a method override as a warning, GraphQL operations, git refs, headers and body. */
export function requestSections(v: HttpRequestView, ctx: DetailContext): TemplateResult {
  return html`
    <section>
      <h2>
        Request ${ctx.attributes['class'] !== undefined ? classBadge(String(ctx.attributes['class'])) : nothing}
        ${ctx.toggleFormat ? html`<vscode-button secondary class="small" @click=${ctx.toggleFormat}>${ctx.formatted ? 'Show as sent' : 'Format'}</vscode-button>` : nothing}
      </h2>
      <pre class="statement command-line" id="http-request-line"><code><span class="http-method" id="http-method">${v.method}</span> ${v.url}</code></pre>
      ${v.urlCutNotice ? warning(`${v.urlCutNotice}: the URL above is its head.`, 'http-url-cut') : nothing}
      ${v.overrideWarning ? warning(v.overrideWarning, 'http-method-override') : nothing}
    </section>
    ${v.graphql ? graphqlSection(v.graphql, ctx) : nothing} ${v.git ? gitSection(v.git) : nothing}
    <section>
      <h2>Headers <span class="muted">as forwarded (the agent's credentials removed)</span></h2>
      ${headersTable(v.headers, 'http-headers')}
    </section>
    ${v.body ? html`<section><h2>Body</h2>${bodyBlock(v.body, 'http-body')}</section>` : nothing}
    <div class="facts">${fact('Host', html`<code>${v.host}</code>`, 'http-host')} ${fact('Path', html`<code>${v.path}</code>`, 'http-path')} ${fact('Via', v.via)}</div>
  `;
}

function graphqlSection(g: NonNullable<HttpRequestView['graphql']>, ctx: DetailContext): TemplateResult {
  const document = g.document !== undefined ? (ctx.formatted ? formatGraphql(g.document) : g.document) : undefined;
  return html`<section>
    <h2>GraphQL</h2>
    ${g.parseError !== undefined ? warning(`The document does not parse (its class is unknown): ${g.parseError}`, 'graphql-parse-error') : nothing}
    ${g.operations.length > 0
      ? html`<ol class="statements" id="graphql-operations">
          ${g.operations.map(
            (op) => html`<li class=${op.class === 'read' ? 'read' : 'not-read'} data-operation=${op.type}>
              <span class="op-type" data-op-type=${op.type}>${op.type}</span> <code class="command">${op.name}</code> ${classBadge(op.class)}
              <span class="tables">${op.fields.length > 0 ? op.fields.join(', ') : html`<span class="muted">no field</span>`}</span>
            </li>`,
          )}
        </ol>`
      : nothing}
    ${document !== undefined ? html`<pre class="statement" id="graphql-document">${document}</pre>` : nothing}
  </section>`;
}

const REF_CHANGES: Record<NonNullable<HttpRequestView['git']>['refs'][number]['change'], string> = {
  create: 'creates the ref',
  'fast-forward': 'a fast-forward: only adds commits',
  force: 'not shown to be a fast-forward: may rewrite history',
  delete: 'deletes the ref',
};

function gitSection(g: NonNullable<HttpRequestView['git']>): TemplateResult {
  return html`<section>
    <h2>git ${g.operation}</h2>
    ${g.refs.length > 0
      ? html`<ol class="statements" id="git-refs">
          ${g.refs.map(
            (r) => html`<li class=${r.change === 'fast-forward' || r.change === 'create' ? 'read' : 'not-read'} data-ref=${r.ref} data-change=${r.change} title=${REF_CHANGES[r.change]}>
              <code class="command">${r.ref}</code> <code class="oids">${r.oldId} → ${r.newId}</code> <span class="git-change ${r.change}">${r.change}</span>
            </li>`,
          )}
        </ol>`
      : html`<p class="muted">${g.operation === 'push' ? 'No ref updates in what was read.' : 'Fetches objects; changes nothing upstream.'}</p>`}
  </section>`;
}
