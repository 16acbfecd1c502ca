/**
 * What the shell classifier says about one command line (pure: see classify/shell/). Classes mirror
 * SQL's: read < write < privileged, `unknown` when the line cannot be judged from its text (eval, a
 * command name that is a variable or substitution, `curl … | sh`, a parse error, a program Airlock
 * does not know), and `shell` for an interactive shell, which has no command line.
 */
export type ShellClass = 'read' | 'write' | 'privileged' | 'unknown' | 'shell';

export interface ShellCommand {
  /** as written; null when the name is a variable, substitution or otherwise not a literal */
  program: string | null;
  argv: string[];
  class: ShellClass;
  /** wrappers this command runs under, outermost first (`sudo`, `bash -c`, `xargs` ...) */
  via: string[];
  reasons: string[];
}

export interface ShellClassification {
  /** the most dangerous class of any command (unknown above privileged) */
  class: ShellClass;
  /** every simple command, inner commands of wrappers and substitutions included */
  commands: ShellCommand[];
  /** paths the line writes: redirection targets, rm/mv/cp/tee/sed -i/chmod ... operands */
  pathsWritten: string[];
  /** sudo/su/doas anywhere in the line */
  sudo: boolean;
  /** a pipeline anywhere in the line */
  pipeline: boolean;
  /** why the line is unknown, when the parser rejected it */
  parseError?: string;
  reasons: string[];
}
