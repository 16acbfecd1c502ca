import picomatch from 'picomatch';

/**
 * picomatch treats `/` as a path separator: `*` stops at it and `.`/`..` segments never match. Policy
 * globs match target names, kinds, shell commands, HTTP paths and table names, not file paths, and a
 * deny rule such as `rm -rf *` must catch `rm -rf /..`. Swapping `/` for a private-use character on
 * both sides makes `*` match any run of characters, `/` included.
 */
const SLASH_STAND_IN = '\uE000';

/** Anything picomatch could read as syntax; a pattern without these is compared as plain text. */
const GLOB_SYNTAX = /[*?[\]{}()!+@\\/|]/;

const ONLY_STARS = /^\*+$/;

/**
 * A glob or a list of globs compiled once. A list matches when any of its globs matches. Matching is
 * case-sensitive; `*` matches any run of characters including `/` and the empty string.
 */
export class GlobMatcher {
  private constructor(
    readonly patterns: readonly string[],
    private readonly matchesEverything: boolean,
    private readonly literals: ReadonlySet<string> | null,
    private readonly regex: RegExp | null,
  ) {}

  static compile(pattern: string | readonly string[]): GlobMatcher {
    const patterns = typeof pattern === 'string' ? [pattern] : [...pattern];
    if (patterns.some((p) => ONLY_STARS.test(p))) return new GlobMatcher(patterns, true, null, null);
    const literals = new Set<string>();
    const sources: string[] = [];
    for (const p of patterns) {
      if (!GLOB_SYNTAX.test(p)) {
        literals.add(p);
        continue;
      }
      const re = picomatch.makeRe(p.replaceAll('/', SLASH_STAND_IN), { dot: true });
      sources.push(`(?:${re.source})`);
    }
    return new GlobMatcher(patterns, false, literals.size > 0 ? literals : null, sources.length > 0 ? new RegExp(sources.join('|')) : null);
  }

  test(value: string): boolean {
    if (this.matchesEverything) return true;
    if (this.literals !== null && this.literals.has(value)) return true;
    if (this.regex === null) return false;
    return this.regex.test(value.indexOf('/') === -1 ? value : value.replaceAll('/', SLASH_STAND_IN));
  }

  /** The globs as a person wrote them, `a|b` for a list. */
  toString(): string {
    return this.patterns.join('|');
  }
}
