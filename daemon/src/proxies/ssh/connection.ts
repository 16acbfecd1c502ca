import type net from 'node:net';
import type { Duplex, Readable, Writable } from 'node:stream';
import ssh2, { type AuthContext, type Client, type ClientChannel, type Connection, type ServerChannel, type Session, type SFTPWrapper } from 'ssh2';

const sshUtils = ssh2.utils;
import type { Action, AgentSession, SshSessionResultDetail, Target, Verdict } from '@airlock/shared';
import type { ActionRequest } from '../../pipeline/pipeline.js';
import { MaskReportBuilder } from '../../masking/index.js';
import type { ShellClassification } from '../../classify/shell/types.js';
import type { ProxyContext } from '../listeners.js';
import type { ConnectionLease, ConnectionRefusal } from '../connection-limits.js';
import type { Logger } from '../../util/logger.js';
import { newId } from '../../util/ids.js';
import { EchoGuard, SshSession, type PtyInfo, type Step } from './session.js';
import { MaskedOutput } from '../../masking/terminal-output.js';
import { AsciicastWriter } from '../../recording/asciicast.js';
import type { SshUpstream } from './upstream.js';
import { sendAuthBanner } from './banner.js';
import { startSftpBridge } from './sftp-bridge.js';
import { governThroughPipeline } from './sftp-governance.js';
import { sftpLimitsOf } from './sftp-limits.js';

/** The exit status of a command Airlock did not run (refused, timed out, cancelled, upstream down): POSIX's "found but not executable". */
export const REFUSED_EXIT_STATUS = 126;

/** Held-back output is released after this much quiet, so a prompt is not kept from the agent. */
const QUIET_FLUSH_MS = 50;

/** Failed logins on one connection before it is closed (OpenSSH's MaxAuthTries is 6). */
const MAX_AUTH_FAILURES = 6;

export interface ShellClassifier {
  classify(command: string): ShellClassification;
  attributes(c: ShellClassification): Record<string, string | number | boolean | string[]>;
  summary(command: string, c: ShellClassification): string;
}

export interface AgentConnectionDeps {
  target: Target;
  context: ProxyContext;
  upstream: SshUpstream;
  classifier: ShellClassifier;
}

/**
 * The shell around one agent SSH connection: logs the agent in with its session token (password or
 * keyboard-interactive) or its session key (publickey), opens one upstream connection when the first
 * channel is allowed, and carries out what the session model (session.ts) decides: each exec, shell,
 * subsystem, env and forward is an action; an allowed channel is relayed 1:1 to an upstream channel,
 * its output masked and recorded, with backpressure both ways.
 */
export class AgentConnection {
  readonly id = newId('sshc');
  private agentSession?: AgentSession;
  private agentUser = '';
  private session?: SshSession;
  private lease?: ConnectionLease;
  private refusal?: { refusal: ConnectionRefusal; release(): void };
  private authTimer?: { cancel(): void };
  private authFailures = 0;
  private idleTimer?: { cancel(): void };
  private lastActivity = 0;
  private readonly toldReasons = new Set<string>();
  private upstreamClient?: Promise<Client>;
  /** aborted when the agent goes away: every held action is cancelled */
  private readonly gone = new AbortController();
  private closed = false;
  private readonly logger: Logger;

  /** ssh2's side of the connection, once the agent's SSH version line arrived */
  private client?: Connection;

  /**
   * At accept, before ssh2 has seen a byte: the connection takes its place among the target's (or is
   * refused), and limits.authTimeout starts, so a socket that never speaks SSH is closed too.
   */
  constructor(
    private readonly socket: net.Socket,
    private readonly deps: AgentConnectionDeps,
  ) {
    this.logger = deps.context.logger.child(`connection ${this.id}`);
    const admission = deps.context.connections.admit();
    if (admission.kind === 'refused' && admission.atOnce) {
      // as many refused connections already wait to be told: this one holds nothing
      admission.release();
      this.closed = true;
      socket.destroy();
      return;
    }
    if (admission.kind === 'admitted') this.lease = admission.lease;
    else this.refusal = admission;
    this.authTimer = deps.context.clock.setTimeout(() => {
      this.logger.warn(`closed: no login within ${deps.context.limits.authTimeoutMs} ms (limits.authTimeout)`);
      this.close();
    }, deps.context.limits.authTimeoutMs);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** ssh2 read the agent's version line: from here on it speaks SSH. */
  attach(client: Connection): void {
    this.client = client;
    if (this.closed) {
      this.socket.destroy();
      return;
    }
    client.on('error', (err) => this.failed(err));
    client.on('close', () => this.close());
    client.on('authentication', (ctx) => this.authenticate(ctx));
    client.on('ready', () => this.ready());
  }

  /** `graceful`: what was written (a banner, a disconnect) is flushed before the socket goes; a connection that never logged in is cut at once. */
  close(graceful = this.agentSession !== undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.authTimer?.cancel();
    this.idleTimer?.cancel();
    this.gone.abort();
    this.lease?.release();
    this.refusal?.release();
    void this.upstreamClient?.then((c) => c.end(), () => undefined);
    if (graceful) {
      // a clean SSH disconnect, and the socket goes once it is written
      try {
        this.client?.end();
      } catch {
        // ssh2 could not frame a disconnect (the transport already failed): the socket goes below
      }
      this.socket.end();
      this.socket.setTimeout(1000, () => this.socket.destroy());
    } else this.socket.destroy();
  }

  /** An error on the agent's side (garbage instead of SSH, a protocol violation): logged once, this connection closed. */
  private failed(err: Error): void {
    if (!this.closed) this.logger.warn(`closed after an SSH protocol error from the agent: ${err.message}`);
    this.close();
  }

  // ---------------------------------------------------------------------------------------------
  // login

  private authenticate(ctx: AuthContext): void {
    if (this.refusal) {
      // over the target's cap: said with a banner, which OpenSSH's client prints, then closed
      this.tell(`airlock: ${this.refusal.refusal.message}`);
      ctx.reject([]);
      this.close(true);
      return;
    }
    const target = this.deps.target.name;
    const sessions = this.deps.context.sessions;
    switch (ctx.method) {
      case 'password':
        return this.settle(ctx, sessions.authenticate(ctx.password, target));
      case 'keyboard-interactive':
        ctx.prompt([{ prompt: 'Airlock agent session token: ', echo: false }], 'Airlock', '', (answers) => this.settle(ctx, sessions.authenticate(answers[0] ?? '', target)));
        return;
      case 'publickey': {
        const result = sessions.authenticateSshKey(ctx.key, target);
        if (!result.ok) return this.fail(ctx, result.message);
        if (!ctx.signature) {
          // the client asks whether the key would do; it signs next
          ctx.accept();
          return;
        }
        const parsed = sshUtils.parseKey(ctx.key.data);
        if (parsed instanceof Error || !ctx.blob || parsed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
          return this.fail(ctx, 'the publickey signature does not verify');
        }
        return this.settle(ctx, result);
      }
      default:
        ctx.reject(['publickey', 'password', 'keyboard-interactive']);
    }
  }

  private settle(ctx: AuthContext, result: AuthOutcome): void {
    if (!result.ok) return this.fail(ctx, result.message);
    const refused = this.lease!.identify({ id: result.session.id, name: result.session.name });
    if (refused) {
      this.lease = undefined;
      this.tell(`airlock: ${refused.message}`);
      ctx.reject([]);
      this.close(true);
      return;
    }
    this.agentSession = result.session;
    this.agentUser = ctx.username;
    ctx.accept();
  }

  private fail(ctx: AuthContext, reason: string): void {
    this.authFailures++;
    // each reason is told once: OpenSSH tries several keys and methods in a row
    if (!this.toldReasons.has(reason)) {
      this.toldReasons.add(reason);
      this.tell(`airlock: login to target "${this.deps.target.name}" refused: ${reason}`);
    }
    ctx.reject(['publickey', 'password', 'keyboard-interactive']);
    if (this.authFailures >= MAX_AUTH_FAILURES) this.close(true);
  }

  private tell(message: string): void {
    try {
      sendAuthBanner(this.client!, `${message}\r\n`);
    } catch (err) {
      this.logger.warn(`could not tell the agent why: ${(err as Error).message}`);
    }
  }

  /** Traffic on a channel, either way: the connection is not idle. */
  touch(): void {
    this.lastActivity = this.deps.context.clock.now();
  }

  /** limits.idleTimeout: a logged-in connection with no channel traffic for that long is closed. */
  private watchIdle(): void {
    const idle = this.deps.context.limits.idleTimeoutMs;
    if (idle <= 0 || this.closed) return;
    const left = this.lastActivity + idle - this.deps.context.clock.now();
    this.idleTimer = this.deps.context.clock.setTimeout(() => {
      if (this.closed) return;
      if (this.deps.context.clock.now() - this.lastActivity >= idle) {
        this.logger.info(`closed: no traffic for ${idle} ms (limits.idleTimeout)`);
        this.close();
      } else this.watchIdle();
    }, Math.max(left, 1));
  }

  private ready(): void {
    this.authTimer?.cancel();
    this.touch();
    this.watchIdle();
    const { target, context, upstream, classifier } = this.deps;
    const masker = context.masking(target.name);
    const report = new MaskReportBuilder();
    this.session = new SshSession({
      target: target.name,
      upstream: upstream.address,
      connectionId: this.id,
      agentUser: this.agentUser,
      limits: context.limits,
      classify: (c) => classifier.classify(c),
      attributes: (c) => classifier.attributes(c),
      summary: (t, c) => classifier.summary(t, c),
      maskValue: (v) => masker.maskText(v, report),
    });
    this.client!.on('session', (accept, reject) => this.onSession(accept, reject));
    this.client!.on('tcpip', (accept, reject, info) => {
      const where = `${info.destIP}:${info.destPort}`;
      this.forwardChannel('direct-tcpip', { host: info.destIP, port: info.destPort }, where, accept, reject, (up, done) => up.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, done));
    });
    this.client!.on('openssh.streamlocal', (accept, reject, info) => {
      this.forwardChannel('streamlocal', { socketPath: info.socketPath }, info.socketPath, accept, reject, (up, done) => up.openssh_forwardOutStreamLocal(info.socketPath, done));
    });
    this.client!.on('request', (_accept, reject, name, info) => {
      // ssh -R and its unix-socket form: an action each, recorded; Airlock does not relay remote forwards, so even an allowed one is refused
      const where = name === 'tcpip-forward' || name === 'cancel-tcpip-forward' ? { host: (info as { bindAddr: string }).bindAddr, port: (info as { bindPort: number }).bindPort } : { socketPath: (info as { socketPath?: string }).socketPath };
      if (name.startsWith('cancel-')) return reject?.();
      const forward = name === 'tcpip-forward' ? 'tcpip-forward' : 'streamlocal';
      void this.decide(this.session!.forward(undefined, forward, where), () => {
        this.logger.warn(`a ${name} request was allowed by policy, but Airlock does not relay remote forwards: refused`);
        reject?.();
      }, () => reject?.());
    });
  }

  /**
   * A forwarded channel the agent opens (ssh -L, -W, a unix socket): an action; once allowed the
   * matching upstream channel is opened and the two are spliced, unmasked (another protocol runs in it).
   */
  private forwardChannel(
    kind: 'direct-tcpip' | 'streamlocal',
    where: { host: string; port: number } | { socketPath: string },
    described: string,
    accept: () => ServerChannel,
    reject: () => void,
    open: (up: Client, done: (err: Error | undefined, channel: ClientChannel) => void) => void,
  ): void {
    const opened = this.session!.openChannel(kind);
    if (!opened.ok) return this.refuseOpen(reject, opened.message);
    const step = this.session!.forward(opened.channel, kind, where);
    void this.decide(step, async (action) => {
      const up = await this.upstream();
      open(up, (err, channel) => {
        if (err) {
          this.logger.warn(`${action.id}: upstream refused the forward to ${described}: ${err.message}`);
          this.session?.closeChannel(opened.channel);
          return reject();
        }
        this.splice(accept(), channel, opened.channel);
      });
    }, () => {
      this.session?.closeChannel(opened.channel);
      reject();
    });
  }

  private refuseOpen(reject: () => void, message: string): void {
    // SSH's channel-open failure carries no text ssh2 lets a server set: the log says why
    this.logger.warn(`refused a channel: ${message}`);
    reject();
  }

  // ---------------------------------------------------------------------------------------------
  // session channels

  private onSession(acceptSession: () => Session, rejectSession: () => void): void {
    const session = this.session!;
    const open = session.openChannel('session');
    if (!open.ok) return this.refuseOpen(rejectSession, open.message);
    const channel = open.channel;
    const s = acceptSession();
    /** aborted when the channel closes while its action is held */
    const closed = new AbortController();
    let relay: ChannelRelay | undefined;
    s.on('close', () => {
      closed.abort();
      session.closeChannel(channel);
    });
    s.on('pty', (accept, reject, info) => {
      const step = session.pty(channel, { term: info.term, cols: info.cols, rows: info.rows, width: info.width, height: info.height, modes: info.modes as Record<string, number | undefined> });
      if (step.kind === 'pass') accept?.();
      else reject?.();
    });
    s.on('window-change', (accept, _reject, info) => {
      session.windowChange(channel, info);
      relay?.resize(info.rows, info.cols, info.height, info.width);
      accept?.();
    });
    s.on('env', (accept, reject, info) => {
      void this.decide(session.env(channel, info.key, info.val), () => {
        session.envAllowed(channel, info.key, info.val);
        accept?.();
      }, () => reject?.(), closed.signal);
    });
    s.on('auth-agent', (_accept, reject) => {
      void this.decide(session.forward(channel, 'auth-agent', {}), () => {
        this.logger.warn('agent forwarding was allowed by policy, but Airlock does not relay it: refused');
        reject?.();
      }, () => reject?.(), closed.signal);
    });
    s.on('x11', (_accept, reject) => {
      void this.decide(session.forward(channel, 'x11', {}), () => {
        this.logger.warn('X11 forwarding was allowed by policy, but Airlock does not relay it: refused');
        reject?.();
      }, () => reject?.(), closed.signal);
    });
    s.on('signal', (accept, _reject, info) => {
      relay?.signal(info.name);
      accept?.();
    });
    s.on('exec', (accept, reject, info) => {
      const step = session.exec(channel, info.command);
      void this.decide(step, async (action) => {
        relay = new ChannelRelay(this, action, 'exec', session.ptyOf(channel));
        await relay.start(accept(), (up, cb) => up.exec(info.command, { pty: ptyOption(session.ptyOf(channel)), env: session.envOf(channel) }, cb));
      }, (message) => refuseCommand(accept, reject, message), closed.signal);
    });
    s.on('shell', (accept, reject) => {
      void this.decide(session.shell(channel), async (action) => {
        relay = new ChannelRelay(this, action, 'shell', session.ptyOf(channel));
        await relay.start(accept(), (up, cb) => up.shell(ptyOption(session.ptyOf(channel)) ?? false, { env: session.envOf(channel) }, cb));
      }, (message) => refuseCommand(accept, reject, message), closed.signal);
    });
    s.on('sftp', (accept, reject) => {
      const step = session.subsystem(channel, 'sftp');
      if (step.kind !== 'sftp') return refuseCommand(undefined, reject, '');
      this.bridgeSftp(accept(), channel);
    });
    s.on('subsystem', (accept, reject, info) => {
      const step = session.subsystem(channel, info.name);
      void this.decide(step, async (action) => {
        relay = new ChannelRelay(this, action, 'exec', undefined);
        await relay.start(accept(), (up, cb) => up.subsys(info.name, cb));
      }, (message) => refuseCommand(accept, reject, message), closed.signal);
    });
  }

  /**
   * Carries out a step: `pass` at once; `refuse` and refused verdicts with the sentence; a
   * submitted action through the pipeline (held ones wait here, cancelled when the agent goes away or
   * `channelGone` fires), then `allowed`. An error while carrying it out is told to the agent.
   */
  private async decide(step: Step, allowed: (action: Action) => void | Promise<void>, refused: (message: string) => void, channelGone?: AbortSignal): Promise<void> {
    if (step.kind === 'pass') return void (await allowed(undefined as unknown as Action));
    if (step.kind === 'refuse') return refused(`airlock: ${step.message}\n`);
    if (step.kind === 'sftp') return refused('airlock: sftp is handled separately\n');
    const pipeline = this.deps.context.pipeline;
    const agent = this.agentSession!;
    let decided: { action: Action; verdict: Verdict };
    try {
      decided = pipeline.submitNow(agent, step.request) ?? (await pipeline.submit(agent, step.request, { signal: channelGone ? AbortSignal.any([this.gone.signal, channelGone]) : this.gone.signal }));
    } catch (err) {
      this.logger.error(`could not decide ${step.request.kind} (${step.request.summary}): ${(err as Error).message}`);
      return refused(`airlock: refused: Airlock could not decide on this request (${(err as Error).message})\n`);
    }
    if (this.closed) return;
    if (!decided.verdict.allowed) return refused(refusalText(decided.verdict));
    try {
      await allowed(decided.action);
    } catch (err) {
      const message = (err as Error).message;
      this.logger.warn(`${decided.action.id}: ${message}`);
      void this.deps.context.pipeline.recordResult(agent, decided.action, { summary: `not run: ${message}`, error: message }).catch(() => undefined);
      refused(`airlock: ${message}\n`);
    }
  }

  /**
   * sftp (and scp, which OpenSSH ≥ 9 runs over it): the channel is accepted at once (OpenSSH sends its
   * INIT without waiting, and ssh2 drops data nothing accepted) and bridged to an upstream sftp
   * channel; the bridge governs each operation as an ssh.sftp action.
   */
  private bridgeSftp(agent: SFTPWrapper, channel: number): void {
    const { context, target, upstream: address } = this.deps;
    const upstream = this.upstream().then(
      (up) => new Promise<SFTPWrapper>((resolve, reject) => up.sftp((err, sftp) => (err ? reject(new Error(`the upstream refused sftp: ${err.message}`)) : resolve(sftp)))),
    );
    upstream.catch((err: Error) => this.logger.warn(`sftp on channel ${channel}: ${err.message}`));
    const bridge = startSftpBridge<Action>({
      agent,
      upstream,
      ...governThroughPipeline({
        pipeline: context.pipeline,
        session: this.agentSession!,
        target: target.name,
        endpoint: { agentUser: this.agentUser, upstream: address.address, connectionId: this.id, channel },
        logger: this.logger,
      }),
      limits: sftpLimitsOf(context.limits),
      logger: this.logger.child('sftp'),
    });
    void bridge.closed.then(() => this.session?.closeChannel(channel));
  }

  /** The upstream connection, opened when the first channel is allowed; one per agent connection. */
  upstream(): Promise<Client> {
    if (!this.upstreamClient) {
      this.upstreamClient = this.deps.upstream.connect();
      this.upstreamClient.then(
        (c) => {
          c.on('close', () => {
            if (!this.closed) this.logger.info('the upstream connection closed; closing the agent connection');
            this.close();
          });
          c.on('error', (err) => this.logger.warn(`upstream connection error: ${err.message}`));
          if (this.closed) c.end();
        },
        // the next channel tries again (the server may be back)
        () => (this.upstreamClient = undefined),
      );
    }
    return this.upstreamClient;
  }

  /** A forward: bytes both ways as they are (not masked: they are another protocol), with backpressure. */
  private splice(agent: Duplex, up: Duplex, channel: number): void {
    agent.pipe(up).pipe(agent);
    const done = (): void => {
      this.session?.closeChannel(channel);
      agent.destroy();
      up.destroy();
    };
    agent.once('close', done);
    up.once('close', done);
  }

  get who(): { session: AgentSession; logger: Logger; context: ProxyContext } {
    return { session: this.agentSession!, logger: this.logger, context: this.deps.context };
  }
}

type AuthOutcome = { ok: true; session: AgentSession } | { ok: false; message: string };

function ptyOption(pty: PtyInfo | undefined): { rows: number; cols: number; height: number; width: number; term: string } | undefined {
  return pty ? { rows: pty.rows, cols: pty.cols, height: pty.height ?? 0, width: pty.width ?? 0, term: pty.term } : undefined;
}

/** The one place a verdict becomes SSH text: the pipeline's sentence, framed for stderr. */
export function refusalText(verdict: Verdict): string {
  return `airlock: refused by policy rule ${verdict.ruleId}: ${verdict.reason}\n`;
}

/** A refused exec/shell/subsystem: the channel opens only to say why on stderr and exit 126, which OpenSSH's client passes on as its own status. */
function refuseCommand(accept: (() => ServerChannel) | undefined, reject: (() => void) | undefined, message: string): void {
  if (!accept) return reject?.();
  // undefined when the agent closed the channel meanwhile: no one is left to tell
  const stream = accept() as ServerChannel | undefined;
  if (!stream) return;
  stream.stderr.write(message);
  stream.exit(REFUSED_EXIT_STATUS);
  stream.end();
}

/**
 * One allowed exec or shell: the agent's channel relayed to an upstream channel. Output (stdout,
 * stderr) goes through a masker per stream and into the asciicast clip; input goes up as it is (a
 * shell's input is recorded except after a secret prompt); exit status and signal are relayed and
 * recorded. Backpressure: when the agent stops reading, its channel's window closes, write() returns
 * false, and the upstream stream is paused (so ssh2 stops widening the upstream window); when the
 * upstream is slow the agent's input is paused the same way.
 */
class ChannelRelay {
  private up?: ClientChannel;
  private readonly report = new MaskReportBuilder();
  private readonly cast: AsciicastWriter;
  private readonly echo = new EchoGuard();
  private readonly started: number;
  private bytesIn = 0;
  private exitStatus: number | null = null;
  private exitSignal: string | null = null;
  private finished = false;

  constructor(
    private readonly owner: AgentConnection,
    private readonly action: Action,
    private readonly mode: 'exec' | 'shell',
    pty: PtyInfo | undefined,
  ) {
    const { context } = owner.who;
    this.started = context.clock.now();
    this.cast = new AsciicastWriter(this.started, context.limits.recordedBytesPerClip, { width: pty?.cols ?? 80, height: pty?.rows ?? 24, term: pty?.term, title: action.summary });
  }

  async start(agent: ServerChannel | undefined, open: (up: Client, cb: (err: Error | undefined, channel: ClientChannel) => void) => void): Promise<void> {
    if (!agent) {
      // the agent closed the channel between the verdict and now: nothing runs
      void this.owner.who.context.pipeline.recordResult(this.owner.who.session, this.action, { summary: 'not run: the agent closed the channel', error: 'the agent closed the channel before it started' }).catch(() => undefined);
      return;
    }
    let up: Client;
    try {
      up = await this.owner.upstream();
    } catch (err) {
      // the upstream is down or not pinned: the agent hears why, with the refused status
      this.fail(agent, (err as Error).message);
      return;
    }
    open(up, (err, channel) => {
      if (err) return this.fail(agent, `the upstream refused the channel: ${err.message}`);
      this.up = channel;
      this.relay(agent, channel);
    });
  }

  private touch(): void {
    this.owner.touch();
  }

  resize(rows: number, cols: number, height: number, width: number): void {
    this.up?.setWindow(rows, cols, height, width);
    this.cast.add(this.owner.who.context.clock.now(), 'r', `${cols}x${rows}`);
  }

  signal(name: string): void {
    this.up?.signal(name);
  }

  private fail(agent: ServerChannel, message: string): void {
    const { session, logger, context } = this.owner.who;
    logger.warn(`${this.action.id}: ${message}`);
    agent.stderr.write(`airlock: ${message}\n`);
    agent.exit(REFUSED_EXIT_STATUS);
    agent.end();
    this.cast.exit(context.clock.now(), REFUSED_EXIT_STATUS);
    void context.pipeline.recordResult(session, this.action, { summary: `not run: ${message}`, error: message, detail: this.detail(0) }).catch(() => undefined);
  }

  private relay(agent: ServerChannel, up: ClientChannel): void {
    const { context } = this.owner.who;
    const masker = context.masking(this.action.target);
    const stdout = new MaskedOutput(masker, this.report);
    const stderr = new MaskedOutput(masker, this.report);
    const flushTimers: { cancel(): void }[] = [];
    const pipeOut = (from: Readable, output: MaskedOutput, to: Writable): void => {
      let quiet: { cancel(): void } | undefined;
      let waiting = false;
      const send = (bytes: Buffer): void => {
        if (bytes.length === 0) return;
        // decoded again only while someone reads it: the clip until it is full, a shell's prompt watch
        if (!this.cast.truncated || this.mode === 'shell') {
          const text = bytes.toString('utf8');
          this.cast.add(context.clock.now(), 'o', text);
          if (this.mode === 'shell') this.echo.output(text);
        }
        this.touch();
        if (!to.write(bytes) && !waiting) {
          // the agent is not reading: stop reading upstream (ssh2 then stops widening its window) until it drains
          waiting = true;
          from.pause();
          to.once('drain', () => {
            waiting = false;
            from.resume();
          });
        }
      };
      from.on('data', (chunk: Buffer) => {
        send(output.push(chunk));
        quiet?.cancel();
        if (output.held > 0) {
          quiet = context.clock.setTimeout(() => send(output.flush()), QUIET_FLUSH_MS);
          flushTimers.push(quiet);
        }
      });
      from.once('end', () => {
        quiet?.cancel();
        send(output.flush(true));
      });
    };
    pipeOut(up, stdout, agent);
    pipeOut(up.stderr, stderr, agent.stderr);

    let inputWaiting = false;
    agent.on('data', (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      if (this.mode === 'shell') {
        const kept = this.echo.input(chunk.toString('utf8'));
        if (kept.withheld) this.cast.add(context.clock.now(), 'm', 'input not recorded (secret prompt)');
        this.cast.add(context.clock.now(), 'i', kept.record);
      }
      this.touch();
      if (!up.write(chunk) && !inputWaiting) {
        inputWaiting = true;
        agent.pause();
        up.once('drain', () => {
          inputWaiting = false;
          agent.resume();
        });
      }
    });
    agent.once('end', () => up.end());
    agent.once('close', () => {
      // the agent closed its channel: the upstream command gets EOF and its channel closes
      if (!this.finished) up.close();
    });
    up.once('exit', (status: number | null, signal?: string) => {
      this.exitStatus = typeof status === 'number' ? status : null;
      // recorded by its SSH name (TERM), as it goes on the wire; ssh2's client reports it as SIGTERM
      this.exitSignal = signal ? signal.replace(/^SIG/, '') : null;
    });
    up.once('close', () => {
      for (const t of flushTimers) t.cancel();
      // what is still held goes out before the exit status
      const rest = stdout.flush(true);
      if (rest.length > 0) {
        this.cast.add(context.clock.now(), 'o', rest.toString('utf8'));
        agent.write(rest);
      }
      const restErr = stderr.flush(true);
      if (restErr.length > 0) {
        this.cast.add(context.clock.now(), 'o', restErr.toString('utf8'));
        agent.stderr.write(restErr);
      }
      this.finished = true;
      if (this.exitSignal) agent.exit(this.exitSignal, false, '');
      else if (this.exitStatus !== null) agent.exit(this.exitStatus);
      agent.end();
      this.cast.exit(context.clock.now(), this.exitStatus, this.exitSignal);
      this.record(stdout.bytesOut + stderr.bytesOut);
    });
  }

  private detail(bytesOut: number): SshSessionResultDetail {
    return {
      exitStatus: this.exitStatus,
      exitSignal: this.exitSignal,
      asciicast: this.cast.toString(),
      ...(this.cast.truncated ? { truncated: true } : {}),
      bytesOut,
      bytesIn: this.bytesIn,
    };
  }

  private record(bytesOut: number): void {
    const { session, logger, context } = this.owner.who;
    const how = this.exitSignal ? `killed by ${this.exitSignal}` : `exit ${this.exitStatus ?? 'unknown'}`;
    void context.pipeline
      .recordResult(session, this.action, {
        summary: `${how}, ${bytesOut} bytes out`,
        durationMs: context.clock.now() - this.started,
        ...(this.report.changed ? { maskReport: this.report.toReport() } : {}),
        detail: this.detail(bytesOut) as unknown as Record<string, unknown>,
      })
      .catch((err: Error) => logger.error(`could not record the result of ${this.action.id}: ${err.message}`));
  }
}

export type { ActionRequest };
