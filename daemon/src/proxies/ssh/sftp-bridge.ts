/**
 * The sftp bridge: relays one sftp subsystem channel between the agent (an ssh2 server-mode SFTP
 * stream) and the real sshd (an ssh2 client-mode SFTP stream), governing it.
 *
 * Governed, one action each: every path-level operation — open (read or write by its flags),
 * opendir, stat, lstat, realpath, readlink, remove, rename (and posix-rename@openssh.com), mkdir,
 * rmdir, setstat, fsetstat, symlink, hardlink@openssh.com. READ, WRITE, READDIR, FSTAT, fsync and
 * CLOSE on a handle are covered by the open that issued it: a 200 MB scp is one action, not 6,000.
 * Other extended requests are refused; so is any handle the bridge did not issue, without the upstream
 * seeing it. A refusal is SSH_FX_PERMISSION_DENIED carrying the govern callback's message; the sftp
 * session goes on.
 *
 * Recorded (through `recordResult`, never the bytes): each allowed operation's outcome; for a handle,
 * when it closes (or the channel ends), the bytes that went and their SHA-256 when they went in one
 * pass from offset 0, or the number of directory entries listed.
 *
 * Order: path-level operations reach the upstream in the order the agent sent them, so while one is
 * held for approval the later ones wait behind it (their verdicts are asked for at once, so a person
 * sees them all); requests on an open handle go straight through, unless an operation on that same
 * handle (fsetstat) is waiting, in which case they wait behind it too.
 *
 * Bounds: requests outstanding and bytes in flight (READ lengths, WRITE payloads, and replies ssh2
 * holds until the agent opens its window) are capped per channel. At a cap the agent's channel is
 * paused — its SSH window is not reopened — and requests already parsed wait in order; they go on
 * as replies free room. So a flood, or an agent that stops reading replies, is slowed, never
 * refused and never buffered past one window. A READ asks the upstream for at most
 * maxBytesPerRequest (a short read, which the protocol allows); a larger WRITE is refused; each
 * upstream call has a timeout.
 *
 * The channel: the bridge owns both SFTP streams once started. When the agent ends, the bridge sends
 * it exit status 0 (as sshd does when sftp-server ends; scp fails without one) and ends the upstream;
 * when the upstream ends, its own exit status is relayed and the agent's channel closed. Handles still
 * open are recorded with status `connection closed`.
 */
import { createRequire } from 'node:module';
import type { SFTPWrapper, Stats, FileEntry } from 'ssh2';
import type { SshSftpResultDetail } from '@airlock/shared';
import type { Logger } from '../../util/logger.js';
import { FX, SftpSession, statusInWords, type OpenHandle, type SftpOp, type SftpRequest, type SftpSessionLimits, type UpstreamCall } from './sftp-session.js';

export interface SftpLimits extends SftpSessionLimits {
  /** agent requests not yet answered, per channel; at the cap the channel is paused */
  maxOutstanding: number;
  /** the most one READ asks of the upstream, and the largest WRITE accepted */
  maxBytesPerRequest: number;
  /**
   * READ lengths and WRITE payloads not yet answered, and replies not yet taken by the agent, per
   * channel; at the cap the channel is paused
   */
  maxBytesInFlight: number;
  /** how long the upstream has to answer one call (a hold for approval does not count) */
  opTimeoutMs: number;
}

/** The answer to one governed operation. `action` is handed back to recordResult with the outcome. */
export interface SftpVerdict<A> {
  allowed: boolean;
  /** the refusal the agent reads: `airlock: refused by policy rule <id>: <reason>` (see refusalMessage) */
  message?: string;
  action?: A;
}

export interface SftpBridgeOptions<A> {
  /** the agent's side: the SFTP stream from `accept()` on the session's 'sftp' event */
  agent: SFTPWrapper;
  /**
   * The upstream's side: from `client.sftp(cb)` on the connection to the real sshd. A promise is
   * the usual case: the agent's SFTP stream must be accepted and bridged at once (OpenSSH sends its
   * INIT without waiting for the subsystem reply, and ssh2 drops channel data nothing has accepted
   * yet), while the upstream's channel takes a round trip to open. Calls wait for it (within the
   * caps); if it fails, they fail and the bridge closes.
   */
  upstream: SFTPWrapper | Promise<SFTPWrapper>;
  /**
   * Decide one operation. Return the verdict itself when it is settled at once (the pipeline's
   * submitNow), a promise when it is held; `signal` aborts when the agent's channel goes.
   */
  govern(op: SftpOp, signal: AbortSignal): SftpVerdict<A> | Promise<SftpVerdict<A>>;
  /** the outcome of an allowed operation; for an open, when its handle closes */
  recordResult(op: SftpOp, result: SshSftpResultDetail, action: A | undefined): void;
  limits: SftpLimits;
  logger: Logger;
}

export interface SftpBridgeStats {
  outstanding: number;
  bytesInFlight: number;
  openHandles: number;
  /** the most requests outstanding at once so far */
  peakOutstanding: number;
  /** the most bytes in flight at once so far */
  peakBytesInFlight: number;
  /** WRITEs refused for being larger than maxBytesPerRequest */
  refusedOverLimit: number;
  /** requests waiting for room (the channel is paused while any wait) */
  waiting: number;
  peakWaiting: number;
  /** how many times the agent's channel was paused */
  pauses: number;
  /** reply bytes ssh2 holds until the agent opens its window, now and at most */
  unreadBytes: number;
  peakUnreadBytes: number;
}

export interface SftpBridge {
  /** ends both sides; handles still open are recorded with status `connection closed` */
  close(): void;
  /** settles when the bridge has closed, from either side */
  readonly closed: Promise<void>;
  stats(): SftpBridgeStats;
}

/** The refusal an agent reads when policy refuses an operation. */
export function refusalMessage(ruleId: string, reason: string): string {
  return `airlock: refused by policy rule ${ruleId}: ${reason}`;
}

/** An answer to one agent request, sent at most once; it frees what the request held. */
interface Reply {
  readonly done: boolean;
  status(code: number, message?: string): void;
  handle(handle: Buffer): void;
  data(data: Buffer): void;
  name(names: FileEntry[]): void;
  attrs(attrs: Stats): void;
}

interface Waiting<A> {
  op?: SftpOp;
  call: UpstreamCall;
  reply: Reply;
  verdict?: SftpVerdict<A>;
  /** the handle this waiting request keeps in order, if any */
  handle?: OpenHandle;
}

export function startSftpBridge<A>(options: SftpBridgeOptions<A>): SftpBridge {
  const { agent, limits, logger } = options;
  let upstream: SFTPWrapper | undefined;
  /** calls made before the upstream's channel was open, in order */
  let waitingForUpstream: { call: UpstreamCall; answer: Reply; op: SftpOp | undefined; action: A | undefined }[] = [];
  const session = new SftpSession(limits);
  const abort = new AbortController();
  const actions = new WeakMap<OpenHandle, { action: A | undefined }>();
  /** governed requests (and handle requests behind them) in arrival order */
  const queue: Waiting<A>[] = [];
  /** per handle: requests in the queue for it, so later ones on it keep their place */
  const queuedOn = new Map<OpenHandle, number>();
  let outstanding = 0;
  let bytesInFlight = 0;
  let peakOutstanding = 0;
  let peakBytesInFlight = 0;
  let refusedOverLimit = 0;
  let closed = false;
  let resolveClosed!: () => void;
  const closedPromise = new Promise<void>((resolve) => (resolveClosed = resolve));

  const reply = (reqid: number, cost: number): Reply => {
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      outstanding--;
      bytesInFlight -= cost;
      return !closed;
    };
    return {
      get done() {
        return done;
      },
      status: (code, message) => finish() && (agent.status(reqid, code, message), replied()),
      handle: (handle) => finish() && (agent.handle(reqid, handle), replied()),
      data: (data) => finish() && (agent.data(reqid, data), replied()),
      name: (names) => finish() && (agent.name(reqid, names), replied()),
      attrs: (attrs) => finish() && (agent.attrs(reqid, attrs), replied()),
    };
  };

  /**
   * Replies the agent has not made room for yet (its channel window is shut), which ssh2 holds. They
   * count as bytes in flight until they leave: an agent that sends requests but reads no replies is
   * paused like one that sends too many, and what ssh2 holds for it stays within maxBytesInFlight.
   */
  const unread = new UnreadReplies(agent);
  let peakUnread = 0;
  const sent = (): void => {
    const bytes = unread.bytes();
    if (bytes > peakUnread) peakUnread = bytes;
  };

  const record = (op: SftpOp, result: SshSftpResultDetail, action: A | undefined): void => {
    try {
      options.recordResult(op, result, action);
    } catch (err) {
      logger.error(`sftp: recording the result of ${op.operation} ${op.path} failed: ${(err as Error).message}`);
    }
  };

  /**
   * Requests that arrived while the caps were reached, in order. The agent's channel is paused
   * meanwhile (its window is not reopened), so it can send at most one more window of requests.
   */
  const waitingForRoom: { reqid: number; req: SftpRequest; cost: number; wire: number }[] = [];
  /** at least what the waiting requests took on the wire */
  let waitingWire = 0;
  let peakWaiting = 0;
  let pauses = 0;
  const flow = new AgentFlow(agent);

  const fits = (cost: number): boolean => outstanding < limits.maxOutstanding && bytesInFlight + unread.bytes() + cost <= limits.maxBytesInFlight;

  const request = (reqid: number, req: SftpRequest, cost: number): void => {
    if (closed) return;
    if (cost > limits.maxBytesPerRequest) {
      // a WRITE larger than any READ the bridge makes: it could never fit, so it is refused
      return overLimit(reqid, `airlock: an sftp write of ${cost} bytes is over this channel's limit of ${limits.maxBytesPerRequest} bytes per request`);
    }
    if (waitingForRoom.length > 0 || !fits(cost)) {
      const wire = SMALLEST_REQUEST_BYTES + (req.type === 'WRITE' ? req.data.length : 0);
      waitingForRoom.push({ reqid, req, cost, wire });
      waitingWire += wire;
      if (waitingForRoom.length > peakWaiting) peakWaiting = waitingForRoom.length;
      if (!flow.paused) pauses++;
      flow.pause();
      // after the pause the agent can send what is left of its window (and the rest of the data
      // being parsed): past that, the pause did not hold, and the channel is closed
      if (waitingWire > flow.window + limits.maxBytesPerRequest) {
        logger.warn(`sftp: the agent sent ${waitingWire} bytes of requests while paused, more than its window allows; closing its sftp channel`);
        close();
      }
      return;
    }
    admit(reqid, req, cost);
  };

  /** Requests that now fit, in order; the window reopens once none wait. */
  const admitWaiting = (): void => {
    while (!closed && waitingForRoom.length > 0 && fits(waitingForRoom[0]!.cost)) {
      const next = waitingForRoom.shift()!;
      waitingWire -= next.wire;
      admit(next.reqid, next.req, next.cost);
    }
    if (!closed && waitingForRoom.length === 0) flow.resume();
  };
  const replied = (): void => {
    sent();
    admitWaiting();
  };
  // replies ssh2 held leave when the agent opens its window: room for waiting requests
  flow.onDrain = admitWaiting;

  const admit = (reqid: number, req: SftpRequest, cost: number): void => {
    outstanding++;
    if (outstanding > peakOutstanding) peakOutstanding = outstanding;
    bytesInFlight += cost;
    if (bytesInFlight > peakBytesInFlight) peakBytesInFlight = bytesInFlight;
    const answer = reply(reqid, cost);
    const plan = session.plan(req);
    switch (plan.do) {
      case 'reply':
        answer.status(plan.code, plan.message);
        return;
      case 'forward': {
        const handle = 'handle' in plan.call ? (plan.call.handle as OpenHandle) : undefined;
        if (handle && queuedOn.has(handle)) enqueue({ call: plan.call, reply: answer, verdict: { allowed: true }, handle });
        else execute(plan.call, answer, undefined, undefined);
        return;
      }
      case 'govern':
        govern(plan.op, plan.call, answer);
        return;
    }
  };

  /** Refused before anything is held for it: the request is answered at once and costs nothing after. */
  const overLimit = (reqid: number, message: string): void => {
    refusedOverLimit++;
    agent.status(reqid, FX.FAILURE, message);
    sent();
  };


  const govern = (op: SftpOp, call: UpstreamCall, answer: Reply): void => {
    let verdict: SftpVerdict<A> | Promise<SftpVerdict<A>>;
    try {
      verdict = options.govern(op, abort.signal);
    } catch (err) {
      verdict = failed(op, err);
    }
    const handle = 'handle' in call ? (call.handle as OpenHandle) : undefined;
    if (!isPromiseLike(verdict)) {
      if (queue.length === 0) settle({ op, call, reply: answer, verdict });
      else enqueue({ op, call, reply: answer, verdict, handle });
      return;
    }
    const waiting: Waiting<A> = { op, call, reply: answer, handle };
    enqueue(waiting);
    Promise.resolve(verdict).then(
      (v) => {
        waiting.verdict = v;
        flush();
      },
      (err) => {
        waiting.verdict = failed(op, err);
        flush();
      },
    );
  };

  const failed = (op: SftpOp, err: unknown): SftpVerdict<A> => {
    logger.error(`sftp: governing ${op.operation} ${op.path} failed: ${(err as Error).message}`);
    return { allowed: false, message: `airlock: refused because the operation could not be governed: ${(err as Error).message}` };
  };

  const enqueue = (waiting: Waiting<A>): void => {
    queue.push(waiting);
    if (waiting.handle) queuedOn.set(waiting.handle, (queuedOn.get(waiting.handle) ?? 0) + 1);
  };

  const flush = (): void => {
    while (queue.length > 0 && queue[0]!.verdict) {
      const waiting = queue.shift()!;
      if (waiting.handle) {
        const left = queuedOn.get(waiting.handle)! - 1;
        if (left === 0) queuedOn.delete(waiting.handle);
        else queuedOn.set(waiting.handle, left);
      }
      settle(waiting);
    }
  };

  const settle = (waiting: Waiting<A>): void => {
    const verdict = waiting.verdict!;
    if (closed) return;
    if (!verdict.allowed) {
      waiting.reply.status(FX.PERMISSION_DENIED, verdict.message ?? 'airlock: refused by policy');
      return;
    }
    execute(waiting.call, waiting.reply, waiting.op, verdict.action);
  };

  /** Makes one upstream call and answers the agent; `op` is set for a governed call, whose outcome is recorded. */
  const execute = (call: UpstreamCall, answer: Reply, op: SftpOp | undefined, action: A | undefined): void => {
    if (!upstream) {
      waitingForUpstream.push({ call, answer, op, action });
      return;
    }
    call_(upstream, call, answer, op, action);
  };

  const call_ = (upstream: SFTPWrapper, call: UpstreamCall, answer: Reply, op: SftpOp | undefined, action: A | undefined): void => {
    const what = describe(call);
    const timer = setTimeout(() => {
      if (answer.done) return;
      logger.warn(`sftp: the upstream did not answer ${what} within ${limits.opTimeoutMs} ms`);
      answer.status(FX.FAILURE, `airlock: the upstream did not answer ${what} within ${limits.opTimeoutMs} ms`);
      if (op) record(op, { status: 'timeout', message: `the upstream did not answer within ${limits.opTimeoutMs} ms` }, action);
    }, limits.opTimeoutMs);
    // an answer after the timeout has already been given: it is dropped
    const late = (): boolean => {
      clearTimeout(timer);
      return answer.done;
    };
    /** an upstream error, relayed with the upstream's own status code and message */
    const fail = (err: Error & { code?: unknown }): void => {
      const code = statusOf(err);
      const message = code !== FX.FAILURE || typeof err.code === 'number' ? err.message : `airlock: the upstream sftp failed: ${err.message}`;
      answer.status(code, message);
      if (op) record(op, { status: statusInWords(code), message }, action);
    };
    const done = (): void => {
      answer.status(FX.OK);
      if (op) record(op, { status: 'ok' }, action);
    };
    const plain = (err: Error | null | undefined): void => {
      if (late()) return;
      if (err) fail(err);
      else done();
    };
    try {
      switch (call.type) {
        case 'OPEN':
        case 'OPENDIR': {
          const opened = (err: Error | null | undefined, upstreamHandle: Buffer): void => {
            if (late()) {
              // the agent was told it failed: nothing may stay open upstream for it
              if (!err && upstreamHandle) upstream.close(upstreamHandle, () => undefined);
              return;
            }
            if (err) return fail(err);
            const handle = session.opened(op!, call.type === 'OPEN' ? call.pflags : undefined, upstreamHandle);
            actions.set(handle, { action });
            answer.handle(handle.id);
          };
          if (call.type === 'OPEN') upstream.open(call.path, call.pflags, (call.attrs ?? {}) as never, opened);
          else upstream.opendir(call.path, opened);
          return;
        }
        case 'READ': {
          const { handle, offset } = call;
          const length = Math.min(call.length, limits.maxBytesPerRequest);
          if (length === 0) {
            late();
            answer.data(Buffer.alloc(0));
            return;
          }
          upstream.read(handle.upstream, Buffer.allocUnsafe(length), 0, length, offset, (err, bytes, data) => {
            if (late()) return;
            if (err) return fail(err);
            if (bytes === 0) return answer.status(FX.EOF);
            const chunk = data.subarray(0, bytes);
            session.read(handle, offset, chunk);
            answer.data(chunk);
          });
          return;
        }
        case 'WRITE': {
          const { handle, offset, data } = call;
          upstream.write(handle.upstream, data, 0, data.length, offset, (err) => {
            if (late()) return;
            if (err) return fail(err);
            session.wrote(handle, offset, data);
            answer.status(FX.OK);
          });
          return;
        }
        case 'READDIR':
          // full: '.' and '..' go to the agent as the upstream sent them
          (upstream.readdir as unknown as (h: Buffer, o: { full: boolean }, cb: (err: Error | undefined, list: FileEntry[]) => void) => void).call(upstream, call.handle.upstream, { full: true }, (err, list) => {
            if (late()) return;
            if (err) return fail(err);
            session.listed(call.handle, list.length);
            answer.name(list);
          });
          return;
        case 'FSTAT':
          upstream.fstat(call.handle.upstream, (err, stats) => (late() ? undefined : err ? fail(err) : answer.attrs(stats)));
          return;
        case 'CLOSE': {
          const handle = call.handle;
          upstream.close(handle.upstream, (err) => {
            if (late()) return;
            const code = err ? statusOf(err) : FX.OK;
            answer.status(code, err?.message);
            record(handle.op, session.result(handle, statusInWords(code), err?.message), actions.get(handle)?.action);
          });
          return;
        }
        case 'FSETSTAT':
          upstream.fsetstat(call.handle.upstream, (call.attrs ?? {}) as never, plain);
          return;
        case 'FSYNC':
          upstream.ext_openssh_fsync(call.handle.upstream, plain);
          return;
        case 'STAT':
        case 'LSTAT': {
          const method = call.type === 'STAT' ? upstream.stat : upstream.lstat;
          method.call(upstream, call.path, (err: Error | undefined, stats: Stats) => {
            if (late()) return;
            if (err) return fail(err);
            answer.attrs(stats);
            if (op) record(op, { status: 'ok' }, action);
          });
          return;
        }
        case 'REALPATH':
        case 'READLINK': {
          const method = call.type === 'REALPATH' ? upstream.realpath : upstream.readlink;
          method.call(upstream, call.path, (err: Error | undefined, target: string) => {
            if (late()) return;
            if (err) return fail(err);
            // OpenSSH's sftp-server sends a dummy longname and empty attributes here too
            answer.name([{ filename: target, longname: '', attrs: {} as never }]);
            if (op) record(op, { status: 'ok' }, action);
          });
          return;
        }
        case 'REMOVE':
          upstream.unlink(call.path, plain);
          return;
        case 'RMDIR':
          upstream.rmdir(call.path, plain);
          return;
        case 'MKDIR':
          upstream.mkdir(call.path, (call.attrs ?? {}) as never, plain);
          return;
        case 'SETSTAT':
          upstream.setstat(call.path, (call.attrs ?? {}) as never, plain);
          return;
        case 'RENAME':
          upstream.rename(call.path, call.toPath, plain);
          return;
        case 'POSIX_RENAME':
          upstream.ext_openssh_rename(call.path, call.toPath, plain);
          return;
        case 'HARDLINK':
          upstream.ext_openssh_hardlink(call.path, call.toPath, plain);
          return;
        case 'SYMLINK':
          upstream.symlink(call.targetPath, call.linkPath, plain);
          return;
      }
    } catch (err) {
      // ssh2 throws at once for what it will not send (an extension the upstream lacks, ...)
      if (late()) return;
      fail(err as Error);
    }
  };

  const on = (event: string, listener: (...args: never[]) => void): void => {
    agent.on(event, listener as (...args: unknown[]) => void);
  };
  on('OPEN', (reqid: number, path: string, pflags: number, attrs: Stats) => request(reqid, { type: 'OPEN', path, pflags, attrs }, 0));
  on('OPENDIR', (reqid: number, path: string) => request(reqid, { type: 'OPENDIR', path }, 0));
  for (const type of ['STAT', 'LSTAT', 'REALPATH', 'READLINK', 'REMOVE', 'RMDIR'] as const) {
    on(type, (reqid: number, path: string) => request(reqid, { type, path }, 0));
  }
  for (const type of ['MKDIR', 'SETSTAT'] as const) {
    on(type, (reqid: number, path: string, attrs: Stats) => request(reqid, { type, path, attrs }, 0));
  }
  on('RENAME', (reqid: number, path: string, toPath: string) => request(reqid, { type: 'RENAME', path, toPath }, 0));
  // ssh2 has already undone OpenSSH's swapped SYMLINK arguments: (the link, what it points to)
  on('SYMLINK', (reqid: number, linkPath: string, targetPath: string) => request(reqid, { type: 'SYMLINK', linkPath, targetPath }, 0));
  on('READ', (reqid: number, handle: Buffer, offset: number, length: number) =>
    request(reqid, { type: 'READ', handle, offset, length }, Math.min(length, limits.maxBytesPerRequest)),
  );
  on('WRITE', (reqid: number, handle: Buffer, offset: number, data: Buffer) => request(reqid, { type: 'WRITE', handle, offset, data }, data.length));
  for (const type of ['FSTAT', 'CLOSE', 'READDIR'] as const) {
    on(type, (reqid: number, handle: Buffer) => request(reqid, { type, handle }, 0));
  }
  on('FSETSTAT', (reqid: number, handle: Buffer, attrs: Stats) => request(reqid, { type: 'FSETSTAT', handle, attrs }, 0));
  on('EXTENDED', (reqid: number, name: string, data: Buffer | undefined) => request(reqid, { type: 'EXTENDED', name, data }, 0));

  /** the exit status sshd sent on the upstream channel, relayed when that side ends first */
  let upstreamExit: number | undefined;

  /**
   * `exitStatus`: sent to the agent before its channel closes. OpenSSH clients (scp) fail a transfer
   * whose channel closes without one, and sshd sends one when sftp-server ends: 0 after the agent's
   * EOF, the upstream's own when the upstream ended first.
   */
  const close = (exitStatus?: number): void => {
    if (closed) return;
    closed = true;
    if (exitStatus !== undefined) sendExitStatus(agent, exitStatus);
    abort.abort();
    queue.length = 0;
    queuedOn.clear();
    waitingForUpstream = [];
    waitingForRoom.length = 0;
    for (const handle of session.drain()) {
      record(handle.op, session.result(handle, 'connection closed'), actions.get(handle)?.action);
      try {
        upstream?.close(handle.upstream, () => undefined);
      } catch {
        // the upstream is already gone: nothing is left open there
      }
    }
    upstream?.end();
    agent.end();
    resolveClosed();
  };
  agent.on('end', () => close(0));
  agent.on('close', () => close());
  agent.on('error', (err: Error) => {
    logger.warn(`sftp: the agent's sftp channel failed: ${err.message}`);
    close();
  });
  const attach = (sftp: SFTPWrapper): void => {
    sftp.on('exit', (code: unknown) => {
      if (typeof code === 'number') upstreamExit = code;
    });
    sftp.on('end', () => close(upstreamExit));
    sftp.on('close', () => close(upstreamExit));
    sftp.on('error', (err: Error) => {
      logger.warn(`sftp: the upstream sftp channel failed: ${err.message}`);
      close();
    });
    if (closed) {
      sftp.end();
      return;
    }
    upstream = sftp;
    const calls = waitingForUpstream;
    waitingForUpstream = [];
    for (const w of calls) call_(sftp, w.call, w.answer, w.op, w.action);
  };
  if (isPromiseLike(options.upstream)) {
    options.upstream.then(attach, (err: Error) => {
      logger.warn(`sftp: the upstream sftp subsystem could not be opened: ${err.message}`);
      const message = `airlock: the upstream sftp subsystem could not be opened: ${err.message}`;
      const calls = waitingForUpstream;
      waitingForUpstream = [];
      for (const w of calls) {
        w.answer.status(FX.FAILURE, message);
        if (w.op) record(w.op, { status: statusInWords(FX.FAILURE), message }, w.action);
      }
      close();
    });
  } else attach(options.upstream);
  if (!flow.works) {
    // fail closed: without a pause, a flood would be buffered without bound
    logger.error('sftp: this version of ssh2 offers no way to pause the agent\'s channel (push, windowAdjust), so the sftp subsystem is closed');
    close();
  }

  return {
    close: () => close(),
    closed: closedPromise,
    stats: () => ({ outstanding, bytesInFlight, openHandles: session.openHandles, peakOutstanding, peakBytesInFlight, refusedOverLimit, waiting: waitingForRoom.length, peakWaiting, pauses, unreadBytes: unread.bytes(), peakUnreadBytes: peakUnread }),
  };
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** An SFTP request's length, type and id: what the smallest takes on the wire. */
const SMALLEST_REQUEST_BYTES = 9;

const ssh2Channel = createRequire(import.meta.url)('ssh2/lib/Channel.js') as { windowAdjust?: (channel: unknown) => void; MAX_WINDOW?: number };

/**
 * Flow control of the agent's channel. ssh2 parses channel data as it arrives and reopens the
 * window at once, unless the stream's push() returns false; then it waits for the stream to ask for
 * more (`_waitChanDrain`), as its own Channel does in _read(). The server-mode SFTP stream never
 * returns false, so the bridge wraps push() and reopens the window itself, with ssh2's windowAdjust.
 */
class AgentFlow {
  paused = false;
  /** called when ssh2 has sent replies it held for the agent's window */
  onDrain: () => void = () => undefined;
  /** how much the agent may still send once paused: ssh2's window */
  readonly window: number;
  /** false when this ssh2 lacks what pausing needs (then the bridge refuses to start) */
  readonly works: boolean;
  private readonly channel: { push?: (data: Buffer | null) => unknown; _waitChanDrain?: boolean; _chunkcb?: unknown };

  constructor(agent: SFTPWrapper) {
    this.channel = agent as unknown as AgentFlow['channel'];
    this.window = ssh2Channel.MAX_WINDOW ?? 0;
    const push = this.channel.push?.bind(agent);
    this.works = push !== undefined && typeof ssh2Channel.windowAdjust === 'function';
    if (!push || !this.works) return;
    this.channel.push = (data) => {
      const more = push(data);
      return this.paused && data !== null ? false : more;
    };
    // ssh2 sets _chunkcb to its drainBuffer when the window shuts and calls it when the agent opens
    // the window again: wrapped as it is set, so the bridge hears of the drain
    let chunkcb = this.channel._chunkcb;
    Object.defineProperty(this.channel, '_chunkcb', {
      configurable: true,
      enumerable: true,
      get: () => chunkcb,
      set: (fn: unknown) => {
        const drained = (): void => this.onDrain();
        chunkcb =
          typeof fn === 'function'
            ? function (this: unknown, ...args: unknown[]) {
                (fn as (...a: unknown[]) => void).apply(this, args);
                drained();
              }
            : fn;
      },
    });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.channel._waitChanDrain) {
      this.channel._waitChanDrain = false;
      ssh2Channel.windowAdjust!(this.channel);
    }
  }
}

/**
 * The bytes ssh2 holds for the agent until its window opens: the `_buffer` of its server-mode SFTP
 * stream (an internal; absent, nothing is counted). ssh2 appends to that array and, when it sends
 * some, replaces it: so the sum is kept by adding what was appended since the last look, and taken
 * afresh only after ssh2 has replaced the array (which costs ssh2 as much already).
 */
class UnreadReplies {
  private seen: Buffer[] | undefined;
  private counted = 0;
  private sum = 0;

  constructor(private readonly agent: SFTPWrapper) {}

  bytes(): number {
    const buffer = (this.agent as unknown as { _buffer?: Buffer[] })._buffer;
    if (!Array.isArray(buffer)) return 0;
    if (buffer !== this.seen) {
      this.seen = buffer;
      this.counted = 0;
      this.sum = 0;
    }
    for (; this.counted < buffer.length; this.counted++) this.sum += buffer[this.counted]!.length;
    return this.sum;
  }
}

/**
 * An exit-status on the agent's channel. ssh2's server-mode SFTP stream stands in for the channel and
 * lacks Channel.exit(); this is what that method does, through the same protocol object.
 */
function sendExitStatus(agent: SFTPWrapper, code: number): void {
  const channel = agent as unknown as { outgoing?: { id: number; state: string }; _protocol?: { exitStatus?(id: number, status: number): void } };
  if (channel.outgoing?.state !== 'open' || typeof channel._protocol?.exitStatus !== 'function') return;
  channel._protocol.exitStatus(channel.outgoing.id, code);
}

/** The upstream's status code of an error ssh2 built from a STATUS reply; FAILURE for anything else. */
function statusOf(err: Error & { code?: unknown }): number {
  return typeof err.code === 'number' && err.code > FX.OK && err.code <= FX.OP_UNSUPPORTED ? err.code : FX.FAILURE;
}

function describe(call: UpstreamCall): string {
  const what = call.type.toLowerCase().replace('_', '-');
  if ('path' in call) return `${what} ${call.path}`;
  if ('linkPath' in call) return `${what} ${call.linkPath}`;
  return `${what} on ${call.handle.op.path}`;
}
