import type { HttpHeaders } from '@airlock/shared';
import { MaskReportBuilder, columnForm, type Masker } from '../../../masking/index.js';
import { KEY_RULE_LABEL, isCredentialName, normalizeKeyName } from './keys.js';
import { redactSecretsInText, secretForms } from './secrets.js';

/** Response headers that carry no data of the upstream's users: they pass as they are. */
const SAFE_RESPONSE_HEADERS = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-range',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'date',
  'age',
  'expires',
  'last-modified',
  'etag',
  'cache-control',
  'pragma',
  'vary',
  'accept-ranges',
  'allow',
  'retry-after',
  'strict-transport-security',
  'x-content-type-options',
  'x-frame-options',
  'x-xss-protection',
  'referrer-policy',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-allow-credentials',
  'access-control-max-age',
  'access-control-expose-headers',
]);

/** Query parameter names that carry credentials beyond the key-name list: signed URLs, OAuth codes, API keys. */
const CREDENTIAL_PARAMS = new Set(['key', 'sig', 'signature', 'code', 'xamzsignature', 'xamzcredential', 'xamzsecuritytoken', 'xgoogsignature', 'xgoogcredential', 'jwt', 'apikey', 'auth', 'ticket', 'otp']);

const REDACTED_FORM = columnForm(KEY_RULE_LABEL);

/** Whether a query parameter (by its decoded name) carries a credential. */
export function isCredentialParam(name: string): boolean {
  return CREDENTIAL_PARAMS.has(normalizeKeyName(name)) || isCredentialName(name);
}

/** `name=value` pairs of a query or a fragment (after `?` or `#`, split at `&` or `;`), as OAuth puts tokens in either. */
const QUERY_PAIR = /([?&;#])([^=&;#?\s<>"']*)=([^&;#\s<>"',]*)/g;

/**
 * The values of credential-named query parameters in a text (a URL, a Location or Link header)
 * replaced by `[REDACTED]`; everything else stays as written. Counts under the label.
 */
export function maskQueryCredentials(text: string, report?: MaskReportBuilder): string {
  if (!text.includes('=')) return text;
  return text.replace(QUERY_PAIR, (whole: string, separator: string, name: string, value: string) => {
    if (value === '' || value === REDACTED_FORM || !isCredentialParam(safeDecode(name))) return whole;
    report?.add(KEY_RULE_LABEL, 1);
    return `${separator}${name}=${REDACTED_FORM}`;
  });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return text;
  }
}

/** `scheme://user:password@host` → `scheme://host` */
const USERINFO = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#@]*@/;

/**
 * A URL as it goes into a record: userinfo removed, credential-named query parameters masked and,
 * given a masker, the content detectors run over the rest (an email in a query, a token in a path).
 */
export function maskUrlForRecord(url: string, report?: MaskReportBuilder, masker?: Masker): string {
  const masked = maskQueryCredentials(url.replace(USERINFO, '$1'), report);
  if (masker === undefined || !masker.active) return masked;
  return masker.maskText(masked, report ?? new MaskReportBuilder());
}

export interface MaskHeadersOptions {
  /** Set-Cookie values pass (the agent's own session with the upstream); by default they are masked like any credential */
  keepCookies?: boolean;
}

/**
 * Response headers on their way to the agent (and its record): a short list of headers that carry
 * no data passes; a header named like a credential has its value replaced (a Set-Cookie keeps its
 * name and attributes); every other value has the injected credential replaced, credential query
 * parameters masked (Location, Link, Refresh) and goes through the content detectors.
 */
export function maskResponseHeaders(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  masker: Masker,
  secrets: readonly string[],
  report: MaskReportBuilder,
  options: MaskHeadersOptions = {},
): HttpHeaders {
  const forms = secretForms(secrets);
  const out: HttpHeaders = {};
  for (const [rawName, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    const mask = (v: string): string => maskHeaderValue(name, v, masker, forms, report, options);
    out[rawName] = typeof value === 'string' ? mask(value) : value.map(mask);
  }
  return out;
}

function maskHeaderValue(name: string, value: string, masker: Masker, forms: readonly string[], report: MaskReportBuilder, options: MaskHeadersOptions): string {
  const redacted = redactSecretsInText(value, forms, report);
  if (SAFE_RESPONSE_HEADERS.has(name) && redacted === value) return value;
  if (name === 'set-cookie') return options.keepCookies === true ? redacted : maskSetCookie(redacted, report);
  if (isCredentialName(name) || name === 'x-api-key' || name === 'x-auth') {
    if (value.length === 0) return value;
    report.add(KEY_RULE_LABEL, 1);
    return REDACTED_FORM;
  }
  const withQuery = maskQueryCredentials(redacted, report);
  return masker.active ? masker.maskText(withQuery, report) : withQuery;
}

/** `sid=abc; Path=/; HttpOnly` → `sid=[REDACTED]; Path=/; HttpOnly` */
function maskSetCookie(value: string, report: MaskReportBuilder): string {
  const semicolon = value.indexOf(';');
  const pair = semicolon < 0 ? value : value.slice(0, semicolon);
  const eq = pair.indexOf('=');
  if (eq < 0 || eq === pair.length - 1) return value;
  report.add(KEY_RULE_LABEL, 1);
  return `${pair.slice(0, eq + 1)}${REDACTED_FORM}${semicolon < 0 ? '' : value.slice(semicolon)}`;
}
