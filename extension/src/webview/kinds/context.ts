import { html, nothing, type TemplateResult } from 'lit';
import type { AttributeValue } from '@airlock/shared';

/** What a kind's detail view gets besides the detail: where it is shown and the panel's own state. */
export interface DetailContext {
  summary: string;
  attributes: Record<string, AttributeValue>;
  /** the approval panel lets a person reformat the text; the replay shows it formatted */
  where: 'approval' | 'replay';
  formatted: boolean;
  toggleFormat?: () => void;
}

/** A labelled fact, as the panels' fact lists show them. */
export function fact(label: string, value: TemplateResult | string, id?: string): TemplateResult {
  return html`<div><span class="fact-label">${label}</span> <span class="fact" id=${id ?? nothing}>${value}</span></div>`;
}

export function warning(text: string, id: string): TemplateResult {
  return html`<p class="notice warn" id=${id}><vscode-icon name="warning"></vscode-icon> ${text}</p>`;
}

/** The class badge the SQL statement list uses, for any class word (read, write, ddl, privileged, unknown). */
export function classBadge(cls: string): TemplateResult {
  return html`<span class="sql-class ${cls}" data-class=${cls}>${cls}</span>`;
}
