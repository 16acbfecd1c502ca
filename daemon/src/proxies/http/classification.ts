import { gunzipSync, inflateSync, brotliDecompressSync } from 'node:zlib';
import { classifyHttpRequest, riskOf, stricterClass, type BodyPrefix, type HttpClassification, type HttpClassifyOptions, type HttpRequestDescription } from '../../classify/http/index.js';
import { classifyGitPush, gitServiceOf } from '../../classify/http/git.js';

/**
 * The classifier's reading of one exchange: the HTTP request (classify/http) and, for git smart
 * HTTP, the push's ref updates (classify/http/git), joined so policy matches one set of attributes.
 * A request body sent compressed (a GraphQL client that gzips) is decoded here, bounded by
 * `maxBytes`, so the classifier reads what the upstream will execute; one that does not decode
 * within the bound stays unread (the classifier calls it unknown).
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
  const git = gitServiceOf(description);
  if (!git || classification.git) return classification;
  const attributes: HttpClassification['attributes'] = { ...classification.attributes, gitService: git.service };
  // a git POST is the service's RPC: upload-pack (a fetch) is a read whatever the method says; anything
  // the HTTP reading found stranger than a plain POST (an override, an unknown method) still counts
  const plainPost = description.method === 'POST' && !description.methodOverride && classification.class === 'write';
  let cls = plainPost ? git.class : stricterClass(classification.class, git.class);
  const reasons = [...classification.reasons];
  let summary = classification.summary;
  const detail: NonNullable<HttpClassification['git']> = { service: git.service, refs: [] };
  if (git.service === 'git-receive-pack' && git.request === 'rpc') {
    const push = classifyGitPush(prefix ?? { bytes: new Uint8Array(0), complete: true });
    detail.refs = push.refs;
    attributes.gitRefs = push.refs.map((r) => r.ref);
    attributes.forcePush = push.forcePush;
    attributes.deletesRef = push.deletesRef;
    reasons.push(...push.reasons);
    if (push.error) {
      cls = 'unknown';
      reasons.push(push.error);
    }
    summary = push.refs.length > 0 ? `git push ${push.refs.map((r) => `${r.ref}${r.change === 'fast-forward' ? '' : ` (${r.change})`}`).join(', ')}` : 'git push';
  } else if (git.request === 'rpc') summary = 'git fetch';
  attributes.class = cls;
  return { ...classification, class: cls, risk: cls === classification.class && !push(attributes) ? classification.risk : riskOf(cls, push(attributes)), summary, attributes, reasons, git: detail };
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

/** a push that rewrites or deletes a ref counts as destructive */
function push(attributes: HttpClassification['attributes']): boolean {
  return attributes.forcePush === true || attributes.deletesRef === true;
}
