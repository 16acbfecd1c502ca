import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { classifyHttpRequest, type BodyPrefix, type HttpClassification, type HttpClassifyOptions, type HttpRequestDescription } from '../../classify/http/index.js';

/** The only bytes of git's auth probe before a push bigger than http.postBuffer: a flush-pkt. */
const GIT_PROBE_BODY = '0000';

/**
 * The classifier's reading of one exchange (classify/http, git smart HTTP included). A request body
 * sent compressed (a GraphQL client that gzips) is decoded here, bounded by `maxBytes`, so the
 * classifier reads what the upstream will execute; one that does not decode within the bound stays
 * as it came (the classifier calls it unknown).
 *
 * git sends a receive-pack POST whose whole body is one flush-pkt before a push too big for its post
 * buffer (remote-curl's probe_rpc), to learn whether it must authenticate; receive-pack reads no
 * command from it and changes nothing, so it is a read. Held as a push, it would hold git before
 * git has said what it pushes.
 */
export function classifyExchange(description: HttpRequestDescription, prefix: BodyPrefix | undefined, options: HttpClassifyOptions, maxBytes: number): HttpClassification {
  let req = description;
  let body = prefix;
  if (prefix && prefix.complete && description.contentEncoding) {
    const decoded = decode(prefix.bytes, description.contentEncoding, maxBytes);
    if (decoded) {
      req = { ...description };
      delete req.contentEncoding;
      body = { bytes: decoded, complete: true };
    }
  }
  const classification = classifyHttpRequest(req, body, options);
  if (isGitProbe(req, body, classification)) {
    return { ...classification, class: 'read', risk: 'low', summary: `git push probe (no refs) ${description.path}`, attributes: { ...classification.attributes, class: 'read' }, reasons: ['a receive-pack request of one flush-pkt updates no ref (git probes with it before a large push)'] };
  }
  return classification;
}

function isGitProbe(req: HttpRequestDescription, body: BodyPrefix | undefined, classification: HttpClassification): boolean {
  return (
    classification.git?.service === 'git-receive-pack' &&
    classification.git.refs.length === 0 &&
    classification.class === 'write' &&
    !req.methodOverride &&
    body !== undefined &&
    body.complete &&
    Buffer.from(body.bytes).toString('latin1') === GIT_PROBE_BODY
  );
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
