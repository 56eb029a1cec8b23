// Staffing and clinic operations, for managers: staff on shift against
// the patients on each ward, bookings and no-shows by channel,
// communication volume by channel, and patient satisfaction by month —
// the gold tables gold_staffing, gold_bookings_daily,
// gold_communications_daily and gold_survey_monthly over the KPI API,
// added up over the chosen range as docs/dashboards.md says.
'use strict';

(function () {
  const { $, api, el, session, row, fillTable } = window.carelake;
  const enc = encodeURIComponent;
  const DAY = 86400000;
  const pct = (v) => (v === null ? '–' : (100 * v).toFixed(1) + ' %');
  const num = (v, d) => (v === null ? '–' : v.toFixed(d));

  // sums of rows by key(row), each of the fields
  function sums(rows, key, fields) {
    const by = new Map();
    for (const r of rows) {
      const k = key(r);
      let s = by.get(k);
      if (!s)
        by.set(k, s = Object.fromEntries(fields.map((f) => [f, 0])));
      for (const f of fields)
        s[f] += r[f] ?? 0;
      s.n = (s.n || 0) + 1;
    }
    return [...by.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  function staffing(rows) {
    const ward = $('ward').value;
    const wards = [...new Set(rows.map((r) => r.ward))].sort();
    const sel = $('ward');
    sel.replaceChildren(el('option', null, 'All wards'), ...wards.map((w) => el('option', null, w)));
    sel.options[0].value = 'all';
    sel.value = wards.includes(ward) ? ward : 'all';
    const mine = rows.filter((r) => sel.value === 'all' || r.ward === sel.value)
      .map((r) => Object.assign({ short: r.required !== null && r.staffed < r.required ? 1 : 0 }, r));
    const by = sums(mine, (r) => r.ward + '\u0000' + r.role,
                    ['staffed', 'required', 'staffed_hours', 'required_hours', 'patients', 'short']);
    fillTable('staffing', by.map(([k, s]) => {
      const [w, role] = k.split('\u0000');
      const coverage = s.required ? s.staffed / s.required : null;
      const perStaff = s.staffed ? s.patients / s.staffed : null;
      return row([w, role, s.n, s.short, pct(coverage), num(s.staffed_hours, 0),
                  num(s.required_hours, 0), num(perStaff, 2)],
                 { ward: w, role, shifts: String(s.n), coverage: String(coverage ?? ''),
                   perStaff: String(perStaff ?? '') });
    }), 'Nothing in this range.');
  }

  function bookings(rows) {
    const by = sums(rows, (r) => r.channel, ['bookings', 'attended', 'no_shows', 'cancelled']);
    fillTable('bookings', by.map(([ch, s]) => {
      const rate = s.attended + s.no_shows ? s.no_shows / (s.attended + s.no_shows) : null;
      return row([ch, s.bookings, s.attended, s.no_shows, s.cancelled, pct(rate)],
                 { channel: ch, bookings: String(s.bookings), noShowRate: String(rate ?? '') });
    }), 'Nothing in this range.');
  }

  function communications(rows) {
    const by = sums(rows, (r) => r.channel, ['messages', 'total_duration_s']);
    const dir = (ch, d) => rows.filter((r) => r.channel === ch && r.direction === d)
      .reduce((n, r) => n + r.messages, 0);
    fillTable('communications', by.map(([ch, s]) =>
      row([ch, dir(ch, 'inbound'), dir(ch, 'outbound'), s.messages, num(s.total_duration_s / 3600, 1)],
          { channel: ch, messages: String(s.messages) })), 'Nothing in this range.');
  }

  function surveys(rows) {
    fillTable('surveys', rows.slice().reverse().map((r) =>
      row([r.month, r.question, r.responses, num(r.mean_score, 2), pct(r.satisfied_share)],
          { month: r.month, question: r.question })), 'Nothing in this range.');
  }

  async function show() {
    const from = $('from').value, to = $('to').value;
    if (!from || !to || from > to) {
      $('error').textContent = 'Choose a range whose start is on or before its end.';
      return;
    }
    $('error').textContent = '';
    const t0 = performance.now();
    const range = 'from=' + enc(from) + '&to=' + enc(to) + '&limit=100000';
    // months that the range touches
    const months = 'from=' + enc(from.slice(0, 7)) + '&to=' + enc(to.slice(0, 7));
    const [st, bk, cm, sv] = await Promise.all([
      api('/api/v1/kpis/staffing?' + range), api('/api/v1/kpis/bookings_daily?' + range),
      api('/api/v1/kpis/communications_daily?' + range), api('/api/v1/kpis/survey_monthly?' + months),
    ]);
    staffing(st.rows);
    bookings(bk.rows);
    communications(cm.rows);
    surveys(sv.rows);
    const s = $('status');
    s.textContent = 'From ' + from + ' to ' + to + ', read in ' + Math.round(performance.now() - t0) + ' ms' +
      ([st, bk, cm, sv].some((x) => x.truncated) ? ' (more rows than shown: narrow the range)' : '') + '.';
    s.dataset.ready = String(Date.now());
  }

  function showError(e) {
    $('error').textContent = 'The KPIs could not be read: ' + e.message;
  }

  async function start() {
    if (!await session())
      return;
    const q = new URLSearchParams(location.search);
    $('to').value = q.get('to') || new Date().toISOString().slice(0, 10);
    $('from').value = q.get('from') || new Date(Date.now() - 29 * DAY).toISOString().slice(0, 10);
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
