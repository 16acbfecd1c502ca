import path from 'node:path';
import type { Command } from 'commander';
import { SshConfigResponse } from '@airlock/shared';
import { writeFileAtomic } from '../../config/files.js';
import { DaemonClient } from '../daemon-client.js';
import type { CliContext } from '../context.js';

export function registerSshConfig(program: Command, ctx: CliContext): void {
  program
    .command('ssh-config')
    .description(
      "write an OpenSSH client config for an agent session: one Host per ssh target (alias = target name) that logs in with the session's key and trusts only airlockd's host key; prints the file's path (use: ssh -F FILE TARGET)",
    )
    .requiredOption('--session <id>', 'the agent session: its id, or its name when one active session has it')
    .option('--out <file>', 'also write the config to this file and print its path (the daemon keeps its copy in <data dir>/ssh/sessions/<id>.config)')
    .action(async (opts: { session: string; out?: string }) => {
      const client = await DaemonClient.connect(ctx.home());
      const written = await client.post('/v1/ssh-config', { sessionId: opts.session }, SshConfigResponse);
      let file = written.path;
      if (opts.out !== undefined) {
        file = path.resolve(opts.out);
        // it names the session's private key: no one else needs to read it
        await writeFileAtomic(file, written.config, 0o600);
      }
      if (written.hosts.length === 0) {
        console.error('airlock: the config has no Host entry: the session may use no ssh target (add one with "airlock target add NAME --protocol ssh …")');
      } else {
        console.error(`airlock: Host ${written.hosts.join(', ')}; airlockd's host key ${written.hostKeyFingerprint} is pinned in ${written.knownHostsPath}`);
      }
      console.log(file);
    });
}
