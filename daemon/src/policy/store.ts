import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { Policy } from '@airlock/shared';
import type { EffectivePolicy } from '@airlock/shared';
import { FileError, fileExists, loadStructuredFile } from '../config/files.js';
import { PolicyCompileError, compilePolicy } from './engine.js';
import type { CompileOptions } from './engine.js';
import { canonicalJson, policyHash } from './hash.js';
import { compileEffectivePolicy } from './merge.js';
import type { PolicyInputs, PolicySnapshot } from './merge.js';

export interface PolicyStoreOptions {
  /** the user's policy file (YAML or JSON) */
  localFile: string;
  /** the last central policy the uplink received (JSON) */
  centralCacheFile: string;
  defaultReviewTimeoutMs: number;
  /** how long the files must be quiet before a change is read; editors write in several steps */
  debounceMs?: number;
  /**
   * Whether a changed policy read from the files may be put in force at once (a change that only
   * tightens); when it returns false the change is staged until applyStaged() names it. Without a
   * gate every valid change is applied.
   */
  gate?: (current: EffectivePolicy, next: EffectivePolicy) => boolean;
}

export interface PolicyRejection {
  file: string;
  /** one line naming the file, the place in it and what was expected */
  error: string;
}

export interface ReloadResult {
  /** whether the policy in force changed */
  changed: boolean;
  /** whether the files now hold a change that waits for confirmation */
  staged: boolean;
  /** files that were invalid; their previous valid content stays in force */
  rejected: PolicyRejection[];
}

// A type alias, not an interface: EventEmitter's event map needs an index-compatible type.
type PolicyStoreEvents = {
  changed: [effective: EffectivePolicy, previous: EffectivePolicy];
  rejected: [rejection: PolicyRejection];
  /** the files hold a change the gate refused to apply at once (a newer one replaces an older) */
  staged: [staged: EffectivePolicy, current: EffectivePolicy];
  /** the staged change was withdrawn: the files went back to the policy in force, or a newer change was applied */
  unstaged: [withdrawn: EffectivePolicy, reason: string];
};

interface LoadedPolicy {
  policy: Policy;
  hash: string;
}

const DEFAULT_DEBOUNCE_MS = 100;
/** for a file whose directory does not exist (yet), where fs.watch cannot be used */
const POLL_INTERVAL_MS = 1000;

/**
 * Reads the local and central policy files, keeps the effective policy and its compiled form, and
 * follows changes to the files. A missing file is absent, not an error. An invalid file stops
 * load() and, later, is rejected while its previous valid content stays in force: a typo in the
 * policy never opens anything up.
 *
 * Events: 'changed' (effective policy) after a swap; 'rejected' ({file, error}) when a file turned
 * invalid (once per distinct error). A change that leaves the policy and its sources the same
 * (comments, key order, a rewrite with the same content) swaps nothing and emits nothing.
 */
export class PolicyStore extends EventEmitter<PolicyStoreEvents> {
  private readonly localFile: string;
  private readonly centralCacheFile: string;
  private readonly compileOptions: CompileOptions;
  private readonly debounceMs: number;

  private snapshot: PolicySnapshot | null = null;
  /** what each snapshot was made from, to remember what is in force across restarts */
  private readonly inputsOf = new WeakMap<PolicySnapshot, PolicyInputs>();
  private stagedSnapshot: PolicySnapshot | null = null;
  private readonly gate: ((current: EffectivePolicy, next: EffectivePolicy) => boolean) | undefined;
  private central: LoadedPolicy | null = null;
  private local: LoadedPolicy | null = null;
  private readonly lastRejection = new Map<string, string>();

  private readonly watchers: fs.FSWatcher[] = [];
  private readonly polledFiles = new Set<string>();
  private debounceTimer: NodeJS.Timeout | null = null;
  /** reloads run one after another so an older read never overwrites a newer one */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(options: PolicyStoreOptions) {
    super();
    this.localFile = path.resolve(options.localFile);
    this.centralCacheFile = path.resolve(options.centralCacheFile);
    this.compileOptions = { defaultReviewTimeoutMs: options.defaultReviewTimeoutMs };
    this.debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.gate = options.gate;
  }

  /** Reads both files. Throws an Error naming the file, the place in it and what was expected. */
  async load(): Promise<PolicySnapshot> {
    const [central, local] = await Promise.all([this.read(this.centralCacheFile), this.read(this.localFile)]);
    const snapshot = this.build(central, local);
    this.central = central;
    this.local = local;
    this.snapshot = snapshot;
    return snapshot;
  }

  /** The policy in force; effective and compiled always belong together. */
  current(): PolicySnapshot {
    if (this.snapshot === null) throw new Error('PolicyStore.current() was called before load() succeeded');
    return this.snapshot;
  }

  /** What the policy in force was made from (the files' content when it was applied). */
  inputsInForce(): PolicyInputs {
    const inputs = this.inputsOf.get(this.current());
    if (inputs === undefined) throw new Error('PolicyStore: the policy in force has no recorded inputs');
    return inputs;
  }

  /**
   * At start, after load(): `enforced` is what was in force when the daemon last ran. When the files
   * now loosen it (per the gate), it stays in force and the files' policy is staged, as an edit made
   * while the daemon ran would be: a restart is not a way around confirmation. Returns whether it did.
   */
  holdBack(enforced: PolicyInputs): boolean {
    const files = this.current();
    const held = compileEffectivePolicy(enforced, this.compileOptions);
    this.inputsOf.set(held, enforced);
    if (sameEffectivePolicy(held.effective, files.effective)) return false;
    if (this.gate === undefined || this.gate(held.effective, files.effective)) return false;
    this.snapshot = held;
    this.stagedSnapshot = files;
    return true;
  }

  /** The change the files hold that waits for confirmation, if any. */
  staged(): PolicySnapshot | null {
    return this.stagedSnapshot;
  }

  /**
   * Puts the staged change in force, if it is still the one whose effective hash is `hash`: a person
   * confirmed exactly that content, and a newer edit must be shown to them again. Throws otherwise.
   */
  applyStaged(hash: string): EffectivePolicy {
    const staged = this.stagedSnapshot;
    if (staged === null) throw new Error('no policy change is staged');
    if (staged.effective.hash !== hash) throw new Error(`the staged policy is ${staged.effective.hash.slice(0, 12)}, not the ${hash.slice(0, 12)} that was confirmed`);
    const previous = this.current();
    this.stagedSnapshot = null;
    this.snapshot = staged;
    this.emit('changed', staged.effective, previous.effective);
    return staged.effective;
  }

  /** Reads both files again; an invalid file is reported and its previous content kept. */
  reload(): Promise<ReloadResult> {
    const run = this.queue.then(() => this.reloadNow());
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Follows changes to both files. The directories are watched, not the files: editors and atomic
   * writers replace a file by renaming another over it, which a watch on the old file never sees.
   */
  watch(): void {
    if (this.closed || this.watchers.length > 0 || this.polledFiles.size > 0) return;
    const namesByDir = new Map<string, Set<string>>();
    for (const file of [this.centralCacheFile, this.localFile]) {
      const dir = path.dirname(file);
      const names = namesByDir.get(dir) ?? new Set<string>();
      names.add(path.basename(file));
      namesByDir.set(dir, names);
    }
    for (const [dir, names] of namesByDir) {
      let watcher: fs.FSWatcher;
      try {
        watcher = fs.watch(dir, { persistent: false }, (_event, filename) => {
          // Some platforms do not say which file changed.
          if (filename === null || names.has(String(filename))) this.scheduleReload();
        });
      } catch {
        for (const name of names) this.poll(path.join(dir, name));
        continue;
      }
      watcher.on('error', () => {
        // The directory went away (or the watch broke): fall back to polling its files.
        watcher.close();
        this.watchers.splice(this.watchers.indexOf(watcher), 1);
        for (const name of names) this.poll(path.join(dir, name));
        this.scheduleReload();
      });
      this.watchers.push(watcher);
    }
  }

  /** Stops watching. The last policy stays readable through current(). */
  close(): void {
    this.closed = true;
    if (this.debounceTimer !== null) clearTimeout(this.debounceTimer);
    this.debounceTimer = null;
    for (const watcher of this.watchers) watcher.close();
    this.watchers.length = 0;
    for (const file of this.polledFiles) fs.unwatchFile(file, this.onPolledChange);
    this.polledFiles.clear();
  }

  private poll(file: string): void {
    if (this.closed || this.polledFiles.has(file)) return;
    this.polledFiles.add(file);
    fs.watchFile(file, { interval: POLL_INTERVAL_MS, persistent: false }, this.onPolledChange);
  }

  private readonly onPolledChange = (): void => this.scheduleReload();

  private scheduleReload(): void {
    if (this.closed) return;
    if (this.debounceTimer !== null) clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      if (this.closed || this.snapshot === null) return;
      this.reload().catch((err: unknown) => {
        this.emit('rejected', { file: this.localFile, error: `policy reload failed: ${(err as Error).message}` });
      });
    }, this.debounceMs);
  }

  private async reloadNow(): Promise<ReloadResult> {
    if (this.snapshot === null) throw new Error('PolicyStore.reload() was called before load() succeeded');
    const rejected: PolicyRejection[] = [];
    let central = this.central;
    let local = this.local;
    try {
      central = await this.read(this.centralCacheFile);
    } catch (err) {
      rejected.push({ file: this.centralCacheFile, error: (err as Error).message });
    }
    try {
      local = await this.read(this.localFile);
    } catch (err) {
      rejected.push({ file: this.localFile, error: (err as Error).message });
    }
    if (this.closed) return { changed: false, staged: this.stagedSnapshot !== null, rejected };

    let next: PolicySnapshot;
    try {
      next = this.build(central, local);
    } catch (err) {
      // Each file compiled on its own, so this is a fault of the merge, not of either file.
      rejected.push({ file: this.localFile, error: `${this.localFile}: cannot be combined with the central policy: ${(err as Error).message}` });
      this.report(rejected);
      return { changed: false, staged: this.stagedSnapshot !== null, rejected };
    }
    this.central = central;
    this.local = local;
    this.report(rejected);

    const previous = this.snapshot;
    const staged = this.stagedSnapshot;
    if (sameEffectivePolicy(previous.effective, next.effective)) {
      if (staged !== null) {
        this.stagedSnapshot = null;
        this.emit('unstaged', staged.effective, 'the policy files are back to the policy in force');
      }
      return { changed: false, staged: false, rejected };
    }
    if (staged !== null && sameEffectivePolicy(staged.effective, next.effective)) return { changed: false, staged: true, rejected };
    if (this.gate !== undefined && !this.gate(previous.effective, next.effective)) {
      this.stagedSnapshot = next;
      this.emit('staged', next.effective, previous.effective);
      return { changed: false, staged: true, rejected };
    }
    if (staged !== null) {
      this.stagedSnapshot = null;
      this.emit('unstaged', staged.effective, 'a newer edit that does not loosen enforcement replaced it');
    }
    this.snapshot = next;
    this.emit('changed', next.effective, previous.effective);
    return { changed: true, staged: false, rejected };
  }

  private report(rejected: readonly PolicyRejection[]): void {
    for (const file of [this.centralCacheFile, this.localFile]) {
      if (!rejected.some((r) => r.file === file)) this.lastRejection.delete(file);
    }
    for (const rejection of rejected) {
      if (this.lastRejection.get(rejection.file) === rejection.error) continue;
      this.lastRejection.set(rejection.file, rejection.error);
      this.emit('rejected', rejection);
    }
  }

  private build(central: LoadedPolicy | null, local: LoadedPolicy | null): PolicySnapshot {
    const inputs: PolicyInputs = {};
    if (central !== null) inputs.central = central;
    if (local !== null) inputs.local = { ...local, file: this.localFile };
    const snapshot = compileEffectivePolicy(inputs, this.compileOptions);
    this.inputsOf.set(snapshot, inputs);
    return snapshot;
  }

  /** null when the file does not exist; throws when it exists but is not a valid policy. */
  private async read(file: string): Promise<LoadedPolicy | null> {
    let policy: Policy;
    try {
      policy = await loadStructuredFile(Policy, file);
    } catch (err) {
      if (!(await fileExists(file))) return null;
      throw err;
    }
    try {
      compilePolicy(policy, this.compileOptions);
    } catch (err) {
      if (err instanceof PolicyCompileError) throw new FileError(file, `${file}: ${err.message}`);
      throw err;
    }
    return { policy, hash: policyHash(policy) };
  }
}

function sameEffectivePolicy(a: EffectivePolicy, b: EffectivePolicy): boolean {
  return a.hash === b.hash && canonicalJson(a.sources) === canonicalJson(b.sources) && canonicalJson(a.ignoredLocalRules) === canonicalJson(b.ignoredLocalRules);
}
