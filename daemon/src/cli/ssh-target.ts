import { upstreamUrlOf } from '@airlock/shared';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CredentialRef, Target } from '@airlock/shared';
import { checkSshPrivateKey, knownHostKeys, knownHostsLookupName } from '../config/ssh-keys.js';
import { pinCommand } from '../config/ssh-host-pin.js';
import { CliError } from './errors.js';

/** `airlock target add --protocol ssh`'s own options. */
export interface SshTargetOptions {
  keyFile?: string;
  keyEnv?: string;
  agentSocket?: string;
  hostKey?: string;
  knownHosts?: string;
}

/** A host key fingerprint as ssh-keygen -lf prints it (the config schema's rule). */
export const HOST_KEY_FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/**
 * The credential and host key pin of a new ssh target. Paths are made absolute (the daemon does not
 * run in the caller's directory); a key file must hold a private key without a passphrase, since
 * the daemon has none to give. What is wrong but fixable later is a warning (sshTargetWarnings).
 */
export function sshCredentialAndPin(name: string, opts: SshTargetOptions): { credential: CredentialRef; pin: { hostKey?: string; knownHosts?: string } } {
  const given = [opts.keyFile !== undefined && '--key-file', opts.keyEnv !== undefined && '--key-env', opts.agentSocket !== undefined && '--agent-socket'].filter((x): x is string => x !== false);
  if (given.length === 0) throw new CliError(`an ssh target needs the key airlockd logs in to the upstream with: give --key-file FILE, --key-env VAR or --agent-socket PATH`);
  if (given.length > 1) throw new CliError(`give one of --key-file, --key-env and --agent-socket, not ${given.join(' and ')}`);
  if (opts.hostKey !== undefined && opts.knownHosts !== undefined) throw new CliError('give --host-key or --known-hosts, not both: one pin, the one you checked');

  let credential: CredentialRef;
  if (opts.keyFile !== undefined) {
    const file = path.resolve(opts.keyFile);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CliError(`target "${name}": cannot read the key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      checkSshPrivateKey(name, text, `the key file ${file}`);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    credential = { file };
  } else if (opts.keyEnv !== undefined) {
    credential = { env: opts.keyEnv };
  } else {
    credential = { agentSocket: path.resolve(opts.agentSocket!) };
  }

  const pin: { hostKey?: string; knownHosts?: string } = {};
  if (opts.hostKey !== undefined) {
    if (!HOST_KEY_FINGERPRINT.test(opts.hostKey)) throw new CliError(`--host-key "${opts.hostKey}": expected SHA256: and 43 base64 characters, as ssh-keygen -lf prints it`);
    pin.hostKey = opts.hostKey;
  }
  if (opts.knownHosts !== undefined) {
    const file = path.resolve(opts.knownHosts);
    try {
      readFileSync(file);
    } catch (err) {
      throw new CliError(`target "${name}": cannot read the known_hosts file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    pin.knownHosts = file;
  }
  return { credential, pin };
}

/** What about a new ssh target will make its connections fail, or trusts more than it seems. */
export function sshTargetWarnings(target: Target): string[] {
  const out: string[] = [];
  const url = upstreamUrlOf(target);
  const port = url.port === '' ? 22 : Number(url.port);
  // URL keeps IPv6 hosts bracketed; known_hosts names them bare
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (target.hostKey === undefined && target.knownHosts === undefined) {
    out.push(
      `target "${target.name}": no upstream host key is pinned (--host-key or --known-hosts): the first connection will fail and print the fingerprint and the command to pin it (${pinCommand(target.name, 'SHA256:…')})`,
    );
  }
  if (target.knownHosts !== undefined) {
    try {
      const keys = knownHostKeys(readFileSync(target.knownHosts, 'utf8'), host, port).filter((k) => k.marker === undefined);
      if (keys.length === 0) out.push(`target "${target.name}": ${target.knownHosts} lists no host key for ${knownHostsLookupName(host, port)}: connections will fail until it does (or pin the key with --host-key)`);
      const mode = statSync(target.knownHosts).mode;
      if (mode & 0o022) out.push(`target "${target.name}": other users can change ${target.knownHosts} (mode 0${(mode & 0o777).toString(8)}) and so add a key airlockd would trust; run chmod go-w ${target.knownHosts}`);
    } catch (err) {
      out.push(`target "${target.name}": cannot read ${target.knownHosts}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (target.credential && 'agentSocket' in target.credential) {
    const socket = target.credential.agentSocket;
    let isSocket = false;
    try {
      isSocket = statSync(socket).isSocket();
    } catch {
      // missing: said below
    }
    if (!isSocket) out.push(`target "${target.name}": ${socket} is not a socket now; airlockd signs through it at each connection, so start an ssh-agent there (an agent started at login gets a new path each time)`);
  }
  if (target.credential && 'env' in target.credential) {
    const value = process.env[target.credential.env];
    // the daemon's environment is what counts; this shell's copy is checked when it has one
    if (value !== undefined) {
      try {
        checkSshPrivateKey(target.name, value, `$${target.credential.env}`);
      } catch (err) {
        out.push(`${(err as Error).message} (as set in this shell; airlockd reads its own environment)`);
      }
    }
  }
  return out;
}
