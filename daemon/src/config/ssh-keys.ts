import { createHmac, timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';
import { CredentialFileError, readCredentialFile } from './credential-file.js';

// ssh2 is CommonJS; its named exports are not visible to ESM imports
const { utils } = ssh2;

/**
 * An SSH target's own key material: the private key airlockd logs in to the upstream with, and the
 * known_hosts file that may pin the upstream's host key. Both are checked when a target is added
 * and again where the SSH adapter uses them.
 */

/**
 * Checks that `text` is an unencrypted private key ssh2 can sign with. airlockd runs unattended and
 * has no passphrase to give, so an encrypted key is refused with what to do instead.
 */
export function checkSshPrivateKey(target: string, text: string | Buffer, where: string): void {
  const parsed = utils.parseKey(text);
  if (parsed instanceof Error) {
    if (/encrypted|passphrase/i.test(parsed.message)) {
      throw new CredentialFileError(
        `target "${target}": the private key in ${where} is protected by a passphrase, which airlockd cannot enter: give it a copy without one (cp KEY COPY && ssh-keygen -p -N "" -f COPY, then chmod 600 COPY) or use --agent-socket with an ssh-agent that holds the key`,
      );
    }
    throw new CredentialFileError(`target "${target}": ${where} does not hold a private key ssh understands (${parsed.message}); give an OpenSSH, PEM (RSA, ECDSA) or PuTTY private key file`);
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || !key.isPrivateKey()) {
    throw new CredentialFileError(`target "${target}": ${where} holds a public key, not a private one; give the private key file (the one without .pub)`);
  }
}

/** Reads a target's private key file (owner and mode checked as for every credential file) and checks it parses. */
export function readSshKeyFile(target: string, file: string): string {
  const text = readCredentialFile(target, file);
  checkSshPrivateKey(target, text, `the key file ${file}`);
  return text;
}

/** One key line of a known_hosts file that names the host looked up. */
export interface KnownHostKey {
  /** `@revoked` or `@cert-authority` when the line has that marker */
  marker?: 'revoked' | 'cert-authority';
  algo: string;
  data: Buffer;
}

/** The name ssh looks up in known_hosts: `host`, or `[host]:port` when the port is not 22. */
export function knownHostsLookupName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** One host pattern of known_hosts (`*`, `?` wildcards) against a name, case-insensitively as ssh does. */
function patternMatches(pattern: string, name: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return regex.test(name);
}

/** A hashed entry `|1|salt|hash`: HMAC-SHA1 of the looked-up name, keyed with the salt. */
function hashedMatches(entry: string, name: string): boolean {
  const [, version, salt, hash] = entry.split('|');
  if (version !== '1' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Whether a line's comma-separated host patterns name `name` (a matching `!pattern` excludes it). */
function hostsMatch(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedMatches(field, name);
  let matched = false;
  for (const pattern of field.split(',')) {
    if (pattern.startsWith('!')) {
      if (patternMatches(pattern.slice(1), name)) return false;
    } else if (patternMatches(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

/**
 * The keys a known_hosts file lists for `host:port` (OpenSSH's format: markers, comma-separated
 * patterns with wildcards and negation, hashed names). Lines that do not parse are skipped, as ssh does.
 */
export function knownHostKeys(text: string, host: string, port: number): KnownHostKey[] {
  const name = knownHostsLookupName(host, port);
  const out: KnownHostKey[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostKey['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift()!.slice(1) as KnownHostKey['marker'];
    const [hosts, algo, base64] = fields;
    if (!hosts || !algo || !base64 || !/^[A-Za-z0-9+/]+=*$/.test(base64)) continue;
    if (!hostsMatch(hosts, name)) continue;
    out.push({ ...(marker ? { marker } : {}), algo, data: Buffer.from(base64, 'base64') });
  }
  return out;
}
