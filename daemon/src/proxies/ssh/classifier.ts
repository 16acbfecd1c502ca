import type { ShellClassification } from '../../classify/shell/types.js';
import type { ShellClassifier } from './connection.js';

/**
 * The shell classifier as the SSH adapter uses it. Until classify/shell/ is part of this build every
 * command line is `unknown` (never silently allowed): the default policy reviews it.
 */
export async function shellClassifier(): Promise<ShellClassifier> {
  return {
    classify: (command) => unknownLine(command),
    attributes: (c) => ({ class: c.class }),
    summary: (command) => command.split('\n')[0]!.slice(0, 200),
  };
}

function unknownLine(command: string): ShellClassification {
  const program = command.trim().split(/\s+/)[0] ?? null;
  return {
    class: 'unknown',
    commands: program ? [{ program, argv: [], class: 'unknown', via: [], reasons: ['no shell classifier in this build'] }] : [],
    pathsWritten: [],
    sudo: false,
    pipeline: false,
    reasons: ['no shell classifier in this build'],
  };
}
