import { printable } from './statement-list.js';

/**
 * How kubectl users write the words of a Kubernetes request, shared by the daemon's summaries and the
 * extension's views so that the two read the same.
 */

/** kubectl's singular for a plural resource, near enough for a person: deployments → deployment. */
export function singularOf(resource: string): string {
  if (resource === 'endpoints') return resource;
  if (resource.endsWith('ies')) return `${resource.slice(0, -3)}y`;
  if (/(?:sses|shes|ches|xes|uses)$/.test(resource)) return resource.slice(0, -2);
  if (resource.endsWith('s') && !/(?:ss|us)$/.test(resource)) return resource.slice(0, -1);
  return resource;
}

/**
 * A word as a shell would need it quoted: plain words bare, others in double quotes. Spaces are kept
 * as they are (they are part of the command); newlines read `\n`, and characters that could hide or
 * rewrite text are escaped.
 */
export function quoteWord(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_\-./=:@,+%^]+$/.test(word)) return word;
  return `"${printable(word.replace(/["\\$`]/g, (c) => `\\${c}`).replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\t/g, '\\t'))}"`;
}
