import net from 'node:net';

/** A raw TCP client for HTTP tests that need bytes Node's client will not send. */
export interface RawConnection {
  socket: net.Socket;
  /** everything received so far */
  received(): string;
  /** resolves once `pattern` is in what was received (or the socket closed: then rejects) */
  waitFor(pattern: RegExp): Promise<string>;
  closed: Promise<void>;
}

export function rawConnect(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    const waiters: { pattern: RegExp; resolve(text: string): void; reject(err: Error): void }[] = [];
    const check = (): void => {
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.pattern.test(data)) {
          waiters[i]!.resolve(data);
          waiters.splice(i, 1);
        }
      }
    };
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      check();
    });
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    void closed.then(() => {
      check();
      for (const w of waiters.splice(0)) w.reject(new Error(`closed before ${w.pattern} arrived; got ${JSON.stringify(data.slice(0, 400))}`));
    });
    socket.on('error', () => undefined);
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => data,
        waitFor: (pattern) => (pattern.test(data) ? Promise.resolve(data) : socket.destroyed ? Promise.reject(new Error(`closed; got ${JSON.stringify(data.slice(0, 400))}`)) : new Promise((res, rej) => waiters.push({ pattern, resolve: res, reject: rej }))),
        closed,
      }),
    );
    socket.once('error', reject);
  });
}
