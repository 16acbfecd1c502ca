import net from 'node:net';
import { serialize } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser.js';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { ScramClientExchange } from '../../src/proxies/postgres/scram.js';

/**
 * A wire-level PostgreSQL client for tests that need what drivers do not do on purpose: pipelining
 * many messages in one write, malformed bytes, cancel requests with a captured key.
 */
export class RawPgClient {
  readonly messages: BackendMessage[] = [];
  backendKey?: { processID: number; secretKey: number };
  private readonly parser = new Parser();
  private waiters: { predicate: (m: BackendMessage) => boolean; resolve: (m: BackendMessage) => void }[] = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.parser.parse(chunk, (msg) => this.onMessage(msg)));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawPgClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawPgClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Startup + SCRAM with the token, up to ReadyForQuery. */
  static async login(port: number, token: string, database: string): Promise<RawPgClient> {
    const client = await RawPgClient.connect(port);
    client.write(serialize.startup({ user: 'raw-agent', database }));
    await client.waitFor((m) => m.name === 'authenticationSASL');
    const scram = new ScramClientExchange(token);
    client.write(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', scram.clientFirst()));
    const cont = (await client.waitFor((m) => m.name === 'authenticationSASLContinue' || m.name === 'error')) as BackendMessage & { data?: string; message?: string };
    if (cont.name === 'error') throw new Error(`login failed: ${cont.message}`);
    client.write(serialize.sendSCRAMClientFinalMessage(scram.clientFinal(cont.data!)));
    await client.waitFor((m) => m.name === 'readyForQuery' || m.name === 'error');
    const failed = client.messages.find((m) => m.name === 'error') as (BackendMessage & { message: string }) | undefined;
    if (failed) throw new Error(`login failed: ${failed.message}`);
    client.messages.length = 0;
    return client;
  }

  write(data: Buffer | Buffer[]): void {
    this.socket.write(Array.isArray(data) ? Buffer.concat(data) : data);
  }

  waitFor(predicate: (m: BackendMessage) => boolean, timeoutMs = 10_000): Promise<BackendMessage> {
    const seen = this.messages.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs}ms; got ${this.messages.map((m) => m.name).join(', ')}`)), timeoutMs);
      this.waiters.push({
        predicate,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** Resolves when the socket closes. */
  waitClosed(timeoutMs = 10_000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the connection stayed open')), timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  names(): string[] {
    return this.messages.map((m) => m.name);
  }

  end(): void {
    this.socket.destroy();
  }

  private onMessage(msg: BackendMessage): void {
    if (msg.name === 'backendKeyData') this.backendKey = msg as unknown as { processID: number; secretKey: number };
    this.messages.push(msg);
    this.waiters = this.waiters.filter((w) => {
      if (!w.predicate(msg)) return true;
      w.resolve(msg);
      return false;
    });
  }
}
