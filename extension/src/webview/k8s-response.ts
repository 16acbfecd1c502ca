import { html, nothing, type TemplateResult } from 'lit';
import type { TimelineResult } from '../protocol/webview-messages.js';
import { k8sBodyView, k8sResponseLine, maskedSecretsOf } from '../state/k8s.js';

/**
 * A Kubernetes response as the agent saw it: its status and kind, every Secret in it key by key
 * with the marker the agent got instead of the value, then the body (masked) as YAML. Shown by the
 * masked-data view and the replay.
 */
export function k8sResponse(result: NonNullable<TimelineResult['k8s']>): TemplateResult {
  const secrets = maskedSecretsOf(result.body);
  const body = k8sBodyView(result.body);
  return html`<section id="k8s-response">
    <p><span class="fact-label">Response</span> <span class="fact" id="k8s-response-line">${k8sResponseLine(result)}</span></p>
    ${secrets.map(
      (s, i) => html`<h3>Secret <code>${s.namespace !== '' ? `${s.namespace}/` : ''}${s.name}</code>${s.type ? html` <span class="muted">${s.type}</span>` : nothing}</h3>
        ${s.entries.length === 0
          ? html`<p class="muted">No keys.</p>`
          : html`<vscode-table class="result-table k8s-secret" id=${`k8s-secret-${i}`} zebra bordered-columns>
              <vscode-table-header slot="header"><vscode-table-header-cell>Key</vscode-table-header-cell><vscode-table-header-cell>Value as the agent got it</vscode-table-header-cell></vscode-table-header>
              <vscode-table-body slot="body">
                ${s.entries.map(
                  (e) => html`<vscode-table-row>
                    <vscode-table-cell class="cell" data-key=${e.key}>${e.map === 'stringData' ? `stringData.${e.key}` : e.key}</vscode-table-cell>
                    ${e.masked
                      ? html`<vscode-table-cell class="cell masked" data-masked-by="k8s-secret" title="the value was replaced before it reached the agent"><vscode-icon name="eye-closed" size="12"></vscode-icon> ${e.shown}</vscode-table-cell>`
                      : html`<vscode-table-cell class="cell" data-masked-by="">${e.shown}</vscode-table-cell>`}
                  </vscode-table-row>`,
                )}
              </vscode-table-body>
            </vscode-table>`}`,
    )}
    ${body
      ? html`<h3>Body${body.format === 'yaml' ? ' (YAML)' : ''}</h3>
          ${body.note ? html`<p class="notice warn"><vscode-icon name="warning"></vscode-icon> ${body.note}</p>` : nothing}
          <pre class="http-body k8s-body" id="k8s-response-body" data-format=${body.format}>${body.text}</pre>`
      : nothing}
  </section>`;
}
