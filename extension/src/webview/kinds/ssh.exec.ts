import { html, nothing, type TemplateResult } from 'lit';
import { sshExecView, type ParsedOf } from '../../state/kinds.js';
import { classBadge, fact, warning, type DetailContext } from './context.js';

/**
 * A command run over SSH: the line exactly as the upstream runs it, its class, then each simple
 * command the shell classifier found in it with its own class, an inner command under the chain of
 * wrappers that runs it (sudo → bash -c → rm), the files it writes, and the pty and environment.
 */
export function sshExecDetail(p: ParsedOf<'ssh.exec'>, ctx: DetailContext): TemplateResult {
  const v = sshExecView(p, ctx.attributes);
  return html`
    <section>
      <h2>Command ${v.class ? classBadge(v.class) : nothing}</h2>
      ${v.cutNotice ? warning(`${v.cutNotice}: the line below is its head.`, 'ssh-command-cut') : nothing}
      <pre class="statement command-line" id="ssh-command"><code>${v.command}</code></pre>
      ${v.parseError ? warning(`The shell parser could not read this line (its class is unknown): ${v.parseError}`, 'ssh-parse-error') : nothing}
    </section>
    ${v.parts.length > 0
      ? html`<section>
          <h2>Commands in the line</h2>
          <ol class="statements ssh-parts" id="ssh-parts">
            ${v.parts.map(
              (part) => html`<li class=${part.class === 'read' ? 'read' : 'not-read'} title=${part.reasons.join('\n')} data-chain=${part.chain}>
                <code class="chain">${part.chain}</code>
                ${classBadge(part.class)}
                <span class="tables argv">${part.argv}</span>
              </li>`,
            )}
          </ol>
        </section>`
      : nothing}
    <div class="facts">
      ${fact('Writes', v.pathsWritten.length > 0 ? html`${v.pathsWritten.map((path, i) => html`${i > 0 ? ', ' : ''}<code>${path}</code>`)}` : '—', 'ssh-paths-written')}
      ${fact('Terminal', v.pty ? 'with a pty' : 'no pty', 'ssh-pty')}
      ${v.env.length > 0 ? fact('Environment', html`${v.env.map(([k, val]) => html`<code>${k}=${val}</code> `)}`, 'ssh-env') : nothing}
      ${fact('Connection', v.endpoint)}
    </div>
  `;
}
