import type { MaskReportBuilder } from '../../../masking/index.js';

/** What an injected credential becomes wherever it shows up in a response. */
export const CREDENTIAL_FORM = '[AIRLOCK_CREDENTIAL]';
/** The report label of a replaced credential. */
export const CREDENTIAL_LABEL = 'airlock-credential';

const CREDENTIAL_BYTES = Buffer.from(CREDENTIAL_FORM);

/**
 * The spellings a literal secret can take in a body: as given, with `/` escaped as JSON may write
 * it, and percent-encoded as in a URL an upstream echoes. Longest first, so `Bearer tok` is
 * replaced whole before `tok` alone would be.
 */
export function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    forms.add(secret);
    if (secret.includes('/')) forms.add(secret.replaceAll('/', '\\/'));
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) forms.add(encoded);
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

/** Every form of the secrets in `text` replaced (the same string when there is none); counts go to the report. */
export function redactSecretsInText(text: string, forms: readonly string[], report?: MaskReportBuilder): string {
  let out = text;
  for (const form of forms) {
    if (out.length < form.length || !out.includes(form)) continue;
    const parts = out.split(form);
    report?.add(CREDENTIAL_LABEL, parts.length - 1);
    out = parts.join(CREDENTIAL_FORM);
  }
  return out;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Replaces literal secrets in a byte stream, across chunk boundaries. Holds back only a tail that
 * is the beginning of some form (so at most the longest form less one byte, and nothing at all
 * after a line break or a `}` that no secret starts with): an SSE event is not delayed by it.
 */
export class SecretRedactor {
  private readonly forms: Buffer[];
  private held: Buffer = Buffer.alloc(0);
  private readonly starts: { start: number; end: number }[] = [];

  constructor(
    forms: readonly string[],
    private readonly report: MaskReportBuilder,
  ) {
    this.forms = forms.map((f) => Buffer.from(f));
  }

  get active(): boolean {
    return this.forms.length > 0;
  }

  push(chunk: Uint8Array): Uint8Array {
    if (this.forms.length === 0) return chunk;
    const bytes = this.held.length > 0 ? Buffer.concat([this.held, asBuffer(chunk)]) : asBuffer(chunk);
    const { out, rest } = this.replace(bytes);
    const hold = this.partialTail(bytes, rest);
    this.held = hold > 0 ? Buffer.from(bytes.subarray(bytes.length - hold)) : EMPTY;
    return this.render(bytes, out, bytes.length - hold);
  }

  end(): Uint8Array {
    const held = this.held;
    this.held = EMPTY;
    return held;
  }

  /** The matches in bytes, left to right, longest first where two start together; and where the last ends. */
  private replace(bytes: Buffer): { out: { start: number; end: number }[]; rest: number } {
    const found = this.starts;
    found.length = 0;
    for (const form of this.forms) {
      let at = bytes.indexOf(form);
      while (at >= 0) {
        found.push({ start: at, end: at + form.length });
        at = bytes.indexOf(form, at + form.length);
      }
    }
    if (found.length === 0) return { out: found, rest: 0 };
    found.sort((a, b) => a.start - b.start || b.end - a.end);
    const out: { start: number; end: number }[] = [];
    let last = 0;
    for (const match of found) {
      if (match.start < last) continue;
      out.push(match);
      last = match.end;
    }
    return { out, rest: last };
  }

  /** The length of the longest tail of bytes (after `from`) that is a proper prefix of a form. */
  private partialTail(bytes: Buffer, from: number): number {
    let longest = 0;
    for (const form of this.forms) {
      const first = form[0] as number;
      for (let i = Math.max(from, bytes.length - form.length + 1); i < bytes.length; i++) {
        if (bytes[i] !== first) continue;
        const length = bytes.length - i;
        if (length <= longest) break;
        if (bytes.compare(form, 0, length, i, bytes.length) === 0) {
          longest = length;
          break;
        }
      }
    }
    return longest;
  }

  private render(bytes: Buffer, matches: readonly { start: number; end: number }[], upTo: number): Uint8Array {
    if (matches.length === 0) return upTo === bytes.length ? bytes : bytes.subarray(0, upTo);
    this.report.add(CREDENTIAL_LABEL, matches.length);
    const parts: Buffer[] = [];
    let at = 0;
    for (const match of matches) {
      parts.push(bytes.subarray(at, match.start), CREDENTIAL_BYTES);
      at = match.end;
    }
    parts.push(bytes.subarray(at, upTo));
    return Buffer.concat(parts);
  }
}

const EMPTY = Buffer.alloc(0);
