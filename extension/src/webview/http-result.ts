import { html, nothing, type TemplateResult } from 'lit';
import type { MaskReport } from '@airlock/shared';
import type { TimelineResult } from '../protocol/webview-messages.js';
import { httpResponseView, tunnelLine } from '../state/http-views.js';
import { maskedText } from './components.js';
import { bodyBlock, headersTable } from './kinds/http.parts.js';

/**
 * What an HTTP request got back, as the agent saw it: status, response headers and the masked body
 * excerpt (JSON laid out) with its mask marks; a tunnel's bytes each way. The masked-data view and
 * the replay show it the same way.
 */
export function httpResultView(result: TimelineResult, idPrefix: string): TemplateResult | typeof nothing {
  if (result.http) return responseSections(result.http, result.maskReport, idPrefix);
  if (result.tunnel) return html`<div class="facts">${html`<div><span class="fact-label">Tunnel</span> <span class="fact" id=${`${idPrefix}-tunnel`}>${tunnelLine(result.tunnel)}</span></div>`}</div>`;
  return nothing;
}

function responseSections(http: NonNullable<TimelineResult['http']>, report: MaskReport | undefined, idPrefix: string): TemplateResult {
  const v = httpResponseView(http, true);
  return html`<section class="http-response" id=${`${idPrefix}-response`}>
    <div class="facts">
      <div><span class="fact-label">Status</span> <span class="fact status-code ${v.ok ? '' : 'error'}" id=${`${idPrefix}-status`}>${v.status}</span></div>
      <div><span class="fact-label">Transfer</span> <span class="fact">${v.transfer}</span></div>
    </div>
    <h3>Response headers</h3>
    ${headersTable(v.headers, `${idPrefix}-headers`)}
    ${v.body ? html`<h3>Response body</h3>${bodyBlock(v.body, `${idPrefix}-body`, v.body.text !== undefined ? maskedText(v.body.text, report) : undefined)}` : nothing}
  </section>`;
}
