import zlib from 'node:zlib';
import type { BodyCoding, BodyPlan, BodyTreatment } from './types.js';

/** More stacked content-codings than this are not undone: no honest server stacks them so. */
const MAX_STACKED_CODINGS = 2;

/** Whether this runtime's zlib can decode zstd (Node 20's cannot; 22.15 and later can). */
export const ZSTD_AVAILABLE = typeof (zlib as unknown as Record<string, unknown>)['createZstdDecompress'] === 'function';

const JSON_TYPES = new Set(['application/json', 'text/json', 'application/x-json', 'application/problem+json']);
const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines', 'application/jsonlines', 'application/json-seq']);
const TEXT_TYPES = new Set([
  'application/xml',
  'application/javascript',
  'application/ecmascript',
  'application/x-javascript',
  'application/x-www-form-urlencoded',
  'application/graphql',
  'application/yaml',
  'application/x-yaml',
  'application/toml',
  'application/sql',
]);
const BINARY_TYPES = new Set([
  'application/octet-stream',
  'application/zip',
  'application/gzip',
  'application/x-gzip',
  'application/x-tar',
  'application/x-bzip2',
  'application/x-xz',
  'application/x-7z-compressed',
  'application/zstd',
  'application/pdf',
  'application/wasm',
  'application/java-archive',
  'application/x-protobuf',
  'application/protobuf',
  'application/grpc',
  'application/msword',
  'application/vnd.ms-excel',
  'application/x-msdownload',
  'application/x-sqlite3',
]);
const BINARY_TOP_LEVEL = new Set(['image', 'audio', 'video', 'font']);
/** Charsets the text maskers read (UTF-8, and single-byte ones whose ASCII part is ASCII). */
const READABLE_CHARSETS = /^(?:utf-?8|us-ascii|ascii|iso-8859-\d+|latin1|windows-125\d)$/;

/**
 * How a body is treated, from its Content-Type and Content-Encoding. Fail closed: a body with no
 * type or a type not known to be binary is masked as text (binary read as text passes byte for byte
 * unless a detector matches); a coding or charset the maskers cannot read withholds the body.
 */
export function planBody(headers: { contentType?: string; contentEncoding?: string }): BodyPlan {
  const { mediaType, charset } = parseContentType(headers.contentType);
  const treatment = treatmentOf(mediaType);
  const plan: BodyPlan = { treatment };
  if (mediaType !== undefined) plan.mediaType = mediaType;
  if (charset !== undefined && treatment !== 'binary' && !READABLE_CHARSETS.test(charset)) {
    plan.withhold = `The body is text in the ${charset} character set, which Airlock cannot read to mask, so it was withheld.`;
    return plan;
  }
  const codings = (headers.contentEncoding ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return plan;
  const steps: BodyCoding[] = [];
  for (const coding of codings) {
    const known = codingOf(coding);
    if (known === undefined) {
      plan.withhold =
        coding === 'zstd'
          ? 'The body is zstd-compressed, which this Node.js runtime cannot decode to mask, so it was withheld.'
          : `The body is encoded with "${coding}", which Airlock cannot decode to mask, so it was withheld.`;
      return plan;
    }
    steps.push(known);
  }
  if (steps.length > MAX_STACKED_CODINGS) {
    plan.withhold = `The body is encoded ${steps.length} times over (${codings.join(', ')}), more than Airlock undoes, so it was withheld.`;
    return plan;
  }
  // the last coding listed was applied last: it is undone first
  steps.reverse();
  plan.decode = steps[0] as BodyCoding;
  plan.decodeSteps = steps;
  return plan;
}

function codingOf(coding: string): BodyCoding | undefined {
  if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
  if (coding === 'deflate') return 'deflate';
  if (coding === 'br') return 'br';
  if (coding === 'zstd' && ZSTD_AVAILABLE) return 'zstd';
  return undefined;
}

/** The media type (lower-cased, without parameters) and charset of a Content-Type value. */
export function parseContentType(contentType: string | undefined): { mediaType?: string; charset?: string } {
  if (contentType === undefined) return {};
  const [type, ...params] = contentType.split(';');
  const mediaType = (type as string).trim().toLowerCase();
  let charset: string | undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    charset = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
  }
  const result: { mediaType?: string; charset?: string } = {};
  if (mediaType !== '') result.mediaType = mediaType;
  if (charset !== undefined) result.charset = charset;
  return result;
}

function treatmentOf(mediaType: string | undefined): BodyTreatment {
  if (mediaType === undefined) return 'text';
  if (NDJSON_TYPES.has(mediaType)) return 'ndjson';
  if (JSON_TYPES.has(mediaType) || mediaType.endsWith('+json')) return 'json';
  if (mediaType === 'text/event-stream') return 'sse';
  if (BINARY_TYPES.has(mediaType)) return 'binary';
  // XML is text whatever its top-level type (image/svg+xml can carry any text)
  if (mediaType.endsWith('+xml')) return 'text';
  const slash = mediaType.indexOf('/');
  const top = slash < 0 ? mediaType : mediaType.slice(0, slash);
  if (BINARY_TOP_LEVEL.has(top)) return 'binary';
  // git's packs and ref advertisements: object ids are hex and would trip the card detector
  if (mediaType.startsWith('application/x-git-')) return 'binary';
  if (mediaType.endsWith('+zip') || mediaType.startsWith('application/vnd.openxmlformats') || mediaType.startsWith('application/vnd.oasis.opendocument')) return 'binary';
  if (top === 'text' || TEXT_TYPES.has(mediaType) || mediaType.endsWith('+xml')) return 'text';
  // an unknown type: masked as text, which passes bytes it finds nothing in unchanged
  return 'text';
}
