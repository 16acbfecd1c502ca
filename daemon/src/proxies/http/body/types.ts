import type { HttpBodyExcerpt, MaskReport } from '@airlock/shared';
import type { Masker } from '../../../masking/index.js';

/**
 * How a body (a response to the agent; a request body for its record) is masked. The shell decodes
 * any content-encoding first (see `planBody`), then pushes the bytes through a BodyMasker: pure and
 * synchronous, bounded memory whatever the body's size.
 */
export type BodyTreatment = HttpBodyExcerpt['treatment'];

/** A content-coding the daemon can undo (zstd only where the runtime's zlib has it). */
export type BodyCoding = 'gzip' | 'deflate' | 'br' | 'zstd';

export interface BodyPlan {
  treatment: BodyTreatment;
  /** a content-encoding the shell must decode before masking (the masked body goes out as identity) */
  decode?: BodyCoding;
  /**
   * Every coding to undo, in the order to undo them (the reverse of the Content-Encoding list);
   * `[decode]` for a single one. Absent when the body is not encoded.
   */
  decodeSteps?: readonly BodyCoding[];
  /** the body cannot be inspected (an encoding this build cannot decode): withheld, with this sentence */
  withhold?: string;
  /** the media type without parameters, lower-cased (absent when the message had none) */
  mediaType?: string;
}

export interface BodyMasker {
  /** masked bytes to send now (possibly empty: a partial JSON token or SSE event is held back, bounded) */
  push(chunk: Uint8Array): Uint8Array;
  /** the rest, at the end of the body */
  end(): Uint8Array;
  /** what was masked so far */
  report(): MaskReport;
  /** the first bytes of the masked body, for the record (limits.actionTextBytes / recording.resultBytes) */
  excerpt(): HttpBodyExcerpt;
}

export interface BodyMaskerOptions {
  /** the target's compiled masking policy: content detectors and `masking.columns` rules (matched on JSON key names) */
  masker: Masker;
  /** how many bytes of the masked body the excerpt keeps */
  excerptBytes: number;
  /** the most bytes held for one JSON string, number or SSE event before it is masked as a stream instead */
  bufferBytes: number;
  /** literal strings (the injected credential in its forms) replaced by `[AIRLOCK_CREDENTIAL]` wherever they appear */
  secrets: readonly string[];
  /** key-name globs (case-insensitive) whose JSON values are replaced whole, beyond the built-in list */
  keyRules?: readonly string[];
  /** JSON nesting deeper than this is masked as text from there on (default JSON_MAX_DEPTH) */
  maxDepth?: number;
  /** the Content-Type, for the excerpt */
  contentType?: string;
}
