import { z } from 'zod';
import { Duration, Name, Protocol, refineUnique } from './common.js';

/** Where a target's real credential lives. Secrets are never written into config or policy. */
export const CredentialRef = z.union([
  z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'expected an environment variable name' }) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);
export type CredentialRef = z.infer<typeof CredentialRef>;

export const ListenAddress = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535),
    /** serve TLS to agents (PEM files); agents may then also log in with a cleartext token */
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
  })
  .strict();
export type ListenAddress = z.infer<typeof ListenAddress>;

export const Target = z
  .object({
    name: Name,
    protocol: Protocol,
    upstream: z.string().url({ message: 'expected a URL such as postgres://user@db.internal:5432/app' }),
    listen: ListenAddress,
    credential: CredentialRef.optional(),
    /** largest protocol message accepted from an agent; a bigger one closes that connection */
    maxMessageBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(64 * 1024 * 1024),
    /**
     * PostgreSQL: read the server's catalog through a connection of the daemon's own (what user
     * functions, views and triggers do; where result columns come from). On unless set to false, which
     * only a server that takes a single connection needs (the embedded demo database): then calls are
     * judged by their text alone and column rules by output names.
     */
    catalog: z.boolean().optional(),
  })
  .strict()
  .superRefine((target, ctx) => {
    const url = new URL(target.upstream);
    if (url.password) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstream'],
        message: 'the upstream URL must not contain a password: reference it with credential.env or credential.file',
      });
    }
  });
export type Target = z.infer<typeof Target>;

export const RecordingMode = z.enum(['async', 'sync']);
export type RecordingMode = z.infer<typeof RecordingMode>;

export const RecordingConfig = z
  .object({
    /** sync: an action waits until its records are on disk, and is refused if they cannot be written. */
    mode: RecordingMode.default('async'),
    /** async mode: records waiting to be written before new actions wait. */
    queueLimit: z.number().int().min(1).default(10_000),
    /** first rows of a result kept in the log (masked) */
    resultRows: z.number().int().min(0).default(50),
    resultBytes: z.number().int().min(0).default(64 * 1024),
    /** recordings kept in the session index; logs of older ones stay on disk */
    indexLimit: z.number().int().min(10).default(5_000),
  })
  .strict();
export type RecordingConfig = z.infer<typeof RecordingConfig>;

export const LocalConfig = z
  .object({
    version: z.literal(1).default(1),
    api: z
      .object({
        host: z.string().default('127.0.0.1'),
        /** 0 picks a free port at start; the chosen one is written to daemon.json */
        port: z.number().int().min(0).max(65535).default(0),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 0 }),
    targets: z.array(Target).default([]),
    recording: RecordingConfig.default(RecordingConfig.parse({})),
    /** local policy file; relative paths are relative to the data dir */
    policyFile: z.string().min(1).default('policy.yaml'),
    approvals: z
      .object({ defaultTimeout: Duration.default('5m') })
      .strict()
      .default({ defaultTimeout: '5m' }),
    central: z.object({ url: z.string().url() }).strict().optional(),
  })
  .strict()
  .superRefine((config, ctx) => refineUnique(config.targets, (t) => t.name, ctx, { list: 'targets', field: 'name', what: 'target name' }));
export type LocalConfig = z.infer<typeof LocalConfig>;

/** Written by the daemon at start to <data dir>/daemon.json, mode 0600; removed on clean stop. */
export const DaemonInfo = z.object({
  pid: z.number().int(),
  host: z.string(),
  port: z.number().int(),
  token: z.string().min(16),
  version: z.string(),
  startedAt: z.string(),
});
export type DaemonInfo = z.infer<typeof DaemonInfo>;
