import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { WebviewMessage, type HostMessage, type WebviewKind } from '../protocol/webview-messages.js';
import { describeIssues } from '@airlock/shared';
import { MessageBuffer } from './message-buffer.js';

/**
 * One Airlock webview panel: strict CSP (scripts by nonce, no network, resources only from the
 * extension's out/webview), messages validated both ways, and state kept across hide/show. A hidden
 * panel's document is unloaded (no retainContextWhenHidden: it would keep every panel's DOM alive),
 * so the host buffers what it would have sent and sends the latest state again when the webview
 * says `ready`; the webview keeps its own UI state (selection, scroll, playhead) with setState.
 */
export abstract class AirlockPanel implements vscode.Disposable {
  protected readonly panel: vscode.WebviewPanel;
  private readonly buffer = new MessageBuffer();
  private latestState?: HostMessage;
  private ready = false;
  private readonly subscriptions: vscode.Disposable[] = [];
  private disposed = false;

  protected constructor(
    protected readonly extensionUri: vscode.Uri,
    protected readonly output: vscode.LogOutputChannel,
    viewType: string,
    title: string,
    private readonly kind: WebviewKind,
    column: vscode.ViewColumn = vscode.ViewColumn.Active,
  ) {
    const root = vscode.Uri.joinPath(extensionUri, 'out', 'webview');
    this.panel = vscode.window.createWebviewPanel(viewType, title, column, {
      enableScripts: true,
      localResourceRoots: [root],
      enableFindWidget: true,
    });
    this.panel.webview.html = webviewHtml(this.panel.webview, root, kind, title);
    this.subscriptions.push(
      this.panel.webview.onDidReceiveMessage((raw: unknown) => this.receive(raw)),
      this.panel.onDidChangeViewState(() => {
        // hidden: the document goes away; it says `ready` again when shown
        if (!this.panel.visible) this.ready = false;
      }),
      this.panel.onDidDispose(() => this.dispose()),
    );
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  reveal(): void {
    this.panel.reveal(undefined, false);
  }

  /** Sends now when the webview can take it, else buffers (a newer state replaces an older one). */
  protected post(message: HostMessage): void {
    if (this.disposed) return;
    if (message.type.endsWith('.state')) this.latestState = message;
    this.buffer.push(message);
    if (this.ready) this.flush();
  }

  protected abstract onMessage(message: Exclude<WebviewMessage, { type: 'ready' }>): void | Promise<void>;

  private receive(raw: unknown): void {
    const parsed = WebviewMessage.safeParse(raw);
    if (!parsed.success) {
      this.output.warn(describeIssues(`Airlock ${this.kind} webview sent a message that is not in the protocol`, parsed.error));
      return;
    }
    if (parsed.data.type === 'ready') {
      this.ready = true;
      // a reloaded document starts empty: it needs the latest state again (the buffer keeps one per kind)
      if (this.latestState) this.buffer.push(this.latestState);
      this.flush();
      return;
    }
    void Promise.resolve(this.onMessage(parsed.data)).catch((err: Error) => this.post({ type: 'error', message: err.message }));
  }

  private flush(): void {
    for (const message of this.buffer.drain()) void this.panel.webview.postMessage(message);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.subscriptions) s.dispose();
    this.panel.dispose();
    this.onDisposed();
  }

  protected onDisposed(): void {}
}

/** The page of one webview: the script and codicons from out/webview, nothing else allowed. */
export function webviewHtml(webview: vscode.Webview, root: vscode.Uri, kind: WebviewKind, title: string): string {
  const nonce = randomBytes(18).toString('base64');
  const asset = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(root, name)).toString();
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    "connect-src 'none'",
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${asset('codicon.css')}" id="vscode-codicon-stylesheet" nonce="${nonce}">
<link rel="stylesheet" href="${asset('webview.css')}" nonce="${nonce}">
</head>
<body data-kind="${kind}">
<main id="root" aria-busy="true">Loading…</main>
<script type="module" nonce="${nonce}" src="${asset(`${kind}.js`)}"></script>
</body>
</html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

