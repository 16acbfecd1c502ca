import { z } from 'zod';
import { Duration, Name, Protocol, parseDuration, refineUnique } from './common.js';

/** Where a target's real credential lives. Secrets are never written into config or policy. */
export const CredentialRef = z.union([
  /** PostgreSQL: the password; SSH: the private key (PEM / OpenSSH format) */
  z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'expected an environment variable name' }) }).strict(),
  /** PostgreSQL: a file holding the password; SSH: the private key file. Mode 0600, the daemon's user's */
  z.object({ file: z.string().min(1) }).strict(),
  /** SSH only: sign with a key held by an ssh-agent at this socket (the key never reaches the daemon) */
  z.object({ agentSocket: z.string().min(1) }).strict(),
]);
export type CredentialRef = z.infer<typeof CredentialRef>;

/** Where a credential lives, in words (lists, diffs): never the secret itself. */
export function describeCredential(ref: CredentialRef | undefined): string {
  if (ref === undefined) return 'none';
  if ('env' in ref) return `env ${ref.env}`;
  if ('file' in ref) return `file ${ref.file}`;
  return `ssh-agent ${ref.agentSocket}`;
}

export const ListenAddress = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535),
    /** serve TLS to agents (PEM files); agents may then also log in with a cleartext token */
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
  })
  .strict();
export type ListenAddress = z.infer<typeof ListenAddress>;

/** A duration that must not be zero: a zero timeout would close every connection at once. */
const PositiveDuration = Duration.refine((text) => parseDuration(text) > 0, { message: 'expected a duration above zero, such as "10s"' });

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * What one target's proxy may spend: the core checks these once when a target is loaded and hands
 * them to the adapter through ProxyContext, so no adapter carries its own size literals. Every field
 * can be set daemon-wide (config `limits`) and overridden per target (`targets[].limits`).
 */
export const LimitsShape = {
  /**
   * Largest protocol message accepted from an agent; a bigger one is refused with a protocol error
   * and closes that connection. 16 MiB: well above any statement a person or ORM writes (bulk data
   * belongs in COPY, whose rows are separate messages), and small enough that every connection a
   * target allows can hold one at once without exhausting the daemon.
   */
  maxMessageBytes: z.number().int().min(1 * KiB).max(1024 * MiB),
  /** largest message accepted from an upstream server (a single result row, a notice) */
  upstreamMessageBytes: z.number().int().min(64 * KiB).max(1024 * MiB),
  /** bytes an agent may have queued ahead of the proxy before its socket is paused */
  bufferBytes: z.number().int().min(64 * KiB).max(1024 * MiB),
  /**
   * Of each statement, command or body, this much text is kept in the action, its events and its
   * record; the rest is represented by its length and SHA-256 only.
   */
  actionTextBytes: z.number().int().min(256).max(16 * MiB),
  /** statements longer than this are parsed off the main thread, so they do not stall other sessions */
  inlineParseBytes: z.number().int().min(1 * KiB).max(1024 * MiB),
  /** open agent connections to the target, over all agent sessions */
  maxConnections: z.number().int().min(1).max(100_000),
  /** open connections to the target of one agent session */
  maxConnectionsPerSession: z.number().int().min(1).max(100_000),
  /** a connection that has not logged in within this time is closed (slowloris) */
  authTimeout: PositiveDuration,
  /** a logged-in connection with no traffic either way for this long is closed; "0s" = never */
  idleTimeout: Duration,
  /** connecting and logging in to the upstream server */
  connectTimeout: PositiveDuration,
  /** SSH: channels (sessions, forwards) open at once on one agent connection; OpenSSH's MaxSessions is 10 */
  maxChannelsPerConnection: z.number().int().min(1).max(10_000),
  /** SSH: bytes of terminal output (and shell input) kept in the recording of one exec or shell; the stream itself goes on */
  recordedBytesPerClip: z.number().int().min(0).max(1024 * MiB),
};

export const Limits = z.object(LimitsShape).strict();
export type Limits = z.infer<typeof Limits>;

export const DEFAULT_LIMITS: Limits = {
  maxMessageBytes: 16 * MiB,
  upstreamMessageBytes: 256 * MiB,
  bufferBytes: 16 * MiB,
  actionTextBytes: 64 * KiB,
  inlineParseBytes: 256 * KiB,
  // PostgreSQL's default max_connections is 100; one target's agents get a fraction of it
  maxConnections: 40,
  maxConnectionsPerSession: 20,
  authTimeout: '10s',
  idleTimeout: '0s',
  connectTimeout: '10s',
  maxChannelsPerConnection: 10,
  recordedBytesPerClip: 256 * KiB,
};

/** Overrides of the daemon-wide limits, daemon-wide (config `limits`) or per target. */
export const LimitOverrides = z.object(LimitsShape).partial().strict();
export type LimitOverrides = z.infer<typeof LimitOverrides>;

/** How an HTTP target presents its credential upstream (see Target.auth). */
export const HttpAuth = z.union([z.literal('bearer'), z.literal('basic'), z.string().regex(/^header:[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { message: 'expected bearer, basic or header:NAME (such as header:X-API-Key)' })]);
export type HttpAuth = z.infer<typeof HttpAuth>;

/** An egress allow-list entry: a host glob, optionally with a port (`*.npmjs.org`, `github.com:443`, `[::1]:8080`). */
export const EgressHostPattern = z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9*?._{},[\]-]+)(:\d{1,5})?$/, { message: 'expected a host or host:port, globs allowed on the host (such as *.npmjs.org or github.com:443)' });

/** A host name or address that always means this machine (no DNS asked: the name itself says so). */
export function isLoopbackHostName(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
}

export const Target = z
  .object({
    name: Name,
    protocol: Protocol,
    /** where the target's traffic goes; every protocol but egress (which goes wherever policy lets it) has one */
    upstream: z.string().url({ message: 'expected a URL such as postgres://user@db.internal:5432/app' }).optional(),
    listen: ListenAddress,
    credential: CredentialRef.optional(),
    /** this target's own limits, over the daemon-wide ones (see Limits) */
    limits: LimitOverrides.optional(),
    /**
     * PostgreSQL: read the server's catalog through a connection of the daemon's own (what user
     * functions, views and triggers do; where result columns come from). On unless set to false, which
     * only a server that takes a single connection needs (the embedded demo database): then calls are
     * judged by their text alone and column rules by output names.
     */
    catalog: z.boolean().optional(),
    /**
     * SSH: the upstream's host key, pinned: its SHA-256 fingerprint as OpenSSH prints it
     * (`SHA256:` and 43 base64 characters), or a known_hosts file naming the host. Without either
     * the first connection fails with the fingerprint and the command that pins it.
     */
    hostKey: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, { message: 'expected a host key fingerprint such as SHA256:…, as ssh-keygen -lf prints it' }).optional(),
    knownHosts: z.string().min(1).optional(),
    /**
     * HTTP: how the real credential is presented upstream: `bearer` (Authorization: Bearer SECRET),
     * `basic` (the upstream URL's user name, or the part of the secret before ":", and the secret as
     * the password) or `header:NAME` (the secret as the value of header NAME). Default bearer.
     */
    auth: HttpAuth.optional(),
    /** HTTP, Kubernetes: PEM file of the certificate authorities that sign the upstream's certificate (on top of the system's) */
    caFile: z.string().min(1).optional(),
    /**
     * HTTP: accept a plain http:// upstream. Only on a loopback address: whatever binds that port
     * receives the injected credential, so this is for a service on this machine.
     */
    plaintext: z.boolean().optional(),
    /**
     * HTTP: request paths (globs) that serve GraphQL; requests to them are classified by their
     * operations. Default ["**\/graphql"].
     */
    graphqlPaths: z.array(z.string().min(1)).optional(),
    /**
     * Egress: the hosts agents may reach without asking, `host` or `host:port`, globs on the host
     * (`*.npmjs.org`, `github.com:443`). Other public hosts are held for approval; private, loopback,
     * link-local and metadata addresses are refused unless listed here by name or address.
     */
    allowHosts: z.array(EgressHostPattern).optional(),
    /**
     * Kubernetes: a kubeconfig file the upstream server, its CA and the user credential (client
     * certificate, token or exec credential plugin) are read from, instead of upstream + credential.
     */
    kubeconfig: z.string().min(1).optional(),
    /** Kubernetes: the kubeconfig context to use (default: its current-context) */
    context: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((target, ctx) => {
    const onlyFor = (field: keyof typeof target, protocols: string[]) => {
      if (target[field] !== undefined && !protocols.includes(target.protocol)) {
        ctx.addIssue({ code: 'custom', path: [field], message: `${field} applies to ${protocols.join(' and ')} targets only` });
      }
    };
    onlyFor('auth', ['http']);
    onlyFor('caFile', ['http', 'kubernetes']);
    onlyFor('plaintext', ['http']);
    onlyFor('graphqlPaths', ['http']);
    onlyFor('allowHosts', ['egress']);
    onlyFor('kubeconfig', ['kubernetes']);
    onlyFor('context', ['kubernetes']);
    if (target.protocol === 'kubernetes') {
      if (target.context !== undefined && target.kubeconfig === undefined) ctx.addIssue({ code: 'custom', path: ['context'], message: 'context names a context of the kubeconfig: set kubeconfig (--kubeconfig) too' });
      if (target.kubeconfig !== undefined) {
        if (target.upstream !== undefined || target.credential !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['kubeconfig'], message: 'a kubernetes target takes either a kubeconfig (server and credential read from it) or an upstream URL with a credential, not both' });
        }
        return;
      }
      if (target.upstream !== undefined && target.credential === undefined) {
        ctx.addIssue({ code: 'custom', path: ['credential'], message: 'a kubernetes target with an upstream URL needs a token: credential.env or credential.file (--token-env / --token-file), or use --kubeconfig' });
      }
      if (target.credential && 'agentSocket' in target.credential) {
        ctx.addIssue({ code: 'custom', path: ['credential'], message: 'a kubernetes target takes credential.env or credential.file (a bearer token)' });
      }
    }
    if (target.protocol === 'egress') {
      if (target.upstream !== undefined) ctx.addIssue({ code: 'custom', path: ['upstream'], message: 'an egress target has no upstream: it forwards to the hosts policy lets agents reach' });
      if (target.credential !== undefined) ctx.addIssue({ code: 'custom', path: ['credential'], message: 'an egress target injects no credential' });
      return;
    }
    if (target.upstream === undefined) {
      ctx.addIssue({ code: 'custom', path: ['upstream'], message: target.protocol === 'kubernetes' ? 'a kubernetes target needs a kubeconfig (--kubeconfig) or an upstream URL (--upstream https://HOST:6443)' : `a ${target.protocol} target needs an upstream URL` });
      return;
    }
    const url = new URL(target.upstream);
    const scheme = url.protocol.replace(/:$/, '');
    // a kubernetes upstream is always https: its TLS identity is verified before the credential goes
    const expected: Record<string, string[]> = { postgres: ['postgres', 'postgresql'], ssh: ['ssh'], kubernetes: ['https'], http: ['https', 'http'] };
    if (!(expected[target.protocol] ?? []).includes(scheme)) {
      ctx.addIssue({ code: 'custom', path: ['upstream'], message: `a ${target.protocol} target's upstream URL starts with ${(expected[target.protocol] ?? []).map((s) => `${s}://`).join(' or ')}, not ${scheme}://` });
    }
    if (target.protocol !== 'ssh' && (target.hostKey !== undefined || target.knownHosts !== undefined || (target.credential && 'agentSocket' in target.credential))) {
      ctx.addIssue({ code: 'custom', path: ['protocol'], message: 'hostKey, knownHosts and credential.agentSocket apply to ssh targets only' });
    }
    if (target.protocol === 'http' && scheme === 'http') {
      if (target.plaintext !== true) {
        ctx.addIssue({ code: 'custom', path: ['upstream'], message: 'a plain http:// upstream would receive the real credential unencrypted: use https://, or set plaintext (--plaintext) for a service on this machine\'s loopback address' });
      } else if (!isLoopbackHostName(url.hostname)) {
        ctx.addIssue({ code: 'custom', path: ['upstream'], message: `plaintext applies to loopback upstreams only (127.0.0.1, ::1, localhost), not ${url.hostname}: use https://` });
      }
    }
    if (target.protocol === 'http' && target.auth !== undefined && target.credential === undefined) {
      ctx.addIssue({ code: 'custom', path: ['auth'], message: 'auth names how to present a credential, but the target has none: add credential.env or credential.file (--secret-env / --secret-file)' });
    }
    if (url.password) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstream'],
        message: 'the upstream URL must not contain a password: reference it with credential.env or credential.file',
      });
    }
  });
export type Target = z.infer<typeof Target>;

/** The upstream URL of a target that has one (every protocol but egress; the schema checks it). */
export function upstreamUrlOf(target: Pick<Target, 'name' | 'protocol' | 'upstream'>): URL {
  if (target.upstream === undefined) throw new Error(`target "${target.name}" (${target.protocol}) has no upstream URL`);
  return new URL(target.upstream);
}

/** Where a target goes, in words for lists: its upstream URL, or for egress what decides. */
export function describeUpstream(target: Pick<Target, 'upstream'> & Partial<Pick<Target, 'kubeconfig' | 'context'>>): string {
  if (target.upstream === undefined && target.kubeconfig !== undefined) return `kubeconfig ${target.kubeconfig}${target.context ? ` (context ${target.context})` : ''}`;
  return target.upstream ?? 'any host policy allows (egress)';
}

export const RecordingMode = z.enum(['async', 'sync']);
export type RecordingMode = z.infer<typeof RecordingMode>;

export const RecordingConfig = z
  .object({
    /** sync: an action waits until its records are on disk, and is refused if they cannot be written. */
    mode: RecordingMode.default('async'),
    /** async mode: records waiting to be written before new actions wait. */
    queueLimit: z.number().int().min(1).default(10_000),
    /**
     * async mode: bytes of records waiting to be written (per recording) before new actions wait. 32 MiB:
     * hundreds of the largest records (an action keeps at most limits.actionTextBytes of its text), and
     * seconds of writing at the rate a disk takes them; the count alone let 10,000 large records queue.
     */
    queueBytes: z.number().int().min(64 * 1024).default(32 * 1024 * 1024),
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
    /** daemon-wide limits; each target may override them (see Limits) */
    limits: LimitOverrides.default({}),
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
