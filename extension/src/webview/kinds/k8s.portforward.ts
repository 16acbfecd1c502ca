import { html, type TemplateResult } from 'lit';
import { k8sPortForwardLine } from '../../state/k8s.js';
import type { ParsedOf } from '../../state/kinds.js';
import { fact, type DetailContext } from './context.js';

/** A port-forward into a pod: the ports asked for; its bytes are counted, its content is not kept. */
export function k8sPortForwardDetail(p: ParsedOf<'k8s.portforward'>, _ctx: DetailContext): TemplateResult {
  const d = p.detail;
  return html`<section>
      <pre class="statement command-line" id="k8s-portforward-line"><code>${k8sPortForwardLine(d)}</code></pre>
    </section>
    <div class="facts">
      ${fact('Pod', `${d.namespace}/${d.pod}`, 'k8s-pod')}
      ${fact('Ports', d.ports.join(', '), 'k8s-ports')}
    </div>
    <p class="notice"><vscode-icon name="info"></vscode-icon> Bytes each way are counted per port; what passes through is not recorded.</p>`;
}
