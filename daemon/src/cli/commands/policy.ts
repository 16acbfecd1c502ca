import { promises as fs } from 'node:fs';
import type { Command } from 'commander';
import { EffectivePolicy, PendingPolicyChangeResponse, Policy, PolicyChangeApplied, PROTOCOLS, describeDifferences } from '@airlock/shared';
import type { PendingPolicyChange } from '@airlock/shared';
import { createInterface } from 'node:readline/promises';
import os from 'node:os';
import type { AttributeValue, Protocol } from '@airlock/shared';
import { homePaths } from '../../config/paths.js';
import { loadLocalConfig, resolvePolicyFile } from '../../config/local-config.js';
import { loadStructuredFile, writeFileAtomic } from '../../config/files.js';
import { parseDuration } from '@airlock/shared';
import { PolicyStore } from '../../policy/store.js';
import { describeRule } from '../../policy/engine.js';
import { defaultPolicyYaml } from '../../policy/defaults.js';
import { runningDaemon } from '../../daemon/daemon-info.js';
import { formatDuration } from '../../util/time.js';
import { DaemonClient } from '../daemon-client.js';
import { CliError } from '../errors.js';
import { printJson } from '../output.js';
import type { CliContext } from '../context.js';

const KIND_PROTOCOL: Record<string, Protocol> = { sql: 'postgres', ssh: 'ssh', k8s: 'kubernetes', http: 'http' };

export function registerPolicy(program: Command, ctx: CliContext): void {
  const policy = program.command('policy').description('show, check and validate policy');

  policy
    .command('show')
    .description('print the effective policy (from the running daemon, else from the files) and where it came from')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const effective = await currentEffective(ctx.home());
      if (opts.json) return printJson(effective);
      const p = effective.policy;
      console.log(`effective policy ${effective.hash.slice(0, 12)} from ${effective.sources.map((s) => s.kind + (s.file ? ` (${s.file})` : '')).join(' + ')}`);
      console.log(`default: ${p.default} (an action classified unknown is never allowed by default)`);
      console.log(`rules, in file order; of all matching rules deny wins over review over allow:`);
      if (p.rules.length === 0) console.log('  (none)');
      for (const rule of p.rules) console.log(`  ${describeRule(rule)}`);
      if (effective.ignoredLocalRules.length > 0) console.log(`ignored local allow rules (a local policy may only tighten central): ${effective.ignoredLocalRules.join(', ')}`);
      console.log(`masking: detectors ${p.masking.detectors ? p.masking.detectors.join(', ') : 'all built-in'}`);
      for (const c of p.masking.columns) console.log(`  columns ${[c.columns].flat().join(', ')} -> [${c.label}]${c.targets ? ` on ${[c.targets].flat().join(', ')}` : ''}`);
      for (const c of p.masking.custom) console.log(`  custom ${c.name}: /${c.regex}/ -> [${c.label ?? c.name.toUpperCase()}]`);
    });

  policy
    .command('status')
    .description('say whether a policy or config change that loosens enforcement is waiting for confirmation, and what it changes')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const client = await DaemonClient.connect(ctx.home());
      const { pending } = await client.get('/v1/policy/pending', PendingPolicyChangeResponse);
      if (opts.json) return printJson({ pending });
      if (pending === null) return console.log('no policy change is waiting: the files are what is in force');
      printPending(pending);
      console.log('the previous policy stays in force until a person confirms: "airlock policy apply" at a terminal, or in VS Code');
    });

  policy
    .command('apply')
    .description('show the staged change that loosens enforcement and, after you confirm at an interactive terminal, put it in force')
    .action(async () => {
      // an agent runs commands without a terminal: only a person at one may confirm (there is no --yes)
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        throw new CliError('"airlock policy apply" asks a person to confirm, so it needs an interactive terminal (stdin and stdout are not one here); run it in your own terminal, or confirm in VS Code');
      }
      const client = await DaemonClient.connect(ctx.home());
      const { pending } = await client.get('/v1/policy/pending', PendingPolicyChangeResponse);
      if (pending === null) return console.log('no policy change is waiting: nothing to apply');
      printPending(pending);
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      let answer: string;
      try {
        answer = await rl.question('Apply this change? Type "apply" to put it in force, anything else keeps the current policy: ');
      } finally {
        rl.close();
      }
      if (answer.trim().toLowerCase() !== 'apply') return console.log('kept the current policy; the change stays staged');
      const applied = await client.post('/v1/policy/pending/apply', { hash: pending.hash, by: userName(), via: 'cli' }, PolicyChangeApplied);
      console.log(`applied policy change ${applied.change.hash.slice(0, 12)}; it is recorded in every open session's log`);
    });

  policy
    .command('check')
    .description('print the decision and rule for a sample action')
    .requiredOption('--target <name>', 'target name')
    .requiredOption('--kind <kind>', 'action kind, e.g. sql.query, ssh.exec, k8s.request, http.request')
    .option('--protocol <protocol>', `one of ${PROTOCOLS.join(', ')} (default: from the kind)`)
    .option('--attr <key=value>', 'a classified attribute; repeat a key for a list (tables=a --attr tables=b)', collect, [])
    .option('--json', 'print JSON')
    .action(async (opts: { target: string; kind: string; protocol?: string; attr: string[]; json?: boolean }) => {
      const protocol = (opts.protocol ?? KIND_PROTOCOL[opts.kind.split('.')[0] ?? '']) as Protocol | undefined;
      if (!protocol || !(PROTOCOLS as readonly string[]).includes(protocol)) {
        throw new CliError(`cannot tell the protocol of kind "${opts.kind}"; give --protocol (${PROTOCOLS.join(', ')})`);
      }
      const attributes = parseAttributes(opts.attr);
      const store = await loadStore(ctx.home());
      const { compiled, effective } = store.current();
      const decision = compiled.evaluate({ target: opts.target, protocol, kind: opts.kind, attributes });
      if (opts.json) return printJson({ action: { target: opts.target, protocol, kind: opts.kind, attributes }, decision, policyHash: effective.hash });
      console.log(`${decision.decision.toUpperCase()}: ${decision.reason}`);
      if (decision.decision === 'review' && decision.timeoutMs) console.log(`held for a human for up to ${formatDuration(decision.timeoutMs)}, then denied`);
    });

  policy
    .command('validate [file]')
    .description('validate a policy file (default: the local policy file)')
    .action(async (file?: string) => {
      const target = file ?? (await localPolicyFile(ctx.home()));
      const parsed = await loadStructuredFile(Policy, target);
      console.log(`${target}: valid (${parsed.rules.length} rules, default ${parsed.default})`);
    });

  policy
    .command('init')
    .description('write the embedded default policy to the local policy file, to edit it')
    .option('--force', 'overwrite an existing file')
    .action(async (opts: { force?: boolean }) => {
      const file = await localPolicyFile(ctx.home());
      const exists = await fs.access(file).then(() => true, () => false);
      if (exists && !opts.force) throw new CliError(`${file} already exists; use --force to overwrite it`);
      await writeFileAtomic(file, defaultPolicyYaml(), 0o600);
      console.log(`wrote the default policy to ${file}`);
    });
}

function printPending(pending: PendingPolicyChange): void {
  const loosening = pending.differences.filter((d) => d.direction === 'loosening').length;
  console.log(`a change to ${pending.files.join(', ')} is waiting for confirmation since ${pending.stagedAt} (${pending.hash.slice(0, 12)}): it loosens enforcement in ${loosening} way(s)`);
  console.log(describeDifferences(pending.differences));
}

function userName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'cli';
  }
}

async function localPolicyFile(home: string): Promise<string> {
  const config = await loadLocalConfig(homePaths(home).config);
  return resolvePolicyFile(config, home);
}

async function loadStore(home: string): Promise<PolicyStore> {
  const paths = homePaths(home);
  const config = await loadLocalConfig(paths.config);
  const store = new PolicyStore({
    localFile: resolvePolicyFile(config, home),
    centralCacheFile: paths.centralPolicyCache,
    defaultReviewTimeoutMs: parseDuration(config.approvals.defaultTimeout),
  });
  await store.load();
  return store;
}

/** The running daemon's policy is the one in force; without a daemon, what the files say. */
async function currentEffective(home: string): Promise<EffectivePolicy> {
  if (await runningDaemon(homePaths(home).daemonInfo)) {
    const client = await DaemonClient.connect(home);
    return client.get('/v1/policy', EffectivePolicy);
  }
  return (await loadStore(home)).current().effective;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `k=v` pairs; numbers and true/false are typed; a key given twice becomes a list. */
export function parseAttributes(pairs: string[]): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  const lists = new Map<string, string[]>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`--attr "${pair}": expected key=value`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    lists.set(key, [...(lists.get(key) ?? []), raw]);
  }
  for (const [key, values] of lists) {
    if (values.length > 1) out[key] = values;
    else {
      const v = values[0]!;
      out[key] = v === 'true' ? true : v === 'false' ? false : v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
    }
  }
  return out;
}
