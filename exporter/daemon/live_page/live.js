// The live page: polls this exporter's JSON API once per exporter interval and renders it.
// Every shown number also sits unformatted in a data-value attribute (with a stable id, or a
// data-key inside a list or table), so a test can compare the page with the API. Label values
// come from the segment and are untrusted: they only ever go through textContent and dataset.
'use strict';

(function () {
  const HISTORY_MINUTES = 15;
  const SVG = 'http://www.w3.org/2000/svg';

  // ---- formatting -------------------------------------------------------------------------------
  const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  function sig(n) { return Number(n.toPrecision(3)).toString(); }
  function fmtCount(n) { return grouped.format(n); }
  function fmtRate(n) { return n >= 100 ? grouped.format(n) : sig(n); }
  function fmtPercent(n) { return (n >= 10 ? n.toFixed(0) : sig(n)) + '%'; }
  function fmtShare(fraction) { return fmtPercent(fraction * 100); }
  function fmtScore(n) { return n.toFixed(0); }
  function fmtSeconds(s) {
    if (s === 0) return '0';
    if (s < 1e-3) return sig(s * 1e6) + ' µs';
    if (s < 1) return sig(s * 1e3) + ' ms';
    return sig(s) + ' s';
  }
  function fmtBytes(b) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (b >= 1024 && i < units.length - 1) { b /= 1024; ++i; }
    return (i === 0 ? String(Math.round(b)) : sig(b)) + ' ' + units[i];
  }
  function fmtByteRate(b) { return fmtBytes(b) + '/s'; }
  function fmtAge(s) { return s < 60 ? sig(s) + ' s' : (s / 60).toFixed(1) + ' min'; }
  function fmtTime(unix) {
    const d = new Date(unix * 1000);
    return d.toLocaleTimeString('en-GB', { hour12: false });
  }

  // ---- DOM helpers ------------------------------------------------------------------------------
  function byId(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v; else e.setAttribute(k, v);
    }
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function raw(value) { return value === null || value === undefined ? '' : String(value); }
  // Shows value (formatted) in the element with `id`; data-value holds it as the API sent it.
  function show(id, value, format) {
    const e = byId(id);
    e.dataset.value = raw(value);
    e.textContent = value === null || value === undefined ? '–' : format(value);
  }
  function cell(field, value, format, numeric) {
    const td = el('td', { 'data-field': field, class: numeric ? 'num' : '' });
    td.dataset.value = raw(value);
    td.textContent = value === null || value === undefined ? '–' : format ? format(value) : String(value);
    return td;
  }
  // A <ul> of "key  value" items, data-key and data-value on each <li>.
  function fillList(id, entries, format) {
    const list = byId(id);
    list.replaceChildren();
    if (entries.length === 0) list.append(el('li', { class: 'muted' }, 'none yet'));
    for (const [key, value] of entries) {
      const li = el('li', { 'data-key': key });
      li.dataset.value = raw(value);
      li.append(el('span', {}, key === '' ? '(none)' : key), el('b', {}, value === null ? '–' : format(value)));
      list.append(li);
    }
  }
  function fillTable(id, rows) {
    byId(id).tBodies[0].replaceChildren(...rows);
  }

  // ---- state ------------------------------------------------------------------------------------
  const state = { interval: 5, history: [], thresholds: null, breached: new Set(), timer: 0 };

  class ApiError extends Error {}
  async function getJson(path) {
    const response = await fetch(path, { cache: 'no-store' });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) throw new ApiError((body && body.error) || path + ': HTTP ' + response.status);
    return body;
  }

  // ---- alerts -----------------------------------------------------------------------------------
  const LIMITS = {
    latency_seconds: { what: 'p95 message latency', format: fmtSeconds, chart: 'chart-latency', sign: '>' },
    cpu_percent: { what: 'CPU of a worker', format: fmtPercent, chart: 'chart-cpu', sign: '>' },
    memory_bytes: { what: 'memory of a worker', format: fmtBytes, chart: 'chart-memory', sign: '>' },
    failure_ratio: { what: 'failed share of sent messages', format: fmtShare, chart: 'chart-failed', sign: '>' },
    health_score: { what: 'lowest connection health', format: fmtScore, chart: 'chart-health', sign: '<' },
  };
  function renderAlerts(breached) {
    const box = byId('alerts');
    box.replaceChildren();
    state.breached = new Set();
    for (const b of breached) {
      const limit = LIMITS[b.threshold] || { what: b.threshold, format: String, sign: 'vs' };
      const div = el('div', { class: 'alert', 'data-threshold': b.threshold, 'data-limit': raw(b.limit) },
        limit.what + ' ' + limit.format(b.value) + ' ' + limit.sign + ' limit ' + limit.format(b.limit));
      div.dataset.value = raw(b.value);
      box.append(div);
      if (limit.chart) state.breached.add(limit.chart);
    }
  }

  // ---- summary ----------------------------------------------------------------------------------
  function renderSummary(s) {
    state.interval = s.interval_seconds;
    state.thresholds = s.thresholds;
    byId('segment-name').textContent = s.segment;
    byId('interval').textContent = s.interval_seconds + ' s';
    const updated = byId('updated');
    updated.dataset.time = raw(s.time);
    updated.textContent = fmtTime(s.time);

    show('connections-total', s.connections.total, fmtCount);
    fillList('connections-by-role', Object.entries(s.connections.by_role), fmtCount);
    show('messages-out-rate', s.rates.messages_per_second.out, fmtRate);
    show('messages-in-rate', s.rates.messages_per_second.in, fmtRate);
    show('bytes-out-rate', s.rates.bytes_per_second.out, fmtByteRate);
    show('bytes-in-rate', s.rates.bytes_per_second.in, fmtByteRate);
    show('failed-rate', s.rates.failed_per_second, fmtRate);
    show('disconnect-rate', s.rates.disconnections_per_second, fmtRate);
    fillList('heartbeat-by-role', Object.entries(s.health.heartbeat_success_percent), fmtPercent);
    show('min-health', s.health.min_score, fmtScore);
    show('messages-sent', s.messages.sent, fmtCount);
    show('messages-received', s.messages.received, fmtCount);
    show('messages-failed', s.messages.failed, fmtCount);
    renderAlerts(s.breached);

    fillTable('process-table', s.resources.processes.map((p) => {
      const tr = el('tr', { 'data-key': String(p.pid), 'data-type': p.process_type });
      tr.append(cell('pid', p.pid, String, true),
        cell('role', p.process_type === 'exporter' ? 'exporter' : p.role),
        cell('cpu_percent', p.cpu_percent, fmtPercent, true),
        cell('rss_bytes', p.rss_bytes, fmtBytes, true),
        cell('threads', p.threads, String, true));
      return tr;
    }));
  }

  // ---- breakdown --------------------------------------------------------------------------------
  function quantile(entry, q) {
    const found = entry.quantiles.find((x) => x.q === q);
    return found ? found.value : null;
  }
  function renderBreakdown(b) {
    fillTable('latency-table', Object.entries(b.latency_seconds_by_message_type).map(([type, entry]) => {
      const tr = el('tr', { 'data-key': type });
      tr.append(cell('message_type', type), cell('count', entry.count, fmtCount, true),
        cell('p50', quantile(entry, 0.5), fmtSeconds, true), cell('p95', quantile(entry, 0.95), fmtSeconds, true),
        cell('p99', quantile(entry, 0.99), fmtSeconds, true));
      return tr;
    }));
    fillList('compression-by-type', Object.entries(b.compression_ratio_percent_by_type)
      .map(([type, entry]) => [type, quantile(entry, 0.5)]), (n) => 'p50 ' + fmtPercent(n));

    let subscriptions = 0;
    const byType = new Map();
    for (const g of b.subscriptions_active) {
      subscriptions += g.value;
      const type = g.labels.subscription_type || '';
      byType.set(type, (byType.get(type) || 0) + g.value);
    }
    show('subscriptions-total', subscriptions, fmtCount);
    fillList('subscriptions-by-type', [...byType.entries()], fmtCount);

    const rows = [];
    const add = (what, gauges, format) => {
      for (const g of gauges) {
        const kind = g.labels.buffer_type || g.labels.queue_type || '';
        const role = g.labels.role || '';
        const tr = el('tr', { 'data-key': what + ':' + kind + ':' + role });
        tr.append(cell('what', what + (kind ? ' ' + kind : '')), cell('role', role), cell('value', g.value, format, true));
        rows.push(tr);
      }
    };
    add('buffer', b.buffer_utilization_percent, fmtPercent);
    add('queue', b.queue_size, fmtCount);
    fillTable('buffer-table', rows);
  }

  // ---- writers and segment ----------------------------------------------------------------------
  function renderWriters(w) {
    fillTable('writer-table', w.writers.map((x) => {
      const tr = el('tr', { 'data-key': 'slot-' + x.slot, class: x.alive ? '' : 'dead' });
      tr.append(cell('slot', x.slot, String, true), cell('pid', x.pid, String, true), cell('role', x.role),
        cell('state', x.alive ? x.state : x.state + ' (process gone)'),
        cell('heartbeat_age_seconds', x.heartbeat_age_seconds, fmtAge, true),
        cell('cells_bytes', x.cells_bytes, fmtBytes, true));
      return tr;
    }));
  }
  const USAGE_NAMES = {
    series: ['series', fmtCount], families: ['metric families', fmtCount], writers: ['writer slots', fmtCount],
    string_bytes: ['names and labels', fmtBytes], retired_bytes: ['retired arena', fmtBytes],
    fullest_writer_arena_bytes: ['fullest writer arena', fmtBytes],
  };
  function renderSegment(s) {
    const box = byId('segment-usage');
    box.replaceChildren();
    for (const [key, u] of Object.entries(s.usage)) {
      const [name, format] = USAGE_NAMES[key] || [key, fmtCount];
      const div = el('div', { class: 'usage', 'data-key': key, 'data-capacity': raw(u.capacity) });
      div.dataset.value = raw(u.used);
      const label = el('div', { class: 'label' });
      label.append(el('span', {}, name), el('span', {}, format(u.used) + ' of ' + format(u.capacity) +
        ' (' + sig(u.percent) + '%)'));
      const bar = el('div', { class: 'bar' });
      bar.append(el('div', { class: u.percent >= 80 ? 'high' : '' }));
      bar.firstChild.style.width = Math.min(100, u.percent) + '%';
      div.append(label, bar);
      box.append(div);
    }
    const d = s.dropped;
    const lost = d.series + d.cells + d.writers + d.retired_cells;
    const text = lost === 0 ? 'nothing dropped' : 'dropped: ' + d.series + ' label sets, ' + d.cells + ' cells, ' +
      d.writers + ' writers, ' + d.retired_cells + ' retired cells';
    byId('segment-dropped').textContent = text + ' · ' + s.writers_reaped + ' dead writers folded · ' +
      fmtBytes(s.size_bytes) + ' segment';
  }

  // ---- charts -----------------------------------------------------------------------------------
  const CHARTS = [
    { id: 'chart-connections', title: 'Active connections', series: [['active_connections', 'open']], format: fmtCount },
    { id: 'chart-messages', title: 'Messages / s',
      series: [['messages_out_per_second', 'sent'], ['messages_in_per_second', 'received']], format: fmtRate },
    { id: 'chart-bandwidth', title: 'Bandwidth (in + out)', series: [['bytes_per_second', 'bytes/s']], format: fmtByteRate },
    { id: 'chart-latency', title: 'p95 latency per interval', series: [['p95_latency_seconds', 'p95']],
      format: fmtSeconds, threshold: 'latency_seconds' },
    { id: 'chart-cpu', title: 'CPU, busiest worker', series: [['max_worker_cpu_percent', 'CPU']], format: fmtPercent,
      threshold: 'cpu_percent' },
    { id: 'chart-memory', title: 'Memory, largest worker', series: [['max_worker_memory_bytes', 'RSS']], format: fmtBytes,
      threshold: 'memory_bytes' },
    { id: 'chart-failed', title: 'Failed messages, share of sent', series: [['failure_ratio', 'failed']], format: fmtShare,
      threshold: 'failure_ratio' },
    { id: 'chart-disconnects', title: 'Disconnections / s', series: [['disconnections_per_second', 'closed']],
      format: fmtRate },
    { id: 'chart-health', title: 'Lowest connection health', series: [['min_health_score', 'score']], format: fmtScore,
      threshold: 'health_score', fixedMax: 100 },
  ];

  function buildCharts() {
    const box = byId('charts');
    for (const c of CHARTS) {
      const div = el('div', { class: 'chart', id: c.id });
      const h2 = el('h2', {}, c.title + ' ');
      h2.append(el('b', { id: c.id + '-value', 'data-value': '' }, '–'));
      const legend = el('div', { class: 'legend' });
      c.series.forEach(([, label], i) => {
        legend.append(el('i', { class: i ? 'second' : '' }), document.createTextNode(label));
      });
      if (c.threshold) {
        legend.append(el('i', { class: 'limit' }), el('span', { id: c.id + '-limit', 'data-value': '' }, 'limit'));
      }
      div.append(h2, document.createElementNS(SVG, 'svg'), legend);
      box.append(div);
    }
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function drawChart(c) {
    const div = byId(c.id);
    div.classList.toggle('breached', state.breached.has(c.id));
    const points = state.history;
    const last = points.length ? points[points.length - 1] : null;
    const valueEl = byId(c.id + '-value');
    valueEl.dataset.value = last ? raw(last[c.series[0][0]]) : '';
    valueEl.dataset.time = last ? raw(last.time) : '';
    const latest = last ? last[c.series[0][0]] : null;
    valueEl.textContent = latest === null || latest === undefined ? '–' : c.format(latest);

    const limit = c.threshold && state.thresholds ? state.thresholds[c.threshold] : null;
    if (c.threshold) {
      const limitEl = byId(c.id + '-limit');
      limitEl.dataset.value = raw(limit);
      limitEl.textContent = limit === null ? 'limit' : 'limit ' + c.format(limit);
    }

    const canvas = div.querySelector('svg');
    const width = Math.max(200, canvas.clientWidth || 300);
    const height = 120;
    const left = 64, right = 6, top = 6, bottom = 16;
    canvas.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    canvas.replaceChildren();

    let max = 0;
    for (const p of points) {
      for (const [key] of c.series) {
        if (typeof p[key] === 'number') max = Math.max(max, p[key]);
      }
    }
    // The limit joins the scale unless it is far above the data (memory: 1 GiB against MiBs);
    // then it is named at the top edge instead of flattening the lines.
    let limitOnScale = limit !== null && limit <= Math.max(max, 1e-12) * 3;
    if (limit !== null && max === 0 && !c.fixedMax) limitOnScale = false;
    let yMax = c.fixedMax || Math.max(max * 1.15, limitOnScale ? limit * 1.15 : 0);
    if (yMax <= 0) yMax = 1;
    // The window shrinks to the history there is (at least a minute), so a fresh page has lines.
    const t1 = last ? last.time : Date.now() / 1000;
    const t0 = Math.min(t1 - 60, Math.max(t1 - HISTORY_MINUTES * 60, points.length ? points[0].time : t1));
    const span = t1 - t0 >= 120 ? Math.round((t1 - t0) / 60) + ' min' : Math.round(t1 - t0) + ' s';
    const x = (t) => left + (width - left - right) * (t - t0) / (t1 - t0);
    const y = (v) => top + (height - top - bottom) * (1 - v / yMax);

    canvas.append(svg('line', { class: 'axis', x1: left, y1: y(0), x2: width - right, y2: y(0) }));
    canvas.append(svg('line', { class: 'axis', x1: left, y1: y(yMax), x2: width - right, y2: y(yMax) }));
    canvas.append(svg('text', { class: 'grid-label', x: left - 4, y: y(yMax) + 9, 'text-anchor': 'end' }, c.format(yMax)));
    canvas.append(svg('text', { class: 'grid-label', x: left - 4, y: y(0), 'text-anchor': 'end' }, '0'));
    canvas.append(svg('text', { class: 'grid-label', x: left, y: height - 3 }, '-' + span));
    canvas.append(svg('text', { class: 'grid-label', x: width - right, y: height - 3, 'text-anchor': 'end' }, 'now'));

    if (limit !== null) {
      if (limitOnScale || c.fixedMax) {
        canvas.append(svg('line', { class: 'limit', x1: left, y1: y(limit), x2: width - right, y2: y(limit) }));
        canvas.append(svg('text', { class: 'limit-label', x: width - right - 2, y: y(limit) - 3, 'text-anchor': 'end' },
          'limit ' + c.format(limit)));
      } else {
        canvas.append(svg('text', { class: 'limit-label', x: width - right - 2, y: top + 9, 'text-anchor': 'end' },
          'limit ' + c.format(limit) + ' ↑'));
      }
    }

    c.series.forEach(([key], i) => {
      let d = '';
      let pen = 'M';
      for (const p of points) {
        if (p.time < t0) continue;
        const v = p[key];
        if (typeof v !== 'number') { pen = 'M'; continue; }  // a gap: no rate on a first interval
        d += pen + x(p.time).toFixed(1) + ',' + y(Math.min(v, yMax)).toFixed(1) + ' ';
        pen = 'L';
      }
      if (d) canvas.append(svg('path', { class: 'line' + (i ? ' second' : ''), d }));
    });
  }

  function drawCharts() { for (const c of CHARTS) drawChart(c); }

  // Appends the records newer than the last one kept and forgets those older than the window.
  function remember(snapshots) {
    const lastTime = state.history.length ? state.history[state.history.length - 1].time : 0;
    for (const s of snapshots) {
      if (s.time > lastTime) state.history.push(s);
    }
    const from = state.history.length ? state.history[state.history.length - 1].time - HISTORY_MINUTES * 60 : 0;
    while (state.history.length && state.history[0].time < from) state.history.shift();
  }

  // ---- the loop ---------------------------------------------------------------------------------
  function setState(text, ok) {
    const e = byId('connection-state');
    e.textContent = text;
    e.className = 'state ' + (ok ? 'ok' : 'down');
  }

  async function refresh(first) {
    const n = first ? Math.min(720, Math.ceil(HISTORY_MINUTES * 60 / state.interval)) : 5;
    // One request at a time: the exporter serves with two threads, and a browser's parallel
    // keep-alive connections would hold both while Prometheus waits to scrape.
    const settled = [];
    for (const path of ['/api/v1/summary', '/api/v1/snapshots?n=' + n, '/api/v1/breakdown', '/api/v1/writers',
      '/api/v1/segment']) {
      try {
        settled.push({ status: 'fulfilled', value: await getJson(path) });
      } catch (reason) {
        settled.push({ status: 'rejected', reason });
      }
    }
    const [summary, snapshots, breakdown, writers, segment] = settled;
    const failed = [summary, snapshots, breakdown, writers, segment].find((r) => r.status === 'rejected');
    if (summary.status === 'fulfilled') renderSummary(summary.value);
    if (snapshots.status === 'fulfilled') remember(snapshots.value.snapshots);
    if (breakdown.status === 'fulfilled') renderBreakdown(breakdown.value);
    if (writers.status === 'fulfilled') renderWriters(writers.value);
    if (segment.status === 'fulfilled') renderSegment(segment.value);
    drawCharts();
    // The window's width and the page's: wider means something sticks out sideways (the layout
    // test reads this at a phone width).
    document.body.dataset.layout = window.innerWidth + ' ' + document.documentElement.scrollWidth;
    if (!failed) {
      setState('live', true);
    } else if (failed.reason instanceof ApiError) {
      setState(failed.reason.message, false);
    } else {
      setState('exporter unreachable; retrying', false);
    }
  }

  async function loop(first) {
    try {
      await refresh(first);
    } finally {
      state.timer = setTimeout(() => loop(false), Math.max(1, state.interval) * 1000);
    }
  }

  async function start() {
    buildCharts();
    try {
      // The interval first: it sizes the history request.
      state.interval = (await getJson('/api/v1/snapshots?n=1')).interval_seconds;
    } catch (e) {
      // Shown by the first refresh.
    }
    await loop(true);
  }

  window.addEventListener('resize', drawCharts);
  start();
})();
