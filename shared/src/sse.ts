/**
 * Incremental parser for the text/event-stream format (the subset the control API sends: `id`,
 * `event`, `data`, comments). Pure: callers feed it decoded text as it arrives.
 */
export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

export class SseParser {
  private buffer = '';
  private current: { id?: string; event?: string; data?: string } = {};
  /** comment lines seen (the daemon's heartbeats) */
  comments = 0;
  /** the last `id:` seen, to resume from with Last-Event-ID */
  lastEventId: string | undefined;

  /** Returns the messages completed by this chunk, in order. */
  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      if (line === '') {
        if (this.current.data !== undefined) {
          if (this.current.id !== undefined) this.lastEventId = this.current.id;
          out.push({ id: this.current.id, event: this.current.event ?? 'message', data: this.current.data });
        }
        this.current = {};
      } else if (line.startsWith(':')) {
        this.comments++;
      } else {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') this.current.data = this.current.data === undefined ? value : `${this.current.data}\n${value}`;
        else if (field === 'id') this.current.id = value;
        else if (field === 'event') this.current.event = value;
      }
    }
    return out;
  }
}
