import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { HttpTunnelResultDetail } from '@airlock/shared';
import { basicAuth, rawConnect, startEgressProxy, waitForRecord, type EgressHarness } from '../helpers/egress-proxy.js';

/**
 * The proxy under abuse and failure: a client that trickles its request head (slowloris), an
 * upstream that hangs up mid-tunnel, an idle tunnel, more connections than the target allows, and
 * many tunnels at once while another client is served. Upstreams are TCP servers on loopback the
 * target lists by address and port.
 */

interface EchoServer {
  port: number;
  close(): Promise<void>;
}

/** Echoes what it gets; `bye\n` makes it send `closing\n` and hang up mid-tunnel; `big N\n` sends N bytes; `burst N\n` sends N bytes and hangs up at once. */
async function startEchoServer(): Promise<EchoServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      if (text === 'bye\n') return void socket.end('closing\n');
      const burst = /^burst (\d+)\n$/.exec(text);
      if (burst) return void socket.end(Buffer.alloc(Number(burst[1]), 0x63));
      const big = /^big (\d+)\n$/.exec(text);
      if (big) return void socket.write(Buffer.alloc(Number(big[1]), 0x62));
      socket.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function readExactly(socket: net.Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= bytes) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.resume();
    socket.once('close', () => (got < bytes ? reject(new Error(`closed after ${got} of ${bytes} bytes`)) : undefined));
  });
}

describe('egress under abuse and failure (real daemon)', () => {
  let echo: EchoServer;
  let h: EgressHarness;
  const tunnel = async () => {
    const r = await rawConnect(h.port, `127.0.0.1:${echo.port}`, { 'proxy-authorization': basicAuth(h.token) });
    assert.equal(r.status, 200, r.body);
    return r.socket;
  };

  before(async () => {
    echo = await startEchoServer();
    h = await startEgressProxy({ allowHosts: [`127.0.0.1:${echo.port}`], limits: { authTimeout: '1s', idleTimeout: '1500ms', maxConnections: 60, maxConnectionsPerSession: 60 } });
  });
  after(async () => {
    await h?.stop();
    await echo?.close();
  });

  test('bytes flow both ways and are counted exactly; the upstream hanging up mid-tunnel ends it, recorded as closed by the upstream', async () => {
    const socket = await tunnel();
    socket.write('hello\n');
    assert.equal((await readExactly(socket, 6)).toString(), 'hello\n');
    socket.write('big 100000\n');
    assert.equal((await readExactly(socket, 100_000)).length, 100_000);
    const closed = new Promise<void>((resolve) => socket.once('end', () => resolve()));
    socket.write('bye\n');
    assert.equal((await readExactly(socket, 8)).toString(), 'closing\n');
    await closed;
    socket.destroy();
    const result = await waitForRecord(h, (rs) => rs.find((x) => x.type === 'result' && (x.detail as { bytesDown?: number } | undefined)?.bytesDown === 6 + 100_000 + 8));
    const detail = HttpTunnelResultDetail.parse(result.detail);
    assert.equal(detail.bytesUp, 'hello\n'.length + 'big 100000\n'.length + 'bye\n'.length);
    assert.equal(detail.closedBy, 'upstream');
  });

  test('an upstream that sends 8 MB and hangs up at once: every byte reaches the agent before its side ends', async () => {
    const socket = await tunnel();
    const size = 8_000_000;
    const received = new Promise<number>((resolve) => {
      let got = 0;
      socket.on('data', (chunk: Buffer) => (got += chunk.length));
      socket.once('end', () => resolve(got));
    });
    socket.resume();
    socket.write(`burst ${size}\n`);
    assert.equal(await received, size);
    socket.destroy();
  });

  test('bytes the agent sends right after its CONNECT head (before the 200) are kept and forwarded once the tunnel opens', async () => {
    const socket = net.connect(h.port, '127.0.0.1');
    socket.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nProxy-Authorization: ${basicAuth(h.token)}\r\n\r\nearly\n`);
    const got = await readExactly(socket, 'HTTP/1.1 200 Connection Established\r\n\r\n'.length + 'early\n'.length);
    assert.equal(got.toString(), 'HTTP/1.1 200 Connection Established\r\n\r\nearly\n');
    socket.destroy();
  });

  test('an idle tunnel is closed after limits.idleTimeout and recorded as closed by a limit', async () => {
    const socket = await tunnel();
    socket.write('ping\n');
    await readExactly(socket, 5);
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const result = await waitForRecord(h, (rs) => rs.find((x) => x.type === 'result' && (x.detail as { closedBy?: string } | undefined)?.closedBy === 'limit'));
    assert.equal(HttpTunnelResultDetail.parse(result.detail).bytesUp, 5);
  });

  test('slowloris: a request head trickled byte by byte is cut after limits.authTimeout while another client is served', async () => {
    const slow = net.connect(h.port, '127.0.0.1');
    slow.on('error', () => undefined);
    const slowClosed = new Promise<void>((resolve) => slow.once('close', () => resolve()));
    const head = `CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nProxy-Authorization: ${basicAuth(h.token)}\r\nX-Pad: ${'a'.repeat(200)}\r\n\r\n`;
    let i = 0;
    const timer = setInterval(() => {
      if (i < head.length - 4 && !slow.destroyed) slow.write(head[i++]!);
    }, 20);
    try {
      // meanwhile another client gets its tunnel and its bytes
      const socket = await tunnel();
      socket.write('served\n');
      assert.equal((await readExactly(socket, 7)).toString(), 'served\n');
      socket.destroy();
      await slowClosed;
      assert.ok(i < head.length - 4, 'the trickled head never completed');
    } finally {
      clearInterval(timer);
      slow.destroy();
    }
  });

  test('a connection that never sends anything is closed after limits.authTimeout', async () => {
    const silent = net.connect(h.port, '127.0.0.1');
    silent.on('error', () => undefined);
    await new Promise<void>((resolve) => silent.once('close', () => resolve()));
  });

  test('a request head larger than limits.actionTextBytes: 431, the connection closed', async () => {
    const socket = net.connect(h.port, '127.0.0.1');
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nX-Flood: ${'x'.repeat(200_000)}\r\n\r\n`);
    await closed;
    assert.match(got, /^HTTP\/1\.1 431/);
  });

  test('garbage instead of HTTP: 400 and closed; the next client is served', async () => {
    const socket = net.connect(h.port, '127.0.0.1');
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n');
    await closed;
    assert.match(got, /^HTTP\/1\.1 400/);
    const ok = await tunnel();
    ok.destroy();
  });

  test('40 tunnels at once, each echoing its own bytes, while another client is served; all are recorded', async () => {
    const sockets = await Promise.all(Array.from({ length: 40 }, () => tunnel()));
    const replies = Promise.all(
      sockets.map(async (socket, n) => {
        const line = `tunnel ${String(n).padStart(3, '0')}\n`;
        socket.write(line);
        return (await readExactly(socket, line.length)).toString();
      }),
    );
    const other = await tunnel();
    other.write('other\n');
    assert.equal((await readExactly(other, 6)).toString(), 'other\n');
    const got = await replies;
    got.forEach((reply, n) => assert.equal(reply, `tunnel ${String(n).padStart(3, '0')}\n`));
    for (const s of [...sockets, other]) s.destroy();
    const results = await waitForRecord(h, (rs) => {
      const done = rs.filter((x) => x.type === 'result' && (x.detail as { bytesUp?: number } | undefined)?.bytesUp === 'tunnel 000\n'.length);
      return done.length >= 40 ? done[0] : undefined;
    });
    assert.ok(results);
  });
});

describe('egress connection caps (real daemon)', () => {
  test('over limits.maxConnections: 503 with the limit named; a place frees when a connection closes', async () => {
    const echo = await startEchoServer();
    const h = await startEgressProxy({ allowHosts: [`127.0.0.1:${echo.port}`], limits: { maxConnections: 2, maxConnectionsPerSession: 2 } });
    try {
      const a = await rawConnect(h.port, `127.0.0.1:${echo.port}`, { 'proxy-authorization': basicAuth(h.token) });
      const b = await rawConnect(h.port, `127.0.0.1:${echo.port}`, { 'proxy-authorization': basicAuth(h.token) });
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      const c = await rawConnect(h.port, `127.0.0.1:${echo.port}`, { 'proxy-authorization': basicAuth(h.token) });
      c.socket.destroy();
      assert.equal(c.status, 503);
      assert.match(c.body, /limits\.maxConnections/);
      const closed = new Promise<void>((resolve) => a.socket.once('close', () => resolve()));
      a.socket.destroy();
      await closed;
      let d: Awaited<ReturnType<typeof rawConnect>> | undefined;
      for (let attempt = 0; attempt < 50; attempt++) {
        d = await rawConnect(h.port, `127.0.0.1:${echo.port}`, { 'proxy-authorization': basicAuth(h.token) });
        if (d.status === 200) break;
        d.socket.destroy();
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(d?.status, 200);
      d?.socket.destroy();
      b.socket.destroy();
    } finally {
      await h.stop();
      await echo.close();
    }
  });
});
