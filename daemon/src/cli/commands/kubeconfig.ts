import path from 'node:path';
import type { Command } from 'commander';
import { AddSessionTokenResponse, CreateAgentSessionResponse, KubeconfigResponse, TargetsResponse, parseDuration } from '@airlock/shared';
import { writeFileAtomic } from '../../config/files.js';
import { DaemonClient } from '../daemon-client.js';
import { CliError } from '../errors.js';
import type { CliContext } from '../context.js';

/** The variable an existing session's token is read from when set: the daemon keeps only its hash, so without it a new token is minted. */
const TOKEN_VARIABLE = 'AIRLOCK_SESSION_TOKEN';

export function registerKubeconfig(program: Command, ctx: CliContext): void {
  program
    .command('kubeconfig')
    .description(
      "write a kubeconfig for an agent session: one context per kubernetes target (named after it) whose server is the target's listener, trusted through airlockd's local CA, with the session's token; prints the file's path (use: KUBECONFIG=FILE kubectl --context TARGET ...)",
    )
    .option(
      '--session <id>',
      `an existing, active agent session (id, or the name of one active session); its token is read from ${TOKEN_VARIABLE} when set, otherwise the daemon mints another token for the session (same expiry; the session's other tokens keep working). Without --session a new session is made`,
    )
    .option('--ttl <duration>', 'the new session\'s lifetime, e.g. 8h', '8h')
    .option('--out <file>', 'where to write it (the daemon keeps its copy in <data dir>/kube/<session id>.kubeconfig)')
    .action(async (opts: { session?: string; ttl: string; out?: string }) => {
      const client = await DaemonClient.connect(ctx.home());
      const statuses = (await client.get('/v1/targets', TargetsResponse)).targets.filter((s) => s.target.protocol === 'kubernetes');
      for (const status of statuses) {
        if (status.state !== 'listening') console.error(`airlock: target ${status.target.name} is not listening (${status.error ?? status.state}); it has no context in the kubeconfig`);
      }
      const listening = statuses.filter((s) => s.state === 'listening').map((s) => s.target.name);
      if (listening.length === 0) throw new CliError('no kubernetes target is listening: add one with "airlock target add NAME --protocol kubernetes --kubeconfig PATH --listen 127.0.0.1:PORT"');

      let sessionId: string;
      let token: string;
      if (opts.session !== undefined) {
        const value = process.env[TOKEN_VARIABLE];
        if (value) {
          sessionId = opts.session;
          token = value;
        } else {
          // the daemon keeps only token hashes: the kubeconfig gets a token of its own for the session
          const added = await client.post(`/v1/agent-sessions/${encodeURIComponent(opts.session)}/tokens`, {}, AddSessionTokenResponse);
          sessionId = added.session.id;
          token = added.token;
          console.error(`airlock: minted another token for agent session ${added.session.id} "${added.session.name}" (${TOKEN_VARIABLE} is not set), valid until ${added.session.expiresAt}`);
        }
      } else {
        try {
          parseDuration(opts.ttl);
        } catch (err) {
          throw new CliError(`--ttl: ${(err as Error).message}`);
        }
        const created = await client.post('/v1/agent-sessions', { name: 'kubeconfig', ttl: opts.ttl, targets: listening }, CreateAgentSessionResponse);
        sessionId = created.session.id;
        token = created.token;
        console.error(`airlock: made agent session ${created.session.id} "${created.session.name}", valid until ${created.session.expiresAt}`);
      }
      const written = await client.post('/v1/kubeconfig', { sessionId, token }, KubeconfigResponse);
      let file = written.path;
      if (opts.out !== undefined) {
        file = path.resolve(opts.out);
        // it holds the session's token
        await writeFileAtomic(file, written.config, 0o600);
      }
      console.error(`airlock: contexts ${written.contexts.join(', ')}; the listeners' certificates are trusted through airlockd's local CA`);
      console.log(file);
    });
}
