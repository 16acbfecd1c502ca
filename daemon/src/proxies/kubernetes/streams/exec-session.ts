import type { K8sExecResultDetail } from '@airlock/shared';
import { MaskReportBuilder, type Masker } from '../../../masking/index.js';
import { MaskedOutput } from '../../../masking/terminal-output.js';
import { AsciicastWriter } from '../../../recording/asciicast.js';
import { EXEC_CHANNEL, V5_PROTOCOL, decodeFrame, decodeResize, encodeClose, encodeFrame, encodeResize, isFrameError, parseExecStatus, type ExecSubprotocol, type FrameError } from './codec.js';

/**
 * One exec or attach stream between the agent and the upstream, as a state machine (pure: messages
 * and times are handed in, messages to send handed back). Upstream → agent: stdout and stderr
 * through a streaming masker each (frames re-built around the masked bytes), the error channel's
 * Status read for the exit code and passed on with its message masked, v5 close messages passed
 * after what their channel still held. Agent → upstream: stdin passed (recorded as "i"), resize
 * re-encoded from the parsed size (recorded as "r"), close passed. Anything else is a protocol
 * error that ends the stream. The clip is an asciicast bounded by limits.recordedBytesPerClip.
 */

export interface ExecSessionOptions {
  protocol: ExecSubprotocol;
  masker: Masker;
  /** literal forms of the daemon's credential, never shown */
  secrets: readonly string[];
  /** limits.maxMessageBytes (agent) and limits.upstreamMessageBytes (upstream) */
  agentMaxBytes: number;
  upstreamMaxBytes: number;
  /** limits.recordedBytesPerClip */
  clipBytes: number;
  startMs: number;
  title: string;
}

export class ExecSession {
  readonly report = new MaskReportBuilder();
  private readonly stdout: MaskedOutput;
  private readonly stderr: MaskedOutput;
  private readonly cast: AsciicastWriter;
  private bytesIn = 0;
  private exitCode: number | undefined;
  private statusMessage: string | undefined;
  private ended = false;

  constructor(private readonly options: ExecSessionOptions) {
    this.stdout = new MaskedOutput(options.masker, this.report);
    this.stderr = new MaskedOutput(options.masker, this.report);
    this.cast = new AsciicastWriter(options.startMs, options.clipBytes, { width: 80, height: 24, title: options.title }, { describeOutput: true });
  }

  /** Output characters held back by the maskers (a quiet-time flush would release them). */
  get held(): number {
    return this.stdout.held + this.stderr.held;
  }

  get exited(): boolean {
    return this.exitCode !== undefined || this.statusMessage !== undefined;
  }

  /** An agent message: what goes upstream, or a protocol error. */
  fromAgent(message: Buffer, isBinary: boolean, nowMs: number): Buffer[] | FrameError {
    const frame = decodeFrame(message, isBinary, { protocol: this.options.protocol, maxBytes: this.options.agentMaxBytes, maxChannel: EXEC_CHANNEL.resize });
    if (isFrameError(frame)) return frame;
    if (frame.kind === 'close') {
      if (frame.channel !== EXEC_CHANNEL.stdin) return { error: `the client closed channel ${frame.channel}, which is not its own` };
      this.cast.add(nowMs, 'm', 'stdin closed');
      return [encodeClose(frame.channel)];
    }
    if (frame.channel === EXEC_CHANNEL.stdin) {
      this.bytesIn += frame.payload.length;
      this.cast.add(nowMs, 'i', frame.payload.toString('utf8'));
      return [message];
    }
    if (frame.channel === EXEC_CHANNEL.resize) {
      const size = decodeResize(frame.payload);
      if (isFrameError(size)) return size;
      this.cast.add(nowMs, 'r', `${size.width}x${size.height}`);
      return [encodeResize(size)];
    }
    return { error: `the client sent on channel ${frame.channel}, which only the server writes` };
  }

  /** An upstream message: what goes to the agent, or a protocol error. */
  fromUpstream(message: Buffer, isBinary: boolean, nowMs: number): Buffer[] | FrameError {
    const frame = decodeFrame(message, isBinary, { protocol: this.options.protocol, maxBytes: this.options.upstreamMaxBytes, maxChannel: EXEC_CHANNEL.resize });
    if (isFrameError(frame)) return frame;
    if (frame.kind === 'close') {
      // what the closed channel still holds goes first
      const out = frame.channel === EXEC_CHANNEL.stdout || frame.channel === EXEC_CHANNEL.stderr ? this.release(frame.channel, nowMs, true) : [];
      out.push(encodeClose(frame.channel));
      return out;
    }
    if (frame.channel === EXEC_CHANNEL.stdout || frame.channel === EXEC_CHANNEL.stderr) {
      const output = frame.channel === EXEC_CHANNEL.stdout ? this.stdout : this.stderr;
      const bytes = output.push(frame.payload);
      if (bytes !== frame.payload || bytes.length === 0) return this.emit(frame.channel, bytes, nowMs);
      // passed as it came (no content detector): the message itself goes on, not a copy of it
      this.cast.addOutput(nowMs, bytes);
      return [message];
    }
    if (frame.channel === EXEC_CHANNEL.error) {
      const out = [...this.release(EXEC_CHANNEL.stdout, nowMs, false), ...this.release(EXEC_CHANNEL.stderr, nowMs, false)];
      out.push(this.status(frame.payload, nowMs));
      return out;
    }
    return { error: `the server sent on channel ${frame.channel}, which only the client writes` };
  }

  /** What the maskers hold, released (after a quiet time, or at the end with `end`). */
  flush(nowMs: number, end: boolean): Buffer[] {
    return [...this.release(EXEC_CHANNEL.stdout, nowMs, end), ...this.release(EXEC_CHANNEL.stderr, nowMs, end)];
  }

  /**
   * The daemon ends the stream (a limit): what the maskers hold, released, then a Failure Status on
   * the error channel with `message`, as the API server ends a stream it gives up on; the record
   * keeps the message as the stream's error.
   */
  endWithStatus(message: string, reason: string, nowMs: number): Buffer[] {
    const out = this.flush(nowMs, true);
    this.statusMessage = message;
    this.cast.add(nowMs, 'm', message);
    out.push(encodeFrame(EXEC_CHANNEL.error, Buffer.from(JSON.stringify({ metadata: {}, status: 'Failure', message, reason }))));
    return out;
  }

  /** The result detail once the stream ended; the clip gets its exit marker once. */
  result(nowMs: number, closedBy: K8sExecResultDetail['closedBy'], problem?: string): K8sExecResultDetail {
    if (!this.ended) {
      this.ended = true;
      this.cast.add(nowMs, 'm', this.exitCode !== undefined ? `exit ${this.exitCode}` : `stream closed by ${closedBy ?? 'unknown'}${problem ? `: ${problem}` : ''}`);
    }
    const error = this.statusMessage ?? problem;
    return {
      ...(this.exitCode !== undefined ? { exitCode: this.exitCode } : {}),
      ...(error !== undefined ? { error: this.maskText(error) } : {}),
      asciicast: this.cast.toString(),
      ...(this.cast.truncated ? { asciicastCut: this.cast.textCut() } : {}),
      bytesIn: this.bytesIn,
      bytesOut: this.stdout.bytesIn,
      bytesErr: this.stderr.bytesIn,
      ...(closedBy ? { closedBy } : {}),
    };
  }

  private release(channel: number, nowMs: number, end: boolean): Buffer[] {
    const output = channel === EXEC_CHANNEL.stdout ? this.stdout : this.stderr;
    return this.emit(channel, output.flush(end), nowMs);
  }

  private emit(channel: number, bytes: Buffer, nowMs: number): Buffer[] {
    if (bytes.length === 0) return [];
    this.cast.addOutput(nowMs, bytes);
    return [encodeFrame(channel, bytes)];
  }

  /** The error channel's Status: read for the exit code, passed on with its message masked. */
  private status(payload: Buffer, nowMs: number): Buffer {
    const status = parseExecStatus(payload);
    if (isFrameError(status)) {
      this.statusMessage = status.error;
      this.cast.add(nowMs, 'm', status.error);
      return encodeFrame(EXEC_CHANNEL.error, Buffer.from(JSON.stringify({ metadata: {}, status: 'Failure', message: status.error, reason: 'InternalError' })));
    }
    if (status.exitCode !== undefined) this.exitCode = status.exitCode;
    if (status.message !== undefined && status.exitCode !== 0) this.statusMessage = status.message;
    // re-built from what was read: only the exit code's cause passes, the message masked
    const rebuilt: Record<string, unknown> = { metadata: {}, status: status.exitCode === 0 ? 'Success' : 'Failure' };
    if (status.message !== undefined) rebuilt.message = this.maskText(status.message);
    if (status.reason !== undefined) rebuilt.reason = status.reason;
    if (status.exitCode !== undefined && status.exitCode !== 0) rebuilt.details = { causes: [{ reason: 'ExitCode', message: String(status.exitCode) }] };
    return encodeFrame(EXEC_CHANNEL.error, Buffer.from(JSON.stringify(rebuilt)));
  }

  private maskText(text: string): string {
    let out = this.options.masker.active ? this.options.masker.maskText(text, this.report) : text;
    for (const secret of this.options.secrets) if (secret.length > 0) out = out.split(secret).join('[credential]');
    return out;
  }
}

/** Whether `protocol` has v5's close messages. */
export function hasCloseMessages(protocol: ExecSubprotocol): boolean {
  return protocol === V5_PROTOCOL;
}
