import { createHash } from 'node:crypto';
import type { EffectivePolicy, LocalConfig, PendingPolicyChange, PolicyDifference } from '@airlock/shared';
import { canonicalJson } from './hash.js';

export interface StagedPolicy {
  effective: EffectivePolicy;
  /** the effective policy in force when it was staged */
  current: EffectivePolicy;
  differences: PolicyDifference[];
}

export interface StagedConfig {
  config: LocalConfig;
  file: string;
  differences: PolicyDifference[];
}

/**
 * The change that waits for a person: a staged policy, a staged config, or both, shown and confirmed
 * as one. Pure apart from the clock passed in. Its hash covers exactly the content that would be put
 * in force, so a confirmation of what a person was shown cannot apply something swapped in later.
 */
export class StagedChanges {
  private policyPart: StagedPolicy | null = null;
  private configPart: StagedConfig | null = null;
  private since: string | null = null;

  constructor(private readonly now: () => Date = () => new Date()) {}

  get policy(): StagedPolicy | null {
    return this.policyPart;
  }

  get config(): StagedConfig | null {
    return this.configPart;
  }

  setPolicy(part: StagedPolicy | null): void {
    this.policyPart = part;
    this.touch();
  }

  setConfig(part: StagedConfig | null): void {
    this.configPart = part;
    this.touch();
  }

  clear(): void {
    this.policyPart = null;
    this.configPart = null;
    this.since = null;
  }

  /** What the API and the events show; null when nothing waits. */
  pending(currentPolicy: EffectivePolicy): PendingPolicyChange | null {
    if (this.policyPart === null && this.configPart === null) return null;
    const content = {
      policy: this.policyPart === null ? null : { policy: this.policyPart.effective.policy, sources: this.policyPart.effective.sources },
      config: this.configPart?.config ?? null,
    };
    const files = [...(this.policyPart?.effective.sources.flatMap((s) => (s.file === undefined ? [] : [s.file])) ?? []), ...(this.configPart ? [this.configPart.file] : [])];
    return {
      hash: createHash('sha256').update(canonicalJson(content)).digest('hex'),
      stagedAt: this.since ?? this.now().toISOString(),
      files,
      policy: { from: currentPolicy.hash, to: this.policyPart?.effective.hash ?? currentPolicy.hash },
      differences: [...(this.policyPart?.differences ?? []), ...(this.configPart?.differences ?? [])],
    };
  }

  /** A newer edit is a new change to review: its time is when it was staged. */
  private touch(): void {
    this.since = this.policyPart === null && this.configPart === null ? null : this.now().toISOString();
  }
}
