import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A real git smart-HTTP server for tests: `git http-backend` run as CGI behind a small Node `http`
 * server on a free loopback port, pushes enabled (`http.receivepack`). It can require one exact
 * `Authorization` header (401 with a Basic challenge otherwise), and it records every Authorization
 * value and every request body it saw, so tests can check what reached the upstream.
 */

export interface GitHttpServerOptions {
  /** the only Authorization header values accepted; unset, any request is served */
  requireAuthorization?: string | readonly string[];
}

export interface GitHttpRequestRecord {
  method: string;
  /** path and query as received */
  url: string;
  headers: http.IncomingHttpHeaders;
  /** the request body as received (still gzip-encoded if the client encoded it) */
  body: Buffer;
  /** the status the server answered */
  status: number;
}

export interface GitRepo {
  name: string;
  /** the bare repository on disk */
  dir: string;
  /** the repository's URL on this server */
  url: string;
  /** the initial commit on main */
  head: string;
}

export interface GitHttpServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** GIT_PROJECT_ROOT: bare repositories live here */
  root: string;
  /** every Authorization header value seen (undefined when a request had none), in order */
  seenAuthorizations: Array<string | undefined>;
  requests: GitHttpRequestRecord[];
  /** a bare repository `root/name` with one commit on main (README) */
  createRepo(name: string): Promise<GitRepo>;
  close(): Promise<void>;
}

/** The environment for git processes in tests: no user or system config, no prompts, fixed identities. */
export function gitTestEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Airlock Test',
    GIT_AUTHOR_EMAIL: 'test@airlock.invalid',
    GIT_COMMITTER_NAME: 'Airlock Test',
    GIT_COMMITTER_EMAIL: 'test@airlock.invalid',
    // protocol v2 only changes fetches; pushes speak v0/v1 either way
    LANG: 'C',
  };
}

export interface GitRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs git; resolves with its exit code and output whatever the code (tests look at failures). */
export function runGit(args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<GitRun> {
  return new Promise((resolve) => {
    execFile('git', args, { cwd: options.cwd, env: options.env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs git and throws with its stderr when it fails. */
export async function git(args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<string> {
  const run = await runGit(args, options);
  if (run.code !== 0) throw new Error(`git ${args.join(' ')} failed (${run.code}): ${run.stderr.trim()}`);
  return run.stdout.trim();
}

export async function startGitHttpServer(options: GitHttpServerOptions = {}): Promise<GitHttpServer> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'airlock-git-http-'));
  const root = path.join(base, 'repos');
  const home = path.join(base, 'home');
  mkdirSync(root);
  mkdirSync(home);
  const env = gitTestEnv(home);
  const backend = path.join(execFileSync('git', ['--exec-path'], { env }).toString().trim(), 'git-http-backend');
  const accepted = options.requireAuthorization === undefined ? undefined : new Set(typeof options.requireAuthorization === 'string' ? [options.requireAuthorization] : options.requireAuthorization);
  const seenAuthorizations: Array<string | undefined> = [];
  const requests: GitHttpRequestRecord[] = [];

  const server = http.createServer((req, res) => {
    const authorization = req.headers.authorization;
    seenAuthorizations.push(authorization);
    const record: GitHttpRequestRecord = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.alloc(0), status: 0 };
    requests.push(record);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => (record.body = Buffer.concat(chunks)));
    if (accepted !== undefined && (authorization === undefined || !accepted.has(authorization))) {
      record.status = 401;
      req.resume();
      req.on('end', () => {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="airlock-test-git"', 'Content-Type': 'text/plain' });
        res.end('authorization required\n');
      });
      return;
    }
    runBackend(backend, root, env, req, record, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  return {
    url,
    port,
    root,
    seenAuthorizations,
    requests,
    createRepo: (name) => createRepo(root, name, url, env, base),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Runs http-backend for one request: CGI environment in, the body streamed to its stdin, "Status:" and headers parsed from its stdout and the rest streamed back. */
function runBackend(backend: string, root: string, env: NodeJS.ProcessEnv, req: http.IncomingMessage, record: GitHttpRequestRecord, res: http.ServerResponse): void {
  const target = new URL(req.url ?? '/', 'http://localhost');
  const cgiEnv: NodeJS.ProcessEnv = {
    ...env,
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    // pushes are served to an authenticated user; the config entry makes it explicit
    REMOTE_USER: 'airlock-test',
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.receivepack',
    GIT_CONFIG_VALUE_0: 'true',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(target.pathname),
    QUERY_STRING: target.search.slice(1),
    CONTENT_TYPE: req.headers['content-type'] ?? '',
  };
  // a chunked body has no length: http-backend then reads its stdin to the end
  if (req.headers['content-length'] !== undefined) cgiEnv.CONTENT_LENGTH = req.headers['content-length'];
  if (req.headers['content-encoding'] !== undefined) cgiEnv.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
  if (typeof req.headers['git-protocol'] === 'string') cgiEnv.HTTP_GIT_PROTOCOL = req.headers['git-protocol'];

  const child = spawn(backend, [], { env: cgiEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined); // the backend may exit before reading everything (a refused request)
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let headersSent = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersSent) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = headerEnd(head);
    if (end === undefined) return;
    const { status, headers } = parseCgiHeaders(head.subarray(0, end.at).toString('latin1'));
    record.status = status;
    res.writeHead(status, headers);
    headersSent = true;
    const rest = head.subarray(end.at + end.length);
    if (rest.length > 0) res.write(rest);
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.on('close', (code) => {
    if (!headersSent) {
      record.status = 500;
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`git http-backend exited (${code}) without a response: ${stderr}\n`);
      return;
    }
    res.end();
  });
}

function headerEnd(bytes: Buffer): { at: number; length: number } | undefined {
  const crlf = bytes.indexOf('\r\n\r\n');
  const lf = bytes.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return { at: crlf, length: 4 };
  if (lf >= 0) return { at: lf, length: 2 };
  return undefined;
}

function parseCgiHeaders(text: string): { status: number; headers: Record<string, string | string[]> } {
  let status = 200;
  const headers: Record<string, string | string[]> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') {
      status = Number.parseInt(value, 10);
      continue;
    }
    const existing = headers[name];
    headers[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return { status, headers };
}

async function createRepo(root: string, name: string, url: string, env: NodeJS.ProcessEnv, base: string): Promise<GitRepo> {
  const dir = path.join(root, name);
  await git(['init', '--bare', '--quiet', '--initial-branch=main', dir], { cwd: root, env });
  const work = mkdtempSync(path.join(base, 'seed-'));
  await git(['init', '--quiet', '--initial-branch=main'], { cwd: work, env });
  writeFileSync(path.join(work, 'README.md'), `# ${name}\n`);
  await git(['add', 'README.md'], { cwd: work, env });
  await git(['commit', '--quiet', '-m', 'initial commit'], { cwd: work, env });
  await git(['push', '--quiet', dir, 'main'], { cwd: work, env });
  const head = await git(['rev-parse', 'HEAD'], { cwd: work, env });
  rmSync(work, { recursive: true, force: true });
  return { name, dir, url: `${url}/${name}`, head };
}
