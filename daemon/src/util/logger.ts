/**
 * The daemon's log: one line per event, to stderr by default (airlockd's log file when started by
 * `airlock up`). Adapters get a logger scoped to their target from ProxyContext and never write to
 * the console themselves, so tests can capture and assert what a target logged.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** a logger whose lines start with `scope` (a target, a connection) */
  child(scope: string): Logger;
}

export function lineLogger(write: (line: string) => void, scope = 'airlockd'): Logger {
  const emit = (level: string, message: string) => write(`${scope}: ${level === 'info' ? '' : `${level}: `}${message}`);
  return {
    info: (message) => emit('info', message),
    warn: (message) => emit('warn', message),
    error: (message) => emit('error', message),
    child: (child) => lineLogger(write, `${scope}: ${child}`),
  };
}
