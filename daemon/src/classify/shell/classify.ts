import type { AttributeValue } from '@airlock/shared';
import { shellParserReady, withParsedShell } from './parser.js';
import { ShellClassifierCache } from './cache.js';
import { Walker, describeSyntaxError } from './walk.js';
import { baseName } from './programs.js';
import type { ShellClassification } from './types.js';

/** Longer command lines are not parsed: unknown. SSH exec requests are far shorter in practice. */
export const MAX_SHELL_TEXT = 262_144;

/** What cannot be classified: unknown, with the reason. */
export function unclassifiableShell(reason: string): ShellClassification {
  return { class: 'unknown', commands: [], commandCount: 0, pathsWritten: [], pathsRead: [], sudo: false, pipeline: false, parseError: reason, reasons: [reason] };
}

/** Classifies a command line without the cache. Pure: no I/O. */
export function classifyShellUncached(text: string): ShellClassification {
  if (!shellParserReady()) throw new Error('classifyShell: the bash parser is not loaded; await initShellClassifier() first');
  // a shell reads a command string up to its first NUL; the parser here might not
  if (text.includes('\0')) return unclassifiableShell('the command contains a NUL character');
  if (text.length > MAX_SHELL_TEXT) return unclassifiableShell(`the command is longer than ${MAX_SHELL_TEXT} characters`);
  try {
    return withParsedShell(text, (tree) => {
      const root = tree.rootNode;
      const parseError = root.hasError ? describeSyntaxError(root) : undefined;
      const walker = new Walker();
      walker.program(root, text, { via: [], nesting: 0, depth: 0, stdin: { kind: 'none' } });
      return walker.result(parseError);
    });
  } catch (error) {
    // a tree too deep for the stack, or a shape nothing here expected: fail closed
    return unclassifiableShell(`the classifier failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const defaultCache = new ShellClassifierCache(classifyShellUncached);

/**
 * Classifies a command line as the remote shell would run it, with tree-sitter's bash grammar.
 * Synchronous once initShellClassifier() has resolved; results are cached by text (bounded) and
 * frozen, as every caller of the same text shares one object. Throws only before the parser is loaded.
 */
export function classifyShell(text: string): ShellClassification {
  return defaultCache.classify(text);
}

/** The attributes policy rules match on (`attributes:` in a rule). */
export function shellAttributes(c: ShellClassification): Record<string, AttributeValue> {
  const programs = new Set<string>();
  // wrappers are commands of their own (sudo, bash, xargs), so their names are here too;
  // `/bin/rm` is listed as `rm` as well, so that a rule on `rm` matches it
  for (const cmd of c.commands) {
    if (cmd.program === null) continue;
    programs.add(cmd.program);
    programs.add(baseName(cmd.program));
  }
  return {
    class: c.class,
    classes: [...new Set([...c.commands.map((x) => x.class), c.class])],
    commands: [...programs],
    paths: c.pathsWritten,
    pathsRead: c.pathsRead,
    sudo: c.sudo,
    pipeline: c.pipeline,
    commandCount: c.commandCount,
  };
}
