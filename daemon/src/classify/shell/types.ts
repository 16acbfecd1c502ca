/**
 * What the shell classifier says about one command line (pure: see classify/shell/). Classes mirror
 * SQL's: read < write < privileged, `unknown` when the line cannot be judged from its text (eval of
 * a computed string, a command name that is a variable or substitution, `curl … | sh`, a parse
 * error, a program Airlock does not know), and `shell` for an interactive shell, which has no
 * command line.
 */
export type ShellClass = 'read' | 'write' | 'privileged' | 'unknown' | 'shell';

export interface ShellCommand {
  /** as written, quotes and escapes resolved (`/bin/rm`); null when the name is a variable, substitution, glob or brace expansion */
  program: string | null;
  /** its words: literal words resolved, the others as written (`$HOME`, `$(date)`) */
  argv: string[];
  class: ShellClass;
  /** wrappers this command runs under, outermost first (`sudo`, `bash -c`, `xargs` ...) */
  via: string[];
  reasons: string[];
}

export interface ShellClassification {
  /** the most dangerous class of any command (privileged above unknown, as in SQL's combineClasses) */
  class: ShellClass;
  /** every simple command, inner commands of wrappers and substitutions included (the first MAX_COMMANDS) */
  commands: ShellCommand[];
  /** how many simple commands the line has, when more than `commands` keeps */
  commandCount: number;
  /** paths the line writes: redirection targets, rm/mv/cp/tee/sed -i/chmod ... operands */
  pathsWritten: string[];
  /** paths the line names as files to read (cat, head, grep's files, `<` redirections ...) */
  pathsRead: string[];
  /** sudo/su/doas/pkexec anywhere in the line */
  sudo: boolean;
  /** a pipeline anywhere in the line */
  pipeline: boolean;
  /** why the line is unknown, when the parser rejected it */
  parseError?: string;
  /** reasons that belong to the line rather than to one command (a redirection of a whole list, a nesting limit) */
  reasons: string[];
}

/**
 * Strictness for combining: privileged ranks above unknown, as SQL's combineClasses does, so that
 * `sudo reboot; $CMD` is refused by a privileged-deny rule rather than held as unknown. An
 * interactive shell can do anything, like an unknown line.
 */
const STRICTNESS: Record<ShellClass, number> = { read: 0, write: 1, shell: 2, unknown: 3, privileged: 4 };

/** The strictest of the classes; an empty list is 'read' (nothing runs). */
export function combineShellClasses(classes: Iterable<ShellClass>): ShellClass {
  let strictest: ShellClass = 'read';
  for (const c of classes) if (STRICTNESS[c] > STRICTNESS[strictest]) strictest = c;
  return strictest;
}
