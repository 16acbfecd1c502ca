import { X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HomePaths } from './paths.js';
import { authorityFromPem, createCertificateAuthority, issueServerCertificate, type CertificateAuthority, type ServerCertificate } from './certificate-issuer.js';

/**
 * The daemon's local certificate authority. Listeners that speak TLS to agents (the Kubernetes API
 * listener) serve a certificate it signs, and the kubeconfig Airlock writes carries its certificate as
 * `certificate-authority-data`, so clients verify the daemon without a flag that turns verification
 * off. Made once under <data dir>/ca/ and kept: a new CA would make every kubeconfig written before
 * refuse the daemon. Whoever holds its key can pose as any listener to agents, so a key file another
 * user could read is refused, as sshd refuses such a host key.
 */

const day = 24 * 60 * 60 * 1000;
/** The CA outlives any machine it is made on. */
const authorityLifetime = 10 * 365 * day;
/** A leaf lives shorter; it is re-issued from memory, so a short life costs nothing. */
const leafLifetime = 90 * day;
/** A leaf with less than this left is re-issued before it is served again. */
const leafRenewBefore = 30 * day;

/** The daemon's local CA as agents' kubeconfigs know it, and what issues listener certificates. */
export interface LocalCa {
  /** the CA certificate, PEM: what a kubeconfig's certificate-authority-data carries (base64 of it) */
  readonly certPem: string;
  /** SHA-256 of the CA certificate, colon-separated hex as `openssl x509 -fingerprint -sha256` prints it */
  readonly fingerprint: string;
  readonly certFile: string;
  /** A server certificate for the loopback names and `hosts`, signed by this CA; the same one until it nears expiry. */
  leafFor(hosts?: readonly string[]): Promise<ServerCertificate>;
}

export interface LocalCaOptions {
  /** the name in the CA's subject, "Airlock local CA (<hostname>)"; the machine's host name by default */
  hostname?: string;
  /** the time certificates are judged and issued by; tests move it */
  now?: () => Date;
}

/** Why the daemon will not use its CA key file (owner, mode), or undefined when it is fine. */
function keyFileProblem(file: string, stats: { uid: number; mode: number }): string | undefined {
  // POSIX only: on Windows neither uid nor mode bits say who can read the file
  if (typeof process.getuid !== 'function') return undefined;
  const uid = process.getuid();
  if (stats.uid !== uid) return `${file} belongs to uid ${stats.uid}, not to airlockd's user (uid ${uid}); chown it to that user, or move ${path.dirname(file)} away to have a new CA made (kubeconfigs then need "airlock kubeconfig" again)`;
  const mode = stats.mode & 0o777;
  if (mode & 0o077) return `${file} can be read or changed by other users (mode 0${mode.toString(8)}); run chmod 600 ${file}`;
  return undefined;
}

/** Reads a file checking owner and mode on the open file itself, so a swap between check and read does not count. */
async function readKeyFile(file: string): Promise<string> {
  const handle = await fs.open(file, 'r');
  try {
    const wrong = keyFileProblem(file, await handle.stat());
    if (wrong) throw new Error(`airlockd will not use its local CA: ${wrong}`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

async function readIfPresent(read: () => Promise<string>): Promise<string | undefined> {
  try {
    return await read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Makes the CA in a fresh directory beside <data dir>/ca and renames it into place, so a crash never
 * leaves a key without its certificate, and a second daemon starting at the same moment keeps the first's.
 */
async function createOnDisk(paths: Pick<HomePaths, 'caDir' | 'caKey' | 'caCert'>, commonName: string, now: Date): Promise<void> {
  await fs.mkdir(path.dirname(paths.caDir), { recursive: true, mode: 0o700 });
  const staging = await fs.mkdtemp(`${paths.caDir}.new-`);
  try {
    await fs.chmod(staging, 0o700);
    const ca = await createCertificateAuthority({ commonName, notBefore: new Date(now.getTime() - 60_000), notAfter: new Date(now.getTime() + authorityLifetime) });
    await fs.writeFile(path.join(staging, path.basename(paths.caKey)), ca.keyPem, { mode: 0o600 });
    await fs.writeFile(path.join(staging, path.basename(paths.caCert)), ca.certPem, { mode: 0o644 });
    try {
      await fs.rename(staging, paths.caDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

class DiskLocalCa implements LocalCa {
  readonly certPem: string;
  readonly fingerprint: string;
  private readonly leaves = new Map<string, ServerCertificate>();

  constructor(
    private readonly authority: CertificateAuthority,
    readonly certFile: string,
    private readonly now: () => Date,
  ) {
    this.certPem = authority.certPem;
    this.fingerprint = new X509Certificate(authority.certPem).fingerprint256;
  }

  async leafFor(hosts: readonly string[] = []): Promise<ServerCertificate> {
    const key = [...new Set(hosts.map((host) => host.toLowerCase()))].sort().join(',');
    const now = this.now();
    const held = this.leaves.get(key);
    if (held && held.notAfter.getTime() - now.getTime() > leafRenewBefore) return held;
    if (this.authority.notAfter.getTime() <= now.getTime()) {
      throw new Error(`airlockd's local CA ${this.certFile} expired on ${this.authority.notAfter.toISOString()}; move ${path.dirname(this.certFile)} away to have a new one made (kubeconfigs then need "airlock kubeconfig" again)`);
    }
    const leaf = await issueServerCertificate(this.authority, {
      hosts,
      commonName: 'Airlock listener',
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + leafLifetime),
    });
    this.leaves.set(key, leaf);
    return leaf;
  }
}

/**
 * The daemon's local CA: read from <data dir>/ca (ca.key 0600, ca.crt 0644, in a 0700 directory), or
 * made there the first time. A key file another user could read or own is refused with the fix; a
 * directory holding only one of the two files, or files that do not belong together, is refused too
 * rather than silently replaced (kubeconfigs written before trust the old CA).
 */
export async function loadOrCreateLocalCa(paths: Pick<HomePaths, 'caDir' | 'caKey' | 'caCert'>, options: LocalCaOptions = {}): Promise<LocalCa> {
  const now = options.now ?? (() => new Date());
  const commonName = `Airlock local CA (${options.hostname ?? os.hostname()})`;
  let keyPem = await readIfPresent(() => readKeyFile(paths.caKey));
  let certPem = await readIfPresent(() => fs.readFile(paths.caCert, 'utf8'));
  if (keyPem === undefined && certPem === undefined) {
    await createOnDisk(paths, commonName, now());
    keyPem = await readKeyFile(paths.caKey);
    certPem = await fs.readFile(paths.caCert, 'utf8');
  }
  const moveAway = `move ${paths.caDir} away to have a new CA made (kubeconfigs then need "airlock kubeconfig" again)`;
  if (keyPem === undefined) throw new Error(`airlockd will not use its local CA: ${paths.caCert} is there but its key ${paths.caKey} is missing; ${moveAway}`);
  if (certPem === undefined) throw new Error(`airlockd will not use its local CA: ${paths.caKey} is there but its certificate ${paths.caCert} is missing; ${moveAway}`);
  let authority: CertificateAuthority;
  try {
    authority = await authorityFromPem(certPem, keyPem);
  } catch (err) {
    throw new Error(`airlockd will not use its local CA in ${paths.caDir}: ${(err as Error).message}; ${moveAway}`);
  }
  return new DiskLocalCa(authority, paths.caCert, now);
}
