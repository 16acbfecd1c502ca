import type net from 'node:net';
import type { AgentSession } from '@airlock/shared';
import type { HeaderList } from '../../classify/http/types.js';
import { newId } from '../../util/ids.js';
import type { ProxyContext } from '../listeners.js';
import type { ConnectionLease } from '../connection-limits.js';
import { agentCredential } from './agent-auth.js';
import { CookieJar } from './cookies.js';
import { endSocketWith } from './exchange.js';
import { authRefusal, limitRefusal, type DaemonAnswer } from './refusal.js';

/**
 * Failed logins on one connection before it is closed. git's first request carries no credentials
 * (it waits for the 401 challenge), so one failure is normal; each failure costs a request on a
 * socket that was admitted against limits.maxConnections, so a flood of bad tokens is capped by the
 * same limiter as any other.
 */
const MAX_AUTH_FAILURES = 4;

/** What logging in a request came to: the session, or the answer to give and whether to close. */
export type LoginOutcome = { ok: true; session: AgentSession } | { ok: false; answer: DaemonAnswer; close: boolean };

/**
 * One agent TCP connection to an HTTP listener: its place among the target's connections (taken at
 * accept), the agent session it logged in as (each request carries the token again, and must name
 * the same session), its failed logins, and the limits.authTimeout within which it must log in.
 */
export class HttpAgentConnection {
  readonly id = newId('httpc');
  private lease?: ConnectionLease;
  private session?: AgentSession;
  private failures = 0;
  private readonly goneController = new AbortController();
  private authTimer?: { cancel(): void };

  constructor(
    readonly socket: net.Socket,
    private readonly context: ProxyContext,
    private readonly targetName: string,
    private readonly jars: Map<string, CookieJar>,
    /** how the agent presents its token: API targets take Authorization, egress Proxy-Authorization */
    private readonly authHeader: 'authorization' | 'proxy-authorization' = 'authorization',
  ) {}

  /** At accept: admitted, or refused (the answer is written raw and the socket closed). */
  admit(): DaemonAnswer | undefined {
    const admission = this.context.connections.admit();
    if (admission.kind === 'refused') {
      admission.release();
      return limitRefusal(admission.refusal.message, []);
    }
    this.lease = admission.lease;
    this.authTimer = this.context.clock.setTimeout(() => {
      if (this.session) return;
      this.context.logger.warn(`connection ${this.id} closed: no login within ${this.context.limits.authTimeoutMs} ms (limits.authTimeout)`);
      this.socket.destroy();
    }, this.context.limits.authTimeoutMs);
    this.socket.once('close', () => this.closed());
    return undefined;
  }

  get gone(): AbortSignal {
    return this.goneController.signal;
  }

  get jar(): CookieJar {
    const id = this.session!.id;
    let jar = this.jars.get(id);
    if (!jar) this.jars.set(id, (jar = new CookieJar()));
    return jar;
  }

  /** The session a request's credential names; the first one also identifies the connection's lease. */
  login(headers: HeaderList): LoginOutcome {
    const credential = agentCredential(headers, this.authHeader);
    const challenge = this.authHeader === 'authorization' ? 'Basic realm="Airlock"' : 'Basic realm="Airlock egress"';
    let reason: string;
    if (credential.kind === 'token') {
      const result = this.context.sessions.authenticate(credential.token, this.targetName);
      if (result.ok) return this.bind(result.session, headers);
      reason = result.message;
    } else if (credential.kind === 'missing') {
      reason = `no agent session token: send Authorization: Bearer <token>, or Basic with the token as the password`;
    } else reason = credential.reason;
    this.failures++;
    const answer = authRefusal(`login to target "${this.targetName}" refused: ${reason}`, headers, challenge);
    if (this.authHeader === 'proxy-authorization') {
      answer.status = 407;
      delete answer.headers['www-authenticate'];
      answer.headers['proxy-authenticate'] = challenge;
    }
    return { ok: false, answer, close: this.failures >= MAX_AUTH_FAILURES };
  }

  private bind(session: AgentSession, headers: HeaderList): LoginOutcome {
    if (this.session) {
      if (this.session.id === session.id) return { ok: true, session };
      this.failures++;
      return { ok: false, answer: authRefusal(`this connection carries agent session "${this.session.name}"; open another connection for agent session "${session.name}"`, headers), close: true };
    }
    const refused = this.lease?.identify({ id: session.id, name: session.name });
    if (refused || !this.lease) {
      this.lease = undefined;
      return { ok: false, answer: limitRefusal(refused?.message ?? `target "${this.targetName}": the connection was closed`, headers), close: true };
    }
    this.session = session;
    this.authTimer?.cancel();
    return { ok: true, session };
  }

  /**
   * Ends the connection with `raw` (a whole response) when a request body was left unread: the
   * socket is half-closed and no longer read (the agent's writes meet TCP backpressure), then
   * destroyed after limits.authTimeout, time enough for the agent to read the answer.
   */
  endWith(raw: string | Uint8Array): void {
    endSocketWith(this.socket, raw, this.context);
  }

  close(): void {
    this.socket.destroy();
  }

  private closed(): void {
    this.authTimer?.cancel();
    this.goneController.abort();
    this.lease?.release();
    this.lease = undefined;
  }
}
