#!/usr/bin/env node
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { ValidationError } from '@airlock/shared';
import { airlockHome } from '../config/paths.js';
import { FileError } from '../config/files.js';
import { VERSION } from '../version.js';
import { CliError } from './errors.js';
import type { CliContext } from './context.js';
import { registerLifecycle } from './commands/lifecycle.js';
import { registerTargets } from './commands/targets.js';
import { registerAgentSessions } from './commands/sessions.js';
import { registerApprovals } from './commands/approvals.js';
import { registerPolicy } from './commands/policy.js';
import { registerRecordings } from './commands/recordings.js';
import { registerSshConfig } from './commands/ssh-config.js';
import { registerKubeconfig } from './commands/kubeconfig.js';

const program = new Command('airlock')
  .description('Airlock: a control point between AI coding agents and the systems they touch')
  .version(VERSION)
  .option('--home <dir>', 'data dir (default: $AIRLOCK_HOME or ~/.airlock)')
  .showHelpAfterError('(run "airlock help" for the commands)')
  .exitOverride();

const ctx: CliContext = {
  home: () => {
    const opt = program.opts<{ home?: string }>().home;
    return opt ? path.resolve(opt) : airlockHome();
  },
};

registerLifecycle(program, ctx);
registerTargets(program, ctx);
registerAgentSessions(program, ctx);
registerApprovals(program, ctx);
registerPolicy(program, ctx);
registerRecordings(program, ctx);
registerSshConfig(program, ctx);
registerKubeconfig(program, ctx);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander already printed help, the version or the usage error
    process.exitCode = err.exitCode;
  } else if (err instanceof CliError) {
    console.error(`airlock: ${err.message}`);
    process.exitCode = err.exitCode;
  } else if (err instanceof ValidationError || err instanceof FileError) {
    console.error(`airlock: ${err.message}`);
    process.exitCode = 1;
  } else {
    console.error(`airlock: ${(err as Error).message ?? String(err)}`);
    if (process.env.AIRLOCK_DEBUG) console.error((err as Error).stack);
    process.exitCode = 1;
  }
}
