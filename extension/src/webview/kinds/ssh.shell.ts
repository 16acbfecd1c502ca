import { html, type TemplateResult } from 'lit';
import { sshShellView, type ParsedOf } from '../../state/kinds.js';
import { fact, type DetailContext } from './context.js';

/** An interactive shell has no command to read before it runs: the panel says what is kept of it instead. */
export function sshShellDetail(p: ParsedOf<'ssh.shell'>, ctx: DetailContext): TemplateResult {
  const v = sshShellView(p);
  return html`<section>
    <pre class="statement" id="statement">${ctx.summary}</pre>
    <p class="notice" id="ssh-shell-note"><vscode-icon name="record"></vscode-icon> ${v.note}</p>
    <div class="facts">${fact('Terminal', v.pty ?? 'no pty', 'ssh-pty')} ${fact('Connection', v.endpoint)}</div>
  </section>`;
}
