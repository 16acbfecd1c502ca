import { isUtf8 } from 'node:buffer';
import { createHash, type Hash } from 'node:crypto';
import type { HttpBodyExcerpt, MaskReport } from '@airlock/shared';
import { MaskReportBuilder } from '../../../masking/index.js';
import { JsonMasker, type JsonMaskerOptions } from './json.js';
import { KeyRules } from './keys.js';
import { NdjsonMasker } from './ndjson.js';
import { SecretRedactor, secretForms } from './secrets.js';
import { SseMasker } from './sse.js';
import { TextStream, incompleteUtf8Tail } from './text-stream.js';
import type { BodyMasker, BodyMaskerOptions, BodyPlan, BodyTreatment } from './types.js';

export interface BodyStage {
  push(chunk: Uint8Array): Uint8Array;
  end(): Uint8Array;
}
type Stage = BodyStage;

/**
 * A masker of JSON bodies in place of the JsonMasker (the Kubernetes masker's path-aware one),
 * built on the same options, report and credential forms; used for the json and ndjson treatments.
 */
export type JsonStageFactory = (options: JsonMaskerOptions, treatment: 'json' | 'ndjson') => BodyStage;

const EMPTY = Buffer.alloc(0);

const PASS: Stage = { push: (chunk) => chunk, end: () => EMPTY };
/** A withheld body: nothing of it goes out. */
const DROP: Stage = { push: () => EMPTY, end: () => EMPTY };

/**
 * The masker for one body: the injected credential replaced first (in every treatment, binary
 * included, across chunk boundaries), then the treatment's masker, then the excerpt and digest of
 * what went out. A plan that withholds the body gets a masker that lets nothing through.
 */
export function createBodyMasker(plan: BodyPlan, options: BodyMaskerOptions, jsonStage?: JsonStageFactory): BodyMasker {
  const report = new MaskReportBuilder();
  const forms = secretForms(options.secrets);
  const redactor = new SecretRedactor(forms, report);
  const jsonOptions: JsonMaskerOptions = {
    masker: options.masker,
    report,
    keyRules: new KeyRules(options.masker, options.keyRules),
    secretForms: forms,
    bufferBytes: options.bufferBytes,
  };
  if (options.maxDepth !== undefined) jsonOptions.maxDepth = options.maxDepth;
  const excerpt = new ExcerptCollector(options.excerptBytes, plan.treatment, options.contentType);
  let stage: Stage;
  if (plan.withhold !== undefined) stage = DROP;
  else if (plan.treatment === 'binary' && plan.mediaType === 'application/octet-stream') {
    // the label of any download, text files with secrets in them included: the first bytes decide
    stage = new SniffingStage((treatment) => {
      excerpt.treatment = treatment;
      return stageFor(treatment, jsonOptions, jsonStage);
    });
  } else stage = stageFor(plan.treatment, jsonOptions, jsonStage);
  let ended = false;
  return {
    push(chunk) {
      if (ended) throw new Error('A body masker was pushed to after its end.');
      const out = stage.push(redactor.push(chunk));
      excerpt.add(out);
      return out;
    },
    end() {
      if (ended) return EMPTY;
      ended = true;
      const rest = redactor.end();
      const tail = rest.length > 0 ? stage.push(rest) : EMPTY;
      const last = stage.end();
      const out = tail.length === 0 ? last : last.length === 0 ? tail : Buffer.concat([tail, last]);
      excerpt.add(out);
      excerpt.finish();
      return out;
    },
    report(): MaskReport {
      return report.toReport();
    },
    excerpt(): HttpBodyExcerpt {
      return excerpt.excerpt();
    },
  };
}

function stageFor(treatment: BodyTreatment, options: JsonMaskerOptions, jsonStage: JsonStageFactory | undefined): Stage {
  if (jsonStage !== undefined && (treatment === 'json' || treatment === 'ndjson')) return jsonStage(options, treatment);
  switch (treatment) {
    case 'json':
      return new JsonMasker(options);
    case 'ndjson':
      return new NdjsonMasker(options);
    case 'sse':
      return new SseMasker(options);
    case 'text': {
      const text = new TextStream(options.masker, options.report);
      return { push: (chunk) => text.push(chunk), end: () => text.flush() };
    }
    default:
      // binary, none: the credential redactor before this stage is all
      return PASS;
  }
}

/** How many first bytes of an application/octet-stream body decide whether it is text. */
const SNIFF_BYTES = 1024;

/** Control characters that do not occur in text (NUL to BS, SO to SUB, FS to US). */
const NOT_TEXT = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) if (b !== 0x09 && b !== 0x0a && b !== 0x0b && b !== 0x0c && b !== 0x0d && b !== 0x1b) NOT_TEXT[b] = 1;

/** Whether the first bytes of a body read as UTF-8 text. */
export function looksLikeText(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (NOT_TEXT[bytes[i] as number] === 1) return false;
  return isUtf8(bytes.subarray(0, bytes.length - incompleteUtf8Tail(bytes)));
}

/**
 * Holds the first SNIFF_BYTES of a body labelled only as bytes, then masks it as text when they
 * read as text and passes it as binary when not.
 */
class SniffingStage implements Stage {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private inner: Stage | undefined;

  constructor(private readonly decide: (treatment: BodyTreatment) => Stage) {}

  push(chunk: Uint8Array): Uint8Array {
    if (this.inner !== undefined) return this.inner.push(chunk);
    this.held.push(Buffer.from(chunk));
    this.heldBytes += chunk.length;
    return this.heldBytes >= SNIFF_BYTES ? this.choose().first : EMPTY;
  }

  end(): Uint8Array {
    if (this.inner !== undefined) return this.inner.end();
    const { inner, first } = this.choose();
    const last = inner.end();
    return first.length === 0 ? last : last.length === 0 ? first : Buffer.concat([first, last]);
  }

  /** Decides on what was held; returns the stage and what it made of the held bytes. */
  private choose(): { inner: Stage; first: Uint8Array } {
    const bytes = Buffer.concat(this.held);
    this.held = [];
    const inner = (this.inner = this.decide(looksLikeText(bytes.subarray(0, SNIFF_BYTES)) ? 'text' : 'binary'));
    return { inner, first: inner.push(bytes) };
  }
}

/** The first bytes of the masked body, its size and its SHA-256, gathered as it goes. */
class ExcerptCollector {
  private readonly head: Buffer;
  private kept = 0;
  private total = 0;
  private readonly hash: Hash = createHash('sha256');
  private ended = false;

  constructor(
    limit: number,
    /** how the body was treated: an octet-stream body turns out text or binary once its first bytes came */
    public treatment: BodyTreatment,
    private readonly contentType: string | undefined,
  ) {
    this.head = Buffer.alloc(limit);
  }

  add(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.total += bytes.length;
    this.hash.update(bytes);
    if (this.kept < this.head.length) {
      const take = Math.min(this.head.length - this.kept, bytes.length);
      this.head.set(bytes.subarray(0, take), this.kept);
      this.kept += take;
    }
  }

  finish(): void {
    this.ended = true;
  }

  /**
   * Before the end, `bytes` is null and a cut gives the size and digest of what went out so far
   * (the body may never end: a client that went away, a stream cut by a limit).
   */
  excerpt(): HttpBodyExcerpt {
    const excerpt: HttpBodyExcerpt = { bytes: this.ended ? this.total : null, treatment: this.treatment };
    if (this.contentType !== undefined) excerpt.contentType = this.contentType;
    if (this.treatment === 'binary') return excerpt;
    const whole = this.kept === this.total;
    // a character cut by the limit is left out whole
    const keptBytes = whole ? this.kept : this.kept - incompleteUtf8Tail(this.head.subarray(0, this.kept));
    excerpt.text = this.head.toString('utf8', 0, keptBytes);
    if (!whole) excerpt.cut = { bytes: this.total, keptBytes, sha256: this.hash.copy().digest('hex') };
    return excerpt;
  }
}
