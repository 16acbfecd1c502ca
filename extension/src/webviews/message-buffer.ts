import type { HostMessage } from '../protocol/webview-messages.js';

/**
 * What the host has for a webview that cannot take it yet (still loading, or hidden, which unloads
 * its document). A newer state replaces an older one of the same kind, since each is complete;
 * anything else queues in order, bounded so a panel hidden for a day does not grow without end.
 */
export class MessageBuffer {
  private queue: HostMessage[] = [];

  constructor(private readonly limit = 100) {}

  push(message: HostMessage): void {
    if (message.type.endsWith('.state')) this.queue = this.queue.filter((m) => m.type !== message.type);
    this.queue.push(message);
    if (this.queue.length > this.limit) this.queue.splice(0, this.queue.length - this.limit);
  }

  /** Everything buffered, oldest first; the buffer is empty afterwards. */
  drain(): HostMessage[] {
    const out = this.queue;
    this.queue = [];
    return out;
  }

  get size(): number {
    return this.queue.length;
  }
}
