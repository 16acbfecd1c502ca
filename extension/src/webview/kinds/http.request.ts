import type { TemplateResult } from 'lit';
import { httpRequestView } from '../../state/http-views.js';
import type { ParsedOf } from '../../state/kinds.js';
import type { DetailContext } from './context.js';
import { requestSections } from './http.parts.js';

/**
 * An HTTP request through an API target or the egress proxy: the method and URL exactly as they go
 * upstream, a method override as a warning, what GraphQL and git smart HTTP make of it, the headers
 * as forwarded and the body (JSON laid out token by token, so a duplicated key shows twice).
 */
export function httpRequestDetail(p: ParsedOf<'http.request'>, ctx: DetailContext): TemplateResult {
  return requestSections(httpRequestView(p.detail, ctx.formatted), ctx);
}
