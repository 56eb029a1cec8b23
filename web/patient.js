// The patient page: one patient's vitals history (heart rate, SpO2,
// respiratory rate, blood pressure, temperature) and NEWS2 over a chosen
// range, with the alerts on the time axis; zoom by dragging, pan by
// shifting the range; the resolution follows the span (raw readings for
// short spans, 1-minute rollups up to a week, 1-hour beyond), so a year
// costs what an hour does. Below, the patient's encounters, conditions,
// medications, procedures and recent observations from the FHIR API, and
// "Export CSV" of the vitals shown; and the readmission model's risk for
// the patient's latest scored stay, with the features that moved it. It
// reads only the APIs third parties use: /api/v1/patients/{id}/vitals,
// /api/v1/patients/{id}/news2, /api/v1/patients/{id}/risk,
// /api/v1/alerts and /fhir/...; every value goes in as text.
'use strict';

(function () {
  const { $, api, el, session } = window.carelake;
  const FHIR = { headers: { Accept: 'application/fhir+json' } };
  const HOUR = 3600, DAY = 86400;
  // the charts: their vitals (API type names), labels, colours, digits
  const CHARTS = [
    { id: 'hr', title: 'Heart rate (/min)', series: [['heart_rate', 'HR', '#ff7b72']], digits: 0 },
    { id: 'spo2', title: 'SpO2 (%)', series: [['spo2', 'SpO2', '#58a6ff']], digits: 0 },
    { id: 'rr', title: 'Respiratory rate (/min)', series: [['respiratory_rate', 'RR', '#3fb950']], digits: 0 },
    { id: 'bp', title: 'Blood pressure (mmHg)', series: [['systolic_bp', 'Systolic', '#f0b43c'],
      ['diastolic_bp', 'Diastolic', '#d2a8ff']], digits: 0 },
    { id: 'temp', title: 'Temperature (°C)', series: [['temperature', 'Temp', '#ffa657']], digits: 1 },
  ];
  const CSV_COLUMNS = ['heart_rate', 'spo2', 'respiratory_rate', 'systolic_bp', 'diastolic_bp',
    'temperature'];
  const patientId = new URLSearchParams(location.search).get('id') || '';
  const state = { span: HOUR, to: 0, from: 0, zoomed: false, shown: null, alerts: [], plots: [] };


  const enc = encodeURIComponent;
  const iso = (s) => new Date(s * 1000).toISOString();

  // the resolutions a span is read at: [vitals, NEWS2, bucket seconds]
  function resolution(span) {
    if (span <= 2 * HOUR)
      return ['raw', '1m', 0];
    if (span <= 8 * DAY)
      return ['1m', '1m', 60];
    return ['1h', span <= 90 * DAY ? '1h' : '1d', HOUR];
  }

  // rows of the vitals API -> per vital, [times], [values] (means of rollups)
  function columns(rows, raw) {
    const by = new Map();
    for (const row of rows) {
      const t = Date.parse(raw ? row.ts : row.start) / 1000;
      const v = raw ? row.value : row.mean;
      if (typeof v !== 'number' || Number.isNaN(t))
        continue;
      let c = by.get(row.type);
      if (!c)
        by.set(row.type, c = new Map());
      c.set(t, v);
    }
    return by;
  }

  // uPlot's aligned data for one chart: shared times, a null where a
  // series has no value, and a null across a gap of more than 2 buckets
  function aligned(by, keys, bucket) {
    const times = new Set();
    for (const k of keys)
      for (const t of (by.get(k) || new Map()).keys())
        times.add(t);
    const xs = [...times].sort((a, b) => a - b);
    const out = [[]];
    keys.forEach(() => out.push([]));
    let prev = null;
    for (const t of xs) {
      if (bucket && prev !== null && t - prev > 2 * bucket) {
        out[0].push(prev + bucket);
        keys.forEach((k, i) => out[i + 1].push(null));
      }
      out[0].push(t);
      keys.forEach((k, i) => {
        const v = (by.get(k) || new Map()).get(t);
        out[i + 1].push(v === undefined ? null : v);
      });
      prev = t;
    }
    return out;
  }

  // a uPlot plugin: the alerts as dashed vertical lines on the time axis
  function alertLines() {
    return {
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx, { top, height } = u.bbox;
          ctx.save();
          ctx.setLineDash([4, 4]);
          ctx.lineWidth = Math.max(1, devicePixelRatio);
          for (const a of state.alerts) {
            const x = Math.round(u.valToPos(a.t, 'x', true));
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width)
              continue;
            ctx.strokeStyle = a.severity === 'emergency' || a.severity === 'critical' ? '#ff7b72'
              : a.severity === 'urgent' ? '#f0b43c' : '#d2a8ff';
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
          }
          ctx.restore();
        }],
      },
    };
  }

  function plotOptions(title, series, width, digits) {
    return {
      title, width, height: 180,
      plugins: [alertLines()],
      scales: { x: { time: true } },
      cursor: { sync: { key: 'patient' }, drag: { x: true, y: false, setScale: false } },
      axes: [{ stroke: '#a5b0bc', grid: { stroke: '#30363d' } },
             { stroke: '#a5b0bc', grid: { stroke: '#30363d' } }],
      series: [{ value: (u, v) => v == null ? '–' : new Date(v * 1000).toLocaleString() }]
        .concat(series.map(([, label, colour]) => ({
          label, stroke: colour, width: 1.5, spanGaps: false,
          value: (u, v) => v == null ? '–' : v.toFixed(digits),
        }))),
      hooks: { setSelect: [(u) => {
        if (u.select.width < 5)
          return;
        const a = u.posToVal(u.select.left, 'x'), b = u.posToVal(u.select.left + u.select.width, 'x');
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        zoom(a, b);
      }] },
    };
  }

  function chartBox(id, title) {
    const box = el('figure', 'chart');
    box.id = 'chart-' + id;
    box.setAttribute('aria-label', title);
    return box;
  }

  function draw(by, news2, res) {
    const host = $('charts');
    for (const p of state.plots)
      p.destroy();
    state.plots = [];
    host.replaceChildren();
    const width = Math.max(320, Math.floor((host.clientWidth || 900) /
      Math.max(1, Math.floor((host.clientWidth || 900) / 450))) - 24);
    const shown = { times: new Map() };
    let points = 0;
    for (const c of CHARTS) {
      const keys = c.series.map((s) => s[0]);
      const data = aligned(by, keys, res[2]);
      for (let i = 0; i < data[0].length; i++) {
        let row = shown.times.get(data[0][i]);
        keys.forEach((k, j) => {
          if (data[j + 1][i] === null)
            return;
          if (!row)
            shown.times.set(data[0][i], row = {});
          row[k] = Number(data[j + 1][i].toFixed(c.digits));
          points++;
        });
      }
      const box = chartBox(c.id, c.title);
      box.dataset.points = String(data.slice(1).reduce((n, s) => n + s.filter((v) => v !== null).length, 0));
      host.append(box);
      state.plots.push(new window.uPlot(plotOptions(c.title, c.series, width, c.digits), data, box));
    }
    const nb = { times: [], scores: [] };
    for (const row of news2) {
      nb.times.push(Date.parse(row.start) / 1000);
      nb.scores.push(row.score);
    }
    const box = chartBox('news2', 'NEWS2 (worst of each ' + res[1] + ')');
    box.dataset.points = String(nb.times.length);
    host.append(box);
    state.plots.push(new window.uPlot(plotOptions('NEWS2 (worst of each ' + res[1] + ')',
      [['news2', 'NEWS2', '#e6edf3']], width, 0), [nb.times, nb.scores], box));
    for (const p of state.plots)
      p.setScale('x', { min: state.from, max: state.to });
    shown.res = res[0];
    state.shown = shown;
    return points;
  }

  function renderAlerts() {
    const list = $('alerts');
    const items = state.alerts.map((a) => {
      const li = el('li', 'alert sev-' + a.severity);
      li.append(el('span', 'sev', a.severity), el('span', 'msg', a.message));
      const t = el('time', 'acked', new Date(a.t * 1000).toLocaleString());
      t.dateTime = iso(a.t);
      li.append(t);
      return li;
    });
    list.replaceChildren(...(items.length ? items : [el('li', 'hint', 'No alerts in this range.')]));
  }

  // reads and draws the range [state.from, state.to]
  async function load() {
    const span = state.to - state.from;
    const res = resolution(span);
    const base = '/api/v1/patients/' + enc(patientId);
    const range = 'from=' + enc(iso(state.from)) + '&to=' + enc(iso(state.to));
    $('status').textContent = 'Loading…';
    delete $('status').dataset.points;   // set again once drawn
    for (const b of document.querySelectorAll('.range'))
      b.setAttribute('aria-pressed', String(!state.zoomed && Number(b.dataset.span) === state.span));
    const t0 = performance.now();
    const [v, n, al] = await Promise.all([
      api(base + '/vitals?resolution=' + res[0] + '&fields=mean&limit=100000&' + range),
      api(base + '/news2?resolution=' + res[1] + '&limit=100000&' + range),
      api('/api/v1/alerts?patient=' + enc(patientId) + '&limit=1000&since=' + enc(iso(state.from))),
    ]);
    const t1 = performance.now();
    state.alerts = al.alerts.map((a) => ({ t: Date.parse(a.opened || a.time) / 1000,
      severity: a.severity, message: a.message }))
      .filter((a) => a.t >= state.from && a.t <= state.to);
    const by = columns(v.vitals, res[0] === 'raw');
    const points = draw(by, n.news2, res);
    renderAlerts();
    await new Promise((resolve) => requestAnimationFrame(() => resolve()));
    const t2 = performance.now();
    const st = $('status');
    st.textContent = new Date(state.from * 1000).toLocaleString() + ' – ' +
      new Date(state.to * 1000).toLocaleString() + ': ' + points + ' values at ' +
      (res[0] === 'raw' ? 'raw resolution' : res[0] + ' rollups') +
      (v.vitals.length >= 100000 ? ' (the first 100,000 rows only: zoom in for the rest)' : '') +
      ', loaded in ' + Math.round(t1 - t0) + ' ms, drawn in ' + Math.round(t2 - t1) + ' ms';
    st.dataset.points = String(points);
    st.dataset.resolution = res[0];
    st.dataset.loadMs = String(Math.round(t1 - t0));
    st.dataset.drawMs = String(Math.round(t2 - t1));
  }

  function setRange(span) {
    state.span = span;
    state.zoomed = false;
    state.to = Math.ceil(Date.now() / 1000);
    state.from = state.to - span;
    return load();
  }

  function zoom(a, b) {
    if (!(b > a))
      return;
    state.from = Math.floor(a);
    state.to = Math.ceil(b);
    state.zoomed = true;
    load().catch(showError);
  }

  function pan(dir) {
    const shift = Math.round((state.to - state.from) / 2) * dir;
    state.from += shift;
    state.to += shift;
    load().catch(showError);
  }

  // the vitals shown, as a CSV file made in the browser
  function exportCsv() {
    if (!state.shown)
      return;
    const lines = ['time,' + CSV_COLUMNS.join(',')];
    const times = [...state.shown.times.keys()].sort((a, b) => a - b);
    for (const t of times) {
      if (t < state.from || t > state.to)
        continue;
      const row = state.shown.times.get(t);
      lines.push(iso(t) + ',' + CSV_COLUMNS.map((k) => row[k] === undefined ? '' : row[k]).join(','));
    }
    const blob = new Blob([lines.join('\n') + '\n'], { type: 'text/csv' });
    const a = el('a');
    a.href = URL.createObjectURL(blob);
    a.download = patientId.replace(/[^A-Za-z0-9._-]/g, '_') + '-vitals-' + state.shown.res + '-' +
      iso(state.from).slice(0, 16).replace(/:/g, '') + '.csv';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  // a CodeableConcept as text
  function concept(c) {
    if (!c)
      return '';
    const coding = (c.coding || [])[0] || {};
    return c.text || coding.display || coding.code || '';
  }

  function when(...dates) {
    const d = dates.find((x) => x);
    return d ? new Date(d).toLocaleString() : '';
  }

  // the FHIR lists: [element, type, sort, line(resource) -> [text, status, when]]
  const LISTS = [
    ['encounters', 'Encounter', '-date', (r) => [
      concept((r.type || [])[0]) || (r.class && (r.class.display || r.class.code)) || 'Encounter',
      r.status, when((r.period || {}).start) +
        ((r.location || [])[0] ? ' · ' + (((r.location[0] || {}).location || {}).display || '') : '')]],
    ['conditions', 'Condition', '-onset-date', (r) => [concept(r.code) || 'Condition',
      concept(r.clinicalStatus), when(r.onsetDateTime, r.recordedDate)]],
    ['medications', 'MedicationRequest', '-authoredon', (r) => [
      concept(r.medicationCodeableConcept) || 'Medication', r.status, when(r.authoredOn)]],
    ['procedures', 'Procedure', '-date', (r) => [concept(r.code) || 'Procedure', r.status,
      when(r.performedDateTime, (r.performedPeriod || {}).start)]],
    ['observations', 'Observation', '-date', (r) => [concept(r.code) || 'Observation',
      r.valueQuantity ? r.valueQuantity.value + ' ' + (r.valueQuantity.unit || '') :
        (r.component || []).map((c) => c.valueQuantity ? c.valueQuantity.value : '').join('/') ||
        concept(r.valueCodeableConcept), when(r.effectiveDateTime, (r.effectivePeriod || {}).start)]],
  ];

  async function loadList([id, type, sort, line]) {
    const ul = $(id);
    try {
      const b = await api('/fhir/' + type + '?patient=' + enc(patientId) + '&_sort=' + sort +
                          '&_count=20', FHIR);
      const items = (b.entry || []).map((e) => {
        const [text, status, at] = line(e.resource || {});
        const li = el('li');
        li.append(el('span', 'what', String(text)));
        if (status)
          li.append(el('span', 'status', String(status)));
        if (at)
          li.append(el('span', 'when', at));
        return li;
      });
      ul.replaceChildren(...(items.length ? items : [el('li', 'hint', 'None recorded.')]));
    } catch (e) {
      ul.replaceChildren(el('li', 'error', 'Could not be read: ' + e.message));
    }
  }

  function showError(e) {
    $('error').textContent = e.status === 403 || e.status === 404
      ? 'This patient\'s record cannot be shown to you: ' + e.message
      : 'The patient page could not be loaded: ' + e.message;
  }

  // The readmission model's features (docs/ml.md): a label in words, the
  // value's unit, and how the value reads: 'yes' (1/0), 'sex' (1: female),
  // 'int', 'trend' (a signed change over the last 24 hours) or a number.
  const FEATURES = {
    age_years: ['Age', 'years', 'age'],
    sex_female: ['Sex', '', 'sex'],
    los_days: ['Length of stay', 'days', 1],
    emergency: ['Emergency admission', '', 'yes'],
    icu: ['Stay in intensive care', '', 'yes'],
    oncology: ['Oncology stay or malignancy', '', 'yes'],
    encounters: ['Ward encounters in the stay', '', 'int'],
    charlson: ['Charlson comorbidity index', '', 'int'],
    ed_visits_6m: ['Emergency visits in the prior 6 months', '', 'int'],
    ed_visits_12m: ['Emergency visits in the prior 12 months', '', 'int'],
    admissions_6m: ['Admissions in the prior 6 months', '', 'int'],
    admissions_12m: ['Admissions in the prior 12 months', '', 'int'],
    medications: ['Medications ordered in the stay', '', 'int'],
    procedures: ['Procedures in the stay', '', 'int'],
    abnormal_vitals: ['Abnormal vital-sign readings in the stay', '', 'int'],
    heart_rate: ['Last heart rate', '/min', 0],
    respiratory_rate: ['Last respiratory rate', '/min', 0],
    spo2: ['Last SpO2', '%', 0],
    systolic_bp: ['Last systolic blood pressure', 'mmHg', 0],
    temperature: ['Last temperature', '°C', 1],
    heart_rate_trend: ['Change in heart rate over the last 24 h', '/min', 'trend'],
    respiratory_rate_trend: ['Change in respiratory rate over the last 24 h', '/min', 'trend'],
    spo2_trend: ['Change in SpO2 over the last 24 h', '%', 'trend'],
    systolic_bp_trend: ['Change in systolic blood pressure over the last 24 h', 'mmHg', 'trend'],
    temperature_trend: ['Change in temperature over the last 24 h', '°C', 'trend'],
    news2: ['Last NEWS2', '', 'int'],
    hemoglobin: ['Last haemoglobin', 'g/dL', 1],
    sodium: ['Last sodium', 'mmol/L', 0],
    lace: ['LACE index', '', 'int'],
    hospital_score: ['HOSPITAL score', '', 'int'],
  };
  const BANDS = { low: 'Low risk', medium: 'Medium risk', high: 'High risk' };
  const MODELS = { xgboost: 'gradient-boosted trees', logistic: 'logistic regression' };

  // a feature's value in words
  function featureValue(name, v) {
    if (v === null || v === undefined)
      return 'not recorded';
    const [, unit, how] = FEATURES[name] || ['', '', 2];
    const num = (x, d) => Number(x.toFixed(d)).toLocaleString();
    if (how === 'yes')
      return v ? 'yes' : 'no';
    if (how === 'sex')
      return v ? 'female' : 'male';
    if (how === 'age')
      return Math.floor(v) + ' ' + unit;
    if (how === 'int')
      return num(v, 0) + (unit ? ' ' + unit : '');
    if (how === 'trend') {
      const d = name === 'temperature_trend' ? 1 : 0;
      return (v > 0 ? '+' : v < 0 ? '−' : '±') + num(Math.abs(v), d) + ' ' + unit;
    }
    return num(v, how) + (unit === '%' ? ' %' : unit ? ' ' + unit : '');
  }

  // a probability as a percentage: one decimal below 10 %
  function percent(p) {
    const x = 100 * p;
    return (x < 10 ? x.toFixed(1) : x.toFixed(0)) + ' %';
  }

  const day = (ts) => new Date(ts).toLocaleDateString(undefined,
    { year: 'numeric', month: 'short', day: 'numeric' });

  // the risk panel for the latest scored stay (the API gives the newest first)
  function renderRisk(stays) {
    const body = $('risk-body'), panel = $('risk');
    const s = stays[0];
    panel.hidden = false;
    if (!s) {
      panel.dataset.state = 'none';
      body.replaceChildren(el('p', 'hint', 'No readmission risk score: this patient has no stay ' +
        'in hospital or discharged in the last 30 days, or no model is in use.'));
      return;
    }
    panel.dataset.state = 'scored';
    panel.dataset.stay = s.stay_id;
    panel.dataset.risk = String(s.risk);
    panel.dataset.band = s.band;
    const head = el('p', 'risk-head');
    const band = el('span', 'risk-band band-' + s.band, BANDS[s.band] || s.band);
    band.id = 'risk-band';
    head.append(band, ' ', el('span', 'risk-pct', percent(s.risk)),
      ' chance of an unplanned readmission within 30 days of discharge');
    const where = s.ward ? (s.status === 'inpatient' ? ' on ' : ' from ') + s.ward : '';
    const stay = el('p', 'risk-stay', s.status === 'inpatient'
      ? 'In hospital' + where + ' since ' + day(s.admit_ts) + ': scored on the stay so far.'
      : 'Discharged' + where + ' on ' + day(s.discharge_ts) + ' (admitted ' + day(s.admit_ts) + ').');
    stay.dataset.status = s.status;
    const scores = el('dl', 'risk-scores');
    for (const [label, v, max] of [['LACE index', s.lace, 19], ['HOSPITAL score', s.hospital_score, 13]]) {
      const div = el('div');
      div.append(el('dt', null, label), el('dd', null, v === null ? '–' : v + ' of ' + max));
      scores.append(div);
    }
    const factors = el('ul', 'risk-factors');
    factors.id = 'risk-factors';
    for (const f of s.factors || []) {
      const li = el('li');
      li.dataset.feature = f.feature;
      const up = f.contribution > 0;
      const effect = el('span', 'effect ' + (up ? 'up' : 'down'));
      const arrow = el('span', null, up ? '▲ ' : '▼ ');
      arrow.setAttribute('aria-hidden', 'true');   // the words say it
      effect.append(arrow, (up ? 'raises' : 'lowers') + ' the risk');
      li.dataset.contribution = String(f.contribution);
      li.append(el('span', 'what', (FEATURES[f.feature] || [f.feature])[0]),
        el('span', 'value', featureValue(f.feature, f.value)), effect);
      factors.append(li);
    }
    const parts = [head, stay, scores];
    if (factors.children.length)
      parts.push(el('h3', null, 'What moved this estimate most'), factors);
    parts.push(el('p', 'hint', 'Model v' + s.model_version + ' (' + (MODELS[s.model] || s.model) +
      '), scored ' + new Date(s.scored_ts).toLocaleString() + '. Low, medium and high rank this ' +
      'hospital\'s stays (the lower half, the next 30 %, the top 20 %); they are not clinical ' +
      'thresholds.' + (stays.length > 1 ? ' ' + (stays.length - 1) + ' earlier stay' +
      (stays.length > 2 ? 's are' : ' is') + ' also scored.' : '')),
    el('p', 'risk-note', 'A statistical estimate from this hospital\'s past stays, to support ' +
      'clinical judgement, not to replace it. The factors are associations, not causes.'));
    body.replaceChildren(...parts);
  }

  // the risk, if this role may read it: a refusal hides the panel, any
  // other failure says so inside it; the rest of the page is untouched
  async function loadRisk() {
    try {
      const r = await api('/api/v1/patients/' + enc(patientId) + '/risk');
      renderRisk(r.stays || []);
    } catch (e) {
      if (e.status === 403) {
        $('risk').hidden = true;
        return;
      }
      $('risk').hidden = false;
      $('risk-body').replaceChildren(el('p', 'error', 'The readmission risk could not be read: ' +
                                        e.message));
    }
  }

  async function start() {
    if (!await session())
      return;
    if (!patientId)
      throw new Error('no patient chosen: open a patient from the ICU board');
    state.span = HOUR;
    state.to = Math.ceil(Date.now() / 1000);
    state.from = state.to - HOUR;
    // the vitals first: a refusal (another ward's patient) hides the page
    // again before anything of the patient's is in it
    $('content').hidden = false;
    try {
      await load();
    } catch (e) {
      $('content').hidden = true;
      throw e;
    }
    const b = await api('/fhir/Patient?_id=' + enc(patientId) + '&_count=1', FHIR);
    const r = ((b.entry || [])[0] || {}).resource || {};
    const n = (r.name || [])[0];
    const name = n ? (n.text || [...(n.given || []), n.family || ''].join(' ').trim()) : '';
    $('title').textContent = (name || patientId);
    document.title = 'carelake: ' + (name || patientId);
    $('demographics').textContent = [patientId, r.gender, r.birthDate ? 'born ' + r.birthDate : '']
      .filter((x) => x).join(' · ');
    await Promise.all([loadRisk(), ...LISTS.map(loadList)]);
  }

  document.addEventListener('DOMContentLoaded', () => {
    for (const b of document.querySelectorAll('.range'))
      b.addEventListener('click', () => setRange(Number(b.dataset.span)).catch(showError));
    $('earlier').addEventListener('click', () => pan(-1));
    $('later').addEventListener('click', () => pan(1));
    $('reset').addEventListener('click', () => setRange(state.span).catch(showError));
    $('export').addEventListener('click', exportCsv);
    start().catch(showError);
  });
})();
