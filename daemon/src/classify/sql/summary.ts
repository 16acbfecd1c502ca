import { hasUnprintable, listStatements, oneLineText, relationDisplayName, statementLabel } from '@airlock/shared';
import type { SqlClass, SqlClassification, SqlStatementInfo } from './types.js';

/**
 * The action summary of a classified SQL text: what a person deciding on a held statement reads
 * first (CLI, notifications, the pending-approvals list). It is built from the parsed statements,
 * never from the head of the text: 3,000 characters of comment before a DROP, or 500 SELECTs
 * around it, once hid the DROP behind a cut. Pure: no I/O.
 */

/** Summaries longer than this keep the strictest statements and count the rest by class. */
export const SUMMARY_MAX_CHARS = 500;
/** A single statement up to this long, without comments, is shown as written. */
export const OWN_TEXT_MAX_CHARS = 200;
const UNPARSEABLE_HEAD_CHARS = 80;

/** `whole` is false when `sql` is only the head of a longer text: it is then never shown as the statement. */
export function sqlActionSummary(sql: string, classification: SqlClassification, maxChars = SUMMARY_MAX_CHARS, whole = true): string {
  if (classification.parseError !== undefined) {
    const head = textHead(withoutComments(sql), UNPARSEABLE_HEAD_CHARS);
    // nothing to show of a text Airlock never had (an Execute of a portal it did not see bound)
    return head === '' ? `unclassifiable SQL (unknown): ${oneLineText(classification.parseError)}` : `unparseable SQL (unknown): ${head}`;
  }
  const statements = classification.statements;
  if (statements.length === 0) return '(empty statement)';
  const only = statements.length === 1 ? statements[0] : undefined;
  if (only !== undefined && whole) {
    const own = ownText(sql);
    if (own !== undefined) return withClass(own, only.class);
  }
  return listStatements(
    statements.map((s) => ({ label: labelOf(s), class: s.class })),
    maxChars,
  );
}

/**
 * A short single statement reads best as written. Not when it has a comment (a comment can say
 * anything, and in one line `--` would seem to swallow what followed it) or a character that can
 * hide or reorder text.
 */
function ownText(sql: string): string | undefined {
  const text = sql.trim();
  if (text.length > OWN_TEXT_MAX_CHARS || text.includes('--') || text.includes('/*') || hasUnprintable(text)) return undefined;
  return text.replace(/\s+/g, ' ');
}

function withClass(text: string, cls: SqlClass): string {
  return cls === 'read' ? text : `${text} (${cls})`;
}

/** What a statement changes, when it changes anything, is what an approver weighs; else what it reads. */
function objectsOf(s: SqlStatementInfo): string[] {
  return s.writesTables.length > 0 ? s.writesTables : s.tables;
}

function labelOf(s: SqlStatementInfo): string {
  if (s.prepares !== undefined) {
    const inner = s.prepares.statement;
    return `PREPARE ${relationDisplayName(s.prepares.name)} AS ${statementLabel(inner.command, objectsOf(inner))}`;
  }
  if (s.command === 'EXECUTE' && s.executes !== undefined) return statementLabel(`EXECUTE ${relationDisplayName(s.executes)}`, objectsOf(s), 'ON');
  return statementLabel(s.command, objectsOf(s));
}

function textHead(text: string, max: number): string {
  const line = oneLineText(text);
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/**
 * The text with each comment replaced by a space, so that the head of a text the parser rejected
 * shows its first words rather than its padding. Quoted strings, quoted identifiers and
 * dollar-quoted bodies are kept as they are (a `--` inside one is not a comment); block comments
 * nest, as in PostgreSQL. An unterminated quote or comment runs to the end.
 */
export function withoutComments(sql: string): string {
  let out = '';
  let last = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === "'" || c === '"') {
      // E'...' strings escape with a backslash: E'\' -- ' is one string, not a comment
      const escapes = c === "'" && /[Ee]/.test(sql[i - 1] ?? '') && !/[A-Za-z0-9_$]/.test(sql[i - 2] ?? '');
      i = afterQuoted(sql, i, c, escapes);
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 65));
      // $1 is a parameter; a tag must not continue an identifier (a$b$ is one name)
      if (tag === null || (i > 0 && /[A-Za-z0-9_$]/.test(sql[i - 1]!))) i++;
      else {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end < 0 ? n : end + tag[0].length;
      }
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      out += `${sql.slice(last, i)} `;
      i = end < 0 ? n : end;
      last = i;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
        } else j++;
      }
      out += `${sql.slice(last, i)} `;
      i = j;
      last = i;
    } else i++;
  }
  return out + sql.slice(last);
}

function afterQuoted(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    if (backslashEscapes && sql[i] === '\\') i += 2;
    else if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return i;
}
