import type { z } from 'zod';

/** Renders a zod path the way a user would write it: `targets[0].listen.port`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(top level)';
}

/**
 * One line naming where the input came from, the path inside it and what was expected.
 * Only the first few issues are listed: the first is usually the one to fix.
 */
export function describeIssues(source: string, error: z.ZodError, max = 3): string {
  const parts = error.issues.slice(0, max).map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  const more = error.issues.length > max ? ` (and ${error.issues.length - max} more)` : '';
  return `${source}: ${parts.join('; ')}${more}`;
}

export class ValidationError extends Error {
  constructor(
    readonly source: string,
    readonly zodError: z.ZodError,
  ) {
    super(describeIssues(source, zodError));
    this.name = 'ValidationError';
  }
}

/** Parse with a schema, throwing a ValidationError that names the source. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, source: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(source, result.error);
  return result.data;
}
