import './elements.js';
import { html, nothing, render } from 'lit';
import type { ApprovalPanelState } from '../protocol/webview-messages.js';
import { HostChannel, pageRoot } from './host.js';
import { errorBanner, loading, protocolIcon } from './components.js';
import { detailView } from './kinds/index.js';
import { approvalPrompt, timeLeft } from '../state/view-models.js';

interface UiState {
  formatted: boolean;
  denyOpen: boolean;
  reason: string;
}

const root = pageRoot();
let state: ApprovalPanelState | undefined;
let error: string | undefined;
let busy = false;
const channel: HostChannel<UiState> = new HostChannel<UiState>(
  (message) => {
    if (message.type === 'approval.state') {
      state = message.state;
      busy = false;
      if (state.approval.status !== 'pending') ui.denyOpen = false;
    } else if (message.type === 'error') {
      error = message.message;
      busy = false;
    }
    draw();
  },
  (reason) => {
    error = reason;
    draw();
  },
);
const ui = channel.uiState({ formatted: true, denyOpen: false, reason: '' });

function save(): void {
  channel.saveUiState(ui);
}

function decide(kind: 'once' | 'session' | 'deny'): void {
  if (!state || busy) return;
  error = undefined;
  if (kind === 'deny') {
    const reason = ui.reason.trim();
    if (!reason) {
      error = 'Say why: the agent sees the reason.';
      return draw();
    }
    channel.send({ type: 'deny', approvalId: state.approval.id, reason });
  } else channel.send({ type: 'approve', approvalId: state.approval.id, scope: kind });
  busy = true;
  draw();
}

function draw(): void {
  if (!state) {
    render(loading(error), root);
    return;
  }
  const { approval, detail, recent, outcome } = state;
  const a = approval.action;
  const pending = approval.status === 'pending';
  const attributes = Object.entries(a.attributes);
  const prompt = approvalPrompt(approval);
  render(
    html`
      ${errorBanner(error)}
      <header class="title">
        ${protocolIcon(a.protocol)}
        ${prompt.question
          ? html`<h1 id="approval-question">${prompt.question} <span class="muted">(<code>${a.kind}</code> on <strong>${a.target}</strong>)</span></h1>`
          : html`<h1>Agent wants to run <code>${a.kind}</code> on <strong>${a.target}</strong></h1>`}
        <span class="status ${pending ? 'pending' : approval.status}" id="approval-status"
          >${pending ? html`<vscode-icon name="watch"></vscode-icon> waiting · <span id="time-left"></span>` : outcome}</span
        >
      </header>
      ${detailView(detail, {
        summary: a.summary,
        attributes: a.attributes,
        where: 'approval',
        formatted: ui.formatted,
        toggleFormat: () => ((ui.formatted = !ui.formatted), save(), draw()),
      })}
      <section class="facts">
        <div><span class="fact-label">Risk</span> <span class="risk ${a.risk}">${a.risk}</span></div>
        ${attributes.map(
          ([k, v]) => html`<div><span class="fact-label">${k}</span> <span class="fact" data-attribute=${k}>${Array.isArray(v) ? (v.length ? v.join(', ') : '—') : String(v)}</span></div>`,
        )}
        <div><span class="fact-label">Rule</span> <span class="fact" id="rule">${approval.ruleId}</span></div>
        <div><span class="fact-label">Why held</span> <span class="fact">${approval.reason}</span></div>
        <div><span class="fact-label">Agent session</span> <span class="fact">${a.sessionId}</span></div>
      </section>
      ${pending
        ? html`<section class="actions">
            ${prompt.choices.map(
              (choice, i) => html`<vscode-button
                id=${choice.scope === 'once' ? 'approve' : 'approve-session'}
                data-scope=${choice.scope}
                ?secondary=${i > 0}
                ?disabled=${busy}
                title=${choice.explains}
                @click=${() => decide(choice.scope)}
                >${i === 0 ? html`<vscode-icon name="check" slot="content-before"></vscode-icon>` : nothing}${choice.label}</vscode-button
              >`,
            )}
            <vscode-button id="deny" secondary ?disabled=${busy} @click=${() => ((ui.denyOpen = true), save(), draw())}>Deny…</vscode-button>
          </section>
          ${ui.denyOpen
            ? html`<section class="deny">
                <vscode-label for="reason">Reason (the agent sees it)</vscode-label>
                <vscode-textarea
                  id="reason"
                  rows="2"
                  .value=${ui.reason}
                  @input=${(e: Event) => ((ui.reason = (e.target as HTMLTextAreaElement).value), save())}
                  @keydown=${(e: KeyboardEvent) => e.key === 'Enter' && (e.ctrlKey || e.metaKey) && decide('deny')}
                ></vscode-textarea>
                <vscode-button id="confirm-deny" ?disabled=${busy} @click=${() => decide('deny')}>Deny</vscode-button>
              </section>`
            : nothing}`
        : nothing}
      <section>
        <h2>Recent actions of this agent session</h2>
        ${recent.length === 0
          ? html`<p class="muted">None before this one.</p>`
          : html`<ul class="recent">
              ${recent.map((r) => html`<li>${protocolIcon(r.protocol)} <span class="when">${new Date(r.at).toLocaleTimeString()}</span> <code>${r.summary}</code> <span class="muted">${r.outcome}</span></li>`)}
            </ul>`}
      </section>
    `,
    root,
  );
  updateTimeLeft();
}

/** The countdown moves by itself, set directly (its element holds no lit bindings). */
function updateTimeLeft(): void {
  const left = document.getElementById('time-left');
  if (left && state?.approval.status === 'pending') left.textContent = timeLeft(state.approval.expiresAt, Date.now());
}
setInterval(updateTimeLeft, 1_000);

draw();
channel.ready();
