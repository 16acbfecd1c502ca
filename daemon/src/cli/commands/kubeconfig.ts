import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { AgentSessionsResponse, CreateAgentSessionResponse, TargetsResponse, parseDuration } from '@airlock/shared';
import { homePaths } from '../../config/paths.js';
import { writeFileAtomic } from '../../config/files.js';
import { listenerServer, renderKubeconfig, type KubeconfigCluster } from '../../sessions/kubeconfig.js';
import { DaemonClient } from '../daemon-client.js';
import { CliError } from '../errors.js';
import type { CliContext } from '../context.js';

/** The variable an existing session's token is read from: the daemon keeps only its hash. */
const TOKEN_VARIABLE = 'AIRLOCK_SESSION_TOKEN';

export function registerKubeconfig(program: Command, ctx: CliContext): void {
  program
    .command('kubeconfig')
    .description(
      "write a kubeconfig for an agent session: one context per kubernetes target (named after it) whose server is the target's listener, trusted through airlockd's local CA, with the session's token; prints the file's path (use: KUBECONFIG=FILE kubectl --context TARGET ...)",
    )
    .option('--session <id>', `an existing agent session (its token is read from ${TOKEN_VARIABLE}: the daemon keeps only its hash); without it a new session is made`)
    .option('--ttl <duration>', 'the new session\'s lifetime, e.g. 8h', '8h')
    .option('--out <file>', 'where to write it (default: <data dir>/kube/<session id>.kubeconfig)')
    .action(async (opts: { session?: string; ttl: string; out?: string }) => {
      const paths = homePaths(ctx.home());
      const client = await DaemonClient.connect(ctx.home());
      const statuses = (await client.get('/v1/targets', TargetsResponse)).targets.filter((s) => s.target.protocol === 'kubernetes');
      const clusters: KubeconfigCluster[] = [];
      for (const status of statuses) {
        const server = listenerServer(status);
        if (server && status.state === 'listening') clusters.push({ name: status.target.name, server });
        else console.error(`airlock: target ${status.target.name} is not listening (${status.error ?? status.state}); it has no context in the kubeconfig`);
      }
      if (clusters.length === 0) throw new CliError('no kubernetes target is listening: add one with "airlock target add NAME --protocol kubernetes --kubeconfig PATH --listen 127.0.0.1:PORT"');
      let caPem: string;
      try {
        caPem = await readFile(paths.caCert, 'utf8');
      } catch (err) {
        throw new CliError(`cannot read airlockd's local CA ${paths.caCert}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }

      let session: { id: string; name: string };
      let token: string;
      if (opts.session !== undefined) {
        const wanted = opts.session;
        const found = (await client.get('/v1/agent-sessions', AgentSessionsResponse)).sessions.filter((s) => s.id === wanted || (s.name === wanted && s.state === 'active'));
        if (found.length !== 1) throw new CliError(found.length === 0 ? `no agent session "${wanted}"` : `${found.length} active agent sessions are named "${wanted}": give its id`);
        const one = found[0]!;
        if (one.state !== 'active') throw new CliError(`agent session "${one.name}" (${one.id}) is ${one.state}: create a new one with "airlock kubeconfig" (no --session)`);
        const value = process.env[TOKEN_VARIABLE];
        if (!value) throw new CliError(`the daemon keeps only a hash of agent session "${one.name}"'s token: put the token in ${TOKEN_VARIABLE}, or leave out --session to have a new session made`);
        session = one;
        token = value;
      } else {
        try {
          parseDuration(opts.ttl);
        } catch (err) {
          throw new CliError(`--ttl: ${(err as Error).message}`);
        }
        const created = await client.post('/v1/agent-sessions', { name: 'kubeconfig', ttl: opts.ttl, targets: clusters.map((c) => c.name) }, CreateAgentSessionResponse);
        session = created.session;
        token = created.token;
        console.error(`airlock: made agent session ${created.session.id} "${created.session.name}", valid until ${created.session.expiresAt}`);
      }
      const file = path.resolve(opts.out ?? path.join(paths.home, 'kube', `${session.id}.kubeconfig`));
      // it holds the session's token
      await writeFileAtomic(file, renderKubeconfig({ session, token, caPem, clusters }), 0o600);
      console.error(`airlock: contexts ${clusters.map((c) => c.name).join(', ')}; the listeners' certificates are trusted through airlockd's local CA`);
      console.log(file);
    });
}
