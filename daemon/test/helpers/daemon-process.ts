import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaemonInfo } from '@airlock/shared';

/** The compiled CLI (dist/test/helpers -> dist/src/cli/main.js). */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export function tempHome(prefix = 'airlock-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `airlock --home HOME ...args` as a real process. */
export function runCli(home: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--home', home, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export interface RunningDaemon {
  home: string;
  info: DaemonInfo;
  process: ChildProcess;
  base: string;
  output(): string;
  api(method: string, urlPath: string, body?: unknown, token?: string | null): Promise<{ status: number; json: unknown }>;
  /** SIGTERM and wait for exit; returns the exit code */
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

/**
 * Starts the real daemon process (`airlock up`) with the test-only action source on. `entry`: another
 * compiled script taking the same arguments (a test's own wiring of the daemon), instead of the CLI.
 */
export async function startDaemon(home: string, env: NodeJS.ProcessEnv = {}, entry = CLI): Promise<RunningDaemon> {
  const child = spawn(process.execPath, [entry, '--home', home, 'up'], {
    env: { ...process.env, AIRLOCK_TEST_ACTION_SOURCE: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));

  const infoFile = path.join(home, 'daemon.json');
  const deadline = Date.now() + 20_000;
  let info: DaemonInfo | undefined;
  while (!info) {
    if (done) throw new Error(`daemon exited during start: ${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`daemon did not start within 20s: ${output}`);
    }
    try {
      const parsed = DaemonInfo.safeParse(JSON.parse(readFileSync(infoFile, 'utf8')));
      if (parsed.success && parsed.data.pid === child.pid) info = parsed.data;
    } catch {
      // not written yet
    }
    if (!info) await new Promise((r) => setTimeout(r, 25));
  }
  const base = `http://${info.host}:${info.port}`;
  const token = info.token;
  return {
    home,
    info,
    process: child,
    base,
    output: () => output,
    async api(method, urlPath, body, asToken = token) {
      const res = await fetch(base + urlPath, {
        method,
        headers: { ...(asToken ? { authorization: `Bearer ${asToken}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch {
        // leave as text
      }
      return { status: res.status, json };
    },
    async stop() {
      if (done) return exited;
      child.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      if (done) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await fs.readFile(file, 'utf8'));
}
