import { html, nothing, type TemplateResult } from 'lit';
import type { ParsedOf } from '../../state/kinds.js';
import { fact, type DetailContext } from './context.js';

/** An HTTP request: method and URL, then the headers and the body excerpt as forwarded. */
export function httpRequestDetail(p: ParsedOf<'http.request'> | ParsedOf<'http.websocket'>, _ctx: DetailContext): TemplateResult {
  const d = p.detail;
  return html`<section class="facts" id="http-request">
      ${fact('Request', html`<code>${d.method} ${d.url}</code>`, 'http-request-line')}
      ${d.methodOverride ? fact('Method override', d.methodOverride, 'http-method-override') : nothing}
      ${fact('Via', d.via === 'egress' ? 'egress proxy' : 'API target')}
    </section>
    <pre class="http-headers" id="http-headers">${Object.entries(d.headers)
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`)
      .join('\n')}</pre>
    ${d.body?.text !== undefined ? html`<pre class="http-body" id="http-body">${d.body.text}</pre>` : nothing}`;
}

/** A CONNECT tunnel through the egress proxy: where to, and what the name resolved to. */
export function httpConnectDetail(p: ParsedOf<'http.connect'>, _ctx: DetailContext): TemplateResult {
  const d = p.detail;
  return html`<section class="facts" id="http-connect">
    ${fact('Host', html`<code>${d.host}:${d.port}</code>`, 'connect-host')}
    ${fact('Destination', d.destination, 'connect-destination')}
    ${d.addresses.length > 0 ? fact('Resolved to', d.addresses.join(', '), 'connect-addresses') : nothing}
  </section>`;
}
