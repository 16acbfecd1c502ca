import type { Command } from 'commander';
import { AgentSessionsResponse, CreateAgentSessionResponse, parseDuration } from '@airlock/shared';
import { z } from 'zod';
import { AgentSession } from '@airlock/shared';
import { DaemonClient } from '../daemon-client.js';
import { CliError } from '../errors.js';
import { printJson, printTable, relativeTime } from '../output.js';
import type { CliContext } from '../context.js';
import { fingerprintOfPublicKey } from '../../sessions/ssh-identity.js';

export function registerAgentSessions(program: Command, ctx: CliContext): void {
  const session = program.command('session').description('agent sessions: the identity (bearer token) an agent presents to airlockd');

  session
    .command('new')
    .description('create an agent session and print its token (shown once)')
    .requiredOption('--name <name>', 'who the agent is, e.g. "claude-code in api-repo"')
    .option('--targets <a,b>', 'targets the session may use (all when omitted)')
    .option('--ttl <duration>', 'how long the token is valid, e.g. 30m, 8h, 7d', '8h')
    .option('--json', 'print JSON with id, token, session and sshIdentity (the path of the session\'s SSH private key)')
    .action(async (opts: { name: string; targets?: string; ttl: string; json?: boolean }) => {
      try {
        parseDuration(opts.ttl);
      } catch (err) {
        throw new CliError(`--ttl: ${(err as Error).message}`);
      }
      const targets = opts.targets ? opts.targets.split(',').map((t) => t.trim()).filter(Boolean) : undefined;
      const client = await DaemonClient.connect(ctx.home());
      const created = await client.post('/v1/agent-sessions', { name: opts.name, ttl: opts.ttl, ...(targets ? { targets } : {}) }, CreateAgentSessionResponse);
      if (opts.json) return printJson({ id: created.session.id, token: created.token, session: created.session, ...(created.sshIdentity ? { sshIdentity: created.sshIdentity } : {}) });
      console.log(`agent session ${created.session.id} "${created.session.name}", valid until ${created.session.expiresAt}`);
      if (created.sshIdentity) console.log(`SSH key (the agent's ssh IdentityFile; "airlock ssh-config --session ${created.session.id}" writes a config using it): ${created.sshIdentity}`);
      console.log(`token (shown once; the agent uses it as its password / bearer token):`);
      console.log(created.token);
    });

  session
    .command('list')
    .description('list agent sessions')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const client = await DaemonClient.connect(ctx.home());
      const { sessions } = await client.get('/v1/agent-sessions', AgentSessionsResponse);
      if (opts.json) return printJson({ sessions });
      if (sessions.length === 0) return console.log('no agent sessions; create one with "airlock session new --name NAME"');
      printTable(
        ['ID', 'NAME', 'STATE', 'TARGETS', 'EXPIRES', 'SSH KEY'],
        sessions.map((s) => [
          s.id,
          s.name,
          s.state,
          s.targets?.join(',') ?? 'all',
          s.state === 'active' ? relativeTime(s.expiresAt) : s.revokedAt ? `revoked ${relativeTime(s.revokedAt)}` : relativeTime(s.expiresAt),
          // sessions made before agent sessions had SSH keys log in to SSH targets with the token only
          s.sshPublicKey ? fingerprintOfPublicKey(s.sshPublicKey) : 'none (made before SSH keys; token only)',
        ]),
      );
    });

  session
    .command('revoke <id>')
    .description('revoke an agent session: its token and SSH key stop working (the key file is deleted), held requests are cancelled, its log is sealed')
    .action(async (id: string) => {
      const client = await DaemonClient.connect(ctx.home());
      const { session: revoked } = await client.delete(`/v1/agent-sessions/${encodeURIComponent(id)}`, z.object({ session: AgentSession }));
      console.log(`revoked agent session ${revoked.id} "${revoked.name}"`);
    });
}
