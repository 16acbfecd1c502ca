import { classifyShell, initShellClassifier, shellActionSummary, shellAttributes } from '../../classify/shell/index.js';
import type { ShellClassifier } from './connection.js';

/** The shell classifier (tree-sitter-bash, loaded once per daemon) as the SSH adapter uses it. */
export async function shellClassifier(): Promise<ShellClassifier> {
  await initShellClassifier();
  return {
    classify: (command) => {
      try {
        return classifyShell(command);
      } catch (err) {
        // fail closed: a line the classifier cannot read is unknown, never allowed by default
        const reason = `the classifier failed: ${(err as Error).message}`;
        return { class: 'unknown', commands: [], commandCount: 0, pathsWritten: [], pathsRead: [], sudo: false, pipeline: false, parseError: reason, reasons: [reason] };
      }
    },
    attributes: (c) => shellAttributes(c),
    summary: (command, c) => shellActionSummary(command, c),
  };
}
