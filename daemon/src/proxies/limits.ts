import { DEFAULT_LIMITS, Limits, parseDuration, parseWith, type LimitOverrides, type Target } from '@airlock/shared';

/** A target's limits with durations in milliseconds, as adapters use them. */
export interface TargetLimits {
  maxMessageBytes: number;
  upstreamMessageBytes: number;
  bufferBytes: number;
  actionTextBytes: number;
  inlineParseBytes: number;
  maxConnections: number;
  maxConnectionsPerSession: number;
  authTimeoutMs: number;
  /** 0 = no idle timeout */
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  maxChannelsPerConnection: number;
  recordedBytesPerClip: number;
  /** how much of each result the recording keeps */
  resultRows: number;
  resultBytes: number;
}

/**
 * The limits in force for one target: the built-in defaults, under the daemon-wide overrides, under
 * the target's own. Checked here, once, when the target is loaded; a contradiction is an error that
 * names the target, and the target does not start.
 */
export function resolveLimits(target: Target, daemonWide: LimitOverrides, recording: { resultRows: number; resultBytes: number }): TargetLimits {
  const merged = parseWith(Limits, { ...DEFAULT_LIMITS, ...daemonWide, ...target.limits }, `target "${target.name}": limits`);
  if (merged.maxConnectionsPerSession > merged.maxConnections) {
    // a per-session cap inherited from a broader level yields to a total set closer to the target
    // (a target that sets only maxConnections: 5 means 5 for one session too); set as close or
    // closer, the two contradict each other and the target does not start
    if (levelOf('maxConnectionsPerSession', target, daemonWide) >= levelOf('maxConnections', target, daemonWide)) {
      throw new Error(`target "${target.name}": limits.maxConnectionsPerSession (${merged.maxConnectionsPerSession}) is above limits.maxConnections (${merged.maxConnections})`);
    }
    merged.maxConnectionsPerSession = merged.maxConnections;
  }
  if (merged.actionTextBytes > merged.maxMessageBytes) merged.actionTextBytes = merged.maxMessageBytes;
  return {
    maxMessageBytes: merged.maxMessageBytes,
    upstreamMessageBytes: merged.upstreamMessageBytes,
    bufferBytes: merged.bufferBytes,
    actionTextBytes: merged.actionTextBytes,
    inlineParseBytes: merged.inlineParseBytes,
    maxConnections: merged.maxConnections,
    maxConnectionsPerSession: merged.maxConnectionsPerSession,
    authTimeoutMs: parseDuration(merged.authTimeout),
    idleTimeoutMs: parseDuration(merged.idleTimeout),
    connectTimeoutMs: parseDuration(merged.connectTimeout),
    maxChannelsPerConnection: merged.maxChannelsPerConnection,
    recordedBytesPerClip: merged.recordedBytesPerClip,
    resultRows: recording.resultRows,
    resultBytes: recording.resultBytes,
  };
}

/** Where a limit was set: 2 on the target, 1 daemon-wide, 0 the built-in default. */
function levelOf(key: keyof LimitOverrides, target: Target, daemonWide: LimitOverrides): number {
  if (target.limits?.[key] !== undefined) return 2;
  return daemonWide[key] !== undefined ? 1 : 0;
}
