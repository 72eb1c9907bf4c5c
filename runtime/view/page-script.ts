/**
 * The live view's browser script (plain ES2017, inlined into the page; no
 * template literals inside so it can live in this String.raw). It listens
 * to /view/events and draws the fleet table and the chosen device's charts
 * as SVG.
 */
export const PAGE_SCRIPT = String.raw`
'use strict';
(function () {
  var SVG = 'http://www.w3.org/2000/svg';
  var state = { device: decodeURIComponent(location.hash.slice(1)) || null, filter: '', es: null, data: null, points: 240, targets: [], autoPicked: false };
  var $ = function (id) { return document.getElementById(id); };

  function nines(l) {
    if (l === null || l === undefined) return null;
    var x = -Math.log10(Math.max(1 - l, 1e-15));
    return Math.min(x, 15);
  }
  function fmt(x, d) { return x === null || x === undefined || !isFinite(x) ? '-' : Number(x).toFixed(d === undefined ? 2 : d); }
  function fmtTs(ts) { return ts ? new Date(ts).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-'; }
  function fmtDur(ms) { if (ms === null || ms === undefined) return '-'; var s = ms / 1000; return s < 120 ? s.toFixed(0) + ' s' : s < 7200 ? (s / 60).toFixed(1) + ' min' : (s / 3600).toFixed(1) + ' h'; }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function sv(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  function connect() {
    if (state.es) state.es.close();
    var q = '?q=' + encodeURIComponent(state.filter) + (state.device ? '&device=' + encodeURIComponent(state.device) : '');
    // Relative to the page (/view or /view/), so a reverse proxy may mount it under any prefix.
    var es = new EventSource(location.pathname.replace(/\/?$/, '/') + 'events' + q);
    state.es = es;
    es.onopen = function () { $('conn').textContent = 'live'; $('conn').className = 'conn'; };
    es.onerror = function () { $('conn').textContent = 'reconnecting'; $('conn').className = 'conn off'; };
    es.addEventListener('fleet', function (m) { fleet(JSON.parse(m.data)); });
    es.addEventListener('device', function (m) { state.data = JSON.parse(m.data); drawDevice(); });
    es.addEventListener('points', function (m) { append(JSON.parse(m.data)); drawDevice(); });
  }

  function fleet(s) {
    state.points = s.points;
    state.targets = s.targets;
    $('f-model').textContent = s.model;
    $('f-backend').textContent = s.backend;
    $('f-devices').textContent = s.devices + (s.tracked !== s.devices ? ' (' + s.tracked + ' in view)' : '');
    $('f-open').textContent = s.open;
    $('f-open').className = s.open > 0 ? 'state-anomaly' : '';
    $('f-results').textContent = s.results;
    $('f-errors').textContent = s.errors;
    $('shown').textContent = s.rows.length < s.matched ? 'showing ' + s.rows.length + ' of ' + s.matched + ' (open episodes first, then the highest likelihood)' : s.matched + ' device' + (s.matched === 1 ? '' : 's');
    var body = document.createElement('tbody');
    s.rows.forEach(function (r) {
      var tr = el('tr', { 'data-device': r.device });
      if (r.device === state.device) tr.className = 'selected';
      tr.appendChild(el('td', { title: r.device }, r.device));
      tr.appendChild(el('td', null, r.values.map(function (v) { return fmt(v); }).join(' ')));
      tr.appendChild(el('td', null, fmt(nines(r.likelihood), 1)));
      var st = r.open !== null ? 'anomaly since ' + fmtTs(r.open).slice(11) : r.warmup ? 'learning' : r.episodes > 0 ? r.episodes + ' episode' + (r.episodes === 1 ? '' : 's') : 'normal';
      tr.appendChild(el('td', { 'class': r.open !== null ? 'state-anomaly' : r.warmup ? 'state-warmup' : '' }, st));
      tr.appendChild(el('td', { title: r.lastError || '' }, String(r.errors)));
      tr.addEventListener('click', function () { choose(r.device); });
      body.appendChild(tr);
    });
    var old = document.querySelector('#devices tbody');
    old.parentNode.replaceChild(body, old);
    if (!state.device && !state.autoPicked && s.rows.length > 0) {
      state.autoPicked = true;
      choose(s.rows[0].device);
    }
  }

  function choose(device) {
    state.device = device;
    state.data = null;
    history.replaceState(null, '', '#' + encodeURIComponent(device));
    $('d-name').textContent = device;
    // The previous device's charts go at once: a stale chart under the new name would mislead.
    $('charts').replaceChildren();
    $('charts').removeAttribute('data-device');
    connect();
  }

  function append(u) {
    var d = state.data;
    if (!d || d.device !== u.device) return;
    var p = d.points, n = u.points;
    ['ts', 'score', 'likelihood', 'anomaly', 'warmup'].forEach(function (k) { p[k] = p[k].concat(n[k]); });
    ['value', 'expected', 'band'].forEach(function (k) { p[k] = p[k].map(function (col, t) { return col.concat(n[k][t]); }); });
    var extra = p.ts.length - state.points;
    if (extra > 0) {
      ['ts', 'score', 'likelihood', 'anomaly', 'warmup'].forEach(function (k) { p[k] = p[k].slice(extra); });
      ['value', 'expected', 'band'].forEach(function (k) { p[k] = p[k].map(function (col) { return col.slice(extra); }); });
    }
    p.to = n.to;
    d.episodes = u.episodes;
    d.forecast = u.forecast;
    d.errors = u.errors;
    d.lastError = u.lastError;
  }

  function drawDevice() {
    var d = state.data;
    var box = $('charts');
    if (!d) return;
    $('d-name').textContent = d.device;
    var p = d.points;
    $('d-note').textContent = p.ts.length + ' readings shown (' + fmtTs(p.ts[0]) + ' to ' + fmtTs(p.ts[p.ts.length - 1]) + ')' + (d.errors ? '; ' + d.errors + ' rejected, last ' + d.lastError : '');
    var frag = document.createDocumentFragment();
    var step = spacing(p.ts);
    var T = d.targets.length;
    d.targets.forEach(function (name, t) {
      var fc = [];
      for (var h = 0; h * T + t < d.forecast.length; h++) fc.push({ x: p.ts[p.ts.length - 1] + (h + 1) * step, y: d.forecast[h * T + t] });
      frag.appendChild(chart(name, p, d.episodes, {
        value: p.value[t], expected: p.expected[t], band: p.band[t], forecast: fc, anomaly: p.anomaly
      }, 220));
    });
    frag.appendChild(chart('likelihood, in nines: -log10(1 - likelihood)', p, d.episodes, { y: p.likelihood.map(nines), cls: 'lik' }, 110));
    frag.appendChild(chart('score (normalized forecast error)', p, d.episodes, { y: p.score, cls: 'score' }, 110));
    box.replaceChildren(frag);
    box.setAttribute('data-device', d.device);
    var body = document.createElement('tbody');
    d.episodes.slice().reverse().forEach(function (e) {
      var tr = el('tr', { 'class': e.end === null ? 'state-anomaly' : '' });
      tr.appendChild(el('td', null, fmtTs(e.start)));
      tr.appendChild(el('td', null, e.end === null ? 'open' : fmtTs(e.end)));
      tr.appendChild(el('td', null, fmtDur((e.end === null ? p.ts[p.ts.length - 1] : e.end) - e.start)));
      tr.appendChild(el('td', null, fmt(nines(e.peak), 1)));
      tr.appendChild(el('td', null, e.features.join(', ')));
      body.appendChild(tr);
    });
    var old = document.querySelector('#episodes tbody');
    old.parentNode.replaceChild(body, old);
  }

  function spacing(ts) {
    if (ts.length < 2) return 1000;
    var ds = [];
    for (var i = Math.max(1, ts.length - 20); i < ts.length; i++) ds.push(ts[i] - ts[i - 1]);
    ds.sort(function (a, b) { return a - b; });
    return ds[ds.length >> 1] || 1000;
  }

  function chart(title, p, episodes, s, H) {
    var W = 900, L = 52, R = 10, Tp = 8, B = 20;
    var wrap = el('div', { 'class': 'chart' });
    wrap.appendChild(el('div', { 'class': 'title' }, title));
    var svg = sv('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img', 'aria-label': title });
    wrap.appendChild(svg);
    var xs = p.ts.slice();
    if (s.forecast) s.forecast.forEach(function (f) { xs.push(f.x); });
    if (xs.length === 0) return wrap;
    var x0 = xs[0], x1 = Math.max(xs[xs.length - 1], x0 + 1);
    var lo = Infinity, hi = -Infinity;
    function see(v) { if (v !== null && isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; } }
    if (s.value) {
      s.value.forEach(see); s.expected.forEach(see); s.forecast.forEach(function (f) { see(f.y); });
      s.band.forEach(function (b, i) { if (b !== null && s.expected[i] !== null) { see(s.expected[i] - b); see(s.expected[i] + b); } });
    } else {
      // The learning period's first scores (no normal yet) would flatten the rest: the range skips them when it can.
      s.y.forEach(function (v, i) { if (!p.warmup[i]) see(v); });
      if (lo === Infinity) s.y.forEach(see);
      see(0);
    }
    if (lo === Infinity) { lo = 0; hi = 1; }
    if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
    var pad = (hi - lo) * 0.05; lo -= pad; hi += pad;
    if (!s.value) lo = Math.max(lo, 0);
    var X = function (v) { return L + (v - x0) / (x1 - x0) * (W - L - R); };
    var Y = function (v) { return Tp + (hi - v) / (hi - lo) * (H - Tp - B); };
    for (var g = 0; g <= 4; g++) {
      var gv = lo + (hi - lo) * g / 4, gy = Y(gv);
      svg.appendChild(sv('line', { 'class': 'grid', x1: L, x2: W - R, y1: gy, y2: gy }));
      var tx = sv('text', { x: L - 4, y: gy + 3, 'text-anchor': 'end' }); tx.textContent = fmtNum(gv); svg.appendChild(tx);
    }
    var t0 = sv('text', { x: L, y: H - 5 }); t0.textContent = fmtTs(x0).slice(11); svg.appendChild(t0);
    var t1 = sv('text', { x: W - R, y: H - 5, 'text-anchor': 'end' }); t1.textContent = fmtTs(x1).slice(11); svg.appendChild(t1);
    episodes.forEach(function (e) {
      var a = Math.max(e.start, x0), b = e.end === null ? p.ts[p.ts.length - 1] : e.end;
      if (b < x0) return;
      var r = sv('rect', { 'class': 'episode', x: X(a), y: Tp, width: Math.max(X(b) - X(a), 3), height: H - Tp - B, 'data-start': e.start, 'data-end': e.end === null ? '' : e.end });
      var tt = sv('title', {}); tt.textContent = 'anomaly episode from ' + fmtTs(e.start) + (e.end === null ? ' (open)' : ' to ' + fmtTs(e.end)); r.appendChild(tt);
      svg.appendChild(r);
    });
    function line(ys, cls) {
      var d = '', pen = false;
      for (var i = 0; i < ys.length; i++) {
        var v = ys[i];
        if (v === null || !isFinite(v)) { pen = false; continue; }
        d += (pen ? 'L' : 'M') + X(p.ts[i]).toFixed(1) + ' ' + Y(v).toFixed(1);
        pen = true;
      }
      if (d) svg.appendChild(sv('path', { 'class': cls, d: d }));
    }
    if (s.value) {
      var up = [], down = [];
      var flush = function () {
        if (up.length > 1) svg.appendChild(sv('path', { 'class': 'band', d: 'M' + up.join('L') + 'L' + down.join('L') + 'Z' }));
        up = []; down = [];
      };
      for (var i = 0; i < p.ts.length; i++) {
        var b = s.band[i], e = s.expected[i];
        if (b === null || e === null) { flush(); continue; }
        up.push(X(p.ts[i]).toFixed(1) + ' ' + Y(e + b).toFixed(1));
        down.unshift(X(p.ts[i]).toFixed(1) + ' ' + Y(e - b).toFixed(1));
      }
      flush();
      line(s.expected, 'expected');
      line(s.value, 'value');
      if (s.forecast.length > 0 && p.ts.length > 0) {
        var last = s.value[s.value.length - 1];
        var fd = last === null ? '' : 'M' + X(p.ts[p.ts.length - 1]).toFixed(1) + ' ' + Y(last).toFixed(1);
        s.forecast.forEach(function (f, k) { fd += (fd ? 'L' : 'M') + X(f.x).toFixed(1) + ' ' + Y(f.y).toFixed(1); });
        svg.appendChild(sv('path', { 'class': 'forecast', d: fd }));
      }
      for (var k = 0; k < p.ts.length; k++) {
        if (s.anomaly[k] && s.value[k] !== null) svg.appendChild(sv('circle', { 'class': 'anomalous', cx: X(p.ts[k]).toFixed(1), cy: Y(s.value[k]).toFixed(1), r: 2.6 }));
      }
    } else line(s.y.map(function (v) { return v === null ? null : Math.min(Math.max(v, lo), hi); }), s.cls);
    return wrap;
  }

  function fmtNum(v) {
    var a = Math.abs(v);
    return a >= 1e4 || (a > 0 && a < 1e-2) ? v.toExponential(1) : v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
  }

  var timer = null;
  $('filter').addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { state.filter = $('filter').value.trim(); connect(); }, 250);
  });
  if (state.device) $('d-name').textContent = state.device;
  connect();
})();
`;
