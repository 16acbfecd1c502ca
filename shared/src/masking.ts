import { z } from 'zod';

/**
 * What masking did to one result (a statement's rows, a command's output, a response body):
 * cells (or matches, for streams) changed per detector or column rule. Never holds original values.
 */
export const MaskReport = z.object({
  /** cells (or stream matches) changed in total */
  cells: z.number().int().min(0),
  /** detector or column-rule label -> cells changed by it */
  byDetector: z.record(z.string(), z.number().int().min(0)),
  /** binary-format values a rule wanted masked that could not be rewritten safely, sent as NULL */
  nulled: z.number().int().min(0).default(0),
});
export type MaskReport = z.infer<typeof MaskReport>;
