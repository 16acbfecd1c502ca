import { z } from 'zod';
import { MaskReport } from '../masking.js';
import { PgResultDetail } from '../result-detail.js';
import { SqlStatementDigest } from '../statement-list.js';
import { TextCut } from '../text.js';

/**
 * The detail of SQL actions (see STYLE.md, "A typed detail per action kind"). The policy
 * attributes (class, tables, statementCount, ...) are in `Action.attributes`; the detail is what a
 * person reads in the approval panel and the replay. Every field but the text is optional: actions
 * recorded by earlier builds, and by the test action source, carry fewer of them.
 */
export const SqlQueryDetail = z.object({
  /** the statement text as sent, kept up to limits.actionTextBytes (see `sqlCut`) */
  sql: z.string(),
  /** present only when `sql` is the head of a longer text */
  sqlCut: TextCut.optional(),
  /** which wire protocol carried it: a Query message, or Parse/Bind/Execute */
  protocol: z.enum(['simple', 'extended']).optional(),
  /** extended protocol: the prepared statement and portal names ('' is the unnamed one) */
  statement: z.string().optional(),
  portal: z.string().optional(),
  /** extended protocol: the bound parameters as text (masked), binary ones by size, NULL as null */
  params: z.array(z.string().nullable()).optional(),
  /** the parameters cut to the shared budget, by position */
  paramCuts: z.array(TextCut.extend({ index: z.number().int().min(0) })).optional(),
  /** Execute's row limit (0: all) */
  maxRows: z.number().int().min(0).optional(),
  user: z.string().optional(),
  database: z.string().optional(),
  applicationName: z.string().optional(),
  /** every statement with its command, class and tables, in order (the first 1,000: see `statementsOmitted`) */
  statements: z.array(SqlStatementDigest).optional(),
  statementsOmitted: z.number().int().min(0).optional(),
  /** the parser's message when it could not read the text (the class is then unknown), bounded */
  parseError: z.string().optional(),
});
export type SqlQueryDetail = z.infer<typeof SqlQueryDetail>;
export type SqlQueryDetailInput = z.input<typeof SqlQueryDetail>;

/** A FunctionCall protocol message: a function by OID with binary arguments, nothing to show but who. */
export const SqlFunctionCallDetail = z.object({
  protocol: z.literal('function-call'),
  user: z.string().optional(),
  database: z.string().optional(),
});
export type SqlFunctionCallDetail = z.infer<typeof SqlFunctionCallDetail>;

/**
 * A SQL action's result record: the adapter's masked sample plus what the pipeline adds to every
 * result (its row count and mask report).
 */
export const SqlResultDetail = PgResultDetail.extend({
  rowCount: z.number().int().min(0).optional(),
  maskReport: MaskReport.optional(),
});
export type SqlResultDetail = z.infer<typeof SqlResultDetail>;
