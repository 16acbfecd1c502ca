import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { classifyHttpRequest, type BodyPrefix, type HttpClassification, type HttpClassifyOptions, type HttpRequestDescription } from '../../classify/http/index.js';

/**
 * The classifier's reading of one exchange (classify/http, git smart HTTP included). A request body
 * sent compressed (a GraphQL client that gzips) is decoded here, bounded by `maxBytes`, so the
 * classifier reads what the upstream will execute; one that does not decode within the bound stays
 * as it came (the classifier calls it unknown).
 */
export function classifyExchange(description: HttpRequestDescription, prefix: BodyPrefix | undefined, options: HttpClassifyOptions, maxBytes: number): HttpClassification {
  if (!prefix || !prefix.complete || !description.contentEncoding) return classifyHttpRequest(description, prefix, options);
  const decoded = decode(prefix.bytes, description.contentEncoding, maxBytes);
  if (!decoded) return classifyHttpRequest(description, prefix, options);
  const req = { ...description };
  delete req.contentEncoding;
  return classifyHttpRequest(req, { bytes: decoded, complete: true }, options);
}

function decode(bytes: Uint8Array, encoding: string, maxBytes: number): Buffer | undefined {
  try {
    if (encoding === 'gzip' || encoding === 'x-gzip') return gunzipSync(bytes, { maxOutputLength: maxBytes });
    if (encoding === 'deflate') return inflateSync(bytes, { maxOutputLength: maxBytes });
    if (encoding === 'br') return brotliDecompressSync(bytes, { maxOutputLength: maxBytes });
  } catch {
    return undefined;
  }
  return undefined;
}
