import { html, nothing, type TemplateResult } from 'lit';
import { k8sBodyView, k8sRequestView } from '../../state/k8s.js';
import type { ParsedOf } from '../../state/kinds.js';
import { classBadge, fact, warning, type DetailContext } from './context.js';

/**
 * A Kubernetes API request: what kubectl would have been asked, then its verb, resource,
 * namespace/name, dry run, what the agent tried to impersonate, and the request body as YAML
 * (masked by the daemon before it was recorded).
 */
export function k8sRequestDetail(p: ParsedOf<'k8s.request'>, ctx: DetailContext): TemplateResult {
  const v = k8sRequestView(p.detail, ctx.attributes);
  const body = k8sBodyView(p.detail.body);
  return html`<section>
      <h2>Request ${v.class ? classBadge(v.class) : nothing}</h2>
      <pre class="statement command-line" id="k8s-request-line"><code>${v.line}</code></pre>
      ${v.impersonation.map((text, i) => warning(text, `k8s-impersonation-${i}`))}
      ${v.dryRun ? html`<p class="notice" id="k8s-dry-run"><vscode-icon name="beaker"></vscode-icon> Server-side dry run: the API server validates the request and changes nothing.</p>` : nothing}
    </section>
    <section class="facts" id="k8s-request">
      ${fact('Verb', v.verb, 'k8s-verb')}
      ${fact('Resource', v.resource, 'k8s-resource')}
      ${fact('Namespace/name', v.object, 'k8s-object')}
      ${fact('Dry run', v.dryRun ? 'yes (dryRun=All)' : 'no', 'k8s-dry-run-fact')}
      ${v.patchType ? fact('Patch type', v.patchType, 'k8s-patch-type') : nothing}
      ${v.bodyKind ? fact('Object kind', v.bodyKind, 'k8s-body-kind') : nothing}
      ${fact('Request', html`<code>${v.method} ${v.path}</code>`, 'k8s-path')}
      ${v.query.length > 0 ? fact('Query', html`${v.query.map((q) => html`<code>${q}</code> `)}`, 'k8s-query') : nothing}
    </section>
    ${body
      ? html`<section>
          <h2>Request body${body.format === 'yaml' ? ' (YAML)' : ''}</h2>
          ${body.note ? warning(body.note, 'k8s-body-cut') : nothing}
          <pre class="http-body k8s-body" id="k8s-body" data-format=${body.format}>${body.text}</pre>
        </section>`
      : nothing}`;
}
