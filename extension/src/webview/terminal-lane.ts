import { Terminal } from '@xterm/xterm';
import type { TerminalClip, TimelineEntry } from '../protocol/webview-messages.js';
import { framesUntil, parseAsciicast, type Asciicast } from '../state/asciicast.js';

/**
 * The terminal lane's player: an action that recorded terminal output (an asciicast v2 text: SSH
 * shells, kubectl exec) plays in xterm.js in step with the replay clock. Seeking forward writes the
 * frames in between; seeking back starts the clip over.
 */
export class TerminalLane {
  private term?: Terminal;
  private clipId?: string;
  private cast?: Asciicast;
  private shown = 0;

  seek(clips: readonly TerminalClip[], selected: TimelineEntry | undefined, t: number): void {
    const slot = document.getElementById('terminal-slot');
    const clip = selected ? clips.find((c) => c.actionId === selected.actionId) : undefined;
    if (!slot || !clip) {
      this.detach();
      return;
    }
    if (this.clipId !== clip.actionId || !this.term || !slot.contains(this.term.element ?? null)) {
      this.detach();
      try {
        this.cast = parseAsciicast(clip.cast);
      } catch (err) {
        slot.textContent = (err as Error).message;
        return;
      }
      allowXtermStyles();
      this.term = new Terminal({ cols: this.cast.width, rows: this.cast.height, disableStdin: true, convertEol: true, fontSize: 12 });
      this.term.open(slot);
      this.clipId = clip.actionId;
      this.shown = 0;
    }
    const upTo = framesUntil(this.cast!, Math.max(0, t - clip.t) / 1000);
    if (upTo < this.shown) {
      this.term.reset();
      this.shown = 0;
    }
    for (; this.shown < upTo; this.shown++) this.term.write(this.cast!.frames[this.shown]!.data);
  }

  private detach(): void {
    this.term?.dispose();
    this.term = undefined;
    this.clipId = undefined;
    this.cast = undefined;
  }
}

/**
 * xterm.js adds <style> elements for its theme; the page's CSP admits styles by nonce only, so the
 * page's own nonce (from its stylesheet link) is put on them. Nothing else gets it.
 */
let patched = false;
function allowXtermStyles(): void {
  if (patched) return;
  patched = true;
  const nonce = (document.getElementById('vscode-codicon-stylesheet') as HTMLLinkElement | null)?.nonce;
  if (!nonce) return;
  const create = document.createElement.bind(document);
  document.createElement = ((tag: string, options?: ElementCreationOptions) => {
    const el = create(tag, options);
    if (tag.toLowerCase() === 'style') el.nonce = nonce;
    return el;
  }) as typeof document.createElement;
}
