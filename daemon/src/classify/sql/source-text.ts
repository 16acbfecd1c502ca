import { scanSync } from 'libpg-query';

/**
 * The parser reports positions as byte offsets into the UTF-8 text; JavaScript strings index by
 * UTF-16 code unit. Text that is all ASCII (the common case) is sliced directly.
 */
export class SourceText {
  private readonly bytes: Buffer | undefined;

  constructor(readonly text: string) {
    // eslint-disable-next-line no-control-regex
    this.bytes = /^[\x00-\x7f]*$/.test(text) ? undefined : Buffer.from(text, 'utf8');
  }

  get byteLength(): number {
    return this.bytes?.length ?? this.text.length;
  }

  slice(startByte: number, endByte?: number): string {
    if (this.bytes === undefined) return this.text.slice(startByte, endByte);
    return this.bytes.subarray(startByte, endByte).toString('utf8');
  }
}

interface Token {
  text: string;
  start: number;
  end: number;
}

function tokens(text: string): Token[] {
  return scanSync(text).tokens.map((t) => ({ text: t.text, start: t.start, end: t.end }));
}

const OPENERS = new Set(['(', '[']);
const CLOSERS = new Set([')', ']']);

/** The first token outside parentheses and brackets for which `matches` holds. */
function firstTopLevel(text: string, matches: (token: Token) => boolean): Token | undefined {
  let depth = 0;
  for (const token of tokens(text)) {
    if (OPENERS.has(token.text)) depth++;
    else if (CLOSERS.has(token.text)) depth = Math.max(0, depth - 1);
    else if (depth === 0 && matches(token)) return token;
  }
  return undefined;
}

/**
 * `PREPARE name [(types)] AS statement`: the statement's text. AS is reserved, so the first AS
 * outside the parenthesised type list is the one; a quoted "as" is an identifier token.
 */
export function preparedStatementText(prepareText: string): string {
  const as = firstTopLevel(prepareText, (t) => t.text.toUpperCase() === 'AS');
  if (as === undefined) return '';
  return new SourceText(prepareText).slice(as.end).trim();
}

/**
 * A PL/pgSQL assignment `target := value` (or `=`): the two sides, or undefined when there is no
 * assignment operator outside subscripts.
 */
export function splitAssignment(text: string): { target: string; value: string } | undefined {
  const operator = firstTopLevel(text, (t) => t.text === ':=' || t.text === '=');
  if (operator === undefined) return undefined;
  const source = new SourceText(text);
  return { target: source.slice(0, operator.start).trim(), value: source.slice(operator.end).trim() };
}
