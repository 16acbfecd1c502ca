import type { Masker } from '../../masking/index.js';
import type { SqlReferences } from '../../classify/sql/references.js';
import type { ResultColumn } from './results.js';

/**
 * Which column rule applies to each column of a result, from where its values come from rather
 * than what the column is called: `SELECT password AS p` is the password column, a view's column is
 * its base column, a whole-row value carries every column of its row, and a computed value (no
 * source) is masked when the statement reaches a masked column in a way the sources cannot show
 * (`upper(password)`, `(SELECT password ...)`, a star or whole row over a relation with one). Pure:
 * the catalog's facts come in.
 */

/** Where a column's values come from (the catalog's ColumnSource, the part used here). */
export interface SourceFacts {
  column: string;
  /** the base columns behind it (through views), or every column it is computed from */
  origins: readonly { column: string }[];
  /** false when views were followed only so deep */
  complete: boolean;
  /** a view column computed from its origins rather than copied from one */
  computed?: boolean;
}

/** The fields of a composite (row) type. */
export interface CompositeFacts {
  fields: readonly { name: string }[];
}

export interface ColumnPlanFacts {
  /** per column; null when the column has no source (computed) */
  sources: readonly (SourceFacts | null)[];
  /** per column; null when its type is not a row type */
  composites: readonly (CompositeFacts | null)[];
  /** the rule the statement's text reaches in ways sources cannot show, if any */
  touches: string | undefined;
}

export function columnLabels(columns: readonly ResultColumn[], masker: Masker, facts: ColumnPlanFacts): (string | undefined)[] {
  return columns.map((column, i) => {
    const byName = masker.columnRule(column.name);
    if (byName !== undefined) return byName;
    const source = facts.sources[i];
    if (source) {
      const label = masker.columnRule(source.column) ?? firstRule(masker, source.origins.map((o) => o.column));
      if (label !== undefined) return label;
      if ((!source.complete || source.computed) && facts.touches !== undefined) return facts.touches;
    }
    const composite = facts.composites[i];
    if (composite) {
      const label = firstRule(masker, composite.fields.map((f) => f.name));
      if (label !== undefined) return label;
    }
    // no source to judge by: whatever the statement reaches that is masked could be in it
    if (!source && facts.touches !== undefined) return facts.touches;
    return undefined;
  });
}

/** A relation the statement reads: each column with the base columns behind it (itself for a table's, the view's sources for a view's). */
export interface RelationFacts {
  columns: readonly { name: string; bases: readonly string[] }[];
}

/**
 * The rule a statement's text reaches beyond its columns' sources: a column it names that a rule
 * masks (by its own name, or through a view by its base column's), or a whole row or star over a
 * relation that has one. Text the parser rejected reaches anything its relations hold; a statement
 * that reaches a user function reaches anything.
 */
export function touchedRule(refs: SqlReferences, masker: Masker, relations: readonly RelationFacts[], callsUserFunctions = false): string | undefined {
  // a user function can return any column it reads, whatever the statement names
  if (callsUserFunctions) return masker.firstColumnLabel;
  const named = firstRule(masker, refs.columns);
  if (named !== undefined) return named;
  const everything = refs.unreadable || refs.wholeRow || refs.star;
  for (const relation of relations) {
    for (const column of relation.columns) {
      if (!everything && !refs.columns.includes(column.name)) continue;
      const label = masker.columnRule(column.name) ?? firstRule(masker, column.bases);
      if (label !== undefined) return label;
    }
  }
  return undefined;
}

function firstRule(masker: Masker, names: readonly string[]): string | undefined {
  for (const name of names) {
    const label = masker.columnRule(name);
    if (label !== undefined) return label;
  }
  return undefined;
}
