import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

/**
 * Calls `onChange` (debounced) when `file` is created, changed, replaced or deleted. Watches the
 * directory, not the file: editors and atomic writers replace the file, which ends a file watch.
 */
export function watchFile(file: string, onChange: () => void, debounceMs = 100): { close(): void } {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, (_event, name) => {
      if (name !== null && name !== base) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
    });
    watcher.on('error', () => watcher?.close());
  } catch {
    // the directory does not exist: nothing to watch until the daemon creates it
  }
  return {
    close() {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
