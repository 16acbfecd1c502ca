import { parse, print } from 'graphql';

/**
 * A GraphQL document laid out by graphql's own printer (what the server parses; comments, which it
 * ignores, are dropped). As recorded when it does not parse: a document the daemon cut, or one
 * whose masking broke its syntax, is shown as it is, never guessed at.
 */
export function formatGraphql(document: string): string {
  try {
    return print(parse(document, { noLocation: true }));
  } catch {
    return document;
  }
}
