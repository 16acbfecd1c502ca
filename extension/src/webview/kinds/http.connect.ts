import { html, nothing, type TemplateResult } from 'lit';
import { httpConnectView } from '../../state/http-views.js';
import type { ParsedOf } from '../../state/kinds.js';
import { fact, type DetailContext } from './context.js';

/**
 * A CONNECT through the egress proxy: which host and port, what the name resolved to (the decision
 * is made on that address), and what kind of destination it is. The approval panel asks the
 * question in its title; the replay shows the same facts.
 */
export function httpConnectDetail(p: ParsedOf<'http.connect'>, _ctx: DetailContext): TemplateResult {
  const v = httpConnectView(p.detail);
  return html`<section>
    <pre class="statement command-line" id="connect-line"><code>CONNECT ${v.hostPort}</code></pre>
    <div class="facts" id="http-connect">
      ${fact('Host and port', html`<code>${v.hostPort}</code>`, 'connect-host')}
      ${fact('Destination', html`<span class="destination ${v.destination}" data-destination=${v.destination}>${v.destination}</span> <span class="muted">${v.destinationText}</span>`, 'connect-destination')}
      ${fact('Resolved to', v.addresses.length > 0 ? html`${v.addresses.map((a, i) => html`${i > 0 ? ', ' : ''}<code>${a}</code>`)}` : 'not resolved', 'connect-addresses')}
    </div>
    ${v.destination === 'internal' ? html`<p class="notice warn" id="connect-internal"><vscode-icon name="warning"></vscode-icon> An internal address: reachable only because a rule names it.</p>` : nothing}
    <p class="notice" id="connect-note"><vscode-icon name="lock"></vscode-icon> ${v.note}</p>
  </section>`;
}
