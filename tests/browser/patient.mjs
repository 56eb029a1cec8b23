// The patient page in a real browser: Debian's chromium, headless, driven
// by playwright-core, checked with axe-core. Run by runtime_web_browser
// (tests/runtime/test_web_browser.c), which starts a `carelake serve` of
// its own with no simulated patients and passes:
//   node patient.mjs BASE_URL CLINICIAN_TOKEN PATIENT_TOKEN ADMIN_TOKEN WARD_CLINICIAN_TOKEN SHOT_DIR
// Loads 7 days of 1-minute vitals for one patient (past timestamps, in a
// few large POSTs, before anything current so every minute rolls up), a
// FHIR transaction with the patient's records, and a crisis reading; then
// opens the page from the board as a clinician and checks the charts, the
// alert, the FHIR lists, the quiet "no score" line of the readmission
// risk (this serve has no model promoted), the CSV export, zoom, axe-core,
// no console error and no failed request; a patient token gets 403 and a
// clinician of other wards sees an error, not data; the Hospital page,
// as the admin, renders with its readmission risk saying there are no
// scores. Prints `patient_7d_ms=N` (reading
// and drawing 7 days of 1-minute rollups in the page; reported, never
// asserted) and exits 0 when every check held, else 1 naming what failed.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const [base, clinician, patientTok, admin, wardClin, shots] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const ID = 'web-p1';
const VITALS = [['heart_rate', '/min', 80, 15], ['spo2', '%', 96, 2], ['respiratory_rate', '/min', 16, 3],
  ['systolic_bp', 'mm[Hg]', 120, 12], ['diastolic_bp', 'mm[Hg]', 75, 8], ['temperature', 'Cel', 37, 0.4]];
const HEADER = 'time,heart_rate,spo2,respiratory_rate,systolic_bp,diastolic_bp,temperature';
const problems = [];
const step = (what) => process.stderr.write(`patient.mjs: ${what}\n`);

function fail(what) {
  problems.push(what);
  step('FAILED: ' + what);
}

async function call(method, path, body, type) {
  const r = await fetch(base + path, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { Authorization: 'Bearer ' + admin, 'Content-Type': type || 'application/json' },
  });
  const text = await r.text();
  if (r.status >= 300)
    throw new Error(method + ' ' + path + ': HTTP ' + r.status + ' ' + text.slice(0, 300));
  return text ? JSON.parse(text) : null;
}

async function until(what, fn, ms) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn())
      return;
    if (Date.now() > end)
      throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// 7 days of one reading a minute of each vital, ending 3 minutes ago
const MIN = 60000;
const end = Math.floor(Date.now() / MIN) * MIN - 3 * MIN;
const start = end - 7 * 1440 * MIN;
step('posting 7 days of 1-minute vitals');
for (let day = 0; day < 7; day++) {
  const batch = [];
  for (let m = 0; m < 1440; m++) {
    const i = day * 1440 + m, t = start + i * MIN;
    for (const [type, unit, mid, amp] of VITALS) {
      const v = mid + amp * Math.sin(i / 180 + type.length);
      batch.push({ id: 'h' + i + type, device_id: 'web-mon-p1', patient_id: ID,
                   ts: new Date(t).toISOString(), type, value: Number(v.toFixed(1)), unit });
    }
  }
  await call('POST', '/api/v1/events', batch);
}
step('posting the FHIR records and a crisis reading');
const ref = { reference: 'Patient/' + ID };
const now = new Date().toISOString();
const records = [
  { resourceType: 'Patient', id: ID, name: [{ given: ['Ada'], family: 'Lovelace' }], gender: 'female',
    birthDate: '1955-12-10' },
  { resourceType: 'Encounter', id: 'web-p1-enc', status: 'in-progress', subject: ref,
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP', display: 'inpatient encounter' },
    period: { start: new Date(start).toISOString() } },
  { resourceType: 'Condition', id: 'web-p1-cond', subject: ref, code: { text: 'Sepsis' },
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    onsetDateTime: new Date(start).toISOString() },
  { resourceType: 'MedicationRequest', id: 'web-p1-med', status: 'active', intent: 'order', subject: ref,
    medicationCodeableConcept: { text: 'Piperacillin/tazobactam 4.5 g IV' }, authoredOn: new Date(start).toISOString() },
  { resourceType: 'Procedure', id: 'web-p1-proc', status: 'completed', subject: ref,
    code: { text: 'Central venous line insertion' }, performedDateTime: new Date(start + 3600000).toISOString() },
  { resourceType: 'Observation', id: 'web-p1-lact', status: 'final', subject: ref,
    code: { coding: [{ system: 'http://loinc.org', code: '2524-7', display: 'Lactate' }] },
    valueQuantity: { value: 3.1, unit: 'mmol/L' }, effectiveDateTime: now },
];
await call('POST', '/fhir', { resourceType: 'Bundle', type: 'transaction', entry: records.map((r) => ({
  resource: r, request: { method: 'PUT', url: r.resourceType + '/' + r.id } })) }, 'application/fhir+json');
await call('POST', '/api/v1/events', VITALS.map(([type, unit, mid]) => ({
  id: 'now-' + type, device_id: 'web-mon-p1', patient_id: ID, ts: new Date(Date.now() - 1000).toISOString(),
  type, value: type === 'spo2' ? 82 : mid, unit })));
step('waiting for the rollups');
const from7 = encodeURIComponent(new Date(start).toISOString());
let rollups = 0;
await until('7 days of 1-minute rollups', async () => {
  const v = await call('GET', `/api/v1/patients/${ID}/vitals?resolution=1m&limit=100000&from=${from7}&final=true`);
  rollups = v.vitals.length;
  return rollups >= 6 * 7 * 1440;
}, 60000);
await until('the FHIR records', async () =>
  ((await call('GET', `/fhir/Condition?patient=${ID}`)).entry || []).length > 0, 20000);
await until('the crisis alert', async () =>
  (await call('GET', `/api/v1/alerts?patient=${ID}`)).alerts.length > 0, 20000);

const browser = await chromium.launch({
  executablePath: process.env.CARELAKE_CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox'],   // runs as root in CI's container
});
try {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 }, acceptDownloads: true });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') fail('console error: ' + m.text()); });
  page.on('pageerror', (e) => fail('page error: ' + e.message));
  page.on('dialog', (d) => { fail('a dialog opened: ' + d.message()); d.dismiss(); });
  // the board's event stream, and what else it has in flight (a slow
  // machine's sparkline reads), end when the browser leaves it for the
  // patient: cancelled, not failed
  let leaving = false;
  page.on('requestfailed', (r) => {
    if (r.url().endsWith('/api/v1/stream') ||
        (leaving && r.failure().errorText === 'net::ERR_ABORTED'))
      return;
    fail('request failed: ' + r.url() + ' ' + r.failure().errorText);
  });
  page.on('response', (r) => { if (r.status() >= 400) fail('HTTP ' + r.status() + ' for ' + r.url()); });

  step('signing in as a clinician, opening the patient from the board');
  await page.goto(base + '/');
  await page.fill('#token', clinician);
  await page.click('#signin-form button[type=submit]');
  await page.waitForURL(base + '/board');
  leaving = true;
  await page.locator(`li.tile[data-patient="${ID}"] h2 a`).click();
  await page.waitForURL(base + '/patient?id=' + ID);
  const status = page.locator('#status[data-points]');
  await status.waitFor({ timeout: 20000 });
  leaving = false;
  // the name is read after the charts
  await page.locator('#title', { hasText: 'Ada Lovelace' }).waitFor({ timeout: 10000 })
    .catch(async () => fail('the title is not the patient\'s name: ' +
                            await page.locator('#title').textContent()));
  if (await status.getAttribute('data-resolution') !== 'raw')
    fail('the last hour is not read raw');
  const charts = page.locator('figure.chart');
  if (await charts.count() !== 6)
    fail('not six charts: ' + await charts.count());
  for (const id of ['hr', 'spo2', 'rr', 'bp', 'temp', 'news2']) {
    const c = page.locator('#chart-' + id);
    if (await c.locator('canvas').count() === 0)
      fail('chart ' + id + ' has no canvas');
    if (!(Number(await c.getAttribute('data-points')) > 0))
      fail('chart ' + id + ' has no points');
  }
  if (await page.locator('#alerts li.alert').count() === 0)
    fail('the SpO2 alert is not listed');

  step('the FHIR lists');
  const lists = { conditions: 'Sepsis', medications: 'Piperacillin', procedures: 'Central venous line',
                  encounters: 'inpatient', observations: 'Lactate' };
  for (const [id, text] of Object.entries(lists))
    await page.locator('#' + id + ' li', { hasText: text }).first().waitFor({ timeout: 10000 })
      .catch(() => fail('the ' + id + ' list does not show ' + text));

  step('no readmission model: a quiet line, the rest of the page as it was');
  await page.locator('#risk[data-state="none"]', { hasText: 'No readmission risk score' })
    .waitFor({ timeout: 10000 })
    .catch(() => fail('the patient page does not say there is no readmission risk score'));
  if (await page.locator('#risk-band, #risk-factors').count() !== 0)
    fail('the patient page shows a risk with no model');

  step('7 days of 1-minute rollups');
  await page.click('.range[data-span="604800"]');
  await page.locator('#status[data-points][data-resolution="1m"]').waitFor({ timeout: 20000 });
  const load = Number(await status.getAttribute('data-load-ms'));
  const drawn = Number(await status.getAttribute('data-draw-ms'));
  const points = Number(await status.getAttribute('data-points'));
  console.log(`patient_7d_ms=${load + drawn} (read ${load} ms, drawn ${drawn} ms, ${points} values)`);
  if (points < 6 * 7 * 1440 * 0.99)
    fail('7 days show only ' + points + ' values');
  if (await page.locator('.range[data-span="604800"]').getAttribute('aria-pressed') !== 'true')
    fail('the 7 d button is not shown pressed');

  step('exporting the CSV');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const csv = readFileSync(await download.path(), 'utf8').split('\n');
  if (csv[0] !== HEADER)
    fail('the CSV header is ' + csv[0]);
  if (csv.length < 7 * 1440 * 0.99)
    fail('the CSV has ' + csv.length + ' lines for 7 days of minutes');
  if (!/^\d{4}-\d\d-\d\dT[^,]+(,[0-9.]+){6}$/.test(csv[1]))
    fail('a CSV row is not time and six values: ' + csv[1]);

  step('dragging to zoom');
  const over = page.locator('#chart-hr .u-over');
  const box = await over.boundingBox();
  await page.mouse.move(box.x + box.width * 0.8, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.95, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => !document.querySelector('.range[aria-pressed="true"]') &&
    document.querySelector('#status').dataset.points, null, { timeout: 10000 });
  if (await page.locator('.range[aria-pressed="true"]').count() !== 0)
    fail('a zoomed range still shows a range button pressed');
  await page.click('#reset');
  await page.locator('.range[data-span="604800"][aria-pressed="true"]').waitFor({ timeout: 20000 });
  await page.locator('#status[data-points][data-resolution="1m"]').waitFor({ timeout: 20000 });

  step('checking accessibility (axe-core)');
  await page.evaluate(axeSource);
  const axe = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  for (const v of axe.violations)
    if (v.impact === 'serious' || v.impact === 'critical')
      fail(`axe ${v.impact}: ${v.id}: ${v.help} (${v.nodes.length} nodes: ` +
           v.nodes.slice(0, 2).map((n) => n.target.join(' ')).join(', ') + ')');
  await page.screenshot({ path: shots + '/patient-1920x1080.png', fullPage: true });
  await ctx.close();

  step('a patient token cannot open the page');
  const pctx = await browser.newContext();
  const ppage = await pctx.newPage();
  await ppage.goto(base + '/');
  await ppage.fill('#token', patientTok);
  await ppage.click('#signin-form button[type=submit]');
  await ppage.waitForURL(base + '/my-health');
  const r = await ppage.goto(base + '/patient?id=' + ID);
  if (r.status() !== 403)
    fail('a patient opening /patient got ' + r.status() + ', not 403');
  await pctx.close();

  step('a clinician of other wards sees an error, not data');
  const wctx = await browser.newContext();
  const wpage = await wctx.newPage();
  wpage.on('pageerror', (e) => fail('page error (ward clinician): ' + e.message));
  let riskAsked = false;
  wpage.on('request', (q) => { riskAsked ||= q.url().endsWith('/risk'); });
  await wpage.goto(base + '/');
  await wpage.fill('#token', wardClin);
  await wpage.click('#signin-form button[type=submit]');
  await wpage.waitForURL(base + '/board');
  await wpage.goto(base + '/patient?id=' + ID);
  await wpage.locator('#error', { hasText: 'cannot be shown' }).waitFor({ timeout: 10000 })
    .catch(() => fail('a clinician of other wards sees no refusal'));
  if (!(await wpage.locator('#content').isHidden()))
    fail('the page\'s data shows to a clinician of other wards');
  const html = await wpage.content();
  for (const secret of ['Sepsis', 'Piperacillin', 'Lovelace'])
    if (html.includes(secret))
      fail('a clinician of other wards sees ' + secret);
  if (riskAsked)
    fail('the page asked for the readmission risk of a patient it was refused');
  await wctx.close();

  step('the Hospital page with no readmission scores still renders');
  const actx = await browser.newContext();
  const apage = await actx.newPage();
  apage.on('pageerror', (e) => fail('page error (hospital, no scores): ' + e.message));
  apage.on('response', (r) => {
    if (r.status() >= 400)
      fail('HTTP ' + r.status() + ' for ' + r.url() + ' (hospital, no scores)');
  });
  // signed in by the API (the cookie is the context's), straight to the page
  const signed = await actx.request.post(base + '/app/session',
                                         { headers: { Authorization: 'Bearer ' + admin } });
  if (signed.status() !== 200)
    fail('the admin could not sign in: HTTP ' + signed.status());
  await apage.goto(base + '/hospital');
  await apage.locator('#status[data-ready]').waitFor({ timeout: 20000 })
    .catch(() => fail('the Hospital page did not finish with no readmission scores'));
  if (await apage.locator('#summary dd[data-kpi="admissions"]').count() !== 1)
    fail('the Hospital page has no summary with no readmission scores');
  if (!(await apage.locator('#risk-note').textContent()).includes('No readmission risk scores') ||
      await apage.locator('#risk tbody tr[data-status]').count() !== 0)
    fail('the Hospital page does not say there are no readmission scores');
  await actx.close();
} catch (e) {
  fail('stopped: ' + (e.stack || e));
} finally {
  await browser.close();
}
if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
console.log('patient ok');
