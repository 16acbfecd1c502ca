import type { Risk } from '@airlock/shared';
import type { HttpClass } from './types.js';

/**
 * What a method does, by RFC 9110's definitions. Methods are case-sensitive (§9.1): `get` is not
 * GET, and a server that accepts it may do anything with it, so it is unknown like any extension
 * method (PROPFIND, MOVE, ...). TRACE reflects the request (credentials included) and CONNECT opens
 * a tunnel: neither is a plain read.
 */
export interface MethodClass {
  class: HttpClass;
  destructive: boolean;
}

const METHOD_CLASSES: ReadonlyMap<string, MethodClass> = new Map([
  ['GET', { class: 'read', destructive: false }],
  ['HEAD', { class: 'read', destructive: false }],
  ['OPTIONS', { class: 'read', destructive: false }],
  ['POST', { class: 'write', destructive: false }],
  ['PUT', { class: 'write', destructive: false }],
  ['PATCH', { class: 'write', destructive: false }],
  ['DELETE', { class: 'write', destructive: true }],
]);

export function methodClass(method: string): MethodClass {
  return METHOD_CLASSES.get(method) ?? { class: 'unknown', destructive: false };
}

const CLASS_RANK: Record<HttpClass, number> = { read: 0, connect: 1, websocket: 2, write: 3, unknown: 4, privileged: 5 };

/** The stricter of two classes: privileged > unknown > write > websocket > connect > read. */
export function stricterClass(a: HttpClass, b: HttpClass): HttpClass {
  return CLASS_RANK[a] >= CLASS_RANK[b] ? a : b;
}

/** read low, write medium, destructive or unknown high, privileged critical; a tunnel is medium, a WebSocket high (frames are not inspected). */
export function riskOf(cls: HttpClass, destructive: boolean): Risk {
  if (cls === 'privileged') return 'critical';
  if (cls === 'unknown' || cls === 'websocket' || destructive) return 'high';
  if (cls === 'write' || cls === 'connect') return 'medium';
  return 'low';
}

/** Headers by which frameworks (Rails, Laravel, Express method-override, Google APIs) let a request act as another method. */
export const METHOD_OVERRIDE_HEADERS: readonly string[] = ['x-http-method-override', 'x-http-method', 'x-method-override'];
/** The query parameter of the same meaning (Rails, Laravel, Symfony). */
export const METHOD_OVERRIDE_PARAMETER = '_method';

/**
 * Every distinct override value a request carries, uppercased (frameworks uppercase it before
 * acting on it). A header repeated or a comma-separated value counts each part.
 */
export function methodOverridesOf(headers: ReadonlyArray<readonly [string, string]>, query: ReadonlyArray<readonly [string, string]>): string[] {
  const values = new Set<string>();
  for (const [name, value] of headers) {
    if (!METHOD_OVERRIDE_HEADERS.includes(name.toLowerCase())) continue;
    for (const part of value.split(',')) if (part.trim() !== '') values.add(part.trim().toUpperCase());
  }
  for (const [name, value] of query) {
    if (name.trim().toLowerCase() === METHOD_OVERRIDE_PARAMETER && value.trim() !== '') values.add(value.trim().toUpperCase());
  }
  return [...values];
}
