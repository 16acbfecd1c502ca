import { oneLineText } from '@airlock/shared';
import type { ShellClassification, ShellCommand } from './types.js';

/**
 * The action summary of a classified command line: what a person deciding on a held command reads
 * first. The line as written (cut when long), its class, and, when the line has several commands,
 * the ones that gave it that class, so that a cut or a long harmless head never hides them:
 * `rm -rf /tmp/x; sudo reboot (privileged: sudo reboot)`. Pure: no I/O.
 */

export const SHELL_SUMMARY_MAX_CHARS = 300;
const HEAD_CHARS = 160;
const COMMAND_CHARS = 60;
const MAX_NAMED = 3;

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function commandText(c: ShellCommand): string {
  return cut(oneLineText(c.argv.join(' ')), COMMAND_CHARS);
}

export function shellActionSummary(text: string, c: ShellClassification, maxChars = SHELL_SUMMARY_MAX_CHARS): string {
  const line = oneLineText(text);
  if (c.parseError !== undefined) return cut(`unparseable command (unknown): ${cut(line, HEAD_CHARS)}`, maxChars);
  if (line === '') return '(empty command)';
  const head = cut(line, Math.min(HEAD_CHARS, maxChars));
  const strictest = c.commands.filter((x) => x.class === c.class);
  // a wrapper and its inner command say the same: `sudo reboot` covers `reboot` under sudo
  const named: string[] = [];
  for (const x of strictest) {
    const t = commandText(x);
    if (!named.some((n) => n.includes(t))) named.push(t);
  }
  const single = c.commandCount <= 1 || named.length === 0 || (named.length === 1 && head === named[0]);
  if (single || c.class === 'read') return cut(`${head} (${c.class})`, maxChars);
  const shown = named.slice(0, MAX_NAMED).join('; ');
  const more = named.length > MAX_NAMED ? ` +${named.length - MAX_NAMED} more` : '';
  const suffix = ` (${c.class}: ${shown}${more})`;
  // the class and the strictest commands are what matter: the head gives way first
  const room = maxChars - suffix.length;
  if (room >= 20) return `${cut(line, Math.min(room, HEAD_CHARS))}${suffix}`;
  return cut(`${cut(line, 20)}${suffix}`, maxChars);
}
