import type { Logger } from '../util/logger.js';
import type { Clock } from '../util/time.js';
import type { TargetLimits } from './limits.js';

export type ConnectionLimit = 'maxConnections' | 'maxConnectionsPerSession';

/** Why a connection may not open: the limit, and one sentence naming the target, the limit and what is open. */
export interface ConnectionRefusal {
  limit: ConnectionLimit;
  message: string;
}

/** The agent session a connection logged in as. */
export interface LeaseHolder {
  id: string;
  name: string;
}

/** A place among a target's connections, held from accept until the connection closes. */
export interface ConnectionLease {
  /**
   * The agent logged in as `session`: the connection now also counts against that session's cap.
   * When the session is already at its cap this returns the refusal and the lease is released.
   */
  identify(session: LeaseHolder): ConnectionRefusal | undefined;
  /** Gives the place back. Safe to call more than once: only the first call counts. */
  release(): void;
}

export type Admission =
  /** within the target's cap: the connection proceeds to log in */
  | { kind: 'admitted'; lease: ConnectionLease }
  /**
   * over the target's cap: the adapter tells the agent natively and closes, then calls `release`.
   * It waits for the agent to speak first where the protocol wants that (PostgreSQL's startup packet,
   * as the server itself does) unless `atOnce`: as many refused connections are already waiting, so
   * this one is told the moment it is accepted and holds nothing.
   */
  | { kind: 'refused'; refusal: ConnectionRefusal; atOnce: boolean; release(): void };

/** Refusals of one limit are logged at most once per window; the rest are counted into one summary line. */
const REFUSAL_LOG_WINDOW_MS = 10_000;

/**
 * Counts one target's open agent connections, over all agent sessions and per session, and refuses
 * what goes over limits.maxConnections or limits.maxConnectionsPerSession. A connection counts
 * against the target from the moment it is accepted, before anyone knows who it is, so a flood of
 * connections that never log in is capped too; it counts against its session once it has logged in.
 * A refused connection is told why; at most maxConnections of them wait for the agent to speak
 * first, the rest are told at once, so a flood cannot hold more than twice the cap of sockets.
 * The core makes one per started target and hands it to the adapter in ProxyContext.
 */
export class ConnectionLimiter {
  private open = 0;
  private refusing = 0;
  private readonly perSession = new Map<string, number>();
  private readonly logWindows = new Map<ConnectionLimit, { suppressed: number }>();

  constructor(
    private readonly target: string,
    private readonly limits: Pick<TargetLimits, 'maxConnections' | 'maxConnectionsPerSession'>,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /** Connections holding a lease (accepted and not refused), and of those, the ones per agent session id. */
  counts(): { open: number; refusing: number; perSession: ReadonlyMap<string, number> } {
    return { open: this.open, refusing: this.refusing, perSession: this.perSession };
  }

  /** A connection was accepted. */
  admit(): Admission {
    if (this.open < this.limits.maxConnections) {
      this.open++;
      return { kind: 'admitted', lease: this.lease() };
    }
    const refusal: ConnectionRefusal = {
      limit: 'maxConnections',
      message: `target "${this.target}" allows ${this.limits.maxConnections} connections (limits.maxConnections); ${this.open} are open`,
    };
    this.logRefusal(refusal);
    if (this.refusing >= this.limits.maxConnections) return { kind: 'refused', refusal, atOnce: true, release: () => undefined };
    this.refusing++;
    let released = false;
    return {
      kind: 'refused',
      refusal,
      atOnce: false,
      release: () => {
        if (released) return;
        released = true;
        this.refusing--;
      },
    };
  }

  private lease(): ConnectionLease {
    let released = false;
    let session: string | undefined;
    const release = (): void => {
      if (released) return;
      released = true;
      this.open--;
      if (session === undefined) return;
      const left = (this.perSession.get(session) ?? 1) - 1;
      if (left > 0) this.perSession.set(session, left);
      else this.perSession.delete(session);
    };
    return {
      identify: (holder) => {
        if (released) throw new Error(`target "${this.target}": a connection lease was used after it was released`);
        if (session !== undefined) throw new Error(`target "${this.target}": a connection lease was identified twice (agent session "${holder.name}")`);
        const held = this.perSession.get(holder.id) ?? 0;
        if (held >= this.limits.maxConnectionsPerSession) {
          const refusal: ConnectionRefusal = {
            limit: 'maxConnectionsPerSession',
            message: `target "${this.target}" allows ${this.limits.maxConnectionsPerSession} connections per agent session (limits.maxConnectionsPerSession); agent session "${holder.name}" has ${held} open`,
          };
          this.logRefusal(refusal);
          release();
          return refusal;
        }
        session = holder.id;
        this.perSession.set(holder.id, held + 1);
        return undefined;
      },
      release,
    };
  }

  /** The first refusal of a limit is logged; later ones within the window become one summary line at its end. */
  private logRefusal(refusal: ConnectionRefusal): void {
    const window = this.logWindows.get(refusal.limit);
    if (window) {
      window.suppressed++;
      return;
    }
    this.logger.warn(`refused a connection: ${refusal.message}`);
    const opened = { suppressed: 0 };
    this.logWindows.set(refusal.limit, opened);
    this.clock.setTimeout(() => {
      this.logWindows.delete(refusal.limit);
      if (opened.suppressed > 0) {
        this.logger.warn(`refused ${opened.suppressed} more connection${opened.suppressed === 1 ? '' : 's'} in the last ${REFUSAL_LOG_WINDOW_MS / 1000}s over limits.${refusal.limit}`);
      }
    }, REFUSAL_LOG_WINDOW_MS);
  }
}
