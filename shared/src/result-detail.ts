import { z } from 'zod';

/**
 * The `detail` of a PostgreSQL result record: the first rows as the agent saw them (masked) and
 * which of their cells masking changed, by which column rule or detectors. Original values are
 * never recorded, so a viewer can highlight a masked cell but never reveal it.
 */
export const PgResultDetail = z.object({
  /** column names from RowDescription; absent when the result had none (COPY, Execute without Describe) */
  columns: z.array(z.string()).optional(),
  rows: z.array(z.array(z.string().nullable())).default([]),
  /** more rows came than the sample keeps */
  truncated: z.boolean().default(false),
  masks: z
    .array(
      z.object({
        row: z.number().int().min(0),
        column: z.number().int().min(0),
        by: z.array(z.string()).min(1),
        /** a binary value that could not be rewritten, sent to the agent as NULL */
        nulled: z.literal(true).optional(),
      }),
    )
    .default([]),
});
export type PgResultDetail = z.infer<typeof PgResultDetail>;
