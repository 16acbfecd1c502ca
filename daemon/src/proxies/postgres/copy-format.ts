import { parseSync, scanSync } from 'libpg-query';
import { NOTHING_TO_MASK, type MaskReportBuilder, type Masker } from '../../masking/index.js';
import { ProtocolError } from './protocol.js';
import type { CellMark } from './results.js';

/**
 * COPY ... TO STDOUT, read exactly. Pure: no I/O (the SQL parser must be loaded first, as
 * `initSqlClassifier()` does).
 *
 * CopyOutResponse says only "textual" or "binary", not which delimiter, quote, escape or NULL
 * string the rows use: those are in the statement. So the options are read from the statement with
 * PostgreSQL's own parser and checked as the server's ProcessCopyOptions (copy.c) checks them; the
 * rows are then split and unescaped as COPY FROM would read them, each field masked, and the row
 * written back with the same options so the client reads the masked values in the same columns.
 * What cannot be read exactly is refused with a sentence for the agent, never passed unmasked.
 */

export interface CopyOptions {
  format: 'text' | 'csv' | 'binary';
  /** one ASCII character */
  delimiter: string;
  /** the NULL marker as written in a row (text format: raw, not unescaped) */
  null: string;
  /** csv only: one ASCII character */
  quote: string;
  /** csv only: one ASCII character, the quote unless set */
  escape: string;
  /** a first row of column names */
  header: boolean;
  /** csv only: '*' or the columns named; undefined when not set */
  forceQuote: '*' | string[] | undefined;
  /** the ENCODING option as written; undefined when not set (the client encoding applies) */
  encoding: string | undefined;
  /** the column list, when the statement names one */
  columns: string[] | undefined;
  /**
   * The names the copied columns have, when the statement alone says them for certain (a column
   * list; a query whose every output is a column or an alias), as RowDescription would name them;
   * otherwise undefined, and the caller finds them (the table's columns, a Describe of the query).
   */
  columnNames: string[] | undefined;
  /** what is copied: a table (its schema when qualified), or a query's text */
  source: { relation: string; schema?: string } | { query: string };
}

/** One COPY TO STDOUT in a query string: its options, or why Airlock cannot read its rows. */
export type CopyOutStatement = { options: CopyOptions; refuse?: undefined } | { options?: CopyOptions; refuse: string };

/** PostgreSQL's text-format delimiter may not be any of these (they would read as escapes). */
const TEXT_FORBIDDEN_DELIMITERS = '\\.abcdefghijklmnopqrstuvwxyz0123456789';

type Fields = Record<string, unknown>;

/**
 * Every COPY ... TO STDOUT of a query string, in order: the server sends one CopyOutResponse for
 * each, in this order, so the n-th CopyOutResponse belongs to the n-th entry. A string that does
 * not parse gives one refusal (the server rejects it too, so no rows should come).
 */
export function copyOutStatements(sql: string): CopyOutStatement[] {
  let stmts: { stmt?: Fields; stmt_location?: number; stmt_len?: number }[];
  try {
    stmts = (parseSync(sql) as unknown as { stmts?: typeof stmts }).stmts ?? [];
  } catch (err) {
    return [{ refuse: `Airlock could not parse the statement to read its COPY options: ${(err as Error).message}` }];
  }
  const bytes = Buffer.from(sql, 'utf8');
  const out: CopyOutStatement[] = [];
  for (const raw of stmts) {
    const copy = raw.stmt?.CopyStmt as Fields | undefined;
    if (!copy || copy.is_from || copy.is_program || copy.filename !== undefined) continue;
    const start = raw.stmt_location ?? 0;
    const text = bytes.toString('utf8', start, raw.stmt_len ? start + raw.stmt_len : bytes.length);
    out.push(readCopyStatement(copy, text));
  }
  return out;
}

/** The options of one parsed CopyStmt (its node's fields), checked as the server checks them. */
function readCopyStatement(copy: Fields, statementText: string): CopyOutStatement {
  const relation = copy.relation as { relname?: string; schemaname?: string } | undefined;
  let source: CopyOptions['source'];
  if (relation?.relname) source = relation.schemaname ? { relation: relation.relname, schema: relation.schemaname } : { relation: relation.relname };
  else source = { query: innerQueryText(statementText) };
  const columns = Array.isArray(copy.attlist) ? (copy.attlist as { String?: { sval?: string } }[]).map((c) => c.String?.sval ?? '') : undefined;
  const columnNames = columns ?? (copy.query ? queryColumnNames(copy.query as Fields) : undefined);
  const seen = new Set<string>();
  let format: CopyOptions['format'] = 'text';
  let delimiter: string | undefined;
  let nullString: string | undefined;
  let quote: string | undefined;
  let escape: string | undefined;
  let header = false;
  let forceQuote: CopyOptions['forceQuote'];
  let encoding: string | undefined;
  for (const node of (copy.options as { DefElem?: { defname: string; arg?: Fields } }[] | undefined) ?? []) {
    const option = node.DefElem;
    if (!option) return { refuse: 'Airlock could not read a COPY option' };
    const name = option.defname;
    if (seen.has(name)) return { refuse: `COPY option ${name.toUpperCase()} is given twice` };
    seen.add(name);
    try {
      switch (name) {
        case 'format': {
          // compared as written, as the server does: FORMAT 'CSV' is an error there, not csv
          const value = optionString(option.arg, name);
          if (value !== 'text' && value !== 'csv' && value !== 'binary') return { refuse: `COPY format "${value}" is not one Airlock knows` };
          format = value;
          break;
        }
        case 'delimiter':
          delimiter = optionString(option.arg, name);
          break;
        case 'null':
          nullString = optionString(option.arg, name);
          break;
        case 'quote':
          quote = optionString(option.arg, name);
          break;
        case 'escape':
          escape = optionString(option.arg, name);
          break;
        case 'header':
          header = optionBoolean(option.arg, name);
          break;
        case 'force_quote':
          forceQuote = optionColumns(option.arg, name);
          break;
        case 'encoding':
          encoding = optionString(option.arg, name);
          break;
        case 'freeze':
          optionBoolean(option.arg, name);
          break;
        default:
          // force_not_null, force_null and anything newer shape COPY FROM or are unknown here
          return { refuse: `COPY option ${name.toUpperCase()} is not one Airlock can read in COPY TO STDOUT` };
      }
    } catch (err) {
      return { refuse: (err as Error).message };
    }
  }
  const csv = format === 'csv';
  const options: CopyOptions = {
    format,
    delimiter: delimiter ?? (csv ? ',' : '\t'),
    null: nullString ?? (csv ? '' : '\\N'),
    quote: quote ?? '"',
    escape: escape ?? quote ?? '"',
    header,
    forceQuote,
    encoding,
    columns,
    columnNames,
    source,
  };
  const problem = copyOptionsProblem(options, { delimiter, nullString, quote, escape });
  return problem ? { options, refuse: problem } : { options };
}

/** Why rows with these options cannot be read exactly, or undefined when they can. */
function copyOptionsProblem(o: CopyOptions, given: { delimiter?: string; nullString?: string; quote?: string; escape?: string }): string | undefined {
  if (o.format === 'binary') return 'binary COPY values carry no types, so Airlock cannot mask them';
  if (o.encoding !== undefined && !isUtf8Name(o.encoding)) return `COPY with ENCODING '${o.encoding}' is not read by Airlock: only UTF8 rows can be masked`;
  if (!isOneAsciiCharacter(o.delimiter)) return 'the COPY delimiter must be a single one-byte character';
  if (o.delimiter === '\n' || o.delimiter === '\r') return 'the COPY delimiter cannot be newline or carriage return';
  if (/[\r\n]/.test(o.null)) return 'the COPY null representation cannot use newline or carriage return';
  if (o.format === 'text') {
    if (given.quote !== undefined || given.escape !== undefined) return 'COPY QUOTE and ESCAPE are available only in CSV mode';
    if (o.forceQuote !== undefined) return 'COPY FORCE_QUOTE is available only in CSV mode';
    if (TEXT_FORBIDDEN_DELIMITERS.includes(o.delimiter)) return `COPY delimiter cannot be "${o.delimiter}"`;
    // a NULL marker with backslashes could read as an escape in the middle of a field; the default \N cannot
    if (o.null.includes('\\') && o.null !== '\\N') return 'a text COPY with a NULL string containing a backslash (other than \\N) is not read by Airlock';
  } else {
    if (!isOneAsciiCharacter(o.quote)) return 'the COPY quote must be a single one-byte character';
    if (!isOneAsciiCharacter(o.escape)) return 'the COPY escape must be a single one-byte character';
    if (o.delimiter === o.quote) return 'the COPY delimiter and quote must be different';
  }
  if (o.null.includes(o.delimiter)) return 'the COPY delimiter must not appear in the NULL specification';
  if (o.format === 'csv' && o.null.includes(o.quote)) return 'the CSV quote character must not appear in the NULL specification';
  return undefined;
}

function isOneAsciiCharacter(value: string): boolean {
  return value.length === 1 && value.charCodeAt(0) < 0x80;
}

/** pg_char_to_encoding compares names lower-cased with everything but letters and digits dropped. */
function isUtf8Name(name: string): boolean {
  const clean = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  return clean === 'utf8' || clean === 'unicode';
}

/** defGetString: a string, a number or a boolean as the server spells it. */
function optionString(arg: Fields | undefined, name: string): string {
  if (!arg) throw new Error(`COPY option ${name.toUpperCase()} requires a parameter`);
  if (arg.String) return (arg.String as { sval?: string }).sval ?? '';
  if (arg.Integer) return String((arg.Integer as { ival?: number }).ival ?? 0);
  if (arg.Float) return (arg.Float as { fval?: string }).fval ?? '0';
  if (arg.Boolean) return (arg.Boolean as { boolval?: boolean }).boolval ? 'true' : 'false';
  throw new Error(`COPY option ${name.toUpperCase()} requires a string`);
}

/** defGetBoolean (and defGetCopyHeaderChoice, whose MATCH is for COPY FROM only). */
function optionBoolean(arg: Fields | undefined, name: string): boolean {
  if (!arg) return true;
  if (arg.Boolean) return (arg.Boolean as { boolval?: boolean }).boolval === true;
  if (arg.Integer) {
    const value = (arg.Integer as { ival?: number }).ival ?? 0;
    if (value === 0 || value === 1) return value === 1;
  }
  if (arg.String) {
    const value = ((arg.String as { sval?: string }).sval ?? '').toLowerCase();
    if (['true', 'on', 't', 'tr', 'tru', 'y', 'ye', 'yes', '1'].includes(value)) return true;
    if (['false', 'off', 'f', 'fa', 'fal', 'fals', 'n', 'no', '0'].includes(value)) return false;
  }
  throw new Error(`COPY option ${name.toUpperCase()} requires a Boolean value`);
}

function optionColumns(arg: Fields | undefined, name: string): '*' | string[] {
  if (arg?.A_Star) return '*';
  const items = (arg?.List as { items?: { String?: { sval?: string } }[] } | undefined)?.items;
  if (items && items.every((i) => i.String?.sval !== undefined)) return items.map((i) => i.String!.sval!);
  throw new Error(`COPY option ${name.toUpperCase()} requires a column list or *`);
}

/**
 * The output column names of a COPY's query where they are certain: each output is an alias, a
 * column reference or a cast of one (named after the column, as the server's FigureColname does).
 * Anything else (a star, an expression, a set operation, VALUES) gives undefined: a guessed name
 * could miss a column rule.
 */
function queryColumnNames(query: Fields): string[] | undefined {
  const select = query.SelectStmt as Fields | undefined;
  let targets: unknown;
  if (select) {
    if (select.op !== undefined && select.op !== 'SETOP_NONE') return undefined;
    targets = select.targetList;
  } else {
    const dml = (query.InsertStmt ?? query.UpdateStmt ?? query.DeleteStmt ?? query.MergeStmt) as Fields | undefined;
    targets = (dml?.returningClause as Fields | undefined)?.exprs ?? dml?.returningList;
  }
  if (!Array.isArray(targets) || targets.length === 0) return undefined;
  const names: string[] = [];
  for (const target of targets as { ResTarget?: { name?: string; val?: Fields } }[]) {
    const name = target.ResTarget?.name ?? columnRefName(target.ResTarget?.val) ?? columnRefName((target.ResTarget?.val?.TypeCast as Fields | undefined)?.arg as Fields | undefined);
    if (name === undefined) return undefined;
    names.push(name);
  }
  return names;
}

function columnRefName(node: Fields | undefined): string | undefined {
  const fields = (node?.ColumnRef as { fields?: { String?: { sval?: string } }[] } | undefined)?.fields;
  return fields?.at(-1)?.String?.sval;
}

/** The text between the parentheses of `COPY ( query ) TO ...`, found by tokens so a ')' in a string does not end it. */
function innerQueryText(statementText: string): string {
  const bytes = Buffer.from(statementText, 'utf8');
  let depth = 0;
  let start = -1;
  for (const token of scanSync(statementText).tokens) {
    if (token.text === '(') {
      if (depth++ === 0) start = token.end;
    } else if (token.text === ')' && --depth === 0) return bytes.toString('utf8', start, token.start).trim();
  }
  return '';
}

// ---- rows ----

/** One field of a row as read: its value (null for the NULL marker) and its bytes in the row. */
interface CopyField {
  value: string | null;
  start: number;
  end: number;
  /** csv: the field had quotes, so a rewritten value keeps them (FORCE_QUOTE, or a value equal to the NULL string) */
  quoted: boolean;
  /** the value is its bytes as they are in the row (no quotes, no escapes), so they can be screened without decoding */
  plain: boolean;
}

const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

/**
 * Splits the rows of one CopyData body (PostgreSQL sends one row per message; several whole rows
 * are read as well) into fields, as COPY FROM reads them. A body that does not end a row is an
 * error: a row split across messages is not something the server does.
 */
export function readCopyRows(options: CopyOptions, body: Buffer): CopyField[][] {
  const rows: CopyField[][] = [];
  let at = 0;
  while (at < body.length) {
    const row = options.format === 'csv' ? readCsvRow(options, body, at) : readTextRow(options, body, at);
    rows.push(row.fields);
    at = row.next;
  }
  return rows;
}

function readTextRow(options: CopyOptions, body: Buffer, from: number): { fields: CopyField[]; next: number } {
  const delimiter = options.delimiter.charCodeAt(0);
  const fields: CopyField[] = [];
  let start = from;
  for (let i = from; i < body.length; i++) {
    const c = body[i]!;
    if (c === BACKSLASH) {
      i++;
      continue;
    }
    if (c === delimiter || c === NEWLINE) {
      fields.push(textField(options, body, start, i));
      if (c === NEWLINE) return { fields, next: i + 1 };
      start = i + 1;
    }
  }
  throw new ProtocolError('a COPY text row without its end of line in one CopyData message');
}

function textField(options: CopyOptions, body: Buffer, start: number, end: number): CopyField {
  // The NULL marker is compared before unescaping, as COPY FROM does. A value the server wrote as
  // exactly the marker (NULL 'nil' and the value nil) reads as NULL and passes unmasked: its text
  // is the marker the agent itself wrote in the statement, so it tells the agent only what a WHERE
  // clause could.
  if (end - start === Buffer.byteLength(options.null) && body.toString('utf8', start, end) === options.null) return { value: null, start, end, quoted: false, plain: false };
  const backslash = body.indexOf(BACKSLASH, start);
  if (backslash < 0 || backslash >= end) return { value: body.toString('utf8', start, end), start, end, quoted: false, plain: true };
  const out = Buffer.allocUnsafe(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    let c = body[i]!;
    if (c === BACKSLASH && i + 1 < end) {
      c = body[++i]!;
      if (c >= 0x30 && c <= 0x37) {
        let value = c - 0x30;
        for (let k = 0; k < 2 && i + 1 < end && body[i + 1]! >= 0x30 && body[i + 1]! <= 0x37; k++) value = value * 8 + (body[++i]! - 0x30);
        c = value & 0xff;
      } else if (c === 0x78 /* x */ && i + 1 < end && isHex(body[i + 1]!)) {
        let value = hexValue(body[++i]!);
        if (i + 1 < end && isHex(body[i + 1]!)) value = value * 16 + hexValue(body[++i]!);
        c = value;
      } else c = TEXT_ESCAPES[c] ?? c;
    }
    out[n++] = c;
  }
  return { value: out.toString('utf8', 0, n), start, end, quoted: false, plain: false };
}

/** \b \f \n \r \t \v as COPY reads them; any other escaped character stands for itself. */
const TEXT_ESCAPES: Record<number, number> = { 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x76: 0x0b };

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function hexValue(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10;
}

function readCsvRow(options: CopyOptions, body: Buffer, from: number): { fields: CopyField[]; next: number } {
  const delimiter = options.delimiter.charCodeAt(0);
  const quote = options.quote.charCodeAt(0);
  const escape = options.escape.charCodeAt(0);
  const fields: CopyField[] = [];
  let i = from;
  for (;;) {
    const start = i;
    const value: number[] = [];
    let quoted = false;
    let ended: 'delimiter' | 'row';
    // CopyReadAttributesCSV: a quote may open anywhere in a field; inside quotes the escape character escapes only a quote or itself
    for (;;) {
      if (i >= body.length) throw new ProtocolError('a COPY csv row without its end of line in one CopyData message');
      const c = body[i++]!;
      if (c === delimiter) {
        ended = 'delimiter';
        break;
      }
      if (c === NEWLINE) {
        ended = 'row';
        break;
      }
      if (c !== quote) {
        if (quoted) value.push(c);
        continue;
      }
      if (!quoted) for (let k = start; k < i - 1; k++) value.push(body[k]!);
      quoted = true;
      for (;;) {
        if (i >= body.length) throw new ProtocolError('an unterminated quoted field in a COPY csv row');
        const q = body[i++]!;
        if (q === escape && i < body.length && (body[i] === escape || body[i] === quote)) {
          value.push(body[i++]!);
          continue;
        }
        if (q === quote) break;
        value.push(q);
      }
    }
    const end = i - 1;
    // unquoted, a field is its bytes; the server quotes a value equal to the NULL string, so an unquoted one is NULL
    const isNull = !quoted && end - start === Buffer.byteLength(options.null) && body.toString('utf8', start, end) === options.null;
    fields.push({ value: isNull ? null : quoted ? Buffer.from(value).toString('utf8') : body.toString('utf8', start, end), start, end, quoted, plain: !quoted });
    if (ended === 'row') return { fields, next: i };
  }
}

/** A value written as PostgreSQL's CopyAttributeOutText writes it. */
export function encodeTextField(options: CopyOptions, value: string): string {
  let out = '';
  for (const ch of value) {
    if (ch === '\\' || ch === options.delimiter) out += '\\' + ch;
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\v') out += '\\v';
    else out += ch;
  }
  return out;
}

/** A value written as CopyAttributeOutCSV writes it; `quote`: the field must be quoted (it was, or FORCE_QUOTE). */
export function encodeCsvField(options: CopyOptions, value: string, quote: boolean, singleColumn: boolean): string {
  const needs =
    quote ||
    value === options.null ||
    (singleColumn && value === '\\.') ||
    value.includes(options.delimiter) ||
    value.includes(options.quote) ||
    value.includes('\n') ||
    value.includes('\r');
  if (!needs) return value;
  let out = options.quote;
  for (const ch of value) out += ch === options.quote || ch === options.escape ? options.escape + ch : ch;
  return out + options.quote;
}

/** A row of a masked COPY as the agent saw it, for the recording. */
export interface CopySampleRow {
  fields: (string | null)[];
  marks: CellMark[];
}

/** What the caller does with one COPY TO STDOUT: mask its rows, or refuse it with this sentence. */
export type CopyOutPlan = { masker: CopyRowMasker; refuse?: undefined } | { masker?: undefined; refuse: string };

/**
 * Plans masking for one COPY TO STDOUT: `columnNames` are the copied columns in order (from the
 * statement's column list, the table's columns or the query's RowDescription), so column rules
 * apply to COPY as to rows; `columnCount` is CopyOutResponse's, checked against every row;
 * `clientEncoding` is the session's (its last ParameterStatus), which the rows use unless the
 * statement sets ENCODING.
 * A COPY whose rows cannot be read exactly, or whose columns a column rule cannot be matched to,
 * is refused.
 */
export function planCopyOut(statement: CopyOutStatement, masker: Masker, columnNames?: readonly string[], columnCount?: number, clientEncoding?: string): CopyOutPlan {
  if (statement.refuse !== undefined) return { refuse: `Airlock cannot mask this COPY: ${statement.refuse}` };
  // without ENCODING the rows come in the client encoding, where (in SJIS, say) a backslash byte can sit inside a character
  if (statement.options.encoding === undefined && clientEncoding !== undefined && !isUtf8Name(clientEncoding)) {
    return { refuse: `Airlock cannot mask this COPY: the client encoding is ${clientEncoding}, and only UTF8 rows can be masked` };
  }
  if (columnNames === undefined && masker.hasColumnRules) return { refuse: 'Airlock cannot mask this COPY: its column names are not known, so column masking rules cannot be applied' };
  if (columnNames !== undefined && columnCount !== undefined && columnNames.length !== columnCount) return { refuse: 'Airlock cannot mask this COPY: its column names do not match its column count' };
  return { masker: new CopyRowMasker(statement.options, masker, columnNames, columnCount) };
}

/**
 * Masks the rows of one COPY TO STDOUT in text or csv format: each field is read exactly as COPY
 * FROM would read it, masked as a DataRow cell is (its column's rule, else the content detectors),
 * and written back with the same options; unchanged fields keep their bytes. The header row's
 * column names go through the content detectors only.
 */
export class CopyRowMasker {
  private readonly labels: (string | undefined)[];
  private headerPending: boolean;

  /** @param labels the column rule of each column when worked out from its source; by default the rule matching its name */
  constructor(
    readonly options: CopyOptions,
    private readonly masker: Masker,
    columnNames?: readonly string[],
    private readonly columnCount?: number,
    labels?: readonly (string | undefined)[],
  ) {
    if (options.format === 'binary') throw new Error('CopyRowMasker reads text and csv rows only');
    this.labels = labels ? [...labels] : (columnNames ?? []).map((name) => masker.columnRule(name));
    this.headerPending = options.header;
  }

  /**
   * Masks one CopyData body. Returns the new body, or null when nothing changed and the original
   * goes on. `sample`, when given, receives each data row as the agent sees it. Throws a
   * ProtocolError for rows that cannot be read or do not have the expected number of fields.
   */
  maskData(body: Buffer, report: MaskReportBuilder, sample?: CopySampleRow[]): Buffer | null {
    const rows = readCopyRows(this.options, body);
    let parts: (Buffer | string)[] | undefined;
    let from = 0;
    for (const fields of rows) {
      const header = this.headerPending;
      this.headerPending = false;
      if (this.columnCount !== undefined && fields.length !== this.columnCount) {
        throw new ProtocolError(`a COPY row with ${fields.length} fields where ${this.columnCount} columns were announced`);
      }
      const marks: CellMark[] = [];
      const seen: (string | null)[] = [];
      for (let i = 0; i < fields.length; i++) {
        const field = fields[i]!;
        if (field.value === null || field.value === '') {
          seen.push(field.value);
          continue;
        }
        const label = header ? undefined : this.labels[i];
        // as DataRow cells are: most fields cannot hold anything a detector looks for, which their bytes show
        const screened = label === undefined && field.plain ? this.masker.screenBytes(body, field.start, field.end) : -1;
        if (screened === NOTHING_TO_MASK) {
          seen.push(field.value);
          continue;
        }
        const labels: string[] = [];
        const masked = this.masker.maskCell(field.value, label, report, screened, labels);
        seen.push(masked);
        if (masked === field.value) continue;
        if (labels.length > 0) marks.push({ column: i, by: labels });
        (parts ??= []).push(body.subarray(from, field.start));
        parts.push(this.options.format === 'csv' ? encodeCsvField(this.options, masked, field.quoted, fields.length === 1) : encodeTextField(this.options, masked));
        from = field.end;
      }
      if (!header) sample?.push({ fields: seen, marks });
    }
    if (!parts) return null;
    parts.push(body.subarray(from));
    return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
  }
}
