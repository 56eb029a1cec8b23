// The ICU board: one tile per patient — vitals, NEWS2 and its band, the
// age of the last reading, a 15-minute sparkline (uPlot), open alerts by
// priority with acknowledgement — sorted by severity, filtered by ward,
// live over the server-sent event stream. It reads only the APIs third
// parties use: /api/v1/patients, /api/v1/alerts, /api/v1/patients/{id}/vitals,
// /fhir/Patient (names) and /api/v1/stream. Every value goes into the page
// as text (textContent), never as markup.
'use strict';

(function () {
  const { $, HDR, api, el, session } = window.carelake;
  const SPARK_MS = 15 * 60 * 1000;   // the sparkline's span
  const SPARK_STEP = 10;              // seconds: one point, the readings' mean
  const SILENT_MS = 60 * 1000;       // a device this quiet is shown as silent
  const SEVERITY = { emergency: 4, critical: 3, urgent: 2, warning: 1, info: 0 };
  const VITALS = [
    ['heart_rate', 'HR', '/min'], ['spo2', 'SpO2', '%'], ['respiratory_rate', 'RR', '/min'],
    ['bp', 'BP', 'mmHg'], ['temperature', 'Temp', '°C'],
  ];
  const patients = new Map();   // id -> { data, name, alerts: Map, spark, el }
  let refreshTimer = null;


  function band(risk) {
    return 'band-' + (risk || 'none');
  }

  function fmt(v, digits) {
    return typeof v === 'number' ? v.toFixed(digits) : '–';
  }

  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60)
      return s + ' s ago';
    if (s < 3600)
      return Math.floor(s / 60) + ' min ago';
    return Math.floor(s / 3600) + ' h ago';
  }

  function normAlert(a) {
    return {
      id: a.id, severity: a.severity, message: a.message, rule: a.rule,
      category: a.category || 'clinical',
      opened: a.opened || a.time, acknowledged: a.acknowledged || null,
      acknowledged_by: a.acknowledged_by || null,
    };
  }

  // the worst open alert of a patient, for sorting
  function worst(p) {
    let w = -1;
    for (const a of p.alerts.values())
      if (a.category !== 'technical')   // the device's, not the patient's
        w = Math.max(w, SEVERITY[a.severity] ?? 0);
    return w;
  }

  function patient(id) {
    let p = patients.get(id);
    if (!p) {
      p = { id, data: { patient_id: id, vitals: {}, news2: null, ward: null }, name: null,
            alerts: new Map(), buckets: new Map(), dirty: false, spark: null, el: null };
      patients.set(id, p);
    }
    return p;
  }

  function vitalText(p, key) {
    const v = p.data.vitals || {};
    if (key === 'bp') {
      const s = v.systolic_bp, d = v.diastolic_bp;
      return s ? fmt(s.value, 0) + '/' + (d ? fmt(d.value, 0) : '–') : '–';
    }
    if (!v[key])
      return '–';
    return fmt(v[key].value, key === 'temperature' ? 1 : 0);
  }

  // builds (once) and fills the tile of p
  function render(p) {
    if (!p.el) {
      const li = el('li', 'tile');
      li.dataset.patient = p.id;
      const head = el('div', 'tile-head');
      const h = el('h2');
      const news = el('span', 'news2');
      const meta = el('span', 'meta');
      head.append(h, news, meta);
      const dl = el('dl', 'vitals');
      const dd = {};
      for (const [key, label, unit] of VITALS) {
        const box = el('div');
        const dt = el('dt', null, label);
        dt.title = unit;
        dd[key] = el('dd');
        box.append(dt, dd[key]);
        dl.append(box);
      }
      const age = el('p', 'age');
      const spark = el('div', 'spark');
      spark.setAttribute('aria-hidden', 'true');
      const alerts = el('ul', 'alerts');
      alerts.setAttribute('aria-label', 'Open alerts');
      li.append(head, dl, age, spark, alerts);
      p.el = { li, h, news, meta, dd, age, spark, alerts };
    }
    const e = p.el;
    const n2 = p.data.news2;
    // the name opens the patient page (the id is no secret; no token in a URL)
    const link = el('a', null, p.name || p.id);
    link.href = '/patient?id=' + encodeURIComponent(p.id);
    e.h.replaceChildren(link);
    e.meta.textContent = (p.name ? p.id + ' · ' : '') + (p.data.ward || 'ward not known');
    /* a score of fewer than the seven parameters is partial: said so */
    const partial = n2 && n2.parameters < 7;
    e.news.textContent = n2 ? 'NEWS2 ' + n2.score + (partial ? ' (partial)' : '') : 'NEWS2 –';
    e.news.className = 'news2 ' + band(n2 && n2.risk);
    e.news.title = n2 ? 'risk ' + n2.risk + (partial ? ', from ' + n2.parameters +
      ' of 7 parameters' : '') : 'no score yet';
    // (a new alert's cue stays through the updates that follow it)
    e.li.className = 'tile ' + band(n2 && n2.risk) +
      (e.li.classList.contains('flash') ? ' flash' : '');
    for (const [key] of VITALS)
      e.dd[key].textContent = vitalText(p, key);
    renderAge(p, Date.now());
    // the patient's alerts first, the device's (technical) after them
    const rank = (a) => a.category === 'technical' ? -1 : SEVERITY[a.severity] ?? 0;
    const list = [...p.alerts.values()].sort((a, b) => rank(b) - rank(a) || b.id - a.id);
    e.alerts.replaceChildren(...list.map((a) => alertItem(p, a)));
  }

  function alertItem(p, a) {
    const technical = a.category === 'technical';
    const li = el('li', 'alert sev-' + (technical ? 'technical' : a.severity));
    li.dataset.alertId = String(a.id);
    li.append(el('span', 'sev', technical ? 'device' : a.severity), el('span', 'msg', a.message));
    const t = el('time', 'acked', a.opened ? new Date(a.opened).toLocaleTimeString() : '');
    if (a.opened)
      t.dateTime = a.opened;
    li.append(t);
    if (a.acknowledged) {
      li.append(el('span', 'acked', 'acknowledged by ' + (a.acknowledged_by || '?') + ' at ' +
                   new Date(a.acknowledged).toLocaleTimeString()));
    } else {
      const b = el('button', null, 'Acknowledge');
      b.type = 'button';
      b.setAttribute('aria-label', 'Acknowledge ' + a.severity + ' alert: ' + a.message +
                     ' (' + (p.name || p.id) + ')');
      b.addEventListener('click', () => acknowledge(p, a, b));
      li.append(b);
    }
    return li;
  }

  function renderAge(p, now) {
    const last = p.data.last_reading ? Date.parse(p.data.last_reading) : NaN;
    const e = p.el;
    if (Number.isNaN(last)) {
      e.age.textContent = 'no reading yet';
      e.age.className = 'age silent';
      return;
    }
    const silent = now - last > SILENT_MS;
    e.age.textContent = (silent ? 'Silent: last reading ' : 'Last reading ') + ago(now - last);
    e.age.className = silent ? 'age silent' : 'age';
  }

  function visible(p) {
    const ward = $('ward').value;
    return !ward || p.data.ward === ward;
  }

  // sorts the tiles: the worst alert, then NEWS2, then id
  function order() {
    const list = [...patients.values()].filter((p) => p.el);
    list.sort((a, b) => worst(b) - worst(a) ||
      ((b.data.news2 && b.data.news2.score) ?? -1) - ((a.data.news2 && a.data.news2.score) ?? -1) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const beds = $('beds');
    list.forEach((p, i) => {
      p.el.li.hidden = !visible(p);
      if (beds.children[i] !== p.el.li)
        beds.insertBefore(p.el.li, beds.children[i] || null);
    });
    $('empty').hidden = list.some((p) => !p.el.li.hidden);
  }

  function wards() {
    const sel = $('ward');
    const have = new Set([...sel.options].map((o) => o.value));
    for (const p of patients.values()) {
      if (p.data.ward && !have.has(p.data.ward)) {
        const o = el('option', null, p.data.ward);
        o.value = p.data.ward;
        sel.append(o);
        have.add(p.data.ward);
      }
    }
  }

  async function loadNames(ids) {
    for (let i = 0; i < ids.length; i += 100) {
      const chunk = ids.slice(i, i + 100);
      const b = await api('/fhir/Patient?_id=' + chunk.map(encodeURIComponent).join(',') +
                          '&_count=100', { headers: { Accept: 'application/fhir+json' } });
      for (const entry of b.entry || []) {
        const r = entry.resource || {};
        const n = (r.name || [])[0];
        if (!n || !patients.has(r.id))
          continue;
        patients.get(r.id).name = n.text ||
          [...(n.given || []), n.family || ''].join(' ').trim() || null;
      }
    }
  }

  async function loadSpark(p) {
    const from = new Date(Date.now() - SPARK_MS).toISOString();
    const b = await api('/api/v1/patients/' + encodeURIComponent(p.id) +
                        '/vitals?resolution=1m&fields=mean&from=' + encodeURIComponent(from));
    for (const row of b.vitals || [])
      addPoint(p, row.type, Date.parse(row.start), row.mean);
  }

  // a reading into its SPARK_STEP bucket (readings arrive in any order:
  // a bucket keeps their sum and count)
  function addPoint(p, type, t, value) {
    const col = type === 'heart_rate' ? 1 : type === 'spo2' ? 2 : 0;
    if (!col || typeof value !== 'number' || Number.isNaN(t))
      return;
    const k = Math.floor(t / 1000 / SPARK_STEP) * SPARK_STEP;
    let b = p.buckets.get(k);
    if (!b)
      p.buckets.set(k, b = [0, 0, 0, 0]);   // HR sum, count, SpO2 sum, count
    b[(col - 1) * 2] += value;
    b[(col - 1) * 2 + 1]++;
    p.dirty = true;
  }

  // uPlot's columns of the last SPARK_MS: times in order, each bucket's means
  function sparkSeries(p) {
    const cut = (Date.now() - SPARK_MS) / 1000;
    for (const k of p.buckets.keys())
      if (k < cut)
        p.buckets.delete(k);
    const keys = [...p.buckets.keys()].sort((a, b) => a - b);
    const mean = (b, i) => (b[i + 1] ? b[i] / b[i + 1] : null);
    const out = [[], [], []];
    keys.forEach((k, i) => {
      // a silence of over a minute is a gap in the line, not a slope
      if (i && k - keys[i - 1] > 70)
        out.forEach((col, c) => col.push(c ? null : keys[i - 1] + SPARK_STEP));
      const b = p.buckets.get(k);
      out[0].push(k);
      out[1].push(mean(b, 0));
      out[2].push(mean(b, 2));
    });
    return out;
  }

  function drawSpark(p) {
    if (!p.el || !window.uPlot || !p.dirty || p.el.li.hidden)
      return;
    p.dirty = false;
    const width = Math.max(120, p.el.spark.clientWidth);
    if (!p.spark) {
      p.spark = new window.uPlot({
        width, height: 48, legend: { show: false }, cursor: { show: false },
        scales: { x: { time: true, range: () => [Date.now() / 1000 - SPARK_MS / 1000, Date.now() / 1000] },
                  y: { auto: true }, spo2: { auto: true } },
        axes: [{ show: false }, { show: false }],
        // HR and SpO2 readings in 10 s means, gaps where a minute was silent
        series: [{}, { stroke: '#ff7b72', width: 1.5, points: { show: false } },
                 { stroke: '#58a6ff', width: 1.5, scale: 'spo2', points: { show: false } }],
      }, sparkSeries(p), p.el.spark);
    } else {
      p.spark.setData(sparkSeries(p));
    }
  }

  async function loadBoard() {
    const [list, alerts] = await Promise.all([
      api('/api/v1/patients'), api('/api/v1/alerts?open=true&limit=2000')]);
    const seen = new Set();
    for (const row of list.patients) {
      const p = patient(row.patient_id);
      p.data = row;
      seen.add(p.id);
    }
    for (const p of patients.values())
      p.alerts.clear();
    for (const a of alerts.alerts)
      if (a.patient_id && patients.has(a.patient_id))
        patient(a.patient_id).alerts.set(a.id, normAlert(a));
    const unnamed = [...seen].filter((id) => !patients.get(id).name);
    if (unnamed.length)
      await loadNames(unnamed);
    const fresh = [];
    for (const p of patients.values()) {
      if (!p.el)
        fresh.push(p);
      render(p);
    }
    wards();
    order();
    await Promise.all(fresh.map((p) => loadSpark(p).catch(() => {})));
  }

  function refreshSoon() {
    if (!refreshTimer)
      refreshTimer = setTimeout(() => {
        refreshTimer = null;
        loadBoard().catch(showError);
      }, 5000);
  }

  function showError(e) {
    $('error').textContent = 'The board could not be updated: ' + e.message;
  }

  function onVital(ev) {
    const v = JSON.parse(ev.data);
    const p = patients.get(v.patient_id);
    if (!p) {
      refreshSoon();   // a new patient
      return;
    }
    const key = v.type;
    p.data.vitals = p.data.vitals || {};
    p.data.vitals[key] = { value: v.value, ts: v.ts };
    if (!p.data.last_reading || Date.parse(v.ts) > Date.parse(p.data.last_reading))
      p.data.last_reading = v.ts;
    addPoint(p, key, Date.parse(v.ts), v.value);
    const slot = key === 'systolic_bp' || key === 'diastolic_bp' ? 'bp' : key;
    if (p.el && p.el.dd[slot])
      p.el.dd[slot].textContent = vitalText(p, slot);
  }

  // a patient's NEWS2 changed: its score, band and place on the board
  function onNews2(ev) {
    const n = JSON.parse(ev.data);
    const p = patients.get(n.patient_id);
    if (!p || !p.el) {
      refreshSoon();   // a new patient
      return;
    }
    p.data.news2 = { score: n.score, risk: n.risk, ts: n.ts, parameters: n.parameters };
    render(p);
    order();
  }

  function onAlert(ev) {
    const a = JSON.parse(ev.data);
    if (!a.patient_id)
      return;   // a pipeline's alert: not a bed's
    if (!patients.has(a.patient_id) || !patients.get(a.patient_id).el) {
      patient(a.patient_id).alerts.set(a.id, normAlert(a));
      loadBoard().catch(showError);
      return;
    }
    const p = patients.get(a.patient_id);
    if (a.state === 'closed') {
      p.alerts.delete(a.id);
    } else {
      const was = p.alerts.get(a.id);
      p.alerts.set(a.id, Object.assign(normAlert(a), was ? {
        acknowledged: was.acknowledged, acknowledged_by: was.acknowledged_by } : {}));
      if (!was && a.category !== 'technical') {
        p.el.li.classList.remove('flash');
        void p.el.li.offsetWidth;   // restarts the animation
        beep(a.severity);
        $('announce').textContent = 'New ' + a.severity + ' alert for ' + (p.name || p.id) +
          ': ' + a.message;
      }
    }
    render(p);
    if (a.state !== 'closed')
      p.el.li.classList.add('flash');
    order();
  }

  // The optional audible cue: a tone for each new alert (two for an
  // emergency or a critical one), once the clinician has turned it on —
  // browsers let a page make sound only after such a gesture. The choice
  // is kept in this browser.
  let audio = null;

  function setSound(on) {
    const b = $('sound');
    b.setAttribute('aria-pressed', String(on));
    b.textContent = on ? 'Sound on' : 'Sound off';
    try {
      localStorage.setItem('carelake.sound', on ? '1' : '0');
    } catch (e) { /* storage off: the choice lasts this page */ }
    if (on && !audio && window.AudioContext)
      audio = new AudioContext();
  }

  function beep(severity) {
    if ($('sound').getAttribute('aria-pressed') !== 'true' || !audio)
      return;
    const times = severity === 'emergency' || severity === 'critical' ? 2 : 1;
    for (let i = 0; i < times; i++) {
      const o = audio.createOscillator(), g = audio.createGain();
      const t = audio.currentTime + i * 0.3;
      o.frequency.value = severity === 'warning' || severity === 'technical' ? 660 : 880;
      g.gain.setValueAtTime(0.2, t);
      g.gain.exponentialRampToValueAtTime(0.001, t + 0.25);
      o.connect(g).connect(audio.destination);
      o.start(t);
      o.stop(t + 0.25);
    }
    document.body.dataset.tones = String(Number(document.body.dataset.tones || 0) + times);
  }

  async function acknowledge(p, a, button) {
    button.disabled = true;
    try {
      const r = await api('/api/v1/alerts/' + a.id + '/ack', { method: 'POST', headers: HDR });
      p.alerts.set(a.id, normAlert(r));
    } catch (e) {
      if (e.status === 409)
        await loadBoard();
      else
        showError(e);
    }
    render(p);
  }

  // Opened before the board is first read, so that nothing that happens
  // while it is read is missed; after a break the board is read again.
  function stream() {
    const es = new EventSource('/api/v1/stream');
    let broken = false;
    es.addEventListener('open', () => {
      $('live').textContent = 'Live';
      $('live').className = 'live on';
      if (broken)
        loadBoard().catch(showError);
      broken = false;
    });
    es.addEventListener('error', () => {
      broken = true;
      $('live').textContent = 'Reconnecting';
      $('live').className = 'live';
    });
    es.addEventListener('vital', onVital);
    es.addEventListener('alert', onAlert);
    es.addEventListener('news2', onNews2);
  }

  async function start() {
    if (!await session())
      return;
    stream();
    await loadBoard();
    setInterval(() => {
      const now = Date.now();
      for (const p of patients.values()) {
        if (!p.el)
          continue;
        renderAge(p, now);
        drawSpark(p);
      }
    }, 1000);
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('sound').addEventListener('click', () =>
      setSound($('sound').getAttribute('aria-pressed') !== 'true'));
    try {
      if (localStorage.getItem('carelake.sound') === '1')
        setSound(true);   // heard once the page has had a click
    } catch (e) { /* storage off */ }
    document.addEventListener('click', () => {
      if (audio && audio.state === 'suspended')
        audio.resume();
    });
    $('ward').addEventListener('change', () => {
      order();
      for (const p of patients.values())
        p.dirty = true;
    });
    start().catch(showError);
  });
})();
