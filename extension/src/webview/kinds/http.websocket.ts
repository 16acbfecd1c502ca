import { html, nothing, type TemplateResult } from 'lit';
import { httpRequestView } from '../../state/http-views.js';
import type { ParsedOf } from '../../state/kinds.js';
import { fact, type DetailContext } from './context.js';
import { requestSections } from './http.parts.js';

/** A WebSocket upgrade: the request that asks for it, and that its frames pass uninspected once allowed. */
export function httpWebsocketDetail(p: ParsedOf<'http.websocket'>, ctx: DetailContext): TemplateResult {
  const v = httpRequestView(p.detail, ctx.formatted);
  return html`<p class="notice warn" id="websocket-note"><vscode-icon name="warning"></vscode-icon> A WebSocket: once upgraded, its frames pass without inspection; only the bytes each way are recorded.</p>
    ${v.protocols && v.protocols.length > 0 ? html`<div class="facts">${fact('Subprotocols', v.protocols.join(', '), 'websocket-protocols')}</div>` : nothing}
    ${requestSections(v, ctx)}`;
}
