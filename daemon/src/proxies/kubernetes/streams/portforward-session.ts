import type { K8sPortForwardResultDetail } from '@airlock/shared';
import { decodeFrame, isFrameError, splitPortPrefix, type ExecSubprotocol, type FrameError } from './codec.js';

/**
 * One port-forward stream (`pods/portforward` over WebSocket, v4.channel.k8s.io framing), as a state
 * machine (pure). Channel 2k carries the data of the k-th port asked for in `?ports=`, channel 2k+1
 * its errors. The server starts each channel with the port (2 bytes, little-endian), which must be
 * the port policy decided on for that channel; the client sends raw data on the data channels, no
 * prefix (the kubelet's websocket.go reads none; @kubernetes/client-node sends none), and nothing on
 * the error channels. Bytes are counted per port each way; the content is not kept. Data messages
 * pass unchanged; the server's error text goes through `maskErrorText` (it can quote what it read).
 */
export class PortForwardSession {
  private readonly counts: { port: string; bytesUp: number; bytesDown: number }[];
  /** channels whose port prefix the server sent */
  private readonly prefixedDown = new Set<number>();

  constructor(
    private readonly protocol: ExecSubprotocol,
    private readonly ports: readonly number[],
    private readonly limits: { agentMaxBytes: number; upstreamMaxBytes: number },
    private readonly maskErrorText: (text: string) => string,
  ) {
    this.counts = ports.map((port) => ({ port: String(port), bytesUp: 0, bytesDown: 0 }));
  }

  fromAgent(message: Buffer, isBinary: boolean): Buffer | FrameError {
    return this.pass(message, isBinary, this.limits.agentMaxBytes, undefined, 'bytesUp');
  }

  fromUpstream(message: Buffer, isBinary: boolean): Buffer | FrameError {
    return this.pass(message, isBinary, this.limits.upstreamMaxBytes, this.prefixedDown, 'bytesDown');
  }

  result(closedBy: K8sPortForwardResultDetail['closedBy']): K8sPortForwardResultDetail {
    return { ports: this.counts.map((c) => ({ ...c })), ...(closedBy ? { closedBy } : {}) };
  }

  /** `prefixed`: the channels whose prefix was seen, for the server's direction; undefined for the client's, which sends none */
  private pass(message: Buffer, isBinary: boolean, maxBytes: number, prefixed: Set<number> | undefined, way: 'bytesUp' | 'bytesDown'): Buffer | FrameError {
    const frame = decodeFrame(message, isBinary, { protocol: this.protocol, maxBytes, maxChannel: this.ports.length * 2 - 1 });
    if (isFrameError(frame)) return frame;
    const index = frame.channel >> 1;
    if (frame.kind === 'close') return message;
    let payload = frame.payload;
    if (!prefixed && (frame.channel & 1) === 1) return { error: `data on the error channel of port ${this.ports[index]}, which only the server writes` };
    if (prefixed && !prefixed.has(frame.channel)) {
      const split = splitPortPrefix(payload);
      if (isFrameError(split)) return split;
      if (split.port !== this.ports[index]) return { error: `port ${split.port} on the channel of port ${this.ports[index]}` };
      prefixed.add(frame.channel);
      payload = split.rest;
    }
    // only the data channels count: the error channels carry the server's messages
    if ((frame.channel & 1) === 0) {
      this.counts[index]![way] += payload.length;
      return message;
    }
    const head = message.subarray(0, message.length - payload.length);
    return Buffer.concat([head, Buffer.from(this.maskErrorText(payload.toString('utf8')), 'utf8')]);
  }
}

/** The ports of `?ports=` as numbers (each 1–65535), or an error. */
export function parsePorts(ports: readonly string[]): number[] | FrameError {
  const out: number[] = [];
  for (const text of ports.flatMap((p) => p.split(','))) {
    if (!/^\d{1,5}$/.test(text)) return { error: `the port "${text}" is not a number` };
    const port = Number(text);
    if (port < 1 || port > 0xffff) return { error: `the port ${port} is out of range` };
    out.push(port);
  }
  if (out.length === 0) return { error: 'no port asked for (?ports=)' };
  return out;
}
