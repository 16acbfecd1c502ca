import type { WebSocket } from 'ws';

/**
 * `pods/exec` of the fake Kubernetes API server over WebSocket, framed as the real kubelet stream
 * (the remotecommand channel protocol): every binary message starts with a channel byte — 0 stdin,
 * 1 stdout, 2 stderr, 3 error (a v1 Status JSON: Success, or Failure/NonZeroExitCode with the exit
 * code in details.causes), 4 resize (`{"Width":W,"Height":H}`); in v5.channel.k8s.io a message
 * `[255, ch]` closes channel `ch` (the client closing stdin). No container runs: the fake "runs" a
 * few commands itself, enough for the proxy's tests:
 *   echo ARGS…                print ARGS
 *   cat                       stdin back to stdout until stdin closes (v5) or the socket does
 *   sh -c 'exit N'            exit with N (also `sh -c 'echo TEXT >&2; exit N'`)
 *   head -c N /dev/zero       N bytes of "x", in chunks, with backpressure (throughput)
 *   sleep N                   nothing for N seconds, then exit 0 (a stream to cut mid-way)
 *   printenv                  an environment with secret-looking values (masking)
 *   anything else             "command not found" on stderr, exit 127
 */

export const channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

export const execSubprotocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;
export type ExecSubprotocol = (typeof execSubprotocols)[number];

/** What `printenv` prints in the fake: the values a masker must catch. */
export const fakePodEnvironment: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOSTNAME: 'web-0',
  DATABASE_URL: 'postgres://app:Sup3r-s3cret-pa55word@db.internal:5432/app',
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};

/** One exec session as the fake saw it, for tests to assert on. */
export interface ExecRecord {
  namespace: string;
  pod: string;
  container?: string;
  command: string[];
  protocol: ExecSubprotocol;
  tty: boolean;
  /** the stdin bytes the client sent */
  stdin: Buffer;
  /** resize messages, as sent */
  resizes: { Width: number; Height: number }[];
  /** set when the command ended */
  exitCode?: number;
  /** the client closed stdin with a v5 close message */
  stdinClosed: boolean;
  /** the WebSocket closed (either side) */
  socketClosed?: boolean;
}

export interface ExecStreams {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

const chunkBytes = 64 * 1024;

function frame(channelByte: number, data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat([Buffer.from([channelByte]), payload]);
}

function exitStatus(command: string[], code: number): Record<string, unknown> {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

/** `sh -c SCRIPT`: `exit N`, optionally after `echo TEXT >&2;` or `echo TEXT;`. */
function shellScript(script: string): { stdout: string; stderr: string; code: number } | undefined {
  let stdout = '';
  let stderr = '';
  let code = 0;
  for (const part of script.split(';').map((p) => p.trim()).filter(Boolean)) {
    const exit = /^exit\s+(\d+)$/.exec(part);
    const echo = /^echo\s+(.*?)(\s*>&2)?$/.exec(part);
    if (exit) {
      code = Number(exit[1]);
      break;
    } else if (echo) {
      const text = `${echo[1]!.replace(/^['"]|['"]$/g, '')}\n`;
      if (echo[2]) stderr += text;
      else stdout += text;
    } else return undefined;
  }
  return { stdout, stderr, code };
}

/** Runs `record.command` on an upgraded socket until the command ends; resolves when the socket closed. */
export function runExec(socket: WebSocket, record: ExecRecord, streams: ExecStreams): Promise<void> {
  const v5 = record.protocol === 'v5.channel.k8s.io';
  let finished = false;
  let onStdin: ((data: Buffer) => void) | undefined;
  let onStdinClosed: (() => void) | undefined;

  const send = (channelByte: number, data: Buffer | string): Promise<void> =>
    new Promise((resolve) => {
      if (socket.readyState !== socket.OPEN) return resolve();
      socket.send(frame(channelByte, data), { binary: true }, () => resolve());
    });
  const out = (text: string | Buffer) => (streams.stdout ? send(channel.stdout, text) : Promise.resolve());
  const err = (text: string) => (streams.stderr ? send(channel.stderr, text) : Promise.resolve());
  const finish = async (code: number) => {
    if (finished) return;
    finished = true;
    record.exitCode = code;
    await send(channel.error, JSON.stringify(exitStatus(record.command, code)));
    if (socket.readyState === socket.OPEN) socket.close(1000);
  };

  socket.on('message', (data: Buffer, isBinary: boolean) => {
    const message = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
    if (!isBinary || message.length === 0) return;
    const channelByte = message[0]!;
    const payload = message.subarray(1);
    if (channelByte === channel.stdin) {
      record.stdin = Buffer.concat([record.stdin, payload]);
      onStdin?.(payload);
    } else if (channelByte === channel.resize) {
      try {
        record.resizes.push(JSON.parse(payload.toString('utf8')) as { Width: number; Height: number });
      } catch {
        // a resize that is not JSON is ignored, as the kubelet does
      }
    } else if (v5 && channelByte === channel.close && payload[0] === channel.stdin) {
      record.stdinClosed = true;
      onStdinClosed?.();
    }
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));

  const [program, ...args] = record.command;
  void (async () => {
    if (program === 'echo') {
      await out(`${args.join(' ')}\n`);
      await finish(0);
    } else if (program === 'cat' && args.length === 0) {
      if (!streams.stdin) return finish(0);
      onStdin = (data) => void out(data);
      onStdinClosed = () => void finish(0);
      if (record.stdinClosed) await finish(0);
    } else if (program === 'sh' && args[0] === '-c' && args.length === 2 && shellScript(args[1]!)) {
      const result = shellScript(args[1]!)!;
      if (result.stdout) await out(result.stdout);
      if (result.stderr) await err(result.stderr);
      await finish(result.code);
    } else if (program === 'head' && args[0] === '-c' && /^\d+$/.test(args[1] ?? '') && args[2] === '/dev/zero') {
      let left = Number(args[1]);
      const chunk = Buffer.alloc(chunkBytes, 'x');
      // each send waits for the socket to take it: a client that reads slowly slows the command
      while (left > 0 && socket.readyState === socket.OPEN) {
        const size = Math.min(left, chunk.length);
        await out(size === chunk.length ? chunk : chunk.subarray(0, size));
        left -= size;
      }
      await finish(0);
    } else if (program === 'sleep' && /^\d+$/.test(args[0] ?? '') && args.length === 1) {
      const timer = setTimeout(() => void finish(0), Number(args[0]) * 1000);
      socket.on('close', () => clearTimeout(timer));
    } else if (program === 'printenv' && args.length === 0) {
      await out(Object.entries(fakePodEnvironment).map(([k, v]) => `${k}=${v}\n`).join(''));
      await finish(0);
    } else {
      await err(`sh: ${program ?? ''}: not found\n`);
      await finish(127);
    }
  })();
  return closed;
}
