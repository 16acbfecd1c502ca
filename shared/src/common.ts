import { z } from 'zod';

export const PROTOCOLS = ['postgres', 'ssh', 'kubernetes', 'http', 'egress'] as const;
export const Protocol = z.enum(PROTOCOLS);
export type Protocol = z.infer<typeof Protocol>;

/** "250ms", "30s", "5m", "8h", "7d". Parsed with parseDuration. */
export const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;
export const Duration = z
  .string()
  .regex(DURATION_PATTERN, { message: 'expected a duration such as "30s", "5m", "8h" or "7d"' });
export type Duration = z.infer<typeof Duration>;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string): number {
  const m = DURATION_PATTERN.exec(text);
  if (!m) throw new Error(`"${text}" is not a duration: expected a number and a unit (ms, s, m, h, d), such as "5m"`);
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

export const IsoTime = z.string().datetime({ offset: true });

/** A glob or a list of globs (picomatch syntax: `*`, `?`, `[ab]`, `{a,b}`). */
export const Pattern = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
export type Pattern = z.infer<typeof Pattern>;

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const Name = z
  .string()
  .regex(NAME_PATTERN, { message: 'expected a name of letters, digits, ".", "_" or "-" (at most 63), starting with a letter or digit' });

/** Adds an issue for every item whose key repeats an earlier one's, naming both places. */
export function refineUnique<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  ctx: { addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void },
  where: { list: string; field: string; what: string },
): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const key = keyOf(item);
    const prior = seen.get(key);
    if (prior !== undefined) {
      ctx.addIssue({ code: 'custom', path: [where.list, i, where.field], message: `duplicate ${where.what} "${key}" (also ${where.list}[${prior}])` });
    }
    seen.set(key, i);
  });
}
