/**
 * Pinning an SSH target's upstream host key. ssh2's client accepts any host key unless told
 * otherwise, so a target without a pin (hostKey or knownHosts) never connects: its first connection
 * fails with the key's fingerprint and the command that pins it, and a person decides whether that is
 * the host's key.
 */

/** The command that pins `fingerprint` for `targetName`: `airlock target pin NAME SHA256:…`. */
export function pinCommand(targetName: string, fingerprint: string): string {
  return `airlock target pin ${targetName} ${fingerprint}`;
}

/**
 * What an agent (and the daemon's log) is told when an SSH target's first connection meets a host
 * key nothing pins. One sentence with the fingerprint and the exact command.
 */
export function unpinnedHostKeyMessage(targetName: string, fingerprint: string): string {
  return (
    `target "${targetName}": the upstream's host key is not pinned, so Airlock did not log in; it presented ${fingerprint}: ` +
    `if that is the host's key (compare with "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" run on the host), pin it with: ${pinCommand(targetName, fingerprint)}`
  );
}

/** When the upstream presents a key other than the pinned one: possibly someone in the middle. */
export function mismatchedHostKeyMessage(targetName: string, pinned: string, presented: string): string {
  return (
    `target "${targetName}": the upstream presented host key ${presented}, not the pinned ${pinned}, so Airlock did not log in: ` +
    `someone may be intercepting the connection, or the host's key was replaced; if the host's owner confirms the new key, pin it with: ${pinCommand(targetName, presented)}`
  );
}
