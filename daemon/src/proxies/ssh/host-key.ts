import { createHash, createHmac } from 'node:crypto';
import { mismatchedHostKeyMessage, unpinnedHostKeyMessage } from '../../config/ssh-host-pin.js';

/**
 * Upstream host-key pinning (pure: the known_hosts text is handed in). ssh2's client accepts any host
 * key unless `hostVerifier` says no, and it runs the check during key exchange, before any user
 * authentication: the real credential is only offered to a server whose key was pinned.
 */

/** OpenSSH's fingerprint of a public key blob (the SSH wire form): `SHA256:` and unpadded base64. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside a key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa` ...). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const length = keyBlob.readUInt32BE(0);
  return keyBlob.length >= 4 + length ? keyBlob.toString('latin1', 4, 4 + length) : 'unknown';
}

export type PinVerdict =
  | { ok: true; fingerprint: string }
  /** `unpinned`: nothing names this host; `changed`: a pin exists and the key differs; `revoked`: known_hosts marks the key @revoked */
  | { ok: false; fingerprint: string; reason: 'unpinned' | 'changed' | 'revoked' };

export interface Pin {
  /** target.hostKey: `SHA256:…` */
  fingerprint?: string;
  /** the text of target.knownHosts, when the target names one */
  knownHosts?: string;
  host: string;
  port: number;
}

/**
 * Whether the upstream's key is the pinned one. target.hostKey wins when set; otherwise the
 * known_hosts lines naming the host (plain or hashed, `host` for port 22 and `[host]:port` otherwise)
 * are the pins, and any of their keys is accepted, as OpenSSH does. No pin at all is `unpinned`:
 * refused, never trusted on first use.
 */
export function checkHostKey(keyBlob: Buffer, pin: Pin): PinVerdict {
  const fingerprint = fingerprintOf(keyBlob);
  if (pin.fingerprint !== undefined) {
    return pin.fingerprint === fingerprint ? { ok: true, fingerprint } : { ok: false, fingerprint, reason: 'changed' };
  }
  if (pin.knownHosts === undefined) return { ok: false, fingerprint, reason: 'unpinned' };
  const name = pin.port === 22 ? pin.host : `[${pin.host}]:${pin.port}`;
  const offered = keyBlob.toString('base64');
  let named = false;
  for (const entry of knownHostsEntries(pin.knownHosts)) {
    if (!entry.hosts.some((pattern) => hostMatches(pattern, name))) continue;
    if (entry.marker === '@cert-authority') continue;
    if (entry.marker === '@revoked') {
      if (entry.key === offered) return { ok: false, fingerprint, reason: 'revoked' };
      continue;
    }
    named = true;
    if (entry.key === offered) return { ok: true, fingerprint };
  }
  return { ok: false, fingerprint, reason: named ? 'changed' : 'unpinned' };
}

interface KnownHostsEntry {
  marker?: string;
  hosts: string[];
  type: string;
  key: string;
}

function* knownHostsEntries(text: string): Generator<KnownHostsEntry> {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]!.startsWith('@') ? fields.shift() : undefined;
    if (fields.length < 3) continue;
    yield { marker, hosts: fields[0]!.split(','), type: fields[1]!, key: fields[2]! };
  }
}

/** A known_hosts host pattern against `host` or `[host]:port`: hashed (`|1|salt|hmac`), plain, or a `*`/`?` wildcard; `!` negation is not a pin. */
function hostMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  if (pattern.startsWith('!')) return false;
  if (!/[*?]/.test(pattern)) return pattern.toLowerCase() === name.toLowerCase();
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return regex.test(name);
}

/** The sentence an agent (and the log) gets when the upstream's key is not the pinned one. */
export function pinRefusal(target: string, pin: { fingerprint?: string; knownHostsFile?: string }, verdict: Extract<PinVerdict, { ok: false }>): string {
  switch (verdict.reason) {
    case 'unpinned':
      return unpinnedHostKeyMessage(target, verdict.fingerprint);
    case 'changed':
      return mismatchedHostKeyMessage(target, pin.fingerprint ?? `key listed in ${pin.knownHostsFile ?? 'known_hosts'}`, verdict.fingerprint);
    case 'revoked':
      return `target "${target}": the upstream presented host key ${verdict.fingerprint}, which the known_hosts file ${pin.knownHostsFile ?? ''} marks @revoked, so Airlock did not log in`;
  }
}
