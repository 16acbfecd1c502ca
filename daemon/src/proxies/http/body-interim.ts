// INTERIM until i12-body lands: the shell's calls into the body masker, minimal; replaced by ./body/index.js
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import type { HttpBodyExcerpt, MaskReport } from '@airlock/shared';
import type { Masker, MaskReportBuilder } from '../../masking/index.js';
import type { BodyMasker, BodyPlan } from './body/types.js';
export function planBody(contentType: string | undefined, encoding: string | undefined): BodyPlan {
  const t = (contentType ?? '').toLowerCase();
  const treatment = t.includes('json') ? 'json' : t.startsWith('text/event-stream') ? 'sse' : t.startsWith('text/') ? 'text' : 'binary';
  const e = (encoding ?? '').toLowerCase();
  if (e === 'gzip' || e === 'br' || e === 'deflate') return { treatment, decode: e };
  if (e && e !== 'identity') return { treatment, withhold: `the upstream sent ${e}` };
  return { treatment };
}
export function decoderFor(plan: BodyPlan): Transform | undefined {
  return plan.decode === 'gzip' ? zlib.createGunzip() : plan.decode === 'br' ? zlib.createBrotliDecompress() : plan.decode === 'deflate' ? zlib.createInflate() : undefined;
}
export function createBodyMasker(plan: BodyPlan, o: { masker: Masker; report: MaskReportBuilder; secrets: readonly string[]; excerptBytes: number }): BodyMasker {
  let ex = '';
  let n = 0;
  const mask = (s: string) => { let r = o.masker.maskText(s, o.report); for (const sec of o.secrets) r = r.split(sec).join('[SECRET]'); return r; };
  return {
    push(c) { n += c.length; const out = Buffer.from(mask(Buffer.from(c).toString('utf8'))); if (ex.length < o.excerptBytes) ex += out.toString().slice(0, o.excerptBytes - ex.length); return out; },
    end() { return new Uint8Array(0); },
    report(): MaskReport { return o.report.toReport(); },
    excerpt(): HttpBodyExcerpt { return { text: ex, bytes: n, treatment: plan.treatment }; },
  };
}
export function maskResponseHeaders(h: Record<string, string | string[]>, masker: Masker, secrets: readonly string[], report: MaskReportBuilder): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const m = (s: string) => { let r = masker.maskText(s, report); for (const sec of secrets) r = r.split(sec).join('[SECRET]'); return r; };
  for (const [k, v] of Object.entries(h)) out[k] = Array.isArray(v) ? v.map(m) : m(v);
  return out;
}
export function maskUrlForRecord(url: string, _masker: Masker, _secrets: readonly string[]): string { return url; }
