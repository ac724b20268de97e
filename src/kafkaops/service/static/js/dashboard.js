// kafkaops dashboard: polls the JSON API of the same process and renders the overview.
// No framework: small render functions that build DOM nodes (text is always set with
// textContent, so topic/group names and evidence cannot inject markup).

import { apiGet, apiPath, apiPost, listOf, token } from './api.js';
import { TimeChart } from './charts.js';
import { fmtBytes, fmtInt, fmtMs, fmtRelative, fmtUtc, fmtValue, fmtWhen, toDate } from './format.js';

const REFRESH_MS = 5000;          // overview, incidents, groups
const HISTORY_EVERY = 3;          // charts every 3rd refresh (15 s)
const HISTORY_WINDOW_MIN = 30;
const TOP_GROUPS = 5;
const RECENT_RESOLVED = 5;
const MAX_GROUP_ROWS = 50;
const STALE_AFTER_MS = 3 * REFRESH_MS + 2000;
const ACTOR_KEY = 'kafkaops.actor';

const $ = (sel) => document.querySelector(sel);

/** h('td', {class: 'num', dataset: {id: 1}}, 'text', node) */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function timeText(ts, mode, now = Date.now()) {
  if (mode === 'rel') return fmtRelative(ts, now);
  if (mode === 'stack') return `${fmtUtc(ts)}\n${fmtRelative(ts, now)}`;
  return fmtWhen(ts, now);
}

/**
 * A <time> whose relative part is refreshed every second by tick().
 * mode: 'full' ("2026-11-25 19:40:12 UTC · 3m ago"), 'stack' (the same on two lines), 'rel'.
 */
function when(value, mode = 'full') {
  const d = toDate(value);
  if (!d) return h('span', { class: 'muted' }, '—');
  return h('time', {
    datetime: d.toISOString(),
    title: fmtUtc(d),
    class: mode === 'stack' ? 'stack' : null,
    dataset: { ts: String(d.getTime()), mode },
  }, timeText(d.getTime(), mode));
}

function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll('time[data-ts]')) {
    el.textContent = timeText(Number(el.dataset.ts), el.dataset.mode, now);
  }
  renderRefreshStatus(now);
}

/** JSON of a value without the fields that change every second, to skip needless re-renders. */
function signature(value) {
  return JSON.stringify(value, (k, v) => (k === 'age_s' || k === 'starts_in_s' ? undefined : v));
}

const sevClass = (sev) => (['P0', 'P1', 'P2', 'OK'].includes(sev) ? `sev-${sev}` : 'sev-OK');

// ------------------------------------------------------------------------------ app state
const app = {
  clusters: [],
  cluster: new URLSearchParams(location.search).get('cluster') || '',
  health: null,
  healthError: null,
  brokers: null,
  brokersError: null,
  groups: null,
  groupsError: null,
  incidents: [],
  incidentsError: null,
  liveness: null,            // GET /health: loop freshness, leader, interval
  lastOk: null,
  lastAttempt: null,
  refreshCount: 0,
  signatures: {},
  rowErrors: new Map(),      // incident id -> message shown under its row
  rowNotes: new Map(),       // incident id -> success note
  pending: new Set(),        // incident ids with a request in flight
  confirmResolve: new Map(), // incident id -> timer while "confirm resolve" is armed
  timer: null,
};

function changed(key, value) {
  const sig = signature(value);
  if (app.signatures[key] === sig) return false;
  app.signatures[key] = sig;
  return true;
}

// ------------------------------------------------------------------------------ token UI
function renderTokenState() {
  const el = $('#token-state');
  const has = Boolean(token.get());
  el.textContent = has ? 'token set' : 'no token';
  el.className = `token-state${has ? ' set' : ''}`;
  $('#token').placeholder = has ? 'saved for this tab' : 'needed for ack / resolve';
}

function setupToken() {
  $('#token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = $('#token').value.trim();
    if (value) token.set(value);
    $('#token').value = '';
    try { sessionStorage.setItem(ACTOR_KEY, $('#actor').value.trim()); } catch { /* disabled */ }
    renderTokenState();
    hideIncidentError();
    refreshSoon();
  });
  $('#token-forget').addEventListener('click', () => {
    token.clear();
    $('#token').value = '';
    renderTokenState();
  });
  $('#actor').value = actor();
  renderTokenState();
}

function actor() {
  try { return sessionStorage.getItem(ACTOR_KEY) || ''; } catch { return ''; }
}

// ------------------------------------------------------------------------------ banner
/** Why the data on the page may be old although the API answers (stuck or dead watch loop). */
function loopProblem() {
  const lv = app.liveness;
  if (!lv) return null;
  if (lv.loop_alive === false) return 'the watch loop has stopped: restart kafkaops serve';
  const loop = (lv.clusters || []).find((c) => c.cluster === app.cluster);
  if (lv.status === 'degraded' && loop && !loop.fresh) {
    return `watch loop stuck: last cycle of ${app.cluster} ${loop.age_s == null ? 'never' : fmtRelative(Date.now() - loop.age_s * 1000)}`;
  }
  return null;
}

function renderBanner() {
  const banner = $('#banner');
  const hl = app.health;
  const summary = hl ? hl.summary || {} : {};
  let stateName = hl ? (summary.state || (hl.reachable ? 'ACTIVE' : 'OFFLINE')) : 'UNKNOWN';
  const sev = hl ? hl.severity : null;
  const stale = app.lastOk === null || Date.now() - app.lastOk > STALE_AFTER_MS || Boolean(loopProblem());
  if (!hl && app.healthError) stateName = 'UNKNOWN';
  banner.className = `banner state-${stateName}${sev ? ` sev-${sev}` : ''}${stale && hl ? ' stale' : ''}`;
  banner.dataset.state = stateName;
  banner.dataset.severity = sev || '';
  $('#state').textContent = stateName === 'UNKNOWN' ? (app.healthError ? 'NO DATA' : 'LOADING') : stateName;

  const headline = $('#banner-headline');
  const detail = $('#banner-detail');
  detail.replaceChildren();
  if (!hl) {
    headline.textContent = app.healthError
      ? `cluster ${app.cluster || '?'}: ${app.healthError}`
      : 'waiting for the first health report…';
    return;
  }
  const worst = (hl.findings || [])[0];
  if (stateName === 'OFFLINE') {
    headline.textContent = `${hl.cluster} is unreachable` + (summary.reason ? ` — ${summary.reason}` : '');
  } else if (hl.overall_healthy) {
    headline.textContent = `${hl.cluster} is healthy — all runbook checks pass`;
  } else {
    const n = (hl.findings || []).length;
    headline.textContent = `${sev} · ${n} finding${n === 1 ? '' : 's'}` +
      (worst ? ` — ${worst.title}${worst.subject && worst.subject !== 'cluster' ? ` (${worst.subject})` : ''}` : '');
  }
  detail.append(
    `cluster ${hl.cluster} · ${hl.bootstrap} · checked `, when(hl.checked_at),
  );
  if (app.healthError) detail.append(h('span', {}, ` · last refresh failed: ${app.healthError}`));
  const problem = loopProblem();
  if (problem) detail.append(h('strong', {}, ` · ${problem}`));
  document.title = `${stateName}${sev && sev !== 'OK' ? ` ${sev}` : ''} · ${hl.cluster} · kafkaops`;
}

function renderRefreshStatus(now = Date.now()) {
  const el = $('#refresh');
  if (app.lastOk === null) {
    el.textContent = app.lastAttempt ? 'no answer from the service yet' : 'connecting…';
    el.className = 'refresh';
    return;
  }
  const age = now - app.lastOk;
  const problem = loopProblem();
  const stale = age > STALE_AFTER_MS || Boolean(problem);
  const lv = app.liveness;
  el.className = `refresh${stale ? ' stale' : ''}`;
  el.title = lv ? `kafkaops ${lv.version} · watch every ${lv.interval_s}s · ${lv.leader ? 'leader' : 'standby'}` : '';
  if (age > STALE_AFTER_MS) {
    el.textContent = `STALE: no answer for ${fmtRelative(app.lastOk, now).replace(' ago', '')}`;
  } else if (problem) {
    el.textContent = 'STALE: watch loop not cycling';
  } else {
    el.textContent = `updated ${fmtUtc(app.lastOk).slice(11)} · ${fmtRelative(app.lastOk, now)}` +
      (lv && lv.leader === false ? ' · standby (not paging)' : '');
  }
  const banner = $('#banner');
  if (app.health) banner.classList.toggle('stale', stale);
}

// ------------------------------------------------------------------------------ tiles
function setTile(id, value, cls, note) {
  const tile = $(id);
  tile.className = `tile ${cls || ''}`;
  tile.querySelector('.tile-value').textContent = value;
  if (note !== undefined) tile.querySelector('.tile-note').textContent = note;
}

function renderTiles() {
  const s = app.health ? app.health.summary || {} : {};
  const known = (v) => v !== null && v !== undefined;
  if (known(s.brokers)) {
    const up = s.brokers_reachable ?? s.brokers;
    const down = s.brokers - up;
    setTile('#tile-brokers', `${up}/${s.brokers}`, down > 0 ? 'bad-P1' : 'good',
      down > 0 ? `${down} not answering` : 'all answering');
  } else {
    setTile('#tile-brokers', '–', '', '');
  }
  const ctl = s.active_controller;
  setTile('#tile-controller', known(ctl) ? String(ctl) : '–', known(ctl) ? 'good' : (app.health ? 'bad-P1' : ''),
    s.controller_voters && s.controller_voters.length ? `quorum voters ${s.controller_voters.join(', ')}` : '');
  const count = (key, sevIfAny, id) => {
    const v = s[key];
    setTile(id, known(v) ? fmtInt(v) : '–', !known(v) ? '' : v > 0 ? `bad-${sevIfAny}` : 'good');
  };
  count('offline_partitions', 'P0', '#tile-offline');
  count('under_replicated_partitions', 'P1', '#tile-urp');
  count('under_min_isr_partitions', 'P1', '#tile-minisr');
  const allActive = app.incidents.filter((i) => i.status !== 'resolved');
  const active = allActive.filter((i) => i.cluster === app.cluster);
  const unacked = active.filter((i) => i.status === 'open');
  const worst = unacked.map((i) => i.severity).sort()[0];
  const elsewhere = allActive.length - active.length;
  setTile('#tile-incidents', app.incidentsError ? '?' : String(active.length),
    unacked.length ? `bad-${worst || 'P1'}` : active.length ? 'bad-P2' : 'good',
    (unacked.length ? `${unacked.length} not acknowledged` : active.length ? 'all acknowledged' : 'none') +
    (elsewhere ? ` · ${elsewhere} on other clusters` : ''));
}

function renderBrokers() {
  const strip = $('#brokers');
  const data = app.brokers;
  if (!changed('brokers', [data, app.brokersError])) return;
  strip.replaceChildren();
  if (!data || !data.brokers) {
    if (app.brokersError) strip.append(h('span', { class: 'label' }, `brokers: ${app.brokersError}`));
    return;
  }
  strip.append(h('span', { class: 'label' }, 'brokers'));
  for (const b of [...data.brokers].sort((a, c) => a.node_id - c.node_id)) {
    const disk = b.disk_percent !== null && b.disk_percent !== undefined
      ? `${Number(b.disk_percent).toFixed(1)}% disk` : fmtBytes(b.used_bytes);
    strip.append(h('span', {
      class: `broker${b.reachable ? '' : ' down'}`,
      dataset: { broker: String(b.node_id), reachable: String(b.reachable) },
      title: b.error || `${b.host}:${b.port}${b.rack ? ` rack ${b.rack}` : ''}`,
    },
    h('span', { class: 'dot' }),
    h('strong', {}, `#${b.node_id}`),
    b.active_controller ? h('span', {}, 'controller') : null,
    b.reachable ? h('span', { class: 'disk' }, disk) : h('span', {}, 'DOWN')));
  }
}

// ------------------------------------------------------------------------------ findings
function renderFindings() {
  const box = $('#findings');
  const hl = app.health;
  if (!changed('findings', hl ? [hl.findings, hl.not_measured] : null)) return;
  box.replaceChildren();
  if (!hl) { $('#findings-count').textContent = ''; return; }
  const findings = hl.findings || [];
  $('#findings-count').textContent = findings.length ? `(${findings.length})` : '';
  if (!findings.length) {
    box.append(h('div', { class: 'all-clear' }, '✓ No runbook rule is triggered.'));
  }
  for (const f of findings) {
    const evidence = f.evidence || [];
    box.append(h('div', { class: `finding sev-border-${f.severity}`, dataset: { rule: f.rule, severity: f.severity } },
      h('span', { class: `sev ${sevClass(f.severity)}` }, f.severity),
      h('div', {}, h('div', { class: 'title' }, f.title),
        f.subject && f.subject !== 'cluster' ? h('div', { class: 'subject' }, f.subject) : null),
      h('div', { class: 'value' }, fmtValue(f.value, f.unit),
        f.threshold !== null && f.threshold !== undefined
          ? h('span', { class: 'muted' }, ` / ${fmtValue(f.threshold, f.unit)}`) : null),
      evidence.length ? h('details', {},
        h('summary', {}, `evidence (${evidence.length})`),
        h('ul', {}, evidence.slice(0, 20).map((e) => h('li', {}, e))),
        evidence.length > 20 ? h('div', {}, `… ${evidence.length - 20} more in the API`) : null) : null));
  }
  const worst = findings[0];
  if (worst && worst.response && worst.response.length) {
    box.append(h('div', { class: 'response' },
      h('strong', {}, `Runbook response (${worst.severity})`),
      h('ol', {}, worst.response.map((step) => h('li', {}, step)))));
  }
  const nm = hl.not_measured || [];
  if (nm.length) {
    box.append(h('div', { class: 'not-measured', title: nm.map((n) => `${n.rule}: ${n.reason}`).join('\n') },
      `not measured: ${[...new Set(nm.map((n) => n.rule))].join(', ')}`));
  }
}

// ------------------------------------------------------------------------------ incidents
function showIncidentError(message) {
  const el = $('#incident-error');
  el.textContent = message;
  el.hidden = false;
}
function hideIncidentError() { $('#incident-error').hidden = true; }

function incidentTitle(inc) {
  const members = inc.members || [];
  const firing = members.filter((m) => m.firing);
  const main = (firing[0] || members[0]);
  if (!main) return inc.id;
  const more = members.length > 1 ? ` +${members.length - 1} more` : '';
  return `${main.title}${main.subject && main.subject !== 'cluster' ? ` (${main.subject})` : ''}${more}`;
}

const STATUS_ORDER = { open: 0, acknowledged: 1, resolved: 2 };
const SEV_ORDER = { P0: 0, P1: 1, P2: 2, OK: 3 };

function sortIncidents(list) {
  return [...list].sort((a, b) =>
    (STATUS_ORDER[a.status] ?? 3) - (STATUS_ORDER[b.status] ?? 3) ||
    (SEV_ORDER[a.severity] ?? 4) - (SEV_ORDER[b.severity] ?? 4) ||
    String(b.opened_at).localeCompare(String(a.opened_at)));
}

async function transition(inc, kind) {
  const id = inc.id;
  if (!token.get()) {
    app.rowErrors.set(id, 'Enter the API token (top right) first: acknowledging and resolving need it.');
    renderIncidents(true);
    $('#token').focus();
    return;
  }
  app.pending.add(id);
  app.rowErrors.delete(id);
  app.rowNotes.delete(id);
  renderIncidents(true);
  try {
    const body = {};
    const who = actor();
    body.actor = who || 'dashboard';
    const out = await apiPost(`${apiPath('incidents', id)}/${kind === 'ack' ? 'ack' : 'resolve'}`, body);
    const updated = out && out.incident ? out.incident : out;
    if (updated && updated.id) {
      app.incidents = app.incidents.map((i) => (i.id === updated.id ? { ...i, ...updated } : i));
    }
    app.rowNotes.set(id, kind === 'ack' ? 'acknowledged — escalation stopped' : 'resolved');
  } catch (err) {
    app.rowErrors.set(id, `${kind === 'ack' ? 'Acknowledge' : 'Resolve'} failed: ${err.message}`);
  } finally {
    app.pending.delete(id);
    renderIncidents(true);
    renderTiles();
    refreshSoon();
  }
}

function armResolve(inc) {
  const id = inc.id;
  if (app.confirmResolve.has(id)) {
    clearTimeout(app.confirmResolve.get(id));
    app.confirmResolve.delete(id);
    transition(inc, 'resolve');
    return;
  }
  app.confirmResolve.set(id, setTimeout(() => {
    app.confirmResolve.delete(id);
    renderIncidents(true);
  }, 5000));
  renderIncidents(true);
}

function renderIncidents(force = false) {
  const body = $('#incidents tbody');
  const list = sortIncidents(app.incidents);
  if (app.incidentsError) showIncidentError(`Cannot load incidents: ${app.incidentsError}`);
  else if ($('#incident-error').textContent.startsWith('Cannot load incidents')) hideIncidentError();
  if (!changed('incidents', list) && !force) return;
  const active = list.filter((i) => i.status !== 'resolved').length;
  $('#incidents-count').textContent = list.length ? `(${active} active, ${list.length} shown)` : '';
  body.replaceChildren();
  if (!list.length) {
    body.append(h('tr', {}, h('td', { colspan: 5, class: 'empty' },
      app.incidentsError ? '—' : 'No incidents.')));
    return;
  }
  const multiCluster = app.clusters.length > 1 || new Set(list.map((i) => i.cluster)).size > 1;
  for (const inc of list) {
    const busy = app.pending.has(inc.id);
    const armed = app.confirmResolve.has(inc.id);
    const statusSub = inc.status === 'acknowledged'
      ? h('span', { class: 'status-sub' }, `by ${inc.acknowledged_by || '?'} `, when(inc.acknowledged_at, 'rel'))
      : inc.status === 'resolved'
        ? h('span', { class: 'status-sub' }, `by ${inc.resolved_by || '?'} `, when(inc.resolved_at, 'rel'))
        : inc.escalated_to ? h('span', { class: 'status-sub' }, `escalated to ${inc.escalated_to}`) : null;
    const actions = h('td', { class: 'actions' },
      inc.status === 'open' ? h('button', {
        type: 'button', class: 'ack', disabled: busy, dataset: { action: 'ack' },
        'aria-label': `acknowledge incident ${inc.id}`, onclick: () => transition(inc, 'ack'),
      }, busy ? 'Acknowledging…' : 'Acknowledge') : null,
      inc.status !== 'resolved' ? h('button', {
        type: 'button', class: armed ? 'resolve confirm' : 'resolve secondary', disabled: busy,
        dataset: { action: 'resolve' }, 'aria-label': `resolve incident ${inc.id}`,
        onclick: () => armResolve(inc),
      }, armed ? 'Confirm resolve' : 'Resolve') : null);
    body.append(h('tr', {
      class: `incident ${inc.status}`,
      dataset: { incidentId: inc.id, status: inc.status, severity: inc.severity, cluster: inc.cluster },
    },
    h('td', {}, h('span', { class: `sev ${sevClass(inc.severity)}` }, inc.severity)),
    h('td', {}, h('div', { class: 'incident-title' }, incidentTitle(inc)),
      h('div', { class: 'incident-id' }, multiCluster && !inc.id.startsWith(`${inc.cluster}-`) ? `${inc.cluster} · ${inc.id}` : inc.id)),
    h('td', {}, h('span', { class: `status status-${inc.status}` }, inc.status), statusSub,
      ...(inc.muted || []).map((m) => h('div', { class: 'muted-note', title: m.text, dataset: { window: m.window } },
        `muted by ${m.kind === 'silence' ? 'silence' : 'window'} ${m.window} until ${m.until}`))),
    h('td', { class: 'nowrap' }, when(inc.opened_at, 'stack')),
    actions));
    const err = app.rowErrors.get(inc.id);
    const note = app.rowNotes.get(inc.id);
    if (err || note) {
      body.append(h('tr', { class: 'row-error', dataset: { for: inc.id } },
        h('td', { colspan: 5 }, err
          ? h('div', { class: 'inline-error', role: 'alert' }, err)
          : h('span', { class: 'inline-ok' }, `✓ ${note}`))));
    }
  }
}

// ------------------------------------------------------------------------------ groups
/** Worst first: time lag (the runbook's EstimatedMaxTimeLag), then offset lag, then name. */
function byLag(a, b) {
  return (b.max_time_lag_ms ?? -1) - (a.max_time_lag_ms ?? -1) ||
    (b.offset_lag ?? 0) - (a.offset_lag ?? 0) ||
    String(a.group_id).localeCompare(String(b.group_id));
}

function renderGroups() {
  const body = $('#groups tbody');
  const groups = app.groups ? listOf(app.groups, 'groups') : null;
  if (!changed('groups', [groups, app.groupsError])) return;
  body.replaceChildren();
  if (!groups) {
    $('#groups-count').textContent = '';
    if (app.groupsError) {
      body.append(h('tr', {}, h('td', { colspan: 6, class: 'empty' }, `Unavailable: ${app.groupsError}`)));
    }
    return;
  }
  const sorted = [...groups].sort(byLag);
  $('#groups-count').textContent = `(${groups.length})`;
  if (!sorted.length) {
    body.append(h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No consumer groups.')));
    return;
  }
  for (const g of sorted.slice(0, MAX_GROUP_ROWS)) {
    const status = g.status || null;
    body.append(h('tr', { dataset: { group: g.group_id, status: status || '' } },
      h('td', { class: 'mono group', title: `${g.state} · topics: ${(g.topics || []).join(', ')}` }, g.group_id),
      h('td', {}, h('span', { class: `status lag-${status || 'unknown'}`, title: g.burrow_status ? `Burrow: ${g.burrow_status}` : '' },
        status || 'n/a')),
      h('td', { class: 'num' }, fmtInt(g.offset_lag),
        g.partitions_without_commit ? h('div', { class: 'muted', title: 'partitions with no committed offset' },
          `${g.partitions_without_commit} uncommitted`) : null),
      h('td', { class: 'num' }, fmtMs(g.max_time_lag_ms)),
      h('td', { class: 'muted' }, g.time_lag_method || '—'),
      h('td', { class: 'num' }, `${g.members ?? '—'}`)));
  }
  if (sorted.length > MAX_GROUP_ROWS) {
    body.append(h('tr', {}, h('td', { colspan: 6, class: 'empty' },
      `… ${sorted.length - MAX_GROUP_ROWS} more groups (API: /api/clusters/${app.cluster}/groups)`)));
  }
}

// ------------------------------------------------------------------------------ charts
let lagChart = null;
let diskChart = null;

/** The API's "since" takes a duration back from now. */
const sinceParam = () => `${HISTORY_WINDOW_MIN}m`;

async function refreshCharts() {
  const cluster = app.cluster;
  if (!cluster) return;
  const since = sinceParam();
  // Lag: the top groups by offset lag (then time lag), one history query each.
  const groups = app.groups ? listOf(app.groups, 'groups') : [];
  const top = [...groups]
    .filter((g) => (g.offset_lag ?? 0) > 0 || (g.max_time_lag_ms ?? 0) > 0)
    .sort(byLag)
    .slice(0, TOP_GROUPS);
  const chosen = top.length ? top : groups.slice(0, Math.min(TOP_GROUPS, groups.length));
  try {
    const results = await Promise.all(chosen.map((g) =>
      apiGet(`${apiPath('clusters', cluster, 'history', 'lag')}?group=${encodeURIComponent(g.group_id)}&since=${encodeURIComponent(since)}`)
        .then((r) => ({ label: g.group_id, points: listOf(r, 'points').map((p) => [Math.round(p.ts_ms / 1000), p.offset_lag]) }))));
    if (cluster !== app.cluster) return;
    lagChart.update(results);
    $('#lag-note').textContent = !results.length ? `no consumer group${app.groupsError ? ' data' : ''}` : `offset lag of the top ${results.length} group${results.length === 1 ? '' : 's'}, up to the last ${HISTORY_WINDOW_MIN} min (UTC)`;
  } catch (err) {
    lagChart.showEmpty(`lag history unavailable: ${err.message}`);
  }
  try {
    const r = await apiGet(`${apiPath('clusters', cluster, 'history', 'brokers')}?since=${encodeURIComponent(since)}`);
    if (cluster !== app.cluster) return;
    const points = listOf(r, 'points');
    const percent = points.length > 0 && points.every((p) => p.disk_percent !== null && p.disk_percent !== undefined);
    const byBroker = new Map();
    for (const p of points) {
      if (!byBroker.has(p.broker)) byBroker.set(p.broker, []);
      byBroker.get(p.broker).push([Math.round(p.ts_ms / 1000), percent ? p.disk_percent : p.used_bytes]);
    }
    const series = [...byBroker.entries()].sort((a, b) => a[0] - b[0])
      .map(([broker, pts]) => ({ label: `broker ${broker}`, points: pts }));
    if (percent && series.length) {
      const xs = [...new Set(points.map((p) => Math.round(p.ts_ms / 1000)))];
      const lo = Math.min(...xs);
      const hi = Math.max(...xs);
      series.push({ label: 'warning 80%', dash: true, color: '#facc15', points: [[lo, 80], [hi, 80]] });
      series.push({ label: 'critical 85%', dash: true, color: '#f87171', points: [[lo, 85], [hi, 85]] });
    }
    diskChart.yMax = percent ? 100 : null;
    diskChart.yFormat = percent ? (v) => `${Number(v).toFixed(0)}%` : (v) => fmtBytes(v);
    if (percent !== diskChart.percent) { diskChart.signature = ''; diskChart.percent = percent; }
    diskChart.update(series);
    const src = r && r.source === 'snapshot' ? ' (latest snapshot only: no stored series yet)' : '';
    $('#disk-note').textContent = `${percent ? 'filesystem use of the log dirs' : 'bytes in the log dirs'}, up to the last ${HISTORY_WINDOW_MIN} min${src}`;
  } catch (err) {
    diskChart.showEmpty(`disk history unavailable: ${err.message}`);
  }
}

// ------------------------------------------------------------------------------ windows
function renderWindows(data) {
  const panel = $('#windows-panel');
  const list = listOf(data, 'windows');
  const now = Date.now();
  const relevant = list.filter((w) => w.active || (toDate(w.start) && toDate(w.start).getTime() - now < 24 * 3600e3));
  if (!changed('windows', relevant)) return;
  panel.hidden = relevant.length === 0;
  const box = $('#windows');
  box.replaceChildren(...relevant.map((w) => h('div', { class: w.active ? 'inline-error' : 'muted' },
    `${w.active ? 'ACTIVE ' : ''}${w.type} window “${w.name}” (${w.impact} impact): `,
    when(w.start), ' → ', fmtUtc(w.end))));
}

// ------------------------------------------------------------------------------ jobs
function renderJobs(data) {
  if (!data || !changed('jobs', data)) return;
  const next = data.next_runs || {};
  const runs = (data.runs || []).filter((r) => r.cluster === '*');
  const names = [...new Set([...Object.keys(next), ...runs.map((r) => r.job)])].sort();
  $('#jobs-panel').hidden = names.length === 0;
  $('#jobs tbody').replaceChildren(...names.map((name) => {
    const last = runs.find((r) => r.job === name);
    const res = (last && last.result) || {};
    const status = last ? (res.status || (last.ok ? 'ok' : 'failed')) : '-';
    return h('tr', { dataset: { job: name, status } },
      h('td', {}, name),
      h('td', { class: 'nowrap' }, next[name] ? fmtUtc(next[name]) : 'off'),
      h('td', { class: 'nowrap' }, last ? fmtUtc(last.scheduled_for) : '-'),
      h('td', {}, h('span', { class: `status status-${status === 'ok' ? 'resolved' : 'open'}` }, status)),
      h('td', { class: 'num' }, res.duration_s !== undefined ? `${Number(res.duration_s).toFixed(1)} s` : '-'));
  }));
}

// ------------------------------------------------------------------------------ reports
function renderReports(data) {
  const rows = Array.isArray(data) ? data : [];
  if (!changed('reports', rows)) return;
  $('#reports-panel').hidden = rows.length === 0;
  $('#reports tbody').replaceChildren(...rows.map((r) => h('tr', { dataset: { report: r.id, kind: r.kind } },
    h('td', {}, r.title),
    h('td', {}, r.cluster),
    h('td', { class: 'nowrap' }, r.period),
    h('td', { class: 'nowrap' }, fmtUtc(r.created_at)),
    h('td', { class: 'nowrap' },
      h('a', { href: r.links.html, target: '_blank', rel: 'noopener', class: 'report-html' }, 'HTML'),
      ' · ',
      h('a', { href: r.links.json, target: '_blank', rel: 'noopener', class: 'report-json' }, 'JSON')))));
}

// ------------------------------------------------------------------------------ refresh loop
function renderClusters() {
  const sel = $('#cluster');
  const names = app.clusters.map((c) => c.name);
  if (!changed('clusters', names)) return;
  sel.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
  sel.value = app.cluster;
}

async function refresh() {
  app.lastAttempt = Date.now();
  try {
    const clusters = listOf(await apiGet('/api/clusters'), 'clusters');
    app.clusters = clusters;
    if (!app.cluster || !clusters.some((c) => c.name === app.cluster)) {
      app.cluster = clusters.length ? clusters[0].name : '';
    }
    renderClusters();
  } catch (err) {
    app.healthError = err.message;
    app.incidentsError = err.message;
    renderAll();
    return;
  }
  const c = app.cluster;
  const [health, brokers, groups, incidents, windows, liveness, jobs, reports] = await Promise.allSettled([
    apiGet(apiPath('clusters', c, 'health')),
    apiGet(apiPath('clusters', c, 'brokers')),
    apiGet(apiPath('clusters', c, 'groups')),
    // Active ones (open + acknowledged), plus the few most recently resolved for context.
    Promise.all([
      apiGet('/api/incidents?state=active&limit=200'),
      apiGet(`/api/incidents?state=resolved&limit=${RECENT_RESOLVED}`),
    ]).then(([active, resolved]) => [...listOf(active, 'incidents'), ...listOf(resolved, 'incidents')]),
    app.refreshCount % 6 === 0 ? apiGet('/api/maintenance/windows') : Promise.resolve(undefined),
    apiGet('/health'),
    app.refreshCount % 6 === 0 ? apiGet('/api/jobs?limit=50') : Promise.resolve(undefined),
    app.refreshCount % 6 === 0 ? apiGet('/api/reports?limit=20') : Promise.resolve(undefined),
  ]);
  if (c !== app.cluster) return;   // the operator switched clusters meanwhile
  if (health.status === 'fulfilled') {
    app.health = health.value;
    app.healthError = null;
    app.lastOk = Date.now();
  } else {
    app.healthError = health.reason.message;
    if (health.reason.status === 404) app.health = null;
  }
  app.brokers = brokers.status === 'fulfilled' ? brokers.value : null;
  app.brokersError = brokers.status === 'fulfilled' ? null : brokers.reason.message;
  app.groups = groups.status === 'fulfilled' ? groups.value : null;
  app.groupsError = groups.status === 'fulfilled' ? null : groups.reason.message;
  if (incidents.status === 'fulfilled') {
    app.incidents = listOf(incidents.value, 'incidents');
    app.incidentsError = null;
  } else {
    app.incidentsError = incidents.reason.message;
  }
  if (windows.status === 'fulfilled' && windows.value !== undefined) renderWindows(windows.value);
  if (jobs.status === 'fulfilled' && jobs.value !== undefined) renderJobs(jobs.value);
  if (reports.status === 'fulfilled' && reports.value !== undefined) renderReports(reports.value);
  app.liveness = liveness.status === 'fulfilled' ? liveness.value : null;
  renderAll();
  if (app.refreshCount % HISTORY_EVERY === 0) refreshCharts();
  app.refreshCount += 1;
}

function renderAll() {
  renderBanner();
  renderTiles();
  renderBrokers();
  renderFindings();
  renderIncidents();
  renderGroups();
  renderRefreshStatus();
}

async function loop() {
  clearTimeout(app.timer);
  try {
    await refresh();
  } catch (err) {
    console.error('refresh failed', err);
  }
  app.timer = setTimeout(loop, REFRESH_MS);
}

function refreshSoon() {
  clearTimeout(app.timer);
  app.timer = setTimeout(loop, 150);
}

function start() {
  setupToken();
  lagChart = new TimeChart($('#lag-chart'), { yFormat: (v) => fmtInt(Math.round(v)), empty: 'no lagging group yet' });
  diskChart = new TimeChart($('#disk-chart'), { yFormat: (v) => fmtBytes(v), empty: 'no broker samples yet' });
  $('#cluster').addEventListener('change', (ev) => {
    app.cluster = ev.target.value;
    const url = new URL(location.href);
    url.searchParams.set('cluster', app.cluster);
    history.replaceState(null, '', url);
    app.health = null;
    app.brokers = null;
    app.groups = null;
    app.signatures = {};
    app.refreshCount = 0;
    renderAll();
    refreshSoon();
  });
  setInterval(tick, 1000);
  loop();
}

start();
