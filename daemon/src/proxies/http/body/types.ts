import type { HttpBodyExcerpt, MaskReport } from '@airlock/shared';

/**
 * How a body (a response to the agent; a request body for its record) is masked. The shell decodes
 * any content-encoding first (see `planBody`), then pushes the bytes through a BodyMasker: pure and
 * synchronous, bounded memory whatever the body's size.
 */
export type BodyTreatment = HttpBodyExcerpt['treatment'];

export interface BodyPlan {
  treatment: BodyTreatment;
  /** a content-encoding the shell must decode before masking (the masked body goes out as identity) */
  decode?: 'gzip' | 'deflate' | 'br';
  /** the body cannot be inspected (an encoding this build cannot decode): withheld, with this sentence */
  withhold?: string;
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
