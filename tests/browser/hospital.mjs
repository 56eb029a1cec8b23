// The Hospital page in a real browser: Debian's chromium, headless,
// driven by playwright-core, checked with axe-core. Run by
// runtime_web_browser (test_hospital_in_browser), which loads a generated
// hospital, raises alerts, refreshes gold and starts a serve:
//   node hospital.mjs BASE_URL MANAGER_TOKEN CLINICIAN_TOKEN ADMIN_TOKEN SHOT_DIR CARELAKE DATA_DIR
// Posts a stay in progress on ICU-A (a FHIR Encounter) for the census,
// signs in as a manager (landing on /hospital), chooses the last 90 days,
// and checks every summary number, each ward's admissions and a ward's
// days against `carelake query` over the gold tables, the readmission
// risk's counts by band and expected readmissions against
// gold_readmission_risk (with no patient named), the drill-down to ICU-A
// and its census, axe-core, no console error and no failed request; a
// manager is refused the clinical pages and APIs (a patient's risk too),
// a clinician the Hospital page and the KPIs. Then, as that clinician, a
// scored patient's page: the risk panel for the latest stay (its band in
// words, its percentage, the factors in words and which way each moves
// the risk, LACE and HOSPITAL, the model) against gold, and axe-core.
// Exits 0 when every check held, else 1 naming what failed.
import { checkAxe, close, launch, query as carelakeQuery, report, signIn, watchedPage } from './lib.mjs';

const [base, manager, clinician, admin, shots, carelake, data] = process.argv.slice(2);
const DAY = 86400000;
const { step, fail, done } = report('hospital.mjs');

const query = (sql) => carelakeQuery(carelake, data, sql);

const one = (sql) => Object.values(query(sql)[0] || {})[0] ?? null;

async function until(what, fn, ms) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn())
      return;
    if (Date.now() > end)
      throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 200));
  }
}

step('posting a stay in progress on ICU-A');
const start = new Date(Date.now() - 2 * DAY);
start.setUTCMinutes(0, 0, 0);
const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [
  { resource: { resourceType: 'Patient', id: 'web-h1', name: [{ given: ['Hana'], family: 'Census' }] },
    request: { method: 'PUT', url: 'Patient/web-h1' } },
  { resource: { resourceType: 'Encounter', id: 'web-h1-enc', status: 'in-progress', subject: { reference: 'Patient/web-h1' },
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      location: [{ location: { display: 'ICU-A' } }], period: { start: start.toISOString() } },
    request: { method: 'PUT', url: 'Encounter/web-h1-enc' } },
] };
const pr = await fetch(base + '/fhir', { method: 'POST', body: JSON.stringify(bundle),
  headers: { Authorization: 'Bearer ' + admin, 'Content-Type': 'application/fhir+json' } });
if (pr.status !== 200)
  throw new Error('the transaction: HTTP ' + pr.status + ' ' + await pr.text());
const startDay = start.toISOString().slice(0, 10);
// the stay's score is written by the same gold refresh as the KPIs, and
// committed with them: once it is there, every gold table counts the stay
// (the encounter alone in silver is not enough, the refresh comes after)
await until('the stay in gold', () => one(
  `SELECT count(*) FROM gold_admissions_daily WHERE ward = 'ICU-A' AND day = '${startDay}' ` +
  `AND occupied > 0 AND (SELECT count(*) FROM gold_readmission_risk WHERE ` +
  `stay_id = 'web-h1-enc' AND status = 'inpatient') = 1`) > 0, 60000);

const to = new Date().toISOString().slice(0, 10);
const from = new Date(Date.now() - 89 * DAY).toISOString().slice(0, 10);

// the page's numbers, as gold gives them over the range
function expected(ward) {
  const w = `ward = '${ward}'`, range = `day BETWEEN '${from}' AND '${to}'`;
  const alertWard = ward === 'all' ? '1' : w;
  return {
    admissions: one(`SELECT coalesce(sum(admissions), 0) FROM gold_admissions_daily WHERE ${w} AND ${range}`),
    discharges: one(`SELECT coalesce(sum(discharges), 0) FROM gold_admissions_daily WHERE ${w} AND ${range}`),
    occupied: one(`SELECT coalesce((SELECT occupied FROM gold_admissions_daily WHERE ${w} AND day <= '${to}' ` +
                  `ORDER BY day DESC LIMIT 1), 0)`),
    los: one(`SELECT sum(mean_los_days * discharges) / sum(discharges) FROM gold_admissions_daily ` +
             `WHERE ${w} AND ${range} AND discharges > 0 AND mean_los_days IS NOT NULL`),
    readmission_rate: one(`SELECT 1.0 * sum(readmissions_30d) / nullif(sum(discharges), 0) ` +
                          `FROM gold_admissions_daily WHERE ${w} AND ${range}`),
    alerts: one(`SELECT coalesce(sum(alerts), 0) FROM gold_alerts_daily WHERE ${alertWard} AND ${range}`),
  };
}

async function checkSummary(page, ward) {
  const want = expected(ward);
  if (await page.locator('#summary').getAttribute('data-ward') !== ward)
    fail('the summary is not of ' + ward);
  for (const [key, value] of Object.entries(want)) {
    const raw = await page.locator(`#summary dd[data-kpi="${key}"]`).getAttribute('data-value');
    const got = raw === '' || raw === null ? null : Number(raw);
    if (!close(got, value))
      fail(`${ward}: ${key} shows ${got}, gold has ${value}`);
  }
  return want;
}

// the readmission model's counts over a ward ('all': every ward), by
// status and band, and the readmissions expected (the sum of the risks)
function expectedRisk(ward) {
  const where = ward === 'all' ? '' : `WHERE coalesce(ward, 'unassigned') = '${ward}'`;
  const out = {};
  for (const st of ['inpatient', 'discharged'])
    out[st] = { low: 0, medium: 0, high: 0, stays: 0, expected: 0 };
  for (const r of query(`SELECT status, band, count(*) AS n, sum(risk) AS e FROM gold_readmission_risk ` +
                        `${where} GROUP BY 1, 2`)) {
    out[r.status][r.band] = r.n;
    out[r.status].stays += r.n;
    out[r.status].expected += r.e;
  }
  return out;
}

async function checkRisk(page, ward) {
  const want = expectedRisk(ward);
  for (const [st, w] of Object.entries(want)) {
    const tr = page.locator(`#risk tr[data-ward="${ward}"][data-status="${st}"]`);
    if (await tr.count() !== 1) {
      fail(`no row of ${ward}'s ${st} stays in the readmission risk`);
      continue;
    }
    for (const k of ['low', 'medium', 'high', 'stays'])
      if (Number(await tr.getAttribute('data-' + k)) !== w[k])
        fail(`${ward} ${st}: ${k} shows ${await tr.getAttribute('data-' + k)}, gold has ${w[k]}`);
    // a stay in hospital is scored again on each refresh, as its stay grows
    const e = Number(await tr.getAttribute('data-expected'));
    if (!(Math.abs(e - w.expected) < 0.05))
      fail(`${ward} ${st}: expected readmissions show ${e}, gold has ${w.expected}`);
  }
  const shown = await page.locator('#risk').textContent() + await page.locator('#risk-note').textContent();
  for (const { patient_id: p } of query('SELECT DISTINCT patient_id FROM gold_readmission_risk'))
    if (shown.includes(p))
      fail('the readmission risk names patient ' + p);
  return want;
}

const BANDS = { low: 'Low risk', medium: 'Medium risk', high: 'High risk' };

// a scored patient's page, as a clinician: the panel shows the latest stay
async function checkRiskPanel(page) {
  // a discharged stay's score stays as it is (one in hospital is scored
  // again on each refresh)
  const pid = one(`SELECT g.patient_id FROM gold_readmission_risk g WHERE g.factors <> '[]' AND ` +
                  `g.status = 'discharged' AND ` +
                  `g.admit_ts = (SELECT max(admit_ts) FROM gold_readmission_risk h WHERE ` +
                  `h.patient_id = g.patient_id) ORDER BY g.risk DESC LIMIT 1`);
  const s = query(`SELECT * FROM gold_readmission_risk WHERE patient_id = '${pid}' ` +
                  `ORDER BY admit_ts DESC, stay_id LIMIT 1`)[0];
  const factors = JSON.parse(s.factors);
  await page.goto(base + '/patient?id=' + encodeURIComponent(pid));
  const panel = page.locator('#risk[data-state="scored"]');
  await panel.waitFor({ timeout: 20000 });
  if (await panel.getAttribute('data-stay') !== s.stay_id)
    fail(`the risk panel of ${pid} shows stay ${await panel.getAttribute('data-stay')}, not ${s.stay_id}`);
  const band = (await page.locator('#risk-band').textContent()).trim();
  if (band !== BANDS[s.band])
    fail(`the risk panel says "${band}" for a ${s.band} band`);
  const pct = 100 * s.risk;
  const want = (pct < 10 ? pct.toFixed(1) : pct.toFixed(0)) + ' %';
  if ((await page.locator('#risk .risk-pct').textContent()) !== want)
    fail(`the risk panel shows ${await page.locator('#risk .risk-pct').textContent()}, gold has ${want}`);
  const stay = await page.locator('#risk .risk-stay').textContent();
  if (!stay.startsWith(s.status === 'inpatient' ? 'In hospital' : 'Discharged'))
    fail(`a ${s.status} stay reads "${stay}"`);
  const items = page.locator('#risk-factors li');
  if (!factors.length || await items.count() !== factors.length)
    fail(`the risk panel lists ${await items.count()} factors, gold has ${factors.length}`);
  for (let i = 0; i < Math.min(factors.length, await items.count()); i++) {
    const li = items.nth(i), f = factors[i];
    const label = await li.locator('.what').textContent();
    const effect = await li.locator('.effect').textContent();
    if (await li.getAttribute('data-feature') !== f.feature || label.includes('_'))
      fail(`factor ${i + 1} (${f.feature}) reads "${label}"`);
    if (!effect.includes(f.contribution > 0 ? 'raises' : 'lowers'))
      fail(`factor ${f.feature} (contribution ${f.contribution}) reads "${effect}"`);
    if (f.value === null && (await li.locator('.value').textContent()) !== 'not recorded')
      fail(`factor ${f.feature} has no value but reads "${await li.locator('.value').textContent()}"`);
  }
  const text = await page.locator('#risk').textContent();
  for (const part of [`LACE index${s.lace} of 19`, `HOSPITAL score${s.hospital_score} of 13`,
                      'Model v' + s.model_version, 'not to replace it'])
    if (!text.includes(part))
      fail(`the risk panel does not say "${part}"`);
  return pid;
}

const browser = await launch();
try {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const page = await watchedPage(ctx, fail);

  step('signing in as a manager');
  await signIn(page, base, manager, '/hospital');
  await page.locator('#status[data-ready]').waitFor({ timeout: 20000 });

  step('the last 90 days, the whole hospital, against carelake query');
  let ready = await page.locator('#status').getAttribute('data-ready');
  await page.fill('#from', from);
  await page.fill('#to', to);
  await page.click('#filters button[type=submit]');
  await page.waitForFunction((r) => document.querySelector('#status').dataset.ready !== r, ready);
  const all = await checkSummary(page, 'all');
  if (!(all.admissions > 0 && all.discharges > 0 && all.alerts >= 2))
    fail('the test data is too thin to check: ' + JSON.stringify(all));

  step('the readmission risk by ward and band, against gold_readmission_risk');
  const risk = await checkRisk(page, 'all');
  if (!(risk.discharged.stays > 0 && risk.inpatient.stays > 0))
    fail('no stays scored to check: ' + JSON.stringify(risk));

  step('by ward');
  const wards = query(`SELECT ward, sum(admissions) AS a FROM gold_admissions_daily WHERE ward <> 'all' ` +
                      `AND day BETWEEN '${from}' AND '${to}' GROUP BY ward`);
  for (const w of wards) {
    const cell = page.locator(`#wards tr[data-ward="${w.ward}"] td`).first();
    if (await cell.count() === 0)
      fail('no row for ward ' + w.ward);
    else if (Number((await cell.textContent()).replace(/[^0-9]/g, '')) !== w.a)
      fail(`ward ${w.ward} shows ${await cell.textContent()} admissions, gold has ${w.a}`);
  }

  step('drilling down to ICU-A');
  ready = await page.locator('#status').getAttribute('data-ready');
  await page.click('#wards tr[data-ward="ICU-A"] button');
  await page.waitForFunction((r) => document.querySelector('#status').dataset.ready !== r, ready);
  await checkSummary(page, 'ICU-A');
  await checkRisk(page, 'ICU-A');
  if (await page.locator('#risk tbody tr[data-ward]:not([data-ward="ICU-A"])').count() !== 0)
    fail('the readmission risk of ICU-A shows other wards');
  const days = one(`SELECT count(*) FROM gold_admissions_daily WHERE ward = 'ICU-A' AND day BETWEEN '${from}' AND '${to}'`);
  if (await page.locator('#days tbody tr[data-day]').count() !== days)
    fail(`ICU-A shows ${await page.locator('#days tbody tr[data-day]').count()} days, gold has ${days}`);
  const census = page.locator('#census tr[data-patient="web-h1"]');
  if (await census.count() !== 1 || !(await census.textContent()).includes('Hana Census'))
    fail('the census of ICU-A does not list Hana Census');
  const inStay = one(`SELECT count(*) FROM encounter WHERE lower(class) IN ('imp', 'inpatient', 'acute', ` +
                     `'emer', 'emergency') AND ward = 'ICU-A' AND start_ts IS NOT NULL AND ` +
                     `(end_ts IS NULL OR end_ts > strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))`);
  if (Number(await page.locator('#census').getAttribute('data-count')) !== inStay)
    fail(`the census counts ${await page.locator('#census').getAttribute('data-count')}, silver has ${inStay}`);

  step('checking accessibility (axe-core)');
  await checkAxe(page, fail);
  await page.screenshot({ path: shots + '/hospital-1920x1080.png', fullPage: true });

  step('a manager reads no clinical data');
  for (const path of ['/board', '/patient?id=web-h1', '/api/v1/patients', '/fhir/Patient/web-h1',
                      '/api/v1/patients/patient-0001/vitals', '/api/v1/patients/web-h1/risk'])
    if ((await page.request.get(base + path)).status() !== 403)
      fail('a manager reached ' + path);
  await ctx.close();

  step('a clinician has no Hospital page');
  const cctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const cpage = await cctx.newPage();
  await signIn(cpage, base, clinician, '/board');
  for (const path of ['/hospital', '/api/v1/kpis/admissions_daily', '/api/v1/wards/ICU-A/census',
                      '/api/v1/wards/ICU-A/readmission-risk'])
    if ((await cpage.request.get(base + path)).status() !== 403)
      fail('a clinician reached ' + path);

  step('a scored patient\'s page shows the readmission risk');
  const rpage = await watchedPage(cctx, fail);
  await checkRiskPanel(rpage);
  await checkAxe(rpage, fail);
  await rpage.screenshot({ path: shots + '/patient-risk-1920x1080.png' });
  await cctx.close();
} catch (e) {
  fail('stopped: ' + (e.stack || e));
} finally {
  await browser.close();
}
done('hospital ok');
