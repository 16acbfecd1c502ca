import { z } from 'zod';
import { TextCut } from '../text.js';

/**
 * The detail of SSH actions, one schema per kind (see STYLE.md, "A typed detail per action kind").
 * The policy attributes (class, commands, paths, sudo, pipeline, ...) are in `Action.attributes`;
 * the detail is what a person reads in the approval panel and the replay.
 */

/** Who the agent said it was and where it went: common to every SSH action. */
export const SshEndpoint = z.object({
  /** the user name the agent logged in to Airlock with (any name is accepted; recorded) */
  agentUser: z.string(),
  /** user@host:port of the upstream, as the target names it */
  upstream: z.string(),
  /** the agent connection (one per TCP connection to the listener) */
  connectionId: z.string(),
  /** the channel on that connection */
  channel: z.number().int().min(0).optional(),
});
export type SshEndpoint = z.infer<typeof SshEndpoint>;

/** One simple command of a parsed command line, as the shell classifier found it. */
export const SshCommandPart = z.object({
  /** the program as written (`systemctl`), or null when it is a variable or substitution */
  program: z.string().nullable(),
  /** its words, bounded */
  argv: z.array(z.string()),
  class: z.string(),
  /** for wrappers (`sudo`, `bash -c`, `env`, `xargs`, `timeout`, `nohup`): the chain down to this command */
  via: z.array(z.string()).default([]),
  reasons: z.array(z.string()).default([]),
});
export type SshCommandPart = z.infer<typeof SshCommandPart>;

export const SshExecDetail = SshEndpoint.extend({
  /** the command line exactly as the upstream will run it (bounded: see `commandCut`) */
  command: z.string(),
  commandCut: TextCut.optional(),
  /** the simple commands in the line, inner commands of wrappers included */
  parts: z.array(SshCommandPart).default([]),
  /** files the line writes (redirections, rm/mv/cp/tee/sed -i targets ...) */
  pathsWritten: z.array(z.string()).default([]),
  /** the shell parser could not read the line (then the class is unknown) */
  parseError: z.string().optional(),
  /** environment variables the agent asked to set for it (names and values, masked) */
  env: z.record(z.string(), z.string()).optional(),
  pty: z.boolean().default(false),
});
export type SshExecDetail = z.infer<typeof SshExecDetail>;

export const SshShellDetail = SshEndpoint.extend({
  pty: z.object({ term: z.string(), cols: z.number().int(), rows: z.number().int() }).optional(),
});
export type SshShellDetail = z.infer<typeof SshShellDetail>;

export const SFTP_OPERATIONS = ['open', 'close', 'read', 'write', 'opendir', 'readdir', 'stat', 'lstat', 'fstat', 'setstat', 'fsetstat', 'remove', 'rename', 'mkdir', 'rmdir', 'realpath', 'readlink', 'symlink', 'extended'] as const;
export const SftpOperation = z.enum(SFTP_OPERATIONS);
export type SftpOperation = z.infer<typeof SftpOperation>;

export const SshSftpDetail = SshEndpoint.extend({
  operation: SftpOperation,
  path: z.string(),
  /** rename / symlink: the other path */
  toPath: z.string().optional(),
  /** open: the pflags in words (read, write, create, truncate, append, excl) */
  flags: z.array(z.string()).optional(),
  /** setstat: what changes (mode, uid/gid, size, times) */
  attrs: z.record(z.string(), z.union([z.number(), z.string()])).optional(),
  /** operation `extended`: the extension's name (`hardlink@openssh.com`, ...) */
  extension: z.string().optional(),
});
export type SshSftpDetail = z.infer<typeof SshSftpDetail>;

export const SshForwardDetail = SshEndpoint.extend({
  /** direct-tcpip (ssh -L), tcpip-forward (ssh -R), streamlocal (unix sockets), auth-agent, x11 */
  forward: z.enum(['direct-tcpip', 'tcpip-forward', 'streamlocal', 'auth-agent', 'x11']),
  host: z.string().optional(),
  port: z.number().int().optional(),
  socketPath: z.string().optional(),
});
export type SshForwardDetail = z.infer<typeof SshForwardDetail>;

/** A subsystem other than sftp, or an `env` request outside LANG/LC_*. */
export const SshRequestDetail = SshEndpoint.extend({
  request: z.enum(['subsystem', 'env']),
  name: z.string(),
  value: z.string().optional(),
});
export type SshRequestDetail = z.infer<typeof SshRequestDetail>;

/** What an exec or shell ended with, recorded as its result detail. */
export const SshSessionResultDetail = z.object({
  exitStatus: z.number().int().nullable(),
  exitSignal: z.string().nullable().optional(),
  /** asciicast v2 of the output (masked) and, for shells, the input; bounded: `truncated` when cut */
  asciicast: z.string().optional(),
  truncated: z.boolean().optional(),
  bytesOut: z.number().int().min(0),
  bytesIn: z.number().int().min(0),
});
export type SshSessionResultDetail = z.infer<typeof SshSessionResultDetail>;

/** An sftp operation's result: how many bytes went and their digest, never the bytes. */
export const SshSftpResultDetail = z.object({
  status: z.string(),
  bytes: z.number().int().min(0).optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** why there is no sha256 for bytes that went (not one pass from offset 0, ...) */
  sha256Skipped: z.string().optional(),
  /** the upstream's own message when the status is not ok */
  message: z.string().optional(),
  entries: z.number().int().min(0).optional(),
});
export type SshSftpResultDetail = z.infer<typeof SshSftpResultDetail>;
