import { z } from 'zod';
import { TextCut } from '../text.js';
import { HttpBodyExcerpt, HttpHeaders } from './http.js';

/**
 * The detail of Kubernetes actions (`k8s.request`, `k8s.exec`, `k8s.portforward`), one schema per
 * kind (see STYLE.md, "A typed detail per action kind"). Policy matches on `Action.attributes`
 * (class, verb, resource, subresource, apiGroup, namespace, name, dryRun, connect, command ...);
 * the detail is what a person reads in the approval panel and the replay.

 */

/** The stream a request opens, when it opens one. */
export const K8sConnect = z.enum(['exec', 'attach', 'portforward', 'proxy']);
export type K8sConnect = z.infer<typeof K8sConnect>;

export const K8sPatchType = z.enum(['json', 'merge', 'strategic', 'apply']);
export type K8sPatchType = z.infer<typeof K8sPatchType>;

/** One request to the Kubernetes API (`k8s.request`), as the API server's request info reads it. */
export const K8sRequestDetail = z.object({
  /** the agent connection (one per TCP connection to the listener) */
  connectionId: z.string(),
  /** the HTTP method as sent */
  method: z.string(),
  /**
   * The API server's verb (get, list, watch, create, update, patch, delete, deletecollection, proxy;
   * for a non-resource URL the lowercased method; "" when the method maps to none). Kept a string:
   * an unknown verb is recorded as sent.
   */
  verb: z.string(),
  /** "" for the core group */
  apiGroup: z.string(),
  apiVersion: z.string(),
  resource: z.string(),
  subresource: z.string().default(''),
  /** "" for cluster-scoped and all-namespace requests */
  namespace: z.string().default(''),
  /** from the path, a create's body, or a list's metadata.name field selector */
  name: z.string().default(''),
  /** the canonical path forwarded upstream */
  path: z.string(),
  /** the query as name/value pairs (credentials masked, values bounded) */
  query: z.array(z.tuple([z.string(), z.string()])).default([]),
  /** query pairs left out of `query` (bounded) */
  queryOmitted: z.number().int().min(0).optional(),
  dryRun: z.boolean().default(false),
  connect: K8sConnect.optional(),
  patchType: K8sPatchType.optional(),
  /** what the agent asked to impersonate (`user:alice`, `group:system:masters`); the headers were removed */
  impersonate: z.array(z.string()).default([]),
  /** the request headers as forwarded (credentials removed, values bounded) */
  headers: HttpHeaders.optional(),
  /** the request body: masked (Secret values by key), first N bytes */
  body: HttpBodyExcerpt.optional(),
  /** the object's kind as the body names it */
  bodyKind: z.string().optional(),
});
export type K8sRequestDetail = z.infer<typeof K8sRequestDetail>;

/** WebSocket subprotocol of an exec/attach/portforward stream (SPDY is refused). */
export const K8sStreamProtocol = z.enum(['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'portforward.k8s.io', 'v2.portforward.k8s.io']);
export type K8sStreamProtocol = z.infer<typeof K8sStreamProtocol>;

/** A command run in a container, or an attach to one (`k8s.exec`). */
export const K8sExecDetail = z.object({
  connectionId: z.string(),
  operation: z.enum(['exec', 'attach']),
  pod: z.string().min(1),
  namespace: z.string(),
  /** absent when the pod's default container is used */
  container: z.string().optional(),
  /** the argv (exec), bounded; empty for attach */
  command: z.array(z.string()).default([]),
  /** set when the command's text was longer than kept */
  commandCut: TextCut.optional(),
  stdin: z.boolean(),
  stdout: z.boolean().default(true),
  stderr: z.boolean().default(true),
  tty: z.boolean(),
  /** the subprotocol agreed with the agent (v5, falling back to v4) */
  protocol: K8sStreamProtocol.optional(),
  path: z.string(),
});
export type K8sExecDetail = z.infer<typeof K8sExecDetail>;

/** A port-forward into a pod (`k8s.portforward`): the ports asked for; the content is not kept. */
export const K8sPortForwardDetail = z.object({
  connectionId: z.string(),
  pod: z.string().min(1),
  namespace: z.string(),
  ports: z.array(z.string()),
  protocol: K8sStreamProtocol.optional(),
  path: z.string(),
});
export type K8sPortForwardDetail = z.infer<typeof K8sPortForwardDetail>;

/** What a Kubernetes request ended with. */
export const K8sResponseResultDetail = z.object({
  /** the status the agent got; absent when no response came (upstream down, reset) */
  status: z.number().int().optional(),
  /** the response object's kind (PodList, Secret, Status, Table ...) */
  kind: z.string().optional(),
  /** items of a list (or rows of a Table) */
  itemCount: z.number().int().min(0).optional(),
  /** watch: events passed to the agent */
  eventCount: z.number().int().min(0).optional(),
  /** a Status response's reason and message (Forbidden, NotFound, AlreadyExists ...) */
  reason: z.string().optional(),
  message: z.string().optional(),
  /** the response body: masked, with marks, first N bytes */
  body: HttpBodyExcerpt.optional(),
  /** bytes of the request body that went upstream */
  requestBytes: z.number().int().min(0),
});
export type K8sResponseResultDetail = z.infer<typeof K8sResponseResultDetail>;

/** What an exec or attach ended with: its exit, its clip and its byte counts. */
export const K8sExecResultDetail = z.object({
  /** from the error channel's Status (0 on Success; NonZeroExitCode's ExitCode cause); absent when it never came */
  exitCode: z.number().int().optional(),
  /** the error channel's message when the command failed to start or exited non-zero */
  error: z.string().optional(),
  /** the terminal clip as asciicast v2 lines (output masked), bounded */
  asciicast: z.string().optional(),
  /**
   * when the clip was cut: the output the agent received (stdout and stderr bytes in the order they
   * went), how much of it the clip kept, and its SHA-256 (not of the clip, whose timestamps no copy has)
   */
  asciicastCut: TextCut.optional(),
  bytesIn: z.number().int().min(0),
  bytesOut: z.number().int().min(0),
  bytesErr: z.number().int().min(0).default(0),
  closedBy: z.enum(['agent', 'upstream', 'limit', 'daemon', 'error']).optional(),
});
export type K8sExecResultDetail = z.infer<typeof K8sExecResultDetail>;

/** A port-forward's bytes per port each way. */
export const K8sPortForwardResultDetail = z.object({
  ports: z.array(z.object({ port: z.string(), bytesUp: z.number().int().min(0), bytesDown: z.number().int().min(0) })),
  closedBy: z.enum(['agent', 'upstream', 'limit', 'daemon', 'error']).optional(),
});
export type K8sPortForwardResultDetail = z.infer<typeof K8sPortForwardResultDetail>;
