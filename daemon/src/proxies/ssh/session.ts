import type { AttributeValue, Risk, SshExecDetail, SshForwardDetail, SshRequestDetail, SshShellDetail } from '@airlock/shared';
import type { ActionRequest } from '../../pipeline/pipeline.js';
import { boundText } from '../../pipeline/bounded-text.js';
import type { ShellClassification, ShellClass } from '../../classify/shell/types.js';
import type { TargetLimits } from '../limits.js';

/**
 * The model of one agent SSH connection (pure: no sockets, timers or promises). The shell reports
 * what the agent asks for — a channel opened, a pty, an env variable, an exec, a shell, a subsystem,
 * a forward — and gets back what to do: pass it, refuse it with a sentence, or submit an action to the
 * pipeline. It owns the channel table (and its cap), what each channel asked for before its command
 * (pty, env), and the one-command-per-session-channel rule of RFC 4254 §6.5.
 */

export interface SshSessionDeps {
  target: string;
  /** user@host:port of the upstream */
  upstream: string;
  connectionId: string;
  /** the user name the agent logged in with (any is accepted, recorded) */
  agentUser: string;
  limits: Pick<TargetLimits, 'maxChannelsPerConnection' | 'maxMessageBytes' | 'actionTextBytes'>;
  classify(command: string): ShellClassification;
  /** the policy attributes of a classified line (the shell classifier's, before the ones added here) */
  attributes(c: ShellClassification): Record<string, AttributeValue>;
  /** a one-line summary of a command for lists and prompts */
  summary(command: string, c: ShellClassification): string;
  /** masks a value the agent sent (an env value) before it is recorded */
  maskValue(value: string): string;
}

export interface PtyInfo {
  term: string;
  cols: number;
  rows: number;
  width?: number;
  height?: number;
  modes?: Record<string, number | undefined>;
}

export type ChannelKind = 'session' | 'direct-tcpip' | 'streamlocal';

interface ChannelState {
  kind: ChannelKind;
  pty?: PtyInfo;
  /** env variables the agent set that may go upstream (LANG/LC_* and allowed ones) */
  env: Record<string, string>;
  /** exec, shell or subsystem already asked for: a session channel runs one */
  started?: 'exec' | 'shell' | 'subsystem';
}

/** What the shell does with a request. */
export type Step =
  /** nothing to decide: carry it out */
  | { kind: 'pass' }
  /** refuse without asking policy (a protocol rule or a limit), telling the agent this sentence */
  | { kind: 'refuse'; message: string }
  /** ask the pipeline; carry it out only when allowed */
  | { kind: 'submit'; request: ActionRequest }
  /** the sftp subsystem: handed to the sftp bridge, which governs each operation */
  | { kind: 'sftp' };

export type OpenResult = { ok: true; channel: number } | { ok: false; message: string };

/** Env variables that only choose a language and pass without an action, as OpenSSH's default AcceptEnv does. */
export function isLocaleVariable(name: string): boolean {
  return name === 'LANG' || name === 'LANGUAGE' || name.startsWith('LC_');
}

const RISK_OF: Record<ShellClass, Risk> = { read: 'low', write: 'medium', shell: 'medium', privileged: 'high', unknown: 'high' };

export class SshSession {
  private readonly channels = new Map<number, ChannelState>();
  private nextChannel = 0;

  constructor(private readonly deps: SshSessionDeps) {}

  get openChannels(): number {
    return this.channels.size;
  }

  /** A channel the agent opens; refused over limits.maxChannelsPerConnection. */
  openChannel(kind: ChannelKind): OpenResult {
    const max = this.deps.limits.maxChannelsPerConnection;
    if (this.channels.size >= max) {
      return { ok: false, message: `target "${this.deps.target}" allows ${max} open channels per connection (limits.maxChannelsPerConnection); connection ${this.deps.connectionId} has ${this.channels.size} open` };
    }
    const channel = this.nextChannel++;
    this.channels.set(channel, { kind, env: {} });
    return { ok: true, channel };
  }

  closeChannel(channel: number): void {
    this.channels.delete(channel);
  }

  pty(channel: number, info: PtyInfo): Step {
    const state = this.channels.get(channel);
    if (!state || state.kind !== 'session') return { kind: 'refuse', message: 'a pty is requested on a session channel' };
    if (state.started) return { kind: 'refuse', message: 'a pty is requested before the command starts' };
    state.pty = info;
    return { kind: 'pass' };
  }

  /** The pty the channel asked for, if any (its size follows window changes). */
  ptyOf(channel: number): PtyInfo | undefined {
    return this.channels.get(channel)?.pty;
  }

  windowChange(channel: number, size: { cols: number; rows: number; width?: number; height?: number }): void {
    const pty = this.channels.get(channel)?.pty;
    if (!pty) return;
    pty.cols = size.cols;
    pty.rows = size.rows;
  }

  /** LANG/LC_* pass; any other variable is an action (it may change what a command does: LD_PRELOAD, PATH). */
  env(channel: number, name: string, value: string): Step {
    const state = this.channels.get(channel);
    if (!state || state.kind !== 'session' || state.started) return { kind: 'refuse', message: `env ${name} is requested on a session channel before its command` };
    if (isLocaleVariable(name)) {
      state.env[name] = value;
      return { kind: 'pass' };
    }
    const detail: SshRequestDetail = { ...this.endpoint(channel), request: 'env', name, value: this.deps.maskValue(boundText(value, this.deps.limits.actionTextBytes).text) };
    return {
      kind: 'submit',
      request: this.request('ssh.request', `env ${name}`, 'medium', { class: 'unknown', request: 'env', name }, detail),
    };
  }

  /** An env variable policy allowed: it goes upstream with the channel's command. */
  envAllowed(channel: number, name: string, value: string): void {
    const state = this.channels.get(channel);
    if (state) state.env[name] = value;
  }

  envOf(channel: number): Record<string, string> {
    return { ...this.channels.get(channel)?.env };
  }

  /** An exec: classified on the exact command string the upstream will run. */
  exec(channel: number, command: string): Step {
    const state = this.start(channel, 'exec');
    if (typeof state === 'string') return { kind: 'refuse', message: state };
    const bytes = Buffer.byteLength(command, 'utf8');
    if (bytes > this.deps.limits.maxMessageBytes) {
      return {
        kind: 'refuse',
        message: `the command is ${bytes} bytes, over target "${this.deps.target}"'s limit of ${this.deps.limits.maxMessageBytes} (limits.maxMessageBytes); nothing was run`,
      };
    }
    const c = this.deps.classify(command);
    const kept = boundText(command, this.deps.limits.actionTextBytes);
    const detail: SshExecDetail = {
      ...this.endpoint(channel),
      command: kept.text,
      ...(kept.cut ? { commandCut: kept.cut } : {}),
      parts: c.commands.map((p) => ({ program: p.program, argv: p.argv, class: p.class, via: p.via, reasons: p.reasons })),
      pathsWritten: c.pathsWritten,
      ...(c.parseError !== undefined ? { parseError: c.parseError } : {}),
      ...(Object.keys(state.env).length > 0 ? { env: this.maskedEnv(state.env) } : {}),
      pty: state.pty !== undefined,
    };
    // the classifier's attributes win; these are the ones every rule can count on, and the command text (bounded) for globs
    const attributes: Record<string, AttributeValue> = {
      class: c.class,
      sudo: c.sudo,
      pipeline: c.pipeline,
      commands: [...new Set(c.commands.map((p) => p.program).filter((p): p is string => p !== null))],
      paths: c.pathsWritten,
      ...this.deps.attributes(c),
      command: kept.text,
    };
    return { kind: 'submit', request: this.request('ssh.exec', this.deps.summary(kept.text, c), RISK_OF[c.class], attributes, detail) };
  }

  /** An interactive shell: no command line to judge, so class `shell`, which the default policy reviews. */
  shell(channel: number): Step {
    const state = this.start(channel, 'shell');
    if (typeof state === 'string') return { kind: 'refuse', message: state };
    const pty = state.pty;
    const detail: SshShellDetail = { ...this.endpoint(channel), ...(pty ? { pty: { term: pty.term, cols: pty.cols, rows: pty.rows } } : {}) };
    return { kind: 'submit', request: this.request('ssh.shell', `interactive shell on ${this.deps.upstream}`, 'medium', { class: 'shell', pty: pty !== undefined }, detail) };
  }

  subsystem(channel: number, name: string): Step {
    const state = this.start(channel, 'subsystem');
    if (typeof state === 'string') return { kind: 'refuse', message: state };
    if (name === 'sftp') return { kind: 'sftp' };
    const detail: SshRequestDetail = { ...this.endpoint(channel), request: 'subsystem', name };
    return { kind: 'submit', request: this.request('ssh.request', `subsystem ${name}`, 'high', { class: 'unknown', request: 'subsystem', name }, detail) };
  }

  /**
   * A forward: direct-tcpip (ssh -L/-W), tcpip-forward (ssh -R), streamlocal, auth-agent, x11. Class
   * `privileged`, so a default policy denies it; a rule can allow given hosts and ports.
   */
  forward(channel: number | undefined, forward: SshForwardDetail['forward'], where: { host?: string; port?: number; socketPath?: string }): Step {
    const detail: SshForwardDetail = { ...this.endpoint(channel), forward, ...where };
    const attributes: Record<string, AttributeValue> = { class: 'privileged', forward };
    if (where.host !== undefined) attributes.host = where.host;
    if (where.port !== undefined) attributes.port = where.port;
    if (where.socketPath !== undefined) attributes.socketPath = where.socketPath;
    const place = where.socketPath ?? (where.host !== undefined ? `${where.host}:${where.port ?? 0}` : '');
    return { kind: 'submit', request: this.request('ssh.forward', `${forward}${place ? ` ${place}` : ''}`, 'high', attributes, detail) };
  }

  private start(channel: number, what: 'exec' | 'shell' | 'subsystem'): ChannelState | string {
    const state = this.channels.get(channel);
    if (!state || state.kind !== 'session') return `${what} is requested on a channel that is not an open session channel`;
    if (state.started) return `this session channel already runs a ${state.started}; open a new channel for another command`;
    state.started = what;
    return state;
  }

  private maskedEnv(env: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) out[k] = this.deps.maskValue(boundText(v, this.deps.limits.actionTextBytes).text);
    return out;
  }

  private endpoint(channel: number | undefined): { agentUser: string; upstream: string; connectionId: string; channel?: number } {
    return { agentUser: this.deps.agentUser, upstream: this.deps.upstream, connectionId: this.deps.connectionId, ...(channel !== undefined ? { channel } : {}) };
  }

  private request(kind: string, summary: string, risk: Risk, attributes: Record<string, AttributeValue>, detail: object): ActionRequest {
    return { target: this.deps.target, protocol: 'ssh', kind, summary, risk, attributes, detail: detail as Record<string, unknown> };
  }
}

/** A line that asks for a secret: what the agent types next is not recorded (the remote turns echo off for it). */
const SECRET_PROMPT = /(?:password|passphrase|passcode|pin|token|secret)[^\n]{0,40}:\s*$/i;

/**
 * Shell input recording without typed secrets. The remote turns echo off to read a password, but an
 * SSH proxy sees no termios state: it sees the prompt. After output whose last line looks like a
 * secret prompt (`Password:`, `[sudo] password for x:`, `Enter passphrase for key:`) input is not
 * recorded until a line ends (CR or LF); the recording gets a `m` marker in its place. Pure.
 */
export class EchoGuard {
  private lastLine = '';
  private hiding = false;

  /** Output the agent saw (masked). */
  output(text: string): void {
    const nl = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
    this.lastLine = (nl >= 0 ? text.slice(nl + 1) : this.lastLine + text).slice(-200);
    if (SECRET_PROMPT.test(this.lastLine)) this.hiding = true;
  }

  /** Input the agent typed: what may be recorded, and whether a secret was withheld. */
  input(text: string): { record: string; withheld: boolean } {
    if (!this.hiding) return { record: text, withheld: false };
    const end = text.search(/[\r\n]/);
    if (end < 0) return { record: '', withheld: true };
    this.hiding = false;
    this.lastLine = '';
    return { record: text.slice(end), withheld: true };
  }
}
