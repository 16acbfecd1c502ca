import { html, nothing, type TemplateResult } from 'lit';
import type { MaskReport, PgResultDetail, Protocol } from '@airlock/shared';
import { detectorCounts, maskSegments, maskTooltip, tableModel } from './models.js';
import { protocolCodicon } from '../state/view-models.js';

/** Lit templates shared by the webviews. */

export function protocolIcon(protocol: Protocol): TemplateResult {
  return html`<vscode-icon name=${protocolCodicon(protocol)} title=${protocol}></vscode-icon>`;
}

/** The rows as the agent saw them; masked cells highlighted, the rule or detector in the tooltip. */
export function maskedTable(sample: PgResultDetail): TemplateResult {
  const model = tableModel(sample);
  if (model.columns.length === 0) return html`<p class="muted">No columns.</p>`;
  return html`<vscode-table class="result-table" zebra bordered-columns resizable>
    <vscode-table-header slot="header">
      ${model.columns.map((c) => html`<vscode-table-header-cell>${c}</vscode-table-header-cell>`)}
    </vscode-table-header>
    <vscode-table-body slot="body">
      ${model.rows.map(
        (row) => html`<vscode-table-row>
          ${row.map((cell) =>
            cell.maskedBy
              ? html`<vscode-table-cell class="cell masked" title=${maskTooltip(cell) ?? ''} data-masked-by=${cell.maskedBy.join(',')}
                  ><vscode-icon name="eye-closed" size="12"></vscode-icon> ${cell.isNull ? html`<span class="null">NULL</span>` : cell.text}</vscode-table-cell
                >`
              : html`<vscode-table-cell class="cell">${cell.isNull ? html`<span class="null">NULL</span>` : cell.text}</vscode-table-cell>`,
          )}
        </vscode-table-row>`,
      )}
    </vscode-table-body>
  </vscode-table>`;
}

/** "email 3 · payment-card 1": what masking changed in a result, per detector or column rule. */
export function detectorBadges(report: MaskReport | undefined): TemplateResult | typeof nothing {
  const counts = detectorCounts(report);
  if (counts.length === 0) return html`<span class="muted">nothing masked</span>`;
  return html`<span class="detectors">
    <span class="detectors-total">${report!.cells} masked</span>
    ${counts.map((c) => html`<span class="detector" data-detector=${c.label}>${c.label} <vscode-badge>${c.cells}</vscode-badge></span>`)}
    ${report!.nulled > 0 ? html`<span class="detector warn" title="binary values a rule wanted masked, sent as NULL">NULL-ed <vscode-badge>${report!.nulled}</vscode-badge></span>` : nothing}
  </span>`;
}

export function errorBanner(message: string | undefined): TemplateResult | typeof nothing {
  return message ? html`<div class="banner error" role="alert"><vscode-icon name="error"></vscode-icon> ${message}</div>` : nothing;
}

/** Until the host's first state arrives (and if it never does, why). */
export function loading(error: string | undefined): TemplateResult {
  return html`${errorBanner(error)}<vscode-progress-ring></vscode-progress-ring>`;
}

/** A masked text with its mask marks highlighted, the detector or rule in each mark's tooltip. */
export function maskedText(text: string, report: MaskReport | undefined): TemplateResult {
  return html`${maskSegments(text, report).map((s) =>
    s.maskedBy ? html`<mark class="mask-mark" data-masked-by=${s.maskedBy} title=${`masked by ${s.maskedBy}`}>${s.text}</mark>` : s.text,
  )}`;
}
