import type { z } from 'zod';
import type { DaemonInfo } from '@airlock/shared';
import { ApiError, describeIssues } from '@airlock/shared';
import { homePaths } from '../config/paths.js';
import { runningDaemon } from '../daemon/daemon-info.js';
import { CliError } from './errors.js';

/** The CLI's side of the control API: finds the daemon through daemon.json and validates every answer. */
export class DaemonClient {
  private constructor(
    readonly info: DaemonInfo,
    private readonly base: string,
  ) {}

  static async connect(home: string): Promise<DaemonClient> {
    const info = await runningDaemon(homePaths(home).daemonInfo);
    if (!info) throw new CliError(`airlockd is not running for ${home}; start it with "airlock up --detach"`);
    return new DaemonClient(info, `http://${info.host.includes(':') ? `[${info.host}]` : info.host}:${info.port}`);
  }

  get<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
    return this.request('GET', path, undefined, schema);
  }

  post<S extends z.ZodType>(path: string, body: unknown, schema: S): Promise<z.output<S>> {
    return this.request('POST', path, body, schema);
  }

  delete<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
    return this.request('DELETE', path, undefined, schema);
  }

  private async request<S extends z.ZodType>(method: string, path: string, body: unknown, schema: S): Promise<z.output<S>> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: { authorization: `Bearer ${this.info.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new CliError(`cannot reach airlockd at ${this.base} (pid ${this.info.pid}): ${(err as Error).cause ? String((err as Error & { cause: Error }).cause.message) : (err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new CliError(`airlockd answered ${method} ${path} with ${res.status} and a body that is not JSON`);
    }
    if (!res.ok) {
      const error = ApiError.safeParse(json);
      throw new CliError(error.success ? error.data.error : `airlockd answered ${method} ${path} with ${res.status}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new CliError(describeIssues(`airlockd's answer to ${method} ${path}`, parsed.error));
    return parsed.data;
  }
}
