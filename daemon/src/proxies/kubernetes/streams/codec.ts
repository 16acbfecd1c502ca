/**
 * The remotecommand channel protocol over WebSocket, as the API server and kubelet speak it for
 * `pods/exec` and `pods/attach` (k8s.io/apimachinery/pkg/util/httpstream/wsstream, remotecommand
 * v4/v5). Pure: no sockets. Every binary message starts with a channel byte:
 *   0 stdin, 1 stdout, 2 stderr, 3 error (v4+: a v1 Status JSON), 4 resize (`{"Width":W,"Height":H}`),
 *   255 close (v5 only: `[255, ch]` half-closes channel `ch`).
 * Only the two binary protocols are spoken; the base64 variants, v1–v3 and the bare
 * `channel.k8s.io` are refused (their framing differs and Airlock does not proxy them).
 *
 * The portforward protocol (`v4.channel.k8s.io` on `pods/portforward`) uses the same framing with
 * two channels per port: 2k data and 2k+1 error for the k-th port of `?ports=`; the first frame of
 * each channel in each direction starts with the port as 2 bytes little-endian.
 */

export const EXEC_CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

export const V5_PROTOCOL = 'v5.channel.k8s.io';
export const V4_PROTOCOL = 'v4.channel.k8s.io';
export const EXEC_SUBPROTOCOLS = [V5_PROTOCOL, V4_PROTOCOL] as const;
export type ExecSubprotocol = (typeof EXEC_SUBPROTOCOLS)[number];

/** The subprotocol kubectl 1.31+ uses to tunnel SPDY port-forward inside a WebSocket. */
export const SPDY_TUNNEL_PORTFORWARD_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
/** The stream protocol of kubectl's port-forward over SPDY (`X-Stream-Protocol-Version`). */
export const SPDY_PORTFORWARD_PROTOCOL = 'portforward.k8s.io';

export function isExecSubprotocol(value: string): value is ExecSubprotocol {
  return (EXEC_SUBPROTOCOLS as readonly string[]).includes(value);
}

/** The Sec-WebSocket-Protocol list as sent: names trimmed, empties dropped. */
export function offeredProtocols(header: string | string[] | undefined): string[] {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  return text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/**
 * What to offer upstream: exactly the agent's offers among v5 and v4, in its order. The agent must
 * offer at least one; anything else it offered is dropped (never forwarded: Airlock would not
 * understand its framing).
 */
export function negotiateExecProtocols(offered: readonly string[]): { protocols: ExecSubprotocol[] } | { error: string } {
  const protocols = offered.filter(isExecSubprotocol).filter((p, i, all) => all.indexOf(p) === i);
  if (protocols.length > 0) return { protocols };
  const shown = offered.length > 0 ? offered.join(', ') : 'none';
  return { error: `Airlock proxies exec, attach and portforward streams over WebSocket with the subprotocols ${EXEC_SUBPROTOCOLS.join(' or ')} only; the client offered ${shown}` };
}

/** One decoded message. */
export type ChannelFrame =
  | { kind: 'data'; channel: number; payload: Buffer }
  /** v5: the sender will send no more on `channel` */
  | { kind: 'close'; channel: number };

export interface FrameError {
  error: string;
}

export function isFrameError(value: unknown): value is FrameError {
  return typeof value === 'object' && value !== null && 'error' in value;
}

export interface FrameRules {
  protocol: ExecSubprotocol;
  /** the largest message accepted (limits.maxMessageBytes) */
  maxBytes: number;
  /** the highest data channel number allowed (exec: 4; portforward: 2·ports − 1) */
  maxChannel: number;
}

/**
 * Decodes one binary message. Refused: a text message (the binary protocols never send one), an
 * empty message, a message over `maxBytes`, a channel above `maxChannel`, a close message outside
 * v5 or whose payload is not exactly one channel byte.
 */
export function decodeFrame(message: Buffer, isBinary: boolean, rules: FrameRules): ChannelFrame | FrameError {
  if (!isBinary) return { error: 'a text message on a binary channel stream' };
  if (message.length === 0) return { error: 'an empty message (no channel byte)' };
  if (message.length > rules.maxBytes) return { error: `a message of ${message.length} bytes, over the limit of ${rules.maxBytes}` };
  const channel = message[0]!;
  if (channel === EXEC_CHANNEL.close) {
    if (rules.protocol !== V5_PROTOCOL) return { error: `a close message (channel 255) on ${rules.protocol}, which has none` };
    if (message.length !== 2) return { error: `a close message with ${message.length - 1} payload bytes (expected one channel byte)` };
    const closed = message[1]!;
    if (closed > rules.maxChannel) return { error: `a close message for channel ${closed}, which this stream does not have` };
    return { kind: 'close', channel: closed };
  }
  if (channel > rules.maxChannel) return { error: `a message on channel ${channel}, which this stream does not have` };
  return { kind: 'data', channel, payload: message.subarray(1) };
}

/** One message on `channel` carrying `payload`. */
export function encodeFrame(channel: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(payload.length + 1);
  out[0] = channel;
  out.set(payload, 1);
  return out;
}

/** v5's half-close of `channel`. */
export function encodeClose(channel: number): Buffer {
  return Buffer.from([EXEC_CHANNEL.close, channel]);
}

/** A terminal size from a resize message. */
export interface TerminalSize {
  width: number;
  height: number;
}

/** The largest terminal dimension accepted (the kubelet's TerminalSize is two uint16). */
const MAX_TERMINAL_DIMENSION = 0xffff;

/** A resize message's size, or an error when it is not `{"Width":W,"Height":H}` with 16-bit integers. */
export function decodeResize(payload: Buffer): TerminalSize | FrameError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return { error: 'a resize message that is not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { error: 'a resize message that is not a JSON object' };
  const { Width: width, Height: height } = parsed as Record<string, unknown>;
  const valid = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_TERMINAL_DIMENSION;
  if (!valid(width) || !valid(height)) return { error: 'a resize message without integer Width and Height' };
  return { width, height };
}

/** The resize message as re-encoded for the upstream: exactly the size that was recorded. */
export function encodeResize(size: TerminalSize): Buffer {
  return encodeFrame(EXEC_CHANNEL.resize, Buffer.from(JSON.stringify({ Width: size.width, Height: size.height })));
}

/** What the error channel said. */
export interface ExecStatus {
  /** 0 on Success; the ExitCode cause on NonZeroExitCode; absent otherwise */
  exitCode?: number;
  /** the Status message when the command failed (to start, or with a non-zero exit) */
  message?: string;
  /** the Status reason (NonZeroExitCode, InternalError ...) */
  reason?: string;
}

/**
 * The v1 Status on the error channel (v4+): `{status: "Success"}` is exit 0; `{status: "Failure",
 * reason: "NonZeroExitCode", details: {causes: [{reason: "ExitCode", message: "3"}]}}` is exit 3;
 * any other Failure is an error without an exit code (the command did not run or the stream broke).
 */
export function parseExecStatus(payload: Buffer): ExecStatus | FrameError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return { error: 'the error channel carried no JSON Status' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { error: 'the error channel carried no JSON Status' };
  const status = parsed as Record<string, unknown>;
  const message = typeof status.message === 'string' ? status.message : undefined;
  const reason = typeof status.reason === 'string' ? status.reason : undefined;
  if (status.status === 'Success') return { exitCode: 0 };
  if (status.status !== 'Failure') return { error: 'the error channel carried a Status that is neither Success nor Failure' };
  const out: ExecStatus = { ...(message !== undefined ? { message } : {}), ...(reason !== undefined ? { reason } : {}) };
  if (reason === 'NonZeroExitCode') {
    const details = status.details as { causes?: unknown } | undefined;
    const causes = Array.isArray(details?.causes) ? (details.causes as unknown[]) : [];
    for (const cause of causes) {
      const c = cause as { reason?: unknown; message?: unknown } | null;
      if (c && c.reason === 'ExitCode' && typeof c.message === 'string' && /^\d{1,10}$/.test(c.message)) {
        const code = Number(c.message);
        if (code <= 0x7fffffff) out.exitCode = code;
        break;
      }
    }
  }
  return out;
}

/** A portforward channel's first frame: the port, 2 bytes little-endian, then data. */
export function splitPortPrefix(payload: Buffer): { port: number; rest: Buffer } | FrameError {
  if (payload.length < 2) return { error: 'a port-forward channel whose first message does not start with its port' };
  return { port: payload.readUInt16LE(0), rest: payload.subarray(2) };
}
