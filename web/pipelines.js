// Data and pipelines, for engineers: each bronze log's records, ingest
// rate and the stream's and refiner's lag, the bytes on disk, the
// pipelines with their last run and dead letters, the latest runs with
// outcome and duration, the quarantine by source, table and reason with
// the rejected records as they came, and the Delta tables behind
// carelake.db — GET /api/v1/status (what `carelake status --json` prints)
// every 5 s, and GET /api/v1/quarantine.
'use strict';

(function () {
  const { $, api, el, session, row, fillTable } = window.carelake;
  const enc = encodeURIComponent;
  let last = null;            // the previous status read, for rates
  let filter = {};            // the quarantine group chosen

  const int = (v) => (v ?? 0).toLocaleString();
  const time = (us) => (us ? new Date(us / 1000).toLocaleString() : '–');

  function bytes(n) {
    const u = ['bytes', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < u.length - 1) {
      n /= 1000;
      i++;
    }
    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
  }

  function duration(a, b) {
    if (!a || !b)
      return '–';
    const ms = (b - a) / 1000;
    return ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(1) + ' s';
  }

  function card(dl, key, label, text, hint, value) {
    const div = el('div', 'kpi');
    const dd = el('dd', null, text);
    dd.dataset.kpi = key;
    if (value !== undefined)
      dd.dataset.value = String(value);
    div.append(el('dt', null, label), dd);
    if (hint)
      div.append(el('dd', 'hint', hint));
    dl.append(div);
  }

  function render(s) {
    const now = Date.parse(s.at);
    const logs = $('logs');
    logs.replaceChildren();
    for (const [log, v] of Object.entries(s.lag)) {
      const before = last && last.lag[log];
      const secs = last ? (now - Date.parse(last.at)) / 1000 : 0;
      const rate = before && secs > 0 ? (v.records - before.records) / secs : null;
      card(logs, log + '-records', log + ' records', int(v.records),
           rate === null ? 'rate after the next read' : rate.toFixed(1) + ' a second', v.records);
      card(logs, log + '-stream-lag', log + ': stream behind', int(v.stream_lag), 'records', v.stream_lag);
      card(logs, log + '-refine-lag', log + ': refiner behind', int(v.refine_lag), 'records', v.refine_lag);
    }
    const disk = $('disk');
    disk.replaceChildren();
    for (const [k, label] of [['bronze', 'Bronze'], ['silver', 'Silver (Delta)'], ['gold', 'Gold (Delta)'],
                              ['store', 'carelake.db']])
      card(disk, k, label, bytes(s.disk[k]), null, s.disk[k]);

    fillTable('pipelines', s.pipelines.map((p) => row([p.name, p.trigger, p.path, p.source,
      p.last_run ? p.last_run.state + ' · ' + time(p.last_run.start_us) +
        (p.last_run.error ? ' · ' + p.last_run.error : '') : 'never', int(p.dead_letters)],
      { pipeline: p.name, deadLetters: String(p.dead_letters) })),
    'No pipelines declared (pipelines.<name>.path in config).');

    const empty = (r) => r.state === 'Succeeded' && !r.files && !r.records;
    // the runs this read covers, newest first
    $('runs').dataset.range = s.runs.length ? s.runs[s.runs.length - 1].id + '-' + s.runs[0].id : '';
    fillTable('runs', s.runs.filter((r) => $('empty-runs').checked || !empty(r)).map((r) => row(['#' + r.id, r.pipeline, r.state, time(r.start_us),
      duration(r.start_us, r.end_us), int(r.files), int(r.records), int(r.accepted),
      int(r.duplicates), int(r.quarantined), r.error || ''],
    { run: String(r.id), state: r.state })), 'No runs yet.');

    const lake = $('lake');
    lake.replaceChildren(...(s.lake.length ? s.lake.map((t) =>
      el('li', null, t.table_name + ': ' + t.partitions + ' partition' + (t.partitions === 1 ? '' : 's'))) :
      [el('li', 'hint', 'None: every Delta table is up to date.')]));
    $('updated').textContent = 'Updated ' + new Date(now).toLocaleTimeString();
    $('updated').className = 'live on';
    last = s;
  }

  async function quarantine() {
    const q = Object.entries(filter).map(([k, v]) => k + '=' + enc(v)).join('&');
    const b = await api('/api/v1/quarantine?limit=20' + (q ? '&' + q : ''));
    fillTable('reasons', b.by_reason.map((g) => {
      const pick = el('button', 'link', g.source);
      pick.type = 'button';
      pick.addEventListener('click', () => {
        filter = { source: g.source, table: g.table_name };
        quarantine().catch(showError);
      });
      return row([pick, g.table_name, g.reason, int(g.records), time(g.last_us)],
                 { source: g.source, table: g.table_name, records: String(g.records) });
    }), 'Nothing in quarantine.');
    $('records-h').textContent = 'Latest quarantined records' +
      (filter.source ? ' of ' + filter.source + ' (' + filter.table + ')' : '');
    $('records').replaceChildren(...(b.records.length ? b.records.map((r) => {
      const li = el('li');
      li.dataset.id = String(r.id);
      li.append(el('span', 'what', r.table_name + ' from ' + r.source + ', run #' + r.run_id +
                   ', record ' + r.record + ', ' + time(r.at_us)));
      li.append(el('span', 'detail', r.reason));
      li.append(el('pre', 'raw', r.raw ?? ''));
      return li;
    }) : [el('li', 'hint', 'No records.')]));
    $('records').dataset.count = String(b.records.length);
  }

  async function refresh() {
    render(await api('/api/v1/status?runs=50'));
    document.body.dataset.reads = String(Number(document.body.dataset.reads || 0) + 1);
  }

  function showError(e) {
    $('error').textContent = 'The status could not be read: ' + e.message;
    $('updated').textContent = 'Not updated';
    $('updated').className = 'live';
  }

  async function start() {
    if (!await session())
      return;
    await Promise.all([refresh(), quarantine()]);
    setInterval(() => refresh().then(() => { $('error').textContent = ''; }, showError), 5000);
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('empty-runs').addEventListener('change', () => { if (last) render(last); });
    start().catch(showError);
  });
})();
