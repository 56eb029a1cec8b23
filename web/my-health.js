// My health: a patient's own record in plain language — the latest
// readings of their devices with the range of the last week, test
// results against their usual range, appointments to come and past,
// hospital stays, and a download of the whole record as one FHIR file.
// It reads the APIs third parties use (REST for the vitals, FHIR for the
// rest) with the patient's session: the server holds the token to the
// patient it names, so nothing here can ask for anyone else.
'use strict';

(function () {
  const { $, api, el, session } = window.carelake;
  const FHIR = { headers: { Accept: 'application/fhir+json' } };
  const enc = encodeURIComponent;
  const DAY = 86400000;

  // the vitals a person reads: [type(s), name, unit in words, decimals]
  const VITALS = [
    [['heart_rate'], 'Heart rate', 'beats a minute', 0],
    [['spo2'], 'Oxygen level (SpO2)', '%', 0],
    [['respiratory_rate'], 'Breathing rate', 'breaths a minute', 0],
    [['systolic_bp', 'diastolic_bp'], 'Blood pressure', 'mmHg', 0],
    [['temperature'], 'Temperature', '°C', 1],
  ];

  function ago(ts) {
    const ms = Date.now() - Date.parse(ts);
    if (Number.isNaN(ms))
      return '';
    const min = Math.round(ms / 60000);
    if (min < 1)
      return 'just now';
    if (min < 60)
      return min + (min === 1 ? ' minute ago' : ' minutes ago');
    const h = Math.round(min / 60);
    if (h < 24)
      return h + (h === 1 ? ' hour ago' : ' hours ago');
    return 'on ' + day(ts);
  }

  function day(ts) {
    return new Date(ts).toLocaleDateString(undefined, { day: 'numeric', month: 'long', year: 'numeric' });
  }

  function dayTime(ts) {
    return new Date(ts).toLocaleString(undefined, { weekday: 'short', day: 'numeric', month: 'long',
      year: 'numeric', hour: '2-digit', minute: '2-digit' });
  }

  function fixed(v, d) {
    return typeof v === 'number' ? v.toFixed(d) : '–';
  }

  function concept(c) {
    if (!c)
      return '';
    const coding = (c.coding || [])[0] || {};
    return c.text || coding.display || coding.code || '';
  }

  function item(main, ...details) {
    const li = el('li');
    li.append(el('span', 'what', main));
    for (const d of details.filter((x) => x))
      li.append(el('span', 'detail', d));
    return li;
  }

  function fill(id, items, none) {
    $(id).replaceChildren(...(items.length ? items : [el('li', 'hint', none)]));
  }

  // the latest value of each vital (from the board's list, which holds the
  // token's own patient only) and the 7 days' hourly low and high
  async function readings(id) {
    const since = new Date(Date.now() - 30 * DAY).toISOString();
    const fromMs = Date.now() - 7 * DAY, from = new Date(fromMs).toISOString();
    $('readings').dataset.from = String(fromMs);
    const [list, week] = await Promise.all([
      api('/api/v1/patients?since=' + enc(since)),
      api('/api/v1/patients/' + enc(id) + '/vitals?resolution=1h&fields=min,max&limit=100000' +
          '&from=' + enc(from)),
    ]);
    const me = (list.patients || []).find((p) => p.patient_id === id) || {};
    const latest = me.vitals || {};
    const low = {}, high = {};
    for (const r of week.vitals || []) {
      if (typeof r.min === 'number')
        low[r.type] = Math.min(low[r.type] ?? Infinity, r.min);
      if (typeof r.max === 'number')
        high[r.type] = Math.max(high[r.type] ?? -Infinity, r.max);
    }
    const items = [];
    for (const [types, name, unit, d] of VITALS) {
      const now = types.map((t) => latest[t]);
      if (!now[0] || typeof now[0].value !== 'number')
        continue;
      const value = now.map((v) => fixed(v && v.value, d)).join('/');
      const range = types.every((t) => t in low && t in high)
        ? 'Last 7 days: ' + types.map((t) => fixed(low[t], d)).join('/') + ' to ' +
          types.map((t) => fixed(high[t], d)).join('/') + ' ' + unit
        : '';
      const li = item(name + ': ' + value + ' ' + unit, 'Measured ' + ago(now[0].ts), range);
      li.dataset.vital = types[0];
      li.dataset.value = value;
      items.push(li);
    }
    fill('readings', items, 'No readings from your devices in the last 30 days.');
  }

  // where a result sits against the range the laboratory gave with it
  function against(r) {
    const q = r.valueQuantity;
    const range = (r.referenceRange || [])[0];
    if (!q || typeof q.value !== 'number' || !range)
      return concept((r.interpretation || [])[0]);
    const lo = range.low && range.low.value, hi = range.high && range.high.value;
    const usual = 'usual range ' + (lo ?? '') + (lo !== undefined && hi !== undefined ? '–' : '') +
      (hi ?? '') + ' ' + ((range.high || range.low || {}).unit || q.unit || '');
    if (hi !== undefined && q.value > hi)
      return 'Higher than the ' + usual.trim();
    if (lo !== undefined && q.value < lo)
      return 'Lower than the ' + usual.trim();
    return 'Within the ' + usual.trim();
  }

  async function results(id) {
    const b = await api('/fhir/Observation?patient=' + enc(id) +
                        '&category=laboratory&_sort=-date&_count=50', FHIR);
    fill('results', (b.entry || []).map((e) => {
      const r = e.resource || {};
      const q = r.valueQuantity;
      const value = q ? q.value + ' ' + (q.unit || q.code || '') : concept(r.valueCodeableConcept) ||
        (r.valueString ?? '');
      const at = r.effectiveDateTime || (r.effectivePeriod || {}).start || r.issued;
      return item((concept(r.code) || 'Test') + ': ' + value, against(r), at ? 'Taken on ' + day(at) : '');
    }), 'No test results yet.');
  }

  const APPT_STATUS = { proposed: 'Proposed', pending: 'Waiting to be confirmed', booked: 'Booked',
    arrived: 'You arrived', fulfilled: 'Attended', cancelled: 'Cancelled', noshow: 'Missed',
    'entered-in-error': 'Entered in error', 'checked-in': 'Checked in', waitlist: 'On the waiting list' };

  async function appointments(id) {
    const b = await api('/fhir/Appointment?actor=' + enc('Patient/' + id) + '&_sort=date&_count=100', FHIR);
    const now = Date.now(), upcoming = [], past = [];
    for (const e of b.entry || []) {
      const r = e.resource || {};
      const what = r.description || concept((r.serviceType || [])[0]) ||
        concept(r.appointmentType) || 'Appointment';
      const li = item((r.start ? dayTime(r.start) + ': ' : '') + what,
                      APPT_STATUS[r.status] || r.status || '');
      (r.start && Date.parse(r.start) >= now ? upcoming : past).push(li);
    }
    fill('upcoming', upcoming, 'No appointments coming up.');
    fill('past', past.reverse(), 'No earlier appointments.');
  }

  const STAY = { IMP: 'Hospital stay', ACUTE: 'Hospital stay', NONAC: 'Hospital stay',
    EMER: 'Emergency department visit', AMB: 'Clinic visit', VR: 'Video or phone visit',
    HH: 'Home visit', OBSENC: 'Observation stay' };

  async function stays(id) {
    const b = await api('/fhir/Encounter?patient=' + enc(id) + '&_sort=-date&_count=50', FHIR);
    fill('stays', (b.entry || []).map((e) => {
      const r = e.resource || {};
      const kind = STAY[(r.class || {}).code] || concept((r.type || [])[0]) || 'Visit';
      const p = r.period || {};
      const when = p.start ? (p.end ? day(p.start) + ' to ' + day(p.end)
        : 'since ' + day(p.start) + (r.status === 'in-progress' ? ', ongoing' : '')) : '';
      const where = ((r.location || [])[0] || {}).location;
      const reason = concept((r.reasonCode || [])[0]);
      return item(kind + (when ? ', ' + when : ''), where && where.display ? 'At ' + where.display : '',
                  reason ? 'Because of ' + reason : '');
    }), 'No hospital stays or visits recorded.');
  }

  // $everything, page by page, as one collection Bundle
  async function download(id) {
    const button = $('download');
    button.disabled = true;
    $('download-status').textContent = 'Collecting your record…';
    try {
      const entry = [];
      let next = '/fhir/Patient/' + enc(id) + '/$everything?_count=1000';
      while (next) {
        const b = await api(next, FHIR);
        for (const e of b.entry || [])
          if (e.resource)
            entry.push({ fullUrl: e.fullUrl, resource: e.resource });
        const link = (b.link || []).find((l) => l.relation === 'next');
        next = null;
        if (link) {
          const u = new URL(link.url, location.href);
          next = u.pathname + u.search;   // this server's, whatever host it named
        }
      }
      const bundle = { resourceType: 'Bundle', type: 'collection', timestamp: new Date().toISOString(),
                       entry };
      const blob = new Blob([JSON.stringify(bundle, null, 1)], { type: 'application/fhir+json' });
      const a = el('a');
      a.href = URL.createObjectURL(blob);
      a.download = 'my-health-record-' + new Date().toISOString().slice(0, 10) + '.json';
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
      $('download-status').textContent = 'Downloaded ' + entry.length + ' entries.';
    } catch (e) {
      $('download-status').textContent = 'Your record could not be downloaded: ' + e.message;
    } finally {
      button.disabled = false;
    }
  }

  async function start() {
    const s = await session();
    if (!s)
      return;
    if (!s.patient)
      throw new Error('this page shows a patient their own record, and your access names no patient');
    const id = s.patient;
    const b = await api('/fhir/Patient?_id=' + enc(id) + '&_count=1', FHIR);
    const r = ((b.entry || [])[0] || {}).resource || {};
    const n = (r.name || [])[0];
    const name = n ? (n.text || [...(n.given || []), n.family || ''].join(' ').trim()) : '';
    $('hello').textContent = 'Hello' + (name ? ', ' + name : '') + '. This is what your care team ' +
      'has recorded about you.';
    $('content').hidden = false;
    $('download').addEventListener('click', () => download(id));
    const parts = [['readings', readings], ['results', results], ['upcoming', appointments],
                   ['stays', stays]];
    await Promise.all(parts.map(([list, load]) => load(id).catch((e) => {
      $(list).replaceChildren(el('li', 'error', 'Could not be read: ' + e.message));
    })));
    $('content').dataset.ready = '1';
  }

  document.addEventListener('DOMContentLoaded', () => {
    start().catch((e) => {
      $('error').textContent = 'Your record could not be shown: ' + e.message;
    });
  });
})();
