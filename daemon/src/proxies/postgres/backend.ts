import { Parser } from 'pg-protocol/dist/parser.js';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';

/**
 * Decodes one complete backend message with pg-protocol. Used for the messages Airlock inspects
 * (authentication, RowDescription, CommandComplete, ErrorResponse, ...); DataRows on the hot path
 * are read by protocol.readDataRow without building objects.
 */
export class BackendDecoder {
  private readonly parser = new Parser();

  decode(raw: Buffer): BackendMessage {
    let decoded: BackendMessage | undefined;
    this.parser.parse(raw, (msg) => {
      decoded = msg;
    });
    if (!decoded) throw new Error(`incomplete backend message of type "${String.fromCharCode(raw[0] ?? 0)}"`);
    return decoded;
  }
}

export type { BackendMessage };
