/**
 * Query parameters read the way the API server's parameter codec reads them: a scalar option takes
 * the first value, a list option every value, a boolean is false only for "0" and "false" (any
 * case) and true for anything else, the empty string included (`?watch=` is a watch).
 */

export type QueryPairs = ReadonlyArray<readonly [string, string]>;

export function queryValues(query: QueryPairs, name: string): string[] {
  const values: string[] = [];
  for (const [key, value] of query) if (key === name) values.push(value);
  return values;
}

export function firstQueryValue(query: QueryPairs, name: string): string | undefined {
  for (const [key, value] of query) if (key === name) return value;
  return undefined;
}

/** apimachinery's Convert_Slice_string_To_bool: absent is false. */
export function queryBool(query: QueryPairs, name: string): boolean {
  const first = firstQueryValue(query, name);
  if (first === undefined) return false;
  return !(first === '0' || first.toLowerCase() === 'false');
}

/** strconv.ParseInt(s, 10, 64) succeeds. */
export function isInt64(text: string): boolean {
  if (!/^[+-]?\d+$/.test(text)) return false;
  const n = BigInt(text);
  return n >= -(2n ** 63n) && n < 2n ** 63n;
}

/** One term of a field selector: `lhs op value`, the value unescaped. */
export interface FieldSelectorTerm {
  lhs: string;
  op: '=' | '==' | '!=';
  value: string;
}

/**
 * A field selector's terms as apimachinery's fields.ParseSelector reads them, or undefined when it
 * does not parse. Terms split on unescaped commas (empty ones skipped); each term's operator is the
 * first `!=`, `==` or `=`; values unescape `\\`, `\,` and `\=` and may hold no other `,` or `=`.
 */
export function parseFieldSelector(selector: string): FieldSelectorTerm[] | undefined {
  const rawTerms: string[] = [];
  let current = '';
  for (let i = 0; i < selector.length; i++) {
    const ch = selector[i] as string;
    if (ch === '\\' && i + 1 < selector.length) {
      current += ch + (selector[i + 1] as string);
      i++;
    } else if (ch === ',') {
      rawTerms.push(current);
      current = '';
    } else current += ch;
  }
  rawTerms.push(current);
  const terms: FieldSelectorTerm[] = [];
  for (const term of rawTerms) {
    if (term === '') continue;
    const split = splitTerm(term);
    if (split === undefined) return undefined;
    const value = unescapeValue(split.rhs);
    if (value === undefined) return undefined;
    terms.push({ lhs: split.lhs, op: split.op, value });
  }
  return terms;
}

/** The value a parsed selector requires `field` to equal (RequiresExactMatch: the first `=`/`==` term on it). */
export function fieldSelectorExactMatch(terms: readonly FieldSelectorTerm[], field: string): string | undefined {
  for (const term of terms) if (term.lhs === field && term.op !== '!=') return term.value;
  return undefined;
}

const TERM_OPERATORS = ['!=', '==', '='] as const;

function splitTerm(term: string): { lhs: string; op: FieldSelectorTerm['op']; rhs: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of TERM_OPERATORS) {
      if (term.startsWith(op, i)) return { lhs: term.slice(0, i), op, rhs: term.slice(i + op.length) };
    }
  }
  return undefined;
}

function unescapeValue(text: string): string | undefined {
  let out = '';
  let escaped = false;
  for (const ch of text) {
    if (escaped) {
      if (ch !== '\\' && ch !== ',' && ch !== '=') return undefined;
      out += ch;
      escaped = false;
    } else if (ch === '\\') escaped = true;
    else if (ch === ',' || ch === '=') return undefined;
    else out += ch;
  }
  return escaped ? undefined : out;
}

/**
 * A label selector plausibly valid for labels.Parse. The API server drops every list option,
 * the name narrowing included, when any of them fails to decode; this check keeps Airlock from
 * narrowing where the server would not. It is deliberately narrow: an odd selector means no
 * narrowing, which is the reading of the two that names no object.
 */
export function plausibleLabelSelector(selector: string): boolean {
  return /^[A-Za-z0-9._\-/=!,() ]*$/.test(selector);
}
