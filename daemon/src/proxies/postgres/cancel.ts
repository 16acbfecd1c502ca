import { randomInt } from 'node:crypto';
import { cancelUpstream, type UpstreamSettings } from './upstream.js';

export interface Cancellable {
  cancel(): Promise<void>;
}

/**
 * Airlock hands each agent connection its own BackendKeyData and keeps the upstream's key to
 * itself, so a CancelRequest can only reach the agent's own backend, and a held statement can be
 * cancelled before it ever reaches the server.
 */
export class CancelRegistry {
  private readonly byKey = new Map<string, Cancellable>();

  register(connection: Cancellable): { processId: number; secretKey: number } {
    for (;;) {
      const key = { processId: randomInt(1, 0x7fffffff), secretKey: randomInt(-0x80000000, 0x7fffffff) };
      const id = `${key.processId}:${key.secretKey}`;
      if (this.byKey.has(id)) continue;
      this.byKey.set(id, connection);
      return key;
    }
  }

  unregister(key: { processId: number; secretKey: number }): void {
    this.byKey.delete(`${key.processId}:${key.secretKey}`);
  }

  /** A CancelRequest from a client; unknown keys are ignored, as PostgreSQL does. */
  async cancel(processId: number, secretKey: number): Promise<void> {
    await this.byKey
      .get(`${processId}:${secretKey}`)
      ?.cancel()
      .catch(() => undefined);
  }

  cancelUpstream(settings: UpstreamSettings, key: { processId: number; secretKey: number }): Promise<void> {
    return cancelUpstream(settings, key);
  }
}
