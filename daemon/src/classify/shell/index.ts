/**
 * The shell classifier: tree-sitter's bash grammar (WebAssembly) and a walk of the whole parse
 * tree, so that what a command line runs decides its class, not the words in it. Pure: no sockets,
 * no files; `initShellClassifier()` loads the grammar once, then `classifyShell(text)` is
 * synchronous and cached by text.
 *
 * Classes (combined over commands: privileged > unknown > write > read, as SQL's):
 * - read: programs that only look (ls, cat, grep, ps, df, systemctl status, git log, docker ps,
 *   kubectl get, curl without upload or output file, sed and awk without -i or writes ...).
 * - write: changes to the user's files or project state (rm, mv, cp, tee FILE, mkdir, sed -i,
 *   chmod, redirection to a file, git commit/push/checkout, npm/pip install, docker run,
 *   kubectl apply, tar x, curl -o/-T/-d ...).
 * - privileged: sudo/su/doas/pkexec, system services, processes of others (kill), reboot,
 *   firewalls, users and groups, mounts, disks, kernel modules and parameters, system packages,
 *   and any write (redirection or operand) under /etc, /boot, /usr, /bin, /sbin, /lib*, /var/lib,
 *   /root, /dev (not /dev/null and the like), /proc, /sys, or of `/` itself.
 * - unknown: what the text does not show: a command name that is a variable, substitution, glob or
 *   brace expansion; eval or bash -c of a computed string; source; anything piped into a shell or
 *   an interpreter; python/perl/node code; scripts; programs not in the tables; `ssh host cmd`
 *   (a host Airlock does not govern: the remote command is still parsed and listed); writes to a
 *   path known only when it runs; setting PATH, LD_PRELOAD and the like; a parse error.
 *
 * Wrappers are walked to the command they run: sudo, su -c, doas, pkexec, env, nohup, setsid,
 * timeout, nice, ionice, stdbuf, time, command, exec, coproc, busybox, watch, xargs, find -exec,
 * bash/sh/zsh/dash -c (parsed again, at most MAX_NESTING deep), a heredoc or here-string fed to a
 * shell, eval of literal words, trap actions.
 *
 * Where tree-sitter reads a line differently from bash, the walk follows bash: a backslash-newline
 * inside a word joins it (`ip\<newline>tables`), words after a redirection target are arguments
 * (`rm -rf 2>/dev/null /etc`), a redirection tree-sitter gives a whole list belongs to its last
 * command. Paths are judged after `cd`/`pushd`, `~+`, `..` and globs (`/e*` may be /etc).
 *
 * Bounds: MAX_SHELL_TEXT characters parsed, MAX_WALKED_COMMANDS commands walked, MAX_TREE_DEPTH
 * levels of syntax, MAX_NESTING nested command lines; past any of them the line is unknown.
 */
export { combineShellClasses } from './types.js';
export type { ShellClass, ShellClassification, ShellCommand } from './types.js';
export { initShellClassifier } from './parser.js';
export { classifyShell, classifyShellUncached, shellAttributes, unclassifiableShell, MAX_SHELL_TEXT } from './classify.js';
export { ShellClassifierCache } from './cache.js';
export { shellActionSummary, SHELL_SUMMARY_MAX_CHARS } from './summary.js';
export { MAX_NESTING, MAX_TREE_DEPTH, MAX_COMMANDS, MAX_WALKED_COMMANDS } from './walk.js';
