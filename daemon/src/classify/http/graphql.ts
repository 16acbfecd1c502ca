import { Kind, parse } from 'graphql';
import type { DocumentNode, FragmentDefinitionNode, SelectionSetNode } from 'graphql';
import type { GraphqlOperationDetail } from '@airlock/shared';
import { queryPairs } from './path.js';

/**
 * What a GraphQL request asks to run, read with the graphql package's own parser (16.x). Every
 * operation of every document counts: `operationName` picks one, but the decision must cover what
 * may run, and servers differ on what they do with a name that does not match.
 */

/** top-level field names kept per operation */
export const MAX_GRAPHQL_FIELDS = 100;

export interface GraphqlReading {
  operations: GraphqlOperationDetail[];
  /** the documents as sent, in order */
  documents: string[];
  /** set when what runs cannot be seen: a persisted query hash, a cut body, a body that is not a GraphQL request */
  uninspectable?: string;
  /** the parser's message, when a document does not parse */
  parseError?: string;
}

/** A GraphQL request payload: `{ query, operationName, variables, extensions }`. */
interface Payload {
  query?: unknown;
  extensions?: unknown;
}

/** Reads a document: its operations, or the parser's error. */
export function readGraphqlDocument(text: string): { operations: GraphqlOperationDetail[] } | { parseError: string } {
  let document: DocumentNode;
  try {
    document = parse(text, { noLocation: true });
  } catch (error) {
    return { parseError: error instanceof Error ? error.message : String(error) };
  }
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const operations: GraphqlOperationDetail[] = [];
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const fields = new Set<string>();
    collectFields(definition.selectionSet, fragments, new Set(), fields);
    const operation: GraphqlOperationDetail = { type: definition.operation, fields: [...fields].slice(0, MAX_GRAPHQL_FIELDS) };
    if (definition.name !== undefined) operation.name = definition.name.value;
    operations.push(operation);
  }
  return { operations };
}

/**
 * Top-level field names (not aliases: `{ viewer: deleteRepository }` runs deleteRepository), with
 * fragment spreads and inline fragments resolved; `@skip`/`@include` are ignored (the field may run).
 */
function collectFields(selectionSet: SelectionSetNode, fragments: ReadonlyMap<string, FragmentDefinitionNode>, visiting: Set<string>, into: Set<string>): void {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      into.add(selection.name.value);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      collectFields(selection.selectionSet, fragments, visiting, into);
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      if (fragment === undefined || visiting.has(name)) continue;
      visiting.add(name);
      collectFields(fragment.selectionSet, fragments, visiting, into);
      visiting.delete(name);
    }
  }
}

function addDocument(reading: GraphqlReading, text: string): void {
  reading.documents.push(text);
  const read = readGraphqlDocument(text);
  if ('parseError' in read) reading.parseError ??= read.parseError;
  else reading.operations.push(...read.operations);
}

function isPersistedQuery(extensions: unknown): boolean {
  if (typeof extensions === 'string') {
    try {
      return isPersistedQuery(JSON.parse(extensions));
    } catch {
      return false;
    }
  }
  return typeof extensions === 'object' && extensions !== null && 'persistedQuery' in extensions;
}

function addPayload(reading: GraphqlReading, payload: unknown): void {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    reading.uninspectable ??= 'the GraphQL request is not an object with a "query"';
    return;
  }
  const { query, extensions } = payload as Payload;
  if (typeof query === 'string') {
    addDocument(reading, query);
  } else if (query === undefined && isPersistedQuery(extensions)) {
    reading.uninspectable ??= 'a persisted GraphQL query (only its hash was sent) cannot be inspected';
  } else {
    reading.uninspectable ??= 'the GraphQL request has no "query" text';
  }
}

/**
 * The operations of a GraphQL request body, by its content type: JSON (one payload or a batch, an
 * array of them), `application/graphql` (the document itself) or a form (`query=`). A body that is
 * cut, compressed, not UTF-8, or JSON with a repeated key (servers differ on which one wins) is
 * uninspectable.
 */
export function readGraphqlBody(bytes: Uint8Array, complete: boolean, contentType: string | undefined, contentEncoding: string | undefined): GraphqlReading {
  const reading: GraphqlReading = { operations: [], documents: [] };
  if (!complete) return { ...reading, uninspectable: 'the GraphQL request body is larger than the limit and was not read whole' };
  if (contentEncoding !== undefined) return { ...reading, uninspectable: `the GraphQL request body is ${contentEncoding}-encoded and was not inspected` };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return { ...reading, uninspectable: 'the GraphQL request body is not UTF-8' };
  }
  if (contentType === 'application/graphql') {
    addDocument(reading, text);
    return reading;
  }
  if (contentType === 'application/x-www-form-urlencoded') {
    addQueryPairs(reading, queryPairs(text), true);
    return reading;
  }
  if (contentType !== undefined && contentType.startsWith('multipart/')) {
    return { ...reading, uninspectable: 'a multipart GraphQL request (file upload) is not inspected' };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // servers that ignore the content type may read the text as a document: classify it as one
    if (contentType === undefined || contentType === 'text/plain') {
      addDocument(reading, text);
      if (reading.parseError === undefined) return reading;
    }
    return { operations: [], documents: [], parseError: `the body is not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (hasRepeatedKey(text)) return { ...reading, uninspectable: 'the GraphQL request JSON repeats a key (servers differ on which one counts)' };
  if (Array.isArray(json)) {
    if (json.length === 0) return { ...reading, uninspectable: 'the GraphQL batch is empty' };
    for (const payload of json) addPayload(reading, payload);
  } else {
    addPayload(reading, json);
  }
  return reading;
}

/**
 * GraphQL in a query string (GET, or any request on a GraphQL path): every `query` value counts
 * (servers differ on which of several they take). Undefined when there is neither a `query` nor a
 * persisted-query `extensions` parameter.
 */
export function readGraphqlQueryString(pairs: ReadonlyArray<readonly [string, string]>): GraphqlReading | undefined {
  const reading: GraphqlReading = { operations: [], documents: [] };
  return addQueryPairs(reading, pairs, false) ? reading : undefined;
}

function addQueryPairs(reading: GraphqlReading, pairs: ReadonlyArray<readonly [string, string]>, required: boolean): boolean {
  const queries = pairs.filter(([name]) => name === 'query').map(([, value]) => value);
  for (const query of queries) addDocument(reading, query);
  if (queries.length > 0) return true;
  if (pairs.some(([name, value]) => name === 'extensions' && isPersistedQuery(value))) {
    reading.uninspectable ??= 'a persisted GraphQL query (only its hash was sent) cannot be inspected';
    return true;
  }
  if (required) reading.uninspectable ??= 'the GraphQL request has no "query" text';
  return required;
}

/**
 * Whether a JSON text (already known to parse) has an object with the same key twice. Keys are
 * compared decoded (`"\u0071uery"` is `query`).
 */
export function hasRepeatedKey(text: string): boolean {
  const stack: Array<Set<string> | null> = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const raw = text.slice(i, end + 1);
      i = end + 1;
      while (i < text.length && /\s/.test(text[i]!)) i++;
      const keys = stack[stack.length - 1];
      if (text[i] === ':' && keys) {
        const key = JSON.parse(raw) as string;
        if (keys.has(key)) return true;
        keys.add(key);
      }
      continue;
    }
    if (c === '{') stack.push(new Set());
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    i++;
  }
  return false;
}
