import './elements.js';
import { html, nothing, render, type TemplateResult } from 'lit';
import { ref } from 'lit/directives/ref.js';
import { formatBytes, type Protocol } from '@airlock/shared';
import type { ReplayState, TimelineEntry, TimelineResult } from '../protocol/webview-messages.js';
import { HostChannel, pageRoot } from './host.js';
import { detectorBadges, errorBanner, loading, maskedTable, protocolIcon } from './components.js';
import { k8sResponse } from './k8s-response.js';
import { clock, visibleRange } from './models.js';
import { detailView } from './kinds/index.js';
import { TerminalLane } from './terminal-lane.js';
import { entryIndexAt, integrityLabel, PLAYBACK_SPEEDS } from '../state/timeline.js';
import { timelineOutcome } from '../state/panel-models.js';
import { parsedHeadline } from '../state/view-models.js';
import { httpLaneRows, httpRequestView, type HttpLaneRow } from '../state/http-views.js';
import { httpResultView } from './http-result.js';
import { bodyBlock, headersTable } from './kinds/http.parts.js';

/**
 * The session replay: lanes per protocol and for approvals drawn on canvases (thousands of actions
 * stay cheap), a virtualized list of actions, the selected action's details, and a player clock.
 * Playing moves the clock at the chosen speed; the selection follows it. Keyboard: Space play/pause,
 * ←/→ previous/next action, Shift+←/→ seek 5 s, +/- speed, Home/End.
 */

interface UiState {
  t: number;
  speed: number;
  selected?: string;
  listScroll: number;
  /** the HTTP lane's expanded row */
  httpOpen?: string;
}

const ROW_HEIGHT = 26;
/** An action's line in the list; its detail view shows the whole of it. */
const ENTRY_CHARS = 200;
const SEEK_STEP_MS = 5_000;

const root = pageRoot();
let state: ReplayState | undefined;
let error: string | undefined;
let playing = false;
let lastFrame = 0;
const channel = new HostChannel<UiState>(
  (message) => {
    if (message.type === 'replay.state') {
      const wasAtEnd = state !== undefined && state.timeline.duration > 0 && ui.t >= state.timeline.duration;
      state = message.state;
      error = undefined;
      // following a live session: stay at its end, on its latest action, as records arrive
      if (wasAtEnd && !playing) setTime(state.timeline.duration);
      ui.t = Math.min(ui.t, state.timeline.duration);
      if (!ui.selected && state.timeline.entries.length > 0) ui.selected = state.timeline.entries[Math.max(0, entryIndexAt(state.timeline.entries, ui.t))]!.actionId;
    } else if (message.type === 'error') error = message.message;
    draw();
    paintLanes();
  },
  (reason) => {
    error = reason;
    draw();
  },
);
const ui = channel.uiState({ t: 0, speed: 1, listScroll: 0 });
const terminal = new TerminalLane();

function save(): void {
  channel.saveUiState(ui);
}

function entries(): TimelineEntry[] {
  return state?.timeline.entries ?? [];
}

function selectedEntry(): TimelineEntry | undefined {
  return entries().find((e) => e.actionId === ui.selected);
}

// ---- playback --------------------------------------------------------------------------------------

function setTime(t: number, follow = true): void {
  if (!state) return;
  ui.t = Math.max(0, Math.min(t, state.timeline.duration));
  if (follow) {
    const i = entryIndexAt(entries(), ui.t);
    const id = i >= 0 ? entries()[i]!.actionId : undefined;
    if (id !== ui.selected) {
      ui.selected = id;
      scrollToSelected();
      draw();
    }
  }
  updateClock();
  save();
}

function togglePlay(): void {
  if (!state) return;
  playing = !playing;
  if (playing && ui.t >= state.timeline.duration) setTime(0);
  lastFrame = performance.now();
  if (playing) requestAnimationFrame(tick);
  draw();
}

function tick(now: number): void {
  if (!playing || !state) return;
  const dt = now - lastFrame;
  lastFrame = now;
  setTime(ui.t + dt * ui.speed);
  if (ui.t >= state.timeline.duration) {
    playing = false;
    draw();
    return;
  }
  requestAnimationFrame(tick);
}

function select(entry: TimelineEntry, seek = true): void {
  ui.selected = entry.actionId;
  if (seek) ui.t = entry.t;
  scrollToSelected();
  updateClock();
  save();
  draw();
}

function step(delta: number): void {
  const list = entries();
  if (list.length === 0) return;
  const at = list.findIndex((e) => e.actionId === ui.selected);
  const next = list[Math.max(0, Math.min(list.length - 1, (at < 0 ? entryIndexAt(list, ui.t) : at) + delta))];
  if (next) select(next);
}

function changeSpeed(delta: number): void {
  const i = PLAYBACK_SPEEDS.indexOf(ui.speed as (typeof PLAYBACK_SPEEDS)[number]);
  ui.speed = PLAYBACK_SPEEDS[Math.max(0, Math.min(PLAYBACK_SPEEDS.length - 1, (i < 0 ? 2 : i) + delta))]!;
  save();
  draw();
}

window.addEventListener('keydown', (e) => {
  const target = e.target as HTMLElement | null;
  if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.isContentEditable)) return;
  let handled = true;
  if (e.key === ' ') togglePlay();
  else if (e.key === 'ArrowRight' && e.shiftKey) setTime(ui.t + SEEK_STEP_MS);
  else if (e.key === 'ArrowLeft' && e.shiftKey) setTime(ui.t - SEEK_STEP_MS);
  else if (e.key === 'ArrowRight') step(1);
  else if (e.key === 'ArrowLeft') step(-1);
  else if (e.key === 'ArrowDown') step(1);
  else if (e.key === 'ArrowUp') step(-1);
  else if (e.key === '+' || e.key === '=') changeSpeed(1);
  else if (e.key === '-') changeSpeed(-1);
  else if (e.key === 'Home') setTime(0);
  else if (e.key === 'End') setTime(state?.timeline.duration ?? 0);
  else handled = false;
  if (handled) e.preventDefault();
});

// ---- lanes (canvas) ---------------------------------------------------------------------------------

const STATUS_COLOURS: Record<TimelineEntry['status'], string> = {
  allowed: '--vscode-testing-iconPassed',
  denied: '--vscode-testing-iconFailed',
  held: '--vscode-editorWarning-foreground',
};

function cssColour(variable: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(variable).trim() || fallback;
}

/** Redraws every lane canvas; called when the state or the size changes, not per frame. */
function paintLanes(): void {
  if (!state) return;
  const duration = Math.max(state.timeline.duration, 1);
  for (const canvas of document.querySelectorAll<HTMLCanvasElement>('canvas.track')) {
    const lane = canvas.dataset.lane!;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    const scale = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    const ctx = canvas.getContext('2d');
    if (!ctx) continue;
    ctx.scale(scale, scale);
    ctx.clearRect(0, 0, width, height);
    const x = (t: number) => Math.round((t / duration) * (width - 4)) + 2;
    if (lane === 'approvals') {
      for (const e of entries()) {
        const a = e.approval;
        if (!a) continue;
        const end = a.resolvedT ?? state.timeline.duration;
        ctx.fillStyle = cssColour(a.status === 'approved' ? STATUS_COLOURS.allowed : a.status === 'pending' ? STATUS_COLOURS.held : STATUS_COLOURS.denied, '#888');
        ctx.fillRect(x(a.requestedT), 4, Math.max(3, x(end) - x(a.requestedT)), height - 8);
      }
    } else if (lane === 'terminal') {
      ctx.fillStyle = cssColour('--vscode-terminal-ansiCyan', '#0aa');
      for (const clip of state.timeline.terminals) ctx.fillRect(x(clip.t), 4, 4, height - 8);
    } else {
      for (const e of entries()) {
        if (e.protocol !== lane) continue;
        ctx.fillStyle = cssColour(STATUS_COLOURS[e.status], '#888');
        ctx.fillRect(x(e.t) - 1, 3, 3, height - 6);
      }
    }
    canvas.dataset.count = String(lane === 'approvals' ? entries().filter((e) => e.approval).length : lane === 'terminal' ? state.timeline.terminals.length : entries().filter((e) => e.protocol === lane).length);
  }
}

function onTrackClick(event: MouseEvent): void {
  if (!state) return;
  const canvas = event.currentTarget as HTMLCanvasElement;
  const box = canvas.getBoundingClientRect();
  setTime(((event.clientX - box.left) / box.width) * state.timeline.duration);
}

new ResizeObserver(() => paintLanes()).observe(document.body);

// ---- rendering ----------------------------------------------------------------------------------------

/** The clock, seek bar and playhead move every frame: set directly (their elements hold no lit bindings). */
function updateClock(): void {
  if (!state) return;
  const clockEl = document.getElementById('clock');
  if (clockEl) clockEl.textContent = `${clock(ui.t)} / ${clock(state.timeline.duration)}`;
  const seek = document.getElementById('seek') as HTMLInputElement | null;
  if (seek) seek.value = String(Math.round(ui.t));
  const percent = `${(ui.t / Math.max(state.timeline.duration, 1)) * 100}%`;
  document.getElementById('playhead')?.style.setProperty('left', `calc(var(--lane-label-width) + (100% - var(--lane-label-width)) * ${ui.t / Math.max(state.timeline.duration, 1)})`);
  document.getElementById('progress')?.setAttribute('aria-valuenow', percent);
  terminal.seek(state.timeline.terminals, selectedEntry(), ui.t);
}

function scrollToSelected(): void {
  const list = document.getElementById('entries');
  const i = entries().findIndex((e) => e.actionId === ui.selected);
  if (!list || i < 0) return;
  const top = i * ROW_HEIGHT;
  if (top < list.scrollTop) list.scrollTop = top;
  else if (top + ROW_HEIGHT > list.scrollTop + list.clientHeight) list.scrollTop = top + ROW_HEIGHT - list.clientHeight;
  ui.listScroll = list.scrollTop;
}


function laneRow(lane: string, label: TemplateResult | string): TemplateResult {
  return html`<div class="lane" data-lane=${lane}><span class="lane-label">${label}</span><canvas class="track" data-lane=${lane} @click=${onTrackClick}></canvas></div>`;
}

/**
 * Sets one CSS property through the CSSOM. The page's CSP forbids style attributes, and lit's
 * styleMap writes one on first render; `element.style` is allowed.
 */
function cssProperty(name: string, value: string) {
  return ref((el) => (el as HTMLElement | undefined)?.style.setProperty(name, value));
}

function entryList(): TemplateResult {
  const list = entries();
  const box = document.getElementById('entries');
  const range = visibleRange(box?.scrollTop ?? ui.listScroll, box?.clientHeight ?? 600, ROW_HEIGHT, list.length);
  const rows: TemplateResult[] = [];
  for (let i = range.start; i < range.end; i++) {
    const e = list[i]!;
    const future = e.t > ui.t;
    rows.push(html`<div
      class="row ${e.actionId === ui.selected ? 'selected' : ''} ${future ? 'future' : ''} status-${e.status}"
      role="option"
      aria-selected=${e.actionId === ui.selected}
      data-action=${e.actionId}
      ${cssProperty('top', `${i * ROW_HEIGHT}px`)}
      @click=${() => select(e)}
    >
      <span class="when">${clock(e.t)}</span> ${protocolIcon(e.protocol)} <span class="summary">${parsedHeadline(e.detail, e, ENTRY_CHARS)}</span>
      <span class="outcome">${timelineOutcome(e)}</span>
    </div>`);
  }
  return html`<div class="spacer" ${cssProperty('height', `${list.length * ROW_HEIGHT}px`)}>${rows}</div>`;
}

function details(e: TimelineEntry | undefined): TemplateResult {
  if (!e) return html`<p class="muted">Select an action.</p>`;
  const a = e.approval;
  const clip = state?.timeline.terminals.find((c) => c.actionId === e.actionId);
  return html`
    <h2>${protocolIcon(e.protocol)} <code>${e.kind}</code> on ${e.target} <span class="muted">at ${new Date(e.at).toLocaleTimeString()}</span></h2>
    ${detailView(e.detail, { summary: e.summary, attributes: e.attributes, where: 'replay', formatted: true })}
    <!-- the recording right after what ran: it is what a reviewer of a terminal session came for, and xterm.js does not paint a terminal scrolled out of view -->
    ${clip
      ? html`<h3>Terminal <span class="muted" id="terminal-exit">${clip.exitSignal ? `killed by ${clip.exitSignal}` : clip.exitStatus === null ? 'no exit status' : `exit ${clip.exitStatus}`}</span></h3>
          ${clip.truncated ? html`<p class="notice warn" id="terminal-truncated"><vscode-icon name="warning"></vscode-icon> The recording was cut at the daemon's limit: only the head of this session's output is kept.</p>` : nothing}`
      : nothing}
    <div id="terminal-slot"></div>
    <div class="facts">
      <div><span class="fact-label">Decision</span> <span class="fact decision-${e.status}" id="detail-outcome">${timelineOutcome(e)}</span></div>
      <div><span class="fact-label">Rule</span> <span class="fact" id="detail-rule">${e.ruleId}</span> <span class="muted">${e.reason}</span></div>
      ${a
        ? html`<div>
            <span class="fact-label">Approval</span>
            <span class="fact" id="detail-approval">${a.status}${a.by ? ` by ${a.by}` : ''}${a.via ? ` (${a.via})` : ''}${a.scope === 'session' ? ', for the session' : ''}${a.reason ? `: ${a.reason}` : ''}</span>
            ${a.resolvedT !== undefined ? html`<span class="muted">after ${clock(a.resolvedT - a.requestedT)}</span>` : nothing}
          </div>`
        : nothing}
      ${Object.entries(e.attributes).map(([k, v]) => html`<div><span class="fact-label">${k}</span> <span class="fact">${Array.isArray(v) ? v.join(', ') || '—' : String(v)}</span></div>`)}
      ${e.result
        ? html`<div><span class="fact-label">Result</span> <span class="fact" id="detail-result">${e.result.summary}</span> ${e.result.durationMs !== undefined ? html`<span class="muted">${e.result.durationMs.toFixed(1)} ms</span>` : nothing}</div>`
        : nothing}
      ${e.result?.session ? html`<div><span class="fact-label">Exit</span> <span class="fact" id="detail-exit">${sessionEnd(e.result.session)}</span></div>` : nothing}
      ${e.result?.sftp ? html`<div><span class="fact-label">Transfer</span> <span class="fact" id="detail-sftp">${sftpResult(e.result.sftp)}</span></div>` : nothing}
      ${e.result?.k8sExec ? html`<div><span class="fact-label">Exit</span> <span class="fact" id="detail-exit">${k8sExecEnd(e.result.k8sExec)}</span></div>` : nothing}
      ${e.result?.k8sPortForward
        ? html`<div><span class="fact-label">Forwarded</span> <span class="fact" id="detail-portforward">${e.result.k8sPortForward.ports.map((p) => `${p.port}: ${formatBytes(p.bytesUp)} up, ${formatBytes(p.bytesDown)} down`).join(' · ') || 'no bytes'}</span></div>`
        : nothing}
    </div>
    ${e.result
      ? html`<section>
          <h3>Result as the agent saw it ${detectorBadges(e.result.maskReport)}</h3>
          ${e.result.error ? html`<div class="banner error">${e.result.error}</div>` : nothing}
          ${e.result.sample && e.result.sample.rows.length > 0 ? maskedTable(e.result.sample) : nothing}
          ${httpResultView(e.result, 'detail')}
          ${e.result.sample?.truncated ? html`<p class="muted">The first ${e.result.sample.rows.length} of ${e.result.rowCount ?? 'more'} rows were recorded.</p>` : nothing}
          ${e.result.k8s ? k8sResponse(e.result.k8s) : nothing}
          ${e.result.sample || e.result.http || e.result.k8s
            ? html`<vscode-button secondary class="small" id="open-result" @click=${() => channel.send({ type: 'openResult', actionId: e.actionId })}>Open in the masked-data view</vscode-button>`
            : nothing}
        </section>`
      : nothing}
  `;
}

/** "exit 0 · 1.2 KiB out, 40 bytes in", or the signal that ended it. */
function sessionEnd(s: NonNullable<TimelineResult['session']>): string {
  const end = s.exitSignal ? `killed by ${s.exitSignal}` : s.exitStatus === null ? 'no exit status' : `exit ${s.exitStatus}`;
  return `${end} · ${formatBytes(s.bytesOut)} out, ${formatBytes(s.bytesIn)} in${s.truncated ? ' · recording cut at the limit' : ''}`;
}

/** "exit 0 · 12 bytes out, 0 bytes in", with the error channel's message when it failed. */
function k8sExecEnd(r: NonNullable<TimelineResult['k8sExec']>): string {
  const end = r.exitCode === undefined ? 'no exit status' : `exit ${r.exitCode}`;
  return `${end}${r.error ? ` (${r.error})` : ''} · ${formatBytes(r.bytesOut + r.bytesErr)} out, ${formatBytes(r.bytesIn)} in${r.asciicastCut ? ' · recording cut at the limit' : ''}`;
}

function sftpResult(r: NonNullable<TimelineResult['sftp']>): string {
  return [r.status, r.bytes !== undefined ? formatBytes(r.bytes) : undefined, r.entries !== undefined ? `${r.entries} entries` : undefined, r.sha256 ? `sha256 ${r.sha256}` : undefined].filter(Boolean).join(' · ');
}

/** More rows than this are not drawn in the HTTP lane (the action list and the canvases still hold them all). */
const HTTP_LANE_ROWS = 2_000;

/**
 * The HTTP lane: the session's requests as rows (method, host and path, status, duration, body
 * size) and its tunnels (host:port, bytes each way). A click selects the action and opens the row:
 * request headers and body excerpt, response headers and the masked body with its marks.
 */
function httpLane(): TemplateResult | typeof nothing {
  const rows = httpLaneRows(entries());
  if (rows.length === 0) return nothing;
  const shown = rows.slice(0, HTTP_LANE_ROWS);
  return html`<section>
    <h2><vscode-icon name="globe"></vscode-icon> HTTP <span class="muted">${rows.length} request${rows.length === 1 ? '' : 's'} and tunnels${rows.length > shown.length ? `, the first ${shown.length} listed` : ''}</span></h2>
    <div class="http-lane" id="http-lane" role="list">
      ${shown.map((row) => httpLaneRow(row))}
    </div>
  </section>`;
}

function httpLaneRow(row: HttpLaneRow): TemplateResult {
  const open = ui.httpOpen === row.actionId;
  const entry = open ? entries().find((e) => e.actionId === row.actionId) : undefined;
  return html`<div
      class="http-row ${row.actionId === ui.selected ? 'selected' : ''}"
      role="listitem"
      aria-expanded=${open}
      data-action=${row.actionId}
      @click=${() => {
        ui.httpOpen = open ? undefined : row.actionId;
        const e = entries().find((x) => x.actionId === row.actionId);
        if (e) select(e);
        else {
          save();
          draw();
        }
      }}
    >
      <span class="when">${clock(row.t)}</span>
      <span class="http-method">${row.method}</span>
      <span class="where" title=${row.where}>${row.where}</span>
      <span class="status-code ${row.failed ? 'error' : ''}">${row.status}</span>
      <span class="muted">${row.duration ?? ''}</span>
      <span class="muted">${row.bytes}</span>
    </div>
    ${entry ? html`<div class="http-expanded" id="http-expanded">${httpExchange(entry)}</div>` : nothing}`;
}

/** The request as it went and what came back, for an opened lane row. */
function httpExchange(e: TimelineEntry): TemplateResult {
  const d = e.detail;
  const request = d.kind === 'http.request' || d.kind === 'http.websocket' ? httpRequestView(d.detail, true) : undefined;
  return html`${request
      ? html`<h3>Request headers</h3>
          ${headersTable(request.headers, 'http-lane-request-headers')}
          ${request.body ? html`<h3>Request body</h3>${bodyBlock(request.body, 'http-lane-request-body')}` : nothing}`
      : nothing}
    ${e.result ? httpResultView(e.result, 'http-lane') : html`<p class="muted">${e.status === 'denied' ? 'Refused: nothing went upstream.' : e.status === 'held' ? 'Waiting for approval.' : 'No result recorded.'}</p>`}`;
}

const PROTOCOL_NAMES: Record<Protocol, string> = { postgres: 'PostgreSQL', ssh: 'SSH', kubernetes: 'Kubernetes', http: 'HTTP', egress: 'Egress' };

function draw(): void {
  if (!state) {
    render(loading(error), root);
    return;
  }
  const { timeline, verify, truncated } = state;
  const integrity = integrityLabel(verify);
  render(
    html`
      ${errorBanner(error)}
      <header class="title">
        <vscode-icon name="history"></vscode-icon>
        <h1>Replay of <strong>${timeline.agentSessionName}</strong></h1>
        <span class="integrity ${integrity.ok === false ? 'bad' : integrity.ok ? 'good' : ''}" id="integrity"
          ><vscode-icon name=${integrity.ok === false ? 'error' : integrity.ok ? 'verified' : 'question'}></vscode-icon> ${integrity.text}</span
        >
        <vscode-button secondary class="small" title="Load again" @click=${() => channel.send({ type: 'reload' })}><vscode-icon name="refresh"></vscode-icon></vscode-button>
      </header>
      <p class="subtitle">
        ${timeline.entries.length} actions · ${timeline.startedAt ? new Date(timeline.startedAt).toLocaleString() : ''}
        ${timeline.sealed ? html` · sealed (${timeline.sealReason})` : html` · still recording`}
        ${truncated ? html` · <span class="warn">only the first records are loaded</span>` : nothing}
      </p>
      <div class="player">
        <vscode-button id="play" @click=${togglePlay} title="Play / pause (Space)"><vscode-icon name=${playing ? 'debug-pause' : 'play'}></vscode-icon> ${playing ? 'Pause' : 'Play'}</vscode-button>
        <span id="clock" class="clock"></span>
        <input id="seek" type="range" min="0" max=${Math.round(timeline.duration)} .value=${String(Math.round(ui.t))} aria-label="Seek" @input=${(ev: Event) => setTime(Number((ev.target as HTMLInputElement).value))} />
        <vscode-single-select id="speed" aria-label="Speed" .value=${String(ui.speed)} @change=${(ev: Event) => ((ui.speed = Number((ev.target as HTMLSelectElement).value)), save())}>
          ${PLAYBACK_SPEEDS.map((s) => html`<vscode-option value=${String(s)} ?selected=${s === ui.speed}>${s}×</vscode-option>`)}
        </vscode-single-select>
        <span class="muted keys" title="Space play/pause · ←/→ previous/next action · Shift+←/→ seek 5 s · +/- speed · Home/End">Keys: Space ← → + −</span>
      </div>
      <div class="lanes" id="lanes">
        ${timeline.protocols.map((p) => laneRow(p, html`${protocolIcon(p)} ${PROTOCOL_NAMES[p]}`))}
        ${laneRow('approvals', html`<vscode-icon name="person"></vscode-icon> Approvals`)}
        ${laneRow('terminal', html`<vscode-icon name="terminal"></vscode-icon> Terminal${timeline.terminals.length === 0 ? html` <span class="muted">(none)</span>` : nothing}`)}
        <div id="playhead" class="playhead"></div>
      </div>
      ${httpLane()}
      <div class="split">
        <div
          id="entries"
          class="entries"
          role="listbox"
          tabindex="0"
          aria-label="Actions"
          @scroll=${(ev: Event) => {
            ui.listScroll = (ev.target as HTMLElement).scrollTop;
            draw();
          }}
        >
          ${entryList()}
        </div>
        <div id="details" class="details">${details(selectedEntry())}</div>
      </div>
    `,
    root,
  );
  updateClock();
}

draw();
const list = document.getElementById('entries');
if (list) list.scrollTop = ui.listScroll;
channel.ready();
