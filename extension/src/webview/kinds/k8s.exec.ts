import { html, nothing, type TemplateResult } from 'lit';
import { k8sExecView } from '../../state/k8s.js';
import type { ParsedOf } from '../../state/kinds.js';
import { classBadge, fact, warning, type DetailContext } from './context.js';

/**
 * A command run in a container (or an attach to one): the pod, the container, the command as its
 * argv (one word per line, exactly as the container runs it: no shell joins them), and whether the
 * agent's input and a terminal are attached.
 */
export function k8sExecDetail(p: ParsedOf<'k8s.exec'>, ctx: DetailContext): TemplateResult {
  const v = k8sExecView(p.detail);
  const cls = ctx.attributes['class'];
  return html`<section>
      <h2>${v.operation === 'exec' ? 'Command in a container' : 'Attach to a container'} ${typeof cls === 'string' ? classBadge(cls) : nothing}</h2>
      <pre class="statement command-line" id="k8s-exec-line"><code>${v.line}</code></pre>
      ${v.cutNotice ? warning(`${v.cutNotice}: the words below are its head.`, 'k8s-command-cut') : nothing}
    </section>
    ${v.operation === 'exec'
      ? html`<section>
          <h2>Command (argv)</h2>
          <ol class="statements k8s-argv" id="k8s-argv">
            ${v.argv.map((word) => html`<li><code>${word}</code></li>`)}
          </ol>
        </section>`
      : nothing}
    <div class="facts">
      ${fact('Pod', v.pod, 'k8s-pod')}
      ${fact('Namespace', v.namespace, 'k8s-namespace')}
      ${fact('Container', v.container, 'k8s-container')}
      ${fact('Input', v.stdin ? 'stdin attached (the agent can type)' : 'no stdin', 'k8s-stdin')}
      ${fact('Terminal', v.tty ? 'tty' : 'no tty', 'k8s-tty')}
      ${v.protocol ? fact('Stream', v.protocol, 'k8s-protocol') : nothing}
    </div>
    <p class="notice" id="k8s-exec-recording"><vscode-icon name="record"></vscode-icon> ${v.recording}</p>`;
}
