/**
 * Names the classifier knows by heart: functions that reach outside the database or change server
 * state, functions with side effects, functions that run SQL given as text, and settings whose
 * change is a privilege matter. Names are compared lower case with the schema stripped, so a user
 * function that shadows one of these names is treated like it (fail closed).
 */

/** Files, processes, other sessions, replication, remote servers, server configuration. */
const PRIVILEGED_FUNCTIONS = new Set([
  'pg_terminate_backend',
  'pg_cancel_backend',
  'pg_read_file',
  'pg_read_binary_file',
  'pg_stat_file',
  'lo_import',
  'lo_export',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_promote',
  'pg_logdir_ls',
  'pg_create_restore_point',
  'pg_switch_wal',
  'pg_switch_xlog',
  'pg_backup_start',
  'pg_backup_stop',
  'pg_start_backup',
  'pg_stop_backup',
  'pg_wal_replay_pause',
  'pg_wal_replay_resume',
  'pg_xlog_replay_pause',
  'pg_xlog_replay_resume',
  'pg_create_physical_replication_slot',
  'pg_create_logical_replication_slot',
  'pg_drop_replication_slot',
  'pg_copy_physical_replication_slot',
  'pg_copy_logical_replication_slot',
  'pg_replication_slot_advance',
  'pg_logical_slot_get_changes',
  'pg_logical_slot_get_binary_changes',
  'pg_logical_slot_peek_changes',
  'pg_logical_slot_peek_binary_changes',
  'pg_logical_emit_message',
  'pg_sync_replication_slots',
  'pg_log_backend_memory_contexts',
  'pg_import_system_collations',
  'pg_stat_statements_reset',
]);

/** Families: dblink_*, pg_ls_* directory listings, adminpack's pg_file_*, statistics resets, replication origins. */
const PRIVILEGED_FUNCTION_PREFIXES = ['dblink', 'pg_ls_', 'pg_file_', 'pg_stat_reset', 'pg_replication_origin_', 'binary_upgrade_'];

/** Side effects on data or shared state, though not privileged. */
const WRITE_FUNCTIONS = new Set([
  'nextval',
  'setval',
  'pg_notify',
  'lo_create',
  'lo_creat',
  'lo_unlink',
  'lo_put',
  'lo_from_bytea',
  'lowrite',
  'lo_truncate',
  'lo_truncate64',
  // they assign a transaction id, which a read-only transaction would not have
  'txid_current',
  'pg_current_xact_id',
  'brin_summarize_new_values',
  'brin_summarize_range',
  'brin_desummarize_range',
  'gin_clean_pending_list',
  'pg_restore_relation_stats',
  'pg_restore_attribute_stats',
  'pg_clear_relation_stats',
  'pg_clear_attribute_stats',
  'pg_set_relation_stats',
  'pg_set_attribute_stats',
]);

/** Advisory locks block other sessions until released. */
const WRITE_FUNCTION_PREFIXES = ['pg_advisory_', 'pg_try_advisory_'];

/**
 * Functions that parse and run a query given as text, with the index of that argument. The query
 * may be a DELETE ... RETURNING, so a literal is classified and anything computed is unknown.
 */
const SQL_TEXT_ARGUMENT: ReadonlyMap<string, number> = new Map([
  ['query_to_xml', 0],
  ['query_to_xmlschema', 0],
  ['query_to_xml_and_xmlschema', 0],
  ['ts_stat', 0],
]);

export type FunctionKind = 'privileged' | 'write' | 'set_config' | 'runs-sql';

export function functionKind(name: string): FunctionKind | undefined {
  if (PRIVILEGED_FUNCTIONS.has(name) || PRIVILEGED_FUNCTION_PREFIXES.some((p) => name.startsWith(p))) return 'privileged';
  if (name === 'set_config') return 'set_config';
  if (WRITE_FUNCTIONS.has(name) || WRITE_FUNCTION_PREFIXES.some((p) => name.startsWith(p))) return 'write';
  if (SQL_TEXT_ARGUMENT.has(name) || name === 'ts_rewrite') return 'runs-sql';
  return undefined;
}

/** Which argument holds SQL text; ts_rewrite takes it second, and only in its two-argument form. */
export function sqlTextArgument(name: string, argumentCount: number): number | undefined {
  if (name === 'ts_rewrite') return argumentCount === 2 ? 1 : undefined;
  return SQL_TEXT_ARGUMENT.get(name);
}

/**
 * Settings whose change is a privilege matter: who the session is, replication role (skips
 * triggers and foreign keys), superuser-only switches, logging (an audit trail), libraries loaded.
 */
const PRIVILEGED_SETTINGS = new Set([
  'role',
  'session_authorization',
  'session_replication_role',
  'allow_system_table_mods',
  'allow_in_place_tablespaces',
  'zero_damaged_pages',
  'ignore_checksum_failure',
  'ignore_system_indexes',
  'ignore_invalid_pages',
  'lo_compat_privileges',
  'dynamic_library_path',
  'local_preload_libraries',
  'session_preload_libraries',
  'shared_preload_libraries',
]);
const PRIVILEGED_SETTING_PREFIXES = ['log_', 'debug_'];

/**
 * Settings that change how later statements are read: with standard_conforming_strings off the
 * server honours backslash escapes in '...' literals, and another client encoding changes what the
 * bytes mean, so text this parser reads as a literal could run on the server. Only the value that
 * keeps the parser and the server agreeing is harmless.
 */
const PARSING_SETTINGS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ['standard_conforming_strings', new Set(['on', 'true', 'yes', '1'])],
  ['client_encoding', new Set(['utf8', 'utf-8', 'unicode'])],
]);

export function isPrivilegedSetting(name: string): boolean {
  return PRIVILEGED_SETTINGS.has(name) || PARSING_SETTINGS.has(name) || PRIVILEGED_SETTING_PREFIXES.some((p) => name.startsWith(p));
}

/** For a setting that changes parsing: whether `value` keeps the parser and the server agreeing. */
export function isHarmlessParsingValue(name: string, value: string | undefined): boolean {
  const harmless = PARSING_SETTINGS.get(name);
  return harmless !== undefined && value !== undefined && harmless.has(value.toLowerCase());
}

export function changesParsing(name: string): boolean {
  return PARSING_SETTINGS.has(name);
}

/** Untrusted procedural languages and C: code that runs as the server's OS user. */
export function isUntrustedLanguage(language: string): boolean {
  return language === 'c' || language === 'internal' || /^pl\w*u$/.test(language);
}
