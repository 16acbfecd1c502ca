import { z } from 'zod';
import { TextCut } from '../text.js';

/**
 * The detail of HTTP and egress actions, one schema per kind (see STYLE.md, "A typed detail per
 * action kind"). Policy matches on `Action.attributes` (class, method, path, host, query, graphql
 * and git attributes); the detail is what a person reads in the approval panel and the replay.
 */

/** Which listener the request came through: an API target (reverse proxy) or the egress proxy. */
export const HttpVia = z.enum(['api', 'egress']);
export type HttpVia = z.infer<typeof HttpVia>;

/** Header name → value(s), as forwarded (credential headers removed; values bounded). */
export const HttpHeaders = z.record(z.string(), z.union([z.string(), z.array(z.string())]));
export type HttpHeaders = z.infer<typeof HttpHeaders>;

/** A bounded, masked body excerpt: the first bytes as text, its size, and how it was treated. */
export const HttpBodyExcerpt = z.object({
  /** the first bytes of the body as text, masked; absent for binary bodies */
  text: z.string().optional(),
  /** set when `text` is not the whole body */
  cut: TextCut.optional(),
  /** bytes of the whole body as it went (after decoding a content-encoding); null when it did not end */
  bytes: z.number().int().min(0).nullable(),
  contentType: z.string().optional(),
  /**
   * How the body was masked: json (by key name and content), text / html / ndjson (as a stream),
   * sse (per event), binary (passed unmasked: not text), none (no body).
   */
  treatment: z.enum(['json', 'text', 'ndjson', 'sse', 'binary', 'none']),
});
export type HttpBodyExcerpt = z.infer<typeof HttpBodyExcerpt>;

/** One GraphQL operation of a request, as the graphql parser read it. */
export const GraphqlOperationDetail = z.object({
  type: z.enum(['query', 'mutation', 'subscription']),
  name: z.string().optional(),
  /** top-level field names selected (bounded) */
  fields: z.array(z.string()),
});
export type GraphqlOperationDetail = z.infer<typeof GraphqlOperationDetail>;

/** One ref update of a git push (receive-pack command). */
export const GitRefUpdateDetail = z.object({
  ref: z.string(),
  oldOid: z.string(),
  newOid: z.string(),
  /** create, update (fast-forward shown), update (not shown to be a fast-forward), delete */
  change: z.enum(['create', 'fast-forward', 'force', 'delete']),
});
export type GitRefUpdateDetail = z.infer<typeof GitRefUpdateDetail>;

export const HttpRequestDetail = z.object({
  via: HttpVia,
  /** the agent connection (one per TCP connection to the listener) */
  connectionId: z.string(),
  method: z.string(),
  /** the URL as it goes upstream, credentials in the query masked */
  url: z.string(),
  urlCut: TextCut.optional(),
  host: z.string(),
  /** the normalised path policy matched on */
  path: z.string(),
  headers: HttpHeaders,
  body: HttpBodyExcerpt.optional(),
  /** X-HTTP-Method-Override and its kin: the method the upstream may act on instead */
  methodOverride: z.string().optional(),
  graphql: z
    .object({
      operations: z.array(GraphqlOperationDetail),
      /** the text of the query (bounded, masked) */
      document: z.string().optional(),
      parseError: z.string().optional(),
    })
    .optional(),
  git: z
    .object({
      service: z.enum(['git-upload-pack', 'git-receive-pack']),
      refs: z.array(GitRefUpdateDetail).default([]),
    })
    .optional(),
});
export type HttpRequestDetail = z.infer<typeof HttpRequestDetail>;

/** A CONNECT tunnel through the egress proxy (TLS inside is not intercepted). */
export const HttpConnectDetail = z.object({
  via: z.literal('egress'),
  connectionId: z.string(),
  host: z.string(),
  port: z.number().int().min(0).max(65535),
  /** the addresses the host resolved to; the tunnel goes to the first one checked */
  addresses: z.array(z.string()),
  /** listed (in the target's allowHosts), public, or internal (loopback, private, link-local, metadata, the daemon's own ports) */
  destination: z.enum(['listed', 'public', 'internal']),
});
export type HttpConnectDetail = z.infer<typeof HttpConnectDetail>;

/** A WebSocket upgrade (`http.websocket`): the request that asked for it. */
export const HttpWebsocketDetail = HttpRequestDetail.extend({
  protocols: z.array(z.string()).default([]),
});
export type HttpWebsocketDetail = z.infer<typeof HttpWebsocketDetail>;

/** What an HTTP request ended with. */
export const HttpResponseResultDetail = z.object({
  /** the status the agent got; absent when no response came (upstream down, reset) */
  status: z.number().int().optional(),
  headers: HttpHeaders.optional(),
  body: HttpBodyExcerpt.optional(),
  /** bytes of the request body that went upstream */
  requestBytes: z.number().int().min(0),
  /** the upstream's content-encoding the daemon decoded (gzip, br, deflate) */
  decoded: z.string().optional(),
});
export type HttpResponseResultDetail = z.infer<typeof HttpResponseResultDetail>;

/** A tunnel's (CONNECT or WebSocket) bytes each way; the content is not kept. */
export const HttpTunnelResultDetail = z.object({
  bytesUp: z.number().int().min(0),
  bytesDown: z.number().int().min(0),
  /** who ended it: the agent, the upstream, a limit, the daemon closing */
  closedBy: z.enum(['agent', 'upstream', 'limit', 'daemon', 'error']).optional(),
  /** the upstream's status for a WebSocket upgrade */
  status: z.number().int().optional(),
});
export type HttpTunnelResultDetail = z.infer<typeof HttpTunnelResultDetail>;
