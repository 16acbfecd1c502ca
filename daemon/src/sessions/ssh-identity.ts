import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { HomePaths } from '../config/paths.js';
import { writeFileAtomic } from '../config/files.js';

// ssh2 is CommonJS; its named exports are not visible to ESM imports
const { utils } = ssh2;

/**
 * SSH identities the daemon makes: its own host key (what agents' ssh clients pin, through the
 * config `airlock ssh-config` writes) and one key pair per agent session (how an agent's ssh client
 * logs in to the daemon's listeners). Both are ed25519, in OpenSSH's private key format, so ssh,
 * ssh-keygen and ssh2 read them as they are.
 */

/** The daemon's SSH host key, as the SSH adapter serves it and as clients pin it. */
export interface HostKey {
  /** OpenSSH private key format (`-----BEGIN OPENSSH PRIVATE KEY-----`), for ssh2's `hostKeys` */
  privateKeyPem: string;
  /** `ssh-ed25519 AAAA…`, as in a known_hosts line or a .pub file (no comment) */
  publicKeyOpenSsh: string;
  /** `SHA256:…`, as `ssh-keygen -lf` prints it */
  fingerprint: string;
}

/** The public half of a key as SSH carries it: algorithm name and wire blob. */
export interface SshPublicKey {
  algo: string;
  data: Buffer;
}

/** A key's SHA-256 fingerprint as OpenSSH prints it: `SHA256:` and unpadded base64 of the key blob. */
export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Parses `ssh-ed25519 AAAA… [comment]` (a .pub line, an authorized_keys entry without options). */
export function parseOpenSshPublicKey(line: string): SshPublicKey {
  const [algo, base64] = line.trim().split(/\s+/);
  if (!algo || !base64 || !/^[A-Za-z0-9+/]+=*$/.test(base64)) throw new Error(`not an OpenSSH public key line: expected "ALGORITHM BASE64", got "${line.slice(0, 40)}"`);
  const data = Buffer.from(base64, 'base64');
  // the blob starts with its own algorithm name; a line whose two disagree is not a key
  const nameLength = data.length >= 4 ? data.readUInt32BE(0) : -1;
  if (nameLength < 0 || 4 + nameLength > data.length || data.subarray(4, 4 + nameLength).toString('latin1') !== algo) {
    throw new Error(`not an OpenSSH public key line: its key data is not a ${algo} key`);
  }
  return { algo, data };
}

/** The fingerprint of an OpenSSH public key line. */
export function fingerprintOfPublicKey(line: string): string {
  return sshFingerprint(parseOpenSshPublicKey(line).data);
}

/** A new ed25519 key pair: the private key in OpenSSH format, the public key as an OpenSSH line without comment. */
export function generateEd25519KeyPair(comment: string): { privateKey: string; publicKey: string } {
  const pair = utils.generateKeyPairSync('ed25519', { comment });
  const parsed = utils.parseKey(pair.private);
  if (parsed instanceof Error) throw new Error(`a freshly generated ed25519 key does not parse: ${parsed.message}`);
  return { privateKey: pair.private, publicKey: `ssh-ed25519 ${parsed.getPublicSSH().toString('base64')}` };
}

/** Why the daemon will not use a private key file of its own (owner, mode), or undefined when it is fine. */
function ownKeyProblem(file: string, stats: { uid: number; mode: number }): string | undefined {
  // POSIX only: on Windows neither uid nor mode bits say who can read the file
  if (typeof process.getuid !== 'function') return undefined;
  if (stats.uid !== process.getuid()) return `${file} belongs to uid ${stats.uid}, not to airlockd's user (uid ${process.getuid()}); chown it or move it away to have a new key made`;
  if (stats.mode & 0o077) return `${file} can be read or changed by other users (mode 0${(stats.mode & 0o777).toString(8)}); run chmod 600 ${file}`;
  return undefined;
}

/**
 * The daemon's SSH host key: read from <data dir>/ssh/host_ed25519_key, or made there (0600, in a 0700
 * directory) the first time. It must persist: agents' ssh configs pin it, and a new key would make
 * every one of them refuse the daemon. A key file another user could read is refused (whoever has it
 * can pose as the daemon to agents), as sshd does.
 */
export async function loadOrCreateHostKey(paths: Pick<HomePaths, 'sshDir' | 'sshHostKey'>): Promise<HostKey> {
  await fs.mkdir(paths.sshDir, { recursive: true, mode: 0o700 });
  let text: string;
  try {
    const handle = await fs.open(paths.sshHostKey, 'r');
    try {
      const wrong = ownKeyProblem(paths.sshHostKey, await handle.stat());
      if (wrong) throw new Error(`airlockd will not use its SSH host key: ${wrong}`);
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const made = generateEd25519KeyPair('airlockd host key');
    await writeFileAtomic(paths.sshHostKey, made.privateKey, 0o600);
    // beside it, for people: ssh-keygen -lf on the .pub prints the fingerprint the daemon reports
    await writeFileAtomic(`${paths.sshHostKey}.pub`, `${made.publicKey} airlockd host key\n`, 0o644);
    text = made.privateKey;
  }
  const parsed = utils.parseKey(text);
  if (parsed instanceof Error) throw new Error(`airlockd's SSH host key ${paths.sshHostKey} cannot be read: ${parsed.message}; move it away to have a new one made (agents' ssh configs then need "airlock ssh-config" again)`);
  if (parsed.type !== 'ssh-ed25519' || !parsed.isPrivateKey()) throw new Error(`airlockd's SSH host key ${paths.sshHostKey} is not an ed25519 private key (it is ${parsed.type}); move it away to have a new one made`);
  const blob = parsed.getPublicSSH();
  return { privateKeyPem: text, publicKeyOpenSsh: `ssh-ed25519 ${blob.toString('base64')}`, fingerprint: sshFingerprint(blob) };
}

/** Agent session ids are `ses_` and base32; anything else is not used as a file name. */
function safeSessionId(sessionId: string): string {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(sessionId)) throw new Error(`agent session id "${sessionId}" cannot name a key file`);
  return sessionId;
}

/** Where an agent session's private key is kept: <data dir>/ssh/sessions/<session id>. */
export function sessionKeyPath(keyDir: string, sessionId: string): string {
  return path.join(keyDir, safeSessionId(sessionId));
}

/** Writes a session's private key, 0600, in a 0700 directory (ssh refuses a key others can read). */
export async function writeSessionKey(keyDir: string, sessionId: string, privateKey: string): Promise<string> {
  await fs.mkdir(path.dirname(keyDir), { recursive: true, mode: 0o700 });
  await fs.mkdir(keyDir, { recursive: true, mode: 0o700 });
  const file = sessionKeyPath(keyDir, sessionId);
  await writeFileAtomic(file, privateKey, 0o600);
  return file;
}

/** Removes a session's private key (and the ssh config written for it); files already gone are fine. */
export async function removeSessionKey(keyDir: string, sessionId: string): Promise<void> {
  const file = sessionKeyPath(keyDir, sessionId);
  await fs.rm(file, { force: true });
  await fs.rm(`${file}.config`, { force: true });
}
