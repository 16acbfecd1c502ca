import type { ServerResponse } from 'node:http';
import { pipeline as pipeStreams, type Readable, type Transform } from 'node:stream';
import type { BodyMasker } from './body/types.js';
import type { HeaderRecord } from './headers.js';

export interface RelayBodyOptions {
  /** the body's content-encoding undone first (body/decode.ts decoderFor) */
  decoder?: Transform;
  /**
   * The masked body is gathered (the upstream declared it small) and sent at the end with its
   * length and these headers. Without it the caller has written the head and each masked piece
   * goes out as soon as the masker gives it (a watch event, a log line, an SSE event).
   */
  whole?: { status: number; headers: HeaderRecord };
  /** count the newline-ended pieces sent (watch events, NDJSON lines) */
  countLines?: boolean;
}

export interface RelayedBody {
  /** masked bytes sent to the agent */
  bytes: number;
  /** newline-ended pieces sent; 0 unless countLines */
  lines: number;
}

/**
 * The one relay of an upstream response body to the agent, for the HTTP, egress and Kubernetes
 * adapters: upstream body → (decoder) → masker → agent, with backpressure (an agent that does not
 * read stops the upstream being read: its TCP window fills, not the daemon's memory). Rejects when
 * the upstream breaks off or the agent goes; the upstream body is then destroyed, so its
 * connection is not left half-read.
 */
export function relayBody(body: Readable, res: ServerResponse, masker: BodyMasker, options: RelayBodyOptions = {}): Promise<RelayedBody> {
  const { decoder, whole, countLines = false } = options;
  const source: Readable = decoder ?? body;
  // a decoder's failure reaches `source` as its error; the pipeline's own callback has nothing to add
  if (decoder) pipeStreams(body, decoder, () => undefined);
  const gathered: Uint8Array[] = [];
  const relayed: RelayedBody = { bytes: 0, lines: 0 };
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      source.off('data', onData);
      source.destroy();
      if (source !== body) body.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      const out = masker.push(chunk);
      if (out.length === 0) return;
      relayed.bytes += out.length;
      if (countLines) for (let at = out.indexOf(0x0a); at >= 0; at = out.indexOf(0x0a, at + 1)) relayed.lines++;
      if (whole) gathered.push(out);
      else if (!res.write(out)) {
        source.pause();
        res.once('drain', () => source.resume());
      }
    };
    source.on('data', onData);
    source.once('error', fail);
    res.once('close', () => {
      if (!res.writableFinished) fail(new Error('the agent closed the connection'));
    });
    source.once('end', () => {
      if (settled) return;
      settled = true;
      const rest = masker.end();
      if (rest.length > 0) {
        relayed.bytes += rest.length;
        if (countLines) for (let at = rest.indexOf(0x0a); at >= 0; at = rest.indexOf(0x0a, at + 1)) relayed.lines++;
      }
      if (whole) {
        if (rest.length > 0) gathered.push(rest);
        res.writeHead(whole.status, { ...whole.headers, 'content-length': relayed.bytes });
        res.end(gathered.length === 1 ? gathered[0] : Buffer.concat(gathered, relayed.bytes));
      } else res.end(rest.length > 0 ? rest : undefined);
      resolve(relayed);
    });
  });
}
