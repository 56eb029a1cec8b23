// The Hospital page, for managers: admissions, discharges, occupied beds,
// length of stay, 30-day readmissions and alerts, for a date range, over
// the hospital and by ward, by day, and the patients on a ward now. Every
// number is the gold tables' own (GET /api/v1/kpis/admissions_daily and
// alerts_daily), added up over the range the way docs/dashboards.md says;
// the patients come from GET /api/v1/wards/{ward}/census. Beside them, the
// readmission model's risk over the ward's stays in hospital now and
// discharged in the last 30 days, by band, with the readmissions expected
// (GET /api/v1/wards/{ward}/readmission-risk: counts, no patient named).
'use strict';

(function () {
  const { $, api, el, session, row, fillTable } = window.carelake;
  const enc = encodeURIComponent;
  const DAY = 86400000;

  const fmt = {
    int: (v) => (v ?? 0).toLocaleString(),
    days: (v) => (v === null || v === undefined ? '–' : v.toFixed(1)),
    rate: (v) => (v === null || v === undefined ? '–' : (100 * v).toFixed(1) + ' %'),
  };

  // the range's totals of admissions_daily rows of one ward (days from..to)
  // and its alerts: occupancy is the census at the end of the range, the
  // last row on or before `to` (a row is written whenever it changes)
  function totals(rows, alerts, from, to) {
    let adm = 0, dis = 0, losSum = 0, losN = 0, readm = 0, occupied = 0;
    for (const r of rows) {
      if (r.day <= to)
        occupied = r.occupied;
      if (r.day < from || r.day > to)
        continue;
      adm += r.admissions;
      dis += r.discharges;
      readm += r.readmissions_30d;
      if (r.mean_los_days !== null && r.discharges > 0) {
        losSum += r.mean_los_days * r.discharges;
        losN += r.discharges;
      }
    }
    return { admissions: adm, discharges: dis, occupied, readmissions: readm,
             los: losN ? losSum / losN : null, readmission_rate: dis ? readm / dis : null,
             alerts: alerts };
  }

  function kpi(dl, key, label, value, text, hint) {
    const div = el('div', 'kpi');
    const dd = el('dd', null, text);
    dd.dataset.kpi = key;
    dd.dataset.value = value === null ? '' : String(value);
    div.append(el('dt', null, label), dd);
    if (hint)
      div.append(el('dd', 'hint', hint));
    dl.append(div);
  }

  const state = { rows: [], alerts: [] };

  function wards() {
    const set = new Set(state.rows.map((r) => r.ward).filter((w) => w !== 'all'));
    for (const a of state.alerts)
      set.add(a.ward);
    return [...set].sort();
  }

  function alertsOf(ward, day) {
    let n = 0;
    for (const a of state.alerts)
      if ((ward === 'all' || a.ward === ward) && (!day || a.day === day))
        n += a.alerts;
    return n;
  }

  function render() {
    const from = $('from').value, to = $('to').value, ward = $('ward').value;
    const of = (w) => state.rows.filter((r) => r.ward === w);
    const days = Math.round((Date.parse(to) - Date.parse(from)) / DAY) + 1;

    // the ward list, keeping the choice
    const sel = $('ward');
    const names = wards();
    sel.replaceChildren(el('option', null, 'All wards'), ...names.map((w) => el('option', null, w)));
    sel.options[0].value = 'all';
    sel.value = names.includes(ward) ? ward : 'all';
    const chosen = sel.value;

    const t = totals(of(chosen), alertsOf(chosen), from, to);
    const dl = $('summary');
    dl.replaceChildren();
    dl.dataset.ward = chosen;
    kpi(dl, 'admissions', 'Admissions', t.admissions, fmt.int(t.admissions));
    kpi(dl, 'discharges', 'Discharges', t.discharges, fmt.int(t.discharges));
    kpi(dl, 'occupied', 'Occupied beds', t.occupied, fmt.int(t.occupied), 'at the end of ' + to);
    kpi(dl, 'los', 'Mean length of stay', t.los, fmt.days(t.los) + ' days',
        'of the stays that ended in the range');
    kpi(dl, 'readmission_rate', '30-day readmission rate', t.readmission_rate,
        fmt.rate(t.readmission_rate), t.readmissions + ' of ' + t.discharges + ' discharges');
    kpi(dl, 'alerts', 'Alerts', t.alerts, fmt.int(t.alerts),
        (t.alerts / days).toFixed(t.alerts < days ? 2 : 1) + ' a day over ' + days + ' days');

    const wb = $('wards').tBodies[0];
    wb.replaceChildren(...names.map((w) => {
      const x = totals(of(w), alertsOf(w), from, to);
      const b = el('button', 'link', w);
      b.type = 'button';
      b.addEventListener('click', () => {
        $('ward').value = w;
        show().catch(showError);
      });
      const tr = row([b, fmt.int(x.admissions), fmt.int(x.discharges), fmt.int(x.occupied),
                      fmt.days(x.los), fmt.rate(x.readmission_rate), fmt.int(x.alerts)]);
      tr.dataset.ward = w;
      if (w === chosen)
        tr.classList.add('chosen');
      return tr;
    }));
    if (!names.length)
      wb.append(row(['No wards in the data yet.', '', '', '', '', '', '']));

    const db = $('days').tBodies[0];
    const daily = of(chosen).filter((r) => r.day >= from && r.day <= to).reverse();
    db.replaceChildren(...daily.map((r) => {
      const tr = row([r.day, fmt.int(r.admissions), fmt.int(r.discharges), fmt.int(r.occupied),
                      fmt.days(r.mean_los_days), fmt.int(r.readmissions_30d),
                      fmt.int(alertsOf(chosen, r.day))]);
      tr.dataset.day = r.day;
      return tr;
    }));
    if (!daily.length)
      db.append(row(['No admissions, discharges or beds in this range.', '', '', '', '', '', '']));
    $('days-h').textContent = 'By day: ' + (chosen === 'all' ? 'all wards' : chosen);
  }

  async function census() {
    const ward = $('ward').value;
    $('census-h').textContent = 'Patients on ' + (ward === 'all' ? 'every ward' : ward) + ' now';
    const c = await api('/api/v1/wards/' + enc(ward) + '/census');
    const body = $('census').tBodies[0];
    body.replaceChildren(...c.patients.map((p) => {
      const tr = row([p.name || p.patient_id, p.ward, new Date(p.since).toLocaleString(),
                      p.days === null ? '–' : p.days.toFixed(1)]);
      tr.dataset.patient = p.patient_id;
      return tr;
    }));
    if (!c.patients.length)
      body.append(row(['No one is on this ward now.', '', '', '']));
    $('census').dataset.count = String(c.patients.length);
  }

  const STATUSES = [['inpatient', 'In hospital now'], ['discharged', 'Discharged in the last 30 days']];
  const BANDS = ['low', 'medium', 'high'];

  // the readmission model's counts for the chosen ward (every ward, and
  // their total, for "all"); the dates do not apply: the scores are of the
  // stays in hospital now and the last 30 days' discharges
  async function risk() {
    const ward = $('ward').value;
    const note = $('risk-note'), table = $('risk');
    let r;
    try {
      r = await api('/api/v1/wards/' + enc(ward) + '/readmission-risk');
    } catch (e) {
      note.textContent = 'The readmission risk could not be read: ' + e.message;
      fillTable('risk', [], 'Not available.');
      return;
    }
    const by = new Map();   // ward -> status -> {low, medium, high, stays, expected}
    const ensure = (w) => {
      if (!by.has(w))
        by.set(w, new Map(STATUSES.map(([st]) => [st, { low: 0, medium: 0, high: 0, stays: 0,
                                                        expected: 0 }])));
      return by.get(w);
    };
    const add = (w, g) => {
      const c = ensure(w).get(g.status);
      if (!c)
        return;
      c[g.band] = (c[g.band] || 0) + g.stays;
      c.stays += g.stays;
      c.expected += g.expected_readmissions || 0;
    };
    let version = 0, scored = '';
    for (const g of r.groups) {
      if (ward === 'all')
        add('all', g);
      add(g.ward, g);
      version = Math.max(version, g.model_version || 0);
      if (g.scored_ts > scored)
        scored = g.scored_ts;
    }
    if (ward !== 'all')
      ensure(ward);   // a ward chosen: its rows, if only noughts
    const label = (w) => w === 'all' ? 'All wards' : w === 'unassigned' ? 'No ward recorded' : w;
    const wards = [...by.keys()].sort((a, b) => (b === 'all') - (a === 'all') || a.localeCompare(b));
    const rows = [];
    for (const w of wards)
      for (const [st, text] of STATUSES) {
        const c = by.get(w).get(st);
        const expected = Number(c.expected.toFixed(2));
        rows.push(row([label(w), text, fmt.int(c.stays), ...BANDS.map((b) => fmt.int(c[b])),
                       c.expected.toFixed(c.expected < 1 ? 2 : 1)],
                      { ward: w, status: st, low: c.low, medium: c.medium, high: c.high,
                        stays: c.stays, expected }));
      }
    fillTable('risk', rows, 'No scores.');
    table.dataset.version = String(version);
    table.dataset.groups = String(r.groups.length);
    note.textContent = r.groups.length
      ? 'The readmission model v' + version + ', scored ' + new Date(scored).toLocaleString() +
        ': the risk of an unplanned readmission within 30 days of discharge for the stays in ' +
        'hospital now and those discharged in the last 30 days, whatever the dates above. ' +
        'Low, medium and high rank this hospital\'s stays (the lower half, the next 30 %, the ' +
        'top 20 %). Expected readmissions is the sum of their risks: how many of these patients ' +
        'the model expects back. Counts only; a patient\'s score is for the care team, on the ' +
        'patient\'s page.'
      : 'No readmission risk scores' + (ward === 'all' ? '' : ' on ' + ward) + ': no stay ' +
        (ward === 'all' ? '' : 'there ') + 'is in hospital or was discharged in the last 30 days, ' +
        'or no model is in use.';
  }

  async function show() {
    const from = $('from').value, to = $('to').value;
    if (!from || !to || from > to) {
      $('error').textContent = 'Choose a range whose start is on or before its end.';
      return;
    }
    $('error').textContent = '';
    const t0 = performance.now();
    // every day up to `to`: the census at the range's end may have been
    // written before it began
    const [adm, al] = await Promise.all([
      api('/api/v1/kpis/admissions_daily?to=' + enc(to) + '&limit=100000'),
      api('/api/v1/kpis/alerts_daily?from=' + enc(from) + '&to=' + enc(to) + '&limit=100000'),
    ]);
    state.rows = adm.rows;
    state.alerts = al.rows;
    render();
    await Promise.all([census(), risk()]);
    const st = $('status');
    st.textContent = 'From ' + from + ' to ' + to + ', read in ' + Math.round(performance.now() - t0) +
      ' ms' + (adm.truncated || al.truncated ? ' (more rows than shown: narrow the range)' : '') + '.';
    st.dataset.ready = String(Date.now());
  }

  function showError(e) {
    $('error').textContent = 'The KPIs could not be read: ' + e.message;
  }

  async function start() {
    if (!await session())
      return;
    const q = new URLSearchParams(location.search);
    const today = new Date().toISOString().slice(0, 10);
    $('to').value = q.get('to') || today;
    $('from').value = q.get('from') || new Date(Date.now() - 29 * DAY).toISOString().slice(0, 10);
    if (q.get('ward'))
      $('ward').append(Object.assign(el('option', null, q.get('ward')), { value: q.get('ward') }));
    $('ward').value = q.get('ward') || 'all';
    await show();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('filters').addEventListener('submit', (ev) => {
      ev.preventDefault();
      show().catch(showError);
    });
    $('ward').addEventListener('change', () => show().catch(showError));
    start().catch(showError);
  });
})();
