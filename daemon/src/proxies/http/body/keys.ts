import { GlobMatcher } from '../../../policy/glob.js';
import type { Masker } from '../../../masking/index.js';
import { columnForm } from '../../../masking/index.js';

/** The label (and `[REDACTED]` form) of a value replaced because of its key name. */
export const KEY_RULE_LABEL = 'REDACTED';

/**
 * Key names (lower-cased, `_`, `-`, `.` and spaces removed) whose values are credentials whatever
 * they look like. Exact names, then suffixes: `db_password`, `githubToken`, `x-api-key`,
 * `client_secret` end in one. `max_tokens` or `token_type` do not.
 */
const CREDENTIAL_NAMES = new Set([
  'auth',
  'session',
  'sessionid',
  'sid',
  'cookie',
  'setcookie',
  'credentials',
  'credential',
  'authorization',
  'proxyauthorization',
  'cvv',
  'cvc',
  'pin',
  'otp',
  'mfacode',
  'totp',
]);
const CREDENTIAL_SUFFIXES = [
  'password',
  'passwd',
  'passphrase',
  'pwd',
  'secret',
  'token',
  'apikey',
  'accesskey',
  'secretkey',
  'privatekey',
  'signingkey',
  'encryptionkey',
  'credentials',
  'credential',
  'authorization',
  'cookie',
  'sessionid',
  'sessionkey',
];

/** The key name as the built-in list compares it. */
export function normalizeKeyName(name: string): string {
  return name.toLowerCase().replace(/[-_.\s]/g, '');
}

/** Whether a key name (a JSON key, a header or query parameter name) names a credential by the built-in list. */
export function isCredentialName(name: string): boolean {
  const normalized = normalizeKeyName(name);
  if (CREDENTIAL_NAMES.has(normalized)) return true;
  for (const suffix of CREDENTIAL_SUFFIXES) if (normalized.endsWith(suffix)) return true;
  return false;
}

/** Most key names whose verdict is remembered; the cache starts over beyond it. */
const CACHE_LIMIT = 4096;

/**
 * Which JSON keys have their value replaced whole, and with what label: the policy's
 * `masking.columns` rules first (matched by Masker.columnRule, as column names are), then the
 * extra globs given for the target, then the built-in credential names. Verdicts are cached per
 * key name: the same keys come back in every record of an array.
 */
export class KeyRules {
  private readonly extra: GlobMatcher | undefined;
  private readonly cache = new Map<string, string | null>();

  constructor(
    private readonly masker: Masker,
    extraGlobs: readonly string[] = [],
  ) {
    this.extra = extraGlobs.length > 0 ? GlobMatcher.compile(extraGlobs.map((g) => g.toLowerCase())) : undefined;
  }

  /** The label for a key's value, or undefined when the value is masked by content only. */
  labelFor(key: string): string | undefined {
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const label = this.masker.columnRule(key) ?? (this.extra?.test(key.toLowerCase()) === true || isCredentialName(key) ? KEY_RULE_LABEL : undefined);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(key, label ?? null);
    return label;
  }

  /** The label from the policy's rules and the target's globs alone, without the built-in credential names. */
  configuredLabelFor(key: string): string | undefined {
    return this.masker.columnRule(key) ?? (this.extra?.test(key.toLowerCase()) === true ? KEY_RULE_LABEL : undefined);
  }

  /** `"[LABEL]"`: what replaces the value, as a JSON string. */
  static marker(label: string): string {
    return JSON.stringify(columnForm(label));
  }
}
