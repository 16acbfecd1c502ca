import type { K8sPortForwardResultDetail } from '@airlock/shared';
import { GOAWAY_STATUS, RST_STATUS, type SpdyFrame } from './frames.js';
import type { SpdyHeaders } from './header-block.js';

/**
 * kubectl's port-forward over SPDY (`portforward.k8s.io`), terminated by Airlock, as a pure state
 * machine. kubectl opens, per local connection, an error stream then a data stream, both carrying
 * `streamtype`, `port` and `requestid` headers (it half-closes the error stream at once). Each
 * stream is answered with SYN_REPLY (kubectl drops data that comes before it). Once both streams of
 * a request are there and policy allowed the port, ONE upstream WebSocket
 * `pods/NAME/portforward?ports=PORT` (v4.channel.k8s.io) carries it: data stream ↔ channel 0 (the
 * upstream's 2-byte port prefix removed), channel 1 → the error stream. A port policy did not allow
 * gets its reason on the error stream, then both streams end: nothing is forwarded (fail closed).
 * The session returns effects; the shell does the sockets, the WebSockets, the policy calls and the
 * timers. Bytes are counted per port each way; the content is not kept.
 */

export type SpdyPortForwardEffect =
  | { kind: 'to-agent'; frame: SpdyFrame }
  /** ask policy about this port (once per port per connection) */
  | { kind: 'decide'; port: number }
  | { kind: 'open-upstream'; requestId: string; port: number }
  /** a v4.channel.k8s.io message (channel byte first) */
  | { kind: 'to-upstream'; requestId: string; message: Buffer }
  | { kind: 'close-upstream'; requestId: string }
  /**
   * the connection is over. `linger`: requests were told why on their error streams; kubectl prints
   * that, then closes the connection itself, so the shell waits for it (a bounded while) instead of
   * closing first, which would race kubectl's printing
   */
  | { kind: 'end'; error: string; closedBy: 'error' | 'limit'; linger?: boolean };

export interface SpdyPortForwardLimits {
  /** streams open at once (two per forwarded connection); a SYN_STREAM beyond it is refused */
  maxStreams: number;
  /** distinct ports one port-forward may ask for (each is an action) */
  maxPorts: number;
  /** bytes of error text kept per request for the error stream (limits.actionTextBytes) */
  maxErrorBytes: number;
}

type PortDecision = { state: 'pending' } | { state: 'allowed' } | { state: 'refused'; message: string };

interface StreamState {
  requestId: string;
  type: 'data' | 'error';
  port: number;
  /** the agent half-closed it */
  agentFin: boolean;
  /** we half-closed it */
  ourFin: boolean;
}

interface PairState {
  requestId: string;
  port: number;
  dataStream?: number;
  errorStream?: number;
  phase: 'gathering' | 'deciding' | 'opening' | 'open' | 'closed';
  /** agent data waiting for the upstream to open (counted by heldBytes) */
  held: Buffer[];
  /** the upstream's port prefix seen on channel 0 / 1 */
  prefixSeen: [boolean, boolean];
  errorBytes: number;
}

/** What a SYN_STREAM's headers say, or why it cannot be served. */
export function streamHeadersOf(streamId: number, headers: SpdyHeaders): { requestId: string; type: 'data' | 'error'; port: number } | { error: string } {
  const one = (name: string): string | undefined => headers.get(name)?.[0];
  const type = one('streamtype');
  if (type !== 'data' && type !== 'error') return { error: `stream ${streamId} has the stream type "${type ?? ''}"; a port-forward has only data and error streams` };
  const portText = one('port') ?? '';
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 0xffff) return { error: `stream ${streamId} asks for the port "${portText}", which is not a port number` };
  // kubectl sends requestid; clients before it pair an error stream with the data stream right after it
  const requestId = one('requestid') ?? String(type === 'data' ? streamId - 2 : streamId);
  return { requestId, type, port: Number(portText) };
}

export class SpdyPortForwardSession {
  private readonly streams = new Map<number, StreamState>();
  private readonly pairs = new Map<string, PairState>();
  private readonly decisions = new Map<number, PortDecision>();
  private readonly counts = new Map<number, { bytesUp: number; bytesDown: number }>();
  private lastStreamId = 0;
  private goneAway = false;
  private ended = false;
  private heldTotal = 0;

  /**
   * @param decided ports policy already decided for this connection (the `?ports=` of the upgrade)
   * @param askPerPort whether a port not in `decided` is put to policy (the upgrade had no `?ports=`, as with kubectl) or refused
   */
  constructor(
    private readonly limits: SpdyPortForwardLimits,
    decided: ReadonlyMap<number, PortDecision>,
    private readonly askPerPort: boolean,
    /** the API server's error text on its way to the agent (it can quote what it read): masked */
    private readonly maskErrorText: (text: string) => string,
  ) {
    for (const [port, decision] of decided) this.decisions.set(port, decision);
  }

  /** Agent bytes waiting for upstreams that are not open yet (the shell stops reading above its buffer). */
  heldBytes(): number {
    return this.heldTotal;
  }

  /** Streams open now. */
  openStreams(): number {
    return this.streams.size;
  }

  fromAgent(frame: SpdyFrame): SpdyPortForwardEffect[] {
    if (this.ended) return [];
    switch (frame.type) {
      case 'syn_stream':
        return this.openStream(frame.streamId, frame.headers, frame.fin);
      case 'data':
        return this.agentData(frame.streamId, frame.data, frame.fin);
      case 'rst_stream': {
        const stream = this.streams.get(frame.streamId);
        if (!stream) return [];
        return this.closePair(stream.requestId, undefined, { agentReset: true });
      }
      case 'ping':
        // a client's pings have odd ids; Airlock sends none, so any ping is answered (spdystream does the same)
        return [{ kind: 'to-agent', frame }];
      case 'goaway':
        this.goneAway = true;
        return [];
      case 'headers':
      case 'settings':
      case 'window_update':
      case 'syn_reply':
        // spdystream sends no flow control and enforces none; headers after SYN_STREAM carry nothing here
        return [];
    }
  }

  /** Policy's answer for a port; `message` says why when refused. */
  decided(port: number, allowed: boolean, message?: string): SpdyPortForwardEffect[] {
    this.decisions.set(port, allowed ? { state: 'allowed' } : { state: 'refused', message: message ?? `port ${port} was refused` });
    const effects: SpdyPortForwardEffect[] = [];
    for (const pair of [...this.pairs.values()]) if (pair.port === port && pair.phase === 'deciding') effects.push(...this.proceed(pair));
    return effects;
  }

  upstreamOpened(requestId: string): SpdyPortForwardEffect[] {
    const pair = this.pairs.get(requestId);
    if (!pair || pair.phase !== 'opening') return [{ kind: 'close-upstream', requestId }];
    pair.phase = 'open';
    const effects: SpdyPortForwardEffect[] = [];
    for (const chunk of pair.held) effects.push(...this.up(pair, chunk));
    this.heldTotal -= pair.held.reduce((n, b) => n + b.length, 0);
    pair.held = [];
    const data = pair.dataStream === undefined ? undefined : this.streams.get(pair.dataStream);
    if (data?.agentFin) effects.push({ kind: 'close-upstream', requestId });
    return effects;
  }

  /** A message from the upstream WebSocket of `requestId`. */
  upstreamMessage(requestId: string, message: Buffer, isBinary: boolean): SpdyPortForwardEffect[] {
    const pair = this.pairs.get(requestId);
    if (!pair || pair.phase !== 'open') return [];
    if (!isBinary) return this.closePair(requestId, 'the API server sent a text message on a v4.channel.k8s.io port-forward');
    if (message.length === 0) return [];
    const channel = message[0]!;
    if (channel > 1) return this.closePair(requestId, `the API server sent on channel ${channel}; a port-forward of one port has channels 0 and 1`);
    let payload = message.subarray(1);
    if (!pair.prefixSeen[channel]) {
      if (payload.length < 2) return this.closePair(requestId, 'the API server sent a port prefix shorter than 2 bytes');
      const port = payload.readUInt16LE(0);
      if (port !== pair.port) return this.closePair(requestId, `the API server answered for port ${port} on the stream of port ${pair.port}`);
      pair.prefixSeen[channel] = true;
      payload = payload.subarray(2);
    }
    if (payload.length === 0) return [];
    if (channel === 0) {
      this.count(pair.port).bytesDown += payload.length;
      return pair.dataStream === undefined ? [] : [{ kind: 'to-agent', frame: { type: 'data', streamId: pair.dataStream, fin: false, data: payload } }];
    }
    return this.errorText(pair, Buffer.from(this.maskErrorText(payload.toString('utf8')), 'utf8'));
  }

  /** The upstream WebSocket ended (`problem`: why, when it was not a normal end). */
  upstreamClosed(requestId: string, problem?: string): SpdyPortForwardEffect[] {
    return this.closePair(requestId, problem, { upstreamGone: true });
  }

  /** The upstream could not be opened (the pod is gone, the API server refused): said on the error stream. */
  upstreamFailed(requestId: string, message: string): SpdyPortForwardEffect[] {
    return this.closePair(requestId, message, { upstreamGone: true });
  }

  /** Ends every request with `message` on its error stream, then the connection (the idle timeout). */
  shutdown(message: string): SpdyPortForwardEffect[] {
    const effects: SpdyPortForwardEffect[] = [];
    const told = this.pairs.size > 0;
    for (const requestId of [...this.pairs.keys()]) effects.push(...this.closePair(requestId, message));
    // with no request open there is no stream to say why on: GOAWAY and close
    if (!told) effects.push({ kind: 'to-agent', frame: { type: 'goaway', lastGoodStreamId: this.lastStreamId, status: GOAWAY_STATUS.ok } });
    this.ended = true;
    effects.push({ kind: 'end', error: message, closedBy: 'limit', ...(told ? { linger: true } : {}) });
    return effects;
  }

  /** Every port that moved bytes or was asked for, with its counts. */
  result(ports: readonly number[], closedBy: K8sPortForwardResultDetail['closedBy']): K8sPortForwardResultDetail {
    return { ports: ports.map((port) => ({ port: String(port), bytesUp: this.counts.get(port)?.bytesUp ?? 0, bytesDown: this.counts.get(port)?.bytesDown ?? 0 })), ...(closedBy ? { closedBy } : {}) };
  }

  /** Requests still in progress (for the shell to close their upstreams when the agent goes). */
  requestIds(): string[] {
    return [...this.pairs.keys()];
  }

  private openStream(streamId: number, headers: SpdyHeaders, fin: boolean): SpdyPortForwardEffect[] {
    const reset = (status: number): SpdyPortForwardEffect[] => [{ kind: 'to-agent', frame: { type: 'rst_stream', streamId, status } }];
    // client streams have odd ids, each above the last (SPDY/3 §2.3.2)
    if (streamId % 2 === 0 || streamId <= this.lastStreamId) return this.protocolError(`the agent opened stream ${streamId} after stream ${this.lastStreamId}; client stream ids are odd and increase`);
    this.lastStreamId = streamId;
    if (this.goneAway) return reset(RST_STATUS.refusedStream);
    if (this.streams.size >= this.limits.maxStreams) return reset(RST_STATUS.refusedStream);
    const parsed = streamHeadersOf(streamId, headers);
    if ('error' in parsed) return reset(RST_STATUS.protocolError);
    let pair = this.pairs.get(parsed.requestId);
    if (pair && (pair.port !== parsed.port || (parsed.type === 'data' ? pair.dataStream : pair.errorStream) !== undefined || pair.phase === 'closed')) return reset(RST_STATUS.protocolError);
    if (!pair) {
      pair = { requestId: parsed.requestId, port: parsed.port, phase: 'gathering', held: [], prefixSeen: [false, false], errorBytes: 0 };
      this.pairs.set(parsed.requestId, pair);
    }
    this.streams.set(streamId, { requestId: parsed.requestId, type: parsed.type, port: parsed.port, agentFin: fin, ourFin: false });
    if (parsed.type === 'data') pair.dataStream = streamId;
    else pair.errorStream = streamId;
    const effects: SpdyPortForwardEffect[] = [{ kind: 'to-agent', frame: { type: 'syn_reply', streamId, fin: false, headers: new Map() } }];
    if (pair.dataStream !== undefined && pair.errorStream !== undefined) effects.push(...this.proceed(pair));
    return effects;
  }

  /** Both streams are there, or policy just answered: ask, refuse or open. */
  private proceed(pair: PairState): SpdyPortForwardEffect[] {
    const decision = this.decisions.get(pair.port);
    if (!decision) {
      if (!this.askPerPort) return this.closePair(pair.requestId, `Airlock did not open port ${pair.port}: the port-forward was decided for other ports (?ports=), and ports outside them are refused`);
      // each new port is an action: bounded like the connections one agent connection may carry
      if (this.decisions.size >= this.limits.maxPorts) return this.closePair(pair.requestId, `Airlock did not open port ${pair.port}: this port-forward already asked for ${this.decisions.size} ports (limits.maxChannelsPerConnection)`);
      this.decisions.set(pair.port, { state: 'pending' });
      pair.phase = 'deciding';
      return [{ kind: 'decide', port: pair.port }];
    }
    if (decision.state === 'pending') {
      pair.phase = 'deciding';
      return [];
    }
    if (decision.state === 'refused') return this.closePair(pair.requestId, decision.message);
    pair.phase = 'opening';
    return [{ kind: 'open-upstream', requestId: pair.requestId, port: pair.port }];
  }

  private agentData(streamId: number, data: Buffer, fin: boolean): SpdyPortForwardEffect[] {
    const stream = this.streams.get(streamId);
    // data for a stream that was reset or ended: dropped, as spdystream does
    if (!stream) return [];
    const pair = this.pairs.get(stream.requestId);
    const effects: SpdyPortForwardEffect[] = [];
    if (pair && stream.type === 'data' && data.length > 0) {
      if (pair.phase === 'open') effects.push(...this.up(pair, data));
      else {
        pair.held.push(data);
        this.heldTotal += data.length;
      }
    }
    if (fin && !stream.agentFin) {
      stream.agentFin = true;
      // the v4 protocol has no half-close: the agent's end of the data stream ends the upstream connection
      if (pair && stream.type === 'data' && pair.phase === 'open') effects.push({ kind: 'close-upstream', requestId: pair.requestId });
      if (pair && stream.type === 'data' && (pair.phase === 'gathering' || pair.phase === 'deciding') && pair.held.length === 0) effects.push(...this.closePair(pair.requestId));
    }
    this.forgetIfDone(streamId);
    return effects;
  }

  private up(pair: PairState, data: Buffer): SpdyPortForwardEffect[] {
    this.count(pair.port).bytesUp += data.length;
    return [{ kind: 'to-upstream', requestId: pair.requestId, message: Buffer.concat([Buffer.from([0]), data]) }];
  }

  private errorText(pair: PairState, text: Buffer): SpdyPortForwardEffect[] {
    if (pair.errorStream === undefined) return [];
    const room = this.limits.maxErrorBytes - pair.errorBytes;
    if (room <= 0) return [];
    const kept = text.subarray(0, room);
    pair.errorBytes += kept.length;
    return [{ kind: 'to-agent', frame: { type: 'data', streamId: pair.errorStream, fin: false, data: kept } }];
  }

  /** Ends a request: `message` on its error stream, FIN on both streams, the upstream closed. */
  private closePair(requestId: string, message?: string, how: { upstreamGone?: boolean; agentReset?: boolean } = {}): SpdyPortForwardEffect[] {
    const pair = this.pairs.get(requestId);
    if (!pair || pair.phase === 'closed') return [];
    const effects: SpdyPortForwardEffect[] = [];
    if (message && !how.agentReset) effects.push(...this.errorText(pair, Buffer.from(message, 'utf8')));
    if ((pair.phase === 'open' || pair.phase === 'opening') && !how.upstreamGone) effects.push({ kind: 'close-upstream', requestId });
    pair.phase = 'closed';
    this.heldTotal -= pair.held.reduce((n, b) => n + b.length, 0);
    pair.held = [];
    for (const streamId of [pair.dataStream, pair.errorStream]) {
      if (streamId === undefined) continue;
      const stream = this.streams.get(streamId);
      if (!stream) continue;
      if (how.agentReset) {
        this.streams.delete(streamId);
        continue;
      }
      if (!stream.ourFin) {
        stream.ourFin = true;
        effects.push({ kind: 'to-agent', frame: { type: 'data', streamId, fin: true, data: Buffer.alloc(0) } });
      }
      this.forgetIfDone(streamId);
    }
    this.pairs.delete(requestId);
    return effects;
  }

  /** A stream both sides ended leaves the count of open streams. */
  private forgetIfDone(streamId: number): void {
    const stream = this.streams.get(streamId);
    if (stream && stream.agentFin && stream.ourFin) this.streams.delete(streamId);
  }

  private protocolError(message: string): SpdyPortForwardEffect[] {
    this.ended = true;
    return [{ kind: 'to-agent', frame: { type: 'goaway', lastGoodStreamId: this.lastStreamId, status: GOAWAY_STATUS.protocolError } }, { kind: 'end', error: message, closedBy: 'error' }];
  }

  private count(port: number): { bytesUp: number; bytesDown: number } {
    let c = this.counts.get(port);
    if (!c) this.counts.set(port, (c = { bytesUp: 0, bytesDown: 0 }));
    return c;
  }
}
