import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { AuditFinding, RecordingSummary, VerifyResult } from '@airlock/shared';
import { homePaths } from '../../config/paths.js';
import { buildExport, describeFinding, describeVerifyResult, formatReplay, readIndexReadOnly, readLogRecords, verifyAll, verifyLog, verifyOne } from '../../recording/index.js';
import { CliError } from '../errors.js';
import { printJson, printTable, relativeTime } from '../output.js';
import type { CliContext } from '../context.js';

/**
 * Recorded sessions, read straight from the data dir: these commands work whether or not the
 * daemon runs, and never write.
 */
export function registerRecordings(program: Command, ctx: CliContext): void {
  program
    .command('sessions')
    .description('list recorded sessions (one log per agent session and daemon run)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { recordings, fromLogs } = await index(ctx.home());
      if (opts.json) return printJson({ recordings });
      if (fromLogs) console.error('airlock: the session index is missing or unreadable; listing from the logs');
      if (recordings.length === 0) return console.log('no recorded sessions yet');
      printTable(
        ['ID', 'AGENT SESSION', 'STARTED', 'RECORDS', 'STATE'],
        recordings.map((r) => [r.id, `${r.agentSessionName} (${r.agentSessionId})`, relativeTime(r.startedAt), String(r.records), r.state + (r.sealReason ? ` (${r.sealReason})` : '')]),
      );
    });

  program
    .command('replay <session>')
    .description('print what happened in a recorded session: time, action, decision, approver, result')
    .action(async (session: string) => {
      const home = ctx.home();
      for (const recording of await resolve(home, session)) {
        const records = await readLogRecords(logFile(home, recording));
        process.stdout.write(formatReplay(recording, records) + '\n');
      }
    });

  program
    .command('export <session>')
    .description('write one recorded session as a JSON document: summary, verification and all records')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(async (session: string, opts: { output?: string }) => {
      const home = ctx.home();
      const recordings = await resolve(home, session);
      if (recordings.length > 1) throw new CliError(`"${session}" matches ${recordings.length} recordings (${recordings.map((r) => r.id).join(', ')}); export one by its id`);
      const recording = recordings[0]!;
      const file = logFile(home, recording);
      const [records, verify] = await Promise.all([readLogRecords(file), verifyLog(file, expected(recording))]);
      const doc = JSON.stringify(buildExport(recording, records, verify), null, 2) + '\n';
      if (opts.output) {
        await fs.writeFile(opts.output, doc, { mode: 0o600 });
        console.error(`exported ${recording.id} (${records.length} records) to ${opts.output}`);
      } else process.stdout.write(doc);
    });

  program
    .command('verify [session]')
    .description('check the hash chain of one recorded session, or with --all every log, the session index and the recordings ledger against one another; exits non-zero on any sign of editing or deletion')
    .option('--all', 'every log in the data dir, the index and the ledger')
    .option('--json', 'print JSON')
    .action(async (session: string | undefined, opts: { all?: boolean; json?: boolean }) => {
      const home = ctx.home();
      if (!session && !opts.all) throw new CliError('name a session to verify, or give --all');
      const paths = verifyPaths(home);
      if (opts.all) {
        const report = await verifyAll(paths);
        if (opts.json) printJson(report);
        else {
          if (report.recordings.length === 0) console.log('no recorded sessions to verify');
          for (const r of report.recordings) console.log(describeVerifyResult(r));
          if (report.ledger.present && !report.findings.some((f) => f.severity === 'error' && f.recordingId === null)) {
            console.log(`recordings ledger: ${report.ledger.entries} entries since ${report.ledger.startedAt ?? '(no start entry)'}, chain intact`);
          }
          for (const f of report.findings) console.log(describeFinding(f));
        }
        if (!report.ok) {
          const broken = report.recordings.filter((r) => !r.ok).length;
          const errors = report.findings.filter((f) => f.severity === 'error').length;
          if (!opts.json) console.error(`airlock: verification failed: ${broken} of ${report.recordings.length} log(s) broken, ${errors} finding(s) of deletion or rewriting`);
          process.exitCode = 1;
        }
        return;
      }
      const results: Array<VerifyResult & { findings: AuditFinding[] }> = [];
      for (const recording of await resolve(home, session!)) {
        const { result, findings } = await verifyOne(paths, recording);
        results.push({ ...result, findings });
      }
      if (opts.json) printJson(results);
      else {
        for (const r of results) {
          console.log(describeVerifyResult(r));
          for (const f of r.findings) console.log(describeFinding(f));
        }
      }
      const broken = results.filter((r) => !r.ok || r.findings.some((f) => f.severity === 'error'));
      if (broken.length > 0) {
        if (!opts.json) console.error(`airlock: ${broken.length} of ${results.length} recording(s) failed verification`);
        process.exitCode = 1;
      }
    });
}

async function index(home: string) {
  const paths = homePaths(home);
  return readIndexReadOnly(paths.sessionIndex, paths.recordings);
}

function logFile(home: string, recording: RecordingSummary): string {
  return path.join(homePaths(home).recordings, recording.file);
}

function expected(recording: RecordingSummary) {
  return { records: recording.records, head: recording.head, recordingId: recording.id };
}

/** A recording id, a unique prefix of one, or an agent session id or name (all its recordings, oldest first). */
async function resolve(home: string, key: string): Promise<RecordingSummary[]> {
  const { recordings } = await index(home);
  const exact = recordings.find((r) => r.id === key);
  if (exact) return [exact];
  const byAgent = recordings.filter((r) => r.agentSessionId === key || r.agentSessionName === key).reverse();
  if (byAgent.length > 0) return byAgent;
  const prefixed = recordings.filter((r) => r.id.startsWith(key));
  if (prefixed.length === 1) return prefixed;
  if (prefixed.length > 1) throw new CliError(`"${key}" matches ${prefixed.length} recordings; give more of the id`);
  throw new CliError(`no recorded session "${key}" in ${homePaths(home).recordings} (see "airlock sessions")`);
}

function verifyPaths(home: string) {
  const paths = homePaths(home);
  return { recordings: paths.recordings, sessionIndex: paths.sessionIndex, ledger: paths.recordingLedger };
}
