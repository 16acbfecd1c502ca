import './elements.js';
import { html, nothing, render } from 'lit';
import type { MaskedResultState } from '../protocol/webview-messages.js';
import { HostChannel, pageRoot } from './host.js';
import { detectorBadges, errorBanner, loading, maskedTable, protocolIcon } from './components.js';
import { httpResultView } from './http-result.js';
import { actionHeadline } from '../state/view-models.js';
import { k8sResponse } from './k8s-response.js';

const root = pageRoot();
let state: MaskedResultState | undefined;
let error: string | undefined;
const channel = new HostChannel<Record<string, never>>(
  (message) => {
    if (message.type === 'masked.state') {
      state = message.state;
      error = undefined;
    } else if (message.type === 'error') error = message.message;
    draw();
  },
  (reason) => {
    error = reason;
    draw();
  },
);

function draw(): void {
  if (!state) {
    render(loading(error), root);
    return;
  }
  const { action, outcome, result, note } = state;
  render(
    html`
      ${errorBanner(error)}
      <header class="title">
        ${protocolIcon(action.protocol)}
        <h1><code>${actionHeadline(action, 200)}</code></h1>
        <vscode-button secondary class="small" title="Load again" @click=${() => channel.send({ type: 'reload' })}><vscode-icon name="refresh"></vscode-icon></vscode-button>
      </header>
      <p class="subtitle">
        <span>${action.target}</span> · <span id="outcome">${outcome}</span>
        ${result ? html` · <span>${result.summary}</span>${result.durationMs !== undefined ? html` · <span>${result.durationMs.toFixed(1)} ms</span>` : nothing}` : nothing}
      </p>
      <p class="notice"><vscode-icon name="shield"></vscode-icon> As the agent saw it. Airlock records masked values only; the originals are not stored anywhere it can show them.</p>
      ${result ? html`<section id="detectors">${detectorBadges(result.maskReport)}</section>` : nothing}
      ${result?.error ? html`<div class="banner error">${result.error}</div>` : nothing}
      ${result?.sample && result.sample.rows.length > 0 ? html`<section id="result">${maskedTable(result.sample)}</section>` : nothing}
      ${result && (result.http || result.tunnel) ? html`<section id="result">${httpResultView(result, 'result')}</section>` : nothing}
      ${result?.k8s ? k8sResponse(result.k8s) : nothing}
      ${note ? html`<p class="muted" id="note">${note}</p>` : nothing}
    `,
    root,
  );
}

draw();
channel.ready();
