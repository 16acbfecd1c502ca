import { formatDuration, type Clock } from '../../../util/time.js';

/**
 * limits.idleTimeout for one relayed stream (exec, attach, port-forward): `touch()` on every message
 * either way; once nothing moved for `idleMs` and the stream is not `busy` (a side paused for
 * backpressure still has bytes on their way), `onIdle` runs once. 0 = off. One timer per stream,
 * re-armed from the last traffic when it fires, so a busy stream costs a clock read per message.
 */
export class StreamIdleTimer {
  private lastActivity: number;
  private timer: { cancel(): void } | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly idleMs: number,
    private readonly onIdle: () => void,
    private readonly busy: () => boolean = () => false,
  ) {
    this.lastActivity = clock.now();
    if (idleMs > 0) this.arm(idleMs);
  }

  /** Bytes moved. */
  touch(): void {
    this.lastActivity = this.clock.now();
  }

  /** The stream ended: the timer never fires. */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private arm(delayMs: number): void {
    this.timer = this.clock.setTimeout(() => this.check(), delayMs);
  }

  private check(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const quietFor = this.clock.now() - this.lastActivity;
    if (quietFor < this.idleMs) return this.arm(this.idleMs - quietFor);
    if (this.busy()) return this.arm(this.idleMs);
    this.stopped = true;
    this.onIdle();
  }
}

/** What the agent and the record are told when a stream is closed for being idle. */
export function idleStreamMessage(target: string, stream: 'exec' | 'attach' | 'port-forward', idleMs: number): string {
  return `target "${target}" closed the ${stream} stream: no traffic for ${formatDuration(idleMs)} (limits.idleTimeout)`;
}
