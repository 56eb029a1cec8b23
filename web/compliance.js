// Compliance: the audit trail's integrity (GET /api/v1/audit/verify, the
// check `carelake audit verify` makes), the break-glass reads to review
// (GET /api/v1/access-alerts, acknowledged with POST .../ack), accesses
// per user over a period (GET /api/v1/audit/accesses), and the trail
// searched by user, patient, kind and outcome (GET /fhir/AuditEvent).
'use strict';

(function () {
  const { $, HDR, api, el, session, row, fillTable } = window.carelake;
  const enc = encodeURIComponent;
  const DAY = 86400000;
  const FHIR = { headers: { Accept: 'application/fhir+json' } };
  const OUTCOME = { 0: 'success', 4: 'refused or failed', 8: 'server failure' };

  async function chain() {
    $('chain').textContent = 'Checking the chain…';
    const v = await api('/api/v1/audit/verify');
    const p = $('chain');
    p.dataset.ok = String(v.ok);
    p.dataset.records = String(v.records);
    p.className = 'lead ' + (v.ok ? 'ok' : 'bad');
    p.textContent = v.ok
      ? `Intact: ${v.records.toLocaleString()} records, each chained to the one before, ` +
        `${v.checkpoints.toLocaleString()} signed checkpoints; ${v.uncovered} since the last checkpoint ` +
        `(checked ${new Date(v.at).toLocaleTimeString()}).`
      : `Broken at ${v.problem.file} line ${v.problem.line} (record ${v.problem.seq}): ${v.problem.what}`;
  }

  async function glass() {
    const b = await api('/api/v1/access-alerts?open=true&limit=200');
    const ul = $('glass');
    ul.replaceChildren(...(b.access_alerts.length ? b.access_alerts.map((a) => {
      const li = el('li', 'alert sev-warning');
      li.dataset.id = String(a.id);
      li.append(el('span', 'sev', 'break-glass'),
                el('span', 'msg', `${a.principal} (${a.role}) read patient ${a.patient_id}: “${a.reason}”`),
                el('span', 'acked', new Date(a.time).toLocaleString()));
      const b2 = el('button', null, 'Acknowledge');
      b2.type = 'button';
      b2.addEventListener('click', async () => {
        b2.disabled = true;
        try {
          await api('/api/v1/access-alerts/' + a.id + '/ack', { method: 'POST', headers: HDR });
          await glass();
        } catch (e) {
          showError(e);
          b2.disabled = false;
        }
      });
      li.append(b2);
      return li;
    }) : [el('li', 'hint', 'Nothing to review.')]));
    ul.dataset.count = String(b.access_alerts.length);
  }

  async function users() {
    const since = $('since').value, until = $('until').value;
    const b = await api('/api/v1/audit/accesses?since=' + enc(since + 'T00:00:00Z') +
                        '&until=' + enc(until + 'T23:59:59.999Z'));
    fillTable('users', b.principals.map((p) => {
      const look = el('button', 'link', 'search');
      look.type = 'button';
      look.setAttribute('aria-label', 'Search the trail for ' + p.principal);
      look.addEventListener('click', () => {
        $('agent').value = p.principal;
        $('patient').value = '';
        trail().catch(showError);
      });
      return row([p.principal, p.role, p.requests, p.patients, p.break_glass, p.refused,
                  new Date(p.last).toLocaleString(), look],
                 { principal: p.principal, requests: String(p.requests), patients: String(p.patients),
                   breakGlass: String(p.break_glass), refused: String(p.refused) });
    }), 'No one used carelake in this period.');
    $('users').dataset.ready = String(Date.now());
  }

  async function trail() {
    const q = [['agent', $('agent').value.trim()], ['patient', $('patient').value.trim()],
               ['subtype', $('subtype').value], ['outcome', $('outcome').value]]
      .filter(([, v]) => v).map(([k, v]) => k + '=' + enc(v));
    const b = await api('/fhir/AuditEvent?_count=200' + (q.length ? '&' + q.join('&') : ''), FHIR);
    const events = (b.entry || []).map((e) => e.resource);   // newest first
    fillTable('trail', events.map((ev) => {
      const user = (ev.agent || []).find((a) => a.requestor) || {};
      const patients = (ev.entity || []).map((x) => (x.what || {}).reference || '')
        .filter((ref) => ref.startsWith('Patient/')).map((ref) => ref.slice(8));
      const objects = (ev.entity || []).filter((x) => (x.what || {}).reference &&
        !x.what.reference.startsWith('Patient/')).map((x) => x.what.reference);
      const query = (ev.entity || []).find((x) => x.query);
      const what = ((ev.subtype || [])[0] || {}).code + ' ' +
        (objects.join(', ') || (query && query.description) || '');
      const reason = ((user.purposeOfUse || [])[0] || {}).text || '';
      return row([ev.id, new Date(ev.recorded).toLocaleString(), (user.who || {}).display,
                  ((user.role || [])[0] || {}).text, what.trim(), patients.join(', '),
                  OUTCOME[ev.outcome] || ev.outcome, reason],
                 { seq: ev.id, outcome: ev.outcome, user: (user.who || {}).display || '' });
    }), 'No record matches.');
    $('found').textContent = b.total + ' record' + (b.total === 1 ? '' : 's') +
      (b.total > events.length ? ' (the latest ' + events.length + ' shown: narrow the search)' : '') + '.';
    $('trail').dataset.total = String(b.total);
    $('trail').dataset.ready = String(Date.now());
  }

  function showError(e) {
    $('error').textContent = 'Could not be read: ' + e.message;
  }

  async function start() {
    if (!await session())
      return;
    $('until').value = new Date().toISOString().slice(0, 10);
    $('since').value = new Date(Date.now() - 6 * DAY).toISOString().slice(0, 10);
    await Promise.all([chain(), glass(), users(), trail()]);
    document.body.dataset.ready = '1';
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('recheck').addEventListener('click', () => chain().catch(showError));
    $('period').addEventListener('submit', (ev) => {
      ev.preventDefault();
      users().catch(showError);
    });
    $('search').addEventListener('submit', (ev) => {
      ev.preventDefault();
      trail().catch(showError);
    });
    start().catch(showError);
  });
})();
