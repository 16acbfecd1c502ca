import { z } from 'zod';

/**
 * How a held statement is named to the person deciding on it: every statement by its command, its
 * objects and its class, never the head of the text, so that padding or a long first statement
 * cannot push a DROP out of sight. The daemon builds action summaries with it and the extension its
 * notifications and labels, so both bound a list the same way.
 */

/** SQL statement classes, least strict first (as the daemon's classifier ranks them). */
export const SQL_CLASSES = ['read', 'write', 'ddl', 'unknown', 'privileged'] as const;
export const SqlStatementClass = z.enum(SQL_CLASSES);
export type SqlStatementClass = z.infer<typeof SqlStatementClass>;

/** One statement of a `sql.query` action as its `detail.statements` records it. */
export const SqlStatementDigest = z.object({
  command: z.string(),
  class: SqlStatementClass,
  tables: z.array(z.string()),
  /** absent in actions recorded before it was added */
  writesTables: z.array(z.string()).optional(),
  reasons: z.array(z.string()),
});
export type SqlStatementDigest = z.infer<typeof SqlStatementDigest>;

export function classStrictness(c: SqlStatementClass): number {
  return SQL_CLASSES.indexOf(c);
}

// C0/C1 controls other than tab and newline, zero-width and bidirectional formatting characters,
// line/paragraph separators and the BOM: each can hide, reorder or erase text on a terminal or in
// a notification
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g;

/** True when the text has a character `printable` would escape. */
export function hasUnprintable(text: string): boolean {
  UNPRINTABLE.lastIndex = 0;
  return UNPRINTABLE.test(text);
}

/** The text with every character that could hide or rewrite other text shown as `\u{…}`. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/** Whitespace runs (newlines too) as one space, unprintable characters escaped. */
export function oneLineText(text: string): string {
  return printable(text.replace(/\s+/g, ' ').trim());
}

const PLAIN_NAME = /^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*){0,2}$/;
const MAX_NAME_CHARS = 64;
/** Statements that name more objects than this show the first ones and a count. */
const MAX_NAMES = 3;

/** A relation name as written in SQL: plain when it is plain, double-quoted (and escaped) when not. */
export function relationDisplayName(name: string): string {
  const shown = name.length > MAX_NAME_CHARS ? `${name.slice(0, MAX_NAME_CHARS - 1)}…` : name;
  return PLAIN_NAME.test(name) ? shown : `"${printable(shown).replace(/"/g, '""')}"`;
}

/**
 * The word that reads naturally between a command and its first object. Commands whose objects
 * are not what they create or drop (a routine's body, an index's table) need one, or
 * "CREATE FUNCTION orders" would read as a function named orders.
 */
const OBJECT_PREPOSITIONS: Record<string, string> = {
  SELECT: 'FROM',
  DELETE: 'FROM',
  INSERT: 'INTO',
  MERGE: 'INTO',
  'CREATE FUNCTION': 'USING',
  'CREATE PROCEDURE': 'USING',
  DO: 'USING',
  EXPLAIN: 'ON',
  'CREATE INDEX': 'ON',
  'CREATE TRIGGER': 'ON',
  'CREATE POLICY': 'ON',
  'ALTER POLICY': 'ON',
  'CREATE RULE': 'ON',
  GRANT: 'ON',
  REVOKE: 'ON',
  COMMENT: 'ON',
  'SECURITY LABEL': 'ON',
};

/**
 * A statement as a person reads it: "UPDATE orders", "DROP TABLE victim", "SELECT FROM a, b, c, +2".
 * `objects` are the relations it changes when it changes any (those are what an approver weighs),
 * otherwise the ones it reads.
 */
export function statementLabel(command: string, objects: readonly string[], preposition = OBJECT_PREPOSITIONS[command]): string {
  const head = oneLineText(command) || 'statement';
  if (objects.length === 0) return head;
  const names = objects.slice(0, MAX_NAMES).map(relationDisplayName);
  if (objects.length > MAX_NAMES) names.push(`+${objects.length - MAX_NAMES}`);
  return `${head}${preposition ? ` ${preposition}` : ''} ${names.join(', ')}`;
}

/** The label of a digest recorded in `detail.statements`. */
export function digestLabel(s: SqlStatementDigest): string {
  return statementLabel(s.command, s.writesTables && s.writesTables.length > 0 ? s.writesTables : s.tables);
}

export interface ListedStatement {
  label: string;
  class: SqlStatementClass;
}

interface Run extends ListedStatement {
  /** position of its first statement */
  index: number;
  count: number;
  text: string;
}

const SEPARATOR = '; ';

function runText(label: string, cls: SqlStatementClass, count: number): string {
  return `${label}${cls === 'read' ? '' : ` (${cls})`}${count > 1 ? ` ×${count}` : ''}`;
}

/** "2 write, 38 read", strictest first. */
function classCounts(counts: ReadonlyMap<SqlStatementClass, number>): string {
  return [...SQL_CLASSES]
    .reverse()
    .filter((c) => (counts.get(c) ?? 0) > 0)
    .map((c) => `${counts.get(c)} ${c}`)
    .join(', ');
}

/** "3 statements: 1 ddl, 1 write, 1 read" (strictest first), or "1 statement: 1 write". */
export function classTally(statements: readonly { class: SqlStatementClass }[]): string {
  const counts = new Map<SqlStatementClass, number>();
  for (const s of statements) counts.set(s.class, (counts.get(s.class) ?? 0) + 1);
  return `${statements.length} statement${statements.length === 1 ? '' : 's'}: ${classCounts(counts)}`;
}

function unlistedTail(count: number, counts: Map<SqlStatementClass, number>, anyListed: boolean): string {
  return anyListed ? `… and ${count} more: ${classCounts(counts)}` : `${count} statements: ${classCounts(counts)}`;
}

/**
 * The statements in order, each with its class when it is not a read ("UPDATE orders (write)"), a
 * run of identical ones once with its count ("SELECT FROM t ×250"). When that is longer than
 * `maxChars`, the strictest statements are kept (privileged, unknown, ddl, write, then reads, each
 * in order of position) and the rest counted by class at the end ("… and 40 more: 2 write, 38 read"),
 * so reads can never push a stricter statement out of the list, only out of the named part.
 */
export function listStatements(statements: readonly ListedStatement[], maxChars: number): string {
  if (!Number.isInteger(maxChars) || maxChars < 1) throw new RangeError(`maxChars: expected a positive whole number, got ${maxChars}`);
  if (statements.length === 0) return '(no statement)';
  const runs: Run[] = [];
  statements.forEach((s, index) => {
    const last = runs.at(-1);
    if (last && last.label === s.label && last.class === s.class) last.count++;
    else runs.push({ label: s.label, class: s.class, index, count: 1, text: '' });
  });
  for (const run of runs) run.text = runText(run.label, run.class, run.count);
  const whole = runs.map((r) => r.text).join(SEPARATOR);
  if (whole.length <= maxChars) return whole;

  const remaining = new Map<SqlStatementClass, number>();
  for (const s of statements) remaining.set(s.class, (remaining.get(s.class) ?? 0) + 1);
  let remainingCount = statements.length;
  const byStrictness = [...runs].sort((a, b) => classStrictness(b.class) - classStrictness(a.class) || a.index - b.index);
  const chosen: Run[] = [];
  let chosenChars = 0;
  for (const run of byStrictness) {
    const counts = new Map(remaining);
    counts.set(run.class, (counts.get(run.class) ?? 0) - run.count);
    const rest = remainingCount - run.count;
    const listed = chosenChars + (chosen.length > 0 ? SEPARATOR.length : 0) + run.text.length;
    const tail = rest > 0 ? SEPARATOR.length + unlistedTail(rest, counts, true).length : 0;
    // the strictest first: once one does not fit, a less strict one may not take its place
    if (listed + tail > maxChars) break;
    chosen.push(run);
    chosenChars = listed;
    remaining.set(run.class, counts.get(run.class) ?? 0);
    remainingCount = rest;
  }
  chosen.sort((a, b) => a.index - b.index);
  const parts = chosen.map((r) => r.text);
  if (remainingCount > 0) parts.push(unlistedTail(remainingCount, remaining, chosen.length > 0));
  return parts.join(SEPARATOR);
}
