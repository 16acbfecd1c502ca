import hljs from 'highlight.js/lib/core';
import sqlLanguage from 'highlight.js/lib/languages/sql';
import { formatDialect, postgresql } from 'sql-formatter';

hljs.registerLanguage('sql', sqlLanguage);

/** The statement laid out by sql-formatter (PostgreSQL dialect); as written when it does not parse. */
export function formatSql(sql: string): string {
  try {
    return formatDialect(sql, { dialect: postgresql, keywordCase: 'preserve' });
  } catch {
    return sql;
  }
}

/** Highlighted HTML for SQL; highlight.js escapes the text, so the result is safe to insert. */
export function highlightSql(sql: string): string {
  return hljs.highlight(sql, { language: 'sql', ignoreIllegals: true }).value;
}
