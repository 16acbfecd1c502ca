import type { K8sRequestExtras } from './types.js';

/** What the request headers ask of the API server besides the request itself. */

/**
 * What the request asks to impersonate: every `Impersonate-*` header (`Impersonate-User`,
 * `-Group`, `-Uid`, `-Extra-KEY`), any case, and the underscore spellings some proxies turn into
 * dashes. Each is an attempt to act as someone else, whatever the adapter then strips.
 */
export function impersonationOf(headers: K8sRequestExtras['headers']): string[] {
  const asked: string[] = [];
  for (const [rawName, value] of headers) {
    const name = rawName.toLowerCase().replace(/_/g, '-');
    if (!name.startsWith('impersonate-')) continue;
    const what = name.slice('impersonate-'.length);
    if (what.startsWith('extra-')) asked.push(`extra.${what.slice('extra-'.length)}:${value}`);
    else asked.push(`${what}:${value}`);
  }
  return asked;
}

/** Front-proxy identity headers: honoured only from a trusted proxy's certificate, never the agent's to send. */
export function frontProxyHeaders(headers: K8sRequestExtras['headers']): string[] {
  const found: string[] = [];
  for (const [rawName] of headers) {
    const name = rawName.toLowerCase();
    if (name.startsWith('x-remote-')) found.push(name);
  }
  return found;
}

export function upgradeOf(headers: K8sRequestExtras['headers']): string | undefined {
  for (const [name, value] of headers) if (name.toLowerCase() === 'upgrade' && value.trim() !== '') return value.trim().toLowerCase();
  return undefined;
}
