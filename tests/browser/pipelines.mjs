// The Data and pipelines page in a real browser (Debian's chromium,
// headless, through playwright-core, with axe-core). Run by
// runtime_web_browser after staffing.mjs, on the same serve and data (a
// generated hospital's loads, and a file with a record quarantined):
//   node pipelines.mjs BASE_URL ENGINEER_TOKEN MANAGER_TOKEN ADMIN_TOKEN SHOT_DIR CARELAKE DATA_DIR
// Signs in as an engineer (landing on /pipelines), and checks the bronze
// logs' records and lag, the bytes on disk and the latest runs against
// `carelake status --json`, the quarantine's groups and records against
// `carelake query`, the rejected record shown as text, an ingest rate
// once events arrive between two reads; that an engineer reads no
// clinical data and a manager has no such page; axe-core, no console
// error and no failed request. Exits 0 when every check held, else 1.
import { execFileSync } from 'node:child_process';
import { checkAxe, launch, report, signIn, watchedPage } from './lib.mjs';

const [base, engineer, manager, admin, shots, carelake, data] = process.argv.slice(2);
const { step, fail, done } = report('pipelines.mjs');

const cli = (...args) => execFileSync(carelake, [...args, '--data', data], { encoding: 'utf8' });
const query = (sql) => JSON.parse(cli('query', '--format', 'json', sql));

const browser = await launch();
try {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const page = await watchedPage(ctx, fail);

  step('signing in as an engineer');
  await signIn(page, base, engineer, '/pipelines');
  await page.locator('body[data-reads]').waitFor({ timeout: 20000 });
  await page.locator('#records[data-count]').waitFor({ timeout: 20000 });

  step('against carelake status and carelake query');
  const st = JSON.parse(cli('status', '--json'));
  const value = async (key) => Number(await page.locator(`dd[data-kpi="${key}"]`).getAttribute('data-value'));
  for (const [log, v] of Object.entries(st.lag))
    for (const [k, want] of [['records', v.records], ['stream-lag', v.stream_lag], ['refine-lag', v.refine_lag]])
      if (await value(log + '-' + k) !== want)
        fail(`${log} ${k}: the page shows ${await value(log + '-' + k)}, status has ${want}`);
  // bronze changes only as data arrives; the Delta tables as the lake
  // catches up, at any time
  if (await value('bronze') !== st.disk.bronze)
    fail(`bronze on disk: the page shows ${await value('bronze')}, status has ${st.disk.bronze}`);
  for (const k of ['silver', 'gold', 'store'])
    if (!(await value(k) > 0))
      fail(`${k} on disk shows ${await value(k)}`);
  // the runs of the page's last read, those that loaded something (the
  // others on demand)
  // (one look at the table: it is redrawn every 5 s)
  const shown = await page.evaluate(() => ({ range: document.querySelector('#runs').dataset.range,
    ids: [...document.querySelectorAll('#runs tr[data-run]')].map((tr) => Number(tr.dataset.run)) }));
  const [lo, hi] = shown.range.split('-').map(Number);
  // (a run still going when the page read it may have finished empty
  // since: shown then, filtered out now; so compare as sets)
  const inRange = query(`SELECT id, state, files, records FROM pipeline_run WHERE id BETWEEN ${lo} ` +
    `AND ${hi}`);
  const known = new Set(inRange.map((r) => r.id));
  for (const id of shown.ids)
    if (!known.has(id))
      fail(`run ${id} shown, not in pipeline_run ${lo}-${hi}`);
  for (const r of inRange)
    if (!(r.state === 'Succeeded' && r.files === 0 && r.records === 0) && !shown.ids.includes(r.id))
      fail(`run ${r.id} (${r.state}, ${r.files} files) not shown`);
  if (shown.ids.length === 0 || shown.ids.some((id, i) => i > 0 && id >= shown.ids[i - 1]))
    fail('the runs are not newest first');
  await page.check('#empty-runs');
  if (await page.locator('#runs tr[data-run]').count() < shown.ids.length)
    fail('showing the empty runs shows fewer');
  await page.uncheck('#empty-runs');
  const groups = query('SELECT source, table_name, count(*) AS n FROM quarantine GROUP BY source, table_name, reason');
  if (!groups.length)
    fail('the test data has nothing in quarantine');
  if (await page.locator('#reasons tr[data-source]').count() !== groups.length)
    fail(`${await page.locator('#reasons tr[data-source]').count()} quarantine groups, gold has ${groups.length}`);
  const total = query('SELECT count(*) AS n FROM quarantine')[0].n;
  if (Number(await page.locator('#records').getAttribute('data-count')) !== Math.min(20, total))
    fail(`${await page.locator('#records').getAttribute('data-count')} records shown of ${total}`);

  step('a quarantine group, its records as they came');
  await page.click('#reasons tr[data-table="observation"] button');
  await page.locator('#records-h', { hasText: '(observation)' }).waitFor({ timeout: 10000 });
  const raw = await page.locator('#records li pre.raw').first().textContent();
  if (!raw.includes('"id":"q-bad"') || !raw.includes('<script>'))
    fail('the rejected record is not shown as it came: ' + raw.slice(0, 200));
  if (await page.locator('#records script').count() !== 0)
    fail('markup from a rejected record became an element');

  step('an ingest rate once events arrive');
  const reads = Number(await page.locator('body').getAttribute('data-reads'));
  const now = Date.now();
  const events = Array.from({ length: 50 }, (_, i) => ({ id: 'pl-' + i, device_id: 'pl-mon', patient_id: 'pl-p',
    ts: new Date(now - 1000 + i).toISOString(), type: 'heart_rate', unit: '/min', value: 70 + (i % 10) }));
  const pr = await fetch(base + '/api/v1/events', { method: 'POST', body: JSON.stringify(events),
    headers: { Authorization: 'Bearer ' + admin, 'Content-Type': 'application/json' } });
  if (pr.status !== 200)
    fail('posting events: HTTP ' + pr.status);
  await page.waitForFunction((n) => Number(document.body.dataset.reads) >= n + 2, reads, { timeout: 20000 });
  const hint = await page.locator('dd[data-kpi="vitals-records"] + dd.hint').textContent();
  if (!/^[0-9.]+ a second$/.test(hint) || !(parseFloat(hint) >= 0))
    fail('no ingest rate after two reads: ' + hint);

  step('checking accessibility (axe-core)');
  await checkAxe(page, fail);
  await page.screenshot({ path: shots + '/pipelines-1920x1080.png', fullPage: true });

  step('an engineer reads no clinical data; a manager has no such page');
  for (const path of ['/board', '/hospital', '/api/v1/patients', '/fhir/Patient/web-h1'])
    if ((await page.request.get(base + path)).status() !== 403)
      fail('an engineer reached ' + path);
  await ctx.close();
  for (const path of ['/pipelines', '/api/v1/status', '/api/v1/quarantine']) {
    const r = await fetch(base + path, { headers: { Authorization: 'Bearer ' + manager } });
    if (r.status !== 403)
      fail('a manager reached ' + path + ': HTTP ' + r.status);
  }
} catch (e) {
  fail('stopped: ' + (e.stack || e));
} finally {
  await browser.close();
}
done('pipelines ok');
