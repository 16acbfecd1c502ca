/**
 * Command names as a person reads them ('CREATE TABLE', 'DROP INDEX', 'SELECT INTO'), from the
 * parse tree's node type and, where one node type covers several commands, its fields.
 */

type Fields = Record<string, unknown>;

const OBJECT_NAMES: Record<string, string> = {
  OBJECT_ACCESS_METHOD: 'ACCESS METHOD',
  OBJECT_MATVIEW: 'MATERIALIZED VIEW',
  OBJECT_FDW: 'FOREIGN DATA WRAPPER',
  OBJECT_FOREIGN_SERVER: 'SERVER',
  OBJECT_TSCONFIGURATION: 'TEXT SEARCH CONFIGURATION',
  OBJECT_TSDICTIONARY: 'TEXT SEARCH DICTIONARY',
  OBJECT_TSPARSER: 'TEXT SEARCH PARSER',
  OBJECT_TSTEMPLATE: 'TEXT SEARCH TEMPLATE',
  OBJECT_STATISTIC_EXT: 'STATISTICS',
  OBJECT_LARGEOBJECT: 'LARGE OBJECT',
  OBJECT_OPCLASS: 'OPERATOR CLASS',
  OBJECT_OPFAMILY: 'OPERATOR FAMILY',
  OBJECT_TABCONSTRAINT: 'CONSTRAINT',
  OBJECT_DOMCONSTRAINT: 'CONSTRAINT',
  OBJECT_DEFACL: 'DEFAULT PRIVILEGES',
  OBJECT_PUBLICATION_NAMESPACE: 'PUBLICATION',
  OBJECT_PUBLICATION_REL: 'PUBLICATION',
  OBJECT_PARAMETER_ACL: 'PARAMETER',
  OBJECT_AMOP: 'OPERATOR FAMILY',
  OBJECT_AMPROC: 'OPERATOR FAMILY',
};

/** 'OBJECT_FOREIGN_TABLE' → 'FOREIGN TABLE' */
export function objectName(objectType: unknown): string {
  if (typeof objectType !== 'string') return 'OBJECT';
  return OBJECT_NAMES[objectType] ?? objectType.replace(/^OBJECT_/, '').replace(/_/g, ' ');
}

const FIXED_COMMANDS: Record<string, string> = {
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
  ReturnStmt: 'RETURN',
  PLAssignStmt: 'ASSIGN',
  CreateSchemaStmt: 'CREATE SCHEMA',
  ReplicaIdentityStmt: 'ALTER TABLE',
  AlterCollationStmt: 'ALTER COLLATION',
  AlterDomainStmt: 'ALTER DOMAIN',
  AlterDefaultPrivilegesStmt: 'ALTER DEFAULT PRIVILEGES',
  CopyStmt: 'COPY',
  VariableShowStmt: 'SHOW',
  CreateStmt: 'CREATE TABLE',
  CreateForeignTableStmt: 'CREATE FOREIGN TABLE',
  CreateTableSpaceStmt: 'CREATE TABLESPACE',
  DropTableSpaceStmt: 'DROP TABLESPACE',
  AlterTableSpaceOptionsStmt: 'ALTER TABLESPACE',
  AlterTableMoveAllStmt: 'ALTER TABLE ALL IN TABLESPACE',
  CreateExtensionStmt: 'CREATE EXTENSION',
  AlterExtensionStmt: 'ALTER EXTENSION',
  AlterExtensionContentsStmt: 'ALTER EXTENSION',
  CreateFdwStmt: 'CREATE FOREIGN DATA WRAPPER',
  AlterFdwStmt: 'ALTER FOREIGN DATA WRAPPER',
  CreateForeignServerStmt: 'CREATE SERVER',
  AlterForeignServerStmt: 'ALTER SERVER',
  CreateUserMappingStmt: 'CREATE USER MAPPING',
  AlterUserMappingStmt: 'ALTER USER MAPPING',
  DropUserMappingStmt: 'DROP USER MAPPING',
  ImportForeignSchemaStmt: 'IMPORT FOREIGN SCHEMA',
  CreatePolicyStmt: 'CREATE POLICY',
  AlterPolicyStmt: 'ALTER POLICY',
  CreateAmStmt: 'CREATE ACCESS METHOD',
  CreateTrigStmt: 'CREATE TRIGGER',
  CreateEventTrigStmt: 'CREATE EVENT TRIGGER',
  AlterEventTrigStmt: 'ALTER EVENT TRIGGER',
  CreatePLangStmt: 'CREATE LANGUAGE',
  AlterRoleStmt: 'ALTER ROLE',
  AlterRoleSetStmt: 'ALTER ROLE',
  DropRoleStmt: 'DROP ROLE',
  CreateSeqStmt: 'CREATE SEQUENCE',
  AlterSeqStmt: 'ALTER SEQUENCE',
  CreateDomainStmt: 'CREATE DOMAIN',
  CreateOpClassStmt: 'CREATE OPERATOR CLASS',
  CreateOpFamilyStmt: 'CREATE OPERATOR FAMILY',
  AlterOpFamilyStmt: 'ALTER OPERATOR FAMILY',
  TruncateStmt: 'TRUNCATE',
  CommentStmt: 'COMMENT',
  SecLabelStmt: 'SECURITY LABEL',
  DeclareCursorStmt: 'DECLARE CURSOR',
  ClosePortalStmt: 'CLOSE',
  IndexStmt: 'CREATE INDEX',
  CreateStatsStmt: 'CREATE STATISTICS',
  AlterStatsStmt: 'ALTER STATISTICS',
  DoStmt: 'DO',
  CallStmt: 'CALL',
  AlterOperatorStmt: 'ALTER OPERATOR',
  AlterTypeStmt: 'ALTER TYPE',
  RuleStmt: 'CREATE RULE',
  NotifyStmt: 'NOTIFY',
  ListenStmt: 'LISTEN',
  UnlistenStmt: 'UNLISTEN',
  CompositeTypeStmt: 'CREATE TYPE',
  CreateEnumStmt: 'CREATE TYPE',
  CreateRangeStmt: 'CREATE TYPE',
  AlterEnumStmt: 'ALTER TYPE',
  ViewStmt: 'CREATE VIEW',
  LoadStmt: 'LOAD',
  CreatedbStmt: 'CREATE DATABASE',
  AlterDatabaseStmt: 'ALTER DATABASE',
  AlterDatabaseRefreshCollStmt: 'ALTER DATABASE',
  AlterDatabaseSetStmt: 'ALTER DATABASE',
  DropdbStmt: 'DROP DATABASE',
  AlterSystemStmt: 'ALTER SYSTEM',
  ClusterStmt: 'CLUSTER',
  ExplainStmt: 'EXPLAIN',
  RefreshMatViewStmt: 'REFRESH MATERIALIZED VIEW',
  CheckPointStmt: 'CHECKPOINT',
  DiscardStmt: 'DISCARD',
  LockStmt: 'LOCK TABLE',
  ConstraintsSetStmt: 'SET CONSTRAINTS',
  ReindexStmt: 'REINDEX',
  CreateConversionStmt: 'CREATE CONVERSION',
  CreateCastStmt: 'CREATE CAST',
  CreateTransformStmt: 'CREATE TRANSFORM',
  PrepareStmt: 'PREPARE',
  ExecuteStmt: 'EXECUTE',
  DeallocateStmt: 'DEALLOCATE',
  DropOwnedStmt: 'DROP OWNED',
  ReassignOwnedStmt: 'REASSIGN OWNED',
  AlterTSDictionaryStmt: 'ALTER TEXT SEARCH DICTIONARY',
  AlterTSConfigurationStmt: 'ALTER TEXT SEARCH CONFIGURATION',
  CreatePublicationStmt: 'CREATE PUBLICATION',
  AlterPublicationStmt: 'ALTER PUBLICATION',
  CreateSubscriptionStmt: 'CREATE SUBSCRIPTION',
  AlterSubscriptionStmt: 'ALTER SUBSCRIPTION',
  DropSubscriptionStmt: 'DROP SUBSCRIPTION',
};

const TRANSACTION_COMMANDS: Record<string, string> = {
  TRANS_STMT_BEGIN: 'BEGIN',
  TRANS_STMT_START: 'START TRANSACTION',
  TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_SAVEPOINT: 'SAVEPOINT',
  TRANS_STMT_RELEASE: 'RELEASE',
  TRANS_STMT_ROLLBACK_TO: 'ROLLBACK TO SAVEPOINT',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
  TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED',
  TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};

/** Renames of a part of a relation name the relation's kind, not the part's. */
const RELATION_PARTS = new Set(['OBJECT_COLUMN', 'OBJECT_TABCONSTRAINT', 'OBJECT_ATTRIBUTE']);

export function commandOf(nodeType: string, fields: Fields): string {
  switch (nodeType) {
    case 'SelectStmt':
      if (fields['intoClause'] !== undefined) return 'SELECT INTO';
      return fields['valuesLists'] !== undefined ? 'VALUES' : 'SELECT';
    case 'CreateTableAsStmt':
      if (fields['objtype'] === 'OBJECT_MATVIEW') return 'CREATE MATERIALIZED VIEW';
      return fields['is_select_into'] === true ? 'SELECT INTO' : 'CREATE TABLE AS';
    case 'AlterTableStmt':
      return `ALTER ${objectName(fields['objtype'] ?? 'OBJECT_TABLE')}`;
    case 'DropStmt':
      return `DROP ${objectName(fields['removeType'])}`;
    case 'RenameStmt': {
      const renamed = fields['renameType'];
      return `ALTER ${objectName(typeof renamed === 'string' && RELATION_PARTS.has(renamed) ? fields['relationType'] : renamed)}`;
    }
    case 'AlterOwnerStmt':
    case 'AlterObjectSchemaStmt':
    case 'AlterObjectDependsStmt':
      return `ALTER ${objectName(fields['objectType'])}`;
    case 'AlterFunctionStmt':
      return `ALTER ${objectName(fields['objtype'] ?? 'OBJECT_FUNCTION')}`;
    case 'DefineStmt':
      return `CREATE ${objectName(fields['kind'])}`;
    case 'CreateFunctionStmt':
      return fields['is_procedure'] === true ? 'CREATE PROCEDURE' : 'CREATE FUNCTION';
    case 'TransactionStmt':
      return TRANSACTION_COMMANDS[String(fields['kind'])] ?? 'TRANSACTION';
    case 'VariableSetStmt':
      return fields['kind'] === 'VAR_RESET' || fields['kind'] === 'VAR_RESET_ALL' ? 'RESET' : 'SET';
    case 'VacuumStmt':
      return fields['is_vacuumcmd'] === true ? 'VACUUM' : 'ANALYZE';
    case 'FetchStmt':
      return fields['ismove'] === true ? 'MOVE' : 'FETCH';
    case 'GrantStmt':
    case 'GrantRoleStmt':
      return fields['is_grant'] === true ? 'GRANT' : 'REVOKE';
    case 'CreateRoleStmt':
      return fields['stmt_type'] === 'ROLESTMT_USER' ? 'CREATE USER' : fields['stmt_type'] === 'ROLESTMT_GROUP' ? 'CREATE GROUP' : 'CREATE ROLE';
    default:
      return FIXED_COMMANDS[nodeType] ?? nodeType.replace(/Stmt$/, '').toUpperCase();
  }
}
