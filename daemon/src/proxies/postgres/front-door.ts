import type { AgentSession } from '@airlock/shared';
import type { AgentSessionStore } from '../../sessions/store.js';
import { ScramServerExchange, SCRAM_MECHANISM } from './scram.js';
import {
  BodyReader,
  PROTOCOL_3_0,
  ProtocolError,
  authenticationCleartext,
  authenticationSasl,
  authenticationSaslContinue,
  authenticationSaslFinal,
  negotiateProtocolVersion,
  parseStartupPacket,
  type WireMessage,
} from './protocol.js';

/**
 * The agent's side of a connection up to its login, as a pure state machine: the startup packet
 * (SSLRequest, GSSENCRequest, CancelRequest or StartupMessage) and the agent-session token proven by
 * SCRAM-SHA-256, or sent as a cleartext password only over TLS. It says what to answer; the shell
 * writes it, upgrades to TLS and connects upstream.
 */

export type FrontDoorStep =
  /** write these bytes to the agent */
  | { kind: 'reply'; bytes: Buffer }
  /** accept TLS: write 'S', then continue on the encrypted socket */
  | { kind: 'tls' }
  /** a CancelRequest: pass it on and close */
  | { kind: 'cancel'; processId: number; secretKey: number }
  /** the agent is who its token says: log in upstream, then write `bytes` (if any) and the hello */
  | { kind: 'authenticated'; session: AgentSession; bytes?: Buffer };

type Stage = 'startup' | 'cleartext' | 'sasl-initial' | 'sasl-final' | 'done';

export class PgFrontDoor {
  private stage: Stage = 'startup';
  private scram?: ScramServerExchange;
  /** the StartupMessage's parameters (user, database, application_name, ...) */
  params = new Map<string, string>();

  constructor(
    private readonly sessions: Pick<AgentSessionStore, 'authenticate' | 'scramCandidates' | 'check'>,
    private readonly target: string,
    private readonly tlsOffered: boolean,
  ) {}

  /** Waiting for the startup packet (which has no type byte) rather than typed messages. */
  get expectsStartup(): boolean {
    return this.stage === 'startup';
  }

  get authenticated(): boolean {
    return this.stage === 'done';
  }

  /** `encrypted`: the socket is already TLS. */
  onStartup(packet: Buffer, encrypted: boolean): FrontDoorStep {
    const startup = parseStartupPacket(packet);
    switch (startup.kind) {
      case 'ssl':
        return this.tlsOffered && !encrypted ? { kind: 'tls' } : { kind: 'reply', bytes: Buffer.from('N') };
      case 'gssenc':
        return { kind: 'reply', bytes: Buffer.from('N') };
      case 'cancel':
        return { kind: 'cancel', processId: startup.processId, secretKey: startup.secretKey };
      case 'startup': {
        const major = startup.protocol >> 16;
        if (major !== 3) throw new ProtocolError(`unsupported frontend protocol ${major}.${startup.protocol & 0xffff}: Airlock speaks 3.0`, '0A000');
        if (startup.params.has('replication')) throw new ProtocolError('replication connections are not allowed through Airlock', '28000');
        const unrecognized = [...startup.params.keys()].filter((k) => k.startsWith('_pq_.'));
        const negotiate = startup.protocol !== PROTOCOL_3_0 || unrecognized.length > 0 ? [negotiateProtocolVersion(0, unrecognized)] : [];
        this.params = startup.params;
        // cleartext only where the channel is encrypted; otherwise SCRAM, so the token never crosses in the clear
        if (encrypted) {
          this.stage = 'cleartext';
          return { kind: 'reply', bytes: Buffer.concat([...negotiate, authenticationCleartext()]) };
        }
        this.stage = 'sasl-initial';
        return { kind: 'reply', bytes: Buffer.concat([...negotiate, authenticationSasl([SCRAM_MECHANISM])]) };
      }
    }
  }

  onMessage(msg: WireMessage): FrontDoorStep {
    if (msg.type !== 'p') throw new ProtocolError(`expected a password message during authentication, got "${msg.type}"`);
    const user = this.params.get('user') ?? '';
    switch (this.stage) {
      case 'cleartext': {
        const token = new BodyReader(msg.body).cstring();
        const auth = this.sessions.authenticate(token, this.target);
        if (!auth.ok) throw new ProtocolError(`password authentication failed for user "${user}": ${auth.message}`, '28P01');
        this.stage = 'done';
        return { kind: 'authenticated', session: auth.session };
      }
      case 'sasl-initial': {
        const r = new BodyReader(msg.body);
        const mechanism = r.cstring();
        const length = r.int32();
        const data = length < 0 ? '' : r.bytes(length).toString('utf8');
        const candidates = this.sessions.scramCandidates();
        this.scram = new ScramServerExchange(candidates.salt, candidates.iterations);
        const reply = authenticationSaslContinue(this.scram.start(mechanism, data));
        this.stage = 'sasl-final';
        return { kind: 'reply', bytes: reply };
      }
      case 'sasl-final': {
        const candidates = this.sessions.scramCandidates();
        const match = this.scram!.finish(msg.body.toString('utf8'), candidates.sessions);
        if (!match) throw new ProtocolError(`password authentication failed for user "${user}": the password is not a valid Airlock agent session token`, '28P01');
        const { session } = candidates.sessions[match.index]!;
        const auth = this.sessions.check(session.id, this.target);
        if (!auth.ok) throw new ProtocolError(`password authentication failed for user "${user}": ${auth.message}`, '28P01');
        this.stage = 'done';
        return { kind: 'authenticated', session: auth.session, bytes: authenticationSaslFinal(match.serverFinal) };
      }
      default:
        throw new ProtocolError('unexpected password message');
    }
  }
}
