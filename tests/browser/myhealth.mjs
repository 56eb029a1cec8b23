// The My health page in a real browser: Debian's chromium, headless,
// driven by playwright-core, checked with axe-core. Run by
// runtime_web_browser after patient.mjs, on the same `carelake serve`
// (patient web-p1 has 7 days of 1-minute vitals, an encounter and a last
// reading of each vital), with:
//   node myhealth.mjs BASE_URL PATIENT_TOKEN ADMIN_TOKEN SHOT_DIR CARELAKE DATA_DIR
// Adds appointments and laboratory results for web-p1 and for another
// patient, signs in with web-p1's token, and checks the page against
// `carelake query` on the same data: each latest reading and its 7-day
// range, the results against their reference range, the appointments
// to come and past, the stay; that nothing of the other patient is in
// the page; that the downloaded record is a FHIR Bundle of web-p1's
// resources only; that the clinicians' pages answer 403; axe-core, no
// console error and no failed request. Exits 0 when every check held,
// else 1 naming what failed.
import { readFileSync } from 'node:fs';
import { checkAxe, launch, query as carelakeQuery, report, signIn, watchedPage } from './lib.mjs';

const [base, patientTok, admin, shots, carelake, data] = process.argv.slice(2);
const ID = 'web-p1', OTHER = 'web-p2';
const { step, fail, done } = report('myhealth.mjs');

async function call(method, path, body) {
  const r = await fetch(base + path, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { Authorization: 'Bearer ' + admin, 'Content-Type': 'application/fhir+json' },
  });
  const text = await r.text();
  if (r.status >= 300)
    throw new Error(method + ' ' + path + ': HTTP ' + r.status + ' ' + text.slice(0, 300));
  return text ? JSON.parse(text) : null;
}

const query = (sql) => carelakeQuery(carelake, data, sql);

step('posting appointments and results, for web-p1 and for another patient');
const DAY = 86400000, now = Date.now();
const lab = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] };
const records = [
  { resourceType: 'Patient', id: OTHER, name: [{ given: ['Otto'], family: 'Otherby' }] },
  { resourceType: 'Appointment', id: 'web-p1-next', status: 'booked', description: 'Cardiology follow-up',
    start: new Date(now + 3 * DAY).toISOString(), end: new Date(now + 3 * DAY + 1800000).toISOString(),
    participant: [{ actor: { reference: 'Practitioner/web-dr' }, status: 'accepted' },
                  { actor: { reference: 'Patient/' + ID }, status: 'accepted' }] },
  { resourceType: 'Appointment', id: 'web-p1-last', status: 'fulfilled', description: 'Blood test',
    start: new Date(now - 10 * DAY).toISOString(), end: new Date(now - 10 * DAY + 900000).toISOString(),
    participant: [{ actor: { reference: 'Patient/' + ID }, status: 'accepted' }] },
  { resourceType: 'Appointment', id: 'web-p2-appt', status: 'booked', description: 'Dermatology review',
    start: new Date(now + 2 * DAY).toISOString(), end: new Date(now + 2 * DAY + 900000).toISOString(),
    participant: [{ actor: { reference: 'Patient/' + OTHER }, status: 'accepted' }] },
  { resourceType: 'Observation', id: 'web-p1-creat', status: 'final', category: [lab],
    code: { coding: [{ system: 'http://loinc.org', code: '2160-0', display: 'Creatinine' }] },
    subject: { reference: 'Patient/' + ID }, effectiveDateTime: new Date(now - DAY).toISOString(),
    valueQuantity: { value: 150, unit: 'umol/L' },
    referenceRange: [{ low: { value: 60, unit: 'umol/L' }, high: { value: 110, unit: 'umol/L' } }] },
  { resourceType: 'Observation', id: 'web-p1-hb', status: 'final', category: [lab],
    code: { coding: [{ system: 'http://loinc.org', code: '718-7', display: 'Hemoglobin' }] },
    subject: { reference: 'Patient/' + ID }, effectiveDateTime: new Date(now - DAY).toISOString(),
    valueQuantity: { value: 135, unit: 'g/L' },
    referenceRange: [{ low: { value: 120, unit: 'g/L' }, high: { value: 160, unit: 'g/L' } }] },
  { resourceType: 'Observation', id: 'web-p2-trop', status: 'final', category: [lab],
    code: { coding: [{ system: 'http://loinc.org', code: '6598-7', display: 'Troponin T' }] },
    subject: { reference: 'Patient/' + OTHER }, effectiveDateTime: new Date(now - DAY).toISOString(),
    valueQuantity: { value: 0.5, unit: 'ug/L' } },
];
await call('POST', '/fhir', { resourceType: 'Bundle', type: 'transaction', entry: records.map((r) => ({
  resource: r, request: { method: 'PUT', url: r.resourceType + '/' + r.id } })) });
for (let i = 0; ; i++) {
  const b = await call('GET', '/fhir/Appointment?_id=web-p1-next,web-p2-appt');
  if ((b.entry || []).length === 2)
    break;
  if (i > 200)
    throw new Error('the appointments were not served');
  await new Promise((r) => setTimeout(r, 100));
}

const browser = await launch();
try {
  const ctx = await browser.newContext({ viewport: { width: 1024, height: 1366 }, acceptDownloads: true });
  const page = await watchedPage(ctx, fail);

  step('signing in as the patient');
  await signIn(page, base, patientTok, '/my-health');
  await page.locator('#content[data-ready]').waitFor({ timeout: 20000 });
  if (!(await page.locator('#hello').textContent()).includes('Ada Lovelace'))
    fail('the page does not greet the patient by name: ' + await page.locator('#hello').textContent());

  step('the readings, against carelake query');
  const fromMs = Number(await page.locator('#readings').getAttribute('data-from'));
  const latest = Object.fromEntries(query(
    `SELECT vital, value FROM vital_event e WHERE patient_id = '${ID}' AND ts_us = ` +
    `(SELECT max(ts_us) FROM vital_event WHERE patient_id = '${ID}' AND vital = e.vital)`)
    .map((r) => [r.vital, r.value]));
  // the hours since `from`, the one still open (provisional) included: every
  // reading from the first hour that starts at or after it
  const firstHourUs = Math.ceil(fromMs / 3600000) * 3600000 * 1000;
  const week = Object.fromEntries(query(
    `SELECT vital, min(value) AS lo, max(value) AS hi FROM vital_event WHERE patient_id = '${ID}' ` +
    `AND ts_us >= ${firstHourUs} GROUP BY vital`).map((r) => [r.vital, r]));
  const shown = [['heart_rate', ['heart_rate'], 0], ['spo2', ['spo2'], 0],
                 ['respiratory_rate', ['respiratory_rate'], 0],
                 ['systolic_bp', ['systolic_bp', 'diastolic_bp'], 0], ['temperature', ['temperature'], 1]];
  for (const [key, types, d] of shown) {
    const li = page.locator(`#readings li[data-vital="${key}"]`);
    if (await li.count() !== 1) {
      fail('no reading of ' + key);
      continue;
    }
    const want = types.map((t) => latest[t].toFixed(d)).join('/');
    if (await li.getAttribute('data-value') !== want)
      fail(`${key} shows ${await li.getAttribute('data-value')}, carelake query has ${want}`);
    const range = types.map((t) => week[t].lo.toFixed(d)).join('/') + ' to ' +
                  types.map((t) => week[t].hi.toFixed(d)).join('/');
    const text = await li.textContent();
    if (!text.includes('Last 7 days: ' + range))
      fail(`${key}'s 7-day range is not ${range}: ${text}`);
    if (!text.includes('Measured '))
      fail(`${key} does not say when it was measured: ${text}`);
  }

  step('results, appointments, stays');
  const expect = [
    ['#results li', 'Creatinine: 150 umol/L', 'Higher than the usual range 60–110 umol/L'],
    ['#results li', 'Hemoglobin: 135 g/L', 'Within the usual range 120–160 g/L'],
    ['#upcoming li', 'Cardiology follow-up', 'Booked'],
    ['#past li', 'Blood test', 'Attended'],
    ['#stays li', 'Hospital stay, since', 'ongoing'],
  ];
  for (const [sel, what, detail] of expect) {
    const li = page.locator(sel, { hasText: what });
    if (await li.count() !== 1)
      fail(`${sel} does not show ${what} once`);
    else if (!(await li.textContent()).includes(detail))
      fail(`${what} does not say "${detail}": ${await li.textContent()}`);
  }
  const html = await page.content();
  for (const other of ['Otherby', 'Dermatology', 'Troponin', OTHER])
    if (html.includes(other))
      fail('the page shows another patient\'s ' + other);

  step('downloading the record');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const bundle = JSON.parse(readFileSync(await download.path(), 'utf8'));
  if (bundle.resourceType !== 'Bundle' || bundle.type !== 'collection')
    fail('the download is not a collection Bundle');
  const got = new Set((bundle.entry || []).map((e) => e.resource.resourceType + '/' + e.resource.id));
  for (const want of ['Patient/' + ID, 'Encounter/web-p1-enc', 'Condition/web-p1-cond',
                      'Appointment/web-p1-next', 'Observation/web-p1-creat'])
    if (!got.has(want))
      fail('the downloaded record lacks ' + want);
  for (const e of bundle.entry || []) {
    const s = JSON.stringify(e.resource);
    if (s.includes(OTHER))
      fail('the downloaded record holds ' + e.resource.resourceType + '/' + e.resource.id +
           ' of another patient');
  }
  await page.locator('#download-status', { hasText: 'Downloaded ' + bundle.entry.length + ' entries' })
    .waitFor({ timeout: 5000 }).catch(() => fail('the page does not say what was downloaded'));

  step('checking accessibility (axe-core)');
  await checkAxe(page, fail);
  await page.screenshot({ path: shots + '/my-health-1024x1366.png', fullPage: true });

  step('the clinicians\' pages are not the patient\'s');
  // with the page's session cookie, as the browser would send it
  for (const path of ['/board', '/patient?id=' + OTHER, '/api/v1/patients/' + OTHER + '/vitals',
                      '/fhir/Patient/' + OTHER, '/fhir/Appointment/web-p2-appt']) {
    const r = await page.request.get(base + path);
    if (r.status() !== 403 && r.status() !== 404)
      fail('the patient asking for ' + path + ' got ' + r.status() + ', not 403 or 404');
  }

  step('signing out');
  await page.click('#signout');
  await page.waitForURL(base + '/');
  await page.locator('#signin').waitFor({ state: 'visible' });
  const after = await page.request.get(base + '/api/v1/patients');
  if (after.status() !== 401)
    fail('after signing out the session still reads: HTTP ' + after.status());
  await ctx.close();
} catch (e) {
  fail('stopped: ' + (e.stack || e));
} finally {
  await browser.close();
}
done('my health ok');
