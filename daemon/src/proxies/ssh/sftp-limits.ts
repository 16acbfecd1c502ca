import type { SftpLimits } from './sftp-bridge.js';
import type { TargetLimits } from '../limits.js';

/**
 * The largest READ asked of the upstream and WRITE accepted: OpenSSH's sftp-server answers at most
 * this much per request (SFTP_MAX_MSG_LENGTH is 256 KiB), so clients never ask for more.
 */
const SFTP_MAX_REQUEST_BYTES = 256 * 1024;

/**
 * Handles open at once on one sftp channel: a client holds one per file it transfers and one per
 * directory level it walks (`scp -r`, `sftp get -r`); OpenSSH's own sftp-server allows 512 in total.
 */
const SFTP_MAX_HANDLES = 64;

/**
 * Requests unanswered at once on one channel: OpenSSH's sftp and scp keep 64 reads or writes in flight
 * plus the path operations around them, so at 128 a copy runs without the bridge pausing the agent's
 * channel (at the cap it pauses; before that flow control an upload at 64 came out truncated). The
 * bytes they carry are bounded separately (maxBytesInFlight).
 */
const SFTP_MAX_OUTSTANDING = 128;

/** The sftp bridge's bounds for one channel, from the target's limits. */
export function sftpLimitsOf(limits: TargetLimits): SftpLimits {
  const perRequest = Math.min(SFTP_MAX_REQUEST_BYTES, limits.bufferBytes);
  return {
    // the bytes an agent may have outstanding are the target's buffer, as for PostgreSQL's queued messages
    maxBytesInFlight: limits.bufferBytes,
    maxBytesPerRequest: perRequest,
    maxOutstanding: SFTP_MAX_OUTSTANDING,
    maxDigestAheadBytes: limits.bufferBytes,
    maxHandles: SFTP_MAX_HANDLES,
    // the upstream has as long to answer one call as it has to log in
    opTimeoutMs: limits.connectTimeoutMs,
  };
}
