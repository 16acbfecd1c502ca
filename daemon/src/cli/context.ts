/** What every command needs from the global options. */
export interface CliContext {
  /** the data dir: --home, else $AIRLOCK_HOME, else ~/.airlock */
  home(): string;
}
