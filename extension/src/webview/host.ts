import { HostMessage, WebviewMessage } from '../protocol/webview-messages.js';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** The page's root element, emptied of the "Loading…" the host's HTML put there. */
export function pageRoot(): HTMLElement {
  const root = document.getElementById('root')!;
  root.textContent = '';
  root.removeAttribute('aria-busy');
  return root;
}

/**
 * The webview's end of the protocol: messages from the host are validated before anything renders
 * them, messages to the host are validated before they leave, and UI state survives hide/show
 * through VS Code's setState.
 */
export class HostChannel<UiState extends object> {
  private readonly api = acquireVsCodeApi();

  constructor(
    private readonly onMessage: (message: HostMessage) => void,
    private readonly onInvalid: (reason: string) => void,
  ) {
    window.addEventListener('message', (event: MessageEvent<unknown>) => {
      const parsed = HostMessage.safeParse(event.data);
      if (parsed.success) this.onMessage(parsed.data);
      else this.onInvalid(`The extension sent a message this view does not understand (${parsed.error.issues[0]?.message ?? 'invalid'}).`);
    });
  }

  /** Tells the host the page is ready for its state (after every load, including re-shows). */
  ready(): void {
    this.send({ type: 'ready' });
  }

  send(message: WebviewMessage): void {
    this.api.postMessage(WebviewMessage.parse(message));
  }

  uiState(defaults: UiState): UiState {
    const saved = this.api.getState();
    return saved && typeof saved === 'object' ? { ...defaults, ...(saved as Partial<UiState>) } : defaults;
  }

  saveUiState(state: UiState): void {
    this.api.setState(state);
  }
}
