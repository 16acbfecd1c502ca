import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { scramVerifier } from './scram-verifier.js';
import { promises as fs } from 'node:fs';
import { z } from 'zod';
import { AgentSession, agentSessionState, describeIssues } from '@airlock/shared';
import type { AgentSessionState } from '@airlock/shared';
import { writeFileAtomic } from '../config/files.js';
import { newId } from '../util/ids.js';
import { generateEd25519KeyPair, parseOpenSshPublicKey, removeSessionKey, sessionKeyPath, writeSessionKey, type SshPublicKey } from './ssh-identity.js';

const Base64 = z.string().regex(/^[A-Za-z0-9+/]+=*$/);
const TokenHash = z.string().regex(/^[0-9a-f]{64}$/);
const ScramVerifier = z.object({ storedKey: Base64, serverKey: Base64 });

/** How many tokens a session may have besides the one it was made with (each `airlock kubeconfig --session` mints one). */
export const MAX_ADDED_TOKENS = 32;

const StoredAgentSession = AgentSession.extend({
  tokenHash: TokenHash,
  /** SCRAM-SHA-256 verifier of the token, so wire protocols that use SCRAM (PostgreSQL) can check it */
  scram: ScramVerifier.optional(),
  /** tokens minted later for the same session (addToken): same session, same expiry */
  addedTokens: z.array(z.object({ tokenHash: TokenHash, scram: ScramVerifier.optional(), createdAt: z.string() })).max(MAX_ADDED_TOKENS).optional(),
});
type StoredAgentSession = z.infer<typeof StoredAgentSession>;
const ScramParameters = z.object({ salt: Base64, iterations: z.number().int().min(4096) });
const StoreFile = z.object({ version: z.literal(1), scram: ScramParameters.optional(), sessions: z.array(StoredAgentSession) });

/** What a SCRAM server needs: the salt and iteration count shared by all tokens, and each active session's keys. */
export interface ScramCandidates {
  salt: Buffer;
  iterations: number;
  sessions: { session: AgentSession; storedKey: Buffer; serverKey: Buffer }[];
}

export const TOKEN_PREFIX = 'alk_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface AgentSessionStoreOptions {
  /**
   * Where each new session's SSH private key is written (<data dir>/ssh/sessions); without it sessions
   * get no SSH key (stores used where no agent logs in over SSH).
   */
  sshKeyDir?: string;
}

export type AddTokenResult =
  | { ok: true; session: AgentSession; token: string }
  | { ok: false; reason: 'unknown' | 'revoked' | 'expired' | 'target' | 'full'; message: string };

export type AuthResult =
  | { ok: true; session: AgentSession }
  | { ok: false; reason: 'unknown' | 'revoked' | 'expired' | 'target'; message: string };

/**
 * Agent sessions and their bearer tokens. A token is returned once, at creation; only its SHA-256
 * is kept (tokens are 256 random bits, so a plain hash is enough). Lookups are by hash.
 *
 * Each session also gets an ed25519 SSH key pair: the private key is written to the key dir for the
 * agent's ssh client (`IdentityFile`), the public key is kept here and matched by
 * authenticateSshKey. How an SSH listener logs an agent in:
 * - public key: authenticateSshKey(ctx.key, target) names the session; the adapter must also check
 *   the client's signature (ctx.signature over ctx.blob) before accepting, as for any public key;
 * - password or keyboard-interactive: the answer is the session's token, checked with
 *   authenticate(token, target), as PostgreSQL's password login does.
 * Sessions made before SSH keys existed have none: they log in with the token only.
 */
export class AgentSessionStore {
  private readonly byId = new Map<string, StoredAgentSession>();
  private readonly byHash = new Map<string, StoredAgentSession>();
  /** by SHA-256 of the SSH public key blob, with the blob for the final comparison */
  private readonly bySshKey = new Map<string, { stored: StoredAgentSession; blob: Buffer }>();
  private writing: Promise<void> = Promise.resolve();
  private scramParameters = { salt: randomBytes(16).toString('base64'), iterations: 4096 };

  constructor(
    private readonly file: string,
    private readonly now: () => number = Date.now,
    private readonly options: AgentSessionStoreOptions = {},
  ) {}

  /** Loads the store; a corrupt file is refused (tokens would silently stop working otherwise). */
  async load(): Promise<void> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${this.file}: not valid JSON; move it away to start with no agent sessions`);
    }
    const parsed = StoreFile.safeParse(json);
    if (!parsed.success) throw new Error(describeIssues(this.file, parsed.error));
    if (parsed.data.scram) this.scramParameters = parsed.data.scram;
    for (const s of parsed.data.sessions) {
      try {
        this.index(s);
      } catch (err) {
        throw new Error(`${this.file}: agent session ${s.id}: ${(err as Error).message}; move the file away to start with no agent sessions`);
      }
    }
    // a revoke whose key file could not be removed then (a crash, a full disk) is finished now
    if (this.options.sshKeyDir !== undefined) {
      for (const s of this.byId.values()) if (s.revokedAt && s.sshPublicKey) await this.removeKey(s.id).catch(() => undefined);
    }
  }

  /**
   * A new session: its token (returned once) and, with a key dir, the path of its SSH private key
   * (`sshIdentity`), written before the session is stored so a stored key always has its file.
   */
  async create(input: { name: string; targets?: string[] | null; ttlMs: number }): Promise<{ session: AgentSession; token: string; sshIdentity?: string }> {
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const created = this.now();
    const id = newId('ses');
    let ssh: { publicKey: string; file: string } | undefined;
    if (this.options.sshKeyDir !== undefined) {
      const pair = generateEd25519KeyPair(`airlock agent session ${id}`);
      ssh = { publicKey: pair.publicKey, file: await writeSessionKey(this.options.sshKeyDir, id, pair.privateKey) };
    }
    const stored: StoredAgentSession = {
      id,
      name: input.name,
      targets: input.targets && input.targets.length > 0 ? [...input.targets] : null,
      createdAt: new Date(created).toISOString(),
      expiresAt: new Date(created + input.ttlMs).toISOString(),
      revokedAt: null,
      tokenHash: hashToken(token),
      scram: this.scramVerifierOf(token),
      ...(ssh ? { sshPublicKey: ssh.publicKey } : {}),
    };
    this.index(stored);
    try {
      await this.persist();
    } catch (err) {
      this.unindex(stored);
      if (ssh) await this.removeKey(id).catch(() => undefined);
      throw err;
    }
    return { session: publicView(stored), token, ...(ssh ? { sshIdentity: ssh.file } : {}) };
  }

  /** Checks a presented token, and that the session may use `target` when given. */
  authenticate(token: string, target?: string): AuthResult {
    const hash = hashToken(token);
    const stored = this.byHash.get(hash);
    // the map lookup is by hash, so timing reveals nothing about the token; compare anyway for defence in depth
    if (!stored || !tokenHashesOf(stored).some((h) => timingSafeEqual(Buffer.from(h, 'hex'), Buffer.from(hash, 'hex')))) {
      return { ok: false, reason: 'unknown', message: 'unknown agent session token' };
    }
    return this.verdictFor(stored, target);
  }

  /**
   * Another token for an existing session that may still be used (the daemon keeps only hashes, so
   * a client that needs the session's token and lacks it gets a new one): returned once, valid
   * until the session's expiry and revoked with it; the session's other tokens keep working. At
   * most MAX_ADDED_TOKENS per session.
   */
  async addToken(id: string): Promise<AddTokenResult> {
    const stored = this.byId.get(id);
    if (!stored) return { ok: false, reason: 'unknown', message: `no agent session "${id}"` };
    const state = this.verdictFor(stored, undefined);
    if (!state.ok) return { ok: false, reason: state.reason, message: `${state.message}: it gets no new token` };
    const added = stored.addedTokens ?? [];
    if (added.length >= MAX_ADDED_TOKENS) {
      return { ok: false, reason: 'full', message: `agent session "${stored.name}" (${stored.id}) has ${added.length} added tokens, the most one session may have: make a new session` };
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const entry = { tokenHash: hashToken(token), scram: this.scramVerifierOf(token), createdAt: new Date(this.now()).toISOString() };
    stored.addedTokens = [...added, entry];
    this.byHash.set(entry.tokenHash, stored);
    try {
      await this.persist();
    } catch (err) {
      // not on disk: not usable either
      stored.addedTokens = added;
      this.byHash.delete(entry.tokenHash);
      throw err;
    }
    return { ok: true, session: publicView(stored), token };
  }

  /**
   * Which session an SSH public key belongs to, and whether it may use `target` now: the same
   * results as authenticate(). Only matches the key: the caller must verify the client's signature.
   */
  authenticateSshKey(publicKey: SshPublicKey, target?: string): AuthResult {
    const found = this.bySshKey.get(createHash('sha256').update(publicKey.data).digest('hex'));
    // the lookup is by hash of a public value; the full comparison guards against a hash collision
    if (!found || publicKey.algo !== 'ssh-ed25519' || found.blob.length !== publicKey.data.length || !timingSafeEqual(found.blob, publicKey.data)) {
      return { ok: false, reason: 'unknown', message: `unknown SSH key ${publicKey.algo}: it belongs to no agent session (log in with the IdentityFile that "airlock ssh-config --session ID" writes)` };
    }
    return this.verdictFor(found.stored, target);
  }

  /** The path of the session's SSH private key, when it has one and this store writes keys. */
  sshIdentity(id: string): string | undefined {
    const stored = this.byId.get(id);
    if (!stored?.sshPublicKey || this.options.sshKeyDir === undefined) return undefined;
    return sessionKeyPath(this.options.sshKeyDir, stored.id);
  }

  private verdictFor(stored: StoredAgentSession, target: string | undefined): AuthResult {
    const state = agentSessionState(stored, this.now());
    if (state === 'revoked') return { ok: false, reason: 'revoked', message: `agent session "${stored.name}" (${stored.id}) was revoked` };
    if (state === 'expired') return { ok: false, reason: 'expired', message: `agent session "${stored.name}" (${stored.id}) expired at ${stored.expiresAt}` };
    if (target !== undefined && stored.targets !== null && !stored.targets.includes(target)) {
      return { ok: false, reason: 'target', message: `agent session "${stored.name}" (${stored.id}) may not use target "${target}"` };
    }
    return { ok: true, session: publicView(stored) };
  }

  /**
   * Every session with a SCRAM verifier, whatever its state: the proof tells which token the client
   * holds, and check() then says whether it may still be used (so a revoked token gets that reason).
   */
  scramCandidates(): ScramCandidates {
    const sessions: ScramCandidates['sessions'] = [];
    for (const s of this.byId.values()) {
      for (const scram of [s.scram, ...(s.addedTokens ?? []).map((t) => t.scram)]) {
        if (scram) sessions.push({ session: publicView(s), storedKey: Buffer.from(scram.storedKey, 'base64'), serverKey: Buffer.from(scram.serverKey, 'base64') });
      }
    }
    return { salt: Buffer.from(this.scramParameters.salt, 'base64'), iterations: this.scramParameters.iterations, sessions };
  }

  private scramVerifierOf(token: string): { storedKey: string; serverKey: string } {
    const { storedKey, serverKey } = scramVerifier(token, Buffer.from(this.scramParameters.salt, 'base64'), this.scramParameters.iterations);
    return { storedKey: storedKey.toString('base64'), serverKey: serverKey.toString('base64') };
  }

  /** Whether the session may act now, on `target` when given. */
  check(id: string, target?: string): AuthResult {
    const stored = this.byId.get(id);
    if (!stored) return { ok: false, reason: 'unknown', message: 'unknown agent session' };
    return this.verdictFor(stored, target);
  }

  get(idOrName: string): AgentSession | undefined {
    const byId = this.byId.get(idOrName);
    if (byId) return publicView(byId);
    const named = [...this.byId.values()].filter((s) => s.name === idOrName && agentSessionState(s, this.now()) === 'active');
    return named.length === 1 ? publicView(named[0]!) : undefined;
  }

  list(): (AgentSession & { state: AgentSessionState })[] {
    return [...this.byId.values()]
      .map((s) => ({ ...publicView(s), state: agentSessionState(s, this.now()) }))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** Sessions that are past their expiry but were active at `since`. */
  expiredSince(since: number): AgentSession[] {
    const now = this.now();
    return [...this.byId.values()]
      .filter((s) => !s.revokedAt && Date.parse(s.expiresAt) <= now && Date.parse(s.expiresAt) > since)
      .map(publicView);
  }

  async revoke(id: string): Promise<AgentSession | undefined> {
    const stored = this.byId.get(id);
    if (!stored) return undefined;
    if (!stored.revokedAt) {
      stored.revokedAt = new Date(this.now()).toISOString();
      await this.persist();
    }
    // after the revocation is on disk: the key is refused from now on whether or not the file goes,
    // and a file that could not be removed now is removed at the next load
    if (stored.sshPublicKey) await this.removeKey(stored.id).catch(() => undefined);
    return publicView(stored);
  }

  private index(s: StoredAgentSession): void {
    this.byId.set(s.id, s);
    for (const hash of tokenHashesOf(s)) this.byHash.set(hash, s);
    if (s.sshPublicKey) {
      const blob = parseOpenSshPublicKey(s.sshPublicKey).data;
      this.bySshKey.set(createHash('sha256').update(blob).digest('hex'), { stored: s, blob });
    }
  }

  private unindex(s: StoredAgentSession): void {
    this.byId.delete(s.id);
    for (const hash of tokenHashesOf(s)) this.byHash.delete(hash);
    if (s.sshPublicKey) this.bySshKey.delete(createHash('sha256').update(parseOpenSshPublicKey(s.sshPublicKey).data).digest('hex'));
  }

  private async removeKey(id: string): Promise<void> {
    if (this.options.sshKeyDir !== undefined) await removeSessionKey(this.options.sshKeyDir, id);
  }

  private persist(): Promise<void> {
    // serialized so an older snapshot never lands after a newer one
    const snapshot = JSON.stringify({ version: 1, scram: this.scramParameters, sessions: [...this.byId.values()] }, null, 2);
    this.writing = this.writing.catch(() => undefined).then(() => writeFileAtomic(this.file, snapshot, 0o600));
    return this.writing;
  }
}

function tokenHashesOf(s: StoredAgentSession): string[] {
  return [s.tokenHash, ...(s.addedTokens ?? []).map((t) => t.tokenHash)];
}

function publicView(s: StoredAgentSession): AgentSession {
  const { tokenHash: _hash, scram: _scram, addedTokens: _added, ...rest } = s;
  return { ...rest, targets: rest.targets ? [...rest.targets] : null };
}
