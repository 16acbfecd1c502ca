import { parentPort } from 'node:worker_threads';
import type { BoundedText } from '@airlock/shared';
import { classifySql, initSqlClassifier, type SqlClassification } from '../../classify/sql/index.js';
import { boundText } from '../../pipeline/bounded-text.js';
import { readParse, readQuery } from './protocol.js';
import { copyOutStatements, type CopyOutStatement } from './copy-format.js';
import { sqlReferences, type SqlReferences } from '../../classify/sql/references.js';

/** A Query or Parse body to classify, and how much of its text the action keeps. */
export interface ParseTask {
  id: number;
  type: 'Q' | 'P';
  body: Uint8Array;
  textBytes: number;
  /** also read which columns the text references (result masking by column rules needs it) */
  references: boolean;
}

export type ParseReply =
  | { id: number; ok: true; classification: SqlClassification; text: BoundedText; copyOut?: CopyOutStatement[]; refs?: SqlReferences }
  /** the body is not a well-formed message: the session reports it as the protocol error it is */
  | { id: number; ok: false; malformed: true; error: string }
  | { id: number; ok: false; malformed: false; error: string };

/**
 * The thread that parses statements too large to parse on the daemon's event loop (see
 * parse-pool.ts). It runs the same classifier as the main thread, and also does the other O(n) work
 * of a huge text (its SHA-256, the head the action keeps), so the main thread only copies bytes.
 */
const port = parentPort;
if (port) {
  const ready = initSqlClassifier();
  port.on('message', (task: ParseTask) => {
    void ready.then(
      () => port.postMessage(run(task)),
      (err: Error) => port.postMessage({ id: task.id, ok: false, malformed: false, error: `the SQL parser did not load: ${err.message}` } satisfies ParseReply),
    );
  });
}

function run(task: ParseTask): ParseReply {
  const body = Buffer.from(task.body.buffer, task.body.byteOffset, task.body.byteLength);
  let sql: string;
  try {
    sql = task.type === 'Q' ? readQuery(body) : readParse(body).sql;
  } catch (err) {
    return { id: task.id, ok: false, malformed: true, error: (err as Error).message };
  }
  try {
    const classification = classifySql(sql);
    // the parser's message can quote the rest of the text (an unterminated string)
    if (classification.parseError !== undefined) classification.parseError = boundText(classification.parseError, task.textBytes).text;
    // each statement's text is a slice of the whole; only its head crosses back to the main thread
    for (const s of classification.statements) {
      s.text = boundText(s.text, task.textBytes).text;
      if (s.prepares) s.prepares.statement.text = boundText(s.prepares.statement.text, task.textBytes).text;
    }
    // a COPY TO STDOUT's options are read from the text when its rows arrive: a second parse, done here too
    const copyOut = classification.commands.includes('COPY') ? copyOutStatements(sql) : undefined;
    const refs = task.references && classification.parseError === undefined ? sqlReferences(sql) : undefined;
    return { id: task.id, ok: true, classification, text: boundText(sql, task.textBytes), ...(copyOut ? { copyOut } : {}), ...(refs ? { refs } : {}) };
  } catch (err) {
    return { id: task.id, ok: false, malformed: false, error: (err as Error).message };
  }
}
