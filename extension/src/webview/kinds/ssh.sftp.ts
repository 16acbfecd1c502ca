import { html, nothing, type TemplateResult } from 'lit';
import { sshSftpView, type ParsedOf } from '../../state/kinds.js';
import { fact, type DetailContext } from './context.js';

/** One sftp operation: what it does to which path (and the other path of a rename or symlink). */
export function sshSftpDetail(p: ParsedOf<'ssh.sftp'>, _ctx: DetailContext): TemplateResult {
  const v = sshSftpView(p);
  return html`<section class="facts" id="sftp">
    ${fact('Operation', v.operation, 'sftp-operation')}
    ${fact('Path', html`<code>${v.path}</code>`, 'sftp-path')}
    ${v.toPath !== undefined ? fact('To', html`<code>${v.toPath}</code>`, 'sftp-to-path') : nothing}
    ${v.flags.length > 0 ? fact('Flags', v.flags.join(', '), 'sftp-flags') : nothing}
    ${v.attrs.length > 0 ? fact('Changes', v.attrs.map(([k, val]) => `${k} ${val}`).join(', ')) : nothing}
    ${fact('Connection', v.endpoint)}
  </section>`;
}
