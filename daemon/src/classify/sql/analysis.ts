import { parseSync } from 'libpg-query';
import { changesParsing, functionKind, isHarmlessParsingValue, isPrivilegedSetting, isUntrustedLanguage, sqlTextArgument } from './catalog.js';
import { commandOf, objectName } from './commands.js';
import { plpgsqlBody } from './plpgsql.js';
import type { PlpgsqlPiece } from './plpgsql.js';
import { SourceText, preparedStatementText, splitAssignment } from './source-text.js';
import { combineClasses } from './types.js';
import type { SqlClass, SqlStatementInfo } from './types.js';

/**
 * Classification of one parsed statement by walking its whole tree. libpg-query's JSON wraps a
 * node as `{ NodeType: fields }` wherever the field may hold any node, and writes it bare where the
 * field's type is fixed (`relation` is always a RangeVar); both shapes are followed. The statement
 * node decides the base class; what is found beneath it (a DELETE in a CTE, a call to
 * pg_read_file, EXECUTE of a prepared statement) adds stricter parts.
 */

type Fields = Record<string, unknown>;

export interface ParsedStatement {
  nodeType: string;
  fields: Fields;
  /** the statement's own text, trimmed */
  text: string;
}

interface Part {
  class: SqlClass;
  reason: string;
  /** the unknown part an EXECUTE of a prepared statement adds, which the caller replaces */
  execute?: true;
}

interface Context {
  /**
   * False where SQL is defined or planned but not run now (a view's query, a function body, a
   * rule's actions, plain EXPLAIN). Only privileged parts count there: what a definition would do
   * is refused when it is defined, since the call that later runs it looks harmless.
   */
  executing: boolean;
  /** CTE names in scope: an unqualified relation of that name is the CTE, not a table */
  cteScopes: readonly ReadonlySet<string>[];
  inCte: boolean;
  /** the text of the innermost statement being classified; DO and PREPARE read their own text */
  statementText: string;
  /** how many parses deep (a DO body, a string passed to EXECUTE): bounded, as the text could nest without end */
  nesting: number;
}

const MAX_NESTING = 10;

const RELATION_FIELDS = new Set(['relation', 'table', 'sequence', 'view', 'rel', 'pktable', 'identitySequence', 'constrrel', 'name']);
const BARE_NODE_FIELDS: Record<string, string> = {
  funccall: 'FuncCall',
  larg: 'SelectStmt',
  rarg: 'SelectStmt',
  val: 'SelectStmt',
  intoClause: 'IntoClause',
  into: 'IntoClause',
  withClause: 'WithClause',
  setstmt: 'VariableSetStmt',
};

/** Objects whose creation, change or removal is an administration matter, not a schema change. */
const PRIVILEGED_OBJECTS = new Set([
  'OBJECT_ACCESS_METHOD',
  'OBJECT_DATABASE',
  'OBJECT_DEFACL',
  'OBJECT_EVENT_TRIGGER',
  'OBJECT_EXTENSION',
  'OBJECT_FDW',
  'OBJECT_FOREIGN_SERVER',
  'OBJECT_LANGUAGE',
  'OBJECT_PARAMETER_ACL',
  'OBJECT_PUBLICATION',
  'OBJECT_PUBLICATION_NAMESPACE',
  'OBJECT_PUBLICATION_REL',
  'OBJECT_ROLE',
  'OBJECT_SUBSCRIPTION',
  'OBJECT_TABLESPACE',
  'OBJECT_USER_MAPPING',
]);

const RELATION_OBJECTS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_INDEX', 'OBJECT_SEQUENCE', 'OBJECT_FOREIGN_TABLE']);
/** Objects named `relation.object`: the relation is every name but the last. */
const RELATION_MEMBER_OBJECTS = new Set(['OBJECT_COLUMN', 'OBJECT_TRIGGER', 'OBJECT_RULE', 'OBJECT_POLICY', 'OBJECT_TABCONSTRAINT']);

const LOCK_STRENGTHS: Record<string, string> = {
  LCS_FORKEYSHARE: 'FOR KEY SHARE',
  LCS_FORSHARE: 'FOR SHARE',
  LCS_FORNOKEYUPDATE: 'FOR NO KEY UPDATE',
  LCS_FORUPDATE: 'FOR UPDATE',
};

/** Statements whose class does not depend on their fields: [class, what the command does]. */
const FIXED_CLASSES: Record<string, [SqlClass, string]> = {
  VariableShowStmt: ['read', 'only reads a setting'],
  ListenStmt: ['read', 'only subscribes to notifications'],
  UnlistenStmt: ['read', 'only unsubscribes from notifications'],
  ConstraintsSetStmt: ['read', 'only changes when constraints are checked'],
  ReturnStmt: ['read', 'returns a value'],
  NotifyStmt: ['write', 'signals other sessions'],
  CheckPointStmt: ['privileged', 'is a server operation'],
  LoadStmt: ['privileged', 'loads a shared library into the server'],
  AlterSystemStmt: ['privileged', 'changes the server configuration'],
  CreatedbStmt: ['privileged', 'administers databases'],
  AlterDatabaseStmt: ['privileged', 'administers databases'],
  AlterDatabaseSetStmt: ['privileged', 'administers databases'],
  AlterDatabaseRefreshCollStmt: ['privileged', 'administers databases'],
  DropdbStmt: ['privileged', 'administers databases'],
  CreateRoleStmt: ['privileged', 'administers roles'],
  AlterRoleStmt: ['privileged', 'administers roles'],
  AlterRoleSetStmt: ['privileged', 'administers roles'],
  DropRoleStmt: ['privileged', 'administers roles'],
  GrantStmt: ['privileged', 'changes privileges'],
  GrantRoleStmt: ['privileged', 'changes role membership'],
  AlterDefaultPrivilegesStmt: ['privileged', 'changes privileges'],
  DropOwnedStmt: ['privileged', "drops everything a role owns"],
  ReassignOwnedStmt: ['privileged', 'changes who owns objects'],
  CreateExtensionStmt: ['privileged', 'installs server code'],
  AlterExtensionStmt: ['privileged', 'changes server code'],
  AlterExtensionContentsStmt: ['privileged', 'changes server code'],
  CreatePublicationStmt: ['privileged', 'sets up replication'],
  AlterPublicationStmt: ['privileged', 'changes replication'],
  CreateSubscriptionStmt: ['privileged', 'sets up replication'],
  AlterSubscriptionStmt: ['privileged', 'changes replication'],
  DropSubscriptionStmt: ['privileged', 'changes replication'],
  CreateTableSpaceStmt: ['privileged', 'manages server directories'],
  DropTableSpaceStmt: ['privileged', 'manages server directories'],
  AlterTableSpaceOptionsStmt: ['privileged', 'manages server directories'],
  CreateFdwStmt: ['privileged', 'manages foreign data wrappers'],
  AlterFdwStmt: ['privileged', 'manages foreign data wrappers'],
  CreateForeignServerStmt: ['privileged', 'defines a connection to another server'],
  AlterForeignServerStmt: ['privileged', 'changes a connection to another server'],
  CreateUserMappingStmt: ['privileged', 'stores credentials for another server'],
  AlterUserMappingStmt: ['privileged', 'changes credentials for another server'],
  DropUserMappingStmt: ['privileged', 'changes credentials for another server'],
  CreateEventTrigStmt: ['privileged', 'runs code on every schema change'],
  AlterEventTrigStmt: ['privileged', 'changes code run on every schema change'],
  CreatePLangStmt: ['privileged', 'installs a procedural language'],
  CreateAmStmt: ['privileged', 'installs an access method'],
  SecLabelStmt: ['privileged', 'changes a security label'],
  DefineStmt: ['ddl', 'changes the schema'],
  CreateDomainStmt: ['ddl', 'changes the schema'],
  AlterDomainStmt: ['ddl', 'changes the schema'],
  CompositeTypeStmt: ['ddl', 'changes the schema'],
  CreateEnumStmt: ['ddl', 'changes the schema'],
  CreateRangeStmt: ['ddl', 'changes the schema'],
  AlterEnumStmt: ['ddl', 'changes the schema'],
  AlterTypeStmt: ['ddl', 'changes the schema'],
  AlterOperatorStmt: ['ddl', 'changes the schema'],
  CreateOpClassStmt: ['ddl', 'changes the schema'],
  CreateOpFamilyStmt: ['ddl', 'changes the schema'],
  AlterOpFamilyStmt: ['ddl', 'changes the schema'],
  CreateConversionStmt: ['ddl', 'changes the schema'],
  CreateCastStmt: ['ddl', 'changes the schema'],
  CreateTransformStmt: ['ddl', 'changes the schema'],
  AlterTSDictionaryStmt: ['ddl', 'changes the schema'],
  AlterTSConfigurationStmt: ['ddl', 'changes the schema'],
  AlterCollationStmt: ['ddl', 'changes the schema'],
  CreateStatsStmt: ['ddl', 'changes the schema'],
  AlterStatsStmt: ['ddl', 'changes the schema'],
  AlterObjectDependsStmt: ['ddl', 'changes the schema'],
  ImportForeignSchemaStmt: ['ddl', 'changes the schema'],
  AlterTableMoveAllStmt: ['ddl', 'changes the schema'],
  ReplicaIdentityStmt: ['ddl', 'changes the schema'],
};

export function isRecord(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `{ NodeType: fields }` → [NodeType, fields]; node types are capitalised, field names are not. */
function asNode(value: unknown): [string, Fields] | undefined {
  if (!isRecord(value)) return undefined;
  const keys = Object.keys(value);
  const key = keys[0];
  if (keys.length !== 1 || key === undefined || !/^[A-Z]/.test(key)) return undefined;
  const fields = value[key];
  return isRecord(fields) ? [key, fields] : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function stringField(fields: Fields | undefined, name: string): string | undefined {
  const value = fields?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** A list of String nodes (a qualified name) → its parts. */
function nameParts(value: unknown): string[] {
  const node = asNode(value);
  const items = node?.[0] === 'List' ? list(node[1]['items']) : node?.[0] === 'String' ? [value] : list(value);
  const parts: string[] = [];
  for (const item of items) {
    const part = asNode(item);
    const sval = part?.[0] === 'String' ? stringField(part[1], 'sval') : undefined;
    if (sval !== undefined) parts.push(sval);
  }
  return parts;
}

function relationName(rangeVar: Fields): string | undefined {
  const relname = stringField(rangeVar, 'relname');
  if (relname === undefined) return undefined;
  return [stringField(rangeVar, 'catalogname'), stringField(rangeVar, 'schemaname'), relname].filter((p) => p !== undefined && p !== '').join('.');
}

/** A string constant, looking through casts: 'x', 'x'::text, CAST('x' AS text). Numbers read as their text. */
function literalText(value: unknown): string | undefined {
  const node = asNode(value);
  if (node === undefined) return undefined;
  const [type, fields] = node;
  if (type === 'TypeCast') return literalText(fields['arg']);
  if (type !== 'A_Const') return undefined;
  if (isRecord(fields['sval'])) return stringField(fields['sval'], 'sval') ?? '';
  if (isRecord(fields['ival'])) return String(fields['ival']['ival'] ?? 0);
  return undefined;
}

/**
 * The value of a DefElem option as a boolean; undefined when it is not one this reads. Any number
 * counts as true: nobody writes (ANALYZE 0), and a caller that normalises numeric constants in
 * its cache key must not turn (ANALYZE 1) into a plan-only EXPLAIN.
 */
function optionBoolean(defElem: Fields): boolean | undefined {
  const arg = asNode(defElem['arg']);
  if (arg === undefined) return defElem['arg'] === undefined ? true : undefined;
  const [type, fields] = arg;
  if (type === 'Boolean') return fields['boolval'] === true;
  if (type === 'Integer' || type === 'Float') return true;
  if (type === 'String') {
    const text = (stringField(fields, 'sval') ?? '').toLowerCase();
    if (['true', 'on', 'yes', '1'].includes(text)) return true;
    if (['false', 'off', 'no', '0'].includes(text)) return false;
  }
  return undefined;
}

function options(value: unknown): Map<string, Fields> {
  const found = new Map<string, Fields>();
  for (const item of list(value)) {
    const node = asNode(item);
    const name = node?.[0] === 'DefElem' ? stringField(node[1], 'defname') : undefined;
    if (node !== undefined && name !== undefined) found.set(name, node[1]);
  }
  return found;
}

function optionString(option: Fields | undefined): string | undefined {
  const arg = asNode(option?.['arg']);
  return arg?.[0] === 'String' ? stringField(arg[1], 'sval') : undefined;
}

function article(word: string): string {
  return /^[AEIOU]/.test(word) ? 'an' : 'a';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Splits SQL text into statements with PostgreSQL's parser. Throws the parser's error. */
export function parseStatements(sql: string): ParsedStatement[] {
  const result = parseSync(sql);
  const source = new SourceText(sql);
  return (result.stmts ?? []).map((raw) => {
    const start = raw.stmt_location ?? 0;
    // stmt_len 0 means "to the end of the text"
    const end = raw.stmt_len ? start + raw.stmt_len : source.byteLength;
    const text = source.slice(start, end).trim();
    const node = asNode(raw.stmt);
    return node === undefined ? { nodeType: 'unrecognized', fields: {}, text } : { nodeType: node[0], fields: node[1], text };
  });
}

export function classifyStatement(statement: ParsedStatement): SqlStatementInfo {
  const analysis = new StatementAnalysis();
  analysis.statement(statement.nodeType, statement.fields, { executing: true, cteScopes: [], inCte: false, statementText: statement.text, nesting: 0 });
  return analysis.info(statement.text, commandOf(statement.nodeType, statement.fields));
}

/**
 * What a routine's body does when it runs, read from its definition (`pg_get_functiondef`): SQL
 * and PL/pgSQL bodies are classified as executing, so the calls and relations in them are listed
 * as a statement's are. A body in another language cannot be read and is unknown.
 */
export function classifyRoutineBody(definition: string): SqlStatementInfo {
  const analysis = new StatementAnalysis();
  let statements: ParsedStatement[] = [];
  try {
    statements = parseStatements(definition);
  } catch (error) {
    analysis.unknown(`a routine definition the parser rejected: ${errorMessage(error)}`);
  }
  const only = statements[0];
  if (statements.length === 1 && only !== undefined && only.nodeType === 'CreateFunctionStmt') {
    analysis.routineBody(only.fields, { executing: true, cteScopes: [], inCte: false, statementText: only.text, nesting: 0 });
  } else if (statements.length > 0) {
    analysis.unknown('a routine definition that is not one CREATE FUNCTION statement');
  }
  return analysis.info(definition.trim(), 'ROUTINE BODY');
}

class StatementAnalysis {
  private readonly parts: Part[] = [];
  private readonly tables = new Set<string>();
  private readonly writesTables = new Set<string>();
  private readonly functions = new Set<string>();
  private readonly readsTables = new Set<string>();
  private readonly calls = new Set<string>();
  private readonly fieldCalls = new Set<string>();
  private readonly operators = new Set<string>();
  private readonly casts = new Set<string>();
  private runsUserCode = false;
  private noWhere = false;
  private executes: string | undefined;
  private deallocates: string | undefined;
  private prepares: { name: string; statement: SqlStatementInfo } | undefined;
  private fetches: string | undefined;
  private declares: { name: string; holdable: boolean } | undefined;
  private closesPortal: string | undefined;

  classOf(): SqlClass {
    // a statement in which nothing was recognised is not harmless by default
    return this.parts.length === 0 ? 'unknown' : combineClasses(this.parts.map((p) => p.class));
  }

  private classBesidesExecute(): SqlClass {
    return combineClasses(this.parts.filter((p) => p.execute !== true).map((p) => p.class));
  }

  info(text: string, command: string): SqlStatementInfo {
    const cls = this.classOf();
    const reasons = this.parts.length === 0 ? ['nothing in the statement was recognised'] : [...new Set(this.parts.filter((p) => p.class === cls).map((p) => p.reason))];
    const info: SqlStatementInfo = {
      text,
      command,
      class: cls,
      tables: [...this.tables],
      writesTables: [...this.writesTables],
      noWhere: this.noWhere,
      functions: [...this.functions],
      readsTables: [...this.readsTables],
      calls: [...this.calls],
      fieldCalls: [...this.fieldCalls],
      operators: [...this.operators],
      casts: [...this.casts],
      runsUserCode: this.runsUserCode,
      reasons,
    };
    if (this.prepares !== undefined) info.prepares = this.prepares;
    if (this.executes !== undefined) {
      info.executes = this.executes;
      info.classBesidesExecute = this.classBesidesExecute();
    }
    if (this.deallocates !== undefined) info.deallocates = this.deallocates;
    if (this.fetches !== undefined) info.fetches = this.fetches;
    if (this.declares !== undefined) info.declares = this.declares;
    if (this.closesPortal !== undefined) info.closesPortal = this.closesPortal;
    return info;
  }

  private add(ctx: Context, cls: SqlClass, reason: string, execute?: true): void {
    if (ctx.executing || cls === 'privileged') this.parts.push(execute ? { class: cls, reason, execute } : { class: cls, reason });
  }

  private absorb(child: StatementAnalysis, reasonPrefix = ''): void {
    for (const part of child.parts) this.parts.push({ ...part, reason: reasonPrefix + part.reason });
    for (const t of child.tables) this.tables.add(t);
    for (const t of child.writesTables) this.writesTables.add(t);
    for (const f of child.functions) this.functions.add(f);
    for (const t of child.readsTables) this.readsTables.add(t);
    for (const c of child.calls) this.calls.add(c);
    for (const c of child.fieldCalls) this.fieldCalls.add(c);
    for (const o of child.operators) this.operators.add(o);
    for (const t of child.casts) this.casts.add(t);
    this.runsUserCode ||= child.runsUserCode;
    this.noWhere ||= child.noWhere;
    this.executes ??= child.executes;
  }

  // ---- generic walk ----

  private walk(value: unknown, ctx: Context): void {
    if (Array.isArray(value)) {
      for (const item of value) this.walk(item, ctx);
      return;
    }
    if (!isRecord(value)) return;
    const node = asNode(value);
    if (node !== undefined) this.node(node[0], node[1], ctx);
    else this.walkFields(value, ctx);
  }

  private walkFields(fields: Fields, ctx: Context, skip: readonly string[] = []): void {
    for (const [field, child] of Object.entries(fields)) {
      if (skip.includes(field)) continue;
      if (isRecord(child) && asNode(child) === undefined) {
        // a bare node: its type follows from the field
        if (RELATION_FIELDS.has(field) && typeof child['relname'] === 'string') {
          this.node('RangeVar', child, ctx);
          continue;
        }
        const bareType = BARE_NODE_FIELDS[field];
        if (bareType !== undefined) {
          this.node(bareType, child, ctx);
          continue;
        }
      }
      this.walk(child, ctx);
    }
  }

  private node(type: string, fields: Fields, ctx: Context): void {
    switch (type) {
      case 'RangeVar':
        this.readRelation(fields, ctx);
        return;
      case 'FuncCall':
        this.funcCall(fields, ctx);
        return;
      case 'IntoClause':
        this.writeRelation(fields['rel'], ctx);
        this.walkFields(fields, ctx, ['rel']);
        return;
      case 'LockingClause':
        // lockedRels name relations (or their aliases) of the FROM list, which are counted there
        return;
      case 'A_Expr':
        this.operatorExpression(fields, ctx);
        this.walkFields(fields, ctx, ['name']);
        return;
      case 'SubLink':
        // x IN (SELECT ...) carries no operator name; the server compares with =
        if (fields['subLinkType'] === 'ANY_SUBLINK' && fields['operName'] === undefined) this.operatorName([{ String: { sval: '=' } }], ctx);
        else this.operatorName(fields['operName'], ctx);
        this.walkFields(fields, ctx, ['operName']);
        return;
      case 'TypeCast': {
        // x::t runs the cast function to t, which CREATE CAST can make a user function
        const typeName = isRecord(fields['typeName']) ? nameParts(fields['typeName']['names']) : [];
        if (ctx.executing && typeName.length > 0) this.casts.add(typeName.join('.'));
        this.walkFields(fields, ctx);
        return;
      }
      case 'CaseExpr':
        // CASE x WHEN v compares x = v
        if (fields['arg'] !== undefined) this.operatorName([{ String: { sval: '=' } }], ctx);
        this.walkFields(fields, ctx);
        return;
      case 'SortBy':
        this.operatorName(fields['useOp'], ctx);
        this.walkFields(fields, ctx, ['useOp']);
        return;
      case 'ColumnRef': {
        // t.f is also how f(t) is written: the server calls f when t has no column f
        const refParts = list(fields['fields']);
        const last = asNode(refParts.at(-1));
        if (refParts.length >= 2 && last?.[0] === 'String') this.fieldCall(stringField(last[1], 'sval'), ctx);
        return;
      }
      case 'A_Indirection':
        for (const item of list(fields['indirection'])) {
          const part = asNode(item);
          if (part?.[0] === 'String') this.fieldCall(stringField(part[1], 'sval'), ctx);
        }
        this.walkFields(fields, ctx);
        return;
      default:
        if (type.endsWith('Stmt')) this.statement(type, fields, ctx);
        else this.walkFields(fields, ctx);
    }
  }

  private readRelation(rangeVar: Fields, ctx: Context): void {
    const name = relationName(rangeVar);
    if (name === undefined) return;
    const qualified = stringField(rangeVar, 'schemaname') !== undefined || stringField(rangeVar, 'catalogname') !== undefined;
    if (!qualified && ctx.cteScopes.some((scope) => scope.has(name))) return;
    this.tables.add(name);
    if (ctx.executing) this.readsTables.add(name);
  }

  /** An operator by its name as written: OPERATOR(schema.op) keeps the schema. */
  private operatorName(name: unknown, ctx: Context): void {
    const parts = nameParts(name);
    if (ctx.executing && parts.length > 0) this.operators.add(parts.join('.'));
  }

  private operatorExpression(f: Fields, ctx: Context): void {
    const kind = f['kind'];
    if (kind === 'AEXPR_BETWEEN' || kind === 'AEXPR_NOT_BETWEEN' || kind === 'AEXPR_BETWEEN_SYM' || kind === 'AEXPR_NOT_BETWEEN_SYM') {
      // the name is the keyword; the server compares with the type's >= and <=
      if (ctx.executing) for (const op of ['>=', '<=']) this.operators.add(op);
      return;
    }
    this.operatorName(f['name'], ctx);
  }

  private fieldCall(name: string | undefined, ctx: Context): void {
    if (ctx.executing && name !== undefined && name !== '') this.fieldCalls.add(name);
  }

  /** A relation the statement changes. The target of INSERT/UPDATE/DELETE/MERGE is never a CTE. */
  private writeRelation(rangeVar: unknown, ctx: Context): void {
    if (!isRecord(rangeVar)) return;
    const name = relationName(rangeVar);
    if (name !== undefined) this.writeName(name, ctx);
  }

  private writeName(name: string, ctx: Context): void {
    if (name === '') return;
    this.tables.add(name);
    if (ctx.executing) this.writesTables.add(name);
  }

  /** The relation a DROP / COMMENT object names, when it names one. */
  private writeObject(objectType: unknown, object: unknown, ctx: Context): void {
    if (typeof objectType !== 'string') return;
    const parts = nameParts(object);
    if (RELATION_OBJECTS.has(objectType)) this.writeName(parts.join('.'), ctx);
    else if (RELATION_MEMBER_OBJECTS.has(objectType)) this.writeName(parts.slice(0, -1).join('.'), ctx);
  }

  /** Walks a WITH list and returns the context of the statement it belongs to. */
  private withCtes(fields: Fields, ctx: Context): Context {
    const withClause = fields['withClause'];
    if (!isRecord(withClause)) return ctx;
    const ctes = list(withClause['ctes']).map((c) => asNode(c));
    const names = ctes.map((c) => (c?.[0] === 'CommonTableExpr' ? stringField(c[1], 'ctename') : undefined)).filter((n): n is string => n !== undefined);
    const recursive = withClause['recursive'] === true;
    ctes.forEach((cte, index) => {
      if (cte === undefined) return;
      // a CTE sees the ones before it, or all of them (itself too) under WITH RECURSIVE
      const visible = new Set(recursive ? names : names.slice(0, index));
      this.walk(cte[1]['ctequery'], { ...ctx, cteScopes: [...ctx.cteScopes, visible], inCte: true });
      this.walkFields(cte[1], ctx, ['ctequery']);
    });
    return { ...ctx, cteScopes: [...ctx.cteScopes, new Set(names)] };
  }

  // ---- statements ----

  statement(type: string, f: Fields, ctx: Context): void {
    const command = commandOf(type, f);
    switch (type) {
      case 'SelectStmt':
        return this.select(f, ctx);
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        return this.modify(type, command, f, ctx);
      case 'ExplainStmt':
        return this.explain(f, ctx);
      case 'CopyStmt':
        return this.copy(f, ctx);
      case 'TransactionStmt': {
        const kind = f['kind'];
        if (kind === 'TRANS_STMT_PREPARE' || kind === 'TRANS_STMT_COMMIT_PREPARED' || kind === 'TRANS_STMT_ROLLBACK_PREPARED') {
          this.add(ctx, 'write', `${command} persists or ends a two-phase transaction, possibly another session's`);
        } else {
          this.add(ctx, 'read', `${command} is transaction control`);
        }
        return;
      }
      case 'VariableSetStmt':
        return this.setting(command, f, ctx);
      case 'DiscardStmt':
        if (f['target'] === 'DISCARD_ALL') {
          this.add(ctx, 'privileged', 'DISCARD ALL also resets the session authorization and role');
          // it also deallocates every prepared statement and closes every portal
          this.deallocates = '*';
          this.closesPortal = '*';
        } else this.add(ctx, 'read', `${command} only drops session caches`);
        return;
      case 'DeallocateStmt':
        this.deallocates = f['isall'] === true ? '*' : stringField(f, 'name');
        this.add(ctx, 'read', 'DEALLOCATE only forgets a prepared statement');
        return;
      case 'PrepareStmt':
        return this.prepare(f, ctx);
      case 'ExecuteStmt': {
        const name = stringField(f, 'name') ?? '';
        if (ctx.executing) this.executes ??= name;
        this.add(ctx, 'unknown', `EXECUTE runs prepared statement ${name}, which the caller resolves`, true);
        this.walk(f['params'], ctx);
        return;
      }
      case 'DeclareCursorStmt':
        this.add(ctx, 'read', 'DECLARE CURSOR runs its query as it is fetched');
        // CURSOR_OPT_HOLD (0x20): the cursor outlives its transaction
        this.declares = { name: stringField(f, 'portalname') ?? '', holdable: (((f['options'] as number | undefined) ?? 0) & 0x20) !== 0 };
        this.walk(f['query'], ctx);
        return;
      case 'FetchStmt': {
        const name = stringField(f, 'portalname') ?? '';
        this.fetches = name;
        // what the portal runs decides the class; the caller replaces this part once it knows the portal
        this.add(ctx, 'unknown', `${f['ismove'] === true ? 'MOVE' : 'FETCH'} runs cursor or portal ${name}, which the caller resolves`);
        return;
      }
      case 'ClosePortalStmt':
        this.closesPortal = stringField(f, 'portalname') ?? '*';
        this.add(ctx, 'read', 'only closes a cursor');
        return;
      case 'DoStmt':
        return this.doBlock(f, ctx);
      case 'CallStmt':
        if (ctx.executing) this.runsUserCode = true;
        this.add(ctx, 'unknown', 'CALL runs a procedure the classifier cannot see into');
        this.walkFields(f, ctx);
        return;
      case 'CreateFunctionStmt':
      case 'AlterFunctionStmt':
        return this.routine(type, command, f, ctx);
      case 'CreateStmt':
      case 'IndexStmt':
        this.add(ctx, 'ddl', `${command} changes the schema`);
        this.writeRelation(f['relation'], ctx);
        this.walkFields(f, ctx, ['relation']);
        return;
      case 'CreateForeignTableStmt':
        this.add(ctx, 'ddl', `${command} changes the schema`);
        if (isRecord(f['base'])) this.writeRelation(f['base']['relation'], ctx);
        this.walkFields(f, ctx);
        return;
      case 'CreateSeqStmt':
      case 'AlterSeqStmt':
        this.add(ctx, 'ddl', `${command} changes the schema`);
        this.writeRelation(f['sequence'], ctx);
        this.walkFields(f, ctx, ['sequence']);
        return;
      case 'AlterTableStmt': {
        const changesOwner = list(f['cmds']).some((c) => asNode(c)?.[1]['subtype'] === 'AT_ChangeOwner');
        if (changesOwner) this.add(ctx, 'privileged', `${command} ... OWNER TO changes who owns it`);
        else this.add(ctx, 'ddl', `${command} changes the schema`);
        this.writeRelation(f['relation'], ctx);
        this.walkFields(f, ctx, ['relation']);
        return;
      }
      case 'CreateTableAsStmt': {
        const into = isRecord(f['into']) ? f['into'] : {};
        this.add(ctx, 'ddl', `${command} creates ${f['objtype'] === 'OBJECT_MATVIEW' ? 'a materialized view' : 'a table'}`);
        this.writeRelation(into['rel'], ctx);
        // WITH NO DATA defines the relation without running the query
        this.walk(f['query'], { ...ctx, executing: ctx.executing && into['skipData'] !== true });
        return;
      }
      case 'ViewStmt':
        this.add(ctx, 'ddl', `${command} changes the schema`);
        this.writeRelation(f['view'], ctx);
        this.walkFields(f, { ...ctx, executing: false }, ['view']);
        return;
      case 'CreateTrigStmt':
      case 'RuleStmt':
        this.add(ctx, 'ddl', `${command} changes the schema`);
        this.writeRelation(f['relation'], ctx);
        this.walkFields(f, { ...ctx, executing: false }, ['relation']);
        return;
      case 'CreatePolicyStmt':
      case 'AlterPolicyStmt':
        this.add(ctx, 'ddl', `${command} changes the schema`);
        this.writeRelation(f['table'], ctx);
        this.walkFields(f, { ...ctx, executing: false }, ['table']);
        return;
      case 'CreateSchemaStmt':
        if (f['authrole'] !== undefined) this.add(ctx, 'privileged', 'CREATE SCHEMA AUTHORIZATION creates objects owned by another role');
        else this.add(ctx, 'ddl', `${command} changes the schema`);
        this.walkFields(f, ctx);
        return;
      case 'DropStmt': {
        const objectType = f['removeType'];
        this.objectChange(command, objectType, ctx);
        for (const object of list(f['objects'])) this.writeObject(objectType, object, ctx);
        this.walkFields(f, ctx, ['objects']);
        return;
      }
      case 'CommentStmt':
        this.objectChange(command, f['objtype'], ctx);
        this.writeObject(f['objtype'], f['object'], ctx);
        return;
      case 'RenameStmt':
      case 'AlterObjectSchemaStmt': {
        const objectType = type === 'RenameStmt' ? f['renameType'] : f['objectType'];
        this.objectChange(command, objectType, ctx);
        this.writeRelation(f['relation'], ctx);
        this.walkFields(f, ctx, ['relation']);
        return;
      }
      case 'AlterOwnerStmt':
        this.add(ctx, 'privileged', `${command} ... OWNER TO changes who owns it`);
        this.writeRelation(f['relation'], ctx);
        return;
      case 'TruncateStmt':
        this.add(ctx, 'write', 'TRUNCATE removes every row');
        if (ctx.executing) this.noWhere = true;
        for (const relation of list(f['relations'])) this.writeRelation(asNode(relation)?.[1], ctx);
        return;
      case 'LockStmt':
        this.add(ctx, 'write', 'LOCK TABLE blocks other sessions until the transaction ends');
        for (const relation of list(f['relations'])) this.writeRelation(asNode(relation)?.[1], ctx);
        return;
      case 'VacuumStmt':
        this.add(ctx, 'write', `${command} rewrites tables or their statistics`);
        for (const item of list(f['rels'])) {
          const rel = asNode(item);
          if (rel?.[0] === 'VacuumRelation') this.writeRelation(rel[1]['relation'], ctx);
        }
        return;
      case 'ClusterStmt':
      case 'ReindexStmt':
      case 'RefreshMatViewStmt':
        this.add(ctx, 'write', `${command} rewrites stored data`);
        this.writeRelation(f['relation'], ctx);
        return;
    }
    const fixed = FIXED_CLASSES[type];
    if (fixed !== undefined) {
      this.add(ctx, fixed[0], `${command} ${fixed[1]}`);
      this.walkFields(f, ctx);
      return;
    }
    this.add(ctx, 'unknown', `unrecognised statement ${type}`);
    this.walkFields(f, ctx);
  }

  private objectChange(command: string, objectType: unknown, ctx: Context): void {
    if (typeof objectType === 'string' && PRIVILEGED_OBJECTS.has(objectType)) this.add(ctx, 'privileged', `${command} administers ${objectName(objectType).toLowerCase()}s`);
    else this.add(ctx, 'ddl', `${command} changes the schema`);
  }

  private select(f: Fields, ctx: Context): void {
    const inner = this.withCtes(f, ctx);
    if (f['intoClause'] !== undefined) {
      this.add(ctx, 'ddl', 'SELECT INTO creates a table');
      this.node('IntoClause', isRecord(f['intoClause']) ? f['intoClause'] : {}, ctx);
    }
    const locking = list(f['lockingClause']).map((c) => asNode(c)?.[1]).filter((c): c is Fields => c !== undefined);
    const firstLock = locking[0];
    if (firstLock !== undefined) {
      this.add(ctx, 'write', `SELECT ... ${LOCK_STRENGTHS[String(firstLock['strength'])] ?? 'FOR UPDATE'} locks rows`);
      const named = new Set(locking.flatMap((c) => list(c['lockedRels']).map((r) => stringField(asNode(r)?.[1], 'relname')).filter((n): n is string => n !== undefined)));
      this.lockFromItems(list(f['fromClause']), named, inner);
    }
    this.add(ctx, 'read', f['valuesLists'] !== undefined ? 'VALUES only computes rows' : 'SELECT only reads');
    this.walkFields(f, inner, ['withClause', 'intoClause', 'lockingClause']);
  }

  /** FOR UPDATE locks the relations of its FROM list (those named after OF, when some are). */
  private lockFromItems(items: unknown[], named: ReadonlySet<string>, ctx: Context): void {
    for (const item of items) {
      const node = asNode(item);
      if (node?.[0] === 'JoinExpr') this.lockFromItems([node[1]['larg'], node[1]['rarg']], named, ctx);
      if (node?.[0] !== 'RangeVar') continue;
      const fields = node[1];
      const name = relationName(fields);
      const alias = isRecord(fields['alias']) ? stringField(fields['alias'], 'aliasname') : undefined;
      const relname = stringField(fields, 'relname');
      const qualified = stringField(fields, 'schemaname') !== undefined;
      if (name === undefined || relname === undefined) continue;
      if (!qualified && ctx.cteScopes.some((scope) => scope.has(relname))) continue;
      if (named.size > 0 && !named.has(alias ?? relname)) continue;
      if (ctx.executing) this.writesTables.add(name);
    }
  }

  private modify(type: string, command: string, f: Fields, ctx: Context): void {
    const inner = this.withCtes(f, ctx);
    this.writeRelation(f['relation'], ctx);
    this.add(ctx, 'write', ctx.inCte ? `data-modifying CTE (${command})` : `${command} modifies data`);
    if ((type === 'UpdateStmt' || type === 'DeleteStmt') && f['whereClause'] === undefined && ctx.executing) {
      this.noWhere = true;
      this.add(ctx, 'write', `${command} without WHERE changes every row`);
    }
    this.walkFields(f, inner, ['withClause', 'relation']);
  }

  private explain(f: Fields, ctx: Context): void {
    const query = asNode(f['query']);
    const analyze = options(f['options']).get('analyze');
    // an ANALYZE option whose value this cannot read counts as ANALYZE
    const runs = analyze !== undefined && optionBoolean(analyze) !== false;
    if (query === undefined) {
      this.add(ctx, 'unknown', 'EXPLAIN of nothing this classifier recognises');
      return;
    }
    if (!runs) {
      this.add(ctx, 'read', 'EXPLAIN without ANALYZE only plans the statement');
      this.node(query[0], query[1], { ...ctx, executing: false });
      return;
    }
    const child = new StatementAnalysis();
    child.node(query[0], query[1], ctx);
    const innerCommand = commandOf(query[0], query[1]);
    // an EXECUTE inside keeps its own marked part, which the caller resolves
    this.add(ctx, child.classBesidesExecute(), `EXPLAIN ANALYZE executes ${article(innerCommand)} ${innerCommand}`);
    this.absorb(child);
  }

  private copy(f: Fields, ctx: Context): void {
    const from = f['is_from'] === true;
    const direction = from ? 'FROM' : 'TO';
    if (f['is_program'] === true) this.add(ctx, 'privileged', `COPY ... ${direction} PROGRAM runs a command on the database server`);
    else if (typeof f['filename'] === 'string') this.add(ctx, 'privileged', `COPY ... ${direction} a file on the database server`);
    if (from) {
      this.add(ctx, 'write', 'COPY FROM loads rows into a table');
      this.writeRelation(f['relation'], ctx);
      this.walkFields(f, ctx, ['relation']);
    } else {
      this.add(ctx, 'read', 'COPY TO only reads');
      this.walkFields(f, ctx);
    }
  }

  private setting(command: string, f: Fields, ctx: Context): void {
    const name = stringField(f, 'name')?.toLowerCase();
    if (f['kind'] === 'VAR_RESET_ALL') {
      // RESET ALL leaves role and session_authorization alone (GUC_NO_RESET_ALL)
      this.add(ctx, 'read', 'RESET ALL only resets session settings');
      return;
    }
    if (name === undefined) {
      this.add(ctx, 'unknown', `${command} of a setting this classifier cannot name`);
      return;
    }
    if (name === 'role' || name === 'session_authorization') {
      this.add(ctx, 'privileged', `${command} ${name === 'role' ? 'ROLE' : 'SESSION AUTHORIZATION'} changes who the session acts as`);
    } else if (changesParsing(name)) {
      const value = f['kind'] === 'VAR_SET_VALUE' ? literalText(list(f['args'])[0]) : undefined;
      if (isHarmlessParsingValue(name, value)) this.add(ctx, 'read', `${command} ${name} keeps the default reading of statements`);
      else this.add(ctx, 'privileged', `${command} ${name} would make the server read later statements differently from this classifier`);
    } else if (isPrivilegedSetting(name)) {
      this.add(ctx, 'privileged', `${command} ${name} is a superuser setting`);
    } else {
      this.add(ctx, 'read', `${command} ${name} only changes a session setting`);
    }
    this.walk(f['args'], ctx);
  }

  private prepare(f: Fields, ctx: Context): void {
    const query = asNode(f['query']);
    const name = stringField(f, 'name') ?? '';
    if (query === undefined) {
      this.add(ctx, 'unknown', `PREPARE ${name} of nothing this classifier recognises`);
      return;
    }
    const text = preparedStatementText(ctx.statementText);
    const child = new StatementAnalysis();
    child.statement(query[0], query[1], { ...ctx, statementText: text, cteScopes: [], inCte: false });
    this.prepares = { name, statement: child.info(text, commandOf(query[0], query[1])) };
    // the statement's own class: it is what a later EXECUTE runs
    this.absorb(child);
  }

  private routine(type: string, command: string, f: Fields, ctx: Context): void {
    const opts = options(type === 'CreateFunctionStmt' ? f['options'] : f['actions']);
    this.add(ctx, 'ddl', `${command} defines a routine`);
    const language = optionString(opts.get('language'))?.toLowerCase() ?? (f['sql_body'] !== undefined ? 'sql' : undefined);
    const security = opts.get('security');
    if (security !== undefined && optionBoolean(security) !== false) this.add(ctx, 'privileged', "SECURITY DEFINER runs the routine with its owner's privileges");
    const leakproof = opts.get('leakproof');
    if (leakproof !== undefined && optionBoolean(leakproof) !== false) this.add(ctx, 'privileged', 'LEAKPROOF is reserved to superusers');
    if (language !== undefined && isUntrustedLanguage(language)) this.add(ctx, 'privileged', `LANGUAGE ${language} runs code as the database server's operating-system user`);
    const definition: Context = { ...ctx, executing: false };
    this.walkFields(f, definition);
    if (type !== 'CreateFunctionStmt') return;
    // a body given as text: only privileged calls in it count, as for any definition
    const body = nameParts(opts.get('as')?.['arg'])[0];
    if (language === 'sql' && body !== undefined) this.nestedSql(body, definition, 'routine body: ');
    else if (language === 'plpgsql') this.plpgsql(ctx.statementText, definition, 'routine body');
  }

  unknown(reason: string): void {
    this.parts.push({ class: 'unknown', reason });
  }

  /** The body of a CREATE FUNCTION as it runs when the routine is called. */
  routineBody(f: Fields, ctx: Context): void {
    const opts = options(f['options']);
    const language = optionString(opts.get('language'))?.toLowerCase() ?? (f['sql_body'] !== undefined ? 'sql' : undefined);
    const body = nameParts(opts.get('as')?.['arg'])[0];
    if (f['sql_body'] !== undefined) {
      this.walk(f['sql_body'], ctx);
      // BEGIN ATOMIC with no statements runs nothing
      if (this.parts.length === 0) this.add(ctx, 'read', 'an empty routine body');
    } else if (language === 'sql' && body !== undefined) {
      this.nestedSql(body, ctx);
      if (this.parts.length === 0) this.add(ctx, 'read', 'an empty routine body');
    } else if (language === 'plpgsql') {
      this.plpgsql(ctx.statementText, ctx, 'routine body');
      if (this.parts.length === 0) this.add(ctx, 'read', 'a routine body that runs no SQL');
    } else {
      this.add(ctx, 'unknown', `a routine body in ${language ?? 'an unnamed language'}, which this classifier cannot read`);
    }
  }

  private doBlock(f: Fields, ctx: Context): void {
    const opts = options(f['args']);
    const language = optionString(opts.get('language'))?.toLowerCase() ?? 'plpgsql';
    if (ctx.executing) this.runsUserCode = true;
    this.add(ctx, 'read', 'DO block');
    if (language === 'plpgsql') this.plpgsql(ctx.statementText, ctx, 'DO block');
    else if (isUntrustedLanguage(language)) this.add(ctx, 'privileged', `DO block in ${language} runs code as the database server's operating-system user`);
    else this.add(ctx, 'unknown', `DO block in language ${language}, which this classifier cannot read`);
  }

  // ---- SQL inside SQL ----

  private plpgsql(statementText: string, ctx: Context, label: string): void {
    if (ctx.nesting >= MAX_NESTING) {
      this.add(ctx, 'unknown', `${label} nested too deeply to classify`);
      return;
    }
    let body;
    try {
      body = plpgsqlBody(statementText);
    } catch (error) {
      this.add(ctx, 'unknown', `${label} the PL/pgSQL compiler rejected: ${errorMessage(error)}`);
      return;
    }
    const inner: Context = { ...ctx, cteScopes: [], inCte: false, nesting: ctx.nesting + 1 };
    const child = new StatementAnalysis();
    for (const construct of body.unrecognized) child.add(inner, 'unknown', `unrecognised PL/pgSQL (${construct})`);
    for (const piece of body.pieces) child.plpgsqlPiece(piece, inner);
    this.absorb(child, `${label}: `);
  }

  private plpgsqlPiece(piece: PlpgsqlPiece, ctx: Context): void {
    switch (piece.kind) {
      case 'statement':
        this.nestedSql(piece.query, ctx);
        return;
      case 'expression':
        this.expression(piece.query, ctx);
        return;
      case 'assignment': {
        const sides = splitAssignment(piece.query);
        if (sides === undefined) {
          this.add(ctx, 'unknown', 'a PL/pgSQL assignment this classifier cannot split');
          return;
        }
        this.expression(sides.target, ctx);
        this.expression(sides.value, ctx);
        return;
      }
      case 'dynamic':
        this.dynamicSql(piece.query, ctx);
        return;
    }
  }

  /** The server evaluates a PL/pgSQL expression as `SELECT <expression>`. */
  private expression(text: string, ctx: Context): void {
    const select = this.parseExpression(text, ctx);
    if (select !== undefined) this.statement('SelectStmt', select, { ...ctx, statementText: `SELECT ${text}` });
  }

  private parseExpression(text: string, ctx: Context): Fields | undefined {
    let statements: ParsedStatement[];
    try {
      statements = parseStatements(`SELECT ${text}`);
    } catch (error) {
      this.add(ctx, 'unknown', `an expression the parser rejected: ${errorMessage(error)}`);
      return undefined;
    }
    const only = statements[0];
    if (statements.length !== 1 || only === undefined || only.nodeType !== 'SelectStmt') {
      this.add(ctx, 'unknown', 'an expression that is not a single expression');
      return undefined;
    }
    return only.fields;
  }

  /** EXECUTE <expression>: a constant string is classified; a computed one cannot be. */
  private dynamicSql(text: string, ctx: Context): void {
    const select = this.parseExpression(text, ctx);
    if (select === undefined) return;
    this.statement('SelectStmt', select, { ...ctx, statementText: `SELECT ${text}` });
    const targets = list(select['targetList']);
    const target = asNode(targets[0]);
    const constant = targets.length === 1 && target?.[0] === 'ResTarget' && select['fromClause'] === undefined ? literalText(target[1]['val']) : undefined;
    if (constant !== undefined) this.nestedSql(constant, ctx, 'EXECUTE of a constant string: ');
    else this.add(ctx, 'unknown', 'dynamic SQL: EXECUTE of a computed string');
  }

  /** SQL given as text inside SQL, classified into this statement. */
  private nestedSql(sql: string, ctx: Context, reasonPrefix = ''): void {
    if (ctx.nesting >= MAX_NESTING) {
      this.add(ctx, 'unknown', `${reasonPrefix}SQL nested too deeply to classify`);
      return;
    }
    let statements: ParsedStatement[];
    try {
      statements = parseStatements(sql);
    } catch (error) {
      this.add(ctx, 'unknown', `${reasonPrefix}SQL the parser rejected: ${errorMessage(error)}`);
      return;
    }
    const child = new StatementAnalysis();
    for (const s of statements) {
      child.statement(s.nodeType, s.fields, { ...ctx, statementText: s.text, cteScopes: [], inCte: false, nesting: ctx.nesting + 1 });
    }
    this.absorb(child, reasonPrefix);
  }

  private funcCall(f: Fields, ctx: Context): void {
    const written = nameParts(f['funcname']);
    if (ctx.executing && written.length > 0) this.calls.add(written.join('.'));
    const name = written.at(-1)?.toLowerCase();
    const kind = name === undefined ? undefined : functionKind(name);
    const args = list(f['args']);
    if (name !== undefined && kind !== undefined) {
      switch (kind) {
        case 'privileged':
          this.functions.add(name);
          this.add(ctx, 'privileged', `calls ${name}`);
          break;
        case 'write':
          this.functions.add(name);
          this.add(ctx, 'write', `calls ${name}`);
          break;
        case 'set_config':
          this.functions.add(name);
          this.setConfig(args, ctx);
          break;
        case 'runs-sql': {
          const index = sqlTextArgument(name, args.length);
          if (index === undefined) break;
          this.functions.add(name);
          const sql = literalText(args[index]);
          if (sql !== undefined) this.nestedSql(sql, ctx, `${name} runs: `);
          else this.add(ctx, 'unknown', `${name} runs SQL text computed at run time`);
          break;
        }
      }
    }
    this.walkFields(f, ctx, ['funcname']);
  }

  private setConfig(args: unknown[], ctx: Context): void {
    const setting = literalText(args[0])?.toLowerCase();
    if (setting === undefined) {
      this.add(ctx, 'unknown', 'set_config of a setting named at run time');
    } else if (changesParsing(setting)) {
      if (isHarmlessParsingValue(setting, literalText(args[1]))) this.add(ctx, 'write', `set_config changes ${setting}`);
      else this.add(ctx, 'privileged', `set_config of ${setting} would make the server read later statements differently from this classifier`);
    } else if (isPrivilegedSetting(setting)) {
      this.add(ctx, 'privileged', `set_config changes ${setting}`);
    } else {
      this.add(ctx, 'write', `set_config changes ${setting}`);
    }
  }
}
