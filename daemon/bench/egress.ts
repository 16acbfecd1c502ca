import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { basicAuth, rawConnect, startEgressProxy } from '../test/helpers/egress-proxy.js';
import type { BenchSection } from './report.js';

/**
 * A CONNECT tunnel through the egress proxy (the real daemon, policy and recording on) against a
 * direct TCP connection to the same loopback server: 200 MB down (the server sends) and 200 MB up
 * (the client sends, then half-closes; the server answers once it has read everything), in MB/s.
 * The best of three runs of each, alternated, so a noisy moment hurts both paths alike.
 */

const MB = 1e6;
const TRANSFER_MB = 200;
const RUNS = 5;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

/** Sends `bytes` to each connection, then ends it. */
/** Writes `bytes` of CHUNK to the socket with backpressure, then ends it. */
function sendBytes(socket: net.Socket, bytes: number): void {
  let left = bytes;
  const pump = (): void => {
    while (left > 0) {
      const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= chunk.length;
      if (!socket.write(chunk)) return void socket.once('drain', pump);
    }
    socket.end();
  };
  pump();
}

async function startSource(bytes: number): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    sendBytes(socket, bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Reads each connection to its end, then answers with the count and ends. */
async function startSink(): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    let got = 0;
    socket.on('data', (chunk: Buffer) => (got += chunk.length));
    socket.on('end', () => socket.end(`${got}\n`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/**
 * The floor of any Node relay: a separate process that accepts and pipes each connection to the
 * server, nothing else (no HTTP, no policy, no recording). Resolves with its port.
 */
async function startBareRelay(targetPort: number): Promise<{ port: number; child: ChildProcess }> {
  const code = `const net = require('node:net');
const server = net.createServer({ allowHalfOpen: true }, (a) => {
  const b = net.connect({ port: ${targetPort}, host: '127.0.0.1', allowHalfOpen: true });
  a.on('error', () => b.destroy()); b.on('error', () => a.destroy());
  a.pipe(b); b.pipe(a);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (c) => reject(new Error(`the bare relay exited (${c})`)));
  });
  return { port, child };
}

function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

/** Reads a socket to its end; resolves with the bytes. */
function drain(socket: net.Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    socket.on('data', (chunk: Buffer) => (got += chunk.length));
    socket.once('end', () => resolve(got));
    socket.once('error', reject);
    socket.resume();
  });
}

/** Writes `bytes` with backpressure, half-closes, and waits for the sink's answer. */
function upload(socket: net.Socket, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.once('end', () => resolve(Number(answer.trim())));
    socket.once('error', reject);
    socket.resume();
    sendBytes(socket, bytes);
  });
}

function directSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}

async function timed(open: () => Promise<net.Socket>, work: (socket: net.Socket) => Promise<number>, expect: number): Promise<number> {
  const socket = await open();
  const started = performance.now();
  const bytes = await work(socket);
  const seconds = (performance.now() - started) / 1000;
  socket.destroy();
  if (bytes !== expect) throw new Error(`expected ${expect} bytes, got ${bytes}`);
  return expect / MB / seconds;
}

export async function benchEgress(): Promise<BenchSection> {
  const bytes = TRANSFER_MB * MB;
  const source = await startSource(bytes);
  const sink = await startSink();
  const h = await startEgressProxy({ allowHosts: [`127.0.0.1:${portOf(source)}`, `127.0.0.1:${portOf(sink)}`] });
  const tunnelTo = async (port: number): Promise<net.Socket> => {
    const r = await rawConnect(h.port, `127.0.0.1:${port}`, { 'proxy-authorization': basicAuth(h.token) });
    if (r.status !== 200) throw new Error(`CONNECT refused: ${r.status} ${r.body}`);
    r.socket.allowHalfOpen = true;
    return r.socket;
  };
  const bareDown = await startBareRelay(portOf(source));
  const bareUp = await startBareRelay(portOf(sink));
  try {
    const best = { downDirect: 0, downVia: 0, downBare: 0, upDirect: 0, upVia: 0, upBare: 0 };
    for (let run = 0; run < RUNS; run++) {
      best.downDirect = Math.max(best.downDirect, await timed(() => directSocket(portOf(source)), drain, bytes));
      best.downBare = Math.max(best.downBare, await timed(() => directSocket(bareDown.port), drain, bytes));
      best.upBare = Math.max(best.upBare, await timed(() => directSocket(bareUp.port), (s) => upload(s, bytes), bytes));
      best.downVia = Math.max(best.downVia, await timed(() => tunnelTo(portOf(source)), drain, bytes));
      best.upDirect = Math.max(best.upDirect, await timed(() => directSocket(portOf(sink)), (s) => upload(s, bytes), bytes));
      best.upVia = Math.max(best.upVia, await timed(() => tunnelTo(portOf(sink)), (s) => upload(s, bytes), bytes));
    }
    return {
      title: 'egress (CONNECT tunnel through the real daemon vs direct TCP, loopback)',
      figures: [
        { name: `${TRANSFER_MB} MB down through a CONNECT tunnel`, value: best.downVia, unit: 'MB/s', baseline: { name: 'direct TCP', value: best.downDirect } },
        { name: 'download ratio', value: best.downVia / best.downDirect, unit: 'x', target: { op: '>=', value: 0.8 } },
        { name: `${TRANSFER_MB} MB down through a bare Node pipe relay (own process)`, value: best.downBare, unit: 'MB/s', baseline: { name: 'direct TCP', value: best.downDirect } },
        { name: 'download: tunnel vs bare relay', value: best.downVia / best.downBare, unit: 'x' },
        { name: `${TRANSFER_MB} MB up through a CONNECT tunnel`, value: best.upVia, unit: 'MB/s', baseline: { name: 'direct TCP', value: best.upDirect } },
        { name: 'upload ratio', value: best.upVia / best.upDirect, unit: 'x', target: { op: '>=', value: 0.8 } },
        { name: `${TRANSFER_MB} MB up through a bare Node pipe relay (own process)`, value: best.upBare, unit: 'MB/s', baseline: { name: 'direct TCP', value: best.upDirect } },
        { name: 'upload: tunnel vs bare relay', value: best.upVia / best.upBare, unit: 'x' },
      ],
      notes: [
        `best of ${RUNS} runs each, alternated; the tunnel relays with stream.pipe in both directions and counts bytes from the sockets' own counters (no per-chunk work)`,
        'a relay in its own process adds two socket copies per byte and a process to schedule: the bare relay shows the ceiling any Node relay reaches on this machine',
      ],
    };
  } finally {
    bareDown.child.kill();
    bareUp.child.kill();
    await h.stop();
    await new Promise<void>((resolve) => source.close(() => resolve()));
    await new Promise<void>((resolve) => sink.close(() => resolve()));
  }
}
